"""Data-protection screens: a person's export and erasure, retention policies, the audit log
as JSON. Admins only (they, or the data protection officer with an admin account, handle
GDPR requests): anonymous visitors go to the login page, everyone else gets 403 on every URL,
GET and POST alike, before anything is looked up. Thin: the actions write and audit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_integrations.models import ChannelAccount
from inbox import audit
from inbox.actions import ActionRefused
from inbox.administration_forms import AuditFilterForm
from inbox.administration_views import admin_required
from inbox.data_protection.erasure import ERASED_PERSON, ERASED_TEXT, erase_person, stored
from inbox.data_protection.export import (
    PersonData,
    audit_log_json_chunks,
    json_chunks,
    start_audit_log_export,
    start_person_export,
)
from inbox.data_protection.forms import ERASE_WORD, EraseConfirmForm, RetentionPolicyForm
from inbox.data_protection.retention import save_retention_policy
from inbox.models import Person, RetentionPolicy


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


@admin_required
@require_GET
def person_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Everything about the person as a JSON download, streamed; the export is audited."""
    person = get_object_or_404(Person, pk=pk)
    data = start_person_export(user=request.user, person=person)
    response = StreamingHttpResponse(
        json_chunks(data, now=timezone.now()), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="person-{pk}-{_stamp()}.json"'
    return response


@admin_required
@require_http_methods(["GET", "POST"])
def person_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation page (what will happen, with counts); a confirmed POST erases."""
    person = get_object_or_404(Person, pk=pk)
    form = EraseConfirmForm(request.POST or None, person_name=person.display_name)
    if request.method == "POST" and form.is_valid():
        try:
            result = erase_person(user=request.user, person=person)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _(
                    "The person was erased. Messages scrubbed: %(messages)d; identities: "
                    "%(contacts)d; conversations anonymized: %(conversations)d."
                )
                % {
                    "messages": result.messages,
                    "contacts": result.contacts,
                    "conversations": result.conversations_anonymized,
                },
            )
            return redirect("inbox:person", pk=pk)
    return render(
        request,
        "data_protection/erase_confirm.html",
        {
            "person": person,
            "form": form,
            "erase_word": ERASE_WORD,
            "marker": stored(ERASED_TEXT),
            "erased_name": stored(ERASED_PERSON),
            "counts": PersonData.of(person).counts(),
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _retention_rows(
    bound: dict[int, RetentionPolicyForm] | None = None,
) -> list[tuple[ChannelAccount, RetentionPolicy | None, RetentionPolicyForm]]:
    channels = (
        ChannelAccount.objects.select_related("retention_policy")
        .annotate(conversation_count=Count("conversations"))
        .order_by("name", "pk")
    )
    rows: list[tuple[ChannelAccount, RetentionPolicy | None, RetentionPolicyForm]] = []
    for channel in channels:
        policy: RetentionPolicy | None = getattr(channel, "retention_policy", None)
        form = (bound or {}).get(channel.pk)
        if form is None:
            initial: dict[str, Any] = (
                {"enabled": policy.enabled, "days": policy.days, "action": policy.action}
                if policy is not None
                else {}
            )
            form = RetentionPolicyForm(prefix=f"channel-{channel.pk}", initial=initial)
        rows.append((channel, policy, form))
    return rows


def _render_retention(request: HttpRequest, rows: list[Any], *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "data_protection/retention.html",
        {"section": "retention", "rows": rows},
        status=status,
    )


@admin_required
@require_GET
def retention(request: HttpRequest) -> HttpResponse:
    """Every channel with its policy (days, action, enabled, last run and its count)."""
    return _render_retention(request, _retention_rows())


@admin_required
@require_POST
def retention_save(request: HttpRequest, channel_pk: int) -> HttpResponse:
    channel = get_object_or_404(ChannelAccount, pk=channel_pk)
    form = RetentionPolicyForm(request.POST, prefix=f"channel-{channel.pk}")
    if not form.is_valid():
        return _render_retention(request, _retention_rows({channel.pk: form}), status=400)
    save_retention_policy(
        user=request.user,
        channel=channel,
        days=form.cleaned_data["days"],
        action=form.cleaned_data["action"],
        enabled=form.cleaned_data["enabled"],
    )
    messages.success(request, _("Retention policy of %(channel)s saved.") % {"channel": channel})
    return redirect(reverse("data_protection:retention") + f"#channel-{channel.pk}")


@admin_required
@require_GET
def audit_log_json(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered audit log as JSON, streamed; the export itself is audited."""
    filter_form = AuditFilterForm(request.GET or None)
    filters = filter_form.filters() if request.GET else {"object_type": "", "actor_id": None}
    entries = start_audit_log_export(
        user=request.user, entries=audit.filtered_entries(**filters), filters=filters
    )
    response = StreamingHttpResponse(
        audit_log_json_chunks(entries), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="audit-log-{_stamp()}.json"'
    return response
