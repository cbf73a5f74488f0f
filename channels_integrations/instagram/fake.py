"""A fake Instagram professional account for tests and the demo, speaking the Graph API.

It serves the IG user (`/{ig-user-id}`), its media with cursor paging and `comments_count`, the
comments of each media (top level only, newest first, replies through the nested `replies{…}`
field or `/{ig-comment-id}/replies`), and the moderation calls: reply, hide/unhide and delete
(platform-apis.md section 2). Graph plumbing (versions, tokens, fields, paging links, errors, BUC
headers with type "instagram", throttle code 80002) comes from facebook/graph_fake.

Moderation semantics (section 9.4): a reply to a hidden comment is refused, and so is a reply
to a reply. (Meta's reference says a reply to a reply "will be added to the top-level comment";
the fake is stricter on purpose, so a connector that relies on that is caught.) An account
cannot hide its own comments; deleting a comment deletes its replies. There is no like.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from channels_integrations.facebook.graph_fake import (
    FieldSpec,
    GraphCall,
    GraphFake,
    NodeView,
    cursor_paging,
    graph_time,
    invalid_parameter,
    kept_query,
    slice_ids,
    unsupported_request,
)
from channels_integrations.fake_server import json_response
from channels_integrations.instagram.fake_admin import InstagramAdmin

Json = dict[str, Any]
Clock = Callable[[], datetime]

ACCOUNT_ID = "17841400000000999"
ACCOUNT_USERNAME = "brand"
DEMO_TOKEN = "demo-ig-token"  # noqa: S105 - the fake's demo token, not a secret
FIRST_MEDIA_ID = 17895695668004550
FIRST_COMMENT_ID = 17873440459141021
FIRST_USER_ID = 17841400000000001
MAX_COMMENT_CHARS = 2200
DEFAULT_LIMIT = 25
MAX_LIMIT = 50
USERNAME_RE = re.compile(r"^[A-Za-z0-9._]{1,30}$")

USER_FIELDS = frozenset(
    {
        "id", "ig_id", "username", "name", "biography", "followers_count", "follows_count",
        "media_count", "profile_picture_url", "website",
    }
)  # fmt: skip
MEDIA_FIELDS = frozenset(
    {
        "id", "caption", "comments_count", "is_comment_enabled", "like_count", "media_type",
        "media_product_type", "media_url", "owner", "permalink", "shortcode", "thumbnail_url",
        "timestamp", "username",
    }
)  # fmt: skip
# The IG Comment fields (platform-apis.md 2.1).
COMMENT_FIELDS = frozenset(
    {
        "from", "hidden", "id", "like_count", "legacy_instagram_comment_id", "media",
        "parent_id", "replies", "text", "timestamp", "user", "username",
    }
)  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class IgMedia:
    id: str
    caption: str
    created: datetime
    seq: int
    shortcode: str
    media_type: str = "IMAGE"
    media_product_type: str = "FEED"
    comments_enabled: bool = True


@dataclass
class IgComment:
    id: str
    media_id: str
    parent_id: str | None
    user_id: str
    username: str
    text: str
    created: datetime
    seq: int
    hidden: bool = False
    like_count: int = 0
    # Never listed (age-gated, restricted users) but still counted in `comments_count`.
    filtered: bool = False
    raw: Any = None


class FakeInstagram(GraphFake):
    """One Instagram professional account, its media and their comments.

    Public methods take `_lock`; API views run with it held (see PlatformFake).
    """

    platform_name = "Instagram"
    usage_type = "instagram"
    throttle_code = 80002

    def __init__(
        self,
        tokens: Iterable[str] = (DEMO_TOKEN,),
        *,
        account_id: str = ACCOUNT_ID,
        username: str = ACCOUNT_USERNAME,
        clock: Clock = _utcnow,
        rate_limit: int = 4800,
    ) -> None:
        super().__init__(
            tokens,
            business_id=account_id,
            clock=clock,
            rate_limit=rate_limit,
            admin_routes=InstagramAdmin(self).routes(),
        )
        self.account_id = account_id
        self.username = username
        self._media: dict[str, IgMedia] = {}
        self._comments: dict[str, IgComment] = {}
        self._users: dict[str, str] = {}  # username -> IG-scoped id
        self._actions: list[Json] = []
        self._seq = itertools.count(1).__next__
        self._media_ids = itertools.count(FIRST_MEDIA_ID)
        self._comment_ids = itertools.count(FIRST_COMMENT_ID)
        self._user_ids = itertools.count(FIRST_USER_ID)

    # Python API: tests, the demo and /__admin/.

    def add_media(self, caption: str, *, created_at: datetime | None = None) -> Json:
        """The account publishes a photo; returns the media with all its fields."""
        with self._lock:
            media_id = str(next(self._media_ids))
            shortcode = f"C{int(media_id) % 10**9:09d}x"
            created = created_at or self._clock()
            self._media[media_id] = IgMedia(media_id, caption, created, self._seq(), shortcode)
            return self._media_full(self._media[media_id])

    def add_comment(
        self,
        media_id: str,
        text: str,
        *,
        username: str = "jane.doe",
        user_id: str | None = None,
        parent_id: str | None = None,
        hidden: bool = False,
        filtered: bool = False,
        created_at: datetime | None = None,
    ) -> Json:
        """Someone comments on a media (or replies to the top-level `parent_id`)."""
        if not USERNAME_RE.match(username):
            raise ValueError(f"invalid Instagram username: {username!r}")
        with self._lock:
            if user_id is None:
                user_id = self._users.setdefault(username, str(next(self._user_ids)))
            comment = self._new_comment(
                media_id, parent_id, user_id, username, text, created_at=created_at
            )
            comment.hidden, comment.filtered = hidden, filtered
            return self._comment_full(comment)

    def add_own_comment(self, target_id: str, text: str) -> Json:
        """The account itself comments (on a media, or replies to a comment) in the app."""
        with self._lock:
            if target_id in self._media:
                media_id, parent_id = target_id, None
            else:
                target = self._comments[target_id]
                media_id, parent_id = target.media_id, target.parent_id or target.id
            comment = self._new_comment(media_id, parent_id, self.account_id, self.username, text)
            return self._comment_full(comment)

    def add_raw_comment(self, media_id: str, payload: Any) -> Any:
        """Serve any JSON value as a top-level comment (tests inject malformed items so)."""
        with self._lock:
            comment = self._new_comment(media_id, None, "0", "?", "")
            comment.raw = copy.deepcopy(payload)
            if isinstance(payload, dict) and isinstance(payload.get("id"), str) and payload["id"]:
                del self._comments[comment.id]
                comment.id = payload["id"]
                self._comments[comment.id] = comment
            return copy.deepcopy(payload)

    def delete_comment(self, comment_id: str) -> None:
        """The author (or Instagram) removes a comment, and with it its replies."""
        with self._lock:
            self._remove(comment_id)

    def set_hidden(self, comment_id: str, hidden: bool) -> None:
        """Someone on the account hides or unhides a comment in the app."""
        with self._lock:
            self._comments[comment_id].hidden = hidden

    def comment(self, comment_id: str) -> Any:
        with self._lock:
            comment = self._comments.get(comment_id)
            return None if comment is None else self._comment_full(comment)

    def comments(self, media_id: str | None = None) -> list[Any]:
        """Every comment (or those of one media), replies included, oldest first."""
        with self._lock:
            return [
                self._comment_full(c)
                for c in self._ordered_comments()
                if media_id is None or c.media_id == media_id
            ]

    def media(self) -> list[Json]:
        """The account's media, newest first."""
        with self._lock:
            return [self._media_full(m) for m in self._ordered_media()]

    def actions(self) -> list[Json]:
        """What callers of the API did (reply, hide, unhide, delete), oldest first."""
        with self._lock:
            return copy.deepcopy(self._actions)

    def state(self) -> Json:
        return {"media": self.media(), "comments": self.comments(), "actions": self.actions()}

    # State helpers (lock held by the caller).

    def _new_comment(
        self,
        media_id: str,
        parent_id: str | None,
        user_id: str,
        username: str,
        text: str,
        *,
        created_at: datetime | None = None,
    ) -> IgComment:
        if media_id not in self._media:
            raise KeyError(media_id)
        if parent_id is not None and self._comments[parent_id].parent_id is not None:
            raise ValueError("Instagram replies go to top-level comments only")
        comment = IgComment(
            id=str(next(self._comment_ids)),
            media_id=media_id,
            parent_id=parent_id,
            user_id=user_id,
            username=username,
            text=text,
            created=created_at or self._clock(),
            seq=self._seq(),
        )
        self._comments[comment.id] = comment
        return comment

    def _remove(self, comment_id: str) -> None:
        self._comments.pop(comment_id)
        for reply in [c for c in self._comments.values() if c.parent_id == comment_id]:
            self._comments.pop(reply.id)

    def _ordered_media(self) -> list[IgMedia]:
        return sorted(self._media.values(), key=lambda m: (m.created, m.seq), reverse=True)

    def _ordered_comments(self) -> list[IgComment]:
        return sorted(self._comments.values(), key=lambda c: (c.created, c.seq))

    def _record(self, action: str, target: str, text: str = "", result: str = "") -> None:
        self._actions.append(
            {
                "at": graph_time(self._clock()),
                "action": action,
                "target": target,
                "text": text,
                "result": result,
            }
        )

    # Rendering.

    def _media_view(self, media: IgMedia) -> NodeView:
        count = sum(1 for c in self._comments.values() if c.media_id == media.id)
        fields: Json = {
            "id": media.id,
            "caption": media.caption,
            "comments_count": count,
            "is_comment_enabled": media.comments_enabled,
            "like_count": 0,
            "media_type": media.media_type,
            "media_product_type": media.media_product_type,
            "media_url": f"https://scontent.cdninstagram.com/v/{media.id}.jpg",
            "owner": {"id": self.account_id},
            "permalink": f"https://www.instagram.com/p/{media.shortcode}/",
            "shortcode": media.shortcode,
            "timestamp": graph_time(media.created),
            "username": self.username,
        }
        return NodeView("Media", fields, MEDIA_FIELDS, ("id",))

    def _media_full(self, media: IgMedia) -> Json:
        selected: Json = self._media_view(media).select([FieldSpec(n) for n in MEDIA_FIELDS])
        return selected

    def _comment_view(self, comment: IgComment, call: GraphCall | None = None) -> NodeView:
        if comment.raw is not None:
            return NodeView("IGComment", {}, COMMENT_FIELDS, (), raw=comment.raw)
        media = self._media[comment.media_id]
        fields: Json = {
            "id": comment.id,
            "text": comment.text,
            "timestamp": graph_time(comment.created),
            "username": comment.username,
            "from": {"id": comment.user_id, "username": comment.username},
            "hidden": comment.hidden,
            "like_count": comment.like_count,
            "parent_id": comment.parent_id,
            "media": {"id": media.id, "media_product_type": media.media_product_type},
            # `user` is only returned for comments the app user wrote.
            "user": {"id": self.account_id} if comment.user_id == self.account_id else None,
        }
        edges: dict[str, Callable[[FieldSpec], Json]] = {}
        if call is not None and comment.parent_id is None:
            edges["replies"] = lambda spec: self._nested_replies(call, comment, spec)
        return NodeView("IGComment", fields, COMMENT_FIELDS, ("timestamp", "text", "id"), edges)

    def _comment_full(self, comment: IgComment) -> Any:
        view = self._comment_view(comment)
        specs = [FieldSpec(name) for name in sorted(COMMENT_FIELDS - {"replies"})]
        full = view.select(specs)
        return full if comment.raw is not None else full | {"filtered": comment.filtered}

    # The Graph API (lock held).

    def route(self, call: GraphCall) -> Response:
        node = self.account_id if call.node == "me" else call.node
        if node == self.account_id:
            return self._user_route(call)
        if node in self._media:
            return self._media_route(call, self._media[node])
        if node in self._comments:
            return self._comment_route(call, self._comments[node])
        return unsupported_request(call.method, call.node)

    def _user_route(self, call: GraphCall) -> Response:
        if call.method == "GET" and call.edge is None:
            fields = {
                "id": self.account_id,
                "username": self.username,
                "name": self.username.title(),
                "media_count": len(self._media),
            }
            view = NodeView("IGUser", fields, USER_FIELDS, ("id",))
            return json_response(view.select(call.fields))
        if call.method == "GET" and call.edge == "media":
            ordered = self._ordered_media()
            by_id = {m.id: m for m in ordered}
            page = slice_ids(
                list(by_id),
                after=call.text("after"),
                before=call.text("before"),
                limit=call.number("limit", DEFAULT_LIMIT, MAX_LIMIT),
            )
            body: Json = {
                "data": [self._media_view(by_id[i]).select(call.fields) for i in page.ids]
            }
            paging = cursor_paging(call, page, path=f"{call.node}/media", kept=kept_query(call))
            return json_response(body | ({"paging": paging} if paging else {}))
        return unsupported_request(call.method, f"{call.node}/{call.edge}")

    def _media_route(self, call: GraphCall, media: IgMedia) -> Response:
        if call.method == "GET" and call.edge is None:
            return json_response(self._media_view(media).select(call.fields))
        if call.method == "GET" and call.edge == "comments":
            # Top-level comments only, newest first (platform-apis.md 2.1).
            top = [
                c
                for c in reversed(self._ordered_comments())
                if c.media_id == media.id and c.parent_id is None
            ]
            return self._comment_list(call, top, f"{media.id}/comments")
        if call.method == "POST" and call.edge == "comments":
            if not media.comments_enabled:
                return invalid_parameter("Comments are disabled for this media")
            return self._create(call, media.id, None)
        if call.method == "POST" and call.edge is None:
            enabled = call.flag("comment_enabled")
            if enabled is None:
                return invalid_parameter("Nothing to update: pass comment_enabled")
            media.comments_enabled = enabled
            self._record("comments_enabled" if enabled else "comments_disabled", media.id)
            return json_response({"success": True})
        return unsupported_request(call.method, f"{call.node}/{call.edge}")

    def _comment_route(self, call: GraphCall, comment: IgComment) -> Response:
        if call.method == "GET" and call.edge is None:
            return json_response(self._comment_view(comment, call).select(call.fields))
        if call.method == "GET" and call.edge == "replies":
            replies = [c for c in self._ordered_comments() if c.parent_id == comment.id]
            return self._comment_list(call, replies, f"{comment.id}/replies")
        if call.method == "POST" and call.edge == "replies":
            if comment.parent_id is not None:
                return invalid_parameter("Replies can only be made to top-level comments")
            if comment.hidden:
                return invalid_parameter("You cannot reply to a hidden comment")
            return self._create(call, comment.media_id, comment.id)
        if call.method == "POST" and call.edge is None:
            hide = call.flag("hide")
            if hide is None:
                return invalid_parameter("Nothing to update: pass hide")
            if comment.user_id == self.account_id:
                return invalid_parameter("You cannot hide your own comments")
            comment.hidden = hide
            self._record("hide" if hide else "unhide", comment.id)
            return json_response({"success": True})
        if call.method == "DELETE" and call.edge is None:
            self._remove(comment.id)
            self._record("delete", comment.id, comment.text)
            return json_response({"success": True})
        return unsupported_request(call.method, f"{call.node}/{call.edge}")

    def _comment_list(self, call: GraphCall, comments: list[IgComment], path: str) -> Response:
        by_id = {c.id: c for c in comments}
        page = slice_ids(
            list(by_id),
            after=call.text("after"),
            before=call.text("before"),
            limit=call.number("limit", DEFAULT_LIMIT, MAX_LIMIT),
        )
        data = [
            self._comment_view(by_id[i], call).select(call.fields)
            for i in page.ids
            if not by_id[i].filtered
        ]
        paging = cursor_paging(call, page, path=path, kept=kept_query(call))
        return json_response({"data": data} | ({"paging": paging} if paging else {}))

    def _nested_replies(self, call: GraphCall, comment: IgComment, spec: FieldSpec) -> Json:
        replies = [c for c in self._ordered_comments() if c.parent_id == comment.id]
        by_id = {c.id: c for c in replies}
        limit = spec.limit or DEFAULT_LIMIT
        page = slice_ids(list(by_id), after=None, before=None, limit=limit)
        data = [
            self._comment_view(by_id[i]).select(spec.children)
            for i in page.ids
            if not by_id[i].filtered
        ]
        kept = [("limit", str(limit))]
        if spec.children is not None:
            kept.append(("fields", ",".join(str(child) for child in spec.children)))
        paging = cursor_paging(call, page, path=f"{comment.id}/replies", kept=kept)
        return {"data": data} | ({"paging": paging} if paging else {})

    def _create(self, call: GraphCall, media_id: str, parent_id: str | None) -> Response:
        text = call.text("message") or ""
        if not text.strip():
            return invalid_parameter("The parameter message is required")
        if len(text) > MAX_COMMENT_CHARS:
            return invalid_parameter(f"The comment is longer than {MAX_COMMENT_CHARS} characters")
        comment = self._new_comment(media_id, parent_id, self.account_id, self.username, text)
        self._record("reply" if parent_id else "comment", parent_id or media_id, text, comment.id)
        return json_response({"id": comment.id})
