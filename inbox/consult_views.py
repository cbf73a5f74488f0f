"""Consulting by e-mail: the conversation's "Ask for advice" panel (agents) and the public page
the expert opens from the e-mail (no login). Thin views over inbox.consulting.

The public page shows one conversation to whoever holds the link, so its responses are never
cached, never indexed, and never send the link (with its token) to another site as a Referer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import consulting
from inbox.access import AccessDenied, ReadOnly, may_only_read
from inbox.actions import ActionRefused
from inbox.models import Consultation, Conversation, Department

VALID_FOR_DAYS = [
    (1, gettext_lazy("1 day")),
    (3, gettext_lazy("3 days")),
    (7, gettext_lazy("7 days")),
    (14, gettext_lazy("14 days")),
    (30, gettext_lazy("30 days")),
]


class ConsultForm(forms.Form):
    expert_email = forms.EmailField(
        label=gettext_lazy("Expert's e-mail"),
        required=False,
        help_text=gettext_lazy("Empty: the department's contact person."),
    )
    expert_name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"),
        queryset=Department.objects.order_by("name"),
        required=False,
    )
    question = forms.CharField(
        label=gettext_lazy("Question"),
        max_length=consulting.MAX_QUESTION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    valid_for_days = forms.TypedChoiceField(
        label=gettext_lazy("Link valid for"),
        choices=VALID_FOR_DAYS,
        coerce=int,
        initial=7,
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        department = cleaned.get("department")
        has_contact = department is not None and department.contact_person_id is not None
        if (
            not cleaned.get("expert_email")
            and not has_contact
            and "expert_email" not in self.errors
        ):
            self.add_error(
                "expert_email",
                _("Enter the expert's address (or choose a department with a contact person)."),
            )
        return cleaned


class AnswerForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Your answer"),
        widget=forms.Textarea(attrs={"rows": 8}),
    )


# --- in the app ------------------------------------------------------------------------------


def _visible_conversation(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.visible_to(request.user).select_related("channel_account", "contact"),
        pk=pk,
    )


def _panel(
    request: HttpRequest,
    conversation: Conversation,
    *,
    form: ConsultForm | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    context = {
        "conversation": conversation,
        "consultations": [
            (consultation, consulting.closed_reason(consultation, now) or "open")
            for consultation in consulting.consultations_of(conversation)
        ],
        "may_act": not may_only_read(request.user, conversation.channel_account_id),
        "form": form or ConsultForm(),
        "notice": notice,
    }
    template = (
        "inbox/approval/_consultations.html"
        if request.htmx  # type: ignore[attr-defined]
        else "inbox/approval/consultations.html"
    )
    return render(request, template, context, status=status)


@login_required
@require_GET
def consultations(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's consultations (who, asked when, expires, answered) and the form."""
    return _panel(request, _visible_conversation(request, pk))


@login_required
@require_POST
def request_advice(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask an expert by e-mail. Form errors come back in the panel (200, so htmx shows them)."""
    conversation = _visible_conversation(request, pk)
    form = ConsultForm(request.POST)
    if not form.is_valid():
        return _panel(request, conversation, form=form)
    data = form.cleaned_data
    try:
        consultation, _link = consulting.request_advice(
            user=request.user,
            conversation=conversation,
            expert_email=data["expert_email"],
            expert_name=data["expert_name"],
            question=data["question"],
            department=data["department"],
            valid_for=timedelta(days=data["valid_for_days"]),
            base_url=request.build_absolute_uri("/"),
        )
    except ReadOnly as exc:
        return HttpResponse(str(exc), status=403, content_type="text/plain; charset=utf-8")
    except AccessDenied:
        return HttpResponse(status=404)
    except ActionRefused as exc:
        form.add_error(None, str(exc))
        return _panel(request, conversation, form=form)
    notice = _("Asked %(expert)s by e-mail.") % {"expert": consulting.expert_label(consultation)}
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, notice)
        return redirect("inbox:conversation", pk=conversation.pk)
    return _panel(request, conversation, notice=notice)


@login_required
@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a consultation's link before it is answered."""
    consultation = get_object_or_404(
        Consultation.objects.filter(
            conversation__in=Conversation.objects.visible_to(request.user)
        ).select_related("conversation__channel_account", "conversation__contact"),
        pk=pk,
    )
    conversation = consultation.conversation
    try:
        consulting.withdraw_advice(user=request.user, consultation=consultation)
    except ReadOnly as exc:
        return HttpResponse(str(exc), status=403, content_type="text/plain; charset=utf-8")
    except AccessDenied:
        return HttpResponse(status=404)
    except ActionRefused as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=conversation.pk)
    return _panel(request, conversation, notice=_("The link no longer opens."))


# --- the expert's page (no login) ------------------------------------------------------------


def _private_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """No caching anywhere, no search engine, and no Referer to any other site: the URL carries
    the token.

    "same-origin", not "no-referrer": under "no-referrer" browsers send `Origin: null` with
    the answer form's POST, which Django's CSRF check (rightly) refuses, so no answer could be
    sent. Under "same-origin" nothing at all goes to other sites, and our own site already has
    the token in the request's URL.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return never_cache(wrapped)


@_private_page
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """The conversation the expert was asked about, and the form for their answer.

    404 for a token nobody issued, 410 for an expired, withdrawn or answered link; a second
    answer is refused the same way (410).
    """
    try:
        consultation = consulting.find_consultation(token)
    except consulting.ConsultationUnknown:
        return render(request, "consult/gone.html", {"reason": "unknown"}, status=404)
    except consulting.ConsultationClosed as closed:
        return _gone(request, closed)
    form = AnswerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                consulting.answer_advice(token=token, text=form.cleaned_data["text"])
            except consulting.ConsultationClosed as closed:
                return _gone(request, closed)
            except consulting.ConsultationUnknown:
                return render(request, "consult/gone.html", {"reason": "unknown"}, status=404)
            except ActionRefused as exc:
                form.add_error("text", str(exc))
            else:
                return render(request, "consult/thanks.html", {"consultation": consultation})
        status = 422
    return render(
        request,
        "consult/page.html",
        {
            "consultation": consultation,
            "conversation": consultation.conversation,
            "thread": consulting.shared_thread(consultation),
            "form": form,
        },
        status=status,
    )


def _gone(request: HttpRequest, closed: consulting.ConsultationClosed) -> HttpResponse:
    # Nothing of the conversation on this page: the link no longer grants it.
    return render(request, "consult/gone.html", {"reason": closed.reason}, status=410)
