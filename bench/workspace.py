"""Generate a realistic agent workspace in PostgreSQL, fast: the data set of `bench/inbox.py`.

    generate_workspace(conversations=200_000, messages=1_000_000, channels=20, departments=4)

writes, into the database Django is connected to (it must be empty of workspace rows; see
`wipe_workspace`): departments owning channels on several platforms, a lead and agents per
department and one admin, persons and their contacts (about 0.6 per conversation, 2% of persons
with a second identity), conversations with skewed thread lengths, German and English messages
from a small vocabulary (so that a search for "Rechnung" or "delivery" has real hits), tags on a
few percent of them, and one or two timeline events each. Statuses follow a working inbox: most
conversations resolved, a few thousand new, open, pending or snoozed, mostly among the recent
ones; `last_message_at` spreads over a year, denser towards now.

Rows are streamed with COPY in batches (memory stays flat whatever the size). The indexes that
back no constraint are dropped during the load and built once at the end, which is several times
faster than maintaining them row by row; the full-text trigger stays on (see `MessageSearch`).
"""

from __future__ import annotations

import io
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg2

# --- vocabulary --------------------------------------------------------------------------------

# Short, recurring sentences: the full-text search must find real hits for "Rechnung",
# "Rechnungen", "Lieferung", "invoice", "delivery" and friends.
SENTENCES = {
    "de": [
        "Hallo, meine Rechnung ist falsch, bitte korrigieren.",
        "Ich habe zwei Rechnungen für dieselbe Bestellung bekommen.",
        "Wo bleibt meine Lieferung? Die Sendungsverfolgung zeigt nichts an.",
        "Die Lieferung kam beschädigt an, der Karton war völlig zerdrückt.",
        "Könnt ihr bitte nachsehen, wo meine Bestellung bleibt?",
        "Warum ist die App so langsam? Seit dem Update lädt gar nichts mehr.",
        "Danke für die schnelle Hilfe gestern, hat alles geklappt! 👍",
        "Gibt es die Schuhe auch in Größe 46?",
        "Ich warte seit drei Tagen auf eine Antwort vom Kundenservice.",
        "Bestellnummer 48213, Lieferung angeblich zugestellt, aber nichts angekommen.",
        "Eure Hotline ist dauerbesetzt, was soll das?",
        "Kann ich die Rücksendung auch in der Filiale abgeben?",
        "Der Gutscheincode funktioniert an der Kasse nicht.",
        "Wie lange dauert die Erstattung normalerweise?",
        "Ich habe zweimal bezahlt, bitte um Rückerstattung.",
        "Die Rechnungsadresse lässt sich im Konto nicht ändern.",
        "Großartiger Service, gerne wieder! 😍",
        "Wann kommt die Winterkollektion in die Filialen?",
        "Nach zwei Wäschen ist die Farbe völlig ausgeblichen.",
        "Bitte schickt mir die Rechnung noch einmal als PDF.",
    ],
    "en": [
        "Hi, my invoice shows the wrong amount.",
        "I was charged twice, please send a corrected invoice.",
        "Where is my delivery? Tracking has not moved for a week.",
        "The delivery arrived damaged, the box was crushed.",
        "Order number 48213, can you check what happened?",
        "Your checkout keeps failing with a card error.",
        "Is there a student discount? Couldn't find anything on the website.",
        "Love the new collection, the colours are amazing! 😍",
        "Do you ship to Ireland?",
        "The app logs me out every single time I open it.",
        "Still waiting for my refund, it's been two weeks.",
        "Great customer service, thanks Sarah!",
        "The size chart is completely off, I had to return everything.",
        "Any update on this?",
        "Can I change the delivery address after ordering?",
        "Your tracking page says delivered but there's nothing here.",
        "I need the invoices for last year for my tax return.",
        "Please fix the search, it never finds anything.",
        "When is the sale starting? 👀",
        "Never mind, found it. Thanks anyway! 🙏",
    ],
}
REPLIES = {
    "de": [
        "Danke für deine Nachricht! Wir schauen uns das sofort an.",
        "Das tut uns leid. Schick uns bitte deine Bestellnummer per Direktnachricht.",
        "Die korrigierte Rechnung ist unterwegs, bitte prüf dein Postfach.",
        "Deine Lieferung ist laut Spediteur morgen bei dir.",
        "Die Erstattung ist veranlasst und dauert drei bis fünf Werktage.",
        "Gern geschehen, einen schönen Tag noch!",
    ],
    "en": [
        "Thanks for reaching out! We're looking into it right away.",
        "Sorry about that. Please send us your order number in a direct message.",
        "The corrected invoice is on its way, please check your inbox.",
        "The carrier says your delivery will arrive tomorrow.",
        "Your refund has been issued and takes three to five business days.",
        "You're welcome, have a great day!",
    ],
}
POSTS = [
    "Unsere neue Winterkollektion ist da! ❄️",
    "Gewinnspiel: Was ist euer Lieblingsteil?",
    "Heute 20% auf alles im Onlineshop.",
    "Our new app update is live: faster checkout and dark mode.",
    "Free delivery this weekend on every order.",
    "Behind the scenes at our warehouse 📦",
]
FIRST_NAMES = ["Anna", "Jonas", "Mia", "Lukas", "Sophie", "Ben", "Emma", "Paul", "Lea", "Finn"]
FIRST_NAMES += ["Sam", "Alex", "Olivia", "Noah", "Grace", "Jack", "Chloe", "Liam", "Zoë", "Jürgen"]
LAST_NAMES = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"]
LAST_NAMES += ["Smith", "Jones", "Taylor", "Brown", "Wilson", "O'Brien", "Nguyen", "Kowalski"]
DEPARTMENT_NAMES = ["Kundenservice", "Versand", "Buchhaltung", "Marketing", "Presse", "Technik"]
TAG_NAMES = ["Rechnung", "Lieferung", "Reklamation", "Presse", "Shitstorm", "Lob", "billing"]
TAG_NAMES += ["delivery", "refund", "bug", "Datenschutz", "Influencer"]
# (platform, share of channels); e-mail and Telegram are private by nature.
PLATFORMS = [
    ("facebook", 5),
    ("instagram", 4),
    ("mastodon", 3),
    ("x", 3),
    ("youtube", 2),
    ("email", 2),
    ("telegram", 1),
]
PERMALINKS = {
    "facebook": "https://www.facebook.com/brand/posts/{post}?comment_id={id}",
    "instagram": "https://www.instagram.com/p/{post}/c/{id}/",
    "mastodon": "https://social.example/@brand/{id}",
    "x": "https://x.com/someone/status/{id}",
    "youtube": "https://www.youtube.com/watch?v={post}&lc={id}",
    "email": "",
    "telegram": "",
}
PASSWORD = "bench-password"  # noqa: S105  (a throwaway database; the bench logs in with force_login)
YEAR = 365 * 24 * 3600.0
ACTIVE_STATUSES = ("new", "open", "pending", "snoozed")
# Workspace tables in the order the load fills them; `wipe_workspace` empties them.
WORKSPACE_TABLES = [
    "auth_user",
    "inbox_department",
    "channels_integrations_channelaccount",
    "inbox_tag",
    "inbox_person",
    "inbox_contact",
    "inbox_conversation",
    "inbox_message",
    "inbox_conversationevent",
    "inbox_conversation_tags",
]
# Tables whose indexes (those that back no constraint) are built after the load, not during it.
BULK_TABLES = ["inbox_person", "inbox_contact", "inbox_conversation", "inbox_message"]
BULK_TABLES += ["inbox_conversationevent", "inbox_conversation_tags"]
MARKER_PREFIX = "inbox bench workspace "


class WorkspaceNotEmpty(Exception):
    """The database already holds conversations; the generator writes into empty tables only."""


@dataclass
class WorkspaceSummary:
    """What `generate_workspace` made, and how long each phase took (seconds)."""

    conversations: int
    messages: int
    persons: int
    contacts: int
    channels: int
    departments: int
    agents: int
    tagged_conversations: int
    events: int
    statuses: dict[str, int]
    admin_username: str
    agent_username: str
    agent_department: str
    seed: int
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self))  # phases keep their order

    @classmethod
    def from_json(cls, text: str) -> WorkspaceSummary:
        return cls(**json.loads(text))


# --- COPY helpers ------------------------------------------------------------------------------


def _text(value: str) -> str:
    """A value in COPY's text format (backslash escapes; tabs and newlines must not be raw)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


NULL = "\\N"


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class Loader:
    """Runs the load's statements on a connection and thread of its own, so that PostgreSQL
    works on one batch while Python builds the next (psycopg2 releases the GIL while it waits).

    The connection is in the `replica` replication role: PostgreSQL fires no ordinary triggers
    there, and foreign keys are triggers, so rows are not checked one by one (and need not
    arrive in dependency order); `check_foreign_keys` checks every reference in one pass at the
    end. The full-text trigger does not fire either: see `MESSAGE_INSERT`.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.connection = connect()
        self.connection.autocommit = True
        self.cursor = self.connection.cursor()
        self.cursor.execute("SET session_replication_role = replica")
        self.jobs: queue.Queue[tuple[str, io.StringIO, list[str]] | None] = queue.Queue(3)
        self.seconds: dict[str, float] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="workspace-loader", daemon=True)
        self.thread.start()

    def submit(self, label: str, buffer: io.StringIO, statements: list[str]) -> None:
        """COPY `buffer` with the first statement, then run the others (bounded: waits while
        three batches are queued, so memory stays flat)."""
        if self.error is not None:
            raise RuntimeError("the load failed") from self.error
        self.jobs.put((label, buffer, statements))

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            label, buffer, statements = job
            if self.error is not None:
                continue  # drain the queue; the error is raised in the main thread
            started = time.perf_counter()
            try:
                buffer.seek(0)
                self.cursor.copy_expert(statements[0], buffer)
                for statement in statements[1:]:
                    self.cursor.execute(statement)
            except BaseException as error:  # re-raised by submit() or close()
                self.error = error
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

    def close(self) -> None:
        """Wait for every queued batch; raise what went wrong in the thread."""
        self.jobs.put(None)
        self.thread.join()
        self.cursor.close()
        self.connection.close()
        if self.error is not None:
            raise RuntimeError("the load failed") from self.error


class CopyStream:
    """Rows for one table, handed to the loader whenever `batch` rows have piled up."""

    def __init__(
        self,
        loader: Loader,
        table: str,
        columns: Sequence[str],
        batch: int,
        *,
        staging: str = "",
        then: Sequence[str] = (),
    ) -> None:
        self.loader = loader
        self.label = table
        target = staging or table
        self.statements = [f"COPY {target} ({', '.join(columns)}) FROM STDIN", *then]
        self.batch = batch
        self.buffer = io.StringIO()
        self.pending = 0
        self.rows = 0
        self.conversations: set[str] = set()  # for the tag stream: how many got a tag

    def add(self, row: Iterable[str]) -> None:
        self.buffer.write("\t".join(row))
        self.buffer.write("\n")
        self.pending += 1
        if self.pending >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.loader.submit(self.label, self.buffer, self.statements)
        self.rows += self.pending
        self.pending = 0
        self.buffer = io.StringIO()


def required_columns(cursor: Any, table: str) -> set[str]:
    """The NOT NULL columns of `table` without a database default (Django keeps defaults in
    Python, so COPY must give every one of them)."""
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
        [table],
    )
    return {row[0] for row in cursor.fetchall()}


def _check_columns(cursor: Any, table: str, columns: Sequence[str]) -> None:
    missing = required_columns(cursor, table) - set(columns)
    if missing:
        # A model gained a NOT NULL field: COPY would fail halfway through; say which, early.
        raise RuntimeError(f"the generator does not fill {table}.{', '.join(sorted(missing))}")


# (table, column, referenced table) for every reference the load writes.
REFERENCES = [
    ("inbox_contact", "person_id", "inbox_person"),
    ("inbox_conversation", "contact_id", "inbox_contact"),
    ("inbox_conversation", "channel_account_id", "channels_integrations_channelaccount"),
    ("inbox_conversation", "assignee_id", "auth_user"),
    ("inbox_conversation", "department_id", "inbox_department"),
    ("inbox_message", "conversation_id", "inbox_conversation"),
    ("inbox_message", "channel_account_id", "channels_integrations_channelaccount"),
    ("inbox_message", "contact_id", "inbox_contact"),
    ("inbox_message", "author_id", "auth_user"),
    ("inbox_conversationevent", "conversation_id", "inbox_conversation"),
    ("inbox_conversationevent", "actor_id", "auth_user"),
    ("inbox_conversation_tags", "conversation_id", "inbox_conversation"),
    ("inbox_conversation_tags", "tag_id", "inbox_tag"),
]


def check_foreign_keys(cursor: Any) -> None:
    """Raise if a loaded row points at nothing (what the skipped per-row checks would catch)."""
    for table, column, target in REFERENCES:
        cursor.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "  # noqa: S608  (constants)
            f"(SELECT 1 FROM {target} r WHERE r.id = t.{column})"
        )
        dangling = cursor.fetchone()[0]
        if dangling:
            raise RuntimeError(f"{dangling} rows of {table}.{column} point at no {target}")


def check_search_vectors(cursor: Any) -> None:
    """Raise if a sample of messages has other stems than the trigger would have given them."""
    cursor.execute(
        "SELECT count(*) FROM inbox_message TABLESAMPLE SYSTEM (1) "  # noqa: S608  (constants)
        f"WHERE search_vector IS DISTINCT FROM {SEARCH_VECTOR.format(text='text')}"
    )
    differing = cursor.fetchone()[0]
    if differing:
        raise RuntimeError(f"{differing} sampled messages differ from the search trigger's stems")


@contextmanager
def indexes_built_afterwards(cursor: Any, tables: Sequence[str]) -> Iterator[list[str]]:
    """Drop the indexes of `tables` that back no constraint, and build them again on exit
    (also on failure: the schema is left as the migrations made it)."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "WHERE t.relname = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        [list(tables)],
    )
    definitions = cursor.fetchall()
    for name, _ in definitions:
        cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield [name for name, _ in definitions]
    finally:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in definitions:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")


# --- the generator -----------------------------------------------------------------------------


def _skewed(rng: random.Random, n: int, power: float) -> int:
    """An index in range(n), low indexes far more likely (a few write a lot, most once)."""
    return min(n - 1, int(n * rng.random() ** power))


def _thread_lengths(rng: random.Random, conversations: int, messages: int) -> list[int]:
    """Messages per conversation, summing to `messages`: most threads short, a few long."""
    lengths = [1] * conversations
    extra = messages - conversations
    if extra > 0:
        # Pareto weights: a few conversations get dozens of messages, most one to five.
        weights = [rng.paretovariate(2.5) for _ in range(conversations)]
        for index in rng.choices(range(conversations), weights=weights, k=extra):
            lengths[index] += 1
    return lengths


@dataclass
class _Setup:
    """The small tables, made with the ORM: ids the bulk rows point at."""

    admin_id: int
    admin_username: str
    agent_username: str
    agent_department: str
    agents_by_department: dict[int, list[int]]
    departments: list[int]
    channel_ids: list[int]
    channel_platforms: list[str]
    channel_weights: list[float]
    channel_department: dict[int, int]
    tag_ids: list[int]


def _make_small_tables(
    rng: random.Random, *, channels: int, departments: int, agents_per_department: int
) -> _Setup:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from channels_integrations.models import ChannelAccount
    from inbox.models import Department, Membership, MembershipRole, Tag

    user_model = get_user_model()
    password = make_password(PASSWORD)  # hashed once: hashing is slow by design
    names = [
        DEPARTMENT_NAMES[i] if i < len(DEPARTMENT_NAMES) else f"Abteilung {i + 1}"
        for i in range(departments)
    ]
    made = Department.objects.bulk_create(
        Department(name=name, slug=name.lower().replace(" ", "-")) for name in names
    )
    department_ids = [d.pk for d in made]
    admin = user_model.objects.create(
        username="bench-admin", password=password, is_staff=True, is_superuser=True
    )
    agents_by_department: dict[int, list[int]] = {}
    for department in made:
        users = user_model.objects.bulk_create(
            user_model(username=f"{department.slug}-{n}", password=password, first_name=f"{n}")
            for n in range(agents_per_department)
        )
        agents_by_department[department.pk] = [u.pk for u in users]
        Membership.objects.bulk_create(
            Membership(
                user=user,
                department=department,
                role=MembershipRole.LEAD if n == 0 else MembershipRole.AGENT,
            )
            for n, user in enumerate(users)
        )

    platforms = [name for name, share in PLATFORMS for _ in range(share)]
    template = ChannelAccount(platform="mastodon", name="template")
    template.set_credentials({"access_token": "bench"})
    accounts = ChannelAccount.objects.bulk_create(
        ChannelAccount(
            platform=platforms[i % len(platforms)],
            name=f"{platforms[i % len(platforms)].title()} Marke {i + 1}",
            settings={"base_url": "https://social.example"},
            credentials_encrypted=template.credentials_encrypted,
        )
        for i in range(channels)
    )
    channel_ids = [a.pk for a in accounts]
    # The first channels carry most of the traffic, and the first department (customer
    # service) owns the first half of them: its agents see about three quarters of everything,
    # so their deep pages are as deep as an admin's. The busiest channel is shared.
    weights = [1.0 / (i + 1) ** 0.7 for i in range(channels)]
    owner: dict[int, int] = {}
    through = Department.channel_accounts.through
    links = []
    for i, channel_id in enumerate(channel_ids):
        if i < max(1, channels // 2) or departments == 1:
            department_id = department_ids[0]
        else:
            department_id = department_ids[1 + i % (departments - 1)]
        owner[channel_id] = department_id
        links.append(through(department_id=department_id, channelaccount_id=channel_id))
    if departments > 1:
        links.append(through(department_id=department_ids[-1], channelaccount_id=channel_ids[0]))
    through.objects.bulk_create(links)
    tags = Tag.objects.bulk_create(Tag(name=name) for name in TAG_NAMES)
    first = made[0]
    return _Setup(
        admin_id=admin.pk,
        admin_username=admin.get_username(),
        agent_username=f"{first.slug}-1",
        agent_department=first.name,
        agents_by_department=agents_by_department,
        departments=department_ids,
        channel_ids=channel_ids,
        channel_platforms=[a.platform for a in accounts],
        channel_weights=weights,
        channel_department=owner,
        tag_ids=[t.pk for t in tags],
    )


def generate_workspace(
    *,
    conversations: int = 200_000,
    messages: int = 1_000_000,
    channels: int = 20,
    departments: int = 4,
    agents_per_department: int = 6,
    contacts: int | None = None,
    tag_share: float = 0.04,
    seed: int = 42,
    now: datetime | None = None,
    batch: int = 20_000,
    progress: Callable[[str], None] | None = None,
) -> WorkspaceSummary:
    """Fill the empty workspace tables of Django's default database (PostgreSQL) with a
    workspace of the given size; the same seed and `now` give the same rows.

    Guarantees: every NOT NULL column is set (checked against the schema before loading); the
    indexes and the full-text column are as the migrations and trigger make them; sequences
    continue after the generated ids; the tables are VACUUM ANALYZEd, so the planner sees the
    real sizes. Raises WorkspaceNotEmpty if conversations exist already (nothing is written).
    """
    from django.db import connection

    if conversations < 1 or messages < conversations or channels < 1 or departments < 1:
        raise ValueError("need conversations >= 1, messages >= conversations, channels >= 1")
    say = progress or (lambda text: None)
    rng = random.Random(seed)
    now_epoch = (now or datetime.now(UTC)).timestamp()
    phases: dict[str, float] = {}
    started = time.perf_counter()

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM inbox_conversation)")
        if cursor.fetchone()[0]:
            raise WorkspaceNotEmpty("inbox_conversation is not empty")
    setup = _make_small_tables(
        rng, channels=channels, departments=departments, agents_per_department=agents_per_department
    )
    phases["users, departments, channels, tags"] = time.perf_counter() - started

    n_contacts = contacts or max(1, round(conversations * 0.6))
    lengths = _thread_lengths(rng, conversations, messages)
    statuses: dict[str, int] = {}
    tagged = 0
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg2's own
        for table, columns in TABLE_COLUMNS.items():
            _check_columns(cursor, table, columns)
        with indexes_built_afterwards(cursor, BULK_TABLES) as dropped:
            say(f"dropped {len(dropped)} indexes for the load")
            mark = time.perf_counter()
            params = connection.get_connection_params()
            loader = Loader(lambda: psycopg2.connect(**params))
            try:
                loader.cursor.execute(MESSAGE_STAGING)
                by_platform = _load_people(loader, rng, setup, n_contacts, now_epoch, batch)
                streams = _load_conversations(
                    loader, rng, setup, lengths, by_platform, now_epoch, batch, tag_share, statuses
                )
                for stream in streams.values():
                    stream.flush()
            finally:
                loader.close()
            tagged = len(streams["tags"].conversations)
            phases["rows generated and loaded (COPY)"] = time.perf_counter() - mark
            busy = ", ".join(f"{k} {v:.0f} s" for k, v in loader.seconds.items())
            say(f"PostgreSQL's share of the load, by table: {busy}")
            mark = time.perf_counter()
        phases["indexes built after the load"] = time.perf_counter() - mark
        mark = time.perf_counter()
        check_foreign_keys(cursor)
        check_search_vectors(cursor)
        phases["foreign keys and search vectors checked"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for table, column in [
            ("inbox_person", "id"),
            ("inbox_contact", "id"),
            ("inbox_conversation", "id"),
        ]:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608  (constants)
                f"(SELECT max({column}) FROM {table}))"
            )
        # VACUUM fills the visibility map (index-only scans) and ANALYZE the statistics: a
        # freshly loaded table would otherwise be planned as if it were empty.
        for table in WORKSPACE_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        phases["VACUUM ANALYZE"] = time.perf_counter() - mark
        events = streams["events"].rows

    agents = sum(len(ids) for ids in setup.agents_by_department.values())
    return WorkspaceSummary(
        conversations=conversations,
        messages=messages,
        persons=int(n_contacts * 0.98) or 1,
        contacts=n_contacts,
        channels=channels,
        departments=departments,
        agents=agents,
        tagged_conversations=tagged,
        events=events,
        statuses=dict(sorted(statuses.items())),
        admin_username=setup.admin_username,
        agent_username=setup.agent_username,
        agent_department=setup.agent_department,
        seed=seed,
        phases=phases,
    )


def _load_people(
    loader: Loader,
    rng: random.Random,
    setup: _Setup,
    n_contacts: int,
    now_epoch: float,
    batch: int,
) -> dict[str, list[int]]:
    """Persons and contacts; returns contact ids by platform (most active first)."""
    persons = CopyStream(loader, "inbox_person", PERSON_COLUMNS, batch)
    people = CopyStream(loader, "inbox_contact", CONTACT_COLUMNS, batch)
    # Platforms in proportion to their channels' traffic: busy platforms have more people.
    platform_weight: dict[str, float] = {}
    for platform, weight in zip(setup.channel_platforms, setup.channel_weights, strict=True):
        platform_weight[platform] = platform_weight.get(platform, 0.0) + weight
    platforms = list(platform_weight)
    weights = list(platform_weight.values())
    n_persons = int(n_contacts * 0.98) or 1
    names: list[str] = []
    by_platform: dict[str, list[int]] = {p: [] for p in platforms}
    stances = ["skeptic", "experienced_customer", "critic"]
    for pid in range(1, n_persons + 1):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        names.append(name)
        when = _stamp(now_epoch - YEAR * 1.2 * rng.random())
        stance = rng.choice(stances) if rng.random() < 0.03 else ""
        vip = "t" if rng.random() < 0.005 else "f"
        persons.add([str(pid), name, vip, "f", "f", stance, NULL, when, when])
    persons.flush()
    for cid in range(1, n_contacts + 1):
        # The last 2% are second identities of earlier persons (one human, two networks).
        pid = cid if cid <= n_persons else rng.randint(1, n_persons)
        name = names[pid - 1]
        platform = rng.choices(platforms, weights)[0]
        handle = f"{name.split()[0].lower()}{cid}"
        scope = "social.example" if platform == "mastodon" else ""
        when = _stamp(now_epoch - YEAR * 1.2 * rng.random())
        avatar = f"https://cdn.social.example/avatars/{cid}.png" if rng.random() < 0.7 else ""
        profile = f"https://social.example/@{handle}" if platform != "email" else ""
        if platform == "email":
            handle = f"{handle}@mail.example"
        external_id = str(10**9 + cid)
        row = [str(cid), platform, scope, external_id, handle, name, avatar, profile, str(pid)]
        people.add([*row, when, when])
        by_platform[platform].append(cid)
    people.flush()
    return by_platform


PERSON_COLUMNS = ["id", "display_name", "vip", "banned", "blocked", "stance"]
PERSON_COLUMNS += ["merged_into_id", "created_at", "updated_at"]
CONTACT_COLUMNS = ["id", "platform", "scope", "external_id", "handle", "display_name"]
CONTACT_COLUMNS += ["avatar_url", "profile_url", "person_id", "created_at", "updated_at"]
CONVERSATION_COLUMNS = [
    "id",
    "channel_account_id",
    "kind",
    "thread_key",
    "contact_id",
    "post_external_id",
    "post_text",
    "post_permalink",
    "post_media_url",
    "status",
    "snoozed_until",
    "priority",
    "assignee_id",
    "department_id",
    "language",
    "sentiment",
    "first_response_due_at",
    "first_response_at",
    "sla_due_at",
    "waiting_since",
    "last_message_at",
    "last_message_preview",
    "last_message_direction",
    "message_count",
    "created_at",
    "updated_at",
    # The model's defaults (Django keeps them in Python, so COPY must give them).
    "awaiting_approval",
    "requires_approval",
    "sla_paused_remaining",
]
MESSAGE_COLUMNS = [
    "conversation_id",
    "channel_account_id",
    "external_id",
    "parent_external_id",
    "direction",
    "contact_id",
    "author_id",
    "text",
    "attachments",
    "language",
    "permalink",
    "platform_state",
    "platform_state_changed_at",
    "edited_at",
    "edit_history",
    "classifier_scores",
    "sent_at",
    "created_at",
    "updated_at",
    "raw",
]
EVENT_COLUMNS = ["conversation_id", "actor_id", "kind", "data", "created_at"]
TAG_COLUMNS = ["conversation_id", "tag_id"]
TABLE_COLUMNS = {
    "inbox_person": PERSON_COLUMNS,
    "inbox_contact": CONTACT_COLUMNS,
    "inbox_conversation": CONVERSATION_COLUMNS,
    "inbox_message": MESSAGE_COLUMNS,
    "inbox_conversationevent": EVENT_COLUMNS,
    "inbox_conversation_tags": TAG_COLUMNS,
}
# The stems the trigger of migration 0005 computes; `check_search_vectors` compares the two.
SEARCH_VECTOR = (
    "to_tsvector('pg_catalog.german', coalesce({text}, '')) || "
    "to_tsvector('pg_catalog.english', coalesce({text}, ''))"
)
MESSAGE_STAGING = (
    f"CREATE TEMP TABLE message_staging AS SELECT {', '.join(MESSAGE_COLUMNS)} "  # noqa: S608
    "FROM inbox_message WITH NO DATA"
)
# Messages go through a staging table: the search vector is computed once per distinct text of
# the batch (most texts recur: the vocabulary is small) instead of once per row by the trigger,
# which was two thirds of the load's time.
MESSAGE_INSERT = (
    f"INSERT INTO inbox_message ({', '.join(MESSAGE_COLUMNS)}, search_vector) "  # noqa: S608
    f"SELECT {', '.join('s.' + c for c in MESSAGE_COLUMNS)}, v.vector FROM message_staging s "
    f"JOIN (SELECT text, {SEARCH_VECTOR.format(text='text')} AS vector "
    "FROM (SELECT DISTINCT text FROM message_staging) d) v ON v.text = s.text"
)


def _status(rng: random.Random, age: float) -> str:
    """Most conversations are resolved; the open work sits among the recent ones."""
    day = 24 * 3600.0
    active = 0.6 if age < 7 * day else 0.08 if age < 30 * day else 0.005
    if rng.random() < active:
        return rng.choices(ACTIVE_STATUSES, [35, 30, 20, 15])[0]
    return "ignored" if rng.random() < 0.03 else "resolved"


def _kind(rng: random.Random, platform: str) -> str:
    if platform == "email":
        return "email"
    if platform == "telegram":
        return "private_message"
    if platform == "youtube":
        return "comment"
    return rng.choices(["comment", "mention", "private_message"], [60, 20, 20])[0]


def _message_text(rng: random.Random, pool: list[str]) -> str:
    roll = rng.random()
    if roll < 0.75:
        return " ".join(rng.sample(pool, rng.randint(1, 2)))
    if roll < 0.97:
        return " ".join(rng.choices(pool, k=rng.randint(3, 6)))
    return "\n\n".join(" ".join(rng.choices(pool, k=rng.randint(3, 6))) for _ in range(4))


def _preview(text: str, length: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def _load_conversations(
    loader: Loader,
    rng: random.Random,
    setup: _Setup,
    lengths: list[int],
    by_platform: dict[str, list[int]],
    now_epoch: float,
    batch: int,
    tag_share: float,
    statuses: dict[str, int],
) -> dict[str, CopyStream]:
    """Conversations with their messages, events and tags, streamed in conversation id order
    (ids grow with creation time, as in a real inbox)."""
    streams = {
        "conversations": CopyStream(loader, "inbox_conversation", CONVERSATION_COLUMNS, batch),
        "messages": CopyStream(
            loader,
            "inbox_message",
            MESSAGE_COLUMNS,
            batch,
            staging="message_staging",
            then=[MESSAGE_INSERT, "TRUNCATE message_staging"],
        ),
        "events": CopyStream(loader, "inbox_conversationevent", EVENT_COLUMNS, batch),
        "tags": CopyStream(loader, "inbox_conversation_tags", TAG_COLUMNS, batch),
    }
    conversations, messages, events, tags = streams.values()
    n = len(lengths)
    # Creation times over a year, denser towards now; sorted so that ids follow time.
    starts = sorted(now_epoch - YEAR * rng.random() ** 1.4 for _ in range(n))
    channel_index = rng.choices(range(len(setup.channel_ids)), setup.channel_weights, k=n)
    sentiments = ["", "", "negative", "neutral", "positive"]
    empty = ""
    sent_marker = "\\N"
    for i in range(n):
        cid = i + 1
        index = channel_index[i]
        channel_id = setup.channel_ids[index]
        platform = setup.channel_platforms[index]
        department_id = setup.channel_department[channel_id]
        agents = setup.agents_by_department[department_id]
        kind = _kind(rng, platform)
        people = by_platform.get(platform) or by_platform[next(p for p in by_platform if p)]
        contact_id = people[_skewed(rng, len(people), 2.5)]
        language = "de" if rng.random() < 0.6 else "en"
        count = lengths[i]
        # Message times: the first at the start, the rest minutes to a day apart, never in
        # the future.
        times = [starts[i]]
        for _ in range(count - 1):
            times.append(min(now_epoch - 1, times[-1] + rng.expovariate(1 / 7200)))
        age = now_epoch - times[-1]
        status = _status(rng, age)
        statuses[status] = statuses.get(status, 0) + 1
        if status == "new":
            assignee = agents[rng.randrange(len(agents))] if rng.random() < 0.1 else None
        elif status == "ignored":
            assignee = agents[rng.randrange(len(agents))] if rng.random() < 0.2 else None
        else:
            assignee = agents[rng.randrange(len(agents))] if rng.random() < 0.85 else None
        replier = assignee or agents[rng.randrange(len(agents))]
        # Who wrote what: a new conversation has no answer yet; answered ones alternate, and a
        # resolved one mostly ends with our answer.
        directions = ["inbound"]
        for k in range(1, count):
            if status == "new":
                directions.append("inbound")
            elif k == count - 1 and status in ("resolved", "pending") and rng.random() < 0.8:
                directions.append("outbound")
            else:
                directions.append("outbound" if rng.random() < 0.45 else "inbound")
        post_id = post_text = post_link = post_media = empty
        if kind == "comment":
            post_number = _skewed(rng, 300, 2.0)
            post_id = f"{channel_id}-p{post_number}"
            post_text = POSTS[post_number % len(POSTS)]
            post_link = PERMALINKS[platform].format(post=post_id, id=post_id)
            if post_number % 3 == 0:
                post_media = f"https://cdn.social.example/posts/{post_id}.jpg"
        first_external = f"{cid}.0"
        first_response = NULL
        waiting = None
        text = ""
        for k, (when, direction) in enumerate(zip(times, directions, strict=True)):
            inbound = direction == "inbound"
            if inbound:
                pool = SENTENCES[
                    language if rng.random() < 0.95 else ("en", "de")[language == "en"]
                ]
                text = _message_text(rng, pool)
                if waiting is None:
                    waiting = when
            else:
                text = rng.choice(REPLIES[language])
                waiting = None
                if first_response == NULL:
                    first_response = _stamp(when)
            external = f"{cid}.{k}"
            state = "visible"
            roll = rng.random()
            if inbound and roll < 0.03:
                state = ("hidden", "hidden", "deleted", "held")[int(roll * 133) % 4]
            stamp = _stamp(when)
            permalink = PERMALINKS[platform].format(post=post_id or cid, id=external)
            attachments = (
                '[{"type": "image", "url": "https://cdn.social.example/media/1.jpg"}]'
                if inbound and rng.random() < 0.03
                else "[]"
            )
            messages.add(
                [
                    str(cid),
                    str(channel_id),
                    external,
                    first_external if (kind == "comment" and k) else empty,
                    direction,
                    str(contact_id) if inbound else sent_marker,
                    sent_marker if inbound else str(replier),
                    _text(text),
                    attachments,
                    language,
                    permalink,
                    state,
                    stamp if state != "visible" else NULL,
                    NULL,
                    "[]",
                    "{}",
                    stamp,
                    stamp,
                    stamp,
                    f'{{"id": "{external}", "platform": "{platform}"}}' if inbound else NULL,
                ]
            )
        created, last = times[0], times[-1]
        due = created + 24 * 3600
        done = status in ("resolved", "ignored")
        snoozed = _stamp(now_epoch + rng.uniform(3600, 72 * 3600)) if status == "snoozed" else NULL
        priority = rng.choices([0, 1, 2, 3], [10, 77, 10, 3])[0]
        conversations.add(
            [
                str(cid),
                str(channel_id),
                kind,
                f"t{cid}",
                str(contact_id),
                post_id,
                _text(post_text),
                post_link,
                post_media,
                status,
                snoozed,
                str(priority),
                str(assignee) if assignee else NULL,
                str(department_id),
                language,
                rng.choice(sentiments),
                _stamp(due),
                first_response,
                _stamp(due) if first_response == NULL and not done else NULL,
                _stamp(waiting) if waiting is not None else NULL,
                _stamp(last),
                _preview(text),
                directions[-1],
                str(count),
                _stamp(created),
                _stamp(last),
                "f",
                "f",
                "{}",
            ]
        )
        events.add(
            [
                str(cid),
                NULL,
                "conversation_created",
                json.dumps({"thread_key": f"t{cid}", "kind": kind}),
                _stamp(created),
            ]
        )
        if done:
            data = {"before": "open", "after": status}
            actor = str(assignee) if assignee else NULL
            events.add([str(cid), actor, "status_changed", json.dumps(data), _stamp(last)])
        if rng.random() < tag_share:
            tags.conversations.add(str(cid))
            for tag_id in rng.sample(setup.tag_ids, rng.randint(1, 2)):
                tags.add([str(cid), str(tag_id)])
    return streams


def workspace_counts() -> tuple[int, int]:
    """(conversations, messages) in the database, from exact counts."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM inbox_conversation), (SELECT count(*) FROM inbox_message)"
        )
        row = cursor.fetchone()
    return int(row[0]), int(row[1])


def wipe_workspace() -> None:
    """Empty every workspace table (and what points at them). For the bench's own database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(WORKSPACE_TABLES)} RESTART IDENTITY CASCADE")


def read_marker(database: str) -> dict[str, Any] | None:
    """What `write_marker` left on the database: None if the generator never wrote there, {}
    if a generation started and did not finish, else the summary of what it made."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [database],
        )
        row = cursor.fetchone()
    comment = row[0] if row else None
    if not comment or not comment.startswith(MARKER_PREFIX):
        return None
    try:
        data = json.loads(comment[len(MARKER_PREFIX) :])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def write_marker(database: str, summary: WorkspaceSummary | None) -> None:
    """Record on the database that the generator owns its content (and what it made)."""
    from django.db import connection

    text = MARKER_PREFIX + (summary.to_json() if summary else "{}")
    with connection.cursor() as cursor:
        quoted = connection.ops.quote_name(database)
        cursor.execute(f"COMMENT ON DATABASE {quoted} IS %s", [text])
