"""Ingest semantics shared by every platform: threads under posts, edits, platform states, our own
replies seen again, and a fixed number of queries per page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem, ItemUpdate
from inbox.actions import queue_reply
from inbox.ingest import ingest_page
from inbox.models import (
    Conversation,
    ConversationEvent,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundState,
    PlatformState,
)
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PAGE_AUTHOR = InboundAuthor(external_id="page-1", handle="brand", display_name="Brand")


def comment(
    external_id: str,
    text: str,
    *,
    thread: str | None = None,
    parent: str = "",
    post: str = "post-1",
    author: str = "u1",
    minutes: int = 0,
    **fields: Any,
) -> InboundItem:
    return InboundItem(
        external_id=external_id,
        thread_key=thread or external_id,
        kind="comment",
        author=fields.pop("by", InboundAuthor(external_id=author, display_name=f"User {author}")),
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        parent_external_id=parent,
        post_external_id=post,
        post_text="Our new winter collection is here",
        post_permalink="https://www.facebook.com/brand/posts/1",
        **fields,
    )


def ingest(channel: Any, items: list[InboundItem], updates: list[ItemUpdate] | None = None) -> Any:
    channel.refresh_from_db()
    return ingest_page(
        channel_account_id=channel.pk,
        expected_cursor=channel.cursor,
        page=FetchedPage(
            items=items, cursor=dict(channel.cursor), caught_up=True, updates=updates or []
        ),
    )


@pytest.fixture
def feed(department: Any) -> Any:
    return factories.make_mastodon_channel(department=department, name="Brand page")


def test_it_groups_each_top_level_comment_with_its_replies_under_the_post(feed):
    ingest(
        feed,
        [
            comment("c1", "Is the jacket waterproof?"),
            comment(
                "r1", "Good question, same here", thread="c1", parent="c1", author="u2", minutes=1
            ),
            comment("c2", "Love the colours!", author="u3", minutes=2),
        ],
    )

    first, second = Conversation.objects.order_by("id")
    assert (first.thread_key, first.message_count) == ("c1", 2)
    assert (second.thread_key, second.message_count) == ("c2", 1)
    assert {first.post_external_id, second.post_external_id} == {"post-1"}
    assert first.post_text == "Our new winter collection is here"
    reply = Message.objects.get(external_id="r1")
    assert reply.conversation == first and reply.parent_external_id == "c1"


def test_a_reply_to_a_known_message_joins_its_conversation_in_a_later_page(feed):
    ingest(feed, [comment("c1", "Where is my order?")])
    ingest(feed, [comment("r9", "Still waiting…", thread="c1", parent="c1", minutes=30)])

    conversation = Conversation.objects.get()
    assert conversation.message_count == 2
    assert conversation.last_message_preview == "Still waiting…"


def test_an_edit_keeps_the_earlier_text_in_the_history(feed):
    ingest(feed, [comment("c1", "You are idiots")])
    edited_at = T0 + timedelta(minutes=5)
    result = ingest(feed, [comment("c1", "You could do better", edited_at=edited_at)])

    message = Message.objects.get(external_id="c1")
    assert result.new_messages == 0 and result.updated_messages == 1
    assert message.text == "You could do better"
    assert message.edited_at == edited_at
    assert [entry["text"] for entry in message.edit_history] == ["You are idiots"]
    assert ConversationEvent.objects.filter(kind=EventKind.MESSAGE_EDITED).count() == 1


def test_an_item_deleted_by_its_author_stays_readable_and_is_marked(feed):
    ingest(feed, [comment("c1", "Meine Kundennummer ist 4711")])
    ingest(feed, [], updates=[ItemUpdate(external_id="c1", state=PlatformState.DELETED)])

    message = Message.objects.get(external_id="c1")
    assert message.platform_state == PlatformState.DELETED
    assert message.text == "Meine Kundennummer ist 4711"
    assert message.platform_state_changed_at is not None
    event = ConversationEvent.objects.get(kind=EventKind.MESSAGE_STATE_CHANGED)
    assert event.data["before"] == "visible" and event.data["after"] == "deleted"


def test_the_same_page_twice_changes_nothing(feed):
    page = [comment("c1", "Hallo"), comment("c2", "Hi", author="u2")]
    ingest(feed, page)
    counts = (Message.objects.count(), ConversationEvent.objects.count())
    result = ingest(feed, page)
    assert result.new_messages == 0 and result.updated_messages == 0
    assert (Message.objects.count(), ConversationEvent.objects.count()) == counts


def test_items_arrive_hidden_or_held_as_the_platform_reports(feed):
    ingest(feed, [comment("c1", "Buy followers cheap", state=PlatformState.HELD)])
    assert Message.objects.get().platform_state == PlatformState.HELD


def test_our_reply_seen_by_polling_completes_its_outbox_row_instead_of_a_second_message(
    feed, agent
):
    ingest(feed, [comment("c1", "Wann kommt meine Bestellung?")])
    conversation = Conversation.objects.get()
    action = queue_reply(user=agent, conversation=conversation, text="Morgen, versprochen!")
    # The delivery timed out after the platform took it.
    OutboundAction.objects.filter(pk=action.pk).update(
        state=OutboundState.QUEUED, outcome_unknown=True, attempts=1
    )

    result = ingest(
        feed,
        [
            comment(
                "c1_r1",
                "Morgen, versprochen!",
                thread="c1",
                parent="c1",
                by=PAGE_AUTHOR,
                from_self=True,
                minutes=2,
            )
        ],
    )

    action.refresh_from_db()
    assert result.reconciled_replies == 1 and result.new_messages == 0
    assert action.state == OutboundState.SENT and action.result_external_id == "c1_r1"
    assert not action.outcome_unknown
    outbound = Message.objects.get(direction=Direction.OUTBOUND)
    assert outbound.external_id == "c1_r1"
    assert Message.objects.count() == 2
    assert ConversationEvent.objects.filter(kind=EventKind.REPLY_RECONCILED).exists()


def test_a_reply_posted_directly_on_the_platform_is_shown_as_ours(feed):
    ingest(feed, [comment("c1", "Is the shop open on Sunday?")])
    ingest(
        feed,
        [comment("c1_r1", "No, sorry!", thread="c1", parent="c1", by=PAGE_AUTHOR, from_self=True)],
    )
    message = Message.objects.get(external_id="c1_r1")
    assert message.direction == Direction.OUTBOUND and message.author is None
    assert message.contact is None


def test_attachment_urls_that_are_not_http_are_dropped(feed):
    ingest(
        feed,
        [
            comment(
                "c1",
                "see photo",
                attachments=(
                    {"name": "photo.jpg", "url": "https://cdn.example/p.jpg", "type": "image"},
                    {"name": "evil", "url": "javascript:alert(1)", "type": "image"},
                ),
            )
        ],
    )
    attachments = Message.objects.get().attachments
    assert attachments[0]["url"] == "https://cdn.example/p.jpg"
    assert attachments[1]["url"] == ""


def test_a_page_costs_a_fixed_number_of_queries(feed):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite (the embedded mode) splits bulk inserts by its variable limit")

    def page(start: int, size: int) -> list[InboundItem]:
        return [
            comment(f"c{n}", f"comment {n}", author=f"u{n}", minutes=n)
            for n in range(start, start + size)
        ]

    with CaptureQueriesContext(connection) as small:
        ingest(feed, page(0, 5))
    with CaptureQueriesContext(connection) as large:
        ingest(feed, page(100, 100))
    assert len(large.captured_queries) <= len(small.captured_queries) + 2
    assert Message.objects.count() == 105


def test_a_queued_reply_is_not_taken_for_a_reply_typed_on_the_platform(feed, agent):
    ingest(feed, [comment("c1", "Habt ihr offen?")])
    action = queue_reply(user=agent, conversation=Conversation.objects.get(), text="Ja, bis 18 Uhr")
    ingest(
        feed,
        [
            comment(
                "c1_r1", "Ja, bis 18 Uhr", thread="c1", parent="c1", by=PAGE_AUTHOR, from_self=True
            )
        ],
    )
    action.refresh_from_db()
    assert action.state == OutboundState.QUEUED  # still ours to send: it cannot be out yet
    assert Message.objects.get(external_id="c1_r1").author is None


def test_ids_longer_than_the_columns_are_kept_distinct(feed):
    long_a, long_b = "a" * 250 + "1", "a" * 250 + "2"
    ingest(feed, [comment(long_a, "first"), comment(long_b, "second", author="u2")])
    ingest(feed, [comment(long_a, "first")])  # the same item again: still known
    assert Message.objects.count() == 2
    assert all(len(m.external_id) <= 200 for m in Message.objects.all())


def test_a_blocked_persons_new_conversations_arrive_ignored_and_nothing_is_lost(feed):
    ingest(feed, [comment("c1", "first")])
    person = Conversation.objects.get().contact.person
    person.blocked = True
    person.save()
    ingest(feed, [comment("c2", "spam again", minutes=5), comment("c3", "hi", author="u9")])
    statuses = dict(Conversation.objects.values_list("thread_key", "status"))
    assert statuses == {"c1": "new", "c2": "ignored", "c3": "new"}
    assert Message.objects.filter(external_id="c2").exists()


def test_the_list_keys_follow_the_conversation(feed, agent):
    ingest(feed, [comment("c1", "Hallo?", language="de")])
    conversation = Conversation.objects.get()
    assert conversation.language == "de"
    assert conversation.waiting_since == T0
    assert conversation.sla_due_at == T0 + timedelta(hours=24)
    ingest(feed, [comment("r1", "Noch da?", thread="c1", parent="c1", minutes=10)])
    conversation.refresh_from_db()
    assert conversation.waiting_since == T0  # waiting since the first unanswered message
    ingest(
        feed,
        [
            comment(
                "r2", "Ja!", thread="c1", parent="c1", minutes=20, by=PAGE_AUTHOR, from_self=True
            )
        ],
    )
    conversation.refresh_from_db()
    assert conversation.waiting_since is None  # answered on the platform itself
