"""Plain factory functions for moderation cases and decisions (other test modules import them)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from channels_integrations.models import ChannelAccount
from inbox.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    Person,
    PlatformState,
)
from moderation.evidence import decision_for, record_decisions
from moderation.models import CaseState, DecisionAction, ModerationCase, ModerationDecision

_counter = itertools.count(1)

INSULT_SCORES: dict[str, Any] = {
    "language": "de",
    "sentiment": "negative",
    "sentiment_score": -0.8,
    "toxicity": {"insult": 0.92, "threat": 0.0, "hate": 0.0, "profanity": 0.3},
    "spam": 0.05,
    "spam_signals": [],
    "evidence": ["insult: idiot"],
}


def make_item(
    channel: ChannelAccount,
    *,
    text: str = "Du Idiot!",
    person: Person | None = None,
    author: str = "Troll",
    platform_state: str = PlatformState.VISIBLE,
    when: datetime | None = None,
) -> Message:
    """One inbound comment by `person` (a new one unless given) in its own conversation."""
    n = next(_counter)
    when = when or timezone.now() - timedelta(minutes=n)
    person = person or Person.objects.create(display_name=author)
    contact = Contact.objects.create(
        platform=channel.platform,
        scope="test",
        external_id=f"mod-author-{n}",
        handle=f"troll{n}",
        display_name=person.display_name,
        person=person,
    )
    conversation = Conversation.objects.create(
        channel_account=channel,
        kind="comment",
        thread_key=f"mod-thread-{n}",
        contact=contact,
        last_message_at=when,
        last_message_preview=text[:140],
        last_message_direction=Direction.INBOUND,
        message_count=1,
    )
    return Message.objects.create(
        conversation=conversation,
        channel_account=channel,
        external_id=f"mod-comment-{n}",
        direction=Direction.INBOUND,
        contact=contact,
        text=text,
        sent_at=when,
        permalink=f"https://facebook.example/comment/{n}",
        platform_state=platform_state,
        raw={"id": f"mod-comment-{n}"},
    )


def make_case(
    channel: ChannelAccount,
    *,
    message: Message | None = None,
    text: str = "Du Idiot!",
    person: Person | None = None,
    auto_action: str = "",
    state: str = CaseState.PENDING,
    reasons: list[dict[str, Any]] | None = None,
    scores: dict[str, Any] | None = None,
    severity: float = 0.9,
    flagged_at: datetime | None = None,
    decided_at: datetime | None = None,
    decided_by: Any = None,
    platform_state: str | None = None,
) -> ModerationCase:
    """A case in the moderation queue for a new item (or `message`)."""
    if message is None:
        message = make_item(
            channel,
            text=text,
            person=person,
            platform_state=platform_state
            or (PlatformState.HIDDEN if auto_action == "hide" else PlatformState.VISIBLE),
        )
    return ModerationCase.objects.create(
        message=message,
        conversation_id=message.conversation_id,
        channel_account=channel,
        state=state,
        reasons=reasons
        if reasons is not None
        else [
            {
                "rule": "Hide insults",
                "rule_id": None,
                "suggest_only": False,
                "actions": ["hide"] if auto_action else ["queue"],
                "why": ["insult 0.92"],
                "guideline": "1 Respect: no insults",
            }
        ],
        scores=scores if scores is not None else INSULT_SCORES,
        auto_action=auto_action,
        severity=severity,
        flagged_at=flagged_at or timezone.now() - timedelta(minutes=5),
        decided_at=decided_at,
        decided_by=decided_by,
    )


def make_decision(
    message: Message,
    *,
    action: str = DecisionAction.HIDE,
    automatic: bool = True,
    actor: Any = None,
    now: datetime | None = None,
    reason: str = "",
    scores: dict[str, Any] | None = None,
) -> ModerationDecision:
    """A recorded decision (with its digest and timeline event) about `message`."""
    decision = decision_for(
        message=message,
        action=action,
        automatic=automatic,
        now=now or timezone.now(),
        actor=actor,
        scores=scores if scores is not None else INSULT_SCORES,
        reason=reason,
    )
    return record_decisions([decision])[0]
