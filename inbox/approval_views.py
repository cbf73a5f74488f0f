"""Reviewing replies that await approval: the controls beside the draft, approve, edit and
approve, reject. Thin views over inbox.approval.

Answers: 404 for a reply the user may not see, 403 for one they see but may not review (agents,
observers, its own author), 409 when it was reviewed meanwhile, 422 for an empty text or note.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from channels_integrations.registry import connector_class
from inbox import approval
from inbox.access import AccessDenied
from inbox.actions import ActionRefused
from inbox.models import Conversation, OutboundAction, OutboundState
from inbox.views import message_fragment


def _visible_action(request: HttpRequest, pk: int) -> OutboundAction:
    """A reply's outbox row in a conversation the user may see (else 404)."""
    return get_object_or_404(
        OutboundAction.objects.filter(
            conversation__in=Conversation.objects.visible_to(request.user),
            message__isnull=False,
        ).select_related("conversation__channel_account", "message", "author", "approver"),
        pk=pk,
    )


def _refusal(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_form_error.html", {"error": reason}, status=status)
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


@login_required
@require_GET
def review_controls(request: HttpRequest, pk: int) -> HttpResponse:
    """The review controls for this user beside a draft (loaded by the thread, so that the
    message fragment itself is the same for everybody); a page of its own without htmx."""
    action = _visible_action(request, pk)
    context = {
        "action": action,
        "may_review": approval.may_review(request.user, action),
        "own": action.author_id == request.user.pk,
        "awaiting": action.state == OutboundState.AWAITING_APPROVAL,
        "max_length": connector_class(
            action.conversation.channel_account.platform
        ).max_reply_length,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/approval/_review_controls.html", context)
    return render(request, "inbox/approval/review.html", context)


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve a draft; with a `text` field, approve the reviewer's edited text instead."""
    action = _visible_action(request, pk)
    text = request.POST.get("text")
    try:
        approval.approve_reply(user=request.user, action=action, text=text)
    except AccessDenied as exc:
        return _refusal(request, str(exc), 403)
    except approval.AlreadyReviewed as exc:
        return _refusal(request, str(exc), 409)
    except ActionRefused as exc:
        return _refusal(request, str(exc), 422)
    return _done(request, action)


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Reject a draft with a note for its author."""
    action = _visible_action(request, pk)
    try:
        approval.reject_reply(user=request.user, action=action, note=request.POST.get("note", ""))
    except AccessDenied as exc:
        return _refusal(request, str(exc), 403)
    except approval.AlreadyReviewed as exc:
        return _refusal(request, str(exc), 409)
    except ActionRefused as exc:
        return _refusal(request, str(exc), 422)
    return _done(request, action)


def _done(request: HttpRequest, action: OutboundAction) -> HttpResponse:
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=action.conversation_id)
    assert action.message_id is not None  # _visible_action reads replies only
    return message_fragment(request, action.message_id)
