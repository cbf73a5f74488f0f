"""Who is looking at a conversation, and who is writing the reply (the collision guard).

Rows in ConversationPresence count only while fresh (the live socket refreshes them), so a
browser that disappeared without a goodbye stops counting by itself; the actions here also delete
stale rows of the conversation they touch.

The reply belongs to its *holder*: the first of the people writing one (the oldest
`composing_since` among fresh composing rows). Anyone else may type, but sending over the holder
needs an explicit take-over, which is recorded on the timeline and told to the holder.

Every change is published after commit as a "presence" live event to the conversation's channel
group (the browsers allowed to see the conversation), with the viewers' names as plain strings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Any, NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from inbox import live
from inbox.access import (
    READ_ONLY_MESSAGE,
    AccessDenied,
    AnyUser,
    ReadOnly,
    can_act_on_channel,
    check_can_act,
)
from inbox.actions import ActionRefused
from inbox.models import Conversation, ConversationEvent, ConversationPresence, EventKind

logger = logging.getLogger(__name__)

# A presence row older than this is a browser that went away. The page pings every 20 s, so a
# live tab misses two pings before it stops counting.
FRESH_FOR = timedelta(seconds=45)


class Viewer(NamedTuple):
    id: int
    name: str
    composing: bool


def display_name(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


def _fresh_since() -> Any:
    return timezone.now() - FRESH_FOR


def _fresh(conversation_id: int) -> Any:
    return ConversationPresence.objects.filter(
        conversation_id=conversation_id, seen_at__gte=_fresh_since()
    )


def visible_conversation(*, user: AnyUser, conversation_id: int) -> Conversation:
    """The conversation, if the user may see it; AccessDenied for unknown and forbidden alike."""
    conversation = Conversation.objects.visible_to(user).filter(pk=conversation_id).first()
    if conversation is None:
        raise AccessDenied(gettext("no such conversation"))
    return conversation


# Reading -----------------------------------------------------------------------------------


def viewers(conversation_id: int) -> list[Viewer]:
    """Who has the conversation open right now (fresh rows only), one entry per person.

    A person with two tabs is one viewer, composing if either tab is. Ordered by who came first.
    """
    by_user: dict[int, Viewer] = {}
    rows = _fresh(conversation_id).select_related("user").order_by("seen_at", "id")
    for row in rows:
        known = by_user.get(row.user_id)
        composing = row.composing or (known is not None and known.composing)
        by_user[row.user_id] = Viewer(row.user_id, display_name(row.user), composing)
    return list(by_user.values())


def _first_composer(conversation: Conversation | int) -> ConversationPresence | None:
    conversation_id = conversation if isinstance(conversation, int) else conversation.pk
    return (
        _fresh(conversation_id)
        .filter(composing=True)
        .select_related("user")
        .order_by("composing_since", "id")
        .first()
    )


def reply_holder(conversation: Conversation, *, other_than: Any) -> ConversationPresence | None:
    """The presence of the colleague who holds the reply here, unless that is `other_than`.

    The holder is whoever started writing first; a colleague who starts later does not take the
    reply away from them by typing.
    """
    holder = _first_composer(conversation)
    if holder is None or holder.user_id == other_than.pk:
        return None
    return holder


def check_reply_allowed(*, user: Any, conversation: Conversation, take_over: bool) -> None:
    """Refuse a reply while a colleague holds it here, unless the sender takes over.

    With `take_over`, the take-over is recorded and told to the holder (see take_over), so a
    reply never goes out over a colleague's without a trace, even when the browser's socket was
    down and the take-over came with the form only.
    """
    holder = reply_holder(conversation, other_than=user)
    if holder is None:
        return
    if not take_over:
        name = display_name(holder.user)
        raise ActionRefused(
            gettext("%(name)s is replying to this conversation. Take over to send yours anyway.")
            % {"name": name}
        )
    _take_over(user=user, conversation=conversation, connection=None)


# Writing -----------------------------------------------------------------------------------


def view(*, connection: str, user: AbstractBaseUser, conversation_id: int) -> Conversation:
    """Record that this browser connection has the conversation open.

    Refused with AccessDenied (nothing written) when the user may not see it, whether or not it
    exists. A connection views one conversation at a time: its previous row is replaced, and the
    composing flag survives only a repeated view of the same conversation. Stale rows of the
    conversation are deleted. Both conversations' viewers are published after commit.
    """
    conversation = visible_conversation(user=user, conversation_id=conversation_id)
    now = timezone.now()
    with transaction.atomic():
        row = ConversationPresence.objects.select_for_update().filter(connection=connection).first()
        if row is None:
            ConversationPresence.objects.create(
                connection=connection, user_id=user.pk, conversation=conversation, seen_at=now
            )
        elif row.conversation_id == conversation.pk:
            row.seen_at = now
            row.save(update_fields=["seen_at"])
        else:
            previous = Conversation.objects.filter(pk=row.conversation_id).first()
            row.conversation = conversation
            row.user_id = user.pk
            row.composing = False
            row.composing_since = None
            row.seen_at = now
            row.save()
            if previous is not None:
                _publish_on_commit(previous)
        _delete_stale(conversation.pk)
        _publish_on_commit(conversation)
    return conversation


def _locked_presence(connection: str) -> ConversationPresence | None:
    """This connection's presence row, locked, with its conversation (inside a transaction)."""
    return (
        ConversationPresence.objects.select_for_update()
        .select_related("conversation")
        .filter(connection=connection)
        .first()
    )


def leave(*, connection: str) -> None:
    """Forget what this connection was viewing (tab closed, or no conversation open any more).

    Idempotent; the remaining viewers are published after commit.
    """
    with transaction.atomic():
        row = _locked_presence(connection)
        if row is None:
            return
        row.delete()
        _publish_on_commit(row.conversation)


def set_composing(*, connection: str, composing: bool) -> bool:
    """Mark this connection as writing a reply (or not) in the conversation it views.

    Returns False when the connection views nothing; ReadOnly when its user may only read the
    conversation. Turning it on again while on keeps the
    original start, so re-sending while typing never changes who holds the reply. Also counts
    as a heartbeat. Viewers are published after commit when the flag changed.
    """
    now = timezone.now()
    with transaction.atomic():
        row = _locked_presence(connection)
        if row is None:
            return False
        if composing and not can_act_on_channel(row.user, row.conversation.channel_account_id):
            # An observer "writing" would hold the reply and block the people who may send.
            raise ReadOnly(READ_ONLY_MESSAGE)
        was_fresh = row.seen_at >= now - FRESH_FOR
        changed = row.composing != composing or not was_fresh
        row.seen_at = now
        if row.composing != composing:
            row.composing = composing
            row.composing_since = now if composing else None
        row.save(update_fields=["seen_at", "composing", "composing_since"])
        if changed:
            _publish_on_commit(row.conversation)
    return True


def heartbeat(*, connection: str) -> bool:
    """Keep this connection's presence fresh; False when it has none (left, or cleaned as stale).

    Also deletes the conversation's stale rows, so a colleague whose browser vanished drops off
    everyone's list within one heartbeat after FRESH_FOR. Viewers are published after commit
    when that (or this row coming back from stale) changed the list.
    """
    now = timezone.now()
    with transaction.atomic():
        row = (
            ConversationPresence.objects.select_related("conversation")
            .filter(connection=connection)
            .first()
        )
        if row is None:
            return False
        was_fresh = row.seen_at >= now - FRESH_FOR
        ConversationPresence.objects.filter(pk=row.pk).update(seen_at=now)
        if _delete_stale(row.conversation_id) or not was_fresh:
            _publish_on_commit(row.conversation)
    return True


def take_over(
    *, user: AbstractBaseUser, conversation: Conversation, connection: str | None = None
) -> int | None:
    """Take the reply away from the colleague who holds it; returns that colleague's user id.

    Refused with AccessDenied when the user may not reply here. Under a lock on the conversation
    (two take-overs at once are ordered): every other person's composing flag is cleared, a
    REPLY_TAKEN_OVER event with {"from": previous holder id} is recorded, and after commit the
    previous holder is told "<name> took over the reply" on their own live group and the viewers
    are published. When `connection` views this conversation it becomes the new holder. When
    nobody else holds the reply, nothing is recorded and None is returned.
    """
    return _take_over(user=user, conversation=conversation, connection=connection)


def _take_over(
    *, user: AbstractBaseUser, conversation: Conversation, connection: str | None
) -> int | None:
    # Separate from take_over because check_reply_allowed's `take_over` argument hides that name.
    check_can_act(user, conversation)
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        holder = reply_holder(conversation, other_than=user)
        if connection is not None:
            ConversationPresence.objects.filter(
                connection=connection, conversation=conversation, user_id=user.pk
            ).update(composing=True, composing_since=now, seen_at=now)
        if holder is None:
            _publish_on_commit(conversation)
            return None
        ConversationPresence.objects.filter(conversation=conversation, composing=True).exclude(
            user_id=user.pk
        ).update(composing=False, composing_since=None)
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.REPLY_TAKEN_OVER,
            data={"from": holder.user_id},
        )
        name = display_name(user)
        notice = {
            "type": "presence.taken_over",
            "conversation_id": conversation.pk,
            "by": {"id": user.pk, "name": name},
            "message": gettext("%(name)s took over the reply.") % {"name": name},
        }
        transaction.on_commit(
            partial(_send, [(live.user_group(holder.user_id), notice)]), robust=True
        )
        _publish_on_commit(conversation)
    return holder.user_id


def finish_reply(*, user: AbstractBaseUser, conversation: Conversation) -> None:
    """The user's reply here went out: they no longer hold it (all their tabs).

    Meant for the reply view after queue_reply, so a colleague is unblocked even when the
    sender's browser never says so. Viewers are published after commit when something changed.
    """
    with transaction.atomic():
        changed = ConversationPresence.objects.filter(
            conversation=conversation, user_id=user.pk, composing=True
        ).update(composing=False, composing_since=None)
        if changed:
            _publish_on_commit(conversation)


def clean_stale_presence() -> int:
    """Delete every stale row (for a periodic task); returns how many. Lists are not published:
    stale rows were not shown anyway."""
    deleted, _ = ConversationPresence.objects.filter(seen_at__lt=_fresh_since()).delete()
    return deleted


def forget_if_hidden(*, connection: str, user: AbstractBaseUser) -> bool:
    """Leave the conversation this connection views when its user may no longer see it.

    Returns True when it left. For membership changes: a colleague moved out of a department
    must not keep showing up (or holding a reply) in its conversations.
    """
    row = ConversationPresence.objects.filter(connection=connection).first()
    if row is None:
        return False
    if Conversation.objects.visible_to(user).filter(pk=row.conversation_id).exists():
        return False
    leave(connection=connection)
    return True


def refresh_live_groups(user_ids: Iterable[int]) -> None:
    """Make these users' open sockets recompute which channel groups they listen to.

    Call it whenever what a user may see changes (memberships, a department's channels, admin
    rights). Sent after the current transaction commits, as the sockets read the new state.
    Never raises: a failed send is logged, and a reconnect computes the groups afresh anyway.
    """
    events = [(live.user_group(pk), {"type": "groups.changed"}) for pk in sorted(set(user_ids))]
    if events:
        transaction.on_commit(partial(_send_group_messages, events), robust=True)


# Publishing --------------------------------------------------------------------------------


def presence_event(conversation_id: int) -> dict[str, Any]:
    """The "presence" live event: the conversation's viewers and who holds the reply."""
    holder = _first_composer(conversation_id)
    return {
        "type": "presence",
        "conversation_id": conversation_id,
        "viewers": [
            {"id": viewer.id, "name": viewer.name, "composing": viewer.composing}
            for viewer in viewers(conversation_id)
        ],
        "holder": holder.user_id if holder is not None else None,
    }


def _delete_stale(conversation_id: int) -> int:
    deleted, _ = ConversationPresence.objects.filter(
        conversation_id=conversation_id, seen_at__lt=_fresh_since()
    ).delete()
    return deleted


def _publish_on_commit(conversation: Conversation) -> None:
    transaction.on_commit(
        partial(_send_presence, conversation.pk, conversation.channel_account_id), robust=True
    )


def _send_presence(conversation_id: int, channel_account_id: int) -> None:
    # Read after commit, so the list is what the database holds now, not what one action saw.
    try:
        event = presence_event(conversation_id)
    except Exception:
        logger.exception("could not read the viewers of conversation %s", conversation_id)
        return
    _send([(live.channel_group(channel_account_id), event)])


def _send(events: list[tuple[str, dict[str, Any]]]) -> None:
    # Presence is a courtesy on top of the database: a failed send never fails the action.
    try:
        live.send_events(events)
    except Exception:
        logger.exception("could not send presence events")


def _send_group_messages(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_group_send_all)(layer, messages)
    except Exception:
        logger.exception("could not refresh live groups")


async def _group_send_all(layer: Any, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)
