"""Routing rules on new conversations: each condition kind, order and stop_processing, keywords
(whole words, case and umlauts folded), author facts, and what rules set, recorded and told."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from channels_integrations.models import ChannelAccount, Platform
from inbox.ingest import bulk_insert, ingest_page
from inbox.models import (
    AssignmentStrategy,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Notification,
    Person,
    Priority,
    RoutingRule,
    Stance,
    Tag,
)
from inbox.routing import (
    RoutingPlan,
    RuleBook,
    fold,
    keyword_pattern,
    person_facts,
    route_new_conversations,
)
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
_keys = itertools.count(1)


@pytest.fixture
def brand(department: Any) -> ChannelAccount:
    return factories.make_mastodon_channel(department=department, name="Brand DE")


@pytest.fixture
def shop(other_department: Any) -> ChannelAccount:
    """A channel of another department, on another platform."""
    channel = factories.make_mastodon_channel(department=other_department, name="Shop page")
    ChannelAccount.objects.filter(pk=channel.pk).update(platform=Platform.FACEBOOK)
    channel.refresh_from_db()
    return channel


def a_person(name: str = "Jana", **fields: Any) -> Contact:
    person = Person.objects.create(display_name=name, **fields)
    return Contact.objects.create(
        platform="mastodon", scope="test", external_id=f"acct-{next(_keys)}", person=person
    )


def arrival(channel: ChannelAccount, *, contact: Contact | None = None, **fields: Any) -> Any:
    """A new conversation as ingest builds it: in memory, not yet inserted."""
    return Conversation(
        channel_account_id=channel.pk,
        kind=fields.pop("kind", "mention"),
        thread_key=fields.pop("thread_key", f"thread-{next(_keys)}"),
        contact_id=contact.pk if contact is not None else None,
        status=fields.pop("status", ConversationStatus.NEW),
        last_message_at=T0,
        **fields,
    )


def rule(name: str, position: int = 0, **fields: Any) -> RoutingRule:
    channels = fields.pop("channels", [])
    tags = fields.pop("tags", [])
    created = RoutingRule.objects.create(name=name, position=position, **fields)
    created.channel_accounts.set(channels)
    created.add_tags.set([Tag.objects.get_or_create(name=tag)[0] for tag in tags])
    return created


def route(conversations: list[Any], texts: dict[str, str] | None = None) -> RoutingPlan:
    book = RuleBook.load()
    contacts = [c.contact_id for c in conversations if c.contact_id is not None]
    return book.route(conversations, texts or {}, person_facts(contacts))


def insert(plan: RoutingPlan) -> list[ConversationEvent]:
    """What ingest does after routing: insert the conversations, then the plan's events."""
    bulk_insert([entry.conversation for entry in plan.routed])
    events = plan.after_insert()
    ConversationEvent.objects.bulk_create(events)
    return events


def matched(conversation: Any, texts: dict[str, str] | None = None) -> list[str]:
    [entry] = route([conversation], texts).routed
    return entry.rules


# Conditions.


def test_it_matches_by_channel(brand, shop):
    rule("Brand only", channels=[brand])
    assert matched(arrival(brand)) == ["Brand only"]
    assert matched(arrival(shop)) == []


def test_it_matches_by_platform(brand, shop):
    rule("Facebook", platforms=["facebook"])
    assert matched(arrival(shop)) == ["Facebook"]
    assert matched(arrival(brand)) == []


def test_it_matches_by_kind(brand):
    rule("Direct messages", kinds=["private_message", "email"])
    assert matched(arrival(brand, kind="private_message")) == ["Direct messages"]
    assert matched(arrival(brand, kind="comment")) == []


def test_it_matches_by_language_ignoring_region_and_case(brand):
    rule("German", languages=["de"])
    assert matched(arrival(brand, language="de")) == ["German"]
    assert matched(arrival(brand, language="de-AT")) == ["German"]
    assert matched(arrival(brand, language="DE")) == ["German"]
    assert matched(arrival(brand, language="en")) == []
    assert matched(arrival(brand, language="")) == []


def test_every_condition_of_a_rule_must_hold(brand):
    rule("German complaints", languages=["de"], keywords="Beschwerde")
    german = arrival(brand, language="de")
    english = arrival(brand, language="en")
    texts = {german.thread_key: "Eine Beschwerde!", english.thread_key: "Beschwerde"}
    plan = route([german, english], texts)
    assert [entry.rules for entry in plan.routed] == [["German complaints"], []]


def test_a_rule_without_conditions_matches_everything(brand, shop):
    rule("Catch-all", set_priority=Priority.LOW)
    assert matched(arrival(brand)) == ["Catch-all"]
    assert matched(arrival(shop, kind="email")) == ["Catch-all"]


def test_a_disabled_rule_is_not_run(brand):
    rule("Off", enabled=False)
    assert matched(arrival(brand)) == []


# Keywords.


@pytest.mark.parametrize(
    ("keywords", "text", "matches"),
    [
        ("Kündigung", "Ich will die KÜNDIGUNG!", True),
        ("Kündigung", "hiermit meine kuendigung", True),
        ("kuendigung", "Meine Kündigung bitte bestätigen", True),
        ("Straße", "Falsche STRASSE angegeben", True),
        ("strasse", "Die Straße stimmt nicht", True),
        ("café", "Im Cafe war es kalt", True),
        # Whole words: not inside a longer word, not another form of the verb.
        ("kündigen", "Der Vertrag ist unkündbar", False),
        ("kündigen", "Ich habe gekündigt", False),
        ("kündigen", "Ich will kündigen.", True),
        ("Storno", "Stornogebühren sind zu hoch", False),
        # A * at either end matches the rest of the word.
        ("kündig*", "Wo ist meine Kündigungsbestätigung?", True),
        ("kündig*", "Der Vertrag ist unkündbar", False),
        ("*kündigung", "Die Vertragskündigung ging raus", True),
        # Phrases: any spacing between their words; any line of the list.
        ("nicht zufrieden", "Ich bin NICHT\n  zufrieden!", True),
        ("nicht zufrieden", "nicht sehr zufrieden", False),
        ("refund\nKündigung\n\n", "I want a refund now", True),
        ("", "anything", True),
        ("c++", "Ich mag c++ sehr", True),
    ],
)
def test_keywords_match_whole_words_ignoring_case_and_umlauts(brand, keywords, text, matches):
    rule("Keywords", keywords=keywords)
    conversation = arrival(brand)
    assert bool(matched(conversation, {conversation.thread_key: text})) is matches


def test_keywords_are_compiled_once_per_load(brand):
    rule("Cancellation", keywords="Kündigung\nkündig*")
    book = RuleBook.load()
    pattern = book.rules[0].keywords
    assert pattern is not None
    assert pattern.search(fold("Meine KÜNDIGUNG")) is not None
    assert keyword_pattern("  \n\n") is None


def test_a_conversation_without_a_first_text_matches_no_keyword_rule(brand):
    rule("Keywords", keywords="refund")
    assert matched(arrival(brand)) == []


# Author conditions.


def test_it_matches_vip_authors(brand):
    rule("VIP", author="vip")
    assert matched(arrival(brand, contact=a_person(vip=True))) == ["VIP"]
    assert matched(arrival(brand, contact=a_person())) == []
    assert matched(arrival(brand)) == []  # no known author


def test_it_matches_known_critics(brand):
    rule("Critics", author="critic")
    assert matched(arrival(brand, contact=a_person(stance=Stance.CRITIC))) == ["Critics"]
    assert matched(arrival(brand, contact=a_person(stance=Stance.SKEPTIC))) == []


def test_first_time_means_the_person_never_wrote_before_even_from_another_identity(brand):
    rule("Welcome", author="first_time")
    newcomer = a_person("Neu")
    regular = a_person("Stamm")
    factories.make_conversation(brand)  # someone else's earlier conversation does not count
    # The regular wrote before from another identity of the same person.
    other_identity = Contact.objects.create(
        platform="mastodon", scope="test", external_id="old-acct", person=regular.person
    )
    Conversation.objects.create(
        channel_account=brand, kind="mention", thread_key="old", contact=other_identity,
        last_message_at=T0 - timedelta(days=30),
    )  # fmt: skip
    assert matched(arrival(brand, contact=newcomer)) == ["Welcome"]
    assert matched(arrival(brand, contact=regular)) == []


def test_of_two_new_conversations_of_one_person_only_the_first_is_a_first_time(brand):
    rule("Welcome", author="first_time")
    newcomer = a_person("Neu")
    plan = route([arrival(brand, contact=newcomer), arrival(brand, contact=newcomer)])
    assert [entry.rules for entry in plan.routed] == [["Welcome"], []]


def test_person_facts_are_read_in_one_query(brand):
    contacts = [a_person(vip=True), a_person(stance=Stance.CRITIC), a_person()]
    with CaptureQueriesContext(connection) as queries:
        facts = person_facts(c.pk for c in contacts)
    assert len(queries) == 1
    assert [(facts[c.pk].vip, facts[c.pk].critic) for c in contacts] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert all(facts[c.pk].first_time for c in contacts)


# Order and stop_processing.


def test_rules_run_in_position_order_and_a_later_match_overrides(brand):
    rule("Second", position=2, stop_processing=False, set_priority=Priority.URGENT)
    rule("First", position=1, stop_processing=False, set_priority=Priority.HIGH, tags=["a"])
    conversation = arrival(brand)
    [entry] = route([conversation]).routed
    assert entry.rules == ["First", "Second"]
    assert conversation.priority == Priority.URGENT
    assert sorted(entry.tags.values()) == ["a"]


def test_a_matching_rule_with_stop_processing_ends_the_run(brand):
    rule("Tag everything", position=1, stop_processing=False, tags=["seen"])
    rule("Stop here", position=2, stop_processing=True, set_priority=Priority.HIGH)
    rule("Never reached", position=3, set_priority=Priority.LOW, tags=["late"])
    conversation = arrival(brand)
    [entry] = route([conversation]).routed
    assert entry.rules == ["Tag everything", "Stop here"]
    assert conversation.priority == Priority.HIGH
    assert sorted(entry.tags.values()) == ["seen"]


def test_a_stop_rule_that_does_not_match_does_not_stop(brand):
    rule("VIP stop", position=1, stop_processing=True, author="vip")
    rule("Everyone", position=2, set_priority=Priority.LOW)
    conversation = arrival(brand, contact=a_person())
    assert matched(conversation) == ["Everyone"]


# What rules set.


def test_a_rule_sets_department_assignee_priority_and_tags_and_records_it(
    brand, department, agent, live_events
):
    rule(
        "Cancellations",
        keywords="kündigung",
        set_department=department,
        set_assignee=agent,
        set_priority=Priority.URGENT,
        tags=["cancellation", "churn"],
    )
    conversation = arrival(brand)
    plan = route([conversation], {conversation.thread_key: "Meine Kündigung"})
    assert conversation.department == department and conversation.assignee == agent
    assert conversation.priority == Priority.URGENT
    events = insert(plan)

    saved = Conversation.objects.get(pk=conversation.pk)
    assert (saved.department_id, saved.assignee_id, saved.priority) == (
        department.pk,
        agent.pk,
        Priority.URGENT,
    )
    assert sorted(saved.tags.values_list("name", flat=True)) == ["cancellation", "churn"]
    routed, assigned = events
    assert routed.kind == EventKind.ROUTED and routed.actor_id is None
    assert routed.data == {
        "rules": ["Cancellations"],
        "department": department.pk,
        "department_name": "Community",
        "assignee": agent.pk,
        "assignee_name": "kim",
        "priority": Priority.URGENT,
        "tags": ["cancellation", "churn"],
    }
    assert assigned.kind == EventKind.ASSIGNED and assigned.actor_id is None
    assert assigned.data == {
        "before": {"assignee": None, "department": None},
        "after": {"assignee": agent.pk, "department": department.pk},
        "assignee_name": "kim",
        "department_name": "Community",
        "reason": "rule Cancellations",
    }
    notification = Notification.objects.get(user=agent)
    assert notification.kind == "assigned" and notification.actor is None
    assert notification.conversation_id == conversation.pk


def test_an_assignee_who_cannot_act_on_the_channel_is_skipped_and_why_is_recorded(
    brand, observer, outsider
):
    rule("To the observer", position=1, stop_processing=False, set_assignee=observer)
    rule("To the outsider", position=2, set_assignee=outsider, set_priority=Priority.HIGH)
    conversation = arrival(brand)
    plan = route([conversation])
    assert conversation.assignee_id is None
    assert conversation.priority == Priority.HIGH  # the rest of the rule still applies
    [routed] = insert(plan)
    assert routed.data["skipped"] == [
        "assignee Oli Observer: cannot act on this channel (rule To the observer)",
        "assignee sam: cannot act on this channel (rule To the outsider)",
    ]
    assert "assignee" not in routed.data
    assert not Notification.objects.exists()


def test_an_inactive_assignee_is_skipped(brand, agent):
    agent.is_active = False
    agent.save()
    rule("To Kim", set_assignee=agent)
    conversation = arrival(brand)
    route([conversation])
    assert conversation.assignee_id is None


def test_an_admin_can_be_assigned_any_channel(brand, admin_user):
    rule("To the admin", set_assignee=admin_user)
    conversation = arrival(brand)
    route([conversation])
    assert conversation.assignee == admin_user


def test_a_department_that_does_not_own_the_channel_is_not_set(brand, other_department):
    rule("To Sales", set_department=other_department)
    conversation = arrival(brand)
    plan = route([conversation])
    assert conversation.department_id is None
    [routed] = insert(plan)
    assert routed.data["skipped"] == [
        "department Sales: it does not own this channel (rule To Sales)"
    ]


def test_an_ignored_conversation_is_routed_but_not_assigned(brand, agent):
    rule("To Kim", set_assignee=agent, tags=["blocked person"])
    conversation = arrival(brand, status=ConversationStatus.IGNORED)
    plan = route([conversation])
    assert conversation.assignee_id is None
    insert(plan)
    assert list(conversation.tags.values_list("name", flat=True)) == ["blocked person"]


def test_routing_a_page_takes_a_fixed_number_of_queries(brand, department, agent, lead):
    def queries_for(conversations: int) -> int:
        items = [arrival(brand, contact=a_person()) for _ in range(conversations)]
        with CaptureQueriesContext(connection) as captured:
            route(items, {c.thread_key: "kündigung" for c in items})
        return len(captured)

    rule("VIP", position=1, author="vip", set_assignee=lead, stop_processing=False)
    rule("Cancel", position=2, keywords="kündigung", set_department=department, tags=["x"])
    rule("Facebook", position=3, platforms=["facebook"], set_assignee=agent)
    assert queries_for(2) == queries_for(40)


# Routing and auto-assignment together, as ingest calls them.


def test_a_department_set_by_a_rule_hands_the_conversation_out_round_robin(
    brand, department, agent, lead
):
    department.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    department.save()
    rule("Community", set_department=department)
    first, second = arrival(brand), arrival(brand)
    with transaction.atomic():
        plan = route_new_conversations([first, second], first_texts={}, now=T0)
        events = insert(plan)
    assert {first.assignee, second.assignee} == {agent, lead}
    reasons = [event.data["reason"] for event in events if event.kind == EventKind.ASSIGNED]
    assert reasons == ["round-robin", "round-robin"]
    assert Notification.objects.filter(kind="assigned").count() == 2


def test_a_rule_assignee_is_not_replaced_by_auto_assignment(brand, department, agent, lead):
    department.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    department.save()
    rule("To Kim", set_department=department, set_assignee=agent)
    conversations = [arrival(brand) for _ in range(3)]
    with transaction.atomic():
        plan = route_new_conversations(conversations, first_texts={}, now=T0)
    assert [c.assignee for c in conversations] == [agent, agent, agent]
    assert {entry.assign_reason for entry in plan.routed} == {"rule To Kim"}


# End to end through ingest (wired by the lead).


def test_ingest_routes_new_conversations_and_hands_them_out(brand, department, agent):
    department.assignment_strategy = AssignmentStrategy.ROUND_ROBIN
    department.save()
    rule("Cancellations", keywords="kündigung", set_priority=Priority.URGENT, tags=["churn"])
    brand.refresh_from_db()
    ingest_page(
        channel_account_id=brand.pk,
        expected_cursor=brand.cursor,
        page=FetchedPage(
            items=[
                InboundItem(
                    external_id="s1",
                    thread_key="s1",
                    kind="mention",
                    author=InboundAuthor(external_id="u1", display_name="Jana"),
                    text="Ich möchte meine KUENDIGUNG einreichen",
                    created_at=T0,
                ),
                InboundItem(
                    external_id="s2",
                    thread_key="s2",
                    kind="mention",
                    author=InboundAuthor(external_id="u2", display_name="Lea"),
                    text="Tolles Produkt!",
                    created_at=T0 + timedelta(minutes=1),
                ),
            ],
            cursor={"since_id": "s2"},
            caught_up=True,
        ),
    )
    cancellation = Conversation.objects.get(thread_key="s1")
    praise = Conversation.objects.get(thread_key="s2")
    assert cancellation.priority == Priority.URGENT and praise.priority == Priority.NORMAL
    assert list(cancellation.tags.values_list("name", flat=True)) == ["churn"]
    assert ConversationEvent.objects.get(conversation=cancellation, kind=EventKind.ROUTED).data[
        "rules"
    ] == ["Cancellations"]
    # The only acting member of the round-robin department gets both, unrouted or not.
    assert cancellation.assignee == agent and praise.assignee == agent
    assert cancellation.department == department
