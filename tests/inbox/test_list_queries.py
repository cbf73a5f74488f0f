"""The list and the conversation page cost a fixed number of SQL queries, whatever their size.

An N+1 (a query per row for its channel, contact, assignee or tags, or per message for its author
or outbox row) is invisible with five rows and takes the page past its time budget with fifty;
so each page is loaded small, then with many more rows, and the query counts must be equal.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox.models import (
    ConversationStatus,
    Direction,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    PlatformState,
    Priority,
    Tag,
)
from tests import factories

HTMX = {"HX-Request": "true"}
_sequence = itertools.count(1)


@pytest.fixture
def workspace(department: Any, other_department: Any, agent: Any) -> dict[str, Any]:
    """Two channels of the agent's department, one of another, colleagues and tags."""
    colleague = factories.make_user("robin")
    factories.add_member(colleague, department)
    return {
        "channels": [
            factories.make_mastodon_channel(department=department, name="Mastodon @brand"),
            factories.make_mastodon_channel(department=department, name="Mastodon @support"),
            factories.make_mastodon_channel(department=other_department, name="Mastodon @sales"),
        ],
        "assignees": [None, agent, colleague],
        "tags": [Tag.objects.create(name=name) for name in ("billing", "press", "delivery")],
        "department": department,
    }


def add_conversations(workspace: dict[str, Any], count: int) -> None:
    """`count` conversations spread over channels, statuses, assignees, departments and tags,
    each with its own contact (and person); some end with our answer."""
    statuses = [s for s in ConversationStatus if s != ConversationStatus.SNOOZED]
    for _ in range(count):
        n = next(_sequence)
        channel = workspace["channels"][n % len(workspace["channels"])]
        conversation = factories.make_conversation(
            channel,
            text=f"Wo bleibt meine Lieferung {n}?",
            author=f"Person {n}",
            when=timezone.now() - timedelta(minutes=n),
        )
        conversation.status = statuses[n % len(statuses)]
        conversation.priority = list(Priority)[n % len(Priority)]
        conversation.assignee = workspace["assignees"][n % len(workspace["assignees"])]
        # Routed to the department that owns the channel, or not routed yet.
        conversation.department = None if n % 4 == 0 else channel.departments.first()
        conversation.language = "de" if n % 2 else "en"
        if n % 3 == 0:
            conversation.last_message_direction = Direction.OUTBOUND
        conversation.save()
        if n % 2 == 0:
            conversation.tags.add(*workspace["tags"][: 1 + n % len(workspace["tags"])])


def count_queries(client: Client, url: str, **kwargs: Any) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


def assert_same_count(small: tuple[int, list[str]], large: tuple[int, list[str]]) -> None:
    if small[0] != large[0]:
        listing = "\n".join(large[1])
        pytest.fail(f"{small[0]} queries with few rows, {large[0]} with many:\n{listing}")


def rows_in(client: Client, url: str, **kwargs: Any) -> int:
    return client.get(url, **kwargs).content.decode().count('id="conv-')


@pytest.fixture(params=["agent", "admin_user"])
def viewer(request: pytest.FixtureRequest, workspace: dict[str, Any]) -> tuple[Client, str]:
    """A logged-in browser of an agent of the department, or of an admin, and the list query
    that shows everything they may see (the default queues show only open work)."""
    client = Client()
    client.force_login(request.getfixturevalue(request.param))
    if request.param == "admin_user":
        return client, "queue=all&status=any"
    return client, f"queue=department-{workspace['department'].pk}&status=any"


@pytest.mark.parametrize("fragment", [False, True], ids=["page", "rows fragment"])
def test_it_lists_five_or_fifty_conversations_with_the_same_queries(
    viewer: tuple[Client, str], workspace: dict[str, Any], fragment: bool
) -> None:
    client, everything = viewer
    url = reverse("inbox:list") + "?" + everything + ("&partial=rows" if fragment else "")
    default_url = reverse("inbox:list") + ("?partial=rows" if fragment else "")
    headers = HTMX if fragment else {}
    add_conversations(workspace, 5)
    client.get(url, headers=headers)  # the first visit may set up session and preferences
    small = count_queries(client, url, headers=headers)
    small_default = count_queries(client, default_url, headers=headers)

    add_conversations(workspace, 60)
    large = count_queries(client, url, headers=headers)
    large_default = count_queries(client, default_url, headers=headers)

    assert rows_in(client, url, headers=headers) > 30  # a full page, not five rows again
    assert_same_count(small, large)
    assert_same_count(small_default, large_default)


def test_it_loads_a_deeper_page_with_the_same_queries_as_the_first(
    viewer: tuple[Client, str], workspace: dict[str, Any]
) -> None:
    client, everything = viewer
    add_conversations(workspace, 130)
    first_url = reverse("inbox:list") + "?partial=rows&" + everything
    client.get(first_url, headers=HTMX)
    first = count_queries(client, first_url, headers=HTMX)
    html = client.get(first_url, headers=HTMX).content.decode()
    more = _load_more_url(html)
    assert more, "the first page links to the next one"

    deeper = count_queries(client, more, headers=HTMX)

    assert_same_count(first, deeper)


def _load_more_url(html: str) -> str:
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        url = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if "load-more" in (values.get("class") or "").split():
                self.url = values.get("hx-get") or ""

    parser = Parser(convert_charrefs=True)
    parser.feed(html)
    return parser.url


def add_messages(conversation: Any, count: int, agents: list[Any]) -> None:
    """Inbound and outbound messages: replies by agents with their outbox rows, a hidden one
    with a hide action, one with attachments."""
    contact = conversation.contact
    start = conversation.last_message_at
    for _ in range(count):
        n = next(_sequence)
        when = start + timedelta(minutes=n)
        if n % 2:
            message = Message.objects.create(
                conversation=conversation,
                channel_account=conversation.channel_account,
                external_id=f"in{n}",
                direction=Direction.INBOUND,
                contact=contact,
                text=f"Meine Rechnung {n} stimmt nicht",
                sent_at=when,
                attachments=[{"type": "image", "url": "https://cdn.example/1.jpg"}]
                if n % 5 == 0
                else [],
                platform_state=PlatformState.HIDDEN if n % 7 == 0 else PlatformState.VISIBLE,
            )
            if n % 7 == 0:
                OutboundAction.objects.create(
                    conversation=conversation,
                    kind=OutboundKind.HIDE,
                    target_message=message,
                    target_external_id=message.external_id or "",
                    state=OutboundState.SENT,
                    sent_at=when,
                    author=agents[n % len(agents)],
                )
        else:
            author = agents[n % len(agents)]
            message = Message.objects.create(
                conversation=conversation,
                channel_account=conversation.channel_account,
                external_id=f"out{n}",
                direction=Direction.OUTBOUND,
                author=author,
                text=f"Wir kümmern uns darum ({n}).",
                sent_at=when,
            )
            OutboundAction.objects.create(
                conversation=conversation,
                message=message,
                kind=OutboundKind.REPLY,
                target_external_id=f"in{n - 1}",
                text=message.text,
                state=OutboundState.SENT,
                sent_at=when,
                result_external_id=message.external_id or "",
                author=author,
            )
    conversation.message_count = conversation.messages.count()
    conversation.save()


def test_it_shows_a_conversation_of_two_or_forty_messages_with_the_same_queries(
    viewer: tuple[Client, str], workspace: dict[str, Any], agent: Any
) -> None:
    client = viewer[0]
    channel = workspace["channels"][0]
    agents = [agent, workspace["assignees"][2]]
    short = factories.make_conversation(channel, text="Hallo")
    add_messages(short, 1, agents)
    long = factories.make_conversation(channel, text="Hallo")
    add_messages(long, 40, agents)
    client.get(reverse("inbox:conversation", args=[short.pk]))

    for headers in ({}, HTMX):
        few = count_queries(client, reverse("inbox:conversation", args=[short.pk]), headers=headers)
        many = count_queries(client, reverse("inbox:conversation", args=[long.pk]), headers=headers)

        assert_same_count(few, many)
