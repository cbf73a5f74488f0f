"""A fake YouTube Data API v3 (and Google token endpoint) for tests and the demo.

It speaks the real API over real HTTP: the paths under the base URL (`/commentThreads`,
`/comments`, `/comments/setModerationStatus`, `/videos`, `/channels`), parameter names,
`nextPageToken` paging, Google's JSON error bodies, the quota (1 unit per list, 50 per write,
counted per project and Pacific-time day, `quotaExceeded` when spent) and YouTube's moderation
rules: `rejected` hides a comment and its replies and cannot be undone, `banAuthor` needs
`rejected`, only a comment's author may delete it. `POST /token` is Google's OAuth token
endpoint (refresh_token grant), so base_url and token_url can point at the same fake.

State lives in memory behind one lock (PlatformFake). Endpoints under /__admin/ are not part of
YouTube: they seed comments, inject faults and show what the connector did.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import (
    AdminField,
    AdminForm,
    AdminTable,
    PlatformFake,
    admin_page,
    bearer_token,
    json_response,
    route_map,
)

Json = dict[str, Any]
Clock = Callable[[], datetime]

BRAND_CHANNEL_ID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
BRAND_HANDLE = "@brand"
BRAND_TITLE = "Brand"
# A channel that is not the owner: its token may read published comments but not moderate.
VIEWER_CHANNEL_ID = "UCviewer0000000000000000"

# The fake's own demo credentials, public by design.
DEMO_TOKEN = "demo-token"  # noqa: S105
DEMO_REFRESH_TOKEN = "demo-refresh-token"  # noqa: S105
DEMO_CLIENT_ID = "demo-client.apps.googleusercontent.com"
DEMO_CLIENT_SECRET = "demo-client-secret"  # noqa: S105
SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"

DAILY_QUOTA = 10_000
QUOTA_TIME_ZONE = ZoneInfo("America/Los_Angeles")
MAX_COMMENT_CHARS = 10_000
REPLIES_IN_THREAD = 5  # commentThreads carry only a subset of the replies
MAX_MODERATION_IDS = 50
MODERATION_STATUSES = ("heldForReview", "published", "rejected")
LIST_STATUSES = ("published", "heldForReview", "likelySpam")

DEFAULT_VIDEOS = {
    "dQw4w9WgXcQ": "Unboxing the new rain jacket",
    "9bZkp7q19f0": "How to return an order in 3 steps",
    "kJQP7kiw5Fk": "Behind the scenes: our warehouse",
}

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(
    code: int,
    reason: str,
    message: str,
    *,
    domain: str = "youtube.comment",
    location: str | None = None,
    location_type: str = "parameter",
    with_status: bool = True,
) -> Json:
    """Google's JSON error body: {"error": {"code", "message", "errors": [{…, "reason"}]}}."""
    detail: Json = {"message": message, "domain": domain, "reason": reason}
    if location:
        detail["location"] = location
        detail["locationType"] = location_type
    error: Json = {"code": code, "message": message, "errors": [detail]}
    if with_status and code in _STATUS_NAMES:
        error["status"] = _STATUS_NAMES[code]
    return {"error": error}


# Documented bodies (platform-apis.md 3.3).
QUOTA_EXCEEDED = google_error(
    403,
    "quotaExceeded",
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.',
    domain="youtube.quota",
    with_status=False,
)
QUOTA_EXCEEDED["error"]["errors"][0]["message"] = (
    "The request cannot be completed because you have exceeded your quota."
)
AUTH_ERROR = google_error(
    401,
    "authError",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See https://developers.google.com/"
    "identity/sign-in/web/devconsole-project.",
    domain="global",
    location="Authorization",
    location_type="header",
)
AUTH_ERROR["error"]["errors"][0]["message"] = "Invalid Credentials"
RATE_LIMIT_EXCEEDED = google_error(
    403,
    "rateLimitExceeded",
    "The request cannot be completed because you have exceeded your rate limit.",
    domain="usageLimits",
)
FORBIDDEN = google_error(
    403,
    "forbidden",
    "The request is not properly authorized to perform this operation.",
    domain="youtube.comment",
)
NOT_FOUND = google_error(
    404,
    "commentNotFound",
    "The comment identified by the <code>id</code> parameter could not be found.",
    location="id",
)
PROCESSING_FAILURE = google_error(
    400,
    "processingFailure",
    "The API server failed to successfully process the request.",
)
BACKEND_ERROR = google_error(500, "backendError", "Backend Error", domain="global")
UNAVAILABLE = google_error(
    503, "backendError", "The service is currently unavailable.", domain="global"
)
TOO_MANY_REQUESTS = google_error(
    429, "rateLimitExceeded", "Too many requests, please slow down.", domain="usageLimits"
)
# What fail_next() sends when a test names only the status code.
DEFAULT_ERROR_BODIES: dict[int, Json] = {
    400: PROCESSING_FAILURE,
    401: AUTH_ERROR,
    403: FORBIDDEN,
    404: NOT_FOUND,
    429: TOO_MANY_REQUESTS,
    500: BACKEND_ERROR,
    503: UNAVAILABLE,
}
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "Token has been expired or revoked.",
}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "The OAuth client was not found."}

COMMENT_FORM = AdminForm(
    "Create a comment",
    action="comment",
    submit="Post comment",
    fields=(
        AdminField("text", "Text", rows=3, required=True),
        AdminField("author", "Author (@handle)", placeholder="@janedoe"),
        AdminField("video_id", "Video", options=tuple(DEFAULT_VIDEOS)),
        AdminField("parent_id", "Reply to (thread id)", placeholder="empty: a new thread"),
        AdminField("moderation_status", "Status", options=LIST_STATUSES),
    ),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    """YouTube's timestamps: whole seconds, `2026-03-22T18:20:04Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: object, length: int = 22) -> str:
    raw = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]


def _channel_id_for(handle: str) -> str:
    return "UC" + _digest("channel", handle, length=22)


def _text_display(text: str) -> str:
    """textFormat=html: escaped, line breaks as <br>, links as anchors (as YouTube does)."""
    escaped = html.escape(text, quote=False)
    linked = re.sub(r"(https?://[^\s<]+)", r'<a href="\1">\1</a>', escaped)
    return linked.replace("\n", "<br>")


@dataclass
class _Comment:
    id: str
    video_id: str
    author_channel_id: str
    author_name: str
    text: str
    published_at: datetime
    updated_at: datetime
    status: str
    parent_id: str | None
    seq: int
    can_reply: bool = True
    like_count: int = 0


@dataclass
class _Token:
    channel_id: str
    project: str


@dataclass
class _RefreshGrant:
    client_id: str
    client_secret: str
    channel_id: str
    project: str


@dataclass
class _RawThread:
    payload: Json
    published_at: datetime
    seq: int


@dataclass
class _Page:
    items: list[Json]
    total: int
    next_token: str | None = None
    per_page: int = 0
    extra: Json = field(default_factory=dict)


class FakeYouTube(PlatformFake):
    """In-memory YouTube: one brand channel with a few videos and their comments.

    Public methods take `_lock` themselves; API views run with it already held (PlatformFake).
    """

    def __init__(
        self,
        tokens: Iterable[str] = (DEMO_TOKEN,),
        *,
        refresh_tokens: Iterable[str] = (DEMO_REFRESH_TOKEN,),
        viewer_tokens: Iterable[str] = (),
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        daily_quota: int = DAILY_QUOTA,
        clock: Clock = _utcnow,
    ) -> None:
        super().__init__(
            logged_headers=("Content-Type", "User-Agent"),
            admin_routes=[
                ("GET", "/__admin/", self._admin_page),
                ("POST", "/__admin/comment", self._admin_comment),
                ("POST", "/__admin/seed", self._admin_seed),
                ("GET", "/__admin/comments", lambda _: json_response(self.comments())),
                ("GET", "/__admin/actions", lambda _: json_response(self.actions())),
            ],
        )
        self._clock = clock
        self._daily_quota = daily_quota
        # Quota is counted per Google Cloud project: each token given here is its own project
        # (so tests can give channels separate budgets); tokens issued by /token belong to the
        # demo token's project, the OAuth client's.
        tokens = list(tokens)
        self._tokens: dict[str, _Token] = {t: _Token(BRAND_CHANNEL_ID, t) for t in tokens}
        self._tokens.update({t: _Token(VIEWER_CHANNEL_ID, t) for t in viewer_tokens})
        refresh_project = DEMO_TOKEN if DEMO_TOKEN in tokens else client_id
        self._refresh: dict[str, _RefreshGrant] = {
            r: _RefreshGrant(client_id, client_secret, BRAND_CHANNEL_ID, refresh_project)
            for r in refresh_tokens
        }
        self._quota_used: dict[tuple[str, date], int] = {}
        self._videos: dict[str, str] = dict(DEFAULT_VIDEOS)
        self._comments: dict[str, _Comment] = {}
        self._raw_threads: list[_RawThread] = []
        self._banned: set[str] = set()
        self._actions: list[Json] = []
        self._seq = 0
        self._issued = 0
        self._api_routes = route_map(
            [
                ("GET", "/commentThreads", self._list_threads),
                ("POST", "/commentThreads", self._insert_thread),
                ("GET", "/comments", self._list_comments),
                ("POST", "/comments", self._insert_reply),
                ("PUT", "/comments", self._update_comment),
                ("DELETE", "/comments", self._delete),
                ("POST", "/comments/setModerationStatus", self._set_moderation_status),
                ("GET", "/videos", self._list_videos),
                ("GET", "/channels", self._list_channels),
            ]
        )
        self._costs = {
            ("GET", "/commentThreads"): 1,
            ("GET", "/comments"): 1,
            ("GET", "/videos"): 1,
            ("GET", "/channels"): 1,
            ("POST", "/commentThreads"): 50,
            ("POST", "/comments"): 50,
            ("PUT", "/comments"): 50,
            ("DELETE", "/comments"): 50,
            ("POST", "/comments/setModerationStatus"): 50,
        }

    # Python API: used by tests in-process, by the demo and by /__admin/.

    def add_comment(
        self,
        text: str,
        *,
        author: str = "@janedoe",
        author_channel_id: str | None = None,
        video_id: str = "dQw4w9WgXcQ",
        published_at: datetime | None = None,
        moderation_status: str = "published",
        can_reply: bool = True,
        like_count: int = 0,
    ) -> Json:
        """Someone comments on a video; returns the commentThread as the owner sees it."""
        with self._lock:
            if video_id not in self._videos:
                raise ValueError(f"unknown video {video_id!r}")
            comment = self._new_comment(
                text,
                author=author,
                author_channel_id=author_channel_id,
                video_id=video_id,
                parent_id=None,
                published_at=published_at,
                moderation_status=moderation_status,
            )
            comment.can_reply, comment.like_count = can_reply, like_count
            return self._thread_resource(comment, {"snippet", "replies"}, "published", "html")

    def add_reply(
        self,
        parent_id: str,
        text: str,
        *,
        author: str = "@janedoe",
        author_channel_id: str | None = None,
        published_at: datetime | None = None,
        moderation_status: str = "published",
    ) -> Json:
        """Someone answers a top-level comment; returns the comment resource."""
        with self._lock:
            parent = self._comments.get(parent_id)
            if parent is None or parent.parent_id is not None:
                raise ValueError(f"no top-level comment {parent_id!r}")
            comment = self._new_comment(
                text,
                author=author,
                author_channel_id=author_channel_id,
                video_id=parent.video_id,
                parent_id=parent_id,
                published_at=published_at,
                moderation_status=moderation_status,
            )
            return self._comment_resource(comment, "html")

    def add_brand_reply(self, parent_id: str, text: str) -> Json:
        """The brand answers directly on YouTube (not through the inbox)."""
        return self.add_reply(
            parent_id, text, author=BRAND_HANDLE, author_channel_id=BRAND_CHANNEL_ID
        )

    def add_raw_thread(self, payload: Json, *, published_at: datetime | None = None) -> Json:
        """Serve any dict as a thread of the published listing (tests inject malformed items)."""
        with self._lock:
            self._seq += 1
            self._raw_threads.append(
                _RawThread(copy.deepcopy(payload), published_at or self._clock(), self._seq)
            )
            return copy.deepcopy(payload)

    def add_video(self, video_id: str, title: str) -> None:
        with self._lock:
            self._videos[video_id] = title

    def edit_comment(self, comment_id: str, text: str, *, at: datetime | None = None) -> Json:
        """The author edits their comment: new text, updatedAt moves."""
        with self._lock:
            comment = self._require(comment_id)
            comment.text = text
            comment.updated_at = at or self._clock()
            return self._comment_resource(comment, "html")

    def delete_comment(self, comment_id: str) -> None:
        """The author deletes their comment (a top-level comment takes its replies along)."""
        with self._lock:
            self._remove(self._require(comment_id))

    def set_status(self, comment_id: str, moderation_status: str) -> None:
        """The owner moderates in YouTube Studio (no rule checks: Studio is not the API)."""
        with self._lock:
            self._require(comment_id).status = moderation_status

    def set_can_reply(self, thread_id: str, can_reply: bool) -> None:
        with self._lock:
            self._require(thread_id).can_reply = can_reply

    def comment(self, comment_id: str) -> Json | None:
        """The comment as the owner sees it (any status), or None when it is deleted."""
        with self._lock:
            comment = self._comments.get(comment_id)
            return None if comment is None else self._comment_resource(comment, "plainText")

    def comments(self) -> list[Json]:
        """Every comment, oldest first, with its moderation status."""
        with self._lock:
            ordered = sorted(self._comments.values(), key=lambda c: c.seq)
            return [self._comment_resource(c, "plainText") for c in ordered]

    def replies(self, parent_id: str) -> list[Json]:
        """All replies of a top-level comment, any status, oldest first."""
        with self._lock:
            return [self._comment_resource(c, "plainText") for c in self._replies_of(parent_id)]

    def replies_by(self, channel_id: str = BRAND_CHANNEL_ID) -> list[Json]:
        """Replies written by a channel (the brand by default), oldest first."""
        return [
            c
            for c in self.comments()
            if c["snippet"].get("parentId")
            and c["snippet"]["authorChannelId"]["value"] == channel_id
        ]

    def banned_authors(self) -> set[str]:
        with self._lock:
            return set(self._banned)

    def actions(self) -> list[Json]:
        """What API clients did (inserts, moderation, deletes, token refreshes), oldest first."""
        with self._lock:
            return copy.deepcopy(self._actions)

    def add_token(self, token: str, *, channel_id: str = BRAND_CHANNEL_ID) -> None:
        with self._lock:
            self._tokens[token] = _Token(channel_id, token)

    def revoke_token(self, token: str) -> None:
        """The access token stops working (expired or revoked); a refresh token still works."""
        with self._lock:
            self._tokens.pop(token, None)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """The user removed the app's access: the refresh token gives invalid_grant."""
        with self._lock:
            self._refresh.pop(refresh_token, None)

    def issued_tokens(self) -> list[str]:
        """Access tokens handed out by POST /token, oldest first."""
        with self._lock:
            return [a["access_token"] for a in self._actions if a["action"] == "token.refresh"]

    def set_daily_quota(self, units: int) -> None:
        with self._lock:
            self._daily_quota = units

    def quota_used(self, token: str = DEMO_TOKEN) -> int:
        """Units the token's project spent today (Pacific time)."""
        with self._lock:
            grant = self._tokens.get(token)
            project = grant.project if grant else token
            return self._quota_used.get((project, self._quota_day()), 0)

    def spend_quota(self, units: int, token: str = DEMO_TOKEN) -> None:
        """Use up quota as other clients of the same project would."""
        with self._lock:
            grant = self._tokens.get(token)
            key = (grant.project if grant else token, self._quota_day())
            self._quota_used[key] = self._quota_used.get(key, 0) + units

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        return DEFAULT_ERROR_BODIES.get(status), {}

    def fail_next_quota_exceeded(self, *, times: int = 1, path_prefix: str | None = None) -> None:
        self.fail_next(403, body=QUOTA_EXCEEDED, times=times, path_prefix=path_prefix)

    def fail_next_rate_limited(
        self,
        *,
        reason: str = "rateLimitExceeded",
        retry_after: int | None = None,
        times: int = 1,
        path_prefix: str | None = None,
    ) -> None:
        body = copy.deepcopy(RATE_LIMIT_EXCEEDED)
        body["error"]["errors"][0]["reason"] = reason
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.fail_next(403, body=body, headers=headers, times=times, path_prefix=path_prefix)

    def reset(self) -> None:
        """Forget faults, recorded calls, the delay and the quota spent."""
        super().reset()
        with self._lock:
            self._quota_used.clear()

    # The real API (lock held by PlatformFake).

    def answer(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/token":
            if request.method != "POST":
                return json_response({"error": "invalid_request"}, 405)
            return self._token_endpoint(request)
        grant = self._tokens.get(bearer_token(request))
        if grant is None:
            return json_response(AUTH_ERROR, 401, {"WWW-Authenticate": 'Bearer realm="youtube"'})
        try:
            view, values = self._api_routes.bind_to_environ(request.environ).match()
        except HTTPException as error:
            code = error.code or 500
            return json_response(google_error(code, "notFound", error.name, domain="global"), code)
        path = "/" + request.path.strip("/")
        cost = self._costs.get((request.method, path), 1)
        key = (grant.project, self._quota_day())
        used = self._quota_used.get(key, 0)
        if used + cost > self._daily_quota:
            return json_response(QUOTA_EXCEEDED, 403)
        # Every request costs its units, invalid ones included.
        self._quota_used[key] = used + cost
        response: Response = view(request, grant, **values)
        return response

    def _token_endpoint(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "refresh_token":
            return json_response(
                {
                    "error": "unsupported_grant_type",
                    "error_description": f"Invalid grant_type: {form.get('grant_type', '')}",
                },
                400,
            )
        grant = self._refresh.get(form.get("refresh_token", ""))
        client_ok = grant is None or (
            form.get("client_id") == grant.client_id
            and form.get("client_secret") == grant.client_secret
        )
        if not client_ok:
            return json_response(INVALID_CLIENT, 401)
        if grant is None:
            return json_response(INVALID_GRANT, 400)
        self._issued += 1
        token = f"ya29.fake-{self._issued}-{_digest('token', self._issued, length=16)}"
        self._tokens[token] = _Token(grant.channel_id, grant.project)
        self._log("token.refresh", access_token=token)
        return json_response(
            {"access_token": token, "expires_in": 3599, "scope": SCOPE, "token_type": "Bearer"}
        )

    def _list_threads(self, request: Request, grant: _Token) -> Response:
        args = request.args
        parts, error = self._parts(args, {"id", "snippet", "replies"})
        if error:
            return error
        filters = [
            name
            for name in ("allThreadsRelatedToChannelId", "channelId", "videoId", "id")
            if args.get(name)
        ]
        if len(filters) != 1:
            return _bad_request(
                "incompatibleParameters" if filters else "missingRequiredParameter",
                "Exactly one of allThreadsRelatedToChannelId, channelId, videoId and id "
                "must be given.",
            )
        status = args.get("moderationStatus", "published")
        if status not in LIST_STATUSES:
            return _bad_request("invalidParameter", f"Invalid moderationStatus: {status}")
        if status != "published" and grant.channel_id != BRAND_CHANNEL_ID:
            return json_response(FORBIDDEN, 403)
        text_format = args.get("textFormat", "html")
        if text_format not in ("html", "plainText"):
            return _bad_request("invalidParameter", f"Invalid textFormat: {text_format}")
        order = args.get("order", "time")
        if order not in ("time", "relevance"):
            return _bad_request("invalidParameter", f"Invalid order: {order}")

        if filters == ["id"]:
            if any(args.get(name) for name in ("maxResults", "pageToken", "moderationStatus")):
                return _bad_request(
                    "incompatibleParameters",
                    "The id filter cannot be combined with maxResults, pageToken or "
                    "moderationStatus.",
                )
            owner = grant.channel_id == BRAND_CHANNEL_ID
            wanted = [i for i in args["id"].split(",") if i]
            found = [
                self._comments[i]
                for i in wanted
                if i in self._comments
                and self._comments[i].parent_id is None
                and self._comments[i].status in (LIST_STATUSES if owner else ("published",))
            ]
            items = [self._thread_resource(c, parts, "any", text_format) for c in found]
            return self._list_response(
                "youtube#commentThreadListResponse", _Page(items, len(items))
            )

        max_results, error = _max_results(args)
        if error:
            return error
        search = args.get("searchTerms", "").lower()
        threads: list[tuple[datetime, int, Json | _Comment]] = []
        if filters == ["videoId"]:
            if args["videoId"] not in self._videos:
                return json_response(
                    google_error(
                        404,
                        "videoNotFound",
                        "The video could not be found.",
                        domain="youtube.commentThread",
                        location="videoId",
                    ),
                    404,
                )
            pool = [c for c in self._top_level() if c.video_id == args["videoId"]]
        else:
            channel = args.get("allThreadsRelatedToChannelId") or args.get("channelId", "")
            if channel not in (BRAND_CHANNEL_ID, VIEWER_CHANNEL_ID):
                return json_response(
                    google_error(
                        404,
                        "channelNotFound",
                        "The channel could not be found.",
                        domain="youtube.commentThread",
                        location="channelId",
                    ),
                    404,
                )
            pool = self._top_level() if channel == BRAND_CHANNEL_ID else []
            injected = channel == BRAND_CHANNEL_ID and filters == ["allThreadsRelatedToChannelId"]
            if injected and status == "published" and not search:
                threads += [(r.published_at, r.seq, r.payload) for r in self._raw_threads]
        for comment in pool:
            if self._listed(comment, status) and (not search or search in comment.text.lower()):
                threads.append((comment.published_at, comment.seq, comment))
        if order == "relevance":
            threads.sort(key=lambda t: (-_likes(t[2]), -t[0].timestamp(), -t[1]))
        else:
            threads.sort(key=lambda t: (t[0], t[1]), reverse=True)

        window, error = _page_window(args.get("pageToken"), max_results, len(threads))
        if error:
            return error
        offset, next_token = window
        items = [
            copy.deepcopy(entry)
            if isinstance(entry, dict)
            else self._thread_resource(entry, parts, status, text_format)
            for _, _, entry in threads[offset : offset + max_results]
        ]
        page = _Page(items, len(threads), next_token, max_results)
        return self._list_response("youtube#commentThreadListResponse", page)

    def _list_comments(self, request: Request, grant: _Token) -> Response:
        args = request.args
        _, error = self._parts(args, {"id", "snippet"})
        if error:
            return error
        text_format = args.get("textFormat", "html")
        if bool(args.get("id")) == bool(args.get("parentId")):
            return _bad_request(
                "incompatibleParameters" if args.get("id") else "missingRequiredParameter",
                "Exactly one of id and parentId must be given.",
            )
        if args.get("id"):
            if args.get("maxResults") or args.get("pageToken"):
                return _bad_request(
                    "incompatibleParameters", "The id filter cannot be combined with paging."
                )
            found = [
                self._comments[i]
                for i in args["id"].split(",")
                if i in self._comments and self._comments[i].status != "rejected"
            ]
            items = [self._comment_resource(c, text_format) for c in found]
            return self._list_response("youtube#commentListResponse", _Page(items, len(items)))
        max_results, error = _max_results(args)
        if error:
            return error
        parent = self._comments.get(args["parentId"])
        if parent is None or parent.status == "rejected":
            return json_response(_not_found("parentId"), 404)
        replies = [c for c in self._replies_of(parent.id) if c.status == "published"]
        window, error = _page_window(args.get("pageToken"), max_results, len(replies))
        if error:
            return error
        offset, next_token = window
        items = [
            self._comment_resource(c, text_format) for c in replies[offset : offset + max_results]
        ]
        page = _Page(items, len(replies), next_token, max_results)
        return self._list_response("youtube#commentListResponse", page)

    def _insert_reply(self, request: Request, grant: _Token) -> Response:
        if request.args.get("part") != "snippet":
            return _bad_request("missingRequiredParameter", "Required parameter: part")
        body = request.get_json(silent=True)
        snippet = body.get("snippet") if isinstance(body, dict) else None
        if not isinstance(snippet, dict):
            return _bad_request("parseError", "Parse Error", domain="global")
        text, error = _comment_text(snippet.get("textOriginal"))
        if error:
            return error
        parent_id = snippet.get("parentId")
        if not isinstance(parent_id, str) or not parent_id:
            return _bad_request(
                "parentIdMissing", "The comment must be linked to a parent comment."
            )
        parent = self._comments.get(parent_id)
        if parent is None or parent.status == "rejected":
            return json_response(_not_found("body.snippet.parentId"), 404)
        if parent.parent_id is not None:
            return _bad_request(
                "operationNotSupported", "Replies can only be added to top-level comments."
            )
        if not parent.can_reply:
            return _bad_request(
                "operationNotSupported",
                "The API user is not able to insert a comment in reply to this comment.",
            )
        comment = self._new_comment(
            text,
            author=BRAND_HANDLE if grant.channel_id == BRAND_CHANNEL_ID else "@viewer",
            author_channel_id=grant.channel_id,
            video_id=parent.video_id,
            parent_id=parent.id,
            published_at=None,
            moderation_status="published",
        )
        self._log("comments.insert", id=comment.id, parent_id=parent.id, text=text)
        return json_response(self._comment_resource(comment, "html"))

    def _insert_thread(self, request: Request, grant: _Token) -> Response:
        if request.args.get("part") != "snippet":
            return _bad_request("missingRequiredParameter", "Required parameter: part")
        body = request.get_json(silent=True)
        snippet = body.get("snippet") if isinstance(body, dict) else None
        top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
        top_snippet = top.get("snippet") if isinstance(top, dict) else None
        if not isinstance(snippet, dict) or not isinstance(top_snippet, dict):
            return _bad_request("parseError", "Parse Error", domain="global")
        video_id = snippet.get("videoId")
        if video_id not in self._videos:
            return json_response(
                google_error(
                    404,
                    "videoNotFound",
                    "The video could not be found.",
                    domain="youtube.commentThread",
                    location="body.snippet.videoId",
                ),
                404,
            )
        text, error = _comment_text(top_snippet.get("textOriginal"))
        if error:
            return error
        comment = self._new_comment(
            text,
            author=BRAND_HANDLE if grant.channel_id == BRAND_CHANNEL_ID else "@viewer",
            author_channel_id=grant.channel_id,
            video_id=str(video_id),
            parent_id=None,
            published_at=None,
            moderation_status="published",
        )
        self._log("commentThreads.insert", id=comment.id, text=text)
        return json_response(self._thread_resource(comment, {"snippet"}, "any", "html"))

    def _update_comment(self, request: Request, grant: _Token) -> Response:
        body = request.get_json(silent=True)
        comment_id = body.get("id") if isinstance(body, dict) else None
        snippet = body.get("snippet") if isinstance(body, dict) else None
        if not isinstance(comment_id, str) or not isinstance(snippet, dict):
            return _bad_request("parseError", "Parse Error", domain="global")
        comment = self._comments.get(comment_id)
        if comment is None:
            return json_response(_not_found("body.id"), 404)
        if comment.author_channel_id != grant.channel_id:
            return json_response(FORBIDDEN, 403)
        text, error = _comment_text(snippet.get("textOriginal"))
        if error:
            return error
        comment.text, comment.updated_at = text, self._clock()
        self._log("comments.update", id=comment.id, text=text)
        return json_response(self._comment_resource(comment, "html"))

    def _delete(self, request: Request, grant: _Token) -> Response:
        comment_id = request.args.get("id", "")
        if not comment_id:
            return _bad_request("missingRequiredParameter", "Required parameter: id")
        comment = self._comments.get(comment_id)
        if comment is None:
            return json_response(NOT_FOUND, 404)
        if comment.author_channel_id != grant.channel_id:
            # Only the author may delete; the owner rejects other people's comments instead.
            return json_response(FORBIDDEN, 403)
        self._remove(comment)
        self._log("comments.delete", id=comment_id)
        return Response(status=204)

    def _set_moderation_status(self, request: Request, grant: _Token) -> Response:
        args = request.args
        ids = [i for i in args.get("id", "").split(",") if i]
        status = args.get("moderationStatus", "")
        if not ids or not status:
            return _bad_request(
                "missingRequiredParameter", "Required parameters: id, moderationStatus"
            )
        if len(ids) > MAX_MODERATION_IDS:
            return _bad_request("invalidParameter", "At most 50 comment ids can be moderated.")
        if status not in MODERATION_STATUSES:
            return _bad_request("invalidParameter", f"Invalid moderationStatus: {status}")
        ban = args.get("banAuthor", "false").lower() == "true"
        if ban and status != "rejected":
            return _bad_request(
                "banWithoutReject",
                "The banAuthor parameter can only be used if the moderationStatus parameter "
                "value is rejected.",
            )
        comments = []
        for comment_id in ids:
            comment = self._comments.get(comment_id)
            if comment is None:
                return json_response(NOT_FOUND, 404)
            comments.append(comment)
        if grant.channel_id != BRAND_CHANNEL_ID:
            return json_response(FORBIDDEN, 403)
        for comment in comments:
            if comment.status == "rejected" and status != "rejected":
                return _bad_request(
                    "operationNotSupported",
                    "The comment was rejected; a rejected comment cannot be published or held "
                    "again.",
                )
        for comment in comments:
            comment.status = status
            if ban:
                self._banned.add(comment.author_channel_id)
        self._log("comments.setModerationStatus", ids=ids, moderationStatus=status, banAuthor=ban)
        return Response(status=204)

    def _list_videos(self, request: Request, grant: _Token) -> Response:
        ids = [i for i in request.args.get("id", "").split(",") if i]
        items = [
            {
                "kind": "youtube#video",
                "etag": _digest("video", video_id, self._videos[video_id]),
                "id": video_id,
                "snippet": {
                    "publishedAt": "2026-01-15T09:00:00Z",
                    "channelId": BRAND_CHANNEL_ID,
                    "title": self._videos[video_id],
                    "description": "",
                    "channelTitle": BRAND_TITLE,
                },
            }
            for video_id in ids
            if video_id in self._videos
        ]
        return self._list_response("youtube#videoListResponse", _Page(items, len(items)))

    def _list_channels(self, request: Request, grant: _Token) -> Response:
        args = request.args
        if args.get("mine") == "true":
            ids = [grant.channel_id]
        else:
            ids = [i for i in args.get("id", "").split(",") if i]
        items = [
            self._channel_resource(i) for i in ids if i in (BRAND_CHANNEL_ID, VIEWER_CHANNEL_ID)
        ]
        return self._list_response("youtube#channelListResponse", _Page(items, len(items)))

    # Resources.

    def _list_response(self, kind: str, page: _Page) -> Response:
        body: Json = {"kind": kind, "etag": _digest(kind, json.dumps(page.items, sort_keys=True))}
        if page.next_token:
            body["nextPageToken"] = page.next_token
        body["pageInfo"] = {
            "totalResults": page.total,
            "resultsPerPage": page.per_page or len(page.items),
        }
        body["items"] = page.items
        return json_response(body)

    def _thread_resource(
        self, top: _Comment, parts: set[str], listing: str, text_format: str
    ) -> Json:
        """A commentThread: replies shown are the first few of those the listing is about."""
        resource: Json = {"kind": "youtube#commentThread", "etag": "", "id": top.id}
        published = [c for c in self._replies_of(top.id) if c.status == "published"]
        if "snippet" in parts:
            resource["snippet"] = {
                "channelId": BRAND_CHANNEL_ID,
                "videoId": top.video_id,
                "topLevelComment": self._comment_resource(top, text_format),
                "canReply": top.can_reply,
                "totalReplyCount": len(published),
                "isPublic": True,
            }
        if "replies" in parts:
            if listing in ("heldForReview", "likelySpam"):
                shown = [c for c in self._replies_of(top.id) if c.status == listing]
            else:
                shown = published
            if shown:
                resource["replies"] = {
                    "comments": [
                        self._comment_resource(c, text_format) for c in shown[:REPLIES_IN_THREAD]
                    ]
                }
        resource["etag"] = _digest("thread", json.dumps(resource, sort_keys=True))
        return resource

    def _comment_resource(self, comment: _Comment, text_format: str) -> Json:
        handle = comment.author_name if comment.author_name.startswith("@") else ""
        snippet: Json = {
            "channelId": BRAND_CHANNEL_ID,
            "videoId": comment.video_id,
            "textDisplay": _text_display(comment.text) if text_format == "html" else comment.text,
            "textOriginal": comment.text,
        }
        if comment.parent_id:
            snippet["parentId"] = comment.parent_id
        snippet.update(
            {
                "authorDisplayName": comment.author_name,
                "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{comment.author_channel_id}"
                "=s48-c-k-c0x00ffffff-no-rj",
                "authorChannelUrl": f"http://www.youtube.com/{handle}"
                if handle
                else f"http://www.youtube.com/channel/{comment.author_channel_id}",
                "authorChannelId": {"value": comment.author_channel_id},
                "canRate": True,
                "viewerRating": "none",
                "likeCount": comment.like_count,
                "moderationStatus": comment.status,
                "publishedAt": _iso(comment.published_at),
                "updatedAt": _iso(comment.updated_at),
            }
        )
        resource: Json = {
            "kind": "youtube#comment",
            "etag": "",
            "id": comment.id,
            "snippet": snippet,
        }
        resource["etag"] = _digest("comment", json.dumps(snippet, sort_keys=True))
        return resource

    def _channel_resource(self, channel_id: str) -> Json:
        title = BRAND_TITLE if channel_id == BRAND_CHANNEL_ID else "Viewer"
        return {
            "kind": "youtube#channel",
            "etag": _digest("channel", channel_id),
            "id": channel_id,
            "snippet": {
                "title": title,
                "description": "",
                "customUrl": BRAND_HANDLE if channel_id == BRAND_CHANNEL_ID else "@viewer",
                "publishedAt": "2015-05-01T10:00:00Z",
                "thumbnails": {
                    "default": {
                        "url": f"https://yt3.ggpht.com/ytc/{channel_id}=s88-c-k-no-rj",
                        "width": 88,
                        "height": 88,
                    }
                },
            },
        }

    # State helpers (lock held by the caller).

    def _new_comment(
        self,
        text: str,
        *,
        author: str,
        author_channel_id: str | None,
        video_id: str,
        parent_id: str | None,
        published_at: datetime | None,
        moderation_status: str,
    ) -> _Comment:
        if moderation_status not in (*LIST_STATUSES, "rejected"):
            raise ValueError(f"unknown moderation status {moderation_status!r}")
        self._seq += 1
        channel_id = author_channel_id or _channel_id_for(author)
        if parent_id is None:
            comment_id = f"Ugz{_digest('comment', self._seq, length=16)}4AaABAg"
        else:
            comment_id = f"{parent_id}.{_digest('reply', self._seq, length=11)}"
        if channel_id in self._banned:
            moderation_status = "rejected"  # a banned author's new comments are rejected at once
        moment = published_at or self._clock()
        comment = _Comment(
            id=comment_id,
            video_id=video_id,
            author_channel_id=channel_id,
            author_name=author,
            text=text,
            published_at=moment,
            updated_at=moment,
            status=moderation_status,
            parent_id=parent_id,
            seq=self._seq,
        )
        self._comments[comment_id] = comment
        return comment

    def _require(self, comment_id: str) -> _Comment:
        comment = self._comments.get(comment_id)
        if comment is None:
            raise KeyError(f"no comment {comment_id!r}")
        return comment

    def _remove(self, comment: _Comment) -> None:
        if comment.parent_id is None:
            for reply in self._replies_of(comment.id):
                del self._comments[reply.id]
        del self._comments[comment.id]

    def _top_level(self) -> list[_Comment]:
        return [c for c in self._comments.values() if c.parent_id is None]

    def _replies_of(self, parent_id: str) -> list[_Comment]:
        return sorted(
            (c for c in self._comments.values() if c.parent_id == parent_id), key=lambda c: c.seq
        )

    def _listed(self, top: _Comment, status: str) -> bool:
        """In the listing of `status`: published threads by their top-level comment; the
        review queues also by any reply in them (as YouTube documents)."""
        if status == "published":
            return top.status == "published"
        if top.status == "rejected":
            return False
        return top.status == status or any(r.status == status for r in self._replies_of(top.id))

    def _quota_day(self) -> date:
        return self._clock().astimezone(QUOTA_TIME_ZONE).date()

    def _parts(self, args: Any, allowed: set[str]) -> tuple[set[str], Response | None]:
        part = args.get("part", "")
        if not part:
            return set(), _bad_request("missingRequiredParameter", "Required parameter: part")
        parts = {p.strip() for p in part.split(",") if p.strip()}
        unknown = parts - allowed
        if unknown:
            return parts, _bad_request("unknownPart", f"Unknown part: {sorted(unknown)[0]}")
        return parts, None

    def _log(self, action: str, **details: Any) -> None:
        self._actions.append({"at": _iso(self._clock()), "action": action, **details})

    # Admin.

    def _admin_seed(self, request: Request) -> Response:
        """POST /__admin/seed: one comment ({"text", "author", "video_id", "parent_id",
        "moderation_status", "published_at", "can_reply"}), a list of them under "comments",
        or {"raw_thread": {...}} served as is."""
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        if isinstance(payload.get("raw_thread"), dict):
            return json_response(self.add_raw_thread(payload["raw_thread"]), 201)
        entries = payload.get("comments") if "comments" in payload else [payload]
        if not isinstance(entries, list):
            return json_response({"error": "comments must be a list"}, 400)
        created = []
        try:
            for entry in entries:
                created.append(self._seed_one(entry))
        except (ValueError, KeyError, TypeError) as error:
            return json_response({"error": str(error)}, 400)
        return json_response(created if "comments" in payload else created[0], 201)

    def _seed_one(self, entry: Any) -> Json:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise ValueError("each comment needs a text")
        published_at = None
        if entry.get("published_at"):
            published_at = datetime.fromisoformat(str(entry["published_at"]))
            if published_at.tzinfo is None:
                raise ValueError("published_at needs a time zone")
        author = str(entry.get("author") or "@janedoe")
        author_channel_id = entry.get("author_channel_id") or None
        status = str(entry.get("moderation_status") or "published")
        if entry.get("parent_id"):
            return self.add_reply(
                str(entry["parent_id"]),
                entry["text"],
                author=author,
                author_channel_id=author_channel_id,
                published_at=published_at,
                moderation_status=status,
            )
        return self.add_comment(
            entry["text"],
            author=author,
            author_channel_id=author_channel_id,
            video_id=str(entry.get("video_id") or "dQw4w9WgXcQ"),
            published_at=published_at,
            moderation_status=status,
            can_reply=bool(entry.get("can_reply", True)),
        )

    def _admin_comment(self, request: Request) -> Response:
        """The admin page's form: urlencoded, answered with a redirect back (POST/redirect/GET)."""
        form = request.form
        text = form.get("text", "").strip()
        if text:
            try:
                self._seed_one(
                    {
                        "text": text,
                        "author": form.get("author", "").strip() or "@janedoe",
                        "video_id": form.get("video_id") or "dQw4w9WgXcQ",
                        "parent_id": form.get("parent_id", "").strip(),
                        "moderation_status": form.get("moderation_status") or "published",
                    }
                )
            except (ValueError, KeyError) as error:
                return Response(str(error), 400, content_type="text/plain; charset=utf-8")
        return Response("", 303, {"Location": request.script_root + "/__admin/"})

    def _admin_page(self, request: Request) -> Response:
        with self._lock:
            comments = sorted(self._comments.values(), key=lambda c: c.seq, reverse=True)[:80]
            rows = [
                [
                    _iso(c.published_at),
                    c.id,
                    c.video_id,
                    c.author_name,
                    c.status,
                    c.parent_id or "",
                    c.text,
                ]
                for c in comments
            ]
            actions = [
                [a["at"], a["action"], _action_summary(a)] for a in reversed(self._actions[-50:])
            ]
            quota = [[project, str(day), used] for (project, day), used in self._quota_used.items()]
            daily_quota = self._daily_quota
        return admin_page(
            "Fake YouTube: channel Brand",
            notes=[
                f"API base URL: {request.root_url.rstrip('/')}",
                f"token URL: {request.root_url.rstrip('/')}/token",
                f"channel id: {BRAND_CHANNEL_ID}",
                f"daily quota: {daily_quota} units",
                f"API calls recorded: {len(self._calls)}",
                f"faults queued: {len(self._faults)}",
            ],
            form=COMMENT_FORM,
            tables=[
                AdminTable(
                    "Comments (newest first)",
                    ("Published", "Id", "Video", "Author", "Status", "Reply to", "Text"),
                    rows,
                ),
                AdminTable("What API clients did", ("Time", "Action", "Details"), actions),
                AdminTable("Quota used", ("Project", "Day (Pacific)", "Units"), quota),
            ],
        )


# Module helpers.


def _bad_request(reason: str, message: str, *, domain: str = "youtube.parameter") -> Response:
    return json_response(google_error(400, reason, message, domain=domain), 400)


def _not_found(location: str) -> Json:
    body = copy.deepcopy(NOT_FOUND)
    body["error"]["errors"][0]["location"] = location
    return body


def _comment_text(value: Any) -> tuple[str, Response | None]:
    if not isinstance(value, str) or not value.strip():
        return "", _bad_request(
            "commentTextRequired", "The comment must contain text.", domain="youtube.comment"
        )
    if len(value) > MAX_COMMENT_CHARS:
        return "", _bad_request(
            "commentTextTooLong", "The comment text is too long.", domain="youtube.comment"
        )
    return value, None


def _max_results(args: Any) -> tuple[int, Response | None]:
    raw = args.get("maxResults", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        return 0, _bad_request("invalidParameter", "maxResults must be between 1 and 100.")
    return int(raw), None


def _page_window(
    token: str | None, per_page: int, total: int
) -> tuple[tuple[int, str | None], Response | None]:
    """(offset, nextPageToken) for a page; our tokens are opaque base64 like YouTube's."""
    offset = 0
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            offset = int(decoded["o"])
        except (ValueError, KeyError, TypeError):
            error = _bad_request("invalidPageToken", "The request specifies an invalid page token.")
            return (0, None), error
    next_token = None
    if offset + per_page < total:
        raw = json.dumps({"o": offset + per_page}).encode()
        next_token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return (offset, next_token), None


def _likes(entry: Any) -> int:
    return entry.like_count if isinstance(entry, _Comment) else 0


def _action_summary(action: Json) -> str:
    details = {k: v for k, v in action.items() if k not in ("at", "action", "access_token")}
    return ", ".join(f"{k}={v}" for k, v in details.items())
