"""The conversation list: queues, filters, full-text search, sort orders, keyset pages, saved
views, counts, and the live facts that let browsers keep lists and counts without asking."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import queries
from inbox.conversation_actions import assign_conversations, change_tags, set_status
from inbox.models import (
    ConversationStatus,
    Message,
    Note,
    SavedView,
)
from tests import factories

pytestmark = pytest.mark.django_db


def ids_in(html: str) -> list[int]:
    """Conversation ids of the list rows, in the order shown."""
    return [int(chunk.split('"', 1)[0]) for chunk in html.split('<li id="conv-')[1:]]


def listed(client, **params) -> list[int]:
    response = client.get(reverse("inbox:list"), params)
    assert response.status_code == 200
    return ids_in(response.content.decode())


def next_url(html: str) -> str:
    marker = 'class="load-more" hx-get="'
    if marker not in html:
        return ""
    return html.split(marker)[1].split('"')[0].replace("&amp;", "&")


@pytest.fixture
def lead(department):
    user = factories.make_user("lena", first_name="Lena", last_name="Lead")
    factories.add_member(user, department, role="lead")
    return user


@pytest.fixture
def brand(department):
    return factories.make_mastodon_channel(department=department, name="Brand DE")


def test_an_agent_has_mine_unassigned_mentions_and_their_departments_but_not_all(
    client, agent, department
):
    client.force_login(agent)
    html = client.get(reverse("inbox:list")).content.decode()
    for key in ("mine", "unassigned", "mentions", f"department-{department.pk}"):
        assert f'data-queue="{key}"' in html
    assert 'data-queue="all"' not in html
    # Asking for "All" anyway shows their own department's work instead, nothing more.
    assert (
        'data-queue="all"'
        not in client.get(reverse("inbox:list"), {"queue": "all"}).content.decode()
    )


def test_a_lead_and_an_admin_also_have_all(client, lead, admin_user):
    for user in (lead, admin_user):
        client.force_login(user)
        assert 'data-queue="all"' in client.get(reverse("inbox:list")).content.decode()


def test_the_queues_hold_what_their_names_say(client, agent, lead, brand, department):
    mine = factories.make_conversation(brand, text="mine")
    assign_conversations(user=lead, conversation_ids=[mine.pk], assignee=agent)
    theirs = factories.make_conversation(brand, text="assigned to the lead")
    assign_conversations(user=lead, conversation_ids=[theirs.pk], assignee=lead)
    free = factories.make_conversation(brand, text="nobody's yet")
    done = factories.make_conversation(brand, text="resolved")
    set_status(user=lead, conversation_ids=[done.pk], status=ConversationStatus.RESOLVED)
    mentioned = factories.make_conversation(brand, text="needs kim's advice")
    note = Note.objects.create(conversation=mentioned, author=lead, text="@kim what do you think?")
    note.mentions.add(agent)

    client.force_login(agent)
    assert listed(client, queue="mine") == [mine.pk]
    assert set(listed(client, queue="unassigned")) == {free.pk, mentioned.pk}
    assert listed(client, queue="mentions") == [mentioned.pk]
    department_queue = set(listed(client, queue=f"department-{department.pk}"))
    assert department_queue == {mine.pk, theirs.pk, free.pk, mentioned.pk}  # open work only
    assert done.pk in listed(client, queue=f"department-{department.pk}", status="any")


def test_all_queue_counts_come_from_one_query(client, agent, lead, brand, department):
    for n in range(3):
        factories.make_conversation(brand, text=f"q{n}")
    SavedView.objects.create(user=agent, name="German", query="language=de")
    workspace = queries.Workspace.for_user(agent)
    queues = workspace.queues(SavedView.objects.filter(user=agent))
    with CaptureQueriesContext(connection) as captured:
        counted = queries.count_queues(agent, workspace, queues)
    assert len(captured) == 1, [q["sql"] for q in captured]
    counts = {queue.key: queue.count for queue in counted}
    assert counts["unassigned"] == 3 and counts["mine"] == 0
    assert counts[f"department-{department.pk}"] == 3


def test_an_outsider_counts_and_lists_nothing_of_another_department(client, outsider, brand):
    factories.make_conversation(brand, text="secret")
    client.force_login(outsider)
    html = client.get(reverse("inbox:list"), {"status": "any"}).content.decode()
    assert "secret" not in html
    workspace = queries.Workspace.for_user(outsider)
    counted = queries.count_queues(outsider, workspace, workspace.queues())
    assert all(queue.count == 0 for queue in counted)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
@pytest.mark.parametrize(
    ("stored", "searched"),
    [
        ("Wo ist meine Rechnung vom März?", "Rechnungen"),
        ("Die Lieferungen kommen immer zu spät", "Lieferung"),
        ("Where are my invoices?", "invoice"),
        ("The delivery was late", "deliveries"),
    ],
)
def test_search_finds_inflected_german_and_english_words(client, agent, brand, stored, searched):
    hit = factories.make_conversation(brand, text=stored)
    factories.make_conversation(brand, text="Ganz etwas anderes / something else")
    client.force_login(agent)
    assert listed(client, q=searched) == [hit.pk]


def test_search_finds_authors_by_name_and_handle(client, agent, brand):
    erika = factories.make_conversation(brand, text="hallo", author="Erika Mustermann")
    factories.make_conversation(brand, text="hallo", author="Max Muster")
    client.force_login(agent)
    assert listed(client, q="Erika") == [erika.pk]
    assert listed(client, q=erika.contact.handle.split("@")[0]) == [erika.pk]


def test_filters_narrow_the_list_and_bad_values_are_reported_not_fatal(
    client, agent, lead, brand, department
):
    other = factories.make_mastodon_channel(department=department, name="Brand AT")
    german = factories.make_conversation(brand, text="Servus", language="de", priority=3)
    english = factories.make_conversation(other, text="Hello", language="en")
    change_tags(user=lead, conversation_ids=[english.pk], add=["Billing"])
    [billing] = english.tags.all()
    client.force_login(agent)

    assert listed(client, channel=other.pk) == [english.pk]
    assert listed(client, language="de") == [german.pk]
    assert listed(client, priority=3) == [german.pk]
    assert listed(client, tag=billing.pk) == [english.pk]
    assert listed(client, platform="facebook") == []
    assert set(listed(client, assignee="none")) == {german.pk, english.pk}
    yesterday = (timezone.now() - timedelta(days=1)).date()
    assert listed(client, until=str(yesterday - timedelta(days=30))) == []

    response = client.get(
        reverse("inbox:list"), {"priority": "9", "since": "not a date", "channel": "x"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="form-errors"' in html
    assert set(ids_in(html)) == {german.pk, english.pk}  # the bad filters are ignored


@pytest.mark.parametrize("sort", ["newest", "waiting", "sla"])
def test_keyset_pages_show_every_conversation_once_in_order_even_with_equal_times(
    client, admin_user, brand, sort
):
    now = timezone.now()
    for n in range(57):
        # Groups of three share a timestamp: the id breaks the tie, like the database does.
        when = now - timedelta(minutes=n // 3)
        sla = None if n % 5 == 0 else now + timedelta(hours=n // 3)
        factories.make_conversation(brand, text=f"q{n}", when=when, sla_due_at=sla)
    queries.PAGE_SIZE, saved = 10, queries.PAGE_SIZE
    try:
        client.force_login(admin_user)
        html = client.get(reverse("inbox:list"), {"queue": "all", "sort": sort}).content.decode()
        seen = ids_in(html)
        url = next_url(html)
        while url:
            assert "after=" in url and "offset" not in url
            html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
            seen += ids_in(html)
            url = next_url(html)
    finally:
        queries.PAGE_SIZE = saved
    assert len(seen) == len(set(seen)) == 57
    from inbox.models import Conversation

    rows = {c.pk: c for c in Conversation.objects.all()}
    order = queries.SORTS[sort]
    expected = sorted(
        rows,
        key=lambda pk: (
            (getattr(rows[pk], order.column) is None) if not order.descending else False,
            getattr(rows[pk], order.column) or now,
            pk,
        ),
        reverse=order.descending,
    )
    assert seen == expected


def test_a_mangled_cursor_shows_the_first_page(client, agent, brand):
    conversation = factories.make_conversation(brand)
    client.force_login(agent)
    assert listed(client, after="garbage_x") == [conversation.pk]


def test_saved_views_belong_to_their_owner_and_list_with_a_count(client, agent, outsider, brand):
    german = factories.make_conversation(brand, text="Servus", language="de")
    factories.make_conversation(brand, text="Hello", language="en")
    client.force_login(agent)
    response = client.post(
        reverse("inbox:save_view"),
        {"name": "German", "query": "language=de&sort=waiting&after=123_4&evil=1"},
    )
    assert response.status_code == 302
    view = SavedView.objects.get(user=agent)
    assert parse_qs(view.query) == {"language": ["de"], "sort": ["waiting"]}
    html = client.get(reverse("inbox:list"), {"queue": f"view-{view.pk}"}).content.decode()
    assert ids_in(html) == [german.pk]
    assert f'data-count-for="view-{view.pk}"' in html and ">German<" in html
    assert client.post(reverse("inbox:save_view"), {"name": "German"}).status_code == 422

    client.force_login(outsider)
    assert f"view-{view.pk}" not in client.get(reverse("inbox:list")).content.decode()
    assert client.post(reverse("inbox:delete_view", args=[view.pk])).status_code == 404
    client.force_login(agent)
    client.post(reverse("inbox:delete_view", args=[view.pk]))
    assert not SavedView.objects.exists()


def test_the_list_keeps_its_queries_and_filters_in_the_next_page_link(client, agent, brand):
    for n in range(queries.PAGE_SIZE + 2):
        factories.make_conversation(brand, text=f"q{n}", language="de")
    client.force_login(agent)
    html = client.get(reverse("inbox:list"), {"language": "de", "sort": "newest"}).content.decode()
    params = parse_qs(urlsplit(next_url(html)).query)
    assert params["language"] == ["de"] and params["sort"] == ["newest"]
    assert params["partial"] == ["rows"]


def test_a_live_event_carries_the_facts_before_and_after_a_change(
    agent, lead, brand, live_events, django_capture_on_commit_callbacks
):
    conversation = factories.make_conversation(brand)
    with django_capture_on_commit_callbacks(execute=True):
        assign_conversations(user=lead, conversation_ids=[conversation.pk], assignee=agent)
    [event] = [p for _, p in live_events if p["type"] == "conversation.changed"]
    assert event["facts"]["assignee"] == agent.pk and event["facts"]["status"] == "open"
    assert event["was"] == {"assignee": None, "department": None, "status": "new"}
    assert event["created"] is False
    assert event["sort"]["newest"] == str(queries.micros(conversation.last_message_at))


def test_criteria_and_the_live_facts_agree(agent, lead, brand, department):
    """The browser's matcher (live.js) evaluates Criteria.as_live() against snapshot(); the
    fields they name must be the same ones the database filter uses."""
    conversation = factories.make_conversation(brand, language="de")
    criteria = queries.Criteria(departments=(department.pk,), languages=("de",))
    facts = queries.snapshot(conversation)
    live = criteria.as_live()
    for key in ("status", "assignee", "department", "channel", "platform", "priority"):
        assert key in live and key in facts
    assert facts["language"] in live["language"]
    assert (
        facts["channel"]
        in queries.Workspace.for_user(agent).as_live()["departments"][str(department.pk)]
    )


def test_platform_text_in_rows_tags_and_filters_is_escaped(client, agent, lead, brand):
    hostile = "<img src=x onerror=alert(1)>"
    conversation = factories.make_conversation(brand, text=hostile, author=hostile)
    change_tags(user=lead, conversation_ids=[conversation.pk], add=[hostile])
    client.force_login(agent)
    html = client.get(reverse("inbox:list"), {"q": hostile}).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_search_matches_words_inside_text_on_any_database(client, agent, brand):
    # PostgreSQL by stems, the embedded SQLite mode by substring: both find a plain word.
    hit = factories.make_conversation(brand, text="Meine Bestellung ist nicht angekommen")
    factories.make_conversation(brand, text="Alles gut")
    client.force_login(agent)
    assert listed(client, q="Bestellung") == [hit.pk]


def test_message_search_vector_is_kept_by_the_database(brand):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    conversation = factories.make_conversation(brand, text="Rechnungen")
    message = Message.objects.get(conversation=conversation)
    message.text = "Lieferungen"
    message.save()
    from django.contrib.postgres.search import SearchQuery

    found = Message.objects.filter(search_vector=SearchQuery("Lieferung", config="german"))
    assert list(found) == [message]


def test_the_workspace_sees_exactly_the_channels_the_access_helper_allows(
    agent, outsider, admin_user, lead, brand, department, other_department
):
    from inbox.access import visible_channel_ids

    factories.make_mastodon_channel(department=other_department)
    factories.make_mastodon_channel()  # nobody's
    inactive = factories.make_user("gone", is_active=False)
    factories.add_member(inactive, department)
    for user in (agent, outsider, admin_user, lead, inactive):
        allowed = visible_channel_ids(user)
        workspace = queries.Workspace.for_user(user)
        assert workspace.channel_ids == (None if allowed is None else frozenset(allowed))
    assert queries.Workspace.for_user(lead).may_see_all
    assert not queries.Workspace.for_user(agent).may_see_all
