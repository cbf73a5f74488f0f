"""Benchmark `inbox.ingest.ingest_page` against raw batched SQL and a naive per-item ORM loop.

Usage (from the project root):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox_bench \
        .venv/bin/python bench/ingest.py [--items 100000] [--page 100] [--naive-items 2000]

One stream of normalized items (German and English comments and mentions of varied length, 20%
replies into earlier threads, 5% duplicates of items of earlier pages) is written page by page,
one transaction per page with the channel's cursor, three ways, each on its own channel account
and contact scope: through the real ingest with its on-commit live rendering (timed apart),
through raw execute_values statements writing the same rows, and through a naive get_or_create
loop (on the first pages only). The variants take turns page by page, so they write into tables
of the same size under the same machine load. Everything the run made is removed at the end (see
bench/README.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql
from psycopg2.extras import execute_values

if TYPE_CHECKING:
    from channels_integrations.base import InboundAuthor, InboundItem

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.create_database import ensure_database  # noqa: E402  (needs ROOT on the path)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Targets of issue 8: the ingest keeps up with a plain batched insert within a factor of two, and
# is an order of magnitude ahead of the obvious per-item ORM code.
RAW_TARGET = 0.5
NAIVE_TARGET = 10.0

# --- the stream --------------------------------------------------------------------------------

# Sentences a German brand's social accounts see, by language; a text is one to a dozen of them.
SENTENCES = {
    "de": [
        "Hallo @brand, mein Paket ist seit einer Woche unterwegs.",
        "Könnt ihr bitte nachsehen, wo meine Bestellung bleibt?",
        "Warum ist die App so langsam? Seit dem Update lädt gar nichts mehr.",
        "Danke für die schnelle Hilfe gestern, hat alles geklappt! 👍",
        "Die Jacke ist super, aber die Ärmel sind viel zu lang.",
        "Gibt es die Schuhe auch in Größe 46?",
        "Ich warte jetzt seit drei Tagen auf eine Antwort vom Kundenservice. 😤",
        "Bestellnummer 48213, Lieferung angeblich zugestellt, aber hier ist nichts angekommen.",
        "Wann kommt die Winterkollektion in die Filialen?",
        "Eure Hotline ist dauerbesetzt, was soll das?",
        "Großartiger Service, gerne wieder! 😍",
        "Kann ich die Rücksendung auch in der Filiale abgeben?",
        "Der Gutscheincode funktioniert an der Kasse nicht.",
        "Ehrlich gesagt bin ich ziemlich enttäuscht von der Qualität.",
        "Nach zwei Wäschen ist die Farbe völlig ausgeblichen.",
        "Wie lange dauert die Erstattung normalerweise?",
        "Top! 🔥🔥",
        "Mega schöne Farben dieses Jahr 🎨",
        "Weiß jemand, ob das Angebot auch online gilt?",
        "Ich habe zweimal bezahlt, bitte um Rückerstattung.",
    ],
    "en": [
        "Hey @brand, my order never arrived.",
        "Order number 48213, can you check what happened?",
        "Your checkout keeps failing with a card error, tried three cards already.",
        "Is there a student discount? Couldn't find anything on the website.",
        "Love the new collection, the colours are amazing! 😍",
        "Do you ship to Ireland?",
        "The app logs me out every single time I open it. 🙄",
        "Still waiting for my refund, it's been two weeks.",
        "Great customer service, thanks Sarah!",
        "Why did you discontinue the blue one?",
        "The size chart is completely off, I had to return everything.",
        "Any update on this?",
        "Never mind, found it. Thanks anyway! 🙏",
        "This is the third time my parcel went to the wrong address.",
        "Can I change the delivery address after ordering?",
        "Absolutely love it 💯",
        "Is the jacket waterproof or just water resistant?",
        "Your tracking page says delivered but there's nothing here.",
        "Please fix the search, it never finds anything.",
        "When is the sale starting? 👀",
    ],
}
EMOJI = ["👍", "🙏", "😂", "❤️", "🔥", "😡", "🤔", "🎉", "📦", "🚚", "👀", "😭"]
FIRST_NAMES = ["Anna", "Jonas", "Mia", "Lukas", "Sophie", "Ben", "Emma", "Paul", "Lea", "Finn"]
FIRST_NAMES += ["Sam", "Alex", "Olivia", "Noah", "Grace", "Jack", "Chloe", "Liam", "Zoë", "Jürgen"]
LAST_NAMES = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"]
LAST_NAMES += ["Smith", "Jones", "Taylor", "Brown", "Wilson", "O'Brien", "Nguyen", "Kowalski"]
BASE_URL = "https://social.example"


def make_text(rng: random.Random, language: str) -> str:
    """One comment: mostly a sentence or three, now and then a long complaint in paragraphs,
    rarely a pasted letter of several thousand characters."""
    pool = SENTENCES[language]
    roll = rng.random()
    if roll < 0.15:
        text = rng.choice(EMOJI) * rng.randint(1, 3) if roll < 0.03 else rng.choice(pool)
    elif roll < 0.9:
        text = " ".join(rng.choices(pool, k=rng.randint(1, 4)))
    else:
        count = rng.randint(12, 24) if roll > 0.995 else rng.randint(2, 5)
        paragraphs = [" ".join(rng.choices(pool, k=rng.randint(3, 8))) for _ in range(count)]
        text = "\n\n".join(paragraphs)
    if rng.random() < 0.25:
        text += " " + rng.choice(EMOJI)
    return text


def make_authors(rng: random.Random, n: int) -> list[InboundAuthor]:
    from channels_integrations.base import InboundAuthor

    authors = []
    for i in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}" + (f" {rng.choice(EMOJI)}" if rng.random() < 0.1 else "")
        handle = f"{first.lower()}_{i}@social.example"
        authors.append(
            InboundAuthor(
                external_id=str(109_000_000_000_000_000 + i * 7919),
                handle=handle,
                display_name=name,
                avatar_url=f"{BASE_URL}/system/accounts/avatars/{i}/original.png",
                profile_url=f"{BASE_URL}/@{handle.split('@')[0]}",
            )
        )
    return authors


@dataclass
class _Thread:
    key: str
    kind: str
    author: InboundAuthor
    post: tuple[str, str, str]  # external id, text, permalink ("" for a mention)
    item_ids: list[str] = field(default_factory=list)


@dataclass
class Stream:
    pages: list[list[InboundItem]]
    unique: int
    replies: int
    duplicates: int
    threads: int
    authors: int

    @property
    def items(self) -> int:
        return sum(len(page) for page in self.pages)


def build_stream(n: int, page_size: int, *, seed: int = 42) -> Stream:
    """n items in pages of page_size: 20% replies into earlier threads, 5% duplicates.

    A reply answers an earlier item of a thread started in the last few pages (sometimes in the
    same page) and carries that thread's key. A duplicate is an item of an earlier page sent again
    unchanged, as platforms do when their result windows overlap.
    """
    from channels_integrations.base import InboundItem
    from inbox.models import ConversationKind

    rng = random.Random(seed)  # the same stream every run, so runs are comparable
    authors = make_authors(rng, max(1, n // 4))
    # A few people write a lot, most write once or twice.
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(authors))]
    cumulative = [0.0]
    for weight in weights:
        cumulative.append(cumulative[-1] + weight)
    cumulative.pop(0)
    posts = [
        (
            str(200_000_000 + i),
            make_text(rng, rng.choice(["de", "en"])),
            f"https://www.facebook.com/brand/posts/{200_000_000 + i}",
        )
        for i in range(max(1, n // 500))
    ]
    kinds = [""] * n
    duplicate_slots = rng.sample(range(min(page_size, n), n), k=round(n * 0.05)) if n > 1 else []
    for slot in duplicate_slots:
        kinds[slot] = "duplicate"
    free = [slot for slot in range(1, n) if not kinds[slot]]
    for slot in rng.sample(free, k=min(len(free), round(n * 0.2))):
        kinds[slot] = "reply"

    start = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    threads: list[_Thread] = []
    emitted: list[InboundItem] = []  # every new item, in stream order
    pages: list[list[InboundItem]] = []
    page: list[InboundItem] = []
    page_start = 0  # index into `emitted` of the first new item of the current page
    replies = duplicates = 0
    for slot in range(n):
        if slot % page_size == 0 and page:
            pages.append(page)
            page, page_start = [], len(emitted)
        if kinds[slot] == "duplicate" and page_start > 0:
            # Mostly from the last few pages, as overlapping windows would send them.
            low = max(0, page_start - 10 * page_size)
            page.append(emitted[rng.randrange(low, page_start)])
            duplicates += 1
            continue
        external_id = str(113_000_000_000_000_000 + slot * 4099)
        language = "de" if rng.random() < 0.6 else "en"
        text = make_text(rng, language)
        author = authors[rng.choices(range(len(authors)), cum_weights=cumulative)[0]]
        created_at = start + timedelta(milliseconds=700 * slot)
        parent = ""
        if kinds[slot] == "reply" and threads:
            thread = threads[rng.randrange(max(0, len(threads) - 3 * page_size), len(threads))]
            parent = rng.choice(thread.item_ids)
            if rng.random() < 0.5:
                author = thread.author  # the person answers back in their own thread
            replies += 1
        else:
            if rng.random() < 0.6:
                kind, post = ConversationKind.COMMENT, rng.choice(posts)
            else:
                kind, post = ConversationKind.MENTION, ("", "", "")
            thread = _Thread(key=external_id, kind=kind, author=author, post=post)
            threads.append(thread)
        thread.item_ids.append(external_id)
        permalink = f"{BASE_URL}/@{author.handle.split('@')[0]}/{external_id}"
        attachments: tuple[dict[str, str], ...] = ()
        if rng.random() < 0.03:
            attachments = (
                {
                    "name": "photo.jpg",
                    "url": f"{BASE_URL}/media/{external_id}.jpg",
                    "type": "image",
                },
            )
        raw = {
            "id": external_id,
            "created_at": created_at.isoformat(),
            "in_reply_to_id": parent or None,
            "visibility": "public",
            "language": language,
            "url": permalink,
            "content": "".join(f"<p>{part}</p>" for part in text.split("\n\n")),
            "account": {
                "id": author.external_id,
                "acct": author.handle,
                "display_name": author.display_name,
                "avatar": author.avatar_url,
                "url": author.profile_url,
            },
            "mentions": [{"acct": "brand", "url": f"{BASE_URL}/@brand"}],
            "media_attachments": [dict(a) for a in attachments],
            "replies_count": rng.randint(0, 3),
            "favourites_count": rng.randint(0, 20),
        }
        item = InboundItem(
            external_id=external_id,
            thread_key=thread.key,
            kind=thread.kind,
            author=author,
            text=text,
            created_at=created_at,
            parent_external_id=parent,
            permalink=permalink,
            language=language,
            post_external_id=thread.post[0],
            post_text=thread.post[1],
            post_permalink=thread.post[2],
            attachments=attachments,
            raw=raw,
        )
        emitted.append(item)
        page.append(item)
    if page:
        pages.append(page)
    used_authors = {item.author.external_id for item in emitted}
    return Stream(pages, len(emitted), replies, duplicates, len(threads), len(used_authors))


# --- the variants ------------------------------------------------------------------------------

TABLE_OF_QUERY = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)")


@contextmanager
def counting_queries(into: Counter[str]) -> Iterator[None]:
    """Count Django's queries by statement kind and table (cheap enough to leave on)."""
    from django.db import connection

    def count(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
        head = sql[:4000]  # a page's INSERT is a few hundred kB; its table is at the start
        text = head.decode(errors="replace") if isinstance(head, bytes) else str(head)
        verb = text.split(None, 1)[0].upper() if text.strip() else "?"
        match = TABLE_OF_QUERY.search(text.replace('"', ""))
        table = match.group(1) if match and verb in {"SELECT", "INSERT", "UPDATE"} else ""
        into[f"{verb} {table}".strip()] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield


class Variant:
    """One way of writing the stream, on its own channel account and contact scope."""

    label = ""

    def __init__(self, pages: list[list[InboundItem]], channel_id: int, scope: str) -> None:
        self.pages = pages
        self.channel_id = channel_id
        self.scope = scope
        self.seconds = 0.0
        self.done = 0  # pages written
        self.items = 0
        self.queries: Counter[str] = Counter()  # all pages, by statement kind and table

    def write(self, index: int) -> None:
        """Write page `index`, timed: one transaction, with the channel's cursor."""
        started = time.perf_counter()
        self.write_page(self.pages[index], {"page": index + 1})
        self.seconds += time.perf_counter() - started
        self.done += 1
        self.items += len(self.pages[index])

    def write_page(self, page: list[InboundItem], cursor: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    def queries_per_page(self) -> float:
        return sum(self.queries.values()) / self.done


class Ingest(Variant):
    """The real path: ingest_page per page, as the poll calls it, with its on-commit live
    publishing (timed apart, in `live_seconds`) or with that publishing switched off."""

    def __init__(
        self, pages: list[list[InboundItem]], channel_id: int, scope: str, *, live: bool
    ) -> None:
        import inbox.live

        super().__init__(pages, channel_id, scope)
        self.label = "ingest_page, live rendering " + ("on" if live else "off")
        self.live = live
        self.live_seconds = 0.0
        self.live_queries: Counter[str] = Counter()
        self.send_changes = inbox.live.send_changes
        self.expected: dict[str, Any] = {}  # a new channel account starts with an empty cursor

    def write_page(self, page: list[InboundItem], cursor: dict[str, Any]) -> None:
        import inbox.live
        from channels_integrations.base import FetchedPage
        from inbox.ingest import ingest_page

        replacement = self.timed_send_changes if self.live else self.no_send_changes
        with (
            mock.patch.object(inbox.live, "send_changes", replacement),
            counting_queries(self.queries),
        ):
            ingest_page(
                channel_account_id=self.channel_id,
                expected_cursor=self.expected,
                page=FetchedPage(items=page, cursor=cursor, caught_up=False),
                contact_scope=self.scope,
            )
        self.expected = cursor

    def timed_send_changes(self, **changes: Any) -> None:
        started = time.perf_counter()
        counted: Counter[str] = Counter()
        with counting_queries(counted):
            self.send_changes(**changes)
        self.live_seconds += time.perf_counter() - started
        self.live_queries += counted
        self.queries -= counted  # they ran inside the page's count too (on commit)

    def no_send_changes(self, **changes: Any) -> None:
        """Stands in for inbox.live.send_changes: nothing is read, rendered or sent."""


# The raw variant's statements. Table names are Django's defaults for the models (checked in
# Raw); every NOT NULL column the ingest writes is written here too.
RAW_LOCK = "SELECT cursor FROM channels_integrations_channelaccount WHERE id = %s FOR UPDATE"
RAW_CONTACTS = (
    "SELECT external_id, id FROM inbox_contact "
    "WHERE platform = 'mastodon' AND scope = %s AND external_id = ANY(%s)"
)
RAW_PERSONS = (
    "INSERT INTO inbox_person (display_name, vip, banned, blocked, stance, created_at, "
    "updated_at) VALUES %s RETURNING id"
)
RAW_NEW_CONTACTS = (
    "INSERT INTO inbox_contact (platform, scope, external_id, handle, display_name, avatar_url, "
    "profile_url, person_id, created_at, updated_at) VALUES %s "
    "ON CONFLICT (platform, scope, external_id) DO NOTHING RETURNING external_id, id"
)
RAW_CONVERSATIONS = (
    "SELECT thread_key, id FROM inbox_conversation "
    "WHERE channel_account_id = %s AND thread_key = ANY(%s)"
)
RAW_NEW_CONVERSATIONS = (
    "INSERT INTO inbox_conversation (channel_account_id, kind, thread_key, contact_id, "
    "post_external_id, post_text, post_permalink, status, priority, first_response_due_at, "
    "last_message_at, last_message_preview, last_message_direction, message_count, created_at, "
    "updated_at, language, sentiment, post_media_url, awaiting_approval, requires_approval, "
    "sla_paused_remaining) "
    "VALUES %s ON CONFLICT (channel_account_id, thread_key) DO NOTHING "
    "RETURNING thread_key, id"
)
RAW_MESSAGES = (
    "INSERT INTO inbox_message (conversation_id, channel_account_id, external_id, "
    "parent_external_id, direction, contact_id, text, attachments, language, permalink, "
    "platform_state, edited_at, edit_history, classifier_scores, sent_at, created_at, "
    "updated_at, raw) VALUES %s "
    "ON CONFLICT (channel_account_id, external_id) WHERE external_id IS NOT NULL DO NOTHING "
    "RETURNING external_id, id, conversation_id"
)
RAW_TOUCH_CONVERSATIONS = (
    "UPDATE inbox_conversation AS c SET message_count = c.message_count + v.n, "
    "last_message_at = v.at, last_message_preview = v.preview, "
    "last_message_direction = 'inbound', updated_at = v.now, snoozed_until = NULL, "
    "status = CASE WHEN c.status IN ('resolved', 'pending', 'snoozed') THEN 'open' "
    "ELSE c.status END "
    "FROM (VALUES %s) AS v (id, n, at, preview, now) WHERE c.id = v.id"
)
RAW_EVENTS = (
    "INSERT INTO inbox_conversationevent (conversation_id, kind, data, created_at) VALUES %s"
)
RAW_CURSOR = "UPDATE channels_integrations_channelaccount SET cursor = %s WHERE id = %s"


class Raw(Variant):
    """The same rows through psycopg2's execute_values on a connection of its own, in the same
    page-sized transactions with the cursor (see raw_page): the floor for these rows."""

    label = "raw execute_values"

    def __init__(
        self, pages: list[list[InboundItem]], channel_id: int, scope: str, url: str
    ) -> None:
        from channels_integrations.models import ChannelAccount
        from inbox.models import Contact, Conversation, ConversationEvent, Message, Person

        super().__init__(pages, channel_id, scope)
        tables = [ChannelAccount, Person, Contact, Conversation, Message, ConversationEvent]
        names = [model._meta.db_table for model in tables]
        assert names == [
            "channels_integrations_channelaccount",
            "inbox_person",
            "inbox_contact",
            "inbox_conversation",
            "inbox_message",
            "inbox_conversationevent",
        ], f"the raw statements name tables that are now {names}"
        self.connection = psycopg2.connect(url)

    def write_page(self, page: list[InboundItem], cursor: dict[str, Any]) -> None:
        with self.connection.cursor() as db:
            self.queries["(all)"] += raw_page(db, page, cursor, self.channel_id, self.scope)
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()


def raw_page(
    cursor: Any, page: list[InboundItem], new_cursor: dict[str, Any], channel_id: int, scope: str
) -> int:
    """One page of the raw variant, inside the caller's transaction; the number of queries."""
    from channels_integrations.text import preview

    now = datetime.now(UTC)
    queries = 4  # the lock, the two look-ups, the messages; the events and the cursor below
    cursor.execute(RAW_LOCK, [channel_id])
    cursor.fetchone()

    authors = {item.author.external_id: item.author for item in page}
    cursor.execute(RAW_CONTACTS, [scope, list(authors)])
    contacts: dict[str, int] = dict(cursor.fetchall())
    missing = [author for key, author in authors.items() if key not in contacts]
    if missing:
        persons = execute_values(
            cursor,
            RAW_PERSONS,
            [(a.display_name or a.handle, False, False, False, "", now, now) for a in missing],
            page_size=len(missing),
            fetch=True,
        )
        rows: list[tuple[Any, ...]] = [
            (
                *("mastodon", scope, a.external_id, a.handle, a.display_name, a.avatar_url),
                *(a.profile_url, person_id, now, now),
            )
            for a, (person_id,) in zip(missing, persons, strict=True)
        ]
        contacts.update(
            execute_values(cursor, RAW_NEW_CONTACTS, rows, page_size=len(rows), fetch=True)
        )
        queries += 2

    cursor.execute(RAW_CONVERSATIONS, [channel_id, list({item.thread_key for item in page})])
    conversations: dict[str, int] = dict(cursor.fetchall())
    fresh: dict[str, list[InboundItem]] = defaultdict(list)  # new threads, their items in order
    for item in page:
        if item.thread_key not in conversations:
            fresh[item.thread_key].append(item)
    if fresh:
        rows = [
            (
                *(channel_id, first.kind, key, contacts[first.author.external_id]),
                *(first.post_external_id, first.post_text, first.post_permalink, "new", 1),
                *(first.created_at + timedelta(hours=24), last.created_at, preview(last.text)),
                *("inbound", len(thread), now, now, first.language, "", "", False, False, "{}"),
            )
            for key, thread in fresh.items()
            for first, last in [(thread[0], thread[-1])]
        ]
        conversations.update(
            execute_values(cursor, RAW_NEW_CONVERSATIONS, rows, page_size=len(rows), fetch=True)
        )
        queries += 1

    unique = {item.external_id: item for item in page}
    rows = [
        (
            *(conversations[item.thread_key], channel_id, item.external_id),
            *(item.parent_external_id, "inbound", contacts[item.author.external_id], item.text),
            *(json.dumps([dict(a) for a in item.attachments]), item.language, item.permalink),
            *("visible", item.edited_at, "[]", "{}", item.created_at, now, now),
            json.dumps(item.raw),
        )
        for item in unique.values()
    ]
    inserted = execute_values(cursor, RAW_MESSAGES, rows, page_size=len(rows), fetch=True)

    touched: dict[int, list[InboundItem]] = defaultdict(list)  # existing threads, new items
    for external_id, _, conversation_id in inserted:
        item = unique[external_id]
        if item.thread_key not in fresh:
            touched[conversation_id].append(item)
    if touched:
        rows = [
            (conversation_id, len(new), last.created_at, preview(last.text), now)
            for conversation_id, new in touched.items()
            for last in [max(new, key=lambda item: item.created_at)]
        ]
        execute_values(
            cursor,
            RAW_TOUCH_CONVERSATIONS,
            rows,
            template="(%s::bigint, %s::int, %s::timestamptz, %s, %s::timestamptz)",
            page_size=len(rows),
        )
        queries += 1

    events = [
        (
            conversations[key],
            "conversation_created",
            json.dumps({"thread_key": key, "kind": thread[0].kind}),
            now,
        )
        for key, thread in fresh.items()
    ] + [
        (
            conversation_id,
            "message_received",
            json.dumps({"message_id": message_id, "external_id": external_id}),
            now,
        )
        for external_id, message_id, conversation_id in inserted
    ]
    if events:
        execute_values(cursor, RAW_EVENTS, events, page_size=len(events))
        queries += 1
    cursor.execute(RAW_CURSOR, [json.dumps(new_cursor), channel_id])
    return queries + 1


class Naive(Variant):
    """The obvious ORM code: get_or_create per item for the contact (and its person), the
    conversation and the message, then the conversation's counters and the events, in the same
    per-page transactions with the cursor."""

    label = "naive get_or_create loop"

    def write_page(self, page: list[InboundItem], cursor: dict[str, Any]) -> None:
        from django.db import transaction

        from channels_integrations.models import ChannelAccount

        with counting_queries(self.queries), transaction.atomic():
            account = ChannelAccount.objects.select_for_update().get(pk=self.channel_id)
            for item in page:
                self.write_item(account, item)
            account.cursor = cursor
            account.save(update_fields=["cursor"])

    def write_item(self, account: Any, item: InboundItem) -> None:
        from django.db.models import F

        from channels_integrations.text import preview
        from inbox.models import (
            Contact,
            Conversation,
            ConversationEvent,
            EventKind,
            Message,
            Person,
        )

        author = item.author
        contact, _ = Contact.objects.get_or_create(
            platform=account.platform,
            scope=self.scope,
            external_id=author.external_id,
            defaults={
                "handle": author.handle,
                "display_name": author.display_name,
                "avatar_url": author.avatar_url,
                "profile_url": author.profile_url,
                # A callable default runs only when the contact is created.
                "person": lambda: Person.objects.create(  # type: ignore[misc]
                    display_name=author.display_name or author.handle
                ),
            },
        )
        conversation, created = Conversation.objects.get_or_create(
            channel_account=account,
            thread_key=item.thread_key,
            defaults={
                "kind": item.kind,
                "contact": contact,
                "post_external_id": item.post_external_id,
                "post_text": item.post_text,
                "post_permalink": item.post_permalink,
                "last_message_at": item.created_at,
                "first_response_due_at": item.created_at + timedelta(hours=24),
            },
        )
        if created:
            ConversationEvent.objects.create(
                conversation=conversation,
                kind=EventKind.CONVERSATION_CREATED,
                data={"thread_key": item.thread_key, "kind": item.kind},
            )
        message, new = Message.objects.get_or_create(
            channel_account=account,
            external_id=item.external_id,
            defaults={
                "conversation": conversation,
                "parent_external_id": item.parent_external_id,
                "direction": "inbound",
                "contact": contact,
                "text": item.text,
                "attachments": [dict(a) for a in item.attachments],
                "language": item.language,
                "permalink": item.permalink,
                "sent_at": item.created_at,
                "raw": item.raw,
            },
        )
        if new:
            Conversation.objects.filter(pk=conversation.pk).update(
                message_count=F("message_count") + 1,
                last_message_at=item.created_at,
                last_message_preview=preview(item.text),
                last_message_direction="inbound",
            )
            ConversationEvent.objects.create(
                conversation=conversation,
                kind=EventKind.MESSAGE_RECEIVED,
                data={"message_id": message.id, "external_id": item.external_id},
            )


ANALYZE = "ANALYZE inbox_person, inbox_contact, inbox_conversation, inbox_message"


def run_interleaved(variants: list[Variant], *, progress_every: int = 100) -> None:
    """Page 0 of every variant, then page 1 of every variant, and so on: all of them write into
    tables of the same size, under the same load of the machine (which drifts over minutes)."""
    from django.db import connection

    pages = max(len(variant.pages) for variant in variants)
    started = time.perf_counter()
    for index in range(pages):
        active = [variant for variant in variants if index < len(variant.pages)]
        shift = index % len(active)  # nobody always goes first, right after another's commit
        for variant in active[shift:] + active[:shift]:
            variant.write(index)
        if (index + 1) % progress_every == 0:
            with connection.cursor() as cursor:  # not timed: the planner sees the tables grow
                cursor.execute(ANALYZE)
            rates = ", ".join(f"{v.label} {v.rate:,.0f}/s" for v in variants if v.done)
            elapsed = time.perf_counter() - started
            print(f"  page {index + 1:,}/{pages:,} after {elapsed:.0f} s: {rates}", flush=True)


# --- checks, clean-up and the report -------------------------------------------------------


def check_rows(variant: Variant) -> None:
    """Every variant must have written the same rows: one message per unique item, one
    conversation per thread, one contact per author, counters that add up, one event per new
    conversation and per new message."""
    from django.db.models import Sum

    from inbox.models import Contact, Conversation, ConversationEvent, Message

    items = {item.external_id: item for page in variant.pages for item in page}
    threads = {item.thread_key for item in items.values()}
    expected = (
        len(items),
        len(threads),
        len({item.author.external_id for item in items.values()}),
        len(items),
        len(items) + len(threads),
    )
    conversations = Conversation.objects.filter(channel_account_id=variant.channel_id)
    events = ConversationEvent.objects.filter(conversation__channel_account_id=variant.channel_id)
    found = (
        Message.objects.filter(channel_account_id=variant.channel_id).count(),
        conversations.count(),
        Contact.objects.filter(scope=variant.scope).count(),
        conversations.aggregate(total=Sum("message_count"))["total"],
        events.count(),
    )
    if found != expected:
        raise SystemExit(
            f"{variant.label}: (messages, conversations, contacts, message_count sum, events) "
            f"are {found}, expected {expected}"
        )


# Children first; the ORM's cascade would load every message to delete it.
CLEAN_UP = [
    "DELETE FROM inbox_conversationevent WHERE conversation_id IN "
    "(SELECT id FROM inbox_conversation WHERE channel_account_id = ANY(%s))",
    "DELETE FROM inbox_outboundaction WHERE conversation_id IN "
    "(SELECT id FROM inbox_conversation WHERE channel_account_id = ANY(%s))",
    "DELETE FROM inbox_message WHERE channel_account_id = ANY(%s)",
    "DELETE FROM inbox_conversation WHERE channel_account_id = ANY(%s)",
]


def clean_up(channel_ids: list[int], scopes: list[str]) -> None:
    """Delete the run's channels with everything in them, and its contacts and persons."""
    from django.db import DatabaseError, connection, transaction

    from channels_integrations.models import ChannelAccount
    from inbox.models import Contact, Person

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in CLEAN_UP:
                cursor.execute(statement, [channel_ids])
    except DatabaseError as error:  # a table renamed, or a new one pointing at these rows
        print(f"fast clean-up failed ({error}); the ORM's cascade does it", file=sys.stderr)
    ChannelAccount.objects.filter(id__in=channel_ids).delete()  # cascades to what is left
    person_ids = list(Contact.objects.filter(scope__in=scopes).values_list("person_id", flat=True))
    Contact.objects.filter(scope__in=scopes).delete()
    Person.objects.filter(id__in=person_ids).delete()


def drop_database(url: str, name: str) -> None:
    """Drop the database this run created (it holds nothing else)."""
    from django.db import connections

    connections.close_all()
    server = psycopg2.connect(url, dbname="postgres")
    server.autocommit = True  # DROP DATABASE cannot run inside a transaction
    try:
        with server.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
    finally:
        server.close()


def database_url_or_exit() -> tuple[str, str]:
    """DATABASE_URL and the database name in it."""
    url = os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or not name:
        # The figures only mean something on the production engine; SQLite would mislead.
        example = "postgres://postgres@127.0.0.1:5432/inbox_bench"
        print(f"DATABASE_URL must name a PostgreSQL database, e.g. {example}", file=sys.stderr)
        sys.exit(2)
    return url, name


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the stream")
    parser.add_argument("--page", type=int, default=100, help="items per page")
    parser.add_argument(
        "--naive-items",
        type=int,
        default=2000,  # its rate is flat from the first page on; more only makes the run longer
        help="the naive loop writes the first pages, up to this many items",
    )
    parser.add_argument(
        "--separate-no-live",
        action="store_true",
        help="also run the ingest with live rendering switched off, as a variant of its own",
    )
    args = parser.parse_args()
    if args.items < 1 or args.page < 1 or args.naive_items < 1:
        parser.error("--items, --page and --naive-items must be positive")
    url, name = database_url_or_exit()
    created = ensure_database(url, name)
    if created:
        print(f"created database {name} (dropped again at the end)")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.factories import make_mastodon_channel

    # Live events go to an in-process layer, whatever REDIS_URL says: with nobody connected the
    # rendering is the real work, and the figures do not depend on a Redis server.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    call_command("migrate", verbosity=0)

    built = time.perf_counter()
    stream = build_stream(args.items, args.page)
    naive_pages: list[list[InboundItem]] = []
    for page in stream.pages:
        if sum(map(len, naive_pages)) >= args.naive_items:
            break
        naive_pages.append(page)
    built = time.perf_counter() - built
    # The stream is a few hundred MB of objects that a poll never holds; frozen, the garbage
    # collector stops walking them on every full collection, which would bill the bench's own
    # memory to whatever allocates most (the live rendering).
    gc.collect()
    gc.freeze()
    lengths = sorted(len(item.text) for page in stream.pages for item in page)
    print(
        f"stream: {stream.items:,} items in {len(stream.pages):,} pages of {args.page} "
        f"(built in {built:.1f} s): {stream.unique:,} new, of them {stream.replies:,} replies "
        f"into earlier threads; {stream.duplicates:,} duplicates of items of earlier pages; "
        f"{stream.threads:,} threads, {stream.authors:,} authors; text length median "
        f"{lengths[len(lengths) // 2]}, 99th percentile {lengths[len(lengths) * 99 // 100]}, "
        f"longest {lengths[-1]} characters"
    )

    run = uuid.uuid4().hex[:8]
    channels: list[int] = []
    scopes: list[str] = []

    def account(label: str) -> tuple[int, str]:
        """A fresh channel account and contact scope, so no variant sees another's rows."""
        channels.append(make_mastodon_channel(name=f"bench {run} {label}").pk)
        scopes.append(f"bench-{run}-{label}.example")
        return channels[-1], scopes[-1]

    started = time.perf_counter()
    load_before = os.getloadavg()
    try:
        # Not measured: the first pages of any variant pay for connections, caches and template
        # compilation.
        warm = stream.pages[:3]
        warm_up: list[Variant] = [
            Ingest(warm, *account("warm-up-ingest"), live=True),
            Raw(warm, *account("warm-up-raw"), url),
            Naive(warm[:1], *account("warm-up-naive")),
        ]
        run_interleaved(warm_up)
        for variant in warm_up:
            variant.close()

        ingest = Ingest(stream.pages, *account("ingest"), live=True)
        raw = Raw(stream.pages, *account("raw"), url)
        naive = Naive(naive_pages, *account("naive"))
        variants: list[Variant] = [ingest, raw, naive]
        if args.separate_no_live:
            variants.insert(1, Ingest(stream.pages, *account("ingest-no-live"), live=False))
        print(f"writing, interleaved page by page: {', '.join(v.label for v in variants)}")
        run_interleaved(variants)
        for variant in variants:
            variant.close()
            check_rows(variant)
    finally:
        load_after = os.getloadavg()
        cleaning = time.perf_counter()
        if created:
            drop_database(url, name)
        else:
            clean_up(channels, scopes)
        print(f"cleaned up in {time.perf_counter() - cleaning:.1f} s")
    elapsed = time.perf_counter() - started
    print(
        f"\non {name}, {os.cpu_count()} CPUs (load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after), pages of {args.page}, one transaction per page, "
        f"{elapsed:.0f} s in all\n"
    )
    report(variants, ingest, raw, naive)


def report(variants: list[Variant], ingest: Ingest, raw: Raw, naive: Naive) -> None:
    without_rendering = ingest.seconds - ingest.live_seconds
    rows = [(v.label, v.items, v.done, v.seconds, v.queries_per_page()) for v in variants]
    rows.insert(
        1,
        (
            "  the same, rendering time taken out",
            ingest.items,
            ingest.done,
            without_rendering,
            ingest.queries_per_page(),
        ),
    )
    header = f"{'':36}{'items':>9}{'pages':>7}{'seconds':>9}{'ms/page':>9}{'items/s':>9}"
    print(f"{header}{'queries/page':>14}")
    for label, items, pages, seconds, queries in rows:
        print(
            f"{label:36}{items:>9,}{pages:>7,}{seconds:>9.1f}{seconds / pages * 1000:>9.1f}"
            f"{items / seconds:>9,.0f}{queries:>14.1f}"
        )
    print(
        f"\nthe naive loop wrote the first {naive.items:,} items only ({naive.done} of the pages); "
        "it is compared in items/s"
    )
    print(
        f"live rendering (on commit): {ingest.live_seconds:.1f} s of the ingest's "
        f"{ingest.seconds:.1f} s ({ingest.live_seconds / ingest.seconds:.0%}), "
        f"{sum(ingest.live_queries.values()) / ingest.done:.1f} queries per page"
    )
    detail = ", ".join(
        f"{kind} {count / ingest.done:.1f}" for kind, count in ingest.queries.most_common()
    )
    print(f"ingest queries per page in its transaction: {detail}\n")
    figures = [
        ("live rendering on", ingest.rate),
        ("rendering time out", ingest.items / without_rendering),
    ]
    figures += [(v.label.split(", ")[-1], v.rate) for v in variants if v.label.endswith("off")]
    for label, rate in figures:
        to_raw, to_naive = rate / raw.rate, rate / naive.rate
        print(
            f"ingest ({label}) / raw   = {to_raw:5.2f}  (target >= {RAW_TARGET}): "
            f"{verdict(to_raw >= RAW_TARGET)}"
        )
        print(
            f"ingest ({label}) / naive = {to_naive:5.1f}  (target >= {NAIVE_TARGET:.0f}):  "
            f"{verdict(to_naive >= NAIVE_TARGET)}"
        )


if __name__ == "__main__":
    main()
