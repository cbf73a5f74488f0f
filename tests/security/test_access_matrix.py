"""The permission matrix: every URL of the project, as every persona, answers what
docs/permissions.md promises, through the pages, the REST API (with each persona's token) and the
live socket.

- `PAGES` and `API` classify every URL pattern (the walk over the resolver fails on one they do
  not name, so a new view must be classified here).
- A refused request (redirect to sign-in, 401, 403, 404) writes nothing: PostgreSQL's
  per-transaction row counters (`pg_stat_xact_user_tables`) must not move.
- The outsider (an agent of another department) gets 404 for Community's objects, and the
  lists it may open show no trace of them.
- Writes are posted with a valid payload inside a transaction that is rolled back after each
  request, so every persona meets the same workspace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.test import Client

from inbox.api import tokens
from inbox.live import channel_group
from tests.inbox.socket_helpers import TIMEOUT, connected, session_cookie, socket
from tests.security.access_helpers import (
    ADMIN_OBJECTS,
    CONSULT_TOKEN,
    PERSONAS,
    Route,
    Workspace,
    all_routes,
    build_workspace,
    fill,
    path_values,
)

# Expected answers, per persona in the order of PERSONAS:
# (anonymous, outsider, observer, agent, lead, admin).
LOGIN = "login"  # a redirect to the sign-in page
OK = "ok"  # accepted: 2xx, a redirect elsewhere, or a form error (422, 409, 400): not refused
Expect = tuple[Any, Any, Any, Any, Any, Any]

EVERYONE: Expect = (LOGIN, 200, 200, 200, 200, 200)
SEES: Expect = (LOGIN, 404, 200, 200, 200, 200)  # one of Community's objects
ADMINS: Expect = (LOGIN, 403, 403, 403, 403, 200)
ADMINS_404: Expect = (LOGIN, 404, 404, 404, 404, 200)
LEADS: Expect = (LOGIN, 403, 403, 403, 200, 200)
REPLY_MANAGERS: Expect = (LOGIN, 404, 404, 404, 200, 200)
PUBLIC: Expect = (200, 200, 200, 200, 200, 200)

ACTS: Expect = (LOGIN, 404, 403, OK, OK, OK)
OWN_ROWS: Expect = (LOGIN, OK, OK, OK, OK, OK)  # writes only the user's own rows
ADMIN_WRITES: Expect = (LOGIN, 403, 403, 403, 403, OK)
APPROVES: Expect = (LOGIN, 404, 403, 403, OK, OK)
LEAD_WRITES: Expect = (LOGIN, 404, 403, 403, OK, OK)
MANAGES_REPLIES: Expect = (LOGIN, 404, 404, 404, OK, OK)


def post(expect: Expect, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"post": expect, "data": data or {}}


def get(expect: Expect) -> dict[str, Any]:
    return {"get": expect}


def page(get_expect: Expect, post_expect: Expect, data: dict[str, Any] | None = None) -> Any:
    return {"get": get_expect, "post": post_expect, "data": data or {}}


# Every page and form URL. Values in payloads: "$name" is the workspace id of that name.
PAGES: dict[str, dict[str, Any]] = {
    "/": get(("redirect",) * 6),
    "login": get(PUBLIC),
    # A logout ends the session the other rows need: test_sessions.py shows it.
    "logout": {"skip": "test_sessions.py"},
    "inbox:list": get(EVERYONE),
    "inbox:conversation": get(SEES),
    "inbox:assign": post(ACTS, {"assignee": "$agent"}),
    "inbox:status": post(ACTS, {"status": "resolved"}),
    "inbox:priority": post(ACTS, {"priority": "3"}),
    "inbox:tags": post(ACTS, {"add": "urgent"}),
    # Bulk: ids the user may not work are left out, the refusal is the form's (docs: 403).
    "inbox:bulk": post(
        (LOGIN, 403, 403, OK, OK, OK),
        {"ids": "$conversation", "action": "status", "value": "resolved"},
    ),
    "inbox:availability": page(EVERYONE, OWN_ROWS, {"availability": "away"}),
    "inbox:save_view": post(OWN_ROWS, {"name": "Open", "query": "status=open"}),
    # The agent's own saved view: nobody else's to delete.
    "inbox:delete_view": post((LOGIN, 404, 404, OK, 404, 404)),
    "inbox:retry": post(ACTS),
    "inbox:message_action": post(ACTS),
    "inbox:message_text": get(SEES),
    "inbox:reply": post(ACTS, {"text": "Thanks for writing!"}),
    "inbox:note": post(ACTS, {"text": "Internal"}),
    "inbox:saved_reply_search": get(SEES),
    "inbox:saved_replies": get(REPLY_MANAGERS),
    "inbox:saved_reply_create": page(
        REPLY_MANAGERS, MANAGES_REPLIES, {"title": "Hi", "shortcut": "hi"}
    ),
    "inbox:saved_reply_edit": page(REPLY_MANAGERS, MANAGES_REPLIES, {"title": "Thanks!"}),
    "inbox:saved_reply_delete": post(MANAGES_REPLIES),
    "inbox:signatures": page(EVERYONE, OWN_ROWS, {"text": "Kim"}),
    "inbox:review_reply": get(SEES),
    "inbox:approve_reply": post(APPROVES),
    "inbox:reject_reply": post(APPROVES, {"note": "Not like this"}),
    "inbox:consultations": get(SEES),
    "inbox:consult_request": post(
        ACTS, {"expert_email": "expert@example.com", "question": "Q?", "valid_for_days": "3"}
    ),
    "inbox:consult_withdraw": post(ACTS),
    "inbox:person": get(SEES),
    "inbox:person_panel": get(SEES),
    "inbox:person_note": post(ACTS, {"text": "Called twice"}),
    "inbox:person_tag_add": post(ACTS, {"name": "vip"}),
    "inbox:person_tag_remove": post(ACTS, {"name": "vip"}),
    "inbox:person_flags": post(ACTS, {"vip": "on"}),
    "inbox:person_assign_open": post(ACTS),
    "inbox:person_merge_candidates": get(SEES),
    "inbox:person_merge": post(ACTS, {"into": "$other_person"}),
    # The merge was the admin's: undoing it is theirs (or an admin's).
    "inbox:person_merge_undo": post((LOGIN, 404, 404, 404, 404, OK)),
    "inbox:notifications": get(EVERYONE),
    "inbox:notification_count": get(EVERYONE),
    "inbox:notifications_read": post(OWN_ROWS),
    "inbox:notification_preferences": page(EVERYONE, OWN_ROWS),
    "inbox:notification_test": post(OWN_ROWS),
    # The health page lists the channels a user may see (test_lists_show_no_trace...).
    "channels:list": get(EVERYONE),
    "channels:add": get(ADMINS),
    "channels:add_platform": page(ADMINS, ADMIN_WRITES, {"name": "New"}),
    "channels:detail": get(ADMINS),
    "channels:edit": page(ADMINS, ADMIN_WRITES, {"name": "Renamed"}),
    "channels:pause": post(ADMIN_WRITES),
    "channels:resume": post(ADMIN_WRITES),
    "channels:test": post(ADMIN_WRITES),
    "channels:test_result": get(ADMINS),
    "channels:backfill": post(ADMIN_WRITES),
    "channels:backfill_progress": get(ADMINS),
    "channels:skipped": get(SEES),
    "webhooks:list": get(ADMINS),
    "webhooks:create": page(ADMINS, ADMIN_WRITES, {"name": "X", "url": "https://x.example"}),
    "webhooks:edit": page(ADMINS, ADMIN_WRITES, {"name": "Y"}),
    "webhooks:delete": post(ADMIN_WRITES),
    "webhooks:rotate_secret": post(ADMIN_WRITES),
    "webhooks:test": post(ADMIN_WRITES),
    "webhooks:deliveries": get(ADMINS),
    "webhooks:delivery_status": get(ADMINS),
    "webhooks:redeliver": post(ADMIN_WRITES),
    "team:overview": get(ADMINS),
    "team:department_create": page(ADMINS, ADMIN_WRITES, {"name": "Press"}),
    "team:department": page(ADMINS, ADMIN_WRITES, {"name": "Community 2"}),
    "team:department_delete": page(ADMINS, ADMIN_WRITES),
    "team:holiday_add": post(ADMIN_WRITES, {"date": "2031-01-01", "name": "New year"}),
    "team:holiday_remove": post(ADMIN_WRITES),
    "team:member_add": post(ADMIN_WRITES, {"user": "$outsider", "role": "agent"}),
    "team:member_change": post(ADMIN_WRITES, {"role": "lead"}),
    "team:member_remove": post(ADMIN_WRITES),
    "team:user_create": page(ADMINS, ADMIN_WRITES, {"username": "new"}),
    "team:user_active": post(ADMIN_WRITES, {"active": ""}),
    "team:user_admin": post(ADMIN_WRITES, {"admin": "on"}),
    "team:routing_rules": get(ADMINS),
    "team:routing_rule_create": page(ADMINS, ADMIN_WRITES, {"name": "R"}),
    "team:routing_rule_edit": page(ADMINS, ADMIN_WRITES, {"name": "R2"}),
    "team:routing_rule_delete": post(ADMIN_WRITES),
    "team:routing_rule_move": post(ADMIN_WRITES, {"direction": "down"}),
    "team:routing_rule_enabled": post(ADMIN_WRITES),
    "team:sla_policies": get(ADMINS),
    "team:sla_policy_create": page(ADMINS, ADMIN_WRITES, {"name": "S"}),
    "team:sla_policy_edit": page(ADMINS, ADMIN_WRITES, {"name": "S2"}),
    "team:sla_policy_delete": post(ADMIN_WRITES),
    "team:sla_policy_move": post(ADMIN_WRITES, {"direction": "down"}),
    "team:sla_policy_enabled": post(ADMIN_WRITES),
    "team:approval": get(ADMINS),
    "team:channel_approval": post(ADMIN_WRITES, {"mode": "all"}),
    "team:audit": get(ADMINS),
    "team:audit_export": get(ADMINS),
    "reports:report": get(LEADS),
    "data_protection:person_export": get(ADMINS),
    "data_protection:person_erase": page(ADMINS, ADMIN_WRITES, {"confirm": "Jane Doe"}),
    "data_protection:retention": get(ADMINS),
    "data_protection:retention_save": post(ADMIN_WRITES, {"days": "30", "action": "delete"}),
    "data_protection:audit_export_json": get(ADMINS),
    "api:tokens": page(EVERYONE, OWN_ROWS, {"name": "Mine"}),
    # The agent's token: revoked by them or an admin, a 404 for anyone else.
    "api:revoke_token": post((LOGIN, 404, 404, OK, 404, OK)),
    # The OpenAPI schema and its docs describe the API, not data: public (docs/api.md).
    "api:schema": get(PUBLIC),
    "api:docs": get(PUBLIC),
    "set_language": post(("redirect",) * 6, {"language": "de"}),
    "javascript-catalog": get(PUBLIC),
    "moderation_rules:list": get(ADMINS),
    "moderation_rules:create": page(ADMINS, ADMIN_WRITES, {"name": "M"}),
    "moderation_rules:test_unsaved": post(ADMIN_WRITES, {"name": "M", "sample": "Du Idiot"}),
    "moderation_rules:edit": page(ADMINS, ADMIN_WRITES, {"name": "M2"}),
    "moderation_rules:delete": post(ADMIN_WRITES),
    "moderation_rules:move": post(ADMIN_WRITES, {"direction": "down"}),
    "moderation_rules:enabled": post(ADMIN_WRITES),
    "moderation_rules:test": get(ADMINS),
    "moderation_rules:guidelines": get(ADMINS),
    "moderation_rules:guideline_default": page(ADMINS, ADMIN_WRITES, {"title": "Rules"}),
    "moderation_rules:guideline_channel": page(ADMINS, ADMIN_WRITES, {"title": "Rules"}),
    "moderation_rules:guideline_delete": post(ADMIN_WRITES),
    # Incidents: the list and pages show what the user's channels have.
    "incidents:list": get(EVERYONE),
    "incidents:declare": post(
        (LOGIN, 403, 403, 403, OK, OK), {"channel_account": "$channel", "level": "1", "title": "T"}
    ),
    "incidents:levels": page(ADMINS_404, (LOGIN, 404, 404, 404, 404, OK)),
    "incidents:detail": get(SEES),
    "incidents:storm": post(LEAD_WRITES, {"on": "1"}),
    "incidents:lead": post(LEAD_WRITES, {"lead": "$lead"}),
    "incidents:level": post(LEAD_WRITES, {"level": "1"}),
    "incidents:note": post(ACTS, {"text": "Watching"}),
    "incidents:resolve": post(LEAD_WRITES, {"note": "Calm again"}),
    "moderation:queue": get(EVERYONE),
    "moderation:bulk": post((LOGIN, 404, 403, OK, OK, OK), {"ids": "$case", "decision": "approve"}),
    "moderation:decide": post(ACTS),
    "moderation:people": get(EVERYONE),
    "moderation:person_search": get(EVERYONE),
    "moderation:person_panel": get(SEES),
    # Bans and the allow-list: leads and admins (docs/moderation.md), not agents.
    "moderation:person_ban": post(LEAD_WRITES, {"reason": "Insults"}),
    "moderation:person_lift_ban": post(LEAD_WRITES),
    "moderation:person_allow": post(LEAD_WRITES, {"reason": "Known customer"}),
    "moderation:person_lift_allow": post(LEAD_WRITES),
    "moderation:evidence": get(ADMINS_404),
    # The expert's page: no sign-in, the link's token is the key (and only it, see
    # test_the_consultation_page_opens_only_with_the_issued_token).
    "consult:answer": {**page(PUBLIC, (OK,) * 6, {"text": "Say sorry"}), "shares": True},
    # Django admin's sign-in, throttled (test_sessions.py); a signed-in admin is sent on.
    "admin_login": get((200, 200, 200, 200, 200, "redirect")),
    "healthz": get(PUBLIC),
}

API_EVERYONE: Expect = (401, 200, 200, 200, 200, 200)
API_SEES: Expect = (401, 404, 200, 200, 200, 200)
API_ADMINS: Expect = (401, 403, 403, 403, 403, 200)
API_LEADS: Expect = (401, 403, 403, 403, 200, 200)
API_ACTS: Expect = (401, 404, 403, OK, OK, OK)
API_ADMIN_WRITES: Expect = (401, 403, 403, 403, 403, OK)

# The REST API with each persona's token (anonymous: no token).
API: dict[str, dict[str, Any]] = {
    "api:me": get(API_EVERYONE),
    "api:conversations": get(API_EVERYONE),
    "api:conversation": get(API_SEES),
    "api:conversation_messages": get(API_SEES),
    "api:conversation_notes": get(API_SEES),
    "api:conversation_reply": post(API_ACTS, {"text": "Thanks!"}),
    "api:conversation_note": post(API_ACTS, {"text": "Internal"}),
    "api:conversation_assign": post(API_ACTS, {"assignee": "$agent"}),
    "api:conversation_status": post(API_ACTS, {"status": "resolved"}),
    "api:conversation_priority": post(API_ACTS, {"priority": 3}),
    "api:conversation_tags": post(API_ACTS, {"add": ["urgent"]}),
    "api:message_action": post(API_ACTS),
    "api:cases": get(API_EVERYONE),
    "api:case": get(API_SEES),
    "api:case_decision": post(API_ACTS, {}),
    "api:persons": get(API_EVERYONE),
    "api:person": get(API_SEES),
    "api:contact": get(API_SEES),
    "api:channels": page(
        API_ADMINS, API_ADMIN_WRITES, {"platform": "mastodon", "name": "New", "settings": {}}
    ),
    "api:channel": get(API_ADMINS),
    "api:channel_pause": post(API_ADMIN_WRITES, {"reason": "Holidays"}),
    "api:channel_resume": post(API_ADMIN_WRITES, {}),
    "api:reports": get(API_LEADS),
}

# The Django admin's own pages (besides each registered model's): staff only, like the rest.
ADMIN_SITE_PAGES = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:app_list",
}

# What an outsider must never find in a page or an API answer it may open: Community's
# conversation text, author, channel, incident and moderation case.
TRACES = (
    "Community secret thread",
    "Jane Doe",
    "Mastodon @community",
    "Flood of complaints",
    "Case text of Community",
)


@pytest.fixture
def workspace(db: None) -> Workspace:
    return build_workspace()


def rows_written() -> dict[str, int]:
    """Rows inserted, updated or deleted per table in the current transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 "
            # Bookkeeping, not data: a session saved, a token's "last used" time.
            "AND relname NOT IN ('django_session', 'inbox_apitoken')"
        )
        return dict(cursor.fetchall())


def resolve_payload(workspace: Workspace, data: dict[str, Any]) -> dict[str, Any]:
    def value(item: Any) -> Any:
        if isinstance(item, str) and item.startswith("$"):
            key = item[1:]
            if key in workspace.users:
                return workspace.users[key].pk
            if key == "channel":
                return workspace.channel.pk
            return workspace.ids[key]
        if isinstance(item, list):
            return [value(part) for part in item]
        return item

    return {key: value(item) for key, item in data.items()}


def verdict(response: Any) -> Any:
    """The answer as the tables say it: a status, LOGIN, "redirect", or OK for acceptance."""
    status = response.status_code
    if status == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        return "redirect"
    return status


def matches(expected: Any, response: Any) -> bool:
    got = verdict(response)
    if expected == OK:
        return got not in (LOGIN, 401, 403, 404, 405) and response.status_code < 500
    return bool(got == expected)


def refused(expected: Any) -> bool:
    return expected in (LOGIN, 401, 403, 404)


def check_request(
    workspace: Workspace,
    client: Client,
    persona: str,
    route: Route,
    method: str,
    expected: Any,
    data: dict[str, Any],
    *,
    as_json: bool = False,
    shares: bool = False,
) -> list[str]:
    """One request in a transaction that is rolled back: mismatches, as lines of a report."""
    url = fill(route, path_values(workspace, route))
    problems: list[str] = []
    # Only a refusal must leave the tables alone (and the counters cost two queries).
    watch = refused(expected)
    with transaction.atomic():
        before = rows_written() if watch else {}
        if method == "get":
            response = client.get(url)
        elif as_json:
            response = client.post(url, json.dumps(data), content_type="application/json")
        else:
            response = client.post(url, data)
        written = {
            table: count - before.get(table, 0)
            for table, count in (rows_written() if watch else {}).items()
            if count != before.get(table, 0)
        }
        # Every persona meets the same workspace: what this request wrote is undone.
        transaction.set_rollback(True)
    if not matches(expected, response):
        problems.append(
            f"{method.upper()} {url} as {persona}: expected {expected}, got {verdict(response)}"
        )
    if refused(expected) and written:
        problems.append(f"{method.upper()} {url} as {persona} was refused but wrote {written}")
    if persona == "outsider" and response.status_code == 200 and method == "get" and not shares:
        content = response.content.decode(errors="replace")
        leaked = [trace for trace in TRACES if trace in content]
        if leaked:
            problems.append(f"GET {url} as outsider shows {leaked}")
    return problems


def routes_by_name() -> dict[str, Route]:
    return {route.name: route for route in all_routes()}


def test_every_url_pattern_is_classified_in_the_matrix() -> None:
    """A new view fails here until its row in PAGES or API (or ADMIN_OBJECTS) says who may
    use it."""
    unclassified = []
    for route in all_routes():
        if route.name in PAGES or route.name in API or route.name in ADMIN_SITE_PAGES:
            continue
        if route.name == "admin:/admin/(?P<url>.*)$":
            continue  # the admin's catch-all: a 404 for an admin, the sign-in for others
        if route.pattern.startswith("admin/"):
            parts = route.pattern.split("/")
            if len(parts) > 2 and f"{parts[1]}_{parts[2]}" in ADMIN_OBJECTS:
                continue
        unclassified.append(f"{route.name} ({route.pattern})")
    assert unclassified == []
    stale = (set(PAGES) | set(API)) - {route.name for route in all_routes()}
    assert stale == set(), "rows for URLs that no longer exist"


def test_pages_and_forms_answer_each_persona_as_the_matrix_says(workspace: Workspace) -> None:
    routes = routes_by_name()
    problems: list[str] = []
    for index, persona in enumerate(PERSONAS):
        client = workspace.client(persona)
        for name, row in PAGES.items():
            if "skip" in row:
                continue
            route = routes[name]
            if "get" in row:
                expected = row["get"][index]
                problems += check_request(
                    workspace, client, persona, route, "get", expected, {}, shares="shares" in row
                )
            if "post" in row:
                data = resolve_payload(workspace, row["data"])
                expected = row["post"][index]
                problems += check_request(workspace, client, persona, route, "post", expected, data)
    assert not problems, "\n".join(problems)


def api_client(workspace: Workspace, persona: str) -> Client:
    if persona == "anonymous":
        return Client()
    clear = tokens.create_token(user=workspace.users[persona], name="matrix")[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {clear}")


def test_the_api_answers_each_personas_token_as_the_matrix_says(workspace: Workspace) -> None:
    routes = routes_by_name()
    problems: list[str] = []
    for index, persona in enumerate(PERSONAS):
        client = api_client(workspace, persona)
        for name, row in API.items():
            route = routes[name]
            if "get" in row:
                expected = row["get"][index]
                problems += check_request(workspace, client, persona, route, "get", expected, {})
            if "post" in row:
                data = resolve_payload(workspace, row["data"])
                problems += check_request(
                    workspace,
                    client,
                    persona,
                    route,
                    "post",
                    row["post"][index],
                    data,
                    as_json=True,
                )
    assert not problems, "\n".join(problems)


def admin_routes() -> Iterator[Route]:
    for route in all_routes():
        if route.pattern.startswith("admin/") and route.name not in {
            "admin:logout",
            "admin:login",
            "admin_login",
        }:
            yield route


# The Django admin is read-only for the team's structure and the outbox (inbox/admin.py): an
# admin is refused their add and delete pages.
READ_ONLY_IN_ADMIN = ("inbox/department", "inbox/outboundaction", "inbox/conversationevent")


def admin_expectation(route: Route) -> int:
    """What an admin gets on a page of the Django admin."""
    if route.name.startswith("admin:/"):
        # `<object_id>/` alone redirects to its change page; the catch-all is a 404.
        return 404 if "(?P<url>" in route.pattern else 302
    if route.name == "admin:autocomplete":
        return 403  # without the field it completes for
    if route.name == "admin:view_on_site":
        return 404  # no model of the project has a public page
    if any(route.pattern.startswith(f"admin/{model}/") for model in READ_ONLY_IN_ADMIN) and (
        route.name.endswith("_add") or route.name.endswith("_delete")
    ):
        return 403
    return 200


def test_the_django_admin_sends_everyone_but_staff_to_its_sign_in(workspace: Workspace) -> None:
    problems = []
    for persona, method in (("anonymous", "get"), ("lead", "get"), ("lead", "post")):
        client = workspace.client(persona)
        for route in admin_routes():
            url = fill(route, path_values(workspace, route))
            with transaction.atomic():
                before = rows_written()
                response = getattr(client, method)(url)
                written = rows_written() != before
                transaction.set_rollback(True)
            if response.status_code != 302 or not response["Location"].startswith("/admin/login/"):
                problems.append(f"{method} {url} as {persona}: {response.status_code}")
            if written:
                problems.append(f"{method} {url} as {persona} wrote rows")
    assert not problems, "\n".join(problems)


def test_the_django_admin_shows_every_page_to_an_admin(workspace: Workspace) -> None:
    client = workspace.client("admin")
    problems = []
    for route in admin_routes():
        url = fill(route, path_values(workspace, route))
        response = client.get(url)
        if response.status_code != admin_expectation(route):
            problems.append(f"{url}: {response.status_code}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db(transaction=True)
def test_live_events_of_a_channel_reach_only_those_who_see_it() -> None:
    workspace = build_workspace()
    readers = ["observer", "agent", "lead", "admin"]
    cookies = {
        persona: session_cookie(workspace.users[persona]) for persona in [*readers, "outsider"]
    }

    async def first_event(communicator: Any) -> str:
        return str((await communicator.receive_json_from(timeout=TIMEOUT))["type"])

    async def scenario() -> None:
        from channels.layers import get_channel_layer

        from inbox.live import user_group

        sockets = {persona: await connected(cookie) for persona, cookie in cookies.items()}
        layer = get_channel_layer()
        for channel, audience in (
            (workspace.channel, readers),
            (workspace.sales_channel, ["outsider", "admin"]),
        ):
            await layer.group_send(
                channel_group(channel.pk), {"type": "live.event", "payload": {"type": "probe"}}
            )
            # A marker after the probe on every user's own group: whoever gets the marker
            # first never got the probe.
            for persona in sockets:
                await layer.group_send(
                    user_group(workspace.users[persona].pk),
                    {"type": "live.event", "payload": {"type": "marker"}},
                )
            for persona, communicator in sockets.items():
                got = await first_event(communicator)
                if got == "probe":
                    got = "probe" if await first_event(communicator) == "marker" else "?"
                assert got == ("probe" if persona in audience else "marker"), (channel, persona)
        for communicator in sockets.values():
            await communicator.disconnect()

        anonymous = socket(b"")
        await anonymous.connect()
        closed = await anonymous.receive_output(timeout=TIMEOUT)
        assert closed == {"type": "websocket.close", "code": 4401}
        await anonymous.disconnect()

    async_to_sync(scenario)()


def test_the_consultation_page_opens_only_with_the_issued_token(workspace: Workspace) -> None:
    """The one page without sign-in: the link's token is the key, and nothing else opens it."""
    from django.utils import timezone

    from inbox.models.teams import Consultation

    client = Client()
    for token in ("guess", CONSULT_TOKEN.upper(), CONSULT_TOKEN[:-1], f"{CONSULT_TOKEN}x"):
        for method in ("get", "post"):
            response = getattr(client, method)(f"/consult/{token}/", {"text": "Hi"})
            assert response.status_code == 404, token
            assert not [trace for trace in TRACES if trace in response.content.decode()]
    assert Consultation.objects.get().answered_at is None
    Consultation.objects.update(expires_at=timezone.now())
    expired = client.get(f"/consult/{CONSULT_TOKEN}/")
    assert expired.status_code == 410
    assert "Community secret thread" not in expired.content.decode()
