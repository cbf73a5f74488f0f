"""Agent pages. Thin: read through visible_to, write through inbox.actions."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from channels_integrations.registry import connector_class
from inbox import actions
from inbox.access import AccessDenied
from inbox.forms import ReplyForm
from inbox.models import Conversation, Message, OutboundAction

PAGE_SIZE = 50


def _conversations(request: HttpRequest) -> QuerySet[Conversation]:
    return Conversation.objects.visible_to(request.user).select_related(
        "channel_account", "contact", "assignee"
    )


def _page(request: HttpRequest) -> tuple[list[Conversation], str]:
    """Keyset pagination on (last_message_at, id), newest first: no OFFSET scans."""
    queryset = _conversations(request).order_by("-last_message_at", "-id")
    before = request.GET.get("before", "")
    if before:
        try:
            stamp, _, pk = before.rpartition("_")
            when = datetime.fromisoformat(stamp)
            queryset = queryset.filter(
                Q(last_message_at__lt=when) | Q(last_message_at=when, id__lt=int(pk))
            )
        except ValueError:
            pass  # a mangled cursor shows the first page rather than an error
    rows = list(queryset[: PAGE_SIZE + 1])
    more = ""
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        last = rows[-1]
        more = f"{last.last_message_at.isoformat()}_{last.pk}"
    return rows, more


@login_required
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    rows, more = _page(request)
    context = {"conversations": rows, "more": more}
    if request.htmx and request.GET.get("partial") == "rows":  # type: ignore[attr-defined]
        return render(request, "inbox/_conversation_rows.html", context)
    return render(request, "inbox/inbox.html", context)


def _conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, object]:
    messages = conversation.messages.select_related(
        "contact", "author", "outbound_action", "conversation", "channel_account"
    ).prefetch_related("actions_on")
    connector = connector_class(conversation.channel_account.platform)
    return {
        "conversation": conversation,
        "messages": messages,
        "reply_form": ReplyForm(),
        "max_reply_length": connector.max_reply_length,
        "capabilities": sorted(connector.capabilities),
    }


@login_required
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(_conversations(request), pk=pk)
    context = _conversation_context(request, conversation)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_conversation.html", context)
    rows, more = _page(request)
    return render(request, "inbox/inbox.html", {**context, "conversations": rows, "more": more})


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    action = get_object_or_404(
        OutboundAction.objects.filter(conversation__in=_conversations(request)), pk=pk
    )
    try:
        actions.retry_outbound_action(user=request.user, action=action)
    except actions.ActionRefused as exc:
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "inbox/_form_error.html", {"error": str(exc)}, status=409)
        return HttpResponse(str(exc), status=409)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=action.conversation_id)
    message_id = action.message_id or action.target_message_id
    if message_id is None:
        return HttpResponse(status=204)
    return message_fragment(request, message_id)


@login_required
@require_POST
def message_action(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Hide, unhide, delete, like or ban one platform item (queued for the outbox)."""
    message = get_object_or_404(
        Message.objects.select_related("conversation", "channel_account", "contact").filter(
            conversation__in=_conversations(request)
        ),
        pk=pk,
    )
    try:
        actions.queue_message_action(user=request.user, message=message, kind=kind)
    except actions.ActionRefused as exc:
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "inbox/_form_error.html", {"error": str(exc)}, status=409)
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    except AccessDenied:
        return HttpResponse(status=404)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=message.conversation_id)
    return message_fragment(request, message.pk)


def message_fragment(request: HttpRequest, message_id: int) -> HttpResponse:
    """One message as the thread shows it (the same partial the live events carry)."""
    message = (
        Message.objects.select_related(
            "contact", "author", "outbound_action", "conversation", "channel_account"
        )
        .prefetch_related("actions_on")
        .get(pk=message_id)
    )
    return render(request, "inbox/_message.html", {"message": message})
