"""Who is looking at a conversation, and who is writing the reply (the collision guard).

Rows in ConversationPresence count only while fresh (the live socket refreshes them), so a
browser that disappeared without a goodbye stops counting by itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from inbox.actions import ActionRefused
from inbox.models import Conversation, ConversationPresence

# A presence row older than this is a browser that went away.
FRESH_FOR = timedelta(seconds=45)


def reply_holder(conversation: Conversation, *, other_than: Any) -> ConversationPresence | None:
    """The freshest presence of someone else who is writing a reply here, if any."""
    return (
        ConversationPresence.objects.filter(
            conversation=conversation,
            composing=True,
            seen_at__gte=timezone.now() - FRESH_FOR,
        )
        .exclude(user_id=other_than.pk)
        .select_related("user")
        .order_by("composing_since", "id")
        .first()
    )


def check_reply_allowed(*, user: Any, conversation: Conversation, take_over: bool) -> None:
    """Refuse a reply while a colleague is writing one here, unless the sender takes over."""
    holder = reply_holder(conversation, other_than=user)
    if holder is not None and not take_over:
        name = holder.user.get_full_name() or holder.user.get_username()
        raise ActionRefused(
            f"{name} is replying to this conversation. Take over to send yours anyway."
        )
