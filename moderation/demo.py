"""The demo workspace's moderation: community guidelines, a few rules that show each kind of
action, and three escalation levels with responsibles (called by demo_setup; idempotent)."""

from __future__ import annotations

from typing import Any

from moderation.models import CommunityGuideline, EscalationLevel, ModerationRule

GUIDELINE_SUMMARY = (
    "Be respectful: no insults, threats, hate or spam. Criticism is welcome and stays visible."
)

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "Hide insults and hate",
        "conditions": {"toxicity_min": 0.8, "toxicity_categories": ["insult", "hate"]},
        "actions": {"hide": True, "queue": True, "tags": ["moderated"]},
        "guideline_section": "1 Respect",
    },
    {
        "name": "Threats: hide, tell the leads, raise an alert",
        "conditions": {"toxicity_min": 0.7, "toxicity_categories": ["threat"]},
        "actions": {"hide": True, "queue": True, "notify_leads": True, "incident_level": 2},
        "guideline_section": "2 No threats",
        "stop_processing": True,
    },
    {
        "name": "Spam to the queue",
        "conditions": {"spam_min": 0.7},
        "actions": {"queue": True, "tags": ["spam"]},
        "guideline_section": "4 No advertising",
    },
    {
        "name": "Profanity: suggest hiding",
        "conditions": {"toxicity_min": 0.6, "toxicity_categories": ["profanity"]},
        "actions": {"hide": True},
        "suggest_only": True,
        "guideline_section": "1 Respect",
    },
    {
        "name": "Legal words to the leads",
        "conditions": {"keywords_any": ["Anwalt", "lawyer", "Klage", "sue", "Verbraucherzentrale"]},
        "actions": {"priority": 3, "notify_leads": True, "tags": ["legal"]},
    },
]


def seed_demo_moderation(*, responsibles: list[Any]) -> None:
    """Guidelines, rules and levels, each created only when there is none yet."""
    if not CommunityGuideline.objects.filter(channel_account__isnull=True).exists():
        CommunityGuideline.objects.create(
            title="Community guidelines",
            summary=GUIDELINE_SUMMARY,
            text=(
                "1 Respect: no insults or personal attacks.\n"
                "2 No threats of any kind.\n"
                "3 No hate against groups of people.\n"
                "4 No advertising or spam.\n"
                "Factual criticism of us, our products and prices is welcome and stays visible."
            ),
            url="https://example.com/community-guidelines",
        )
    if not ModerationRule.objects.exists():
        for position, rule in enumerate(DEMO_RULES):
            ModerationRule.objects.create(position=position, **rule)
    if not EscalationLevel.objects.exists():
        for number, name, values in (
            (1, "Watch", {"volume_ratio": 3.0, "negative_share": 0.5, "min_items": 10}),
            (2, "Alert", {"volume_ratio": 6.0, "toxic_share": 0.25, "min_items": 25}),
            (3, "Crisis", {"volume_ratio": 10.0, "items_per_hour": 300, "min_items": 60}),
        ):
            level = EscalationLevel.objects.create(number=number, name=name, **values)
            level.responsibles.set(responsibles)
