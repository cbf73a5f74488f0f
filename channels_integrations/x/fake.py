"""A fake X API v2 for tests and the demo, seen through one brand account's tokens.

It speaks the documented API over real HTTP (platform-apis.md section 6): the paths under /2/,
the parameter names (since_id, start_time, pagination_token, max_results, expansions,
tweet.fields, user.fields), field selection, includes, meta with newest_id/oldest_id/next_token,
partial errors inside a 200, Problem JSON errors, and x-rate-limit-* headers with an enforced
budget per endpoint and token in 15-minute windows (fake_responses.py holds those rules). It
keeps X's moderation rules: only replies in conversations the account started can be hidden,
only its own posts deleted; a reply to a deleted post, a duplicate post or one over 280
characters is refused. Post text is HTML-escaped (&amp; &lt; &gt;) and links shortened to t.co,
a reply starts with the @name it answers, edits get new ids, and the mention timeline reaches
only the 800 most recent mentions.

Endpoints under /__admin/ are not part of X: they seed mentions, inject faults and show what the
connector did. State lives in memory behind one lock (the threaded server, the tests and the
demo generator all touch it).
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import (
    AdminField,
    AdminForm,
    AdminTable,
    PlatformFake,
    RateBudget,
    admin_page,
    json_response,
)
from channels_integrations.x import fake_responses as wire
from channels_integrations.x.post_length import MAX_WEIGHTED_LENGTH, weighted_length

Json = dict[str, Any]
Clock = Callable[[], datetime]

# The documented sample account (platform-apis.md 6.4) is @XDevelopers, id 2244994945.
BRAND_USER_ID = "2244994945"
BRAND_USERNAME = "brand"
BRAND_NAME = "Brand"
FIRST_USER_ID = 1234567890
SNOWFLAKE_EPOCH_MS = 1288834974657
MENTION_WINDOW = 800  # only the 800 most recent mentions are reachable
TIMELINE_WINDOW = 3200  # the user timeline reaches the 3200 most recent posts
RATE_WINDOW_SECONDS = 15 * 60
TOKEN_LIFETIME = timedelta(hours=2)
SCOPES = "tweet.read users.read tweet.write tweet.moderate.write like.write offline.access"

# Each API route: (method, path, rate-limit key). The key names the endpoint as X's rate-limit
# tables do; budgets are counted per key and token.
ROUTES = (
    ("GET", "/2/users/me", "GET /2/users/me"),
    ("GET", "/2/users/<user_id>/mentions", "GET /2/users/:id/mentions"),
    ("GET", "/2/users/<user_id>/tweets", "GET /2/users/:id/tweets"),
    ("GET", "/2/tweets", "GET /2/tweets"),
    ("POST", "/2/tweets", "POST /2/tweets"),
    ("GET", "/2/tweets/<tweet_id>", "GET /2/tweets/:id"),
    ("DELETE", "/2/tweets/<tweet_id>", "DELETE /2/tweets/:id"),
    ("PUT", "/2/tweets/<tweet_id>/hidden", "PUT /2/tweets/:id/hidden"),
    ("POST", "/2/users/<user_id>/likes", "POST /2/users/:id/likes"),
    ("DELETE", "/2/users/<user_id>/likes/<tweet_id>", "DELETE /2/users/:id/likes/:tweet_id"),
    ("POST", "/2/oauth2/token", "POST /2/oauth2/token"),
)

MENTION_FORM = AdminForm(
    "Create a mention",
    action="mention",  # relative: the page may be served under a path prefix
    submit="Post the mention",
    fields=(
        AdminField("text", "Text", rows=3, required=True),
        AdminField("username", "Username", placeholder="janedoe"),
        AdminField("display_name", "Display name", placeholder="Jane Doe"),
        AdminField("in_reply_to", "In reply to (post id)", placeholder="optional"),
        AdminField("lang", "Language", options=("de", "en")),
    ),
)

_USERNAME = re.compile(r"^\w{1,15}$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FakeX(PlatformFake):
    """In-memory X with one brand account. Public methods take `_lock`; API views run with it
    held (see PlatformFake) and use only private helpers."""

    def __init__(
        self,
        tokens: Iterable[str] = ("demo-token",),
        *,
        user_id: str = BRAND_USER_ID,
        username: str = BRAND_USERNAME,
        display_name: str = BRAND_NAME,
        rate_limits: Mapping[str, int] | None = None,
        mention_window: int = MENTION_WINDOW,
        clock: Clock = _utcnow,
    ) -> None:
        super().__init__(
            logged_headers=("Content-Type", "User-Agent"),
            admin_routes=[
                ("GET", "/__admin/", self._admin_page),
                ("POST", "/__admin/mention", self._admin_mention),
                ("POST", "/__admin/seed", self._admin_seed),
                ("GET", "/__admin/actions", lambda _: json_response(self.actions())),
                ("GET", "/__admin/mentions", lambda _: json_response(self.mentions())),
            ],
        )
        self._clock = clock
        # Token -> when it expires (None: never; the tokens given here are long-lived).
        self._tokens: dict[str, datetime | None] = {token: None for token in tokens}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> client id
        self._rate_limits = {**wire.DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self._budget = RateBudget(RATE_WINDOW_SECONDS, clock)
        self._mention_window = mention_window
        self._brand_id = user_id
        self._users: dict[str, Json] = {}
        self._tweets: dict[str, Json] = {}  # every version of every post, by id
        self._raw: dict[str, Json] = {}  # injected (possibly malformed) mentions, by order
        self._pending_errors: list[Json] = []
        self._actions: list[Json] = []
        self._token_generation = 0
        self._last_id = 0
        self._next_user_id = FIRST_USER_ID
        self._add_user(user_id, username, display_name)
        self._routes = Map(
            [Rule(path, methods=[method], endpoint=key) for method, path, key in ROUTES],
            strict_slashes=False,
        )
        self._views: dict[str, Callable[..., Response]] = {
            "GET /2/users/me": self._me,
            "GET /2/users/:id/mentions": self._list_mentions,
            "GET /2/users/:id/tweets": self._list_user_tweets,
            "GET /2/tweets": self._lookup_tweets,
            "POST /2/tweets": self._create_tweet,
            "GET /2/tweets/:id": self._lookup_tweet,
            "DELETE /2/tweets/:id": self._delete_tweet,
            "PUT /2/tweets/:id/hidden": self._hide_reply,
            "POST /2/users/:id/likes": self._like,
            "DELETE /2/users/:id/likes/:tweet_id": self._unlike,
        }

    # Python API: tests in-process, the demo and /__admin/.

    @property
    def brand_id(self) -> str:
        return self._brand_id

    def add_user(
        self,
        username: str,
        display_name: str | None = None,
        *,
        user_id: str | None = None,
        avatar_url: str | None = None,
    ) -> Json:
        """A person on X (created on first use of the username); returns the full user."""
        with self._lock:
            return copy.deepcopy(self._user(username, display_name, user_id, avatar_url))

    def add_post(self, text: str, *, lang: str = "de") -> Json:
        """The brand posts something (a conversation others can reply to)."""
        with self._lock:
            return self._render(self._new_tweet(self._brand_id, text, lang=lang))

    def add_mention(
        self,
        text: str,
        *,
        username: str = "janedoe",
        display_name: str | None = None,
        user_id: str | None = None,
        avatar_url: str | None = None,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
        lang: str = "en",
        tweet_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Json:
        """Someone mentions the brand: a new post, a reply (`in_reply_to` a post id, which may
        be one this fake never saw, taken as the brand's) or a quote. The brand's @name is
        added to the text when missing. Returns the post with every field."""
        with self._lock:
            author = self._user(username, display_name, user_id, avatar_url)
            record = self._new_tweet(
                author["id"],
                text,
                lang=lang,
                in_reply_to=in_reply_to,
                quote_of=quote_of,
                tweet_id=tweet_id,
                created_at=created_at,
                mention_brand=True,
            )
            return self._render(record)

    def add_raw_mention(self, payload: Json, *, users: Iterable[Json] = ()) -> Json:
        """Serve any dict as a mention, verbatim (tests inject malformed items this way); it
        is ordered by its id when that is numeric, else as the newest."""
        with self._lock:
            mention = copy.deepcopy(payload)
            order = mention.get("id")
            if not (isinstance(order, str) and order.isdigit()):
                order = self._next_id()
            self._last_id = max(self._last_id, int(order))
            self._raw[order] = mention
            for user in users:
                self._users.setdefault(str(user["id"]), copy.deepcopy(user))
            return copy.deepcopy(mention)

    def add_partial_error(self, error: Json) -> None:
        """Add this error to errors[] of the next mentions page (a partial error in a 200)."""
        with self._lock:
            self._pending_errors.append(copy.deepcopy(error))

    def edit_as_author(self, tweet_id: str, text: str) -> Json:
        """The author edits a post: X publishes a new version under a new id."""
        with self._lock:
            old = self._latest_version(tweet_id)
            if old is None or old["deleted"]:
                raise KeyError(tweet_id)
            if old["in_reply_to_user_id"] not in (None, old["author_id"]):
                raise ValueError("X does not let people edit replies to others")
            new = self._new_tweet(
                old["author_id"],
                text,
                lang=old["lang"],
                edit_of=old,
                # An edit keeps the brand's @name, so it stays a mention.
                mention_brand=self._mentions_user(old, self._users[self._brand_id]),
            )
            return self._render(new)

    def delete_as_author(self, tweet_id: str) -> None:
        """The author deletes a post (every version of it)."""
        with self._lock:
            record = self._tweets.get(tweet_id)
            if record is None:
                raise KeyError(tweet_id)
            self._delete_chain(record)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def add_refresh_token(self, refresh_token: str, *, client_id: str) -> None:
        """Accept this refresh token (for `client_id`) at POST /2/oauth2/token, once."""
        with self._lock:
            self._refresh_tokens[refresh_token] = client_id

    def expire_pagination_tokens(self) -> None:
        """Every next_token handed out so far stops working (400), as old ones do on X."""
        with self._lock:
            self._token_generation += 1

    def mentions(self) -> list[Json]:
        """The brand's current mentions (newest versions, not deleted), newest first."""
        with self._lock:
            return [self._render(r) for r in self._mention_records()]

    def tweet(self, tweet_id: str) -> Json:
        """Any post in the fake's own shape: text unescaped, plus hidden/deleted/liked."""
        with self._lock:
            return self._state_of(self._tweets[tweet_id])

    def replies_by_brand(self) -> list[Json]:
        """Posts the brand created through POST /2/tweets, oldest first (deleted ones too)."""
        with self._lock:
            return [
                self._state_of(self._tweets[a["tweet_id"]])
                for a in self._actions
                if a["action"] == "reply"
            ]

    def actions(self) -> list[Json]:
        """What was done through the API (reply, hide, unhide, delete, like, unlike), oldest
        first."""
        with self._lock:
            return copy.deepcopy(self._actions)

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        """X's usual body for the status; a 429 comes with headers resetting in a minute."""
        headers: dict[str, str] = {}
        if status == 429:
            headers = self._exhausted_headers(self._clock() + timedelta(minutes=1))
        return wire.DEFAULT_ERROR_BODIES.get(status), headers

    def fail_next_rate_limited(
        self,
        *,
        reset_in: float = 60.0,
        v11_body: bool = False,
        times: int = 1,
        path_prefix: str | None = None,
    ) -> None:
        """Rate-limit the next calls as X does, the window resetting in `reset_in` seconds.
        `v11_body` sends the v1.1-style body X's rate-limit page still shows."""
        headers = self._exhausted_headers(self._clock() + timedelta(seconds=reset_in))
        body = wire.RATE_LIMIT_V11 if v11_body else wire.TOO_MANY_REQUESTS
        self.fail_next(429, body=body, headers=headers, times=times, path_prefix=path_prefix)

    def reset(self) -> None:
        """Forget faults, recorded calls, the delay and the spent rate-limit budgets."""
        super().reset()
        self._budget.clear()

    # The real API (lock held by PlatformFake).

    def answer(self, request: Request) -> Response:
        try:
            endpoint, values = self._routes.bind_to_environ(request.environ).match()
        except HTTPException as error:
            code = error.code or 500
            return json_response(wire.problem(code, error.name, error.name), code)
        if endpoint == "POST /2/oauth2/token":
            return self._oauth_token(request)
        token = self._bearer(request)
        if token is None:
            unauthorized = json_response(wire.UNAUTHORIZED, 401)
            unauthorized.content_type = "application/problem+json"
            return unauthorized
        used, reset = self._budget.spend(f"{endpoint}|{token}")
        limit = self._rate_limits.get(endpoint, 900)
        if used > limit:
            response = json_response(wire.TOO_MANY_REQUESTS, 429)
        else:
            response = self._views[endpoint](request, **values)
        response.headers.update(
            {
                "x-rate-limit-limit": str(limit),
                "x-rate-limit-remaining": str(max(0, limit - used)),
                "x-rate-limit-reset": str(int(reset.timestamp())),
            }
        )
        return response

    def _bearer(self, request: Request) -> str | None:
        # X takes the token from the Authorization header only, never from the query string.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or token not in self._tokens:
            return None
        expires = self._tokens[token]
        if expires is not None and expires <= self._clock():
            return None
        return token

    @staticmethod
    def _exhausted_headers(reset: datetime) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "180",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(reset.timestamp())),
        }

    # State helpers (lock held by the caller).

    def _add_user(
        self, user_id: str, username: str, name: str, avatar_url: str | None = None
    ) -> Json:
        if not _USERNAME.match(username):
            raise ValueError(f"invalid X username: {username!r}")
        user = {
            "id": user_id,
            "name": name,
            "username": username,
            "profile_image_url": avatar_url
            or f"https://pbs.twimg.com/profile_images/{user_id}/{username.lower()}_normal.jpg",
            "created_at": "2020-01-01T00:00:00.000Z",
            "protected": False,
            "verified": False,
        }
        self._users[user_id] = user
        return user

    def _user(
        self, username: str, display_name: str | None, user_id: str | None, avatar_url: str | None
    ) -> Json:
        existing = self._user_by_name(username)
        if existing is not None:
            return existing
        if user_id is None:
            user_id = str(self._next_user_id)
            self._next_user_id += 1
        return self._add_user(user_id, username, display_name or username, avatar_url)

    def _user_by_name(self, username: str) -> Json | None:
        lowered = username.lower()
        return next((u for u in self._users.values() if u["username"].lower() == lowered), None)

    def _next_id(self) -> str:
        """Snowflake-like ids: the creation time in milliseconds in the high bits."""
        millis = int(self._clock().timestamp() * 1000) - SNOWFLAKE_EPOCH_MS
        self._last_id = max(millis << 22, self._last_id + 1)
        return str(self._last_id)

    def _new_tweet(
        self,
        author_id: str,
        text: str,
        *,
        lang: str,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
        tweet_id: str | None = None,
        created_at: datetime | None = None,
        mention_brand: bool = False,
        edit_of: Json | None = None,
    ) -> Json:
        if tweet_id is not None:
            self._last_id = max(self._last_id, int(tweet_id))
        else:
            tweet_id = self._next_id()
        references: list[Json] = []
        conversation_id, in_reply_to_user_id, prefix = tweet_id, None, ""
        if edit_of is not None:
            conversation_id = edit_of["conversation_id"]
            in_reply_to_user_id = edit_of["in_reply_to_user_id"]
            references = copy.deepcopy(edit_of["referenced_tweets"])
        if in_reply_to is not None:
            parent = self._latest_version(in_reply_to)
            if parent is None:
                # A post this fake never saw: taken as a brand post that started a conversation.
                conversation_id, in_reply_to_user_id = in_reply_to, self._brand_id
            else:
                conversation_id = parent["conversation_id"]
                in_reply_to_user_id = parent["author_id"]
                in_reply_to = parent["id"]
            references.append({"type": "replied_to", "id": in_reply_to})
            # X puts the @name of the account answered in front of a reply to someone else.
            replied = self._users.get(in_reply_to_user_id or "")
            if replied and in_reply_to_user_id != author_id:
                prefix = f"@{replied['username']} "
        if quote_of is not None:
            references.append({"type": "quoted", "id": quote_of})
        if prefix and text.lower().startswith(prefix.lower()):
            prefix = ""
        full = prefix + text
        brand_name = "@" + self._users[self._brand_id]["username"]
        if mention_brand and brand_name.lower() not in full.lower():
            full = f"{prefix}{brand_name} {text}"
        history = [*edit_of["edit_history_tweet_ids"], tweet_id] if edit_of else [tweet_id]
        record: Json = {
            "id": tweet_id,
            "text": full,
            "author_id": author_id,
            "created_at": created_at or self._clock(),
            "conversation_id": conversation_id,
            "in_reply_to_user_id": in_reply_to_user_id,
            "referenced_tweets": references,
            "lang": lang,
            "edit_history_tweet_ids": history,
            "hidden": False,
            "deleted": False,
            "liked": False,
            "latest": True,
        }
        if edit_of is not None:
            for version in history[:-1]:
                if version in self._tweets:
                    self._tweets[version]["latest"] = False
                    self._tweets[version]["edit_history_tweet_ids"] = history
            record["hidden"], record["liked"] = edit_of["hidden"], edit_of["liked"]
        self._tweets[tweet_id] = record
        return record

    def _latest_version(self, tweet_id: str) -> Json | None:
        record = self._tweets.get(tweet_id)
        if record is None:
            return None
        return self._tweets.get(record["edit_history_tweet_ids"][-1], record)

    def _delete_chain(self, record: Json) -> None:
        # Deleting any version of an edited post deletes them all, as on X.
        for version in record["edit_history_tweet_ids"]:
            if version in self._tweets:
                self._tweets[version]["deleted"] = True

    def _visible(self, tweet_id: str) -> Json | None:
        record = self._tweets.get(tweet_id)
        return None if record is None or record["deleted"] else record

    def _mentions_user(self, record: Json, user: Json) -> bool:
        # A reply to someone's post mentions them, like an explicit @name does.
        if record["author_id"] != user["id"] and record["in_reply_to_user_id"] == user["id"]:
            return True
        return any(
            name.lower() == user["username"].lower()
            for name in wire.MENTION.findall(record["text"])
        )

    def _mention_records(self, user_id: str | None = None) -> list[Json]:
        user = self._users[user_id or self._brand_id]
        records = [
            r
            for r in self._tweets.values()
            if r["latest"] and not r["deleted"] and self._mentions_user(r, user)
        ]
        return sorted(records, key=lambda r: int(r["id"]), reverse=True)

    def _render(self, record: Json, fields: Iterable[str] = wire.TWEET_FIELDS) -> Json:
        def reply_count() -> int:
            reference = {"type": "replied_to", "id": record["id"]}
            return sum(
                1
                for r in self._tweets.values()
                if r["latest"] and not r["deleted"] and reference in r["referenced_tweets"]
            )

        return wire.render_tweet(
            record, fields, user_by_name=self._user_by_name, reply_count=reply_count
        )

    def _state_of(self, record: Json) -> Json:
        state = copy.deepcopy(record)
        state["created_at"] = wire.iso_millis(record["created_at"])
        return state

    # X API views (lock held).

    def _fields_or_400(self, request: Request) -> tuple[set[str], set[str], set[str]] | Response:
        fields = wire.requested_fields(request.args)
        return json_response(fields, 400) if isinstance(fields, dict) else fields

    def _timeline(
        self, request: Request, candidates: list[Json], *, extra_errors: Iterable[Json] = ()
    ) -> Response:
        """A timeline page from newest-first candidates ({"order", "created_at", and the
        "record" or an injected "raw" payload})."""
        fields = self._fields_or_400(request)
        if isinstance(fields, Response):
            return fields
        tweet_fields, user_fields, expansions = fields
        paged = wire.select_page(
            request.args, candidates, default_max=10, generation=self._token_generation
        )
        if isinstance(paged, dict):
            return json_response(paged, 400)
        page, next_token = paged
        data = [
            copy.deepcopy(item["raw"])
            if "raw" in item
            else self._render(item["record"], tweet_fields)
            for item in page
        ]
        sources = [
            item["record"] if "record" in item else item["raw"]
            for item in page
            if isinstance(item.get("record", item.get("raw")), dict)
        ]
        includes, errors = self._includes(sources, tweet_fields, user_fields, expansions)
        errors.extend(extra_errors)
        return json_response(wire.timeline_body(data, page, next_token, includes, errors))

    def _includes(
        self,
        sources: Iterable[Json],
        tweet_fields: set[str],
        user_fields: set[str],
        expansions: set[str],
    ) -> tuple[Json, list[Json]]:
        return wire.build_includes(
            sources,
            tweet_fields=tweet_fields,
            user_fields=user_fields,
            expansions=expansions,
            users=self._users,
            user_by_name=self._user_by_name,
            visible_tweet=self._visible,
            render=self._render,
        )

    def _me(self, request: Request) -> Response:
        fields = self._fields_or_400(request)
        if isinstance(fields, Response):
            return fields
        return json_response({"data": wire.render_user(self._users[self._brand_id], fields[1])})

    def _list_mentions(self, request: Request, user_id: str) -> Response:
        if user_id not in self._users:
            return json_response({"errors": [wire.not_found("user", "id", user_id)]})
        candidates: list[Json] = [
            {"order": r["id"], "record": r, "created_at": r["created_at"]}
            for r in self._mention_records(user_id)
        ]
        if user_id == self._brand_id:
            for order, raw in self._raw.items():
                created = wire.parse_time(raw.get("created_at"))
                candidates.append({"order": order, "raw": raw, "created_at": created})
            candidates.sort(key=lambda item: int(item["order"]), reverse=True)
        errors, self._pending_errors = self._pending_errors, []
        return self._timeline(request, candidates[: self._mention_window], extra_errors=errors)

    def _list_user_tweets(self, request: Request, user_id: str) -> Response:
        if user_id not in self._users:
            return json_response({"errors": [wire.not_found("user", "id", user_id)]})
        no_replies = "replies" in wire.csv(request.args.get("exclude"))
        records = sorted(
            (
                r
                for r in self._tweets.values()
                if r["author_id"] == user_id
                and r["latest"]
                and not r["deleted"]
                and not (no_replies and r["in_reply_to_user_id"])
            ),
            key=lambda r: int(r["id"]),
            reverse=True,
        )
        candidates = [
            {"order": r["id"], "record": r, "created_at": r["created_at"]}
            for r in records[:TIMELINE_WINDOW]
        ]
        return self._timeline(request, candidates)

    def _lookup_tweets(self, request: Request) -> Response:
        ids = wire.csv(request.args.get("ids"))
        if not ids or len(ids) > 100 or not all(i.isdigit() for i in ids):
            value = request.args.get("ids", "")
            message = "The `ids` query parameter value must be 1 to 100 comma-separated ids"
            return json_response(wire.invalid_parameter("ids", value, message), 400)
        return self._lookup(request, ids, single=False)

    def _lookup_tweet(self, request: Request, tweet_id: str) -> Response:
        return self._lookup(request, [tweet_id], single=True)

    def _lookup(self, request: Request, ids: list[str], *, single: bool) -> Response:
        """Post lookup: what is gone is reported in errors[] of a 200, not as a 404."""
        fields = self._fields_or_400(request)
        if isinstance(fields, Response):
            return fields
        tweet_fields, user_fields, expansions = fields
        found = [r for r in (self._visible(i) for i in ids) if r is not None]
        errors = [wire.not_found("tweet", "id", i) for i in ids if self._visible(i) is None]
        includes, more = self._includes(found, tweet_fields, user_fields, expansions)
        body: Json = {}
        if found:
            rendered = [self._render(r, tweet_fields) for r in found]
            body["data"] = rendered[0] if single else rendered
        if includes:
            body["includes"] = includes
        if errors or more:
            body["errors"] = errors + more
        return json_response(body)

    def _json_body(self, request: Request) -> Json | Response:
        payload = request.get_json(silent=True) if request.is_json else None
        if not isinstance(payload, dict):
            detail = "Request body must be a JSON object."
            kind = wire.PROBLEMS + "invalid-request"
            return json_response(wire.problem(400, "Invalid Request", detail, kind), 400)
        return payload

    def _create_tweet(self, request: Request) -> Response:
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            message = "text must be a non-empty string"
            return json_response(wire.invalid_parameter("text", str(text), message), 400)
        reply = payload.get("reply")
        parent_id: str | None = None
        if reply is not None:
            parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if not isinstance(parent_id, str) or not parent_id.isdigit():
                name, message = "reply.in_reply_to_tweet_id", "must be a post id"
                return json_response(wire.invalid_parameter(name, str(parent_id), message), 400)
            if self._visible(parent_id) is None:
                detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
                return json_response(wire.forbidden(detail), 403)
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            detail = (
                "Your Tweet text is too long. For more information on how X determines text "
                "length see https://github.com/twitter/twitter-text."
            )
            return json_response(wire.forbidden(detail), 403)
        record = self._new_tweet(self._brand_id, text, lang="und", in_reply_to=parent_id)
        duplicate = any(
            r["author_id"] == self._brand_id
            and not r["deleted"]
            and r["id"] != record["id"]
            and r["text"] == record["text"]
            for r in self._tweets.values()
        )
        if duplicate:
            del self._tweets[record["id"]]
            detail = "You are not allowed to create a Tweet with duplicate content."
            return json_response(wire.forbidden(detail), 403)
        self._log("reply", record["id"], target=parent_id, text=text)
        return json_response({"data": self._render(record, ())}, 201)

    def _delete_tweet(self, request: Request, tweet_id: str) -> Response:
        record = self._visible(tweet_id)
        if record is None:
            return json_response(wire.tweet_not_found(tweet_id), 404)
        if record["author_id"] != self._brand_id:
            return json_response(wire.forbidden("You are not allowed to delete this Tweet."), 403)
        self._delete_chain(record)
        self._log("delete", tweet_id)
        return json_response({"data": {"deleted": True}})

    def _hide_reply(self, request: Request, tweet_id: str) -> Response:
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        hidden = payload.get("hidden")
        if not isinstance(hidden, bool):
            message = "hidden must be true or false"
            return json_response(wire.invalid_parameter("hidden", str(hidden), message), 400)
        record = self._visible(tweet_id)
        if record is None:
            return json_response(wire.tweet_not_found(tweet_id), 404)
        if record["conversation_id"] == record["id"] or record["author_id"] == self._brand_id:
            detail = (
                "You can only hide replies by other accounts, not posts that start a "
                "conversation or your own."
            )
            return json_response(wire.forbidden(detail), 403)
        root = self._tweets.get(record["conversation_id"])
        if root is None or root["author_id"] != self._brand_id:
            detail = "You can only hide or unhide replies to conversations you started."
            return json_response(wire.forbidden(detail), 403)
        changed = record["hidden"] != hidden
        record["hidden"] = hidden  # hiding a hidden reply again is a success, as on X
        if changed:
            self._log("hide" if hidden else "unhide", tweet_id)
        return json_response({"data": {"hidden": hidden}})

    def _like(self, request: Request, user_id: str) -> Response:
        if user_id != self._brand_id:
            detail = "You cannot like Tweets on behalf of another user."
            return json_response(wire.forbidden(detail), 403)
        payload = self._json_body(request)
        if isinstance(payload, Response):
            return payload
        tweet_id = payload.get("tweet_id")
        if not isinstance(tweet_id, str) or not tweet_id.isdigit():
            message = "tweet_id must be a post id"
            return json_response(wire.invalid_parameter("tweet_id", str(tweet_id), message), 400)
        record = self._visible(tweet_id)
        if record is None:
            return json_response(wire.tweet_not_found(tweet_id), 404)
        if not record["liked"]:
            record["liked"] = True
            self._log("like", tweet_id)
        return json_response({"data": {"liked": True}})

    def _unlike(self, request: Request, user_id: str, tweet_id: str) -> Response:
        if user_id != self._brand_id:
            detail = "You cannot unlike Tweets on behalf of another user."
            return json_response(wire.forbidden(detail), 403)
        record = self._visible(tweet_id)
        if record is not None and record["liked"]:
            record["liked"] = False
            self._log("unlike", tweet_id)
        return json_response({"data": {"liked": False}})

    def _oauth_token(self, request: Request) -> Response:
        """The refresh-token grant: both tokens rotate; an unknown refresh token is refused."""
        form = request.form
        client_id = form.get("client_id", "")
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":  # a confidential client
            try:
                client_id = base64.b64decode(encoded).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                client_id = ""
        refresh_token = form.get("refresh_token", "")
        if (
            form.get("grant_type") != "refresh_token"
            or self._refresh_tokens.get(refresh_token) != client_id
        ):
            error = "Value passed for the token was invalid."
            return json_response({"error": "invalid_request", "error_description": error}, 400)
        del self._refresh_tokens[refresh_token]
        access, rotated = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._tokens[access] = self._clock() + TOKEN_LIFETIME
        self._refresh_tokens[rotated] = client_id
        grant = {
            "token_type": "bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "access_token": access,
            "scope": SCOPES,
            "refresh_token": rotated,
        }
        return json_response(grant)

    def _log(self, action: str, tweet_id: str, **detail: Any) -> None:
        at = wire.iso_millis(self._clock())
        self._actions.append({"at": at, "action": action, "tweet_id": tweet_id, **detail})

    # Admin endpoints (not part of X; no auth, no lock held).

    def _admin_seed(self, request: Request) -> Response:
        """JSON: {"text", "username", "display_name", "in_reply_to", "quote_of", "lang"} for a
        mention, {"post": true, "text"} for a brand post, {"raw": {...}, "users": [...]}."""
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        if isinstance(payload.get("raw"), dict):
            users = payload.get("users")
            users = [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []
            return json_response(self.add_raw_mention(payload["raw"], users=users), 201)
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return json_response({"error": "text is required"}, 400)
        try:
            if payload.get("post"):
                made = self.add_post(text, lang=str(payload.get("lang") or "de"))
            else:
                made = self.add_mention(
                    text,
                    username=str(payload.get("username") or "janedoe"),
                    display_name=_optional(payload.get("display_name")),
                    in_reply_to=_optional(payload.get("in_reply_to")),
                    quote_of=_optional(payload.get("quote_of")),
                    lang=str(payload.get("lang") or "en"),
                )
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        return json_response(made, 201)

    def _admin_mention(self, request: Request) -> Response:
        """The admin page's form: urlencoded, answered with a redirect back (POST/redirect/GET)."""
        form = request.form
        text = form.get("text", "").strip()
        if text:
            try:
                self.add_mention(
                    text,
                    username=form.get("username", "").strip() or "janedoe",
                    display_name=form.get("display_name", "").strip() or None,
                    in_reply_to=form.get("in_reply_to", "").strip() or None,
                    lang=form.get("lang") or "en",
                )
            except ValueError as error:
                return Response(str(error), 400, content_type="text/plain; charset=utf-8")
        return Response("", 303, {"Location": request.script_root + "/__admin/"})

    def _admin_page(self, request: Request) -> Response:
        with self._lock:
            brand = self._users[self._brand_id]
            mention_rows = [self._admin_row(r, with_author=True) for r in self._mention_records()]
            own = sorted(self._tweets.values(), key=lambda r: int(r["id"]), reverse=True)
            own_rows = [
                self._admin_row(r, with_author=False)
                for r in own
                if r["author_id"] == self._brand_id and r["latest"]
            ]
            action_rows = [
                [a["at"], a["action"], a["tweet_id"], a.get("target") or "", a.get("text") or ""]
                for a in reversed(self._actions[-50:])
            ]
        return admin_page(
            f"Fake X: @{brand['username']} (id {brand['id']})",
            notes=[
                f"API base URL: {request.root_url.rstrip('/')}/2",
                f"API calls recorded: {len(self._calls)}",
                f"faults queued: {len(self._faults)}",
            ],
            form=MENTION_FORM,
            tables=[
                AdminTable(
                    "Mentions",
                    ("Id", "Time", "From", "In reply to", "Conversation", "State", "Text"),
                    mention_rows[:50],
                ),
                AdminTable(
                    "Posts by the brand",
                    ("Id", "Time", "In reply to", "Conversation", "State", "Text"),
                    own_rows[:50],
                ),
                AdminTable(
                    "What the connector did",
                    ("Time", "Action", "Post", "In reply to", "Text"),
                    action_rows,
                ),
            ],
        )

    def _admin_row(self, record: Json, *, with_author: bool) -> list[object]:
        parent = next(
            (r["id"] for r in record["referenced_tweets"] if r["type"] == "replied_to"), ""
        )
        flags = (
            ("deleted", record["deleted"]),
            ("hidden", record["hidden"]),
            ("liked", record["liked"]),
            ("edited", len(record["edit_history_tweet_ids"]) > 1),
        )
        state = ", ".join(name for name, on in flags if on) or "visible"
        row: list[object] = [record["id"], wire.iso_millis(record["created_at"])]
        if with_author:
            author = self._users.get(record["author_id"], {})
            row.append(f"{author.get('name', '')} @{author.get('username', '?')}")
        return [*row, parent, record["conversation_id"], state, record["text"]]


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
