"""Moderation on arrival: every new inbound item is classified, run through the rules, and what
the rules and bans decide reaches the outbox, the moderation queue and the evidence, inside
ingest's transaction and in a fixed number of queries per page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from channels_integrations.models import Platform
from inbox.approval import reply_needs_approval
from inbox.ingest import ingest_page
from inbox.models import (
    Contact,
    Conversation,
    ConversationEvent,
    EventKind,
    Message,
    Notification,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
    Priority,
    SavedReply,
    SavedReplyVariant,
)
from moderation.classifiers.base import Classification
from moderation.models import (
    CaseState,
    DecisionAction,
    Incident,
    IncidentStatus,
    ListKind,
    ModerationCase,
    ModerationDecision,
    ModerationRule,
    PersonListing,
)
from tests import factories
from tests.inbox.person_factories import make_channel

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
INSULT = "Du bist ein totaler Vollidiot, du Idiot!"
CRITICISM = "Seit drei Wochen warte ich auf meine Erstattung, das ist inakzeptabel."


def comment(external_id: str, text: str, *, author: str = "u1", minutes: int = 0) -> InboundItem:
    return InboundItem(
        external_id=external_id,
        thread_key=external_id,
        kind="comment",
        author=InboundAuthor(external_id=author, display_name=f"User {author}"),
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        post_external_id="post-1",
        post_text="Our winter sale",
    )


def ingest(channel: Any, items: list[InboundItem]) -> Any:
    channel.refresh_from_db()
    return ingest_page(
        channel_account_id=channel.pk,
        expected_cursor=channel.cursor,
        page=FetchedPage(items=items, cursor=dict(channel.cursor), caught_up=True, updates=[]),
    )


def rule(name: str, conditions: dict[str, Any], actions: dict[str, Any], **fields: Any) -> Any:
    position = ModerationRule.objects.count()
    return ModerationRule.objects.create(
        name=name, position=position, conditions=conditions, actions=actions, **fields
    )


@pytest.fixture
def facebook(department: Any) -> Any:
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


@pytest.fixture
def hide_insults() -> Any:
    return rule(
        "Hide insults",
        {"toxicity_min": 0.6, "toxicity_categories": ["insult"]},
        {"hide": True, "queue": True},
        guideline_section="1 Respect",
    )


def message(external_id: str) -> Message:
    return Message.objects.get(external_id=external_id)


def test_it_stores_the_classification_on_every_inbound_message(facebook):
    ingest(facebook, [comment("c1", INSULT), comment("c2", CRITICISM)])

    insult = Classification.from_scores(message("c1").classifier_scores)
    criticism = Classification.from_scores(message("c2").classifier_scores)
    assert insult is not None and criticism is not None
    assert insult.toxicity["insult"] >= 0.6
    assert criticism.toxic_score < 0.5
    assert criticism.sentiment == "negative"
    assert message("c2").language == "de"
    assert Conversation.objects.get(thread_key="c2").sentiment == "negative"
    # The platform gave no language: the conversation takes the classifier's (for replies).
    assert Conversation.objects.get(thread_key="c2").language == "de"


def test_it_hides_an_insult_on_the_platform_and_puts_it_in_the_queue(facebook, hide_insults):
    ingest(facebook, [comment("c1", INSULT), comment("c2", CRITICISM)])

    insult = message("c1")
    hide = OutboundAction.objects.get(target_message=insult)
    assert (hide.kind, hide.state, hide.author_id) == (
        OutboundKind.HIDE,
        OutboundState.QUEUED,
        None,
    )
    case = ModerationCase.objects.get(message=insult)
    assert (case.state, case.auto_action) == (CaseState.PENDING, "hide")
    assert case.reasons[0]["rule"] == "Hide insults"
    assert case.scores["toxicity"]["insult"] >= 0.6
    # Factual criticism is left alone.
    assert not ModerationCase.objects.filter(message=message("c2")).exists()
    assert not OutboundAction.objects.filter(target_message=message("c2")).exists()


def test_it_keeps_the_automatic_decision_as_evidence_with_the_text_as_it_was(
    facebook, hide_insults
):
    ingest(facebook, [comment("c1", INSULT)])

    decision = ModerationDecision.objects.get(message=message("c1"))
    assert decision.action == DecisionAction.HIDE
    assert decision.automatic is True
    assert decision.text == INSULT
    assert decision.rule_id == hide_insults.pk
    assert decision.rule_name == "Hide insults"
    assert decision.channel_name == "Facebook page"
    assert decision.sha256
    assert ConversationEvent.objects.filter(
        conversation__thread_key="c1", kind=EventKind.MODERATED
    ).exists()


def test_it_only_queues_what_the_platform_cannot_hide(department, hide_insults):
    mastodon = factories.make_mastodon_channel(department=department)  # no hiding on Mastodon

    ingest(mastodon, [comment("c1", INSULT)])

    case = ModerationCase.objects.get(message=message("c1"))
    assert case.auto_action == ""
    assert any("could not hide" in why for r in case.reasons for why in r["why"])
    assert not OutboundAction.objects.exists()


def test_a_banned_person_is_hidden_on_arrival_on_every_channel(department, facebook):
    instagram = make_channel(Platform.INSTAGRAM, department=department, name="Instagram")
    person = Person.objects.create(display_name="Troll", banned=True)
    for platform in (Platform.FACEBOOK, Platform.INSTAGRAM):
        Contact.objects.create(platform=platform, external_id="troll", person=person)

    ingest(facebook, [comment("f1", "Nice weather today", author="troll")])
    ingest(instagram, [comment("i1", "Hello again", author="troll")])

    for external_id in ("f1", "i1"):
        hide = OutboundAction.objects.get(target_message=message(external_id))
        assert hide.kind == OutboundKind.HIDE
        case = ModerationCase.objects.get(message=message(external_id))
        assert case.reasons[0]["rule"] == "Author banned"


def test_an_allow_listed_author_is_never_removed_automatically(facebook, hide_insults):
    person = Person.objects.create(display_name="Regular")
    Contact.objects.create(platform=Platform.FACEBOOK, external_id="regular", person=person)
    PersonListing.objects.create(person=person, kind=ListKind.ALLOW)

    ingest(facebook, [comment("c1", INSULT, author="regular")])

    assert not OutboundAction.objects.exists()
    case = ModerationCase.objects.get(message=message("c1"))
    assert case.auto_action == ""
    assert any("allow-listed" in why for why in case.reasons[0]["why"])


def test_a_suggest_only_rule_suggests_and_does_nothing(facebook):
    rule("Maybe hide", {"toxicity_min": 0.6}, {"hide": True}, suggest_only=True)

    ingest(facebook, [comment("c1", INSULT)])

    assert not OutboundAction.objects.exists()
    case = ModerationCase.objects.get(message=message("c1"))
    assert case.reasons[0]["suggest_only"] is True
    assert ModerationDecision.objects.get().action == DecisionAction.SUGGEST


def test_rule_actions_change_the_conversation(facebook, lead, agent):
    billing = factories.make_department("Billing")
    billing.channel_accounts.add(facebook)
    rule(
        "Legal",
        {"keywords_any": ["anwalt"]},
        {
            "tags": ["legal"],
            "priority": int(Priority.URGENT),
            "department_id": billing.pk,
            "require_approval": True,
            "notify_user_ids": [agent.pk],
        },
    )

    ingest(facebook, [comment("c1", "Ich schalte jetzt meinen Anwalt ein.")])

    conversation = Conversation.objects.get(thread_key="c1")
    assert conversation.priority == Priority.URGENT
    assert conversation.department_id == billing.pk
    assert conversation.requires_approval is True
    assert [tag.name for tag in conversation.tags.all()] == ["legal"]
    assert Notification.objects.filter(user=agent, conversation=conversation).exists()
    assert reply_needs_approval(agent, conversation)


def test_a_rule_changes_an_existing_conversation_too(facebook):
    ingest(facebook, [comment("c1", "Hallo, eine Frage zur Rechnung")])
    rule("Legal", {"keywords_any": ["anwalt"]}, {"priority": int(Priority.URGENT)})

    reply = comment("c2", "Dann eben mein Anwalt.", minutes=5)
    reply = InboundItem(**{**reply.__dict__, "thread_key": "c1", "parent_external_id": "c1"})
    ingest(facebook, [reply])

    assert Conversation.objects.get(thread_key="c1").priority == Priority.URGENT


def test_it_queues_an_auto_reply_that_storm_mode_pauses(facebook):
    saved = SavedReply.objects.create(title="Guidelines", shortcut="guidelines")
    SavedReplyVariant.objects.create(
        saved_reply=saved, language="de", text="Hallo {author}, bitte bleib freundlich."
    )
    rule("Friendly reminder", {"toxicity_min": 0.6}, {"auto_reply_saved_reply_id": saved.pk})

    ingest(facebook, [comment("c1", INSULT)])

    reply = OutboundAction.objects.get(kind=OutboundKind.REPLY)
    assert reply.text == "Hallo User u1, bitte bleib freundlich."
    assert reply.author_id is None

    Incident.objects.create(
        channel_account=facebook,
        title="Storm",
        status=IncidentStatus.OPEN,
        storm_mode=True,
        opened_at=T0,
    )
    ingest(facebook, [comment("c2", INSULT, author="u2", minutes=1)])

    assert OutboundAction.objects.filter(kind=OutboundKind.REPLY).count() == 1


def test_storm_mode_makes_thresholds_stricter(facebook):
    from inbox.team_config import forget_team_config
    from moderation.rules import STORM_THRESHOLD_FACTOR

    spam = "Check my profile www.spam.example"
    ingest(facebook, [comment("c1", spam)])
    classification = Classification.from_scores(message("c1").classifier_scores)
    assert classification is not None
    # A threshold just above this item's spam score, within reach of storm mode's factor.
    threshold = round(classification.spam / ((1 + STORM_THRESHOLD_FACTOR) / 2), 3)
    assert classification.spam < threshold <= 1.0
    rule("Strict", {"spam_min": threshold}, {"queue": True})
    forget_team_config()

    ingest(facebook, [comment("c2", spam, author="u2", minutes=1)])
    assert not ModerationCase.objects.exists()

    Incident.objects.create(channel_account=facebook, title="Storm", storm_mode=True, opened_at=T0)
    ingest(facebook, [comment("c3", spam, author="u3", minutes=2)])

    assert ModerationCase.objects.filter(message=message("c3")).exists()


def test_a_failing_classifier_loses_no_item(facebook, settings):
    settings.MODERATION_CLASSIFIER = "tests.moderation.test_pipeline.BrokenClassifier"
    from moderation.classifiers import base

    base._load.cache_clear()
    try:
        ingest(facebook, [comment("c1", INSULT), comment("c2", CRITICISM)])
    finally:
        base._load.cache_clear()

    assert Message.objects.count() == 2


class BrokenClassifier:
    name = "broken"

    def classify(self, text: str, *, language_hint: str = "") -> Classification:
        raise RuntimeError("model not loaded")


def test_moderation_costs_a_fixed_number_of_queries_per_page(facebook, hide_insults):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's bulk inserts are split by its variable limit")
    rule("Spam", {"spam_min": 0.5}, {"queue": True, "tags": ["spam"]})

    def page(prefix: str, n: int) -> list[InboundItem]:
        return [
            comment(
                f"{prefix}{i}",
                INSULT if i % 2 else "Check my profile www.spam.example",
                author=f"{prefix}a{i}",
                minutes=i,
            )
            for i in range(n)
        ]

    ingest(facebook, page("w", 1))  # the rules, policies and guidelines are read once, cached
    with CaptureQueriesContext(connection) as small:
        ingest(facebook, page("s", 4))
    with CaptureQueriesContext(connection) as large:
        ingest(facebook, page("l", 40))

    assert ModerationCase.objects.count() > 20
    assert len(large.captured_queries) == len(small.captured_queries)
