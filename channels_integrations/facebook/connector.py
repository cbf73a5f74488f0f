"""Facebook Pages: comments on the Page's posts in; replies, private replies and moderation out.

Polling (platform-apis.md 1.1): the posts of the last 30 days from `/{page-id}/feed` (at most
MAX_POSTS, newest first), then for each post `/{post-id}/comments?filter=stream&order=
reverse_chronological&since=<high-water mark - 60 s>`, following `paging.next` until it is
absent. Graph cursors are never stored: they go stale when comments are deleted.

Cursor (JSON, bounded by MAX_POSTS x MAX_SEEN_PER_POST ids):
    {"v": 1, "start": <unix>, "posts": {"<post-id>": {"hw": <unix>, "seen": ["<id>", ...]}},
     "resume": "<post-id>"}
`start` is where comments of a post seen for the first time begin (the first poll, or the
backfill date); `hw` is the newest `created_time` seen on that post; `seen` holds only the ids
inside the 60-second overlap, which is all the deduplication needs; `resume` is the post a
sweep cut short by ITEM_BUDGET continues with.

Re-check: Graph's `since` filters on creation time, so edits, deletions and hide/unhide done
on Facebook to comments older than the overlap never come back in a listing. The cursor
therefore also keeps a watch list, `"watch": [["<comment-id>", <created unix>], ...]` (the
comments of the last WATCH_WINDOW, at most MAX_WATCHED, oldest dropped first) and
`"recheck_at": <unix>`. At most every RECHECK_INTERVAL one fetch_page reads them again, 50 at a
time, with Graph's multiple-id read `GET /{version}/?ids=a,b,...&fields=id,message,is_hidden,
created_time`, and reports what it finds as ItemUpdates: the current text (edited_at = now)
and hidden/visible state of each comment, `deleted` for the ones that are gone. The cursor
holds no texts, so the updates carry the current values and the inbox's ingest keeps only
what differs from the stored message (an unchanged text or state is a no-op there).

A multiple-id read fails as a whole when one of its ids no longer exists (code 803 "Some of the
aliases you requested do not exist", or 100/33); that batch is then read id by id, and an id
Graph answers "does not exist" for is reported deleted. API versions from v26.0 on no longer
take `ids` at the root: there every id is read by itself. Reads id by id are capped at
MAX_SINGLE_READS per re-check (the rest wait for the next one), so the re-check stays a small,
bounded share of the rate budget.

Page private messages (Messenger conversations, 1.3) are not polled by this connector.
"""

from __future__ import annotations

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
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    MalformedPayload,
    NotFound,
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

POST_WINDOW = timedelta(days=30)
# A new channel without a backfill date starts with the comments of the last day.
FIRST_POLL_LOOKBACK = timedelta(hours=24)
OVERLAP_SECONDS = 60
MAX_POSTS = 50
MAX_SEEN_PER_POST = 300
POSTS_PAGE_SIZE = 25
COMMENTS_PAGE_SIZE = 100
MAX_COMMENT_PAGES = 100
# A sweep stops after the post that brings it past this many items and resumes with the next.
ITEM_BUDGET = 200
PRIVATE_REPLY_WINDOW = timedelta(days=7)
# Graph timestamps have whole seconds; our own clock does not.
CLOCK_SLACK = timedelta(seconds=5)

POST_FIELDS = "id,message,created_time,updated_time,permalink_url,full_picture"
COMMENT_FIELDS = (
    "id,message,created_time,from{id,name},parent{id},is_hidden,can_hide,can_remove,"
    "can_reply_privately,comment_count,like_count,permalink_url,attachment"
)
REPLY_LOOKUP_FIELDS = "id,message,created_time,from{id,name},permalink_url"
RECHECK_FIELDS = "id,message,is_hidden,created_time"


@dataclass
class _PostState:
    hw: int
    seen: list[str] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return {"hw": self.hw, "seen": self.seen}


@dataclass
class _Cursor:
    start: int
    posts: dict[str, _PostState]
    resume: str = ""
    # Comment id -> created (unix), oldest first: the comments the re-check reads again.
    watch: dict[str, int] = field(default_factory=dict)
    recheck_at: int = 0

    @classmethod
    def load(cls, cursor: dict[str, Any], now: datetime) -> _Cursor:
        """Read a stored cursor; anything unreadable counts as absent, never as an error."""
        start = cursor.get("start")
        if not isinstance(start, int):
            start = int((now - FIRST_POLL_LOOKBACK).timestamp())
        posts: dict[str, _PostState] = {}
        stored = cursor.get("posts")
        for post_id, state in (stored if isinstance(stored, dict) else {}).items():
            if isinstance(state, dict) and isinstance(state.get("hw"), int):
                seen = state.get("seen")
                ids = [i for i in seen if isinstance(i, str)] if isinstance(seen, list) else []
                posts[str(post_id)] = _PostState(state["hw"], ids[:MAX_SEEN_PER_POST])
        resume = cursor.get("resume")
        watch: dict[str, int] = {}
        stored_watch = cursor.get("watch")
        for entry in stored_watch if isinstance(stored_watch, list) else []:
            if (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], str)
                and entry[0]
                and isinstance(entry[1], int)
            ):
                watch[entry[0]] = entry[1]
        recheck_at = cursor.get("recheck_at")
        return cls(
            start,
            posts,
            resume if isinstance(resume, str) else "",
            _bounded_watch(watch, now),
            recheck_at if isinstance(recheck_at, int) else 0,
        )

    def dump(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {
            "v": 1,
            "start": self.start,
            "posts": {post_id: state.dump() for post_id, state in self.posts.items()},
        }
        if self.resume:
            cursor["resume"] = self.resume
        if self.watch:
            cursor["watch"] = [[comment_id, created] for comment_id, created in self.watch.items()]
        if self.recheck_at:
            cursor["recheck_at"] = self.recheck_at
        return cursor


def _bounded_watch(watch: dict[str, int], now: datetime) -> dict[str, int]:
    """The watch list without comments older than WATCH_WINDOW, at most MAX_WATCHED (newest)."""
    oldest = int((now - FacebookConnector.WATCH_WINDOW).timestamp())
    kept = sorted(
        ((created, comment_id) for comment_id, created in watch.items() if created >= oldest),
    )[-FacebookConnector.MAX_WATCHED :]
    return {comment_id: created for created, comment_id in kept}


class FacebookConnector(Connector):
    platform = "facebook"
    # The re-check of comments older than the polling overlap (see the module docstring).
    RECHECK_INTERVAL: ClassVar[timedelta] = timedelta(minutes=10)
    WATCH_WINDOW: ClassVar[timedelta] = timedelta(days=7)
    MAX_WATCHED: ClassVar[int] = 500
    RECHECK_BATCH: ClassVar[int] = 50  # Graph's limit for a multiple-id read
    MAX_SINGLE_READS: ClassVar[int] = 50
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.REPLY,
            Capability.PRIVATE_REPLY,
            Capability.HIDE,
            Capability.UNHIDE,
            Capability.DELETE,
            Capability.LIKE,
        }
    )
    max_reply_length = 8000
    setup_fields = (
        SetupField(
            "base_url",
            gettext_lazy("API base URL"),
            initial=GRAPH_BASE_URL,
            input_type="url",
            help_text=gettext_lazy("The Graph API host; change it only to test against a fake."),
        ),
        SetupField(
            "page_id",
            gettext_lazy("Page ID"),
            help_text=gettext_lazy(
                "The numeric id of the Facebook Page (Page settings, Page transparency)."
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
            gettext_lazy("Page access token"),
            secret=True,
            input_type="password",
            help_text=(
                gettext_lazy(
                    "A Page access token of someone with the MODERATE task on the Page, with "
                    "pages_read_engagement, pages_read_user_content, pages_manage_engagement and "
                    "pages_messaging (private replies)."
                )
            ),
        ),
    )
    backfill_note = gettext_noop(
        "Facebook: comments on the Page's posts of the last 30 days (at most the 50 newest "
        "posts). A backfill date further back is cut to 30 days; without one, the first poll "
        "takes the comments of the last 24 hours."
    )

    def __init__(self, connection: ConnectionSettings, session: PlatformSession) -> None:
        super().__init__(connection, session)
        settings = connection.settings
        self.page_id = str(settings.get("page_id") or "").strip()
        self.client = GraphClient(
            base_url=str(settings.get("base_url") or GRAPH_BASE_URL),
            api_version=str(settings.get("api_version") or DEFAULT_API_VERSION),
            token=str(connection.credentials.get("access_token") or ""),
            session=session,
            platform="Facebook",
            usage_type="pages",
        )

    def contact_scope(self) -> str:
        # Commenter ids reach us scoped to the app and Page, not as global user ids.
        return self.page_id

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        if backfill_since is None:
            return {}
        earliest = datetime.now(UTC) - POST_WINDOW
        return _Cursor(int(max(backfill_since, earliest).timestamp()), {}).dump()

    def next_poll_delay(self, interval_seconds: int) -> int:
        return self.client.paced_delay(interval_seconds)

    # Polling.

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        self._require_page_id()
        now = datetime.now(UTC)
        state = _Cursor.load(cursor, now)
        posts, skipped = self._recent_posts(now - POST_WINDOW)
        order = [post["id"] for post in posts]
        first = order.index(state.resume) if state.resume in order else 0
        # Posts that left the window are forgotten; the others keep their state.
        kept = {post_id: state.posts[post_id] for post_id in order if post_id in state.posts}
        items: list[InboundItem] = []
        resume = ""
        for post in posts[first:]:
            if len(items) >= ITEM_BUDGET:
                resume = post["id"]
                break
            post_state = kept.get(post["id"]) or _PostState(state.start)
            kept[post["id"]], new_items, new_skipped = self._poll_post(post, post_state)
            items.extend(new_items)
            skipped.extend(new_skipped)
        watch = dict(state.watch)
        updates: list[ItemUpdate] = []
        recheck_at = state.recheck_at
        if int(now.timestamp()) >= recheck_at:
            # Due: the next re-check comes one interval later, whether this one works or not.
            recheck_at = int((now + self.RECHECK_INTERVAL).timestamp())
            if watch:
                try:
                    updates, gone = self._recheck(list(watch), now)
                except AuthExpired:
                    raise
                except ConnectorError:
                    # A failed re-check (5xx, throttling, a refused read) must not cost the new
                    # comments this page already holds: it is skipped and runs again after the
                    # next interval. Nothing is lost meanwhile; edits only show up later.
                    updates, gone = [], set()
                for comment_id in gone:
                    watch.pop(comment_id, None)
        for item in items:
            watch[item.external_id] = int(item.created_at.timestamp())
        new_cursor = _Cursor(
            state.start, kept, resume, _bounded_watch(watch, now), recheck_at
        ).dump()
        return FetchedPage(
            items=items,
            cursor=new_cursor,
            caught_up=not resume,
            skipped=skipped,
            updates=updates,
        )

    def _recheck(self, ids: list[str], now: datetime) -> tuple[list[ItemUpdate], set[str]]:
        """Read the watched comments again: (their updates, the ids that are gone)."""
        updates: list[ItemUpdate] = []
        gone: set[str] = set()
        singles = self.MAX_SINGLE_READS
        # Newest first: when reads id by id run out, the most recent comments were checked.
        ordered = list(reversed(ids))
        multi = _multi_ids_supported(self.client.api_version)
        for start in range(0, len(ordered), self.RECHECK_BATCH):
            batch = ordered[start : start + self.RECHECK_BATCH]
            found: dict[str, Any] | None = None
            if multi:
                try:
                    found = self._read_many(batch)
                except (NotFound, InvalidRequest):
                    found = None  # one id is gone (or ids= was refused): read them one by one
            if found is None:
                found, singles = self._read_each(batch, singles)
            for comment_id, comment in found.items():
                if comment is None:
                    gone.add(comment_id)
                    updates.append(ItemUpdate(comment_id, state=ItemState.DELETED))
                elif isinstance(comment, dict):
                    updates.append(_recheck_update(comment_id, comment, now))
        return updates, gone

    def _read_many(self, ids: list[str]) -> dict[str, Any]:
        body = self.client.get(
            "", {"ids": ",".join(ids), "fields": RECHECK_FIELDS}, what="the re-check of comments"
        )
        if not isinstance(body, dict):
            raise Transient("Facebook answered the re-check of comments with no object")
        found: dict[str, Any] = {}
        for comment_id in ids:
            comment = body.get(comment_id)
            error = comment.get("error") if isinstance(comment, dict) else None
            if isinstance(error, dict):
                # Should Graph ever answer per id, an id "that does not exist" is gone.
                code, subcode = error.get("code"), error.get("error_subcode")
                if code == 803 or (code == 100 and subcode == 33):
                    found[comment_id] = None
            elif isinstance(comment, dict):
                found[comment_id] = comment
            # An id missing from the answer proves nothing: it is read again next time.
        return found

    def _read_each(self, ids: list[str], singles: int) -> tuple[dict[str, Any], int]:
        found: dict[str, Any] = {}
        for comment_id in ids:
            if singles <= 0:
                break
            singles -= 1
            try:
                comment = self.client.get(
                    comment_id, {"fields": RECHECK_FIELDS}, what="the re-check of a comment"
                )
            except NotFound:
                found[comment_id] = None
                continue
            except InvalidRequest:
                continue
            if isinstance(comment, dict):
                found[comment_id] = comment
        return found, singles

    def _recent_posts(self, since: datetime) -> tuple[list[dict[str, Any]], list[SkippedPayload]]:
        posts: list[dict[str, Any]] = []
        skipped: list[SkippedPayload] = []
        params = {"fields": POST_FIELDS, "limit": POSTS_PAGE_SIZE, "since": int(since.timestamp())}
        pages = self.client.pages(
            f"{self.page_id}/feed", params, what="the list of the Page's posts", max_pages=10
        )
        for data in pages:
            for post in data:
                if isinstance(post, dict) and isinstance(post.get("id"), str) and post["id"]:
                    posts.append(post)
                else:
                    skipped.append(SkippedPayload("", "post without an id", post))
            if len(posts) >= MAX_POSTS:
                break
        return posts[:MAX_POSTS], skipped

    def _poll_post(
        self, post: dict[str, Any], state: _PostState
    ) -> tuple[_PostState, list[InboundItem], list[SkippedPayload]]:
        params = {
            "filter": "stream",
            "order": "reverse_chronological",
            "since": max(0, state.hw - OVERLAP_SECONDS),
            "fields": COMMENT_FIELDS,
            "limit": COMMENTS_PAGE_SIZE,
        }
        comments: list[Any] = []
        for data in self.client.pages(
            f"{post['id']}/comments",
            params,
            what="the list of comments",
            max_pages=MAX_COMMENT_PAGES,
        ):
            comments.extend(data)
        parents = {
            c["id"]: c for c in comments if isinstance(c, dict) and isinstance(c.get("id"), str)
        }
        seen = set(state.seen)
        items: list[InboundItem] = []
        skipped: list[SkippedPayload] = []
        listed: list[tuple[str, int | None]] = []
        newest = state.hw
        for comment in comments:
            comment_id = comment.get("id") if isinstance(comment, dict) else None
            created = _unix_time(comment)
            if isinstance(comment_id, str):
                listed.append((comment_id, created))
            if created is not None:
                newest = max(newest, created)
            if isinstance(comment_id, str) and comment_id in seen:
                continue
            try:
                items.append(
                    normalize_comment(comment, post=post, page_id=self.page_id, parents=parents)
                )
            except MalformedPayload as exc:
                skipped.append(SkippedPayload(str(comment_id or ""), exc.message, comment))
        # Only ids inside the overlap can come back on the next poll; older ones need no memory.
        keep = [
            i for i, created in listed if created is None or created >= newest - OVERLAP_SECONDS
        ]
        return _PostState(newest, keep[:MAX_SEEN_PER_POST]), items, skipped

    # Actions.

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        if target.state == ItemState.DELETED:
            return gettext("The comment was deleted on Facebook.")
        raw = target.raw if isinstance(target.raw, dict) else {}
        ours = target.direction == "outbound"
        if capability == Capability.PRIVATE_REPLY:
            if ours:
                return gettext("A Page cannot send a private reply to its own comment.")
            if raw.get("can_reply_privately") is False:
                return gettext(
                    "Facebook allows one private reply per comment, within 7 days, to people "
                    "the Page can message; this comment cannot get one (any more)."
                )
            created = _created(raw) or target.sent_at
            if created is not None and datetime.now(UTC) - created > PRIVATE_REPLY_WINDOW:
                return gettext("Facebook allows private replies only within 7 days of the comment.")
        if capability == Capability.HIDE:
            if target.state == ItemState.HIDDEN:
                return gettext("The comment is already hidden.")
            if ours or raw.get("can_hide") is False:
                return gettext(
                    "Facebook does not let a Page hide its own comments; delete it instead."
                )
        if capability == Capability.UNHIDE and target.state != ItemState.HIDDEN:
            return gettext("The comment is not hidden.")
        if capability == Capability.DELETE and raw.get("can_remove") is False:
            return gettext("Facebook does not allow the Page to remove this comment.")
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        # Facebook threads two levels deep: an answer to a reply goes under its top-level comment.
        anchor = self._thread_anchor(target)
        created = self.client.post(f"{anchor}/comments", {"message": text}, what="the reply")
        comment_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(comment_id, str) or not comment_id:
            raise Transient("Facebook took the reply but sent back no comment id")
        return SentItem(external_id=comment_id)

    def private_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        self._require_page_id()
        sent = self.client.post(
            f"{self.page_id}/messages",
            json_body={"recipient": {"comment_id": target.external_id}, "message": {"text": text}},
            what="the private reply",
        )
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise Transient("Facebook took the private reply but sent back no message id")
        return SentItem(external_id=message_id)

    def set_hidden(self, *, target: ReplyTarget, hidden: bool) -> None:
        what = f"the request to {'hide' if hidden else 'unhide'} the comment"
        result = self.client.post(
            target.external_id, {"is_hidden": "true" if hidden else "false"}, what=what
        )
        _require_success(result, f"Facebook did not confirm {what}")

    def delete(self, *, target: ReplyTarget) -> None:
        result = self.client.delete(target.external_id, what="the request to delete the comment")
        _require_success(result, "Facebook did not confirm the request to delete the comment")

    def like(self, *, target: ReplyTarget) -> None:
        result = self.client.post(f"{target.external_id}/likes", what="the like")
        _require_success(result, "Facebook did not confirm the like")

    def find_sent_reply(
        self, *, target: ReplyTarget, text: str, not_before: datetime
    ) -> SentItem | None:
        """Our comment under the thread of `target` with this text, written since `not_before`."""
        self._require_page_id()
        anchor = self._thread_anchor(target)
        params = {
            "order": "reverse_chronological",
            "since": int(not_before.timestamp()) - OVERLAP_SECONDS,
            "fields": REPLY_LOOKUP_FIELDS,
            "limit": COMMENTS_PAGE_SIZE,
        }
        matches: list[tuple[datetime, SentItem]] = []
        for data in self.client.pages(
            f"{anchor}/comments", params, what="the search for an earlier reply", max_pages=10
        ):
            for comment in data:
                if not isinstance(comment, dict) or not isinstance(comment.get("id"), str):
                    continue
                author = comment.get("from")
                created = _created(comment)
                if (
                    isinstance(author, dict)
                    and author.get("id") == self.page_id
                    and str(comment.get("message") or "").strip() == text.strip()
                    and created is not None
                    and created >= not_before - CLOCK_SLACK
                ):
                    permalink = safe_http_url(comment.get("permalink_url"))
                    matches.append((created, SentItem(comment["id"], permalink)))
        # Two identical replies can only come from two attempts: the first one is ours.
        return min(matches, key=lambda match: match[0])[1] if matches else None

    # Connection test.

    def test_connection(self) -> list[ConnectionCheck]:
        checks: list[ConnectionCheck] = []
        if not self.page_id:
            return [
                ConnectionCheck(
                    gettext("Page ID"), False, gettext("The channel has no Page ID set.")
                )
            ]
        try:
            me = self.client.get("me", {"fields": "id,name"}, what="the token check")
        except ConnectorError as exc:
            # An expired or revoked token (AuthExpired) lands here too: nothing else can work.
            return [ConnectionCheck(gettext("Access token"), False, exc.message)]
        me_id = str(me.get("id", "")) if isinstance(me, dict) else ""
        if me_id != self.page_id:
            checks.append(
                ConnectionCheck(
                    gettext("Access token"),
                    False,
                    gettext(
                        "The token belongs to %(owner)s, not to Page %(page)s: use the Page's "
                        "own access token."
                    )
                    % {"owner": me_id or gettext("someone else"), "page": self.page_id},
                )
            )
        else:
            checks.append(
                ConnectionCheck(
                    gettext("Access token"), True, gettext("Accepted; it is a Page token.")
                )
            )
        checks.append(self._check(gettext("Page"), self._check_page))
        checks.append(self._check(gettext("Posts"), self._check_posts))
        checks.append(self._check(gettext("Comments with authors"), self._check_comments))
        return checks

    def _check(self, name: str, run: Callable[[], tuple[bool, str]]) -> ConnectionCheck:
        try:
            ok, detail = run()
        except ConnectorError as exc:
            return ConnectionCheck(name, False, exc.message)
        return ConnectionCheck(name, ok, detail)

    def _check_page(self) -> tuple[bool, str]:
        page = self.client.get(self.page_id, {"fields": "id,name"}, what="the Page lookup")
        name = page.get("name") if isinstance(page, dict) else None
        return True, gettext("%(name)s (%(page)s) is reachable.") % {
            "name": name or gettext("The Page"),
            "page": self.page_id,
        }

    def _check_posts(self) -> tuple[bool, str]:
        body = self.client.get(
            f"{self.page_id}/feed",
            {"fields": "id", "limit": 1},
            what="the list of the Page's posts",
        )
        data, _ = page_of(body, what="Facebook feed")
        if data:
            return True, gettext("The Page's posts can be read.")
        return True, gettext("Readable; no posts yet.")

    def _check_comments(self) -> tuple[bool, str]:
        body = self.client.get(
            f"{self.page_id}/feed",
            {"fields": "id", "limit": 5},
            what="the list of the Page's posts",
        )
        posts, _ = page_of(body, what="Facebook feed")
        for post in posts:
            if not isinstance(post, dict) or not isinstance(post.get("id"), str):
                continue
            body = self.client.get(
                f"{post['id']}/comments",
                {"filter": "stream", "fields": "id,from{id,name}", "limit": 5},
                what="the list of comments",
            )
            comments, _ = page_of(body, what="Facebook comments")
            if not comments:
                continue
            if all(isinstance(c, dict) and isinstance(c.get("from"), dict) for c in comments):
                return True, gettext("Comments and their authors can be read.")
            return False, (
                gettext(
                    "Comments come without their authors: the token's user needs the MODERATE "
                    "task on the Page."
                )
            )
        return True, gettext("No comments yet to check; posts are readable.")

    # Helpers.

    def _require_page_id(self) -> None:
        if not self.page_id:
            raise InvalidRequest("The Facebook channel has no Page ID set.")

    def _thread_anchor(self, target: ReplyTarget) -> str:
        """The top-level comment of the thread `target` belongs to."""
        raw = target.raw if isinstance(target.raw, dict) else {}
        parent = raw.get("parent")
        candidates = [
            parent.get("id") if isinstance(parent, dict) else None,
            target.parent_external_id,
            target.thread_key if target.thread_key != target.external_id else None,
        ]
        for candidate in candidates:
            # A parent that is the post itself (webhook shape) means a top-level comment.
            if isinstance(candidate, str) and candidate and not self._is_post_id(candidate):
                return candidate
        return target.external_id

    def _is_post_id(self, object_id: str) -> bool:
        return bool(self.page_id) and object_id.startswith(f"{self.page_id}_")


def normalize_comment(
    comment: Any, *, post: dict[str, Any], page_id: str, parents: dict[str, Any]
) -> InboundItem:
    """One Graph comment of `post` as an InboundItem; MalformedPayload when it cannot be read."""
    if not isinstance(comment, dict):
        raise MalformedPayload("comment is not an object")
    comment_id = comment.get("id")
    if not isinstance(comment_id, str) or not comment_id:
        raise MalformedPayload("comment without an id")
    author = comment.get("from")
    if not isinstance(author, dict) or not isinstance(author.get("id"), str) or not author["id"]:
        raise MalformedPayload(
            "comment without its author (from): the token's user needs the MODERATE task"
        )
    message = comment.get("message", "")
    if not isinstance(message, str):
        raise MalformedPayload("comment message is not text")
    created_at = parse_graph_time(comment.get("created_time"))
    hidden = comment.get("is_hidden", False)
    if not isinstance(hidden, bool):
        raise MalformedPayload("is_hidden is not a boolean")
    parent_id = _parent_id(comment, post_id=str(post.get("id") or ""))
    return InboundItem(
        external_id=comment_id,
        thread_key=_thread_root(comment_id, parent_id, parents, str(post.get("id") or "")),
        kind=ConversationKind.COMMENT,
        author=InboundAuthor(
            external_id=author["id"],
            display_name=_text(author.get("name")),
        ),
        text=message,
        created_at=created_at,
        parent_external_id=parent_id,
        permalink=safe_http_url(comment.get("permalink_url")),
        post_external_id=str(post.get("id") or ""),
        post_text=_text(post.get("message")),
        post_permalink=safe_http_url(post.get("permalink_url")),
        post_media_url=safe_http_url(post.get("full_picture")),
        state=ItemState.HIDDEN if hidden else ItemState.VISIBLE,
        from_self=bool(page_id) and author["id"] == page_id,
        attachments=_attachments(comment.get("attachment")),
        raw=comment,
    )


def _parent_id(comment: dict[str, Any], *, post_id: str) -> str:
    parent = comment.get("parent")
    if parent is None:
        return ""
    if not isinstance(parent, dict) or not isinstance(parent.get("id"), str):
        raise MalformedPayload("parent is not an object with an id")
    # Webhooks give top-level comments the post as their parent (section 1.6).
    return "" if parent["id"] == post_id else parent["id"]


def _thread_root(comment_id: str, parent_id: str, parents: dict[str, Any], post_id: str) -> str:
    """The top-level comment: a reply's parent, walked up while the parent has a parent."""
    root = parent_id or comment_id
    for _ in range(5):  # Facebook nests two levels; the bound only guards against cycles
        parent = parents.get(root)
        above = parent.get("parent") if isinstance(parent, dict) else None
        above_id = above.get("id") if isinstance(above, dict) else None
        if not isinstance(above_id, str) or not above_id or above_id in {post_id, root}:
            break
        root = above_id
    return root


def _attachments(attachment: Any) -> tuple[dict[str, str], ...]:
    """A comment's photo, sticker, GIF, video or link as one attachment with an http(s) URL."""
    if not isinstance(attachment, dict):
        return ()
    media = attachment.get("media")
    image = media.get("image") if isinstance(media, dict) else None
    target = attachment.get("target")
    url = (
        safe_http_url(image.get("src") if isinstance(image, dict) else None)
        or safe_http_url(attachment.get("url"))
        or safe_http_url(target.get("url") if isinstance(target, dict) else None)
    )
    if not url:
        return ()
    kind = str(attachment.get("type") or "")
    if kind.startswith("video"):
        media_type = "video"
    elif kind in {"photo", "sticker"} or kind.startswith("animated_image"):
        media_type = "image"
    else:
        media_type = "link"
    title = attachment.get("title")
    name = title if isinstance(title, str) and title else kind or media_type
    return ({"name": name, "url": url, "type": media_type},)


def _multi_ids_supported(api_version: str) -> bool:
    """Root `?ids=` reads exist up to v25.0; from v26.0 on they are refused."""
    major = api_version.lstrip("v").split(".")[0]
    return not major.isdigit() or int(major) <= 25


def _recheck_update(comment_id: str, comment: dict[str, Any], now: datetime) -> ItemUpdate:
    """A re-read comment as an ItemUpdate: its current text and hidden state."""
    message = comment.get("message")
    hidden = comment.get("is_hidden")
    state: str | None = None
    if isinstance(hidden, bool):
        state = ItemState.HIDDEN if hidden else ItemState.VISIBLE
    return ItemUpdate(
        comment_id,
        state=state,
        text=message if isinstance(message, str) else None,
        edited_at=now if isinstance(message, str) else None,
    )


def _unix_time(comment: Any) -> int | None:
    created = _created(comment) if isinstance(comment, dict) else None
    return int(created.timestamp()) if created is not None else None


def _created(payload: dict[str, Any]) -> datetime | None:
    try:
        return parse_graph_time(payload.get("created_time"))
    except MalformedPayload:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _require_success(result: Any, message: str) -> None:
    if not isinstance(result, dict) or result.get("success") is not True:
        raise Transient(message)
