"""One poll of a YouTube channel: the published listing back to the high-water mark, the
held-for-review queue, and a re-check of the newest known threads (see connector.py for the
cursor's format)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from channels_integrations.base import InboundItem, ItemState, ItemUpdate, SkippedPayload
from channels_integrations.errors import (
    InvalidRequest,
    MalformedPayload,
    NotFound,
    PermissionDenied,
)
from channels_integrations.youtube.normalize import (
    STATES,
    ParsedThread,
    as_dict,
    as_text,
    iso,
    maybe_timestamp,
    normalize_comment,
    parse_thread,
    skip_payload,
)

if TYPE_CHECKING:
    from datetime import datetime

    from channels_integrations.youtube.client import YouTubeClient

# Bounds that keep the cursor small and a poll's cost predictable.
TRACKED_THREADS = 150
RECHECK_BATCH = 50  # commentThreads?id= takes up to 50 ids for 1 unit
SEEN_CAP = 200
HELD_CAP = 100
EDIT_IDS_CAP = 50
MAX_REPLY_PAGES = 5  # comments?parentId pages per thread and call (100 replies each)
MAX_HELD_PAGES = 3


@dataclass
class _Tracked:
    replies: int
    state: str  # "p" published, "h" held for review
    published: int  # epoch seconds


class ChannelPoll:
    """The work of one fetch_page: reads the cursor, collects items and updates, writes the
    next cursor. Every emitted id is emitted once per page."""

    def __init__(self, client: YouTubeClient, channel_id: str, cursor: dict[str, Any]) -> None:
        self.client = client
        self.channel_id = channel_id
        self.hwm = maybe_timestamp(cursor.get("hwm"))
        self.seen = set(_str_list(cursor.get("seen")))
        self.threads = _load_threads(cursor.get("threads"))
        self.held = set(_str_list(cursor.get("held")))
        edits = cursor.get("edits")
        self.edit_mark, self.edit_ids = 0, set[str]()
        if isinstance(edits, list) and len(edits) == 2 and isinstance(edits[0], int):
            self.edit_mark, self.edit_ids = edits[0], set(_str_list(edits[1]))
        self.new_edit_mark, self.new_edit_ids = self.edit_mark, set(self.edit_ids)
        scan = as_dict(cursor.get("scan"))
        self.scan_token: str | None = as_text(scan.get("token")) or None
        self.scan_newest = maybe_timestamp(scan.get("newest"))
        self.scan_ids = set(_str_list(scan.get("ids")))
        self.items: list[InboundItem] = []
        self.updates: list[ItemUpdate] = []
        self.skipped: list[SkippedPayload] = []
        self._emitted: set[str] = set()
        self._updated: set[str] = set()
        self._visited: set[str] = set()  # threads whose state this call has seen

    # Steps.

    def scan_page(self) -> bool:
        """One page of the published listing, newest first; True when the scan reached the
        high-water mark (or the end), which commits the new mark."""
        first_poll = self.hwm is None and self.scan_token is None
        data = self.client.comment_threads(channel_id=self.channel_id, page_token=self.scan_token)
        reached = False
        for payload in data.get("items", []):
            thread = self._parse(payload)
            if thread is None:
                continue
            self._visited.add(thread.id)
            newer = self._newer_than_mark(thread)
            if newer:
                self._note_scan_newest(thread)
            else:
                reached = True
            if thread.id in self.threads:
                self._known_thread(thread, fetch_replies=True)
            elif newer or self._in_tracked_window(thread):
                # In the window: a thread we never saw (approved from the queue, restored).
                self._new_thread(thread, fetch_replies=True)
        next_token = as_text(data.get("nextPageToken")) or None
        if not (first_poll or reached or next_token is None):
            self.scan_token = next_token
            return False
        if self.scan_newest is not None:
            if self.hwm is not None and self.scan_newest == self.hwm:
                self.seen |= self.scan_ids
            elif self.hwm is None or self.scan_newest > self.hwm:
                self.hwm, self.seen = self.scan_newest, set(self.scan_ids)
        self.scan_token, self.scan_newest, self.scan_ids = None, None, set()
        return True

    def check_held(self) -> None:
        """The held-for-review queue (owner only): held threads and replies come in as "held";
        replies that left the queue are looked up once to tell approval from removal."""
        held_now: set[str] = set()
        page_token: str | None = None
        for _ in range(MAX_HELD_PAGES):
            data = self.client.comment_threads(
                channel_id=self.channel_id,
                page_token=page_token,
                moderation_status="heldForReview",
            )
            for payload in data.get("items", []):
                thread = self._parse(payload)
                if thread is None:
                    continue
                if thread.top.state == ItemState.HELD:
                    self._visited.add(thread.id)
                    if thread.id in self.threads:
                        self._known_thread(thread, fetch_replies=False)
                    else:
                        self._new_thread(thread, fetch_replies=False)
                for reply in thread.replies:
                    if reply.state == ItemState.HELD:
                        held_now.add(reply.external_id)
                        if reply.external_id not in self.held:
                            self._emit(reply)
            page_token = as_text(data.get("nextPageToken")) or None
            if page_token is None:
                break
        left = sorted(self.held - held_now)[:RECHECK_BATCH]
        if left:
            found = self.client.comments_by_id(left)
            states = {}
            for comment in found.get("items", []):
                if isinstance(comment, dict) and isinstance(comment.get("id"), str):
                    snippet = comment.get("snippet")
                    status = snippet.get("moderationStatus") if isinstance(snippet, dict) else None
                    states[comment["id"]] = STATES.get(str(status), ItemState.VISIBLE)
            for comment_id in left:
                state = states.get(comment_id, ItemState.DELETED)
                if state == ItemState.HELD:
                    held_now.add(comment_id)
                else:
                    self._update(ItemUpdate(external_id=comment_id, state=state))
        self.held = held_now

    def recheck_threads(self) -> None:
        """Known threads this poll did not see: new replies, state changes, removal."""
        unseen = [tid for tid in self._tracked_newest_first() if tid not in self._visited]
        batch = unseen[:RECHECK_BATCH]
        if not batch:
            return
        data = self.client.comment_threads_by_id(batch)
        returned: set[str] = set()
        for payload in data.get("items", []):
            if isinstance(payload, dict) and isinstance(payload.get("id"), str):
                returned.add(payload["id"])
            thread = self._parse(payload)
            if thread is not None and thread.id in self.threads:
                self._visited.add(thread.id)
                self._known_thread(thread, fetch_replies=True)
        for thread_id in batch:
            if thread_id not in returned:
                # Deleted by its author or rejected (by us or in YouTube Studio).
                self._update(ItemUpdate(external_id=thread_id, state=ItemState.DELETED))
                self.threads.pop(thread_id, None)

    def add_video_titles(self) -> None:
        """post_text for the items of this page: the video titles, one call for all of them."""
        video_ids = sorted({item.post_external_id for item in self.items if item.post_external_id})
        if not video_ids:
            return
        try:
            data = self.client.videos(video_ids[:50])
        except (NotFound, PermissionDenied, InvalidRequest):
            return  # titles are a convenience; the comments matter
        titles: dict[str, str] = {}
        for video in data.get("items", []):
            snippet = video.get("snippet") if isinstance(video, dict) else None
            if isinstance(snippet, dict) and isinstance(snippet.get("title"), str):
                titles[str(video.get("id"))] = snippet["title"]
        self.items = [
            dataclasses.replace(item, post_text=titles[item.post_external_id])
            if item.post_external_id in titles
            else item
            for item in self.items
        ]

    def cursor(self, *, scanning: bool) -> dict[str, Any]:
        cursor: dict[str, Any] = {}
        if self.hwm is not None:
            cursor["hwm"] = iso(self.hwm)
            cursor["seen"] = sorted(self.seen)[:SEEN_CAP]
        newest = self._tracked_newest_first()[:TRACKED_THREADS]
        if newest:
            tracked = [(tid, self.threads[tid]) for tid in newest]
            cursor["threads"] = {tid: [t.replies, t.state, t.published] for tid, t in tracked}
        if self.held:
            cursor["held"] = sorted(self.held)[:HELD_CAP]
        if self.new_edit_mark:
            cursor["edits"] = [self.new_edit_mark, sorted(self.new_edit_ids)[:EDIT_IDS_CAP]]
        if scanning and self.scan_token:
            scan: dict[str, Any] = {"token": self.scan_token, "ids": sorted(self.scan_ids)}
            if self.scan_newest is not None:
                scan["newest"] = iso(self.scan_newest)
            cursor["scan"] = scan
        return cursor

    # Threads.

    def _new_thread(self, thread: ParsedThread, *, fetch_replies: bool) -> None:
        self._emit(thread.top)
        for reply in self._replies(thread, fetch=fetch_replies):
            self._emit(reply)
        self.threads[thread.id] = _Tracked(
            thread.total_replies, _state_code(thread.top.state), _epoch(thread.published_at)
        )

    def _known_thread(self, thread: ParsedThread, *, fetch_replies: bool) -> None:
        tracked = self.threads[thread.id]
        code = _state_code(thread.top.state)
        if code != tracked.state:
            self._update(ItemUpdate(external_id=thread.id, state=thread.top.state))
            tracked.state = code
        self._note_edit(thread.top, known=True)
        if fetch_replies and thread.total_replies != tracked.replies:
            for reply in self._replies(thread, fetch=True):
                self._emit(reply)
            tracked.replies = thread.total_replies
        else:
            for reply in thread.replies:
                self._note_edit(reply, known=True)

    def _replies(self, thread: ParsedThread, *, fetch: bool) -> list[InboundItem]:
        """All replies when the thread includes only some of them (comments?parentId)."""
        self.skipped.extend(thread.reply_skips)
        if not fetch or thread.total_replies <= thread.included_replies:
            return thread.replies
        replies: list[InboundItem] = []
        page_token: str | None = None
        for _ in range(MAX_REPLY_PAGES):
            data = self.client.replies(parent_id=thread.id, page_token=page_token)
            for comment in data.get("items", []):
                try:
                    replies.append(
                        normalize_comment(comment, thread=thread.info, channel_id=self.channel_id)
                    )
                except MalformedPayload as exc:
                    self.skipped.append(skip_payload(comment, exc))
            page_token = as_text(data.get("nextPageToken")) or None
            if page_token is None:
                break
        return replies

    def _parse(self, payload: Any) -> ParsedThread | None:
        try:
            return parse_thread(payload, self.channel_id)
        except MalformedPayload as exc:
            self.skipped.append(skip_payload(payload, exc))
            return None

    def _newer_than_mark(self, thread: ParsedThread) -> bool:
        if self.hwm is None:
            return True
        if thread.published_at != self.hwm:
            return thread.published_at > self.hwm
        return thread.id not in self.seen

    def _note_scan_newest(self, thread: ParsedThread) -> None:
        if self.scan_newest is None or thread.published_at > self.scan_newest:
            self.scan_newest, self.scan_ids = thread.published_at, {thread.id}
        elif thread.published_at == self.scan_newest:
            self.scan_ids.add(thread.id)

    def _in_tracked_window(self, thread: ParsedThread) -> bool:
        # Every thread emitted at or after the oldest tracked one is tracked.
        if not self.threads:
            return False
        return _epoch(thread.published_at) >= min(t.published for t in self.threads.values())

    def _tracked_newest_first(self) -> list[str]:
        return sorted(self.threads, key=lambda tid: (-self.threads[tid].published, tid))

    # Output.

    def _emit(self, item: InboundItem) -> None:
        if item.external_id in self._emitted:
            return
        self._emitted.add(item.external_id)
        self._note_edit(item, known=False)
        self.items.append(item)

    def _update(self, update: ItemUpdate) -> None:
        if update.external_id not in self._updated:
            self._updated.add(update.external_id)
            self.updates.append(update)

    def _note_edit(self, item: InboundItem, *, known: bool) -> None:
        """An edit newer than the last one reported brings a known item again (with the new
        text and edited_at); every edit seen moves the mark."""
        if item.edited_at is None:
            return
        at = _epoch(item.edited_at)
        is_new_edit = at > self.edit_mark or (
            at == self.edit_mark and item.external_id not in self.edit_ids
        )
        if at > self.new_edit_mark:
            self.new_edit_mark, self.new_edit_ids = at, {item.external_id}
        elif at == self.new_edit_mark:
            self.new_edit_ids.add(item.external_id)
        if known and is_new_edit:
            self._emit(item)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _state_code(state: str) -> str:
    return "h" if state == ItemState.HELD else "p"


def _load_threads(value: Any) -> dict[str, _Tracked]:
    threads: dict[str, _Tracked] = {}
    if not isinstance(value, dict):
        return threads
    for thread_id, entry in value.items():
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], int)
            and entry[1] in {"p", "h"}
            and isinstance(entry[2], int)
        ):
            threads[str(thread_id)] = _Tracked(entry[0], entry[1], entry[2])
    return threads


def _str_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
