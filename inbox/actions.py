"""Every write agents (and the outbox worker) make to conversations goes through here.

Each action checks permission, writes, records a timeline event, and publishes the live update
after commit. Views, consumers and tasks call these functions; nothing else writes these rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_integrations.base import Capability, ReplyTarget
from channels_integrations.models import ChannelAccount
from channels_integrations.registry import connector_class
from channels_integrations.text import preview, safe_http_url
from inbox.access import AnyUser, check_can_act
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
    PlatformState,
)
from inbox.notifications import notify_send_failed
from inbox.sla import record_reply_sla

logger = logging.getLogger(__name__)

# Shown when we cannot tell whether the platform took the reply (timeouts, a dying worker).
MAYBE_POSTED = (
    "The platform did not confirm this reply; it may have been posted. "
    "Check the thread on the platform before you retry."
)


class ActionRefused(Exception):
    """The action cannot be done as asked; the message is meant for the person who asked."""


# What each outbox kind needs from the platform, and the platform state it leaves the item in.
CAPABILITY_FOR = {
    OutboundKind.REPLY: Capability.REPLY,
    OutboundKind.PRIVATE_REPLY: Capability.PRIVATE_REPLY,
    OutboundKind.HIDE: Capability.HIDE,
    OutboundKind.UNHIDE: Capability.UNHIDE,
    OutboundKind.DELETE: Capability.DELETE,
    OutboundKind.LIKE: Capability.LIKE,
    OutboundKind.BAN: Capability.BAN,
}
STATE_AFTER = {
    OutboundKind.HIDE: PlatformState.HIDDEN,
    OutboundKind.UNHIDE: PlatformState.VISIBLE,
    OutboundKind.DELETE: PlatformState.DELETED,
    OutboundKind.BAN: PlatformState.DELETED,
}
REPLY_KINDS = {OutboundKind.REPLY, OutboundKind.PRIVATE_REPLY}
_PENDING = [OutboundState.QUEUED, OutboundState.SENDING]
_VISIBILITY = {OutboundKind.HIDE, OutboundKind.UNHIDE}


def action_target(message: Message) -> ReplyTarget:
    """What a connector needs to know about the platform item an action is about."""
    contact = message.contact
    return ReplyTarget(
        external_id=message.external_id or "",
        author_handle=contact.handle if contact else "",
        author_external_id=contact.external_id if contact else "",
        raw=message.raw if isinstance(message.raw, dict) else {},
        thread_key=message.conversation.thread_key,
        parent_external_id=message.parent_external_id,
        direction=message.direction,
        state=message.platform_state,
        sent_at=message.sent_at,
        text=message.text,
    )


def unavailable_reason(message: Message, kind: str) -> str:
    """Why `kind` cannot be done on this message ("" when it can): platform and item rules."""
    if not message.external_id:
        return _("The message has not reached the platform yet.")
    connector = connector_class(message.channel_account.platform)
    return connector.unavailable_reason(CAPABILITY_FOR[OutboundKind(kind)], action_target(message))


def queue_message_action(*, user: AnyUser, message: Message, kind: str) -> OutboundAction:
    """Queue a hide, unhide, delete, like or ban of one platform item.

    Refused (ActionRefused, with the reason) when the platform or this item does not allow it,
    or when the same action on the item is already on its way. The item's platform state changes
    only when the platform confirms (mark_outbound_sent), so the inbox never claims more than
    what reached the platform.
    """
    if kind not in STATE_AFTER and kind != OutboundKind.LIKE:
        raise ActionRefused(_("Unknown action."))
    conversation = message.conversation
    check_can_act(user, conversation)
    reason = unavailable_reason(message, kind)
    if reason:
        raise ActionRefused(reason)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        # Hide and unhide of one item exclude each other: their order of delivery is not
        # guaranteed, so both in flight could leave the platform and the inbox disagreeing.
        related = [OutboundKind.HIDE, OutboundKind.UNHIDE] if kind in _VISIBILITY else [kind]
        if OutboundAction.objects.filter(
            target_message=locked, kind__in=related, state__in=_PENDING
        ).exists():
            raise ActionRefused(_("An action on this item is already on its way to the platform."))
        action = OutboundAction.objects.create(
            conversation=conversation,
            kind=kind,
            target_message=locked,
            target_external_id=locked.external_id or "",
            state=OutboundState.QUEUED,
            author_id=user.pk,
        )
        locked.save(update_fields=["updated_at"])
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.ACTION_QUEUED,
            data={"action_id": action.id, "kind": kind, "message_id": locked.pk},
        )
        enqueue_delivery(action.id)
        publish_changes_on_commit(conversation_ids=[conversation.id], message_ids=[locked.pk])
    return action


def enqueue_delivery(action_id: int) -> None:
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
    *,
    user: AnyUser,
    conversation: Conversation,
    text: str,
    in_reply_to: Message | None = None,
    private: bool = False,
) -> OutboundAction:
    """Store the agent's reply as an outbound message ("sending") and an outbox row.

    `private` sends it as a private reply (a direct message to the author) where the platform
    allows. Nothing reaches the platform here: the delivery task picks the row up after commit.

    Four-eyes (inbox.approval): when the reply needs a lead's approval, the row is created
    "awaiting approval" and nothing is enqueued; the message shows in the thread as a draft,
    but the list's last-message facts stay those of what was really sent until approval.
    """
    from inbox.approval import hold_for_approval, reply_needs_approval

    check_can_act(user, conversation)
    needs_approval = reply_needs_approval(user, conversation)
    kind = OutboundKind.PRIVATE_REPLY if private else OutboundKind.REPLY
    text = text.strip()
    if not text:
        raise ActionRefused(_("The reply is empty."))
    limit = connector_class(conversation.channel_account.platform).max_reply_length
    if len(text) > limit:
        raise ActionRefused(
            _("The reply is %(length)d characters long; this platform allows %(limit)d.")
            % {"length": len(text), "limit": limit}
        )

    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        target = in_reply_to or (
            conversation.messages.filter(direction=Direction.INBOUND, external_id__isnull=False)
            .order_by("-sent_at", "-id")
            .first()
        )
        if target is None or target.conversation_id != conversation.id or not target.external_id:
            raise ActionRefused(_("There is no message in this conversation to reply to."))
        reason = unavailable_reason(target, kind)
        if reason:
            raise ActionRefused(reason)
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
            kind=kind,
            target_message=target,
            target_external_id=target.external_id,
            text=text,
            state=OutboundState.AWAITING_APPROVAL if needs_approval else OutboundState.QUEUED,
            author_id=user.pk,
        )
        conversation.message_count += 1
        fields = ["message_count"]
        if not needs_approval:
            conversation.last_message_at = now
            conversation.last_message_preview = preview(text)
            conversation.last_message_direction = Direction.OUTBOUND
            fields += ["last_message_at", "last_message_preview", "last_message_direction"]
        was: dict[int, dict[str, object]] = {}
        if conversation.status == ConversationStatus.NEW:
            was[conversation.id] = {"status": conversation.status}
            conversation.status = ConversationStatus.OPEN
            fields.append("status")
        conversation.save(update_fields=[*fields, "updated_at"])
        if needs_approval:
            before = hold_for_approval(user=user, conversation=conversation, action=action)
            if before:
                was[conversation.id] = {**was.get(conversation.id, {}), **before}
        else:
            ConversationEvent.objects.create(
                conversation=conversation,
                actor_id=user.pk,
                kind=EventKind.REPLY_QUEUED,
                data={"action_id": action.id, "in_reply_to": target.external_id},
            )
            enqueue_delivery(action.id)
        publish_changes_on_commit(
            conversation_ids=[conversation.id], message_ids=[message.id], was=was
        )
    return action


def retry_outbound_action(*, user: AnyUser, action: OutboundAction) -> OutboundAction:
    """Put a failed action back in the queue, with the same idempotency key.

    A person's retry is their decision after the failure told them what it knows: an action that
    "may have been posted" is sent again as asked (the platform's idempotency key still applies
    where there is one), instead of failing on the same unanswerable question forever.
    """
    check_can_act(user, action.conversation)
    with transaction.atomic():
        updated = OutboundAction.objects.filter(pk=action.pk, state=OutboundState.FAILED).update(
            state=OutboundState.QUEUED,
            last_error="",
            next_attempt_at=None,
            outcome_unknown=False,
            updated_at=timezone.now(),
        )
        if not updated:
            raise ActionRefused(_("Only a failed action can be retried."))
        _touch_messages(action, timezone.now())
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            actor_id=user.pk,
            kind=EventKind.REPLY_RETRIED,
            data={"action_id": action.pk, "kind": action.kind},
        )
        enqueue_delivery(action.pk)
        _publish_action(action)
    action.refresh_from_db()
    return action


CLAIM_CLOCK_SLACK = timedelta(seconds=5)


def claim_outbound_action(action_id: int) -> OutboundAction | None:
    """Atomically move a queued action to "sending"; None if someone else has it (or nobody should).

    The conditional UPDATE is the claim: of any number of workers handed the same id, exactly one
    sees a row updated. Only a row that is due: a task scheduled for an earlier back-off (the row
    was sent again sooner, failed and was given a later time) finds nothing to do, so the
    back-off holds however many tasks name the row. A few seconds of slack allow for clocks.
    """
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + CLAIM_CLOCK_SLACK)
    claimed = OutboundAction.objects.filter(due, pk=action_id, state=OutboundState.QUEUED).update(
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


def mark_outbound_sent(
    action: OutboundAction, *, external_id: str = "", permalink: str = "", reconciled: bool = False
) -> None:
    """The platform confirmed the action (or it was found there: `reconciled`).

    A reply's outbound message gets the platform id; a hide, unhide, delete or ban moves the
    item's platform state. Only while this worker's claim holds (see _still_claimed).
    """
    now = timezone.now()
    with transaction.atomic():
        if action.kind in REPLY_KINDS and action.message_id is not None:
            # The channel first, then the outbox row: the order ingest takes them in, so the
            # two never wait on each other in a cycle.
            ChannelAccount.objects.select_for_update().filter(
                pk=action.conversation.channel_account_id
            ).first()
        updated = _still_claimed(action).update(
            state=OutboundState.SENT,
            result_external_id=external_id,
            sent_at=now,
            last_error="",
            outcome_unknown=False,
            updated_at=now,
        )
        if not updated:
            logger.warning("outbound action %s: claim lost before it was marked sent", action.pk)
            return
        if action.kind in REPLY_KINDS:
            if action.message_id is not None:
                _claim_platform_id(action, external_id)
            record_reply_on_platform(action, external_id=external_id, permalink=permalink, now=now)
            kind = EventKind.REPLY_RECONCILED if reconciled else EventKind.REPLY_SENT
            data: dict[str, object] = {"action_id": action.pk, "external_id": external_id}
        else:
            state = STATE_AFTER.get(OutboundKind(action.kind))
            if state is not None and action.target_message_id is not None:
                Message.objects.filter(pk=action.target_message_id).update(
                    platform_state=state, platform_state_changed_at=now, updated_at=now
                )
            elif action.target_message_id is not None:
                Message.objects.filter(pk=action.target_message_id).update(updated_at=now)
            kind = EventKind.ACTION_DONE
            data = {"action_id": action.pk, "kind": action.kind}
            if state is not None:
                data["state"] = state
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id, kind=kind, data=data
        )
        _publish_action(action)


def record_reply_on_platform(
    action: OutboundAction, *, external_id: str, permalink: str, now: datetime
) -> None:
    """A reply is on the platform under `external_id` (confirmed by the platform, or found there
    by a poll): its message gets the id and link, its conversation the first-response time."""
    if action.message_id is not None:
        Message.objects.filter(pk=action.message_id).update(
            external_id=external_id, permalink=safe_http_url(permalink), updated_at=now
        )
    if action.author_id is None:
        # An automatic reply (a moderation rule's) is not a person's answer: the response
        # clocks and the customer's waiting time go on.
        return
    # The first response is recorded, the response clocks stop, missed targets are recorded.
    record_reply_sla(conversation_id=action.conversation_id, at=now)
    # The customer waits again only from their first message after this reply was written.
    Conversation.objects.filter(
        pk=action.conversation_id, waiting_since__lte=action.created_at
    ).update(
        waiting_since=Subquery(
            Message.objects.filter(
                conversation_id=action.conversation_id,
                direction=Direction.INBOUND,
                sent_at__gt=action.created_at,
            )
            .order_by("sent_at")
            .values("sent_at")[:1]
        ),
        updated_at=now,
    )


def _claim_platform_id(action: OutboundAction, external_id: str) -> None:
    """Make the reply's platform id free for its outbound message.

    Runs under the channel's row lock (taken by mark_outbound_sent), as ingest holds it for a
    whole page, so a poll cannot store the same id meanwhile. A poll that already stored our
    reply as posted on the platform directly (its text came back changed, e.g. links shortened)
    left a second row for it: that row goes, the agent's message (with its author and delivery)
    stays.
    """
    assert action.message_id is not None
    Message.objects.filter(
        channel_account_id=action.conversation.channel_account_id,
        external_id=external_id,
        direction=Direction.OUTBOUND,
        author__isnull=True,
        outbound_action__isnull=True,
    ).exclude(pk=action.message_id).delete()


def mark_outbound_failed(action: OutboundAction, *, reason: str) -> None:
    """The action will not be done; the reason is shown to the agent beside the item."""
    now = timezone.now()
    with transaction.atomic():
        updated = _still_claimed(action).update(
            state=OutboundState.FAILED, last_error=reason[:2000], updated_at=now
        )
        if not updated:
            logger.warning("outbound action %s: claim lost before it was marked failed", action.pk)
            return
        _touch_messages(action, now)
        ConversationEvent.objects.create(
            conversation_id=action.conversation_id,
            kind=EventKind.REPLY_FAILED if action.kind in REPLY_KINDS else EventKind.ACTION_FAILED,
            data={"action_id": action.pk, "kind": action.kind, "reason": reason[:500]},
        )
        notify_send_failed(action=action)
        _publish_action(action)


def mark_target_deleted(action: OutboundAction) -> None:
    """The platform says the item is gone (deleted by its author): show it so in the inbox."""
    if action.target_message_id is None:
        return
    now = timezone.now()
    with transaction.atomic():
        changed = (
            Message.objects.filter(pk=action.target_message_id)
            .exclude(platform_state=PlatformState.DELETED)
            .update(platform_state=PlatformState.DELETED, platform_state_changed_at=now)
        )
        if changed:
            ConversationEvent.objects.create(
                conversation_id=action.conversation_id,
                kind=EventKind.MESSAGE_STATE_CHANGED,
                data={
                    "message_id": action.target_message_id,
                    "after": PlatformState.DELETED,
                    "by": "platform",
                },
            )


def schedule_outbound_retry(
    action: OutboundAction, *, at: datetime, reason: str, outcome_unknown: bool = False
) -> None:
    """Back to "queued" for another attempt at `at` (the caller enqueues the task with an ETA).

    `outcome_unknown`: the attempt may have reached the platform; the next one reconciles first.
    """
    now = timezone.now()
    # Once unknown, an outcome stays unknown until the platform tells (sent or reconciled).
    unknown = {"outcome_unknown": True} if outcome_unknown else {}
    with transaction.atomic():
        updated = _still_claimed(action).update(
            state=OutboundState.QUEUED,
            next_attempt_at=at,
            last_error=reason[:2000],
            updated_at=now,
            **unknown,
        )
        if updated:
            _touch_messages(action, now)
            _publish_action(action)


def hold_outbound_action(action_id: int, *, reason: str) -> bool:
    """Keep a queued action waiting, without a platform call (its channel's token was refused).

    The row stays queued for outbox.release_waiting_deliveries; the reason is written once, with
    a live update, however often the action's task comes back. Returns False when the row is not
    queued any more (sent, failed or claimed by someone else): nothing to hold.
    """
    now = timezone.now()
    with transaction.atomic():
        action = (
            OutboundAction.objects.select_for_update()
            .filter(pk=action_id, state=OutboundState.QUEUED)
            .first()
        )
        if action is None:
            return False
        if not action.last_error.startswith(reason):
            OutboundAction.objects.filter(pk=action.pk).update(
                last_error=reason[:2000], updated_at=now
            )
            _touch_messages(action, now)
            _publish_action(action)
    return True


def release_queued_actions(*, channel_account_id: int) -> list[int]:
    """Make a channel's queued actions due now and hand them to the outbox after commit.

    Tasks still scheduled for their earlier back-off find them sent, or claimed, or (failed again
    and given a later time) not due (claim_outbound_action): one attempt at a time, back-off kept.
    Rows another transaction holds are left to their own schedule.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboundAction.objects.select_for_update(skip_locked=True)
            .filter(state=OutboundState.QUEUED, conversation__channel_account_id=channel_account_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        OutboundAction.objects.filter(pk__in=ids).update(next_attempt_at=now)
        for action_id in ids:
            enqueue_delivery(action_id)
    return ids


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
            # The dead worker may have reached the platform: reconcile before sending again.
            outcome_unknown=True,
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
            enqueue_delivery(action_id)
    return [*retried, *forgotten]


def _touch_messages(action: OutboundAction, now: datetime) -> None:
    ids = [pk for pk in (action.message_id, action.target_message_id) if pk is not None]
    if ids:
        Message.objects.filter(pk__in=ids).update(updated_at=now)


def _publish_action(action: OutboundAction) -> None:
    message_ids = [pk for pk in (action.message_id, action.target_message_id) if pk is not None]
    publish_changes_on_commit(conversation_ids=[action.conversation_id], message_ids=message_ids)
