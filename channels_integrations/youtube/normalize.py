"""YouTube resources → normalized inbox items (platform-apis.md sections 0.1 and 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from channels_integrations.base import (
    InboundAuthor,
    InboundItem,
    ItemState,
    ReplyTarget,
    SkippedPayload,
)
from channels_integrations.errors import MalformedPayload
from channels_integrations.text import html_to_text, safe_http_url
from inbox.models import ConversationKind

WATCH_URL = "https://www.youtube.com/watch?v="

STATES = {
    "published": ItemState.VISIBLE,
    "heldForReview": ItemState.HELD,
    "likelySpam": ItemState.HELD,
    "rejected": ItemState.DELETED,
}


@dataclass
class ParsedThread:
    """One commentThread: its top-level comment and the replies it includes (a subset)."""

    id: str
    published_at: datetime
    top: InboundItem
    total_replies: int
    info: dict[str, Any]
    replies: list[InboundItem] = field(default_factory=list)
    reply_skips: list[SkippedPayload] = field(default_factory=list)
    included_replies: int = 0


def parse_thread(payload: Any, channel_id: str) -> ParsedThread:
    """A commentThread resource; MalformedPayload if the thread itself cannot be read (a broken
    reply only lands in `reply_skips`)."""
    if not isinstance(payload, dict):
        raise MalformedPayload("comment thread is not an object")
    if payload.get("kind") != "youtube#commentThread":
        raise MalformedPayload(f"unexpected resource kind {payload.get('kind')!r}")
    thread_id = payload.get("id")
    if not isinstance(thread_id, str) or not thread_id:
        raise MalformedPayload("comment thread without an id")
    snippet = payload.get("snippet")
    if not isinstance(snippet, dict):
        raise MalformedPayload("comment thread without a snippet")
    total = snippet.get("totalReplyCount", 0)
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise MalformedPayload(f"unreadable totalReplyCount {total!r}")
    thread_snippet = {k: v for k, v in snippet.items() if k != "topLevelComment"}
    info = {"id": thread_id, "snippet": thread_snippet}
    top = normalize_comment(snippet.get("topLevelComment"), thread=info, channel_id=channel_id)
    parsed = ParsedThread(
        id=thread_id, published_at=top.created_at, top=top, total_replies=total, info=info
    )
    replies = payload.get("replies")
    comments = replies.get("comments") if isinstance(replies, dict) else []
    if not isinstance(comments, list):
        comments = []
    parsed.included_replies = len(comments)
    for comment in comments:
        try:
            parsed.replies.append(normalize_comment(comment, thread=info, channel_id=channel_id))
        except MalformedPayload as exc:
            parsed.reply_skips.append(skip_payload(comment, exc))
    return parsed


def normalize_comment(comment: Any, *, thread: dict[str, Any], channel_id: str) -> InboundItem:
    """A comment resource (top-level or reply) as an inbox item of `thread`."""
    if not isinstance(comment, dict):
        raise MalformedPayload("comment is not an object")
    if comment.get("kind") != "youtube#comment":
        raise MalformedPayload(f"unexpected resource kind {comment.get('kind')!r}")
    comment_id = comment.get("id")
    if not isinstance(comment_id, str) or not comment_id:
        raise MalformedPayload("comment without an id")
    snippet = comment.get("snippet")
    if not isinstance(snippet, dict):
        raise MalformedPayload("comment without a snippet")
    author_channel = snippet.get("authorChannelId")
    author_id = author_channel.get("value") if isinstance(author_channel, dict) else None
    if not isinstance(author_id, str) or not author_id:
        raise MalformedPayload("comment without an author channel id")
    original, display = snippet.get("textOriginal"), snippet.get("textDisplay")
    # textOriginal is the author's own text; textDisplay may be HTML (textFormat=html).
    if isinstance(original, str):
        text = original
    elif isinstance(display, str):
        text = html_to_text(display)
    else:
        raise MalformedPayload("comment without text")
    created_at = parse_timestamp(snippet.get("publishedAt"), "publishedAt")
    updated_at = created_at
    if snippet.get("updatedAt") is not None:
        updated_at = parse_timestamp(snippet.get("updatedAt"), "updatedAt")
    status = snippet.get("moderationStatus", "published")
    if status not in STATES:
        raise MalformedPayload(f"unknown moderationStatus {status!r}")
    parent_id = snippet.get("parentId")
    if parent_id is not None and not isinstance(parent_id, str):
        raise MalformedPayload("parentId is not a string")
    thread_snippet = as_dict(thread.get("snippet"))
    video_id = as_text(snippet.get("videoId")) or as_text(thread_snippet.get("videoId"))
    name = as_text(snippet.get("authorDisplayName"))
    profile_url = safe_http_url(snippet.get("authorChannelUrl"))
    return InboundItem(
        external_id=comment_id,
        thread_key=as_text(thread.get("id")) or comment_id,
        kind=ConversationKind.COMMENT,
        author=InboundAuthor(
            external_id=author_id,
            handle=handle_from(name, profile_url),
            display_name=name,
            avatar_url=safe_http_url(snippet.get("authorProfileImageUrl")),
            profile_url=profile_url,
        ),
        text=text,
        created_at=created_at,
        parent_external_id=parent_id or "",
        permalink=comment_url(video_id, comment_id),
        post_external_id=video_id,
        post_permalink=video_url(video_id),
        post_media_url=f"https://i.ytimg.com/vi/{quote(video_id, safe='')}/hqdefault.jpg"
        if video_id
        else "",
        state=STATES[status],
        edited_at=updated_at if updated_at > created_at else None,
        from_self=bool(channel_id) and author_id == channel_id,
        raw={"comment": comment, "thread": thread},
    )


def top_level_id(target: ReplyTarget) -> str:
    """The thread's top-level comment id: YouTube takes replies to top-level comments only."""
    info = thread_info(target.raw)
    for candidate in (target.thread_key, info.get("id"), target.parent_external_id):
        if isinstance(candidate, str) and candidate:
            return candidate
    comment = target.raw.get("comment") if isinstance(target.raw, dict) else None
    snippet = comment.get("snippet") if isinstance(comment, dict) else None
    if isinstance(snippet, dict) and isinstance(snippet.get("parentId"), str):
        return str(snippet["parentId"])
    # Reply ids are "<top-level id>.<suffix>".
    return target.external_id.split(".", 1)[0]


def skip_payload(payload: Any, exc: MalformedPayload) -> SkippedPayload:
    external_id = payload.get("id") if isinstance(payload, dict) else None
    return SkippedPayload(
        external_id=external_id if isinstance(external_id, str) else "",
        reason=exc.message,
        payload=payload,
    )


def parse_timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedPayload(f"{name} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"unreadable {name} {value!r}") from None
    if moment.tzinfo is None:
        raise MalformedPayload(f"{name} without a time zone")
    return moment.astimezone(UTC)


def maybe_timestamp(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value, "cursor time")
    except MalformedPayload:
        return None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def video_url(video_id: str) -> str:
    return f"{WATCH_URL}{quote(video_id, safe='')}" if video_id else ""


def comment_url(video_id: str, comment_id: str) -> str:
    if not video_id:
        return ""
    return f"{video_url(video_id)}&lc={quote(comment_id, safe='.')}"


def handle_from(display_name: str, profile_url: str) -> str:
    """The @handle without its "@": from the display name (YouTube shows handles there now),
    else from a channel URL of the form …/@handle."""
    if display_name.startswith("@") and len(display_name) > 1:
        return display_name[1:]
    last = urlsplit(profile_url).path.rstrip("/").rsplit("/", 1)[-1] if profile_url else ""
    return last[1:] if last.startswith("@") else ""


def thread_info(raw: Any) -> dict[str, Any]:
    thread = raw.get("thread") if isinstance(raw, dict) else None
    snippet = thread.get("snippet") if isinstance(thread, dict) else None
    info: dict[str, Any] = dict(snippet) if isinstance(snippet, dict) else {}
    if isinstance(thread, dict) and isinstance(thread.get("id"), str):
        info["id"] = thread["id"]
    return info
