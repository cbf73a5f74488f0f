"""Automatic replies of moderation rules: a saved reply, in the conversation's language and the
channel's tone, queued in the outbox as a reply by nobody in particular ("Team").

Queued like a person's reply and delivered by the worker after commit. It is not a person's
answer: it does not stop the SLA clocks (inbox.actions.record_reply_on_platform) and does not
open the conversation. Storm mode pauses it (moderation.pipeline). One auto-reply per
conversation per rule firing; a conversation that already got an automatic reply in the last
24 hours gets no other, so a chatty author does not get the same text ten times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import F

from channels_integrations.registry import connector_class
from channels_integrations.text import preview
from inbox.actions import enqueue_delivery, unavailable_reason
from inbox.composer import choose_variant, placeholder_values, render_placeholders
from inbox.models import (
    Conversation,
    Direction,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    SavedReply,
)

QUIET_PERIOD = timedelta(hours=24)


def queue_auto_replies(
    wanted: Sequence[tuple[Conversation, Message, int]], *, now: datetime
) -> list[OutboundAction]:
    """Queue the saved reply `saved_reply_id` to `message` in each conversation, inside the
    caller's transaction (ingest's). Skips conversations that got an automatic reply within
    QUIET_PERIOD, messages the platform does not let us answer, and saved replies that are
    gone. Returns the actions queued."""
    replies = {
        reply.pk: reply
        for reply in SavedReply.objects.filter(pk__in={pk for _, _, pk in wanted}).prefetch_related(
            "variants"
        )
    }
    recent = set(
        OutboundAction.objects.filter(
            conversation_id__in={c.pk for c, _, _ in wanted},
            author__isnull=True,
            kind=OutboundKind.REPLY,
            created_at__gte=now - QUIET_PERIOD,
        ).values_list("conversation_id", flat=True)
    )
    queued: list[OutboundAction] = []
    for conversation, message, reply_id in wanted:
        reply = replies.get(reply_id)
        if reply is None or conversation.pk in recent or unavailable_reason(message, "reply"):
            continue
        channel = conversation.channel_account
        language = conversation.language or channel.default_language
        variant = choose_variant(reply.variants.all(), tone=channel.default_tone, language=language)
        if variant is None:
            continue
        values = placeholder_values(user=None, conversation=conversation, language=language)
        text = render_placeholders(variant.text, {**values, "agent": channel.name}).strip()
        limit = connector_class(channel.platform).max_reply_length
        if not text or len(text) > limit:
            continue
        outbound = Message.objects.create(
            conversation_id=conversation.pk,
            channel_account_id=conversation.channel_account_id,
            direction=Direction.OUTBOUND,
            parent_external_id=message.external_id or "",
            text=text,
            sent_at=now,
        )
        action = OutboundAction.objects.create(
            conversation_id=conversation.pk,
            message=outbound,
            kind=OutboundKind.REPLY,
            target_message=message,
            target_external_id=message.external_id or "",
            text=text,
            state=OutboundState.QUEUED,
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            message_count=F("message_count") + 1,
            last_message_at=now,
            last_message_preview=preview(text),
            last_message_direction=Direction.OUTBOUND,
        )
        recent.add(conversation.pk)
        enqueue_delivery(action.id)
        queued.append(action)
    return queued
