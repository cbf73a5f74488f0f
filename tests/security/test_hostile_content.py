"""Hostile platform content (tests/security/hostile_corpus.py, ingested by the real connectors
and poll code from the fakes in tests/security/conftest.py) rendered in every view an agent,
a lead or an admin opens, and in what the server pushes live: no payload becomes markup.

Each page is read with an HTML parser. A payload's marker is never found in a tag or attribute
name, in a script or style element, in an HTML comment, in an event-handler, style, srcdoc or
hx-* attribute, or in a link that is not http(s); links to platforms open with rel="noopener
noreferrer"; the attacker's host is never a resource the page loads. The markers are found as
text, so the payloads were on the page. JSON is JSON, CSV cells do not start formulas, and the
1 MB text costs the list a preview, not a megabyte.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from channels_integrations.polling import poll_channel
from inbox import live
from inbox.models import Contact, Conversation, Message, Notification, Person
from moderation.models import ModerationCase
from tests.security.conftest import HostileWorld
from tests.security.hostile_corpus import (
    ATTACKER_HOST,
    CORPUS,
    MEGABYTE,
    TEXT,
    all_markers,
    by_key,
    rendered,
)

pytestmark = pytest.mark.django_db

MARKER = re.compile(r"zq\d{3}zq")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset",
                  "background", "ping", "cite", "manifest", "content"}  # fmt: skip
# Attributes that make the browser fetch something by themselves (no click).
LOADING_ATTRIBUTES = {"src", "srcset", "data", "poster", "background", "action", "formaction"}
RAW_TEXT = {"script", "style"}
# htmx requests these URLs: ours (a path carrying a search, say) or nothing from a platform.
HX_URL_ATTRIBUTES = {"hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-push-url"}


def _http_or_ours(url: str) -> bool:
    """An http(s) link, or a path on our own site (which may carry a query with the text)."""
    url = url.strip()
    if url.startswith("/"):
        return not url.startswith("//") and not url.startswith("/\\")
    return urlsplit(url).scheme in {"http", "https"} and bool(urlsplit(url).netloc)


@dataclass
class Findings:
    """What a page did with the markers: where they ended up unsafely, and where as text."""

    unsafe: list[str] = field(default_factory=list)
    as_text: set[str] = field(default_factory=set)
    platform_links: list[dict[str, str]] = field(default_factory=list)


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = Findings()
        self.raw_text: str | None = None

    def _unsafe(self, where: str, value: str) -> None:
        for marker in set(MARKER.findall(value)):
            self.found.unsafe.append(f"{marker} ({all_markers()[marker]}) in {where}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._unsafe(f"tag name <{tag}>", tag)
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            self._unsafe(f"attribute name {name!r} of <{tag}>", name)
            lowered = name.lower().removeprefix("data-")
            if lowered in URL_ATTRIBUTES or lowered in HX_URL_ATTRIBUTES:
                if MARKER.search(value) and not _http_or_ours(value):
                    self._unsafe(f"{name}= of <{tag}> ({value[:60]!r})", value)
                elif tag == "a" and MARKER.search(value) and "://" in value:
                    self.found.platform_links.append(values)
            elif lowered.startswith(("on", "hx-")) or lowered in {"style", "srcdoc"}:
                self._unsafe(f"{name}= of <{tag}>", value)
            else:
                self.found.as_text.update(MARKER.findall(value))
            if lowered in LOADING_ATTRIBUTES and ATTACKER_HOST in value:
                self.found.unsafe.append(f"<{tag} {name}={value[:80]!r}> loads the attacker's host")
        if tag in RAW_TEXT:
            self.raw_text = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.raw_text = None

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw_text:
            self.raw_text = None

    def handle_data(self, data: str) -> None:
        if self.raw_text:
            self._unsafe(f"<{self.raw_text}> element", data)
        else:
            self.found.as_text.update(MARKER.findall(data))

    def handle_comment(self, data: str) -> None:
        self._unsafe("an HTML comment", data)

    def unknown_decl(self, data: str) -> None:
        self._unsafe("a markup declaration", data)


def scan(page: str) -> Findings:
    parser = _Scan()
    parser.feed(page)
    parser.close()
    return parser.found


def assert_safe(page: str, what: str, *, expect_markers: int = 1) -> Findings:
    """No marker anywhere unsafe, at least `expect_markers` markers shown as text, and links
    to platforms in new tabs without opener or referrer."""
    found = scan(page)
    assert found.unsafe == [], f"{what}: " + "; ".join(sorted(set(found.unsafe))[:20])
    assert len(found.as_text) >= expect_markers, f"{what}: only {found.as_text} shown"
    for link in found.platform_links:
        # A link opened in a new tab must not hand the platform page our window (opener) or
        # the conversation's address (referrer).
        if link.get("target") == "_blank":
            assert {"noopener", "noreferrer"} <= set(link.get("rel", "").split()), (what, link)
    return found


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get_html(client: Client, path: str, *, htmx: bool = False, **params: Any) -> str:
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(path, params, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    assert response["Content-Type"].startswith("text/html"), path
    return response.content.decode()


def every_row_page(client: Client) -> Iterable[str]:
    """The inbox list's first page, then each page the list loads as the agent scrolls."""
    page = get_html(client, "/inbox/")
    yield page
    more = re.compile(r'hx-get="(/inbox/\?partial=rows[^"]*)"')
    for _ in range(30):
        found = more.search(page)
        if not found:
            return
        page = get_html(client, found.group(1).replace("&amp;", "&"), htmx=True)
        yield page
    raise AssertionError("the list never ended")


def conversations_with(marker: str) -> list[Conversation]:
    return list(
        Conversation.objects.filter(messages__text__contains=marker).distinct()
        | Conversation.objects.filter(contact__display_name__contains=marker).distinct()
    )


# --- what arrived --------------------------------------------------------------------------


def test_the_whole_corpus_arrived_through_the_connectors(hostile: HostileWorld) -> None:
    assert len(CORPUS) >= 100
    assert hostile.skipped == []
    stored = " ".join(
        [*Message.objects.values_list("text", flat=True)]
        + [f"{c.display_name} {c.handle}" for c in Contact.objects.all()]
        + [json.dumps(m) for m in Message.objects.values_list("attachments", flat=True)]
    )
    # URL payloads are refused (only http(s) is kept), everything else is kept as text.
    kept = {
        p.marker for field_ in ("text", "name", "handle", "attachment") for p in rendered(field_)
    }
    missing = {all_markers()[m] for m in kept - set(MARKER.findall(stored))}
    assert missing == set()
    for platform in ("mastodon", "facebook", "x", "telegram", "youtube", "email"):
        assert Message.objects.filter(channel_account=hostile.channels[platform]).count() >= 10


def test_only_http_urls_are_kept_from_platforms(hostile: HostileWorld) -> None:
    urls = [
        *Contact.objects.values_list("avatar_url", flat=True),
        *Contact.objects.values_list("profile_url", flat=True),
        *Message.objects.values_list("permalink", flat=True),
        *(a.get("url", "") for m in Message.objects.all() for a in m.attachments),
    ]
    assert {urlsplit(u).scheme for u in urls if u} <= {"http", "https"}
    assert any(ATTACKER_HOST in u for u in urls)  # the http(s) ones were kept


def test_a_nul_character_in_flagged_text_does_not_stop_the_channel(
    hostile: HostileWorld,
) -> None:
    """Telegram text is not HTML: the NUL reaches ingest as it came, and the item is flagged
    (the module's rule queues every marked item and tells the leads)."""
    assert hostile.fakes is not None
    channel = hostile.channels["telegram"]
    payload = by_key("nul-and-controls")
    hostile.fakes.fakes["telegram"].add_private_message(
        payload.value, username="nul_sender", first_name="Nul"
    )
    outcome = poll_channel(channel.pk)
    assert outcome.error == ""
    assert Message.objects.filter(channel_account=channel, text__contains=payload.marker).exists()


# --- the pages --------------------------------------------------------------------------------


def test_the_inbox_list_and_every_page_of_rows_show_the_payloads_as_text(
    hostile: HostileWorld,
) -> None:
    client = signed_in(hostile.agent)
    shown: set[str] = set()
    rows = 0
    for number, page in enumerate(every_row_page(client)):
        found = assert_safe(page, f"list page {number}")
        shown |= found.as_text
        rows += page.count('class="conv-row')
        # 50 rows of previews, whatever the texts: the 1 MB item costs its row a preview.
        assert len(page.encode()) < 400_000, f"list page {number}: {len(page.encode())} bytes"
    assert rows == Conversation.objects.count()
    names = {p.marker for p in rendered("name")}
    assert names - shown == set(), "names never shown in the list"
    fragment = get_html(client, "/inbox/", htmx=True, partial="list")
    assert_safe(fragment, "the list pane fragment")


def test_the_row_of_the_megabyte_item_is_a_short_preview(hostile: HostileWorld) -> None:
    from django.template.loader import get_template

    from inbox.rows import row_for

    megabyte = by_key("megabyte")
    [conversation] = Conversation.objects.filter(
        messages__text__startswith=megabyte.marker
    ).select_related("channel_account", "contact", "assignee", "department")
    assert len(conversation.messages.get().text) >= MEGABYTE
    row = get_template("inbox/_conversation_row.html").render(
        {"conversation": conversation, "row": row_for(conversation)}
    )
    assert megabyte.marker in row and len(row.encode()) < 5_000


def test_the_megabyte_conversation_shows_its_beginning_and_links_the_whole_text(
    hostile: HostileWorld,
) -> None:
    megabyte = by_key("megabyte")
    message = Message.objects.get(text__startswith=megabyte.marker)
    client = signed_in(hostile.agent)

    page = client.get(f"/inbox/c/{message.conversation_id}/")
    assert page.status_code == 200
    assert len(page.content) < 200_000  # not the megabyte, on every open and live update
    assert f"/inbox/message/{message.pk}/text/" in page.content.decode()

    whole = client.get(f"/inbox/message/{message.pk}/text/")
    assert whole.status_code == 200
    assert whole["Content-Type"] == "text/plain; charset=utf-8"
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert whole.content.decode() == message.text
    # Who may open it: tests/security/test_access_matrix.py ("inbox:message_text").


def sample_conversations(hostile: HostileWorld) -> list[Conversation]:
    """One conversation per technique of the text payloads and one per platform: every
    message and header is also rendered by test_live_fragments_..., which costs a fraction
    of a request each."""
    chosen: dict[int, Conversation] = {}
    techniques: set[str] = set()
    for payload in rendered(TEXT):
        if payload.technique not in techniques:
            techniques.add(payload.technique)
            for conversation in conversations_with(payload.marker)[:1]:
                chosen[conversation.pk] = conversation
    for channel in hostile.channels.values():
        first = Conversation.objects.filter(channel_account=channel).first()
        assert first is not None
        chosen[first.pk] = first
    return list(chosen.values())


def test_conversation_panes_show_hostile_items_as_text(hostile: HostileWorld) -> None:
    client = signed_in(hostile.agent)
    for conversation in sample_conversations(hostile):
        page = get_html(client, f"/inbox/c/{conversation.pk}/", htmx=True)
        assert_safe(page, f"conversation {conversation.pk}")


def test_the_whole_conversation_page_around_hostile_items_is_safe(hostile: HostileWorld) -> None:
    client = signed_in(hostile.agent)
    for key in ("megabyte", "close-textarea", "htmx-attr-breakout"):
        for conversation in conversations_with(by_key(key).marker)[:1]:
            page = get_html(client, f"/inbox/c/{conversation.pk}/")
            assert_safe(page, f"{key}: conversation page {conversation.pk}")


def test_template_syntax_in_platform_text_is_shown_not_run(hostile: HostileWorld) -> None:
    import html

    from django.template.loader import get_template

    template = get_template("inbox/_message.html")
    for payload in rendered(TEXT):
        if payload.technique != "template-injection":
            continue
        message = Message.objects.select_related("conversation__channel_account", "contact").get(
            text=payload.value
        )
        shown = html.unescape(template.render({"message": message}))
        assert payload.value in shown, payload.key


def test_person_pages_and_panels_are_safe(hostile: HostileWorld) -> None:
    client = signed_in(hostile.agent)
    techniques = {"script", "event-handler", "attribute-breakout", "htmx", "bidi", "long", "crlf"}
    for payload in rendered("name"):
        # One name per technique: the page and panel render every name the same way.
        if payload.technique not in techniques:
            continue
        techniques.discard(payload.technique)
        person = Person.objects.filter(display_name__contains=payload.marker).first()
        if person is None:
            continue  # a name shortened away (300 characters), shown by the corpus test
        page = get_html(client, f"/inbox/p/{person.pk}/")
        assert_safe(page, f"{payload.key}: person page")
        conversation = Conversation.objects.filter(contact__person=person).first()
        assert conversation is not None
        panel = get_html(
            client, f"/inbox/p/{person.pk}/panel/", htmx=True, conversation=conversation.pk
        )
        assert_safe(panel, f"{payload.key}: person panel")


def test_search_finds_hostile_items_and_reflects_hostile_queries_as_text(
    hostile: HostileWorld,
) -> None:
    client = signed_in(hostile.agent)
    for key in ("script-plain", "event-img-onerror", "rtl-override", "megabyte"):
        payload = by_key(key)
        page = get_html(client, "/inbox/", q=payload.marker)
        found = assert_safe(page, f"search {key}")
        assert payload.marker in found.as_text, f"search {key} found nothing"
    for key in ("attr-double-quote", "close-textarea", "htmx-attr-breakout", "script-plain"):
        payload = by_key(key)
        for htmx in (False, True):
            page = get_html(client, "/inbox/", htmx=htmx, q=payload.value, partial="list")
            assert_safe(page, f"query {key}", expect_markers=0)


def test_the_moderation_queue_and_people_listing_are_safe(hostile: HostileWorld) -> None:
    client = signed_in(hostile.lead)
    # The module's rule sends every item whose text carries a marker to the queue.
    marked = Message.objects.filter(text__regex=MARKER.pattern).count()
    assert ModerationCase.objects.count() == marked > 150
    shown: set[str] = set()
    for number in range(1, 30):
        response = client.get("/moderation/", {"page": number})
        assert response.status_code == 200
        page = response.content.decode()
        shown |= assert_safe(page, f"queue page {number}").as_text
        if f"page={number + 1}" not in page:
            break
    assert {p.marker for p in rendered("name")} - shown == set()
    assert_safe(get_html(client, "/moderation/people/"), "people listing", expect_markers=0)
    for payload in rendered("name")[::7]:
        person = Person.objects.filter(display_name__contains=payload.marker).first()
        if person is not None:
            panel = get_html(client, f"/moderation/people/{person.pk}/", htmx=True)
            assert_safe(panel, f"{payload.key}: moderation person panel")
    search = get_html(client, "/moderation/people/search/", htmx=True, q=by_key("attr-angle").value)
    assert_safe(search, "people search", expect_markers=0)


def test_notifications_list_panel_and_live_rows_are_safe(hostile: HostileWorld) -> None:
    from django.template.loader import get_template

    notifications = list(Notification.objects.filter(user=hostile.lead))
    assert len(notifications) > 150
    template = get_template("inbox/notifications/_notification.html")
    shown: set[str] = set()
    for notification in notifications:
        row = template.render({"notification": notification})
        shown |= assert_safe(row, "live notification row", expect_markers=0).as_text
    assert len(shown) > 100
    client = signed_in(hostile.lead)
    assert_safe(get_html(client, "/inbox/notifications/"), "notification list")
    assert_safe(get_html(client, "/inbox/notifications/", htmx=True), "notification panel")


def test_live_fragments_of_every_conversation_and_message_are_safe(
    hostile: HostileWorld, live_events: list[tuple[str, dict[str, Any]]]
) -> None:
    live.send_changes(
        conversation_ids=set(Conversation.objects.values_list("pk", flat=True)),
        message_ids=set(Message.objects.values_list("pk", flat=True)),
    )
    kinds = {payload["type"] for _, payload in live_events}
    assert kinds == {"conversation.changed", "message.changed"}
    shown: set[str] = set()
    for _, payload in live_events:
        for key in ("html", "head_html"):
            if payload.get(key):
                what = f"live {payload['type']} {key}"
                shown |= assert_safe(payload[key], what, expect_markers=0).as_text
    assert {p.marker for p in rendered("name")} - shown == set()


# --- machine-readable doors ----------------------------------------------------------------


def test_the_api_answers_json_with_the_payloads_as_strings(hostile: HostileWorld) -> None:
    client = signed_in(hostile.agent)
    response = client.get("/api/v1/conversations/", {"limit": 100})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    listed = json.loads(response.content)
    assert MARKER.search(json.dumps(listed))
    for key in ("script-plain", "attr-angle", "megabyte", "nul-and-controls", "rtl-override"):
        [conversation, *_] = conversations_with(by_key(key).marker)
        answer = client.get(f"/api/v1/conversations/{conversation.pk}/messages/")
        assert answer.status_code == 200 and answer["Content-Type"].startswith("application/json")
        assert by_key(key).marker in json.dumps(json.loads(answer.content)), key


def test_csv_exports_never_start_a_cell_with_a_formula(hostile: HostileWorld) -> None:
    client = signed_in(hostile.admin)
    day = timezone.localdate().isoformat()
    response = client.get("/moderation/evidence/", {"format": "csv", "since": "2026-01-01",
                                                    "until": day})  # fmt: skip
    assert response.status_code == 200, response.content[:500]
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    csv.field_size_limit(2 * MEGABYTE)  # the megabyte item is one cell
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert MARKER.search(body), "the evidence holds the hostile items"
    formulas = [cell[:40] for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert formulas == []
    for payload in rendered("text"):
        if payload.technique == "csv-formula":
            assert any(payload.marker in cell and cell.startswith("'") for cell in cells)


def test_reports_are_safe(hostile: HostileWorld) -> None:
    from inbox.reports.sections import TABLE_NAMES

    client = signed_in(hostile.lead)
    assert_safe(get_html(client, "/reports/"), "reports", expect_markers=0)
    for table in TABLE_NAMES:
        response = client.get("/reports/", {"format": "csv", "table": table})
        assert response.status_code == 200, table
        body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
        for row in csv.reader(io.StringIO(body)):
            assert not [c for c in row if c[:1] in ("=", "+", "@", "\t", "\r")], (table, row)


def test_the_django_admin_pages_of_hostile_rows_are_safe(hostile: HostileWorld) -> None:
    client = signed_in(hostile.admin)
    for key in ("attr-double-quote", "close-textarea", "htmx-on"):
        marker = by_key(key).marker
        message = Message.objects.filter(text__contains=marker).first()
        assert message is not None
        page = get_html(client, f"/admin/inbox/message/{message.pk}/change/")
        assert_safe(page, f"{key}: admin message")
        contact = Contact.objects.filter(display_name__contains=marker).first()
        if contact is not None:
            assert_safe(
                get_html(client, f"/admin/inbox/contact/{contact.pk}/change/"),
                f"{key}: admin contact",
            )
    assert_safe(get_html(client, "/admin/inbox/message/"), "admin message list", expect_markers=0)
    assert_safe(get_html(client, "/admin/inbox/contact/"), "admin contact list")


def test_the_consultation_page_and_its_mail_are_safe(
    hostile: HostileWorld, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """The expert's page (no login) shows the conversation; the invitation mail's subject
    holds no line break, whatever the names."""
    from inbox.consulting import request_advice

    crlf = by_key("crlf-header")
    for key in ("close-textarea", "attr-double-quote", "rtl-override"):
        [conversation, *_] = conversations_with(by_key(key).marker)
        with django_capture_on_commit_callbacks(execute=True):
            _, link = request_advice(
                user=hostile.agent, conversation=conversation, expert_email="expert@example.org",
                expert_name=crlf.value, question=by_key(key).value, base_url="http://testserver/",
            )  # fmt: skip
        page = get_html(Client(), urlsplit(link).path)
        assert_safe(page, f"{key}: consultation page")
    assert len(mailoutbox) == 3
    for mail in mailoutbox:
        assert "\n" not in mail.subject and "\r" not in mail.subject
        assert mail.to == ["expert@example.org"] and not mail.bcc
