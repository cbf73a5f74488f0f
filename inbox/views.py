"""Agent pages. Thin: read through visible_to, write through inbox.actions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST, require_safe

from channels_integrations.registry import connector_class
from inbox import actions, queries
from inbox.access import AccessDenied, ReadOnly, may_only_read
from inbox.conversation_actions import SNOOZE_PRESETS, assignable_users
from inbox.forms import ReplyForm
from inbox.models import (
    Conversation,
    ConversationKind,
    ConversationStatus,
    Message,
    OutboundAction,
    Priority,
    SavedView,
)
from inbox.rows import rows_for


def _conversations(request: HttpRequest) -> QuerySet[Conversation]:
    return Conversation.objects.visible_to(request.user).select_related(
        "channel_account", "contact", "assignee", "department"
    )


def _list_context(request: HttpRequest) -> dict[str, Any]:
    saved_views = list(SavedView.objects.filter(user=request.user.pk))
    page = queries.list_page(request.user, request.GET, saved_views)
    return {
        "page": page,
        "rows": rows_for(page.rows),
        "more": page.next_cursor,
        "colleagues": page.workspace.colleagues(),
        # Observers everywhere get no selection and no bulk bar (the server refuses anyway).
        "may_act": page.workspace.may_act,
    }


def _navigation(
    request: HttpRequest, page: queries.ListPage, *, counted: bool = True
) -> dict[str, Any]:
    """The queues and saved views with the live matcher's facts, and with their counts (one
    query) when `counted`. A full page leaves the counts to the navigation's own request right
    after it (hx-trigger="load"), so the list shows without waiting for them."""
    workspace = page.workspace
    queues = workspace.queues(page.saved_views)
    if counted:
        queues = queries.count_queues(request.user, workspace, queues)
    return {
        "queues": queues,
        "current_queue": page.queue.key,
        "workspace_live": {
            **workspace.as_live(),
            "queues": {queue.key: queue.criteria.as_live() for queue in queues},
        },
    }


@login_required
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    partial = request.GET.get("partial")
    if request.htmx and partial == "rows":  # type: ignore[attr-defined]
        return render(request, "inbox/_conversation_rows.html", context)
    if partial == "nav":
        return render(request, "inbox/_nav.html", _navigation(request, context["page"]))
    if request.htmx and partial == "list":  # type: ignore[attr-defined]
        return render(request, "inbox/_list_pane.html", context)
    navigation = _navigation(request, context["page"], counted=False)
    return render(request, "inbox/inbox.html", {**context, **navigation})


def _thread(conversation: Conversation) -> list[tuple[str, Any, int]]:
    """The thread's items in order: messages and internal notes, each with its nesting depth.

    Comment threads show replies under what they answer, in time order within each level
    (deeper than MAX_DEPTH stays at MAX_DEPTH so it remains readable); an internal note follows
    the message before it in time. Chats and mail threads are in time order and do not nest.
    """
    messages = list(
        conversation.messages.select_related(
            "contact",
            "author",
            "outbound_action",
            "outbound_action__approver",
            "outbound_action__author",
            "moderation_case",
        )
        .prefetch_related("actions_on")
        .defer("search_vector")
    )
    notes = list(conversation.notes.select_related("author").prefetch_related("mentions"))
    for message in messages:
        message.conversation = conversation
        message.channel_account = conversation.channel_account
    ordered: list[tuple[Message, int]] = [(message, 0) for message in messages]
    if conversation.kind in {ConversationKind.COMMENT, ConversationKind.MENTION}:
        known = {m.external_id for m in messages if m.external_id}
        children: dict[str, list[Message]] = {}
        roots = []
        for message in messages:
            parent = message.parent_external_id
            if parent and parent in known and parent != message.external_id:
                children.setdefault(parent, []).append(message)
            else:
                roots.append(message)
        ordered = []
        seen: set[int] = set()

        def walk(message: Message, level: int) -> None:
            if message.pk in seen:  # a cycle in platform data must not loop forever
                return
            seen.add(message.pk)
            ordered.append((message, min(level, MAX_DEPTH)))
            for child in children.get(message.external_id or "", []):
                walk(child, level + 1)

        for root in roots:
            walk(root, 0)
    items: list[tuple[str, Any, int]] = []
    pending_notes = sorted(notes, key=lambda note: (note.created_at, note.pk))
    for message, level in ordered:
        while pending_notes and pending_notes[0].created_at < message.sent_at:
            items.append(("note", pending_notes.pop(0), 0))
        items.append(("message", message, level))
    items.extend(("note", note, 0) for note in pending_notes)
    return items


MAX_DEPTH = 4


def _conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, object]:
    connector = connector_class(conversation.channel_account.platform)
    same_post: QuerySet[Conversation] = Conversation.objects.none()
    if conversation.post_external_id:
        same_post = (
            _conversations(request)
            .filter(
                channel_account_id=conversation.channel_account_id,
                post_external_id=conversation.post_external_id,
            )
            .exclude(pk=conversation.pk)
            .order_by("-last_message_at")
        )
    siblings = list(same_post[: SIBLINGS_SHOWN + 1])
    return {
        "conversation": conversation,
        "read_only": may_only_read(request.user, conversation.channel_account_id),
        "thread": _thread(conversation),
        "reply_form": ReplyForm(),
        "max_reply_length": connector.max_reply_length,
        "capabilities": sorted(connector.capabilities),
        "siblings": siblings[:SIBLINGS_SHOWN],
        "more_siblings": len(siblings) > SIBLINGS_SHOWN,
        "post_filter": f"{conversation.channel_account_id}:{conversation.post_external_id}",
        **conversation_controls(conversation),
        "timeline": conversation.events.select_related("actor").order_by("-created_at", "-id")[
            :TIMELINE_SHOWN
        ],
    }


def conversation_controls(conversation: Conversation) -> dict[str, Any]:
    """What the header's assign, status and priority controls offer for this conversation."""
    return {
        "assignable": assignable_users(conversation),
        "departments": conversation.channel_account.departments.all(),
        "statuses": ConversationStatus.choices,
        "priorities": Priority.choices,
        "snooze_presets": list(SNOOZE_PRESETS.items()),
    }


SIBLINGS_SHOWN = 8
TIMELINE_SHOWN = 200


@login_required
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(_conversations(request).prefetch_related("tags"), pk=pk)
    context = _conversation_context(request, conversation)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_conversation_pane.html", context)
    list_context = _list_context(request)
    return render(
        request,
        "inbox/inbox.html",
        {**context, **list_context, **_navigation(request, list_context["page"], counted=False)},
    )


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    action = get_object_or_404(
        OutboundAction.objects.filter(conversation__in=_conversations(request)), pk=pk
    )
    try:
        actions.retry_outbound_action(user=request.user, action=action)
    except actions.ActionRefused as exc:
        return _refusal(request, str(exc), 409)
    except ReadOnly as exc:
        return _refusal(request, str(exc), 403)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=action.conversation_id)
    message_id = action.message_id or action.target_message_id
    if message_id is None:
        return HttpResponse(status=204)
    return message_fragment(request, message_id)


@login_required
@require_safe
def message_text(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole text of one message (a thread shows its first THREAD_TEXT_LIMIT characters), as
    plain text: with nosniff (SECURE_CONTENT_TYPE_NOSNIFF) a browser never renders it as markup."""
    message = get_object_or_404(
        Message.objects.filter(conversation__in=Conversation.objects.visible_to(request.user)),
        pk=pk,
    )
    return HttpResponse(message.text, content_type="text/plain; charset=utf-8")


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
        return _refusal(request, str(exc), 409)
    except ReadOnly as exc:
        return _refusal(request, str(exc), 403)
    except AccessDenied:
        return HttpResponse(status=404)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=message.conversation_id)
    return message_fragment(request, message.pk)


def _refusal(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_form_error.html", {"error": reason}, status=status)
    return HttpResponse(reason, status=status, content_type="text/plain")


def message_fragment(request: HttpRequest, message_id: int) -> HttpResponse:
    """One message as the thread shows it (the same partial the live events carry)."""
    message = (
        Message.objects.select_related(
            "contact",
            "author",
            "outbound_action",
            "outbound_action__approver",
            "outbound_action__author",
            "conversation",
            "channel_account",
        )
        .prefetch_related("actions_on")
        .get(pk=message_id)
    )
    return render(request, "inbox/_message.html", {"message": message})
