"""Instagram (professional accounts): comments on the account's media in; replies, hiding and
deleting out. The Graph plumbing and error mapping are shared with Facebook (facebook/graph.py).

Polling (platform-apis.md 2.1): the media of the last 30 days from `/{ig-user-id}/media` (at
most MAX_MEDIA, newest first). Comments have no `since`, so a media's comments are listed again
(top level with `replies{…}`, every page) only when its `comments_count` changed or the last
listing is older than RELIST_AFTER, and diffed by
id against the ids seen before: new ids are new items, seen ids that are gone are deleted
(ItemUpdate state "deleted"), a seen id whose `hidden` flag changed is an ItemUpdate too.
Instagram has no comment editing.

Cursor (JSON, bounded by MAX_MEDIA x MAX_SEEN_PER_MEDIA ids):
    {"v": 1, "start": <unix>, "media": {"<media-id>": {"count": <comments_count>,
     "seen": ["<id>", ...], "hidden": ["<id>", ...], "floor": <unix>, "at": <unix listed>}},
     "resume": "<media-id>"}
`floor`: comments older than this are not followed (before the channel's start, or dropped when
`seen` reached its cap), so they are neither announced as new nor reported as deleted.

Replies: Instagram threads one level deep. A reply aimed at a reply is posted on its top-level
comment with an @mention of the person answered, which is how the app itself does it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from channels_integrations.base import (
    Capability,
    ConnectionCheck,
    ConnectionSettings,
    Connector,
    FetchedPage,
    InboundAuthor,
    InboundItem,
    ItemState,
    ItemUpdate,
    ReplyTarget,
    SentItem,
    SetupField,
    SkippedPayload,
)
from channels_integrations.errors import (
    ConnectorError,
    InvalidRequest,
    MalformedPayload,
    Transient,
)
from channels_integrations.facebook.graph import (
    DEFAULT_API_VERSION,
    GRAPH_BASE_URL,
    GraphClient,
    page_of,
    parse_graph_time,
)
from channels_integrations.http import PlatformSession
from channels_integrations.text import safe_http_url
from inbox.models import ConversationKind

MEDIA_WINDOW = timedelta(days=30)
FIRST_POLL_LOOKBACK = timedelta(hours=24)
MAX_MEDIA = 20
MAX_SEEN_PER_MEDIA = 250
MEDIA_PAGE_SIZE = 25
COMMENTS_PAGE_SIZE = 50
MAX_COMMENT_PAGES = 40
ITEM_BUDGET = 200
# A deletion and a new comment between two polls leave `comments_count` unchanged: every media
# is listed again after this long anyway, so such a comment arrives late but is not lost.
RELIST_AFTER = timedelta(minutes=15)
CLOCK_SLACK = timedelta(seconds=5)
USERNAME_RE = re.compile(r"^[A-Za-z0-9._]{1,30}$")

MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,permalink,timestamp,comments_count,username,"
    "media_url,thumbnail_url"
)
REPLY_FIELDS = "id,text,timestamp,username,from,parent_id,hidden"
COMMENT_FIELDS = (
    f"id,text,timestamp,username,from,like_count,hidden,parent_id,replies{{{REPLY_FIELDS}}}"
)


@dataclass
class _MediaState:
    count: int
    floor: int
    seen: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    listed_at: int = 0

    def dump(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "seen": self.seen,
            "hidden": self.hidden,
            "floor": self.floor,
            "at": self.listed_at,
        }


@dataclass
class _Cursor:
    start: int
    media: dict[str, _MediaState]
    resume: str = ""

    @classmethod
    def load(cls, cursor: dict[str, Any], now: datetime) -> _Cursor:
        """Read a stored cursor; anything unreadable counts as absent, never as an error."""
        start = cursor.get("start")
        if not isinstance(start, int):
            start = int((now - FIRST_POLL_LOOKBACK).timestamp())
        media: dict[str, _MediaState] = {}
        stored = cursor.get("media")
        for media_id, state in (stored if isinstance(stored, dict) else {}).items():
            if not isinstance(state, dict):
                continue
            count, floor, listed_at = state.get("count"), state.get("floor"), state.get("at")
            media[str(media_id)] = _MediaState(
                count=count if isinstance(count, int) else -1,
                floor=floor if isinstance(floor, int) else start,
                seen=_ids(state.get("seen"))[:MAX_SEEN_PER_MEDIA],
                hidden=_ids(state.get("hidden"))[:MAX_SEEN_PER_MEDIA],
                listed_at=listed_at if isinstance(listed_at, int) else 0,
            )
        resume = cursor.get("resume")
        return cls(start, media, resume if isinstance(resume, str) else "")

    def dump(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {
            "v": 1,
            "start": self.start,
            "media": {media_id: state.dump() for media_id, state in self.media.items()},
        }
        if self.resume:
            cursor["resume"] = self.resume
        return cursor


@dataclass
class _MediaResult:
    state: _MediaState
    items: list[InboundItem] = field(default_factory=list)
    updates: list[ItemUpdate] = field(default_factory=list)
    skipped: list[SkippedPayload] = field(default_factory=list)


class InstagramConnector(Connector):
    platform = "instagram"
    # The API has no like for comments, no private replies outside live video, and no bans.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.REPLY, Capability.HIDE, Capability.UNHIDE, Capability.DELETE}
    )
    max_reply_length = 2200
    setup_fields = (
        SetupField(
            "base_url",
            gettext_lazy("API base URL"),
            initial=GRAPH_BASE_URL,
            input_type="url",
            help_text=gettext_lazy(
                "graph.facebook.com (Instagram API with Facebook Login); change it only "
                "to test against a fake."
            ),
        ),
        SetupField(
            "ig_user_id",
            gettext_lazy("Instagram account ID"),
            help_text=gettext_lazy(
                "The IG user id of the professional account, as GET "
                "/{page-id}?fields=instagram_business_account shows it."
            ),
        ),
        SetupField(
            "api_version",
            gettext_lazy("Graph API version"),
            required=False,
            initial=DEFAULT_API_VERSION,
            help_text=gettext_lazy("For example v25.0."),
        ),
        SetupField(
            "access_token",
            gettext_lazy("Access token"),
            secret=True,
            input_type="password",
            help_text=gettext_lazy(
                "A token with instagram_basic, instagram_manage_comments and "
                "pages_read_engagement for the Page the account is linked to."
            ),
        ),
    )
    backfill_note = gettext_noop(
        "Instagram: comments on the account's media of the last 30 days (at most the 20 newest "
        "posts). A backfill date further back is cut to 30 days; without one, the first poll "
        "takes the comments of the last 24 hours. @mentions in other people's posts are not "
        "polled (Instagram only reports them through webhooks)."
    )

    def __init__(self, connection: ConnectionSettings, session: PlatformSession) -> None:
        super().__init__(connection, session)
        settings = connection.settings
        self.account_id = str(settings.get("ig_user_id") or "").strip()
        self.client = GraphClient(
            base_url=str(settings.get("base_url") or GRAPH_BASE_URL),
            api_version=str(settings.get("api_version") or DEFAULT_API_VERSION),
            token=str(connection.credentials.get("access_token") or ""),
            session=session,
            platform="Instagram",
            usage_type="instagram",
        )
        self._username: str | None = None

    def contact_scope(self) -> str:
        # Commenters' ids are Instagram-scoped ids, unique only for this account.
        return self.account_id

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        if backfill_since is None:
            return {}
        earliest = datetime.now(UTC) - MEDIA_WINDOW
        return _Cursor(int(max(backfill_since, earliest).timestamp()), {}).dump()

    def next_poll_delay(self, interval_seconds: int) -> int:
        return self.client.paced_delay(interval_seconds)

    # Polling.

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        self._require_account_id()
        now = datetime.now(UTC)
        state = _Cursor.load(cursor, now)
        media_list, skipped = self._recent_media(now - MEDIA_WINDOW)
        order = [media["id"] for media in media_list]
        first = order.index(state.resume) if state.resume in order else 0
        kept = {media_id: state.media[media_id] for media_id in order if media_id in state.media}
        items: list[InboundItem] = []
        updates: list[ItemUpdate] = []
        resume = ""
        for media in media_list[first:]:
            if len(items) >= ITEM_BUDGET:
                resume = media["id"]
                break
            count = media.get("comments_count")
            known = kept.get(media["id"])
            if (
                known is not None
                and isinstance(count, int)
                and known.count == count
                and int(now.timestamp()) - known.listed_at < RELIST_AFTER.total_seconds()
            ):
                continue  # nothing was added or removed since the last listing
            result = self._poll_media(media, known or _MediaState(-1, state.start), now)
            kept[media["id"]] = result.state
            items.extend(result.items)
            updates.extend(result.updates)
            skipped.extend(result.skipped)
        return FetchedPage(
            items=items,
            cursor=_Cursor(state.start, kept, resume).dump(),
            caught_up=not resume,
            skipped=skipped,
            updates=updates,
        )

    def _recent_media(self, since: datetime) -> tuple[list[dict[str, Any]], list[SkippedPayload]]:
        media_list: list[dict[str, Any]] = []
        skipped: list[SkippedPayload] = []
        pages = self.client.pages(
            f"{self.account_id}/media",
            {"fields": MEDIA_FIELDS, "limit": MEDIA_PAGE_SIZE},
            what="the list of the account's posts",
            max_pages=5,
        )
        for data in pages:
            for media in data:
                if not isinstance(media, dict) or not isinstance(media.get("id"), str):
                    skipped.append(SkippedPayload("", "post (media) without an id", media))
                    continue
                try:
                    posted = parse_graph_time(media.get("timestamp"))
                except MalformedPayload:
                    posted = None  # keep it: a post we cannot date may still be recent
                if posted is not None and posted < since:
                    return media_list, skipped  # newest first: the rest is older still
                media_list.append(media)
                if len(media_list) >= MAX_MEDIA:
                    return media_list, skipped
        return media_list, skipped

    def _poll_media(self, media: dict[str, Any], state: _MediaState, now: datetime) -> _MediaResult:
        listed, complete = self._list_comments(media["id"])
        account = self._own_username(media)
        seen, hidden_before = set(state.seen), set(state.hidden)
        result = _MediaResult(state=state)
        present: dict[str, int | None] = {}
        hidden_now: set[str] = set()
        for comment, parent_hint in listed:
            comment_id = comment.get("id") if isinstance(comment, dict) else None
            if not isinstance(comment_id, str) or not comment_id:
                result.skipped.append(SkippedPayload("", "comment without an id", comment))
                continue
            created = _unix_time(comment)
            present[comment_id] = created
            if isinstance(comment, dict) and comment.get("hidden") is True:
                hidden_now.add(comment_id)
            if comment_id in seen:
                if (comment_id in hidden_now) != (comment_id in hidden_before):
                    hidden = comment_id in hidden_now
                    result.updates.append(
                        ItemUpdate(
                            comment_id, state=ItemState.HIDDEN if hidden else ItemState.VISIBLE
                        )
                    )
                continue
            if created is not None and created < state.floor:
                continue  # older than what this channel follows
            seen.add(comment_id)
            try:
                result.items.append(
                    normalize_comment(
                        comment,
                        media=media,
                        parent_id=parent_hint,
                        account_id=self.account_id,
                        account_username=account,
                    )
                )
            except MalformedPayload as exc:
                result.skipped.append(SkippedPayload(comment_id, exc.message, comment))
        if complete:
            # Only a full listing proves absence (a cut one may just not have reached them).
            for gone in sorted(seen - present.keys()):
                result.updates.append(ItemUpdate(gone, state=ItemState.DELETED))
            seen &= present.keys()
        result.state = self._bounded_state(media, state, seen, present, hidden_now, hidden_before)
        result.state.listed_at = int(now.timestamp())
        return result

    def _bounded_state(
        self,
        media: dict[str, Any],
        state: _MediaState,
        seen: set[str],
        present: dict[str, int | None],
        hidden_now: set[str],
        hidden_before: set[str],
    ) -> _MediaState:
        floor = state.floor
        # Newest first; ids we cannot date count as new, so they are the last to be dropped.
        ordered = sorted(seen, key=lambda i: present.get(i) or 2**62, reverse=True)
        if len(ordered) > MAX_SEEN_PER_MEDIA:
            dropped = ordered[MAX_SEEN_PER_MEDIA:]
            ordered = ordered[:MAX_SEEN_PER_MEDIA]
            newest_dropped = max((present.get(i) or 0) for i in dropped)
            floor = max(floor, newest_dropped + 1)
        hidden = [i for i in ordered if (i in hidden_now if i in present else i in hidden_before)]
        count = media.get("comments_count")
        return _MediaState(
            count=count if isinstance(count, int) else -1, floor=floor, seen=ordered, hidden=hidden
        )

    def _list_comments(self, media_id: str) -> tuple[list[tuple[Any, str]], bool]:
        """Top-level comments and their replies, flat, as (comment, top-level id for replies)."""
        first = self.client.get(
            f"{media_id}/comments",
            {"fields": COMMENT_FIELDS, "limit": COMMENTS_PAGE_SIZE},
            what="the list of comments",
        )
        top, complete = self.client.walk(
            first, what="the list of comments", max_pages=MAX_COMMENT_PAGES
        )
        listed: list[tuple[Any, str]] = []
        for comment in top:
            listed.append((comment, ""))
            replies = comment.get("replies") if isinstance(comment, dict) else None
            if not isinstance(replies, dict) or not isinstance(comment.get("id"), str):
                continue
            answers, answers_complete = self.client.walk(
                replies, what="the list of replies", max_pages=MAX_COMMENT_PAGES
            )
            complete = complete and answers_complete
            listed.extend((answer, comment["id"]) for answer in answers)
        return listed, complete

    def _own_username(self, media: dict[str, Any] | None = None) -> str:
        # The media's owner is the account: its username comes free with the media list.
        if media is not None and isinstance(media.get("username"), str):
            self._username = media["username"]
        return self._username or ""

    # Actions.

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        if capability == Capability.LIKE:
            return gettext("Instagram's API has no way to like a comment.")
        if capability == Capability.PRIVATE_REPLY:
            return gettext(
                "Instagram's API offers private replies only to comments on live videos."
            )
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        if target.state == ItemState.DELETED:
            return gettext("The comment was deleted on Instagram.")
        ours = target.direction == "outbound"
        if capability == Capability.REPLY and target.state == ItemState.HIDDEN:
            return gettext("Instagram does not allow replies to hidden comments; unhide it first.")
        if capability == Capability.HIDE:
            if target.state == ItemState.HIDDEN:
                return gettext("The comment is already hidden.")
            if ours:
                return gettext("Instagram does not let an account hide its own comments.")
        if capability == Capability.UNHIDE and target.state != ItemState.HIDDEN:
            return gettext("The comment is not hidden.")
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        anchor = _top_level_id(target)
        created = self.client.post(
            f"{anchor}/replies", {"message": _reply_text(target, text)}, what="the reply"
        )
        reply_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(reply_id, str) or not reply_id:
            raise Transient("Instagram took the reply but sent back no comment id")
        return SentItem(external_id=reply_id)

    def set_hidden(self, *, target: ReplyTarget, hidden: bool) -> None:
        what = f"the request to {'hide' if hidden else 'unhide'} the comment"
        result = self.client.post(
            target.external_id, {"hide": "true" if hidden else "false"}, what=what
        )
        _require_success(result, f"Instagram did not confirm {what}")

    def delete(self, *, target: ReplyTarget) -> None:
        result = self.client.delete(target.external_id, what="the request to delete the comment")
        _require_success(result, "Instagram did not confirm the request to delete the comment")

    def like(self, *, target: ReplyTarget) -> None:
        raise InvalidRequest("Instagram's API has no way to like a comment.")

    def find_sent_reply(
        self, *, target: ReplyTarget, text: str, not_before: datetime
    ) -> SentItem | None:
        """Our reply under the top-level comment of `target` with this text, since
        `not_before` (replies are listed oldest first, so the first match is the earliest)."""
        self._require_account_id()
        anchor = _top_level_id(target)
        expected = _reply_text(target, text).strip()
        body = self.client.get(
            f"{anchor}/replies",
            {"fields": REPLY_FIELDS, "limit": COMMENTS_PAGE_SIZE},
            what="the search for an earlier reply",
        )
        replies, _ = self.client.walk(
            body, what="the search for an earlier reply", max_pages=MAX_COMMENT_PAGES
        )
        username = self._account_username()
        for reply in replies:
            if not isinstance(reply, dict) or not isinstance(reply.get("id"), str):
                continue
            author = reply.get("from")
            by_us = (isinstance(author, dict) and author.get("id") == self.account_id) or (
                bool(username) and reply.get("username") == username
            )
            created = _created(reply)
            if (
                by_us
                and str(reply.get("text") or "").strip() == expected
                and created is not None
                and created >= not_before - CLOCK_SLACK
            ):
                return SentItem(external_id=reply["id"])
        return None

    # Connection test.

    def test_connection(self) -> list[ConnectionCheck]:
        if not self.account_id:
            return [
                ConnectionCheck(
                    gettext("Instagram account ID"), False, gettext("The channel has none set.")
                )
            ]
        try:
            account = self.client.get(
                self.account_id, {"fields": "id,username"}, what="the account lookup"
            )
        except ConnectorError as exc:
            # An expired or revoked token (AuthExpired) lands here too: nothing else can work.
            return [ConnectionCheck(gettext("Access token and account"), False, exc.message)]
        username = account.get("username") if isinstance(account, dict) else None
        checks = [
            ConnectionCheck(
                gettext("Access token and account"),
                True,
                gettext("Instagram account @%(username)s is reachable.")
                % {"username": username or "?"},
            )
        ]
        checks.append(self._check(gettext("Posts"), self._check_media))
        checks.append(self._check(gettext("Comments"), self._check_comments))
        return checks

    def _check(self, name: str, run: Callable[[], tuple[bool, str]]) -> ConnectionCheck:
        try:
            ok, detail = run()
        except ConnectorError as exc:
            return ConnectionCheck(name, False, exc.message)
        return ConnectionCheck(name, ok, detail)

    def _check_media(self) -> tuple[bool, str]:
        body = self.client.get(
            f"{self.account_id}/media",
            {"fields": "id", "limit": 1},
            what="the list of the account's posts",
        )
        data, _ = page_of(body, what="Instagram media")
        return True, gettext("The account's posts can be read.") if data else gettext(
            "Readable; no posts yet."
        )

    def _check_comments(self) -> tuple[bool, str]:
        body = self.client.get(
            f"{self.account_id}/media",
            {"fields": "id,comments_count", "limit": 10},
            what="the list of the account's posts",
        )
        media_list, _ = page_of(body, what="Instagram media")
        for media in media_list:
            if isinstance(media, dict) and media.get("comments_count") and media.get("id"):
                self.client.get(
                    f"{media['id']}/comments",
                    {"fields": "id,text,username", "limit": 1},
                    what="the list of comments",
                )
                return True, gettext("Comments can be read.")
        return True, gettext("No comments yet to check; posts are readable.")

    # Helpers.

    def _require_account_id(self) -> None:
        if not self.account_id:
            raise InvalidRequest("The Instagram channel has no account ID set.")

    def _account_username(self) -> str:
        if self._username is None:
            try:
                account = self.client.get(
                    self.account_id, {"fields": "username"}, what="the account lookup"
                )
            except ConnectorError:
                return ""  # the id alone still identifies our replies
            name = account.get("username") if isinstance(account, dict) else None
            self._username = name if isinstance(name, str) else ""
        return self._username


def normalize_comment(
    comment: Any,
    *,
    media: dict[str, Any],
    parent_id: str = "",
    account_id: str,
    account_username: str,
) -> InboundItem:
    """One IG comment (or reply, with the id of its top-level comment) as an InboundItem."""
    if not isinstance(comment, dict):
        raise MalformedPayload("comment is not an object")
    comment_id = comment.get("id")
    if not isinstance(comment_id, str) or not comment_id:
        raise MalformedPayload("comment without an id")
    text = comment.get("text")
    if not isinstance(text, str):
        raise MalformedPayload("comment without text")
    created_at = parse_graph_time(comment.get("timestamp"))
    author = comment.get("from")
    if author is not None and not isinstance(author, dict):
        raise MalformedPayload("from is not an object")
    author_id = author.get("id") if isinstance(author, dict) else None
    username = comment.get("username")
    if not isinstance(username, str) and isinstance(author, dict):
        username = author.get("username")
    username = username if isinstance(username, str) else ""
    if not isinstance(author_id, str) or not author_id:
        # Without `from` (older API versions) the username is the only identity there is.
        author_id = username
    if not author_id:
        raise MalformedPayload("comment without an author")
    hidden = comment.get("hidden", False)
    if not isinstance(hidden, bool):
        raise MalformedPayload("hidden is not a boolean")
    stated_parent = comment.get("parent_id")
    if stated_parent is not None and not isinstance(stated_parent, str):
        raise MalformedPayload("parent_id is not text")
    parent = stated_parent or parent_id
    media_id = str(media.get("id") or "")
    raw = {key: value for key, value in comment.items() if key != "replies"}
    # The `media` field of an IG Comment: kept with the comment so actions know where it is.
    raw.setdefault("media", {"id": media_id, "media_product_type": media.get("media_product_type")})
    valid_handle = bool(USERNAME_RE.match(username))
    return InboundItem(
        external_id=comment_id,
        thread_key=parent or comment_id,
        kind=ConversationKind.COMMENT,
        author=InboundAuthor(
            external_id=author_id,
            handle=username,
            display_name=username,
            profile_url=f"https://www.instagram.com/{username}/" if valid_handle else "",
        ),
        text=text,
        created_at=created_at,
        parent_external_id=parent,
        post_external_id=media_id,
        post_text=_text(media.get("caption")),
        post_permalink=safe_http_url(media.get("permalink")),
        # Videos have a thumbnail; pictures are their own media.
        post_media_url=safe_http_url(media.get("thumbnail_url") or media.get("media_url")),
        state=ItemState.HIDDEN if hidden else ItemState.VISIBLE,
        from_self=(bool(account_id) and author_id == account_id)
        or (bool(account_username) and username == account_username),
        raw=raw,
    )


def _top_level_id(target: ReplyTarget) -> str:
    """The comment a reply must be posted on: `target`, or its top-level comment."""
    raw = target.raw if isinstance(target.raw, dict) else {}
    for candidate in (
        raw.get("parent_id"),
        target.parent_external_id,
        target.thread_key if target.thread_key != target.external_id else None,
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return target.external_id


def _reply_text(target: ReplyTarget, text: str) -> str:
    """On a reply, name the person answered, as Instagram's own "Reply" button does."""
    if _top_level_id(target) == target.external_id or not USERNAME_RE.match(target.author_handle):
        return text
    mention = f"@{target.author_handle}"
    return text if mention in text else f"{mention} {text}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ids(value: Any) -> list[str]:
    return [i for i in value if isinstance(i, str)] if isinstance(value, list) else []


def _unix_time(comment: Any) -> int | None:
    created = _created(comment) if isinstance(comment, dict) else None
    return int(created.timestamp()) if created is not None else None


def _created(payload: dict[str, Any]) -> datetime | None:
    try:
        return parse_graph_time(payload.get("timestamp"))
    except MalformedPayload:
        return None


def _require_success(result: Any, message: str) -> None:
    if not isinstance(result, dict) or result.get("success") is not True:
        raise Transient(message)
