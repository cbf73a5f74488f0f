"""A fake Facebook Page for tests and the demo, speaking the Graph API over real HTTP.

It serves the Page (`/{page-id}`, `/me` for its Page token), its feed with time-based paging,
comments with `filter=stream|toplevel`, `order`, `since` and cursor paging (including the short
and empty pages privacy filtering produces), and the moderation calls: reply, hide/unhide,
delete, like and the private reply through `/{page-id}/messages` (platform-apis.md 1.1 to 1.4).
Graph plumbing (versions, tokens, fields, paging links, errors, BUC headers) is in graph_fake.

Moderation semantics: a Page cannot hide its own comments (`can_hide` is false for them); a
comment gets at most one private reply, within 7 days; a reply to a reply is attached to the
top-level comment, as Facebook shows only two levels; deleting a comment deletes its replies.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Response

from channels_integrations.facebook.fake_admin import FacebookAdmin
from channels_integrations.facebook.graph_fake import (
    FieldSpec,
    GraphCall,
    GraphFake,
    NodeView,
    Page,
    ParamError,
    cursor_paging,
    decode_cursor,
    encode_cursor,
    graph_error,
    graph_time,
    invalid_parameter,
    json_param,
    kept_query,
    slice_ids,
    unsupported_request,
)
from channels_integrations.fake_server import json_response

Json = dict[str, Any]
Clock = Callable[[], datetime]

PAGE_ID = "448242228374517"
PAGE_NAME = "Brand"
DEMO_TOKEN = "demo-page-token"  # noqa: S105 - the fake's demo token, not a secret
FIRST_POST_NUMBER = 122131676912594941
FIRST_COMMENT_NUMBER = 1213590066982748
FIRST_USER_ID = 7123456789012345
MAX_COMMENT_CHARS = 8000
PRIVATE_REPLY_WINDOW = timedelta(days=7)
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

POST_FIELDS = frozenset(
    {
        "id", "message", "created_time", "updated_time", "permalink_url", "from", "story",
        "status_type", "is_hidden", "is_published", "full_picture", "attachments", "icon",
    }
)  # fmt: skip
# The Comment node's fields (platform-apis.md 1.1.4, facebook-python-business-sdk comment.py).
COMMENT_FIELDS = frozenset(
    {
        "admin_creator", "application", "attachment", "can_comment", "can_hide", "can_like",
        "can_remove", "can_reply_privately", "comment_count", "created_time", "from", "id",
        "is_hidden", "is_private", "like_count", "live_broadcast_timestamp", "message",
        "message_tags", "object", "parent", "permalink_url", "private_reply_conversation",
        "user_likes",
    }
)  # fmt: skip
PAGE_FIELDS = frozenset({"id", "name", "username", "link", "category", "fan_count", "about"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _unix_or_time(value: str | None, name: str) -> datetime | None:
    """`since`/`until`: a unix time or an ISO date (Graph takes anything strtotime reads)."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ParamError(name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Graph compares whole seconds, the precision of its timestamps."""
    second = moment.replace(microsecond=0)
    return (since is None or second >= since) and (until is None or second <= until)


@dataclass
class Author:
    id: str
    name: str


@dataclass
class FbPost:
    id: str
    message: str
    created: datetime
    seq: int


@dataclass
class FbComment:
    id: str
    post_id: str
    parent_id: str | None
    author: Author
    message: str
    created: datetime
    seq: int
    hidden: bool = False
    like_count: int = 0
    liked_by_page: bool = False
    private_replied: bool = False
    attachment: Json | None = None
    # Counted in a page's `limit` but never shown: how privacy filtering shortens pages.
    filtered: bool = False
    raw: Any = None
    by_api: bool = False


class FakeFacebook(GraphFake):
    """One Facebook Page with its posts and comments, seen through Page access tokens.

    Public methods take `_lock`; API views run with it held (see PlatformFake).
    """

    platform_name = "Facebook"
    usage_type = "pages"
    throttle_code = 80001

    def __init__(
        self,
        tokens: Iterable[str] = (DEMO_TOKEN,),
        *,
        page_id: str = PAGE_ID,
        page_name: str = PAGE_NAME,
        clock: Clock = _utcnow,
        rate_limit: int = 4800,
    ) -> None:
        super().__init__(
            tokens,
            business_id=page_id,
            clock=clock,
            rate_limit=rate_limit,
            admin_routes=FacebookAdmin(self).routes(),
        )
        self.page = Author(page_id, page_name)
        self._posts: dict[str, FbPost] = {}
        self._comments: dict[str, FbComment] = {}
        self._users: dict[str, Author] = {}
        self._actions: list[Json] = []
        self._seq = itertools.count(1).__next__
        self._post_numbers = itertools.count(FIRST_POST_NUMBER)
        self._comment_numbers = itertools.count(FIRST_COMMENT_NUMBER)
        self._user_ids = itertools.count(FIRST_USER_ID)

    # Python API: tests, the demo and /__admin/.

    def add_post(self, message: str, *, created_at: datetime | None = None) -> Json:
        """The Page publishes a post; returns it with all its fields."""
        with self._lock:
            post_id = f"{self.page.id}_{next(self._post_numbers)}"
            created = created_at or self._clock()
            self._posts[post_id] = FbPost(post_id, message, created, self._seq())
            return self._post_full(post_id)

    def add_comment(
        self,
        post_id: str,
        text: str,
        *,
        author_name: str = "Jane Doe",
        author_id: str | None = None,
        parent_id: str | None = None,
        attachment: Json | None = None,
        hidden: bool = False,
        filtered: bool = False,
        created_at: datetime | None = None,
    ) -> Json:
        """Someone comments on a post (or replies to `parent_id`); returns the comment."""
        with self._lock:
            author = self._user(author_name, author_id)
            comment = self._new_comment(
                post_id, parent_id, author, text, created_at=created_at, attachment=attachment
            )
            comment.hidden, comment.filtered = hidden, filtered
            return self._comment_full(comment)

    def add_page_comment(self, target_id: str, text: str) -> Json:
        """The Page itself comments, directly on Facebook (not through this API's caller)."""
        with self._lock:
            post_id, parent_id = self._post_and_parent(target_id)
            comment = self._new_comment(post_id, parent_id, self.page, text)
            return self._comment_full(comment)

    def add_raw_comment(self, post_id: str, payload: Any, *, parent_id: str | None = None) -> Any:
        """Serve any JSON value as a comment of `post_id` (tests inject malformed items so)."""
        with self._lock:
            if post_id not in self._posts:
                raise KeyError(post_id)
            comment = self._new_comment(post_id, parent_id, Author("0", "?"), "")
            comment.raw = copy.deepcopy(payload)
            if isinstance(payload, dict) and isinstance(payload.get("id"), str) and payload["id"]:
                del self._comments[comment.id]
                comment.id = payload["id"]
                self._comments[comment.id] = comment
            return copy.deepcopy(comment.raw)

    def edit_comment(self, comment_id: str, text: str) -> None:
        """The author edits their comment on Facebook."""
        with self._lock:
            self._comments[comment_id].message = text

    def delete_comment(self, comment_id: str) -> None:
        """The author (or Facebook) removes a comment, and with it its replies."""
        with self._lock:
            self._remove(comment_id)

    def set_hidden(self, comment_id: str, hidden: bool) -> None:
        """A Page moderator hides or unhides a comment on Facebook itself."""
        with self._lock:
            self._comments[comment_id].hidden = hidden

    def comment(self, comment_id: str) -> Any:
        with self._lock:
            comment = self._comments.get(comment_id)
            return None if comment is None else self._comment_full(comment)

    def comments(self, post_id: str | None = None) -> list[Any]:
        """Every comment (or those of one post), oldest first, with all fields."""
        with self._lock:
            return [
                self._comment_full(c)
                for c in self._ordered_comments()
                if post_id is None or c.post_id == post_id
            ]

    def posts(self) -> list[Json]:
        """The Page's posts, newest first."""
        with self._lock:
            return [self._post_full(post.id) for post in self._ordered_posts()]

    def actions(self) -> list[Json]:
        """What callers of the API did (reply, hide, delete, like, private reply), oldest first."""
        with self._lock:
            return copy.deepcopy(self._actions)

    def state(self) -> Json:
        return {"posts": self.posts(), "comments": self.comments(), "actions": self.actions()}

    # State helpers (lock held by the caller).

    def _user(self, name: str, user_id: str | None) -> Author:
        key = user_id or name
        if key not in self._users:
            self._users[key] = Author(user_id or str(next(self._user_ids)), name)
        return self._users[key]

    def _post_and_parent(self, target_id: str) -> tuple[str, str | None]:
        if target_id in self._posts:
            return target_id, None
        target = self._comments[target_id]
        return target.post_id, target.parent_id or target.id

    def _new_comment(
        self,
        post_id: str,
        parent_id: str | None,
        author: Author,
        text: str,
        *,
        created_at: datetime | None = None,
        attachment: Json | None = None,
    ) -> FbComment:
        if post_id not in self._posts:
            raise KeyError(post_id)
        if parent_id is not None:
            parent = self._comments[parent_id]
            # Facebook shows two levels: an answer to a reply joins the top-level comment.
            parent_id = parent.parent_id or parent.id
        number = next(self._comment_numbers)
        post_number = post_id.split("_")[-1]
        comment = FbComment(
            id=f"{post_number}_{number}",
            post_id=post_id,
            parent_id=parent_id,
            author=author,
            message=text,
            created=created_at or self._clock(),
            seq=self._seq(),
            attachment=copy.deepcopy(attachment),
        )
        self._comments[comment.id] = comment
        return comment

    def _remove(self, comment_id: str) -> None:
        self._comments.pop(comment_id)
        for reply in [c for c in self._comments.values() if c.parent_id == comment_id]:
            self._comments.pop(reply.id)

    def _ordered_posts(self) -> list[FbPost]:
        return sorted(self._posts.values(), key=lambda p: (p.created, p.seq), reverse=True)

    def _ordered_comments(self) -> list[FbComment]:
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

    def _post_permalink(self, post_id: str) -> str:
        return f"https://www.facebook.com/{self.page.id}/posts/{post_id.split('_')[-1]}/"

    def _post_view(self, post: FbPost) -> NodeView:
        return NodeView(
            "Post",
            {
                "id": post.id,
                "message": post.message,
                "created_time": graph_time(post.created),
                "updated_time": graph_time(post.created),
                "permalink_url": self._post_permalink(post.id),
                "full_picture": f"https://scontent.xx.fbcdn.net/v/t39.30808-6/{post.id}_n.jpg",
                "from": {"id": self.page.id, "name": self.page.name},
                "status_type": "mobile_status_update",
                "is_hidden": False,
                "is_published": True,
            },
            POST_FIELDS,
            ("created_time", "message", "id"),
        )

    def _post_full(self, post_id: str) -> Json:
        return self._post_view(self._posts[post_id]).select([FieldSpec(n) for n in POST_FIELDS])

    def _comment_view(self, comment: FbComment, call: GraphCall | None = None) -> NodeView:
        if comment.raw is not None:
            return NodeView("Comment", {}, COMMENT_FIELDS, (), raw=comment.raw)
        number = comment.id.split("_")[-1]
        permalink = self._post_permalink(comment.post_id)
        parent = self._comments.get(comment.parent_id or "")
        if parent is None:
            permalink += f"?comment_id={number}"
        else:
            permalink += f"?comment_id={parent.id.split('_')[-1]}&reply_comment_id={number}"
        own = comment.author.id == self.page.id
        fresh = self._clock() - comment.created <= PRIVATE_REPLY_WINDOW
        fields: Json = {
            "id": comment.id,
            "message": comment.message,
            "created_time": graph_time(comment.created),
            "from": {"id": comment.author.id, "name": comment.author.name},
            "is_hidden": comment.hidden,
            "is_private": False,
            "can_hide": not own,
            "can_remove": True,
            "can_like": True,
            "can_comment": parent is None,
            "can_reply_privately": not own and fresh and not comment.private_replied,
            "comment_count": sum(1 for c in self._comments.values() if c.parent_id == comment.id),
            "like_count": comment.like_count,
            "user_likes": comment.liked_by_page,
            "permalink_url": permalink,
            "message_tags": [],
            "attachment": copy.deepcopy(comment.attachment),
        }
        if parent is not None:
            fields["parent"] = {
                "created_time": graph_time(parent.created),
                "from": {"id": parent.author.id, "name": parent.author.name},
                "message": parent.message,
                "id": parent.id,
            }
        edges: dict[str, Callable[[FieldSpec], Json]] = {}
        if call is not None:
            edges["comments"] = lambda spec: self._nested_replies(call, comment, spec)
        return NodeView(
            "Comment", fields, COMMENT_FIELDS, ("created_time", "from", "message", "id"), edges
        )

    def _comment_full(self, comment: FbComment) -> Any:
        view = self._comment_view(comment)
        full = view.select([FieldSpec(name) for name in sorted(COMMENT_FIELDS)])
        return full if comment.raw is not None else full | {"filtered": comment.filtered}

    # The Graph API (lock held).

    def route(self, call: GraphCall) -> Response:
        node = self.page.id if call.node == "me" else call.node
        if node == self.page.id:
            return self._page_route(call)
        if node in self._posts:
            return self._post_route(call, self._posts[node])
        if node in self._comments:
            return self._comment_route(call, self._comments[node])
        return unsupported_request(call.method, call.node)

    def _page_route(self, call: GraphCall) -> Response:
        if call.method == "GET" and call.edge is None:
            fields = {"id": self.page.id, "name": self.page.name, "category": "Brand"}
            view = NodeView("Page", fields, PAGE_FIELDS, ("name", "id"))
            return json_response(view.select(call.fields))
        if call.method == "GET" and call.edge in {"feed", "published_posts", "posts"}:
            return self._feed(call)
        if call.method == "POST" and call.edge == "messages":
            return self._private_reply(call)
        return unsupported_request(call.method, f"{call.node}/{call.edge}")

    def _post_route(self, call: GraphCall, post: FbPost) -> Response:
        if call.method == "GET" and call.edge is None:
            return json_response(self._post_view(post).select(call.fields))
        if call.method == "GET" and call.edge == "comments":
            stream = (call.text("filter") or "toplevel") == "stream"
            comments = [
                c
                for c in self._ordered_comments()
                if c.post_id == post.id and (stream or c.parent_id is None)
            ]
            return self._comment_list(call, comments, f"{post.id}/comments")
        if call.method == "POST" and call.edge == "comments":
            return self._create_comment(call, post.id, None)
        return unsupported_request(call.method, f"{call.node}/{call.edge}")

    def _comment_route(self, call: GraphCall, comment: FbComment) -> Response:
        if call.method == "GET" and call.edge is None:
            return json_response(self._comment_view(comment, call).select(call.fields))
        if call.method == "GET" and call.edge == "comments":
            replies = [c for c in self._ordered_comments() if c.parent_id == comment.id]
            return self._comment_list(call, replies, f"{comment.id}/comments")
        if call.method == "POST" and call.edge == "comments":
            return self._create_comment(call, comment.post_id, comment.id)
        if call.method == "POST" and call.edge is None:
            return self._update_comment(call, comment)
        if call.method == "DELETE" and call.edge is None:
            self._remove(comment.id)
            self._record("delete", comment.id, comment.message)
            return json_response({"success": True})
        if call.edge == "likes" and call.method in {"POST", "DELETE"}:
            liked = call.method == "POST"
            if comment.liked_by_page != liked:
                comment.liked_by_page = liked
                comment.like_count += 1 if liked else -1
            self._record("like" if liked else "unlike", comment.id)
            return json_response({"success": True})
        return unsupported_request(call.method, f"{call.node}/{call.edge}")

    def _feed(self, call: GraphCall) -> Response:
        """Time-based paging: `next` carries `until`, `previous` carries `since` (1.1.1)."""
        limit = call.number("limit", DEFAULT_LIMIT, MAX_LIMIT)
        since = _unix_or_time(call.text("since"), "since")
        until = _unix_or_time(call.text("until"), "until")
        posts = [p for p in self._ordered_posts() if _within(p.created, since, until)]
        token = call.text("__paging_token")
        if token:
            try:
                anchor = [p.id for p in posts].index(decode_cursor(token))
            except ValueError:
                raise ParamError("__paging_token") from None
            if call.text("__previous"):
                posts = posts[max(0, anchor - limit) : anchor]
            else:
                posts = posts[anchor + 1 :]
        page, more = posts[:limit], len(posts) > limit
        data = [self._post_view(post).select(call.fields) for post in page]
        paging: Json = {}
        kept = kept_query(call)
        path = f"{call.node}/{call.edge}"
        if page:
            first, last = page[0], page[-1]
            since_param = [("since", call.text("since") or "")] if since else []
            paging["previous"] = call.link(
                path,
                [
                    *kept,
                    ("since", str(int(first.created.timestamp()))),
                    ("__paging_token", encode_cursor(first.id)),
                    ("__previous", "1"),
                ],
            )
            if more:
                paging["next"] = call.link(
                    path,
                    [
                        *kept,
                        *since_param,
                        ("until", str(int(last.created.timestamp()))),
                        ("__paging_token", encode_cursor(last.id)),
                    ],
                )
        return json_response({"data": data, "paging": paging} if paging else {"data": data})

    def _comment_list(self, call: GraphCall, comments: list[FbComment], path: str) -> Response:
        order = call.text("order") or "chronological"
        if order not in {"chronological", "reverse_chronological", "ranked"}:
            raise ParamError("order")
        if (call.text("filter") or "toplevel") not in {"toplevel", "stream"}:
            raise ParamError("filter")
        since = _unix_or_time(call.text("since"), "since")
        until = _unix_or_time(call.text("until"), "until")
        chosen = [c for c in comments if _within(c.created, since, until)]
        if order != "chronological":
            chosen.reverse()
        by_id = {c.id: c for c in chosen}
        page = slice_ids(
            list(by_id),
            after=call.text("after"),
            before=call.text("before"),
            limit=call.number("limit", DEFAULT_LIMIT, MAX_LIMIT),
        )
        body: Json = {"data": self._render_page(call, page, by_id)}
        paging = cursor_paging(call, page, path=path, kept=kept_query(call))
        if paging:
            body["paging"] = paging
        if call.flag("summary"):
            body["summary"] = {"order": order, "total_count": len(chosen), "can_comment": True}
        return json_response(body)

    def _render_page(self, call: GraphCall, page: Page, by_id: dict[str, FbComment]) -> list[Json]:
        specs = call.fields
        return [
            self._comment_view(by_id[i], call).select(specs)
            for i in page.ids
            if not by_id[i].filtered
        ]

    def _nested_replies(self, call: GraphCall, comment: FbComment, spec: FieldSpec) -> Json:
        replies = [c for c in self._ordered_comments() if c.parent_id == comment.id]
        by_id = {c.id: c for c in replies}
        page = slice_ids(list(by_id), after=None, before=None, limit=spec.limit or DEFAULT_LIMIT)
        data = [
            self._comment_view(by_id[i]).select(spec.children)
            for i in page.ids
            if not by_id[i].filtered
        ]
        kept = [("limit", str(spec.limit or DEFAULT_LIMIT))]
        if spec.children is not None:
            kept.append(("fields", ",".join(str(child) for child in spec.children)))
        paging = cursor_paging(call, page, path=f"{comment.id}/comments", kept=kept)
        return {"data": data, "paging": paging} if paging else {"data": data}

    def _create_comment(self, call: GraphCall, post_id: str, parent_id: str | None) -> Response:
        text = call.text("message") or ""
        attachment_url = call.text("attachment_url")
        if not text.strip() and not attachment_url and not call.text("attachment_id"):
            return invalid_parameter("Missing message or attachment")
        if len(text) > MAX_COMMENT_CHARS:
            return invalid_parameter(
                f"Param message must be at most {MAX_COMMENT_CHARS} characters long"
            )
        attachment = None
        if attachment_url:
            attachment = {"type": "photo", "url": attachment_url, "media": {}}
        comment = self._new_comment(post_id, parent_id, self.page, text, attachment=attachment)
        comment.by_api = True
        self._record("reply" if parent_id else "comment", parent_id or post_id, text, comment.id)
        return json_response({"id": comment.id})

    def _update_comment(self, call: GraphCall, comment: FbComment) -> Response:
        hidden = call.flag("is_hidden")
        message = call.text("message")
        if hidden is not None:
            if comment.author.id == self.page.id:
                return invalid_parameter("A Page cannot hide its own comments")
            comment.hidden = hidden
            self._record("hide" if hidden else "unhide", comment.id)
            return json_response({"success": True})
        if message is not None:
            if comment.author.id != self.page.id:
                return graph_error(200, "(#200) Permissions error")
            comment.message = message
            self._record("edit", comment.id, message)
            return json_response({"success": True})
        return invalid_parameter("Nothing to update: pass is_hidden or message")

    def _private_reply(self, call: GraphCall) -> Response:
        recipient = json_param(call.params.get("recipient"))
        message = json_param(call.params.get("message"))
        if not isinstance(recipient, dict) or not recipient.get("comment_id"):
            # Messenger conversations (recipient.id) are not part of this fake.
            return invalid_parameter("param recipient must contain comment_id")
        if not isinstance(message, dict) or not str(message.get("text") or "").strip():
            return invalid_parameter(
                "Message cannot be empty, must provide valid attachment or text"
            )
        comment = self._comments.get(str(recipient["comment_id"]))
        if comment is None:
            return unsupported_request("post", str(recipient["comment_id"]))
        if comment.private_replied:
            return graph_error(10900, "(#10900) Activity already replied to")
        if comment.author.id == self.page.id:
            return graph_error(10903, "(#10903) This activity can't be replied to")
        if self._clock() - comment.created > PRIVATE_REPLY_WINDOW:
            # [unverified code] Meta documents the 7-day rule; the code of its error is a guess.
            return graph_error(10903, "(#10903) This activity can't be replied to")
        comment.private_replied = True
        message_id = f"m_{comment.id}_{len(self._actions)}"
        self._record("private_reply", comment.id, str(message["text"]), message_id)
        return json_response({"recipient_id": comment.author.id, "message_id": message_id})
