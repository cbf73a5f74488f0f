"""Live updates: rendered deltas pushed to the browsers allowed to see them, after commit.

Every channel account has a group; a browser joins the groups of the channels its user may see
(see inbox.consumers). Events are sent from `transaction.on_commit`, so no browser ever sees state
that was rolled back, and they carry the rendered HTML, so one event never makes every browser
come back to the server for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.template.loader import get_template

logger = logging.getLogger(__name__)


def channel_group(channel_account_id: int) -> str:
    return f"channel.{channel_account_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish_changes_on_commit(
    *,
    conversation_ids: Iterable[int] = (),
    message_ids: Iterable[int] = (),
    new_conversation_ids: Iterable[int] = (),
    channel_account_ids: Iterable[int] = (),
    was: Mapping[int, Mapping[str, Any]] | None = None,
) -> None:
    """After the current transaction commits, push the new state of these rows to browsers.

    `was`: for a conversation whose list facts changed (status, assignee, department, tags,
    mentions), their values before the change, by conversation id. Browsers match both sides
    against their queues (inbox.queries.Criteria) and move their counts by the difference, so
    no browser asks the server for counts because of an event. A new conversation needs none.

    `channel_account_ids`, when the caller knows them (an ingest page has one channel): if no
    browser listens on any of them, nothing is read or rendered at all.

    `new_conversation_ids`: conversations this transaction created. No browser can have them
    open yet (a browser that opens one after the commit reads it whole), so they go out as list
    rows only: no header, no message fragments. That is most of an ingest page's rendering.
    """
    transaction.on_commit(
        partial(
            send_changes,
            conversation_ids=set(conversation_ids),
            message_ids=set(message_ids),
            new_conversation_ids=set(new_conversation_ids),
            channel_account_ids=set(channel_account_ids),
            was={k: dict(v) for k, v in (was or {}).items()},
        ),
        robust=True,
    )


def send_changes(
    *,
    conversation_ids: set[int],
    message_ids: set[int],
    new_conversation_ids: set[int] | None = None,
    channel_account_ids: set[int] | None = None,
    was: dict[int, dict[str, Any]] | None = None,
) -> None:
    # The database is the truth and browsers resynchronize when they reconnect: a failure to
    # render or send must never turn a committed ingest or reply into an error.
    try:
        if channel_account_ids and not channels_with_listeners(channel_account_ids):
            return
        send_events(
            _render_changes(
                conversation_ids,
                message_ids,
                new_conversation_ids or set(),
                was or {},
            )
        )
    except Exception:
        logger.exception("live update for conversations %s failed", sorted(conversation_ids))


def channels_with_listeners(channel_account_ids: set[int]) -> set[int]:
    """The channels whose live group has a connected browser right now.

    Rendering fragments nobody receives is most of an ingest page's cost when no agent is
    online (nights, weekends). The check reads the layer's own group membership: the sorted set
    channels_redis keeps per group (members younger than its group expiry), or the in-memory
    layer's dict. An unknown layer, or a failing check, counts every channel as listened to, so
    nothing is ever left unsent because of it. A browser that connects a moment after the check
    loaded its page after the commit, so it has the change already.
    """
    layer = get_channel_layer()
    if layer is None:
        return set()
    try:
        if isinstance(layer, InMemoryChannelLayer):
            groups = getattr(layer, "groups", {})
            return {pk for pk in channel_account_ids if groups.get(channel_group(pk))}
        if hasattr(layer, "_group_key") and hasattr(layer, "connection"):
            counts = async_to_sync(_redis_group_sizes)(layer, sorted(channel_account_ids))
            return {pk for pk, size in counts.items() if size}
    except Exception:
        logger.exception("could not tell which channels have listeners; rendering all")
    return set(channel_account_ids)


async def _redis_group_sizes(layer: Any, channel_account_ids: list[int]) -> dict[int, int]:
    sizes = {}
    oldest = int(time.time()) - layer.group_expiry
    for pk in channel_account_ids:
        group = channel_group(pk)
        connection = layer.connection(layer.consistent_hash(group))
        sizes[pk] = await connection.zcount(layer._group_key(group), oldest, "+inf")
    return sizes


def _render_changes(
    conversation_ids: set[int],
    message_ids: set[int],
    new_conversation_ids: set[int],
    was: dict[int, dict[str, Any]],
) -> list[tuple[str, dict[str, Any]]]:
    from inbox.models import Conversation, Message
    from inbox.queries import SORTS, mentioned_user_ids, snapshot, sort_value
    from inbox.rows import row_for

    # An ingest page changes a hundred rows: each template is looked up once, not once a row.
    row_template = get_template("inbox/_conversation_row.html")
    head_template = get_template("inbox/_conversation_head.html")
    message_template = get_template("inbox/_message.html")
    events: list[tuple[str, dict[str, Any]]] = []
    conversations = {
        conversation.id: conversation
        for conversation in Conversation.objects.filter(id__in=conversation_ids)
        .select_related("channel_account", "contact", "assignee", "department")
        .prefetch_related("tags")
    }
    mentions = mentioned_user_ids(conversations) if conversations else {}
    messages = list(
        Message.objects.filter(id__in=message_ids)
        .exclude(conversation_id__in=new_conversation_ids)
        .select_related(
            "contact",
            "author",
            "outbound_action",
            "outbound_action__approver",
            "outbound_action__author",
        )
        .prefetch_related("actions_on")
    )
    # Nothing is rendered for a channel no browser listens to (one check for all of them).
    heard = channels_with_listeners(
        {c.channel_account_id for c in conversations.values()}
        | {m.channel_account_id for m in messages}
    )
    for conversation in conversations.values():
        if conversation.channel_account_id not in heard:
            continue
        context = {"conversation": conversation, "row": row_for(conversation)}
        events.append(
            (
                channel_group(conversation.channel_account_id),
                {
                    "type": "conversation.changed",
                    "conversation_id": conversation.id,
                    "created": conversation.id in new_conversation_ids,
                    "facts": snapshot(conversation, mentions.get(conversation.id, ())),
                    "was": was.get(conversation.id),
                    "sort": {key: sort_value(order, conversation) for key, order in SORTS.items()},
                    "html": row_template.render(context),
                    "head_html": ""
                    if conversation.id in new_conversation_ids
                    else head_template.render(context),
                },
            )
        )
    # A message's conversation and channel account (its thread key and platform decide the
    # actions it offers) are mostly rows just read above: not read again for every message.
    others = {message.conversation_id for message in messages} - conversations.keys()
    if others:
        conversations.update(
            (conversation.id, conversation)
            for conversation in Conversation.objects.filter(id__in=others).select_related(
                "channel_account"
            )
        )
    for message in messages:
        thread = conversations.get(message.conversation_id)
        if thread is None:
            continue  # deleted a moment ago, and its messages with it
        if message.channel_account_id not in heard:
            continue
        message.conversation = thread
        if message.channel_account_id == thread.channel_account_id:
            message.channel_account = thread.channel_account
        events.append(
            (
                channel_group(message.channel_account_id),
                {
                    "type": "message.changed",
                    "conversation_id": message.conversation_id,
                    "message_id": message.id,
                    "html": message_template.render({"message": message}),
                },
            )
        )
    return events


def send_events(events: list[tuple[str, dict[str, Any]]]) -> None:
    if not events:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(_send_all)(layer, events)


async def _send_all(layer: Any, events: list[tuple[str, dict[str, Any]]]) -> None:
    for group, payload in events:
        await layer.group_send(group, {"type": "live.event", "payload": payload})


def end_live_session(user_id: int, session_key: str) -> None:
    """Close the websockets that were opened with this (now logged-out) session."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            user_group(user_id), {"type": "session.ended", "session_key": session_key}
        )
    except Exception:
        logger.exception("could not close the live connections of user %s", user_id)
