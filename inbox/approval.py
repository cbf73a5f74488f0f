"""Four-eyes approval of replies (docs/approval.md).

Who needs approval: an agent whose reply goes to a channel that requires it, or to a channel
owned by a department that requires it, or who is marked "requires approval" in a department
owning the channel. Admins and the leads of the channel never wait for approval of their own
replies: they are the reviewers.

Who approves: admins and the leads of a department owning the channel (access.can_approve), and
never the author of the reply, whatever their role: four eyes means two people.

States of a reply's outbox row: awaiting_approval → queued (approved, possibly edited) → sent,
or awaiting_approval → rejected (with the reviewer's note; never sent). Only a queued row is ever
claimed by the delivery worker (actions.claim_outbound_action), so nothing awaiting approval or
rejected can reach the platform. Conversation.awaiting_approval is true exactly while one of the
conversation's rows awaits approval: every write here recomputes it under the conversation's
row lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_integrations.registry import connector_class
from channels_integrations.text import preview
from inbox.access import AccessDenied, AnyUser, can_approve, is_admin, leads_channel
from inbox.actions import ActionRefused, enqueue_delivery
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Conversation,
    ConversationEvent,
    Department,
    Direction,
    EventKind,
    MembershipRole,
    Message,
    NotificationKind,
    OutboundAction,
    OutboundState,
)
from inbox.notifications import Localized, notify

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

MAX_REVIEW_NOTE_LENGTH = 2000
ALREADY_REVIEWED = gettext_lazy("This reply has already been reviewed.")


class OwnReply(AccessDenied):
    """The reviewer wrote this reply: four eyes need a second person (views answer 403)."""


class AlreadyReviewed(ActionRefused):
    """Another reviewer decided first, or the reply never awaited approval (views answer 409)."""


def reply_needs_approval(user: AnyUser, conversation: Conversation) -> bool:
    """Whether `user`'s reply in this conversation must wait for a lead's approval.

    True when the channel requires approval, or a moderation rule made the conversation require
    it, or the channel is in storm mode, or a department owning the channel does, or the user's
    membership in a department owning the channel does. Admins and the channel's leads
    never need approval (they review everybody else's replies). Two queries at most.
    """
    channel_id = conversation.channel_account_id
    if is_admin(user) or leads_channel(user, channel_id):
        return False
    if conversation.channel_account.requires_approval or conversation.requires_approval:
        return True
    from moderation.crisis import in_storm

    if in_storm(channel_id):
        # Storm mode (moderation.crisis): every reply on the channel is read twice.
        return True
    return (
        Department.objects.filter(channel_accounts__id=channel_id)
        .filter(
            Q(requires_approval=True)
            | Q(memberships__user_id=user.pk, memberships__requires_approval=True)
        )
        .exists()
    )


def channel_leads(channel_account_id: int) -> list[AbstractBaseUser]:
    """The active leads of the departments owning a channel: who is asked to review."""
    return list(
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__role=MembershipRole.LEAD,
            memberships__department__channel_accounts__id=channel_account_id,
        )
        .distinct()
        .order_by("pk")
    )


def hold_for_approval(
    *, user: AnyUser, conversation: Conversation, action: OutboundAction
) -> dict[str, Any]:
    """Record that `action` (just created as awaiting_approval by actions.queue_reply) waits
    for review: the conversation joins the leads' "Awaiting approval" queue, the timeline says
    so, and the channel's leads are notified.

    Must run inside queue_reply's transaction with `conversation` locked (select_for_update).
    Enqueues nothing: the row is not deliverable. Returns the list facts before the change
    ({"awaiting_approval": False} when the flag flipped, else {}) for the caller's one live
    update after commit.
    """
    assert action.state == OutboundState.AWAITING_APPROVAL
    was: dict[str, Any] = {}
    if not conversation.awaiting_approval:
        was["awaiting_approval"] = False
        conversation.awaiting_approval = True
        conversation.save(update_fields=["awaiting_approval", "updated_at"])
    ConversationEvent.objects.create(
        conversation=conversation,
        actor_id=user.pk,
        kind=EventKind.APPROVAL_REQUESTED,
        data={"action_id": action.pk, "in_reply_to": action.target_external_id},
    )
    notify(
        users=channel_leads(conversation.channel_account_id),
        kind=NotificationKind.APPROVAL_REQUESTED,
        conversation=conversation,
        actor=user,  # type: ignore[arg-type]
        text=Localized(
            gettext_lazy("%(who)s's reply awaits your approval: %(preview)s"),
            who=_display_name(user),
            preview=preview(action.text, 120),
        ),
    )
    return was


def approve_reply(
    *, user: AnyUser, action: OutboundAction, text: str | None = None
) -> OutboundAction:
    """Approve a reply awaiting approval, optionally with the reviewer's edited `text`, and
    queue it for delivery.

    Guarantees: only admins and the channel's leads (AccessDenied), never the reply's author
    (OwnReply); the conversation and the outbox row are locked (in that order, as queue_reply
    takes them), so of two reviewers exactly one decides and the other gets AlreadyReviewed
    (an ActionRefused). An edit keeps the agent's text in `original_text` and replaces the
    thread's message text; the platform's length limit applies. The row becomes queued and its
    delivery is enqueued only after commit; the timeline records the approver and whether the
    text was edited; the author is notified; awaiting_approval is recomputed; browsers are
    updated after commit.
    """
    conversation = _check_reviewer(user, action)
    edited_text = None
    if text is not None:
        edited_text = text.strip()
        if not edited_text:
            raise ActionRefused(_("The reply is empty."))
        limit = connector_class(conversation.channel_account.platform).max_reply_length
        if len(edited_text) > limit:
            raise ActionRefused(
                _("The reply is %(length)d characters long; this platform allows %(limit)d.")
                % {"length": len(edited_text), "limit": limit}
            )
    with transaction.atomic():
        conversation, locked = _lock(action)
        now = timezone.now()
        edited = edited_text is not None and edited_text != locked.text
        fields = ["state", "approver", "reviewed_at", "updated_at"]
        if edited:
            assert edited_text is not None
            locked.original_text, locked.text = locked.text, edited_text
            fields += ["original_text", "text"]
        locked.state = OutboundState.QUEUED
        locked.approver_id = user.pk
        locked.reviewed_at = now
        locked.save(update_fields=fields)
        if locked.message_id is not None:
            # The reply is written (for the customer) when it is released, not when drafted.
            changes: dict[str, Any] = {"sent_at": now, "updated_at": now}
            if edited:
                changes["text"] = locked.text
            Message.objects.filter(pk=locked.message_id).update(**changes)
        # The list shows our reply as the last word only now that it is on its way.
        conversation.last_message_at = now
        conversation.last_message_preview = preview(locked.text)
        conversation.last_message_direction = Direction.OUTBOUND
        was = _recompute_awaiting(
            conversation,
            extra_fields=["last_message_at", "last_message_preview", "last_message_direction"],
        )
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.REPLY_APPROVED,
            data={"action_id": locked.pk, "author_id": locked.author_id, "edited": edited},
        )
        if locked.author is not None:
            message = (
                gettext_lazy("%(who)s approved your reply with changes: %(preview)s")
                if edited
                else gettext_lazy("%(who)s approved your reply: %(preview)s")
            )
            notify(
                users=[locked.author],
                kind=NotificationKind.REPLY_REVIEWED,
                conversation=conversation,
                actor=user,  # type: ignore[arg-type]
                text=Localized(message, who=_display_name(user), preview=preview(locked.text, 120)),
            )
        enqueue_delivery(locked.pk)
        _publish(conversation, locked, was)
    return locked


def reject_reply(*, user: AnyUser, action: OutboundAction, note: str) -> OutboundAction:
    """Reject a reply awaiting approval, with a note for its author.

    Guarantees: as approve_reply for who may review and for locking; the note is required
    (ActionRefused). The row becomes rejected (never deliverable); its message stays in the
    thread, marked rejected with the note, so the author can see what was refused and write a
    new reply. The timeline records the rejection with the note; the author is notified;
    awaiting_approval is recomputed; browsers are updated after commit.
    """
    note = note.strip()
    if not note:
        raise ActionRefused(_("Say why the reply is rejected: its author sees your note."))
    if len(note) > MAX_REVIEW_NOTE_LENGTH:
        raise ActionRefused(
            _("The note is %(length)d characters long; at most %(limit)d are allowed.")
            % {"length": len(note), "limit": MAX_REVIEW_NOTE_LENGTH}
        )
    _check_reviewer(user, action)
    with transaction.atomic():
        conversation, locked = _lock(action)
        now = timezone.now()
        locked.state = OutboundState.REJECTED
        locked.approver_id = user.pk
        locked.reviewed_at = now
        locked.review_note = note
        locked.save(update_fields=["state", "approver", "reviewed_at", "review_note", "updated_at"])
        if locked.message_id is not None:
            # A newer version of the message fragment, so browsers replace the draft's.
            Message.objects.filter(pk=locked.message_id).update(updated_at=now)
        was = _recompute_awaiting(conversation)
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.REPLY_REJECTED,
            data={"action_id": locked.pk, "author_id": locked.author_id, "note": note},
        )
        if locked.author is not None:
            notify(
                users=[locked.author],
                kind=NotificationKind.REPLY_REVIEWED,
                conversation=conversation,
                actor=user,  # type: ignore[arg-type]
                text=Localized(
                    gettext_lazy("%(who)s rejected your reply: %(note)s"),
                    who=_display_name(user),
                    note=note,
                ),
            )
        _publish(conversation, locked, was)
    return locked


def may_review(user: AnyUser, action: OutboundAction) -> bool:
    """Whether the review controls are for this user: a reviewer of the channel, not the
    author, and the reply still awaits approval."""
    return (
        action.state == OutboundState.AWAITING_APPROVAL
        and action.author_id != user.pk
        and can_approve(user, action.conversation)
    )


# Internals.


def _check_reviewer(user: AnyUser, action: OutboundAction) -> Conversation:
    conversation = action.conversation
    if not can_approve(user, conversation):
        raise AccessDenied(_("Only the channel's team leads and admins review replies."))
    if action.author_id is not None and action.author_id == user.pk:
        raise OwnReply(_("You wrote this reply: another team lead or an admin must review it."))
    return conversation


def _lock(action: OutboundAction) -> tuple[Conversation, OutboundAction]:
    """The conversation, then the outbox row, locked; refused unless it still awaits review."""
    # Not the channel's row: ingest holds that one for a whole page.
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel_account")
        .get(pk=action.conversation_id)
    )
    locked = (
        OutboundAction.objects.select_for_update(of=("self",))
        .select_related("author")
        .get(pk=action.pk)
    )
    if locked.state != OutboundState.AWAITING_APPROVAL:
        raise AlreadyReviewed(ALREADY_REVIEWED)
    return conversation, locked


def _recompute_awaiting(
    conversation: Conversation, *, extra_fields: list[str] | None = None
) -> dict[str, Any]:
    """Set awaiting_approval from the rows that still await it; returns the list facts before
    the change (for the live `was`), empty when the flag did not move."""
    awaiting = OutboundAction.objects.filter(
        conversation_id=conversation.pk, state=OutboundState.AWAITING_APPROVAL
    ).exists()
    was: dict[str, Any] = {}
    if awaiting != conversation.awaiting_approval:
        was["awaiting_approval"] = conversation.awaiting_approval
        conversation.awaiting_approval = awaiting
    conversation.save(update_fields=["awaiting_approval", *(extra_fields or []), "updated_at"])
    return was


def _publish(conversation: Conversation, action: OutboundAction, was: dict[str, Any]) -> None:
    publish_changes_on_commit(
        conversation_ids=[conversation.pk],
        message_ids=[action.message_id] if action.message_id else [],
        was={conversation.pk: was} if was else None,
    )


def _display_name(user: Any) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()
