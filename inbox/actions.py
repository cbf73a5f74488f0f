"""Every write agents (and the outbox worker) make to conversations goes through here.

Each action checks permission, writes, records a timeline event, and publishes the live update
after commit. Views, consumers and tasks call these functions; nothing else writes these rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_integrations.registry import connector_class
from channels_integrations.text import preview
from inbox.access import AnyUser, check_can_reply
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
)


class ActionRefused(Exception):
    """The action cannot be done as asked; the message is meant for the person who asked."""


def _enqueue_delivery(action_id: int) -> None:
    from channels_integrations.tasks import deliver_outbound_action

    transaction.on_commit(lambda: deliver_outbound_action.delay(action_id))


def queue_reply(
    *, user: AnyUser, conversation: Conversation, text: str, in_reply_to: Message | None = None
) -> OutboundAction:
    """Store the agent's reply as an outbound message ("sending") and an outbox row.

    Nothing reaches the platform here: the delivery task picks the row up after commit.
    """
    check_can_reply(user, conversation)
    text = text.strip()
    if not text:
        raise ActionRefused("The reply is empty.")
    limit = connector_class(conversation.channel_account.platform).max_reply_length
    if len(text) > limit:
        raise ActionRefused(
            f"The reply is {len(text)} characters long; this platform allows {limit}."
        )

    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        target = in_reply_to or (
            conversation.messages.filter(direction=Direction.INBOUND, external_id__isnull=False)
            .order_by("-sent_at", "-id")
            .first()
        )
        if target is None or target.conversation_id != conversation.id or not target.external_id:
            raise ActionRefused("There is no message in this conversation to reply to.")
        now = timezone.now()
        message = Message.objects.create(
            conversation=conversation,
            channel_account_id=conversation.channel_account_id,
            direction=Direction.OUTBOUND,
            author_id=user.pk,
            parent_external_id=target.external_id,
            text=text,
            sent_at=now,
        )
        action = OutboundAction.objects.create(
            conversation=conversation,
            message=message,
            kind=OutboundKind.REPLY,
            target_external_id=target.external_id,
            text=text,
            state=OutboundState.QUEUED,
            author_id=user.pk,
        )
        conversation.last_message_at = now
        conversation.last_message_preview = preview(text)
        conversation.last_message_direction = Direction.OUTBOUND
        conversation.message_count += 1
        fields = [
            "last_message_at",
            "last_message_preview",
            "last_message_direction",
            "message_count",
        ]
        if conversation.status == ConversationStatus.NEW:
            conversation.status = ConversationStatus.OPEN
            fields.append("status")
        conversation.save(update_fields=[*fields, "updated_at"])
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.REPLY_QUEUED,
            data={"action_id": action.id, "in_reply_to": target.external_id},
        )
        publish_changes_on_commit(conversation_ids=[conversation.id], message_ids=[message.id])
        _enqueue_delivery(action.id)
    return action


def retry_outbound_action(*, user: AnyUser, action: OutboundAction) -> OutboundAction:
    """Put a failed action back in the queue, with the same idempotency key."""
    check_can_reply(user, action.conversation)
    with transaction.atomic():
        updated = OutboundAction.objects.filter(pk=action.pk, state=OutboundState.FAILED).update(
            state=OutboundState.QUEUED,
            last_error="",
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
        if not updated:
            raise ActionRefused("Only a failed action can be retried.")
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            actor_id=user.pk,
            kind=EventKind.REPLY_RETRIED,
            data={"action_id": action.pk},
        )
        _publish_action(action)
        _enqueue_delivery(action.pk)
    action.refresh_from_db()
    return action


def claim_outbound_action(action_id: int) -> OutboundAction | None:
    """Atomically move a queued action to "sending"; None if someone else has it (or nobody should).

    The conditional UPDATE is the claim: of any number of workers handed the same id, exactly one
    sees a row updated.
    """
    now = timezone.now()
    claimed = OutboundAction.objects.filter(pk=action_id, state=OutboundState.QUEUED).update(
        state=OutboundState.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return None
    return OutboundAction.objects.select_related("conversation__channel_account", "message").get(
        pk=action_id
    )


def mark_outbound_sent(action: OutboundAction, *, external_id: str, permalink: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        OutboundAction.objects.filter(pk=action.pk).update(
            state=OutboundState.SENT,
            result_external_id=external_id,
            sent_at=now,
            last_error="",
            updated_at=now,
        )
        if action.message_id is not None:
            Message.objects.filter(pk=action.message_id).update(
                external_id=external_id, permalink=permalink[:1000]
            )
        Conversation.objects.filter(
            pk=action.conversation_id, first_response_at__isnull=True
        ).update(first_response_at=now)
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            kind=EventKind.REPLY_SENT,
            data={"action_id": action.pk, "external_id": external_id},
        )
        _publish_action(action)


def mark_outbound_failed(action: OutboundAction, *, reason: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        OutboundAction.objects.filter(pk=action.pk).update(
            state=OutboundState.FAILED, last_error=reason[:2000], updated_at=now
        )
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            kind=EventKind.REPLY_FAILED,
            data={"action_id": action.pk, "reason": reason[:500]},
        )
        _publish_action(action)


def schedule_outbound_retry(action: OutboundAction, *, at: datetime, reason: str) -> None:
    """Back to "queued" for another attempt at `at` (the caller enqueues the task with an ETA)."""
    OutboundAction.objects.filter(pk=action.pk, state=OutboundState.SENDING).update(
        state=OutboundState.QUEUED,
        next_attempt_at=at,
        last_error=reason[:2000],
        updated_at=timezone.now(),
    )
    _publish_action(action)


def requeue_stalled_actions(*, older_than: timedelta) -> list[int]:
    """Re-enqueue deliveries that nothing is working on any more.

    - "sending" for longer than `older_than`: the worker died mid-call. Sending again is safe only
      because every platform call carries the action's idempotency key (Mastodon keeps it for an
      hour), so a reply that did reach the platform is not posted twice;
    - "queued" and overdue by `older_than`: the task message was lost (a broker restart).
    The claim in `claim_outbound_action` makes a duplicate task harmless.
    """
    now = timezone.now()
    cutoff = now - older_than
    with transaction.atomic():
        stalled = list(
            OutboundAction.objects.select_for_update(skip_locked=True)
            .filter(state=OutboundState.SENDING, claimed_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        OutboundAction.objects.filter(pk__in=stalled).update(
            state=OutboundState.QUEUED,
            last_error="The worker stopped while sending; trying again.",
            updated_at=now,
        )
        forgotten = list(
            OutboundAction.objects.filter(state=OutboundState.QUEUED, updated_at__lt=cutoff)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff))
            .exclude(pk__in=stalled)
            .values_list("pk", flat=True)
        )
        for action_id in [*stalled, *forgotten]:
            _enqueue_delivery(action_id)
    return [*stalled, *forgotten]


def _publish_action(action: OutboundAction) -> None:
    message_ids = [action.message_id] if action.message_id else []
    publish_changes_on_commit(conversation_ids=[action.conversation_id], message_ids=message_ids)
