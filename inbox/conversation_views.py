"""Conversation actions from the workspace (assign, status, priority, tags, bulk) and saved views.

Thin: forms validate, inbox.conversation_actions writes. Answers htmx with the fragment that
changed (the header, or a short result line for bulk) and plain posts with a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from inbox import conversation_actions as conv
from inbox.access import READ_ONLY_MESSAGE, may_only_read
from inbox.actions import ActionRefused
from inbox.models import Conversation, ConversationStatus, Department, Priority, SavedView


class AssignForm(forms.Form):
    assignee = forms.CharField(label=gettext_lazy("Assignee"), required=False, max_length=20)
    department = forms.CharField(label=gettext_lazy("Department"), required=False, max_length=20)

    def clean_assignee(self) -> Any:
        value = self.cleaned_data["assignee"]
        if value in {"", "none"}:
            return None
        user = (
            get_user_model().objects.filter(pk=value, is_active=True).first()
            if value.isdigit()
            else None
        )
        if user is None:
            raise forms.ValidationError(_("Choose a colleague from the list."))
        return user

    def clean_department(self) -> Department | str | None:
        value = self.cleaned_data["department"]
        if value == "":
            return "unchanged"
        if value == "none":
            return None
        department = Department.objects.filter(pk=value).first() if value.isdigit() else None
        if department is None:
            raise forms.ValidationError(_("Choose a department from the list."))
        return department


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=ConversationStatus.choices)
    snooze = forms.ChoiceField(
        label=gettext_lazy("Snooze"),
        required=False,
        choices=[("", ""), ("custom", "custom"), *conv.SNOOZE_PRESETS.items()],
    )
    snoozed_until = forms.DateTimeField(
        label=gettext_lazy("Snoozed until"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Priority"),
        choices=[(str(v), label) for v, label in Priority.choices],
        coerce=int,
    )


class TagsForm(forms.Form):
    add = forms.CharField(label=gettext_lazy("Add tags"), required=False, max_length=200)
    remove = forms.IntegerField(label=gettext_lazy("Remove tags"), required=False)


def _errors(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _refused(request: HttpRequest, message: str, status: int = 409) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_form_error.html", {"error": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain")


def _conversation_action(
    request: HttpRequest, pk: int, form_class: type[forms.Form], act: Callable[[Any], object]
) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.visible_to(request.user), pk=pk)
    if may_only_read(request.user, conversation.channel_account_id):
        return _refused(request, str(READ_ONLY_MESSAGE), status=403)
    form = form_class(request.POST)
    if not form.is_valid():
        return _refused(request, _errors(form), status=422)
    try:
        act(form.cleaned_data)
    except ActionRefused as exc:
        return _refused(request, str(exc))
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=conversation.pk)
    return _head(request, conversation.pk)


def _head(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's header as it is now (the same fragment its live event carries)."""
    conversation = (
        Conversation.objects.visible_to(request.user)
        .select_related("channel_account", "contact", "assignee", "department")
        .prefetch_related("tags")
        .get(pk=pk)
    )
    return render(request, "inbox/_conversation_head.html", {"conversation": conversation})


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> object:
        department = data["department"]
        return conv.assign_conversations(
            user=request.user,
            conversation_ids=[pk],
            assignee=data["assignee"],
            department=None if department == "unchanged" else department,
            set_department=department != "unchanged",
        )

    return _conversation_action(request, pk, AssignForm, act)


@login_required
@require_POST
def status(request: HttpRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> object:
        until = data.get("snoozed_until")
        zone = conv.user_zone(request.user)
        if data.get("snooze") in conv.SNOOZE_PRESETS:
            until = conv.snooze_until(data["snooze"], now=timezone.now(), zone=zone)
        elif until is not None and timezone.is_naive(until):
            until = timezone.make_aware(until, zone)  # typed in the agent's own time zone
        return conv.set_status(
            user=request.user,
            conversation_ids=[pk],
            status=data["status"],
            snoozed_until=until,
        )

    return _conversation_action(request, pk, StatusForm, act)


@login_required
@require_POST
def priority(request: HttpRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> object:
        return conv.set_priority(
            user=request.user, conversation_ids=[pk], priority=data["priority"]
        )

    return _conversation_action(request, pk, PriorityForm, act)


@login_required
@require_POST
def tags(request: HttpRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> object:
        names = [name for name in (data.get("add") or "").split(",") if name.strip()]
        removed = [data["remove"]] if data.get("remove") else []
        return conv.change_tags(user=request.user, conversation_ids=[pk], add=names, remove=removed)

    return _conversation_action(request, pk, TagsForm, act)


# --- Bulk actions on a selection in the list ---------------------------------------------------


class BulkForm(forms.Form):
    ids = forms.CharField(
        label=gettext_lazy("Conversations"),
        max_length=20000,
        error_messages={"required": gettext_lazy("Select at least one conversation.")},
    )
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        choices=[
            ("assign", gettext_lazy("Assign")),
            ("status", gettext_lazy("Status")),
            ("tag", gettext_lazy("Tag")),
            ("hide", gettext_lazy("Hide")),
        ],
    )
    value = forms.CharField(label=gettext_lazy("Value"), required=False, max_length=200)

    def clean_ids(self) -> list[int]:
        raw = self.cleaned_data["ids"].replace(",", " ").split()
        if not raw or not all(part.isdigit() for part in raw):
            raise forms.ValidationError(_("Select at least one conversation."))
        ids = sorted({int(part) for part in raw})
        if len(ids) > conv.BULK_LIMIT:
            raise forms.ValidationError(
                _("Select at most %(limit)s conversations.") % {"limit": conv.BULK_LIMIT}
            )
        return ids


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """One action on many conversations; the list rows update through the live events."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        return _refused(request, _errors(form), status=422)
    ids, action, value = (form.cleaned_data[k] for k in ("ids", "action", "value"))
    user = request.user
    if not Conversation.objects.workable_by(user).filter(pk__in=ids).exists():
        # Nothing the user may change (an observer's selection, or ids they cannot see).
        return _refused(request, _("None of these conversations can be changed by you."), 403)
    try:
        if action == "assign":
            assign_form = AssignForm({"assignee": value})
            if not assign_form.is_valid():
                return _refused(request, _errors(assign_form), status=422)
            done = len(
                conv.assign_conversations(
                    user=user, conversation_ids=ids, assignee=assign_form.cleaned_data["assignee"]
                )
            )
            message = ngettext(
                "Assigned %(count)s conversation.", "Assigned %(count)s conversations.", done
            ) % {"count": done}
        elif action == "status":
            if value not in ConversationStatus.values or value == ConversationStatus.SNOOZED:
                return _refused(request, _("Choose a status."), status=422)
            done = len(conv.set_status(user=user, conversation_ids=ids, status=value))
            status_label = str(ConversationStatus(value).label).lower()
            message = ngettext(
                "Set %(count)s conversation to %(status)s.",
                "Set %(count)s conversations to %(status)s.",
                done,
            ) % {"count": done, "status": status_label}
        elif action == "tag":
            if not value.strip():
                return _refused(request, _("Type a tag."), status=422)
            done = conv.change_tags(user=user, conversation_ids=ids, add=[value])
            message = ngettext(
                "Tagged %(count)s conversation.", "Tagged %(count)s conversations.", done
            ) % {"count": done}
        else:
            done, refused = conv.hide_conversations(user=user, conversation_ids=ids)
            message = ngettext(
                "Hiding %(count)s item on the platforms.",
                "Hiding %(count)s items on the platforms.",
                done,
            ) % {"count": done}
            if refused:
                message += " " + _("Not possible for some: %(reasons)s") % {
                    "reasons": "; ".join(refused[:3])
                }
    except ActionRefused as exc:
        return _refused(request, str(exc))
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:list")
    return render(request, "inbox/_bulk_result.html", {"message": message})


# --- Saved views -----------------------------------------------------------------------------

KEPT_PARAMS = {
    "queue", "q", "status", "channel", "platform", "priority", "assignee", "department",
    "tag", "language", "sentiment", "since", "until", "sort", "post",
}  # fmt: skip


class SavedViewForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80, strip=True)
    query = forms.CharField(label=gettext_lazy("Filters"), required=False, max_length=2000)

    def clean_query(self) -> str:
        pairs = [(k, v) for k, v in parse_qsl(self.cleaned_data["query"]) if k in KEPT_PARAMS]
        return urlencode(pairs)


@login_required
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        return _refused(request, _errors(form), status=422)
    position = SavedView.objects.filter(user=request.user.pk).count()
    try:
        with transaction.atomic():
            view = SavedView.objects.create(
                user_id=int(request.user.pk or 0),
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                position=position,
            )
    except IntegrityError:
        return _refused(request, _("You already have a view with this name."), status=422)
    url = reverse("inbox:list") + f"?queue=view-{view.pk}"
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@login_required
@require_POST
def delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user=request.user.pk)
    view.delete()
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("inbox:list")
        return response
    return redirect("inbox:list")
