"""Benchmark `inbox.ingest.ingest_page` against a bare batched insert on the same PostgreSQL.

Usage (from the project root):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox_bench \
        .venv/bin/python bench/ingest.py [--items 5000] [--page 40]

Each run makes its own channel account and its own contact scope, so it never sees rows of an
earlier run, and deletes everything it made at the end (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import urlsplit

import psycopg2
from psycopg2.extras import execute_values

if TYPE_CHECKING:
    from channels_integrations.base import FetchedPage, InboundItem

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.create_database import ensure_database  # noqa: E402  (needs ROOT on the path)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Opening posts and follow-ups per language, the mix a German brand sees on Mastodon.
POSTS = {
    "de": [
        "Hallo @brand, mein Paket ist seit einer Woche unterwegs. Könnt ihr nachsehen?",
        "Warum ist die App so langsam? Seit dem Update lädt gar nichts mehr.",
        "Danke für die schnelle Hilfe gestern, hat alles geklappt! 👍",
    ],
    "en": [
        "Hey @brand, my order never arrived. Order number 48213, can you check?",
        "Your checkout keeps failing with a card error, tried three cards already.",
        "Is there a student discount? Couldn't find anything on the website.",
    ],
}
FOLLOW_UPS = {
    "de": ["Noch keine Antwort?", "Nachtrag: die Bestellnummer ist 48213."],
    "en": ["Any update on this?", "Never mind, found it. Thanks anyway!"],
}


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


def build_items(n: int, run: str) -> list[InboundItem]:
    from channels_integrations.base import InboundAuthor, InboundItem
    from inbox.models import ConversationKind

    rng = random.Random(42)  # same texts and threads every run, so runs are comparable
    authors = [
        InboundAuthor(
            external_id=f"{run}-a{i}",
            handle=f"user{i}@social.example",
            display_name=rng.choice(["Anna", "Jonas", "Mia", "Ben", "Sam", "Alex"]) + f" {i}",
            avatar_url=f"https://social.example/avatars/{i}.png",
            profile_url=f"https://social.example/@user{i}",
        )
        for i in range(max(1, n // 10))
    ]
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    items: list[InboundItem] = []
    for i in range(n):
        status_id = f"{run}-{i:07d}"
        author = rng.choice(authors)
        is_reply = i > 0 and rng.random() < 0.2
        language = rng.choice(["de", "en"])
        text = rng.choice(FOLLOW_UPS[language] if is_reply else POSTS[language])
        # Replies come soon after what they answer, so some parents sit in the same page.
        parent = items[rng.randrange(max(0, i - 100), i)].external_id if is_reply else ""
        url = f"https://social.example/@{author.handle.split('@')[0]}/{status_id}"
        status = {"id": status_id, "url": url, "content": f"<p>{text}</p>", "visibility": "public"}
        items.append(
            InboundItem(
                external_id=status_id,
                thread_key=status_id,  # as the Mastodon connector does: one status, one key
                kind=ConversationKind.MENTION,
                author=author,
                text=text,
                # Three items a second: timestamps tie, as platforms' rounded ones do.
                created_at=start + timedelta(seconds=i // 3),
                parent_external_id=parent,
                permalink=url,
                language=language,
                raw={"id": f"n{i}", "type": "mention", "status": status},
            )
        )
    return items


def paginate(items: list[InboundItem], size: int) -> list[tuple[dict[str, Any], FetchedPage]]:
    """(expected_cursor, page) pairs, chained as a poll would chain them."""
    from channels_integrations.base import FetchedPage

    pairs: list[tuple[dict[str, Any], FetchedPage]] = []
    cursor: dict[str, Any] = {}  # a new channel account starts with an empty cursor
    for first in range(0, len(items), size):
        chunk = items[first : first + size]
        page = FetchedPage(items=chunk, cursor={"min_id": chunk[-1].external_id}, caught_up=False)
        pairs.append((cursor, page))
        cursor = page.cursor
    return pairs


@contextmanager
def capture_queries(enabled: bool) -> Iterator[Counter[str]]:
    """Query count by statement kind and table, for one representative page only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts: Counter[str] = Counter()
    if not enabled:
        yield counts
        return
    with CaptureQueriesContext(connection) as ctx:
        yield counts
    for query in ctx.captured_queries:
        words = query["sql"].replace('"', "").split()
        verb = words[0].upper()
        keyword = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}.get(verb, "")
        table = words[words.index(keyword) + 1] if keyword and keyword in words else ""
        counts[f"{verb} {table}".strip()] += 1


def ingest_all(
    pairs: list[tuple[dict[str, Any], FetchedPage]], channel_id: int, scope: str
) -> tuple[float, Counter[str]]:
    from inbox.ingest import ingest_page

    # The middle page: past the first pages, where nearly every author is new, so it shows a
    # channel that has been running for a while.
    sample = len(pairs) // 2
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    for index, (expected, page) in enumerate(pairs):
        with capture_queries(index == sample) as captured:
            ingest_page(
                channel_account_id=channel_id,
                expected_cursor=expected,
                page=page,
                contact_scope=scope,
            )
        counts += captured
    return time.perf_counter() - started, counts


def baseline(url: str, items: list[InboundItem], size: int) -> float:
    """The same rows through the cheapest path: execute_values, one commit per page."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE bench_rows (external_id text PRIMARY KEY, text text)")
            conn.commit()
            rows = [(item.external_id, item.text) for item in items]
            started = time.perf_counter()
            for first in range(0, len(rows), size):
                execute_values(
                    cur,
                    "INSERT INTO bench_rows (external_id, text) VALUES %s "
                    "ON CONFLICT (external_id) DO NOTHING",
                    rows[first : first + size],
                    page_size=size,
                )
                conn.commit()
            return time.perf_counter() - started
    finally:
        conn.close()


def no_publish(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Stands in for inbox.live.send_events: nothing leaves the process during the benchmark."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--page", type=int, default=40)
    args = parser.parse_args()
    url, name = database_url_or_exit()
    if ensure_database(url, name):
        print(f"created database {name}")

    import django

    django.setup()
    from django.core.management import call_command

    from channels_integrations.models import ChannelAccount
    from inbox.models import Contact, Message, Person
    from tests.factories import make_mastodon_channel

    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    scope = f"bench-{run}.example"  # a contact id space of its own: contacts start fresh too
    items = build_items(args.items, run)
    pairs = paginate(items, args.page)
    channel = make_mastodon_channel(name=f"bench {run}")
    try:
        with mock.patch("inbox.live.send_events", no_publish):
            first, first_queries = ingest_all(pairs, channel.id, scope)
            count = Message.objects.filter(channel_account=channel).count()
            assert count == len(items), f"expected {len(items)} messages, found {count}"
            # Replay from the start: the worst case of overlapping pages, every item known.
            ChannelAccount.objects.filter(pk=channel.pk).update(cursor={})
            again, again_queries = ingest_all(pairs, channel.id, scope)
            after = Message.objects.filter(channel_account=channel).count()
            assert after == count, f"re-ingest added {after - count} messages"
        bare = baseline(url, items, args.page)
    finally:
        channel.delete()  # cascades to conversations, messages, events
        person_ids = list(Contact.objects.filter(scope=scope).values_list("person_id", flat=True))
        Contact.objects.filter(scope=scope).delete()
        Person.objects.filter(id__in=person_ids).delete()

    print(f"\ningest_page on {name}: {len(items)} items, {len(pairs)} pages of {args.page}")
    print(
        "live events: inbox.live.send_events patched to a no-op, so nothing is sent;\n"
        "the changed rows are still read and rendered on commit, as in production\n"
    )
    print(f"{'':28}{'items':>8}{'pages':>7}{'seconds':>10}{'items/s':>10}")
    for label, seconds in [
        ("ingest, first pass", first),
        ("re-ingest (all duplicates)", again),
        ("baseline execute_values", bare),
    ]:
        rate = len(items) / seconds
        print(f"{label:28}{len(items):>8}{len(pairs):>7}{seconds:>10.2f}{rate:>10,.0f}")
    print(f"\ningest is {first / bare:.1f}x slower than a bare batched insert")
    for label, counts in [("first pass", first_queries), ("re-ingest", again_queries)]:
        detail = ", ".join(f"{kind} {n}" for kind, n in counts.most_common())
        print(f"SQL queries per page, {label}: {sum(counts.values())} ({detail})")


if __name__ == "__main__":
    main()
