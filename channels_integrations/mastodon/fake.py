"""A fake Mastodon instance for tests and the demo.

It speaks the real REST API (paths, parameter names, Link-header paging, error
bodies, rate-limit headers, Idempotency-Key) over real HTTP, so the connector
is exercised exactly as it would be against a real instance. State lives in
memory behind one lock because the threaded WSGI server, the tests and the
demo's mention generator all touch it from different threads.

Endpoints under /__admin/ are not part of Mastodon: they let tests and people
seed mentions, inject faults and read back what the connector sent
(platform-apis.md sections 0.4 and 4).
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import (
    AdminField,
    AdminForm,
    AdminTable,
    PlatformFake,
    RateBudget,
    admin_page,
    bearer_token,
    json_response,
    route_map,
)

Json = dict[str, Any]
Clock = Callable[[], datetime]

BRAND_ACCOUNT_ID = "14715"
BRAND_USERNAME = "brand"
# The brand's home instance; the people mentioning it live elsewhere, so their
# `acct` carries a domain, as it does for federated accounts.
LOCAL_DOMAIN = "mastodon.social"
REMOTE_DOMAIN = "example.social"
# First ids reproduce the documented sample (platform-apis.md 4.4). Statuses
# and notifications use separate counters, as they are separate tables.
FIRST_NOTIFICATION_ID = 34975861
FIRST_STATUS_ID = 103186126728896492
FIRST_ACCOUNT_ID = 971724

RATE_LIMIT = 300
RATE_LIMIT_WINDOW_SECONDS = 300
IDEMPOTENCY_TTL = timedelta(hours=1)
MAX_STATUS_CHARS = 500
DEFAULT_LIMIT = 40
MAX_LIMIT = 80
VISIBILITIES = ("public", "unlisted", "private", "direct")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")
MENTION_RE = re.compile(
    r"(?<![\w/@])@(?P<username>[A-Za-z0-9_]+)(?:@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))?"
)

INVALID_TOKEN: Json = {"error": "The access token is invalid"}
NOT_FOUND: Json = {"error": "Record not found"}
FORBIDDEN: Json = {"error": "This action is not allowed"}
BLANK_TEXT: Json = {"error": "Validation failed: Text can't be blank"}
TOO_MANY_REQUESTS: Json = {"error": "Too many requests"}
UNAVAILABLE: Json = {"error": "Remote data could not be fetched"}
# What fail_next() sends when a test names only the status code.
DEFAULT_ERROR_BODIES: dict[int, Json] = {
    401: INVALID_TOKEN,
    403: FORBIDDEN,
    404: NOT_FOUND,
    422: BLANK_TEXT,
    429: TOO_MANY_REQUESTS,
    503: UNAVAILABLE,
}
MENTION_FORM = AdminForm(
    "Create a mention",
    action="/__admin/mention",
    submit="Mention @brand",
    fields=(
        AdminField("text", "Text", rows=3, required=True),
        AdminField("username", "Username", placeholder="zsc"),
        AdminField("display_name", "Display name", placeholder="Z"),
        AdminField("visibility", "Visibility", options=VISIBILITIES),
    ),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso_millis(moment: datetime) -> str:
    """Mastodon's entity timestamps: `2026-03-22T07:49:02.064Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_micros(moment: datetime) -> str:
    """X-RateLimit-Reset as observed in the wild: `2026-03-22T18:25:00.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _numeric_id(value: object) -> int | None:
    """Ids are numeric strings compared as numbers; anything else counts as absent."""
    text = "" if value is None else str(value).strip()
    return int(text) if text.isdigit() else None


def _optional_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    # Mastodon's limit_param: Ruby's to_i (leading digits, else 0), absolute
    # value, clamped to the maximum.
    match = re.match(r"\s*[-+]?(\d+)", raw)
    return min(int(match.group(1)) if match else 0, MAX_LIMIT)


def _h_card(account: Json) -> str:
    url, username = html.escape(account["url"]), html.escape(account["username"])
    link = f'<a href="{url}" class="u-url mention">@<span>{username}</span></a>'
    return f'<span class="h-card">{link}</span>'


def _paragraphs(escaped_text: str, prefix: str = "") -> str:
    """Mastodon's plain-text formatter: blank lines split paragraphs, newlines become <br />."""
    paragraphs = [p for p in re.split(r"\n\s*\n", escaped_text.strip()) if p] or [""]
    if prefix:
        paragraphs[0] = f"{prefix} {paragraphs[0]}".rstrip()
    return "".join("<p>" + p.replace("\n", "<br />") + "</p>" for p in paragraphs)


def _html_to_text(content: object) -> str:
    text = re.sub(r"</p>\s*<p>", "\n\n", str(content or ""))
    text = re.sub(r"<br\s*/?>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _account(account_id: str, username: str, display_name: str, domain: str) -> Json:
    return {
        "id": account_id,
        "username": username,
        "acct": username if domain == LOCAL_DOMAIN else f"{username}@{domain}",
        "display_name": display_name,
        "url": f"https://{domain}/@{username}",
        "avatar": f"https://{domain}/avatars/{username}.png",
        "bot": False,
    }


def _mention(account: Json) -> Json:
    return {key: account[key] for key in ("id", "username", "url", "acct")}


class FakeMastodon(PlatformFake):
    """In-memory Mastodon instance, seen through the brand account's tokens.

    Public methods take `_lock` themselves; API views run with it already held
    (see PlatformFake), so they only use private helpers.
    """

    def __init__(
        self,
        tokens: Iterable[str] = ("demo-token",),
        *,
        rate_limit: int = RATE_LIMIT,
        clock: Clock = _utcnow,
    ) -> None:
        super().__init__(
            logged_headers=("Idempotency-Key", "Content-Type", "User-Agent"),
            admin_routes=[
                ("GET", "/__admin/", self._admin_page),
                ("POST", "/__admin/mention", self._admin_mention),
                ("POST", "/__admin/seed", self._admin_seed),
                ("GET", "/__admin/statuses", lambda _: json_response(self.received_statuses())),
            ],
        )
        self._clock = clock
        self._tokens = set(tokens)
        self._rate_limit = rate_limit
        self._budget = RateBudget(RATE_LIMIT_WINDOW_SECONDS, clock)
        self._brand = _account(BRAND_ACCOUNT_ID, BRAND_USERNAME, "Brand", LOCAL_DOMAIN)
        self._accounts: dict[str, Json] = {f"{BRAND_USERNAME}@{LOCAL_DOMAIN}": self._brand}
        self._statuses: dict[str, Json] = {}
        self._sources: dict[str, str] = {}  # plain text of the brand's statuses, for DELETE
        self._notifications: list[tuple[int, Json]] = []  # (ordering id, payload), oldest first
        self._received: list[Json] = []
        self._idempotency: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._next_notification_id = FIRST_NOTIFICATION_ID
        self._next_status_id = FIRST_STATUS_ID
        self._next_account_id = FIRST_ACCOUNT_ID
        status = "/api/v1/statuses/<status_id>"
        self._api_routes = route_map(
            [
                ("GET", "/api/v1/notifications", self._list_notifications),
                ("POST", "/api/v1/notifications/<notification_id>/dismiss", self._dismiss),
                ("POST", "/api/v1/statuses", self._create_status),
                ("GET", status, self._show_status),
                ("DELETE", status, self._delete_status),
                ("POST", status + "/<any(favourite, unfavourite):action>", self._favourite),
                ("GET", "/api/v1/accounts/verify_credentials", self._verify_credentials),
            ]
        )

    # Python API: used by tests in-process, by the demo and by /__admin/.

    def add_mention(
        self,
        text: str,
        *,
        username: str = "zsc",
        display_name: str = "Z",
        account_id: str | None = None,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        language: str | None = None,
    ) -> Json:
        """A remote user mentions the brand; returns the mention notification."""
        if not USERNAME_RE.match(username):
            raise ValueError(f"invalid Mastodon username: {username!r}")
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        with self._lock:
            account = self._remote_account(username, display_name, account_id)
            status = self._new_status(
                account,
                content=_paragraphs(html.escape(text), prefix=_h_card(self._brand)),
                mentions=[_mention(self._brand)],
                visibility=visibility,
                in_reply_to_id=in_reply_to_id,
                language=language,
            )
            notification_id = self._next_notification_id
            self._next_notification_id += 1
            notification = {
                "id": str(notification_id),
                "type": "mention",
                "group_key": f"ungrouped-{notification_id}",
                "created_at": status["created_at"],
                "account": account,
                "status": status,  # shared, so later favourites show up here too
            }
            self._notifications.append((notification_id, notification))
            return copy.deepcopy(notification)

    def add_raw_notification(self, payload: Json) -> Json:
        """Store any dict as a notification (tests inject malformed items this way)."""
        notification = copy.deepcopy(payload)
        with self._lock:
            order = _numeric_id(notification.get("id"))
            if order is None:
                order = self._next_notification_id
                notification.setdefault("id", str(order))
            self._next_notification_id = max(self._next_notification_id, order + 1)
            self._notifications.append((order, notification))
            self._notifications.sort(key=lambda item: item[0])
            return copy.deepcopy(notification)

    def notifications(self) -> list[Json]:
        """All notifications, oldest first."""
        with self._lock:
            return [copy.deepcopy(payload) for _, payload in self._notifications]

    def received_statuses(self) -> list[Json]:
        """Statuses created through POST /api/v1/statuses, oldest first (replays excluded)."""
        with self._lock:
            return copy.deepcopy(self._received)

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        """fail_next(429) comes with rate-limit headers resetting in a minute."""
        headers = {}
        if status == 429:
            headers = self._rate_headers(0, self._clock() + timedelta(minutes=1))
        return DEFAULT_ERROR_BODIES.get(status), headers

    def fail_next_rate_limited(
        self, *, reset_in: float = 60.0, times: int = 1, path_prefix: str | None = None
    ) -> None:
        """Rate-limit the next calls as Mastodon does, resetting in `reset_in` seconds."""
        headers = self._rate_headers(0, self._clock() + timedelta(seconds=reset_in))
        self.fail_next(429, headers=headers, times=times, path_prefix=path_prefix)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    def reset(self) -> None:
        """Forget faults, recorded calls, the delay and spent rate-limit budgets."""
        super().reset()
        self._budget.clear()

    # The real API (lock held by PlatformFake).

    def answer(self, request: Request) -> Response:
        token = bearer_token(request)
        authenticated = token in self._tokens
        # Like Rack::Attack: counted per token when authenticated, else per IP.
        used, reset = self._budget.spend(
            f"token:{token}" if authenticated else f"ip:{request.remote_addr}"
        )
        if used > self._rate_limit:
            response = json_response(TOO_MANY_REQUESTS, 429)
        elif not authenticated:
            response = json_response(INVALID_TOKEN, 401)
        else:
            try:
                view, values = self._api_routes.bind_to_environ(request.environ).match()
                response = view(request, token, **values)
            except HTTPException as error:
                response = json_response({"error": error.name}, error.code or 500)
        response.headers.update(self._rate_headers(self._rate_limit - used, reset))
        return response

    def _rate_headers(self, remaining: int, reset: datetime) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self._rate_limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": _iso_micros(reset),
        }

    # State helpers (lock held by the caller).

    def _remote_account(self, username: str, display_name: str, account_id: str | None) -> Json:
        key = f"{username}@{REMOTE_DOMAIN}"
        if key not in self._accounts:
            if account_id is None:
                account_id = str(self._next_account_id)
                self._next_account_id += 1
            self._accounts[key] = _account(account_id, username, display_name, REMOTE_DOMAIN)
        return self._accounts[key]

    def _new_status(
        self,
        account: Json,
        *,
        content: str,
        mentions: list[Json],
        visibility: str,
        in_reply_to_id: str | None,
        language: str | None,
        spoiler_text: str = "",
    ) -> Json:
        status_id = str(self._next_status_id)
        self._next_status_id += 1
        parent = self._statuses.get(in_reply_to_id or "")
        if parent is not None:
            parent["replies_count"] += 1
        # A seeded mention may answer a brand post this fake never saw; that
        # post was still the brand's.
        in_reply_to_account_id = parent["account"]["id"] if parent else None
        if in_reply_to_id and parent is None:
            in_reply_to_account_id = BRAND_ACCOUNT_ID
        domain = account["url"].split("/")[2]
        status = {
            "id": status_id,
            "created_at": _iso_millis(self._clock()),
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": in_reply_to_account_id,
            "sensitive": bool(spoiler_text),
            "spoiler_text": spoiler_text,
            "visibility": visibility,
            "language": language,
            "uri": f"https://{domain}/users/{account['username']}/statuses/{status_id}",
            "url": f"{account['url']}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "favourited": False,
            "content": content,
            "account": account,
            "mentions": mentions,
            "media_attachments": [],
            "tags": [],
            "emojis": [],
            "reblog": None,
            "poll": None,
            "card": None,
        }
        self._statuses[status_id] = status
        return status

    def _link_mentions(self, escaped_text: str) -> tuple[str, list[Json]]:
        """Turn @user and @user@domain of known accounts into h-card links, as Mastodon does."""
        mentions: list[Json] = []

        def link(match: re.Match[str]) -> str:
            username, domain = match["username"], match["domain"]
            for key, account in self._accounts.items():
                if account["username"] == username and (
                    domain is None or key.endswith("@" + domain)
                ):
                    if account["id"] not in {mention["id"] for mention in mentions}:
                        mentions.append(_mention(account))
                    return _h_card(account)
            return match[0]

        return MENTION_RE.sub(link, escaped_text), mentions

    # Mastodon API views (lock held).

    def _list_notifications(self, request: Request, token: str) -> Response:
        args = request.args
        types = set(args.getlist("types[]") + args.getlist("types"))
        excluded = set(args.getlist("exclude_types[]") + args.getlist("exclude_types"))
        account_id = args.get("account_id")
        limit = _limit(args.get("limit"))
        max_id, since_id, min_id = (
            _numeric_id(args.get(k)) for k in ("max_id", "since_id", "min_id")
        )

        def wanted(notification: Json) -> bool:
            kind, account = notification.get("type"), notification.get("account")
            author = account.get("id") if isinstance(account, dict) else None
            return (
                (not types or kind in types)
                and kind not in excluded
                and (account_id is None or author == account_id)
            )

        items = [item for item in self._notifications if wanted(item[1])]
        if max_id is not None:
            items = [item for item in items if item[0] < max_id]
        if min_id is not None:
            # The page immediately newer than min_id: take the oldest matches,
            # then flip them so results are newest first like every page.
            # since_id is ignored here, as in Mastodon's paginate_by_id.
            page = [item for item in items if item[0] > min_id][:limit]
        else:
            if since_id is not None:
                items = [item for item in items if item[0] > since_id]
            page = items[-limit:] if limit else []
        page.reverse()
        headers = {}
        if page:
            headers["Link"] = self._link_header(request, lowest=page[-1][0], highest=page[0][0])
        return json_response([copy.deepcopy(payload) for _, payload in page], headers=headers)

    def _link_header(self, request: Request, *, lowest: int, highest: int) -> str:
        base = request.root_url.rstrip("/") + "/api/v1/notifications"
        kept_names = ("limit", "types[]", "types", "exclude_types[]", "exclude_types", "account_id")
        kept = [(name, value) for name in kept_names for value in request.args.getlist(name)]
        next_query = urlencode([("max_id", str(lowest)), *kept], safe="[]")
        prev_query = urlencode([("min_id", str(highest)), *kept], safe="[]")
        return f'<{base}?{next_query}>; rel="next", <{base}?{prev_query}>; rel="prev"'

    def _dismiss(self, request: Request, token: str, notification_id: str) -> Response:
        kept = [item for item in self._notifications if item[1].get("id") != notification_id]
        if len(kept) == len(self._notifications):
            return json_response(NOT_FOUND, 404)
        self._notifications = kept
        return json_response({})

    def _create_status(self, request: Request, token: str) -> Response:
        params: Any = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(params, dict):
            return json_response({"error": "Error occurred while parsing request JSON"}, 400)
        now = self._clock()
        key = request.headers.get("Idempotency-Key", "")
        if key:
            self._idempotency = {k: v for k, v in self._idempotency.items() if v[1] > now}
            remembered = self._idempotency.get((token, key))
            if remembered is not None and remembered[0] in self._statuses:
                return json_response(copy.deepcopy(self._statuses[remembered[0]]))
        text = str(params.get("status") or "")
        visibility = str(params.get("visibility") or "public")
        in_reply_to_id = _optional_str(params.get("in_reply_to_id"))
        if not text.strip():
            return json_response(BLANK_TEXT, 422)
        if len(text) > MAX_STATUS_CHARS:
            error = f"Validation failed: Text character limit of {MAX_STATUS_CHARS} exceeded"
            return json_response({"error": error}, 422)
        if visibility not in VISIBILITIES:
            return json_response({"error": f"'{visibility}' is not a valid visibility"}, 422)
        if in_reply_to_id is not None and in_reply_to_id not in self._statuses:
            return json_response(NOT_FOUND, 404)
        content, mentions = self._link_mentions(html.escape(text))
        status = self._new_status(
            self._brand,
            content=_paragraphs(content),
            mentions=mentions,
            visibility=visibility,
            in_reply_to_id=in_reply_to_id,
            language=_optional_str(params.get("language")),
            spoiler_text=str(params.get("spoiler_text") or ""),
        )
        self._sources[status["id"]] = text
        if key:
            self._idempotency[(token, key)] = (status["id"], now + IDEMPOTENCY_TTL)
        self._received.append(
            {
                "id": status["id"],
                "created_at": status["created_at"],
                "status": text,
                "in_reply_to_id": in_reply_to_id,
                "visibility": visibility,
                "spoiler_text": status["spoiler_text"],
                "language": status["language"],
                "idempotency_key": key or None,
            }
        )
        return json_response(copy.deepcopy(status))

    def _show_status(self, request: Request, token: str, status_id: str) -> Response:
        status = self._statuses.get(status_id)
        if status is None:
            return json_response(NOT_FOUND, 404)
        return json_response(copy.deepcopy(status))

    def _delete_status(self, request: Request, token: str, status_id: str) -> Response:
        status = self._statuses.get(status_id)
        if status is None:
            return json_response(NOT_FOUND, 404)
        if status["account"]["id"] != BRAND_ACCOUNT_ID:
            return json_response(FORBIDDEN, 403)
        del self._statuses[status_id]
        parent = self._statuses.get(status["in_reply_to_id"] or "")
        if parent is not None:
            parent["replies_count"] = max(0, parent["replies_count"] - 1)
        # The source text lets clients offer "delete and redraft".
        deleted = copy.deepcopy(status)
        deleted["text"] = self._sources.pop(status_id, "")
        return json_response(deleted)

    def _favourite(self, request: Request, token: str, status_id: str, action: str) -> Response:
        status = self._statuses.get(status_id)
        if status is None:
            return json_response(NOT_FOUND, 404)
        favourited = action == "favourite"
        if status["favourited"] != favourited:
            status["favourited"] = favourited
            status["favourites_count"] += 1 if favourited else -1
        return json_response(copy.deepcopy(status))

    def _verify_credentials(self, request: Request, token: str) -> Response:
        own = sum(1 for status in self._statuses.values() if status["account"] is self._brand)
        credentials = {**self._brand, "locked": False, "note": "", "statuses_count": own}
        credentials["source"] = {"privacy": "public", "sensitive": False, "note": "", "fields": []}
        return json_response(credentials)

    # Admin endpoints (not part of Mastodon; no auth, no lock held).

    def _admin_seed(self, request: Request) -> Response:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        if isinstance(payload.get("raw"), dict):
            return json_response(self.add_raw_notification(payload["raw"]), 201)
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return json_response({"error": "text is required"}, 400)
        try:
            notification = self.add_mention(
                text,
                username=str(payload.get("username") or "zsc"),
                display_name=str(payload.get("display_name") or "Z"),
                account_id=_optional_str(payload.get("account_id")),
                visibility=str(payload.get("visibility") or "public"),
                in_reply_to_id=_optional_str(payload.get("in_reply_to_id")),
                language=_optional_str(payload.get("language")),
            )
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        return json_response(notification, 201)

    def _admin_mention(self, request: Request) -> Response:
        """The admin page's form: urlencoded, answered with a redirect back (POST/redirect/GET)."""
        form = request.form
        text = form.get("text", "").strip()
        if text:
            try:
                self.add_mention(
                    text,
                    username=form.get("username", "").strip() or "zsc",
                    display_name=form.get("display_name", "").strip() or "Z",
                    visibility=form.get("visibility") or "public",
                )
            except ValueError as error:
                return Response(str(error), 400, content_type="text/plain; charset=utf-8")
        return redirect("/__admin/", code=303)

    def _admin_page(self, request: Request) -> Response:
        received = ("created_at", "in_reply_to_id", "visibility", "status", "idempotency_key")
        return admin_page(
            "Fake Mastodon: @brand@mastodon.social",
            notes=[
                f"API base URL: {request.root_url.rstrip('/')}",
                f"API calls recorded: {len(self._calls)}",
                f"faults queued: {len(self._faults)}",
            ],
            form=MENTION_FORM,
            tables=[
                AdminTable(
                    "Recent notifications",
                    ("Id", "Time", "Type", "From", "Visibility", "In reply to", "Text"),
                    [_notification_row(n) for n in reversed(self.notifications()[-50:])],
                ),
                AdminTable(
                    "Statuses posted by the brand",
                    ("Time", "In reply to", "Visibility", "Text", "Idempotency key"),
                    [[s[k] for k in received] for s in reversed(self.received_statuses()[-50:])],
                ),
            ],
        )


def _notification_row(notification: Json) -> list[object]:
    # Injected notifications may be malformed: any field may be missing or odd.
    account = notification.get("account")
    account = account if isinstance(account, dict) else {}
    status = notification.get("status")
    status = status if isinstance(status, dict) else {}
    return [
        notification.get("id"),
        notification.get("created_at"),
        notification.get("type"),
        f"{account.get('display_name', '')} @{account.get('acct', '?')}",
        status.get("visibility"),
        status.get("in_reply_to_id"),
        _html_to_text(status.get("content")),
    ]
