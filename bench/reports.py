"""Benchmark the reports (inbox.reports) on the 1,000,000-message workspace.

Usage (from the project root):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbox_bench_reports \\
        .venv/bin/python bench/reports.py [--reuse] [--repeat 3]

What it shows: for an admin and for a team lead, a 30-day and a 365-day period, without and with
filters (a department; a platform and an agent), the server time of every report section
(median of --repeat runs after one warm-up) next to, in the same run, a bare
`SELECT count(*)` of the rows that section reads, and their ratio; then the whole page (the
HTTP response through Django's test client) with its query count. Budgets (issue 7): every
section under 1 s, the whole page under 3 s.

The workspace is `bench/workspace.py`'s (200,000 conversations, 1,000,000 messages) in a
database of its own; `--reuse` keeps it between runs. The generator makes no moderation
decisions or SLA breaches, so this script adds them once, deterministically (`enrich`): a
moderation decision on each hidden, deleted or held incoming message and on every 50th other
one, an SLA breach for every late or missed first response, and names for the generated
agents. With `--index` it creates the index docs/reports.md proposes (by hand, not by a
migration) before measuring; `--drop-index` removes it.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This script's folder must not shadow the `inbox` app (see bench/inbox.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from config.create_database import ensure_database  # noqa: E402  (needs ROOT on the path)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

SECTION_BUDGET_MS = 1000.0
PAGE_BUDGET_MS = 3000.0
# The index docs/reports.md proposes: the period's messages without reading the whole table.
INDEX_NAME = "message_sent_idx"
INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON inbox_message (sent_at) "
    "INCLUDE (direction, channel_account_id, conversation_id, author_id)"
)


@dataclass
class Row:
    case: str
    section: str
    ms: float
    baseline_ms: float
    rows: int
    queries: int

    @property
    def ratio(self) -> float:
        return self.ms / self.baseline_ms if self.baseline_ms else float("nan")


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of `repeat` runs after one untimed warm-up."""
    action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


# --- the data the generator does not make ----------------------------------------------------

DECISIONS_SQL = """
INSERT INTO moderation_moderationdecision (
    message_id, conversation_id_at, channel_account_id, channel_name, platform, external_id,
    permalink, text, text_sha256, sent_at, person_id, person_id_at, author_external_id,
    author_handle, author_name, action, automatic, rule_id, rule_name, scores, guideline,
    reason, actor_id, actor_name, created_at, sha256)
SELECT m.id, m.conversation_id, m.channel_account_id, ch.name, ch.platform, m.external_id,
    m.permalink, m.text, '', m.sent_at, NULL, NULL, '', '', '',
    CASE WHEN m.platform_state = 'hidden' THEN 'hide'
         WHEN m.platform_state = 'deleted' THEN 'delete'
         WHEN m.platform_state = 'held' THEN 'flag'
         WHEN m.id % 3 = 0 THEN 'approve'
         WHEN m.id % 3 = 1 THEN 'suggest'
         ELSE 'confirm_hide' END,
    m.id % 4 = 0, NULL, '', '{}'::jsonb, '', '',
    CASE WHEN m.id % 4 = 0 THEN NULL ELSE c.assignee_id END, '',
    m.sent_at + interval '7 minutes', ''
FROM inbox_message m
JOIN inbox_conversation c ON c.id = m.conversation_id
JOIN channels_integrations_channelaccount ch ON ch.id = m.channel_account_id
WHERE m.direction = 'inbound' AND (m.platform_state <> 'visible' OR m.id % 50 = 0)
"""
BREACHES_SQL = """
INSERT INTO inbox_slabreach (conversation_id, kind, due_at, breached_at, department_id,
    assignee_id, policy_id)
SELECT id, 'first_response', first_response_due_at, first_response_due_at, department_id,
    assignee_id, NULL
FROM inbox_conversation
WHERE first_response_due_at IS NOT NULL AND (first_response_at > first_response_due_at
    OR (first_response_at IS NULL AND first_response_due_at < now()))
ON CONFLICT DO NOTHING
"""


def enrich() -> None:
    """Add, once, what the reports read and the generator does not make (see the docstring)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.workspace import FIRST_NAMES, LAST_NAMES
    from moderation.models import ModerationDecision

    if ModerationDecision.objects.exists():
        return
    print("adding moderation decisions, SLA breaches and agent names ...", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(DECISIONS_SQL)
        cursor.execute(BREACHES_SQL)
    users = get_user_model().objects.filter(is_superuser=False).order_by("id")
    for index, user in enumerate(users):
        user.first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
        user.last_name = LAST_NAMES[(index * 3) % len(LAST_NAMES)]
        user.save(update_fields=["first_name", "last_name"])
    with connection.cursor() as cursor:
        for table in ("moderation_moderationdecision", "inbox_slabreach"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"  done in {time.perf_counter() - started:.0f} s")


# --- measuring -------------------------------------------------------------------------------


def baselines(scope: Any) -> dict[str, Callable[[], int]]:
    """Per section, a bare count(*) of the rows it reads (same period, channels, filters)."""
    from inbox.models import Conversation, ConversationEvent, Direction, EventKind, Message
    from moderation.models import ModerationDecision

    period = scope.period
    started = Conversation.objects.filter(
        scope.conversations(), created_at__gte=period.start, created_at__lt=period.end
    )
    channels = {} if scope.channel_ids is None else {"channel_account_id__in": scope.channel_ids}
    return {
        "messages": lambda: scope.messages().count(),
        "times": lambda: (
            started.count()
            + ConversationEvent.objects.filter(
                scope.conversations("conversation__"),
                kind=EventKind.STATUS_CHANGED,
                created_at__gte=period.start,
                created_at__lt=period.end,
            ).count()
        ),
        "conversations": lambda: started.count(),
        "backlog": lambda: (
            Conversation.objects.filter(scope.conversations()).count()
            + ConversationEvent.objects.filter(
                scope.conversations("conversation__"),
                kind=EventKind.STATUS_CHANGED,
                created_at__gte=period.start,
            ).count()
        ),
        "moderation": lambda: ModerationDecision.objects.filter(
            created_at__gte=period.start, created_at__lt=period.end, **channels
        ).count(),
        "tags": lambda: Conversation.tags.through.objects.filter(
            scope.conversations("conversation__"),
            conversation__created_at__gte=period.start,
            conversation__created_at__lt=period.end,
        ).count(),
        "workload": lambda: Message.objects.filter(
            direction=Direction.OUTBOUND,
            sent_at__gte=period.start,
            sent_at__lt=period.end,
            **channels,
        ).count(),
    }


def measure_case(label: str, user: Any, params: dict[str, Any], repeat: int) -> list[Row]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from inbox.conversation_actions import user_zone
    from inbox.reports import sections
    from inbox.reports.forms import period_for
    from inbox.reports.scope import ReportOptions, Scope

    options = ReportOptions.load(user)
    form = options.form(params)
    if not form.is_valid():
        raise SystemExit(f"{label}: {form.errors.as_text()}")
    tz = user_zone(user)
    now = timezone.now()
    cleaned = form.cleaned_data
    period = period_for(
        cleaned["period"], timezone.localtime(now, tz).date(), tz, cleaned["from"], cleaned["to"]
    )
    scope = Scope.build(options, cleaned, period, now)
    counts = baselines(scope)
    rows = []
    for name, section in sections.SECTIONS.items():
        with CaptureQueriesContext(connection) as queries:
            section(scope, options)
        ms = timed(lambda section=section: section(scope, options), repeat)  # type: ignore[misc]
        baseline = counts[name]
        found = baseline()
        rows.append(
            Row(label, name, ms, timed(baseline, repeat), found, len(queries.captured_queries))
        )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    query = "&".join(
        f"{key}={value}"
        for key, values in params.items()
        for value in (values if isinstance(values, list) else [values])
    )
    url = f"/reports/?{query}"

    def page() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    with CaptureQueriesContext(connection) as queries:
        page()
    sum_baselines = sum(row.baseline_ms for row in rows)
    rows.append(Row(label, "whole page", timed(page, repeat), sum_baselines, 0, len(queries)))
    return rows


def report(rows: list[Row]) -> bool:
    print(
        f"{'case':40}{'section':>12}{'ms':>9}{'count(*) ms':>13}{'ratio':>8}{'rows':>10}"
        f"{'queries':>9}"
    )
    ok = True
    for row in rows:
        budget = PAGE_BUDGET_MS if row.section == "whole page" else SECTION_BUDGET_MS
        over = row.ms > budget
        ok = ok and not over
        print(
            f"{row.case:40}{row.section:>12}{row.ms:>9.0f}{row.baseline_ms:>13.0f}"
            f"{row.ratio:>8.1f}{row.rows or '':>10}{row.queries:>9}{'  OVER' if over else ''}"
        )
    return ok


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="keep the generated workspace")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--index", action="store_true", help=f"create {INDEX_NAME} first")
    parser.add_argument("--drop-index", action="store_true", help=f"drop {INDEX_NAME} first")
    args = parser.parse_args()
    from bench.inbox import database_url_or_exit, describe, prepare_workspace

    url, name = database_url_or_exit()
    os.environ["DATABASE_CONN_MAX_AGE"] = "600"
    created = ensure_database(url, name)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    # The access log would print a line per page request between the figures.
    logging.getLogger("access").setLevel(logging.WARNING)
    if settings.DEBUG:
        print("DJANGO_DEBUG is on: every query would be kept; run without it", file=sys.stderr)
        sys.exit(2)
    call_command("migrate", verbosity=0)
    workspace = argparse.Namespace(
        conversations=200_000,
        messages=1_000_000,
        channels=20,
        departments=4,
        seed=42,
        reuse=args.reuse,
    )
    summary = prepare_workspace(workspace, name, created)
    enrich()
    describe(summary, name)
    with connection.cursor() as cursor:
        if args.drop_index:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
        if args.index:
            cursor.execute(INDEX_SQL)
            # VACUUM sets the visibility map, without which no scan is index-only.
            cursor.execute("VACUUM (ANALYZE) inbox_message")
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [INDEX_NAME])
        indexed = cursor.fetchone()[0]
    print(f"index {INDEX_NAME}: {'present' if indexed else 'absent'}")

    from django.utils import timezone

    from inbox.models import Department, Membership

    user_model = get_user_model()
    admin = user_model.objects.get(username=summary.admin_username)
    department = Department.objects.get(name=summary.agent_department)
    lead_membership = Membership.objects.filter(department=department, role="lead").first()
    agent = Membership.objects.filter(department=department, role="agent").first()
    today = timezone.localdate()
    year = {"period": "custom", "from": str(today - timedelta(days=364)), "to": str(today)}
    cases: list[tuple[str, Any, dict[str, Any]]] = [
        ("admin, 30 days", admin, {"period": "30d"}),
        ("admin, 365 days", admin, year),
        ("admin, 30 days, department", admin, {"period": "30d", "department": str(department.pk)}),
        ("admin, 365 days, department", admin, {**year, "department": str(department.pk)}),
    ]
    if agent is not None:
        filters = {"platform": "facebook", "agent": str(agent.user_id)}
        cases += [
            ("admin, 30 days, platform + agent", admin, {"period": "30d", **filters}),
            ("admin, 365 days, platform + agent", admin, {**year, **filters}),
        ]
    if lead_membership is not None:
        lead = lead_membership.user
        cases += [
            ("lead, 30 days", lead, {"period": "30d"}),
            ("lead, 365 days", lead, year),
        ]
    gc.collect()
    gc.freeze()
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows: list[Row] = []
    for label, user, params in cases:
        print(f"measuring {label} ...", flush=True)
        rows += measure_case(label, user, params, args.repeat)
    load_after = os.getloadavg()
    print(
        f"\non {name}, {os.cpu_count()} CPUs (load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after), median of {args.repeat} runs after a warm-up, "
        f"{time.perf_counter() - started:.0f} s; ratio: the section's time over a bare "
        "count(*) of the rows it reads (the page: over the sum of those counts)\n"
    )
    ok = report(rows)
    print(
        f"\n{'PASS' if ok else 'FAIL'}: sections under {SECTION_BUDGET_MS:.0f} ms, "
        f"the page under {PAGE_BUDGET_MS:.0f} ms"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
