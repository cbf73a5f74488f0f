"""Every write agents (and the outbox worker) make to conversations goes through here.

Each action checks permission, writes, records a timeline event, and publishes the live update
after commit. Views, consumers and tasks call these functions; nothing else writes these rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from channels_integrations.registry import connector_class
from channels_integrations.text import preview, safe_http_url
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

logger = logging.getLogger(__name__)

# Shown when we cannot tell whether the platform took the reply (timeouts, a dying worker).
MAYBE_POSTED = (
    "The platform did not confirm this reply; it may have been posted. "
    "Check the thread on the platform before you retry."
)


class ActionRefused(Exception):
    """The action cannot be done as asked; the message is meant for the person who asked."""


def _enqueue_delivery(action_id: int) -> None:
    """After commit, hand the action to a worker. A lost hand-off (broker down) is not an error
    for the person who acted: requeue_stalled_actions picks the row up again."""
    from channels_integrations.tasks import deliver_outbound_action

    def enqueue() -> None:
        try:
            deliver_outbound_action.delay(action_id)
        except Exception:
            logger.exception("could not enqueue delivery of outbound action %s", action_id)

    transaction.on_commit(enqueue, robust=True)


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
        _enqueue_delivery(action.id)
        publish_changes_on_commit(conversation_ids=[conversation.id], message_ids=[message.id])
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
        _enqueue_delivery(action.pk)
        _publish_action(action)
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


def _still_claimed(action: OutboundAction) -> QuerySet[OutboundAction]:
    """The row as long as this worker's claim holds: `claimed_at` is the claim's token.

    A worker that stalled past OUTBOX_STALL_SECONDS may find its row requeued and claimed by
    another; its late result must not overwrite the newer attempt's.
    """
    return OutboundAction.objects.filter(
        pk=action.pk, state=OutboundState.SENDING, claimed_at=action.claimed_at
    )


def mark_outbound_sent(action: OutboundAction, *, external_id: str, permalink: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        updated = _still_claimed(action).update(
            state=OutboundState.SENT,
            result_external_id=external_id,
            sent_at=now,
            last_error="",
            updated_at=now,
        )
        if not updated:
            logger.warning("outbound action %s: claim lost before it was marked sent", action.pk)
            return
        if action.message_id is not None:
            Message.objects.filter(pk=action.message_id).update(
                external_id=external_id, permalink=safe_http_url(permalink)
            )
        Conversation.objects.filter(
            pk=action.conversation_id, first_response_at__isnull=True
        ).update(first_response_at=now, updated_at=now)
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            kind=EventKind.REPLY_SENT,
            data={"action_id": action.pk, "external_id": external_id},
        )
        _publish_action(action)


def mark_outbound_failed(action: OutboundAction, *, reason: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        updated = _still_claimed(action).update(
            state=OutboundState.FAILED, last_error=reason[:2000], updated_at=now
        )
        if not updated:
            logger.warning("outbound action %s: claim lost before it was marked failed", action.pk)
            return
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            kind=EventKind.REPLY_FAILED,
            data={"action_id": action.pk, "reason": reason[:500]},
        )
        _publish_action(action)


def schedule_outbound_retry(action: OutboundAction, *, at: datetime, reason: str) -> None:
    """Back to "queued" for another attempt at `at` (the caller enqueues the task with an ETA)."""
    with transaction.atomic():
        updated = _still_claimed(action).update(
            state=OutboundState.QUEUED,
            next_attempt_at=at,
            last_error=reason[:2000],
            updated_at=timezone.now(),
        )
        if updated:
            _publish_action(action)


def requeue_stalled_actions(*, older_than: timedelta) -> list[int]:
    """Re-enqueue deliveries that nothing is working on any more.

    - "sending" for longer than `older_than`: the worker died mid-call. Sending again is safe only
      because every platform call carries the action's idempotency key (Mastodon keeps it for an
      hour), so a reply that did reach the platform is not posted twice;
    - "queued" and overdue by `older_than`: the task message was lost (a broker restart).
    The claim in `claim_outbound_action` makes a duplicate task harmless. An action whose worker
    died OUTBOX_MAX_ATTEMPTS times fails instead of looping, and says it may have been posted.
    """
    now = timezone.now()
    cutoff = now - older_than
    with transaction.atomic():
        stalled = OutboundAction.objects.select_for_update(skip_locked=True).filter(
            state=OutboundState.SENDING, claimed_at__lt=cutoff
        )
        exhausted = list(stalled.filter(attempts__gte=settings.OUTBOX_MAX_ATTEMPTS))
        retried = list(
            stalled.filter(attempts__lt=settings.OUTBOX_MAX_ATTEMPTS).values_list("pk", flat=True)
        )
        OutboundAction.objects.filter(pk__in=retried).update(
            state=OutboundState.QUEUED,
            last_error="The worker stopped while sending; trying again.",
            updated_at=now,
        )
        for action in exhausted:
            mark_outbound_failed(action, reason=MAYBE_POSTED)
        forgotten = list(
            OutboundAction.objects.filter(state=OutboundState.QUEUED, updated_at__lt=cutoff)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff))
            .exclude(pk__in=retried)
            .values_list("pk", flat=True)
        )
        # Stamped, so a queue that is merely slow does not get one more task per row per run.
        OutboundAction.objects.filter(pk__in=forgotten).update(updated_at=now)
        for action_id in [*retried, *forgotten]:
            _enqueue_delivery(action_id)
    return [*retried, *forgotten]


def _publish_action(action: OutboundAction) -> None:
    message_ids = [action.message_id] if action.message_id else []
    publish_changes_on_commit(conversation_ids=[action.conversation_id], message_ids=message_ids)
