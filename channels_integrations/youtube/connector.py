"""YouTube: comments on the channel's videos in; replies and moderation out.

YouTube has no "since" filter and no webhooks for comments, so a poll pages
`commentThreads?allThreadsRelatedToChannelId=…&order=time` from the newest thread back to the
high-water mark, then lists the held-for-review queue and re-checks the newest known threads
(new replies on an old thread do not bring it back to the top, and removals show only as a
thread that is gone). Every call costs quota (list 1 unit, write 50), counted in `units_spent`.

Cursor (JSON, bounded in size):
  hwm      newest top-level publishedAt taken in ("2026-03-22T18:20:04Z"); absent until the
           first poll, which takes the newest page only
  seen     ids of threads published in the hwm second (timestamps have whole seconds)
  threads  {thread id: [published replies seen, "p" | "h", publishedAt epoch]} for the newest
           TRACKED_THREADS threads: to notice new replies, hiding, approval and removal
  held     ids of held-for-review replies already reported
  edits    [epoch, [ids]]: the newest edit (updatedAt) reported, and the ids edited in it
  scan     {"token", "newest", "ids"} only while paging back through a backlog
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from channels_integrations.base import (
    ActionTarget,
    CannotReconcile,
    Capability,
    ConnectionCheck,
    Connector,
    FetchedPage,
    ItemState,
    ReplyTarget,
    SentItem,
    SetupField,
)
from channels_integrations.errors import ConnectorError, InvalidRequest, RateLimited
from channels_integrations.text import html_to_text
from channels_integrations.youtube.client import (
    QUOTA_TIME_ZONE,
    WRITE_COST,
    PageTokenRejected,
    YouTubeClient,
    next_quota_reset,
    seconds_until,
    utcnow,
)
from channels_integrations.youtube.normalize import (
    as_dict,
    as_text,
    comment_url,
    iso,
    maybe_timestamp,
    thread_info,
    top_level_id,
)
from channels_integrations.youtube.poll import MAX_REPLY_PAGES, ChannelPoll

DEFAULT_BASE_URL = "https://www.googleapis.com/youtube/v3"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)

# Quota pacing: polling may use this share of the daily quota; the rest stays for replies and
# moderation by the agents, who must not find the channel mute in the evening.
POLL_SHARE = 0.8
# Inside the reserve a poll still runs this often, so new comments keep arriving.
RESERVE_POLL_SECONDS = 3600
# The fewest units one poll costs (threads listing and held queue).
MIN_UNITS_PER_POLL = 2


class YouTubeConnector(Connector):
    platform = "youtube"
    # No like: the API's comment methods are list, insert, update, delete and setModerationStatus.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.REPLY, Capability.HIDE, Capability.UNHIDE, Capability.DELETE, Capability.BAN}
    )
    max_reply_length = 10_000
    daily_quota: ClassVar[int | None] = 10_000
    setup_fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "channel_id",
            gettext_lazy("Channel id"),
            help_text=gettext_lazy(
                "The UC… id of the channel whose video comments this inbox answers "
                "(YouTube Studio → Settings → Channel → Advanced settings)."
            ),
        ),
        SetupField(
            "base_url",
            gettext_lazy("API base URL"),
            initial=DEFAULT_BASE_URL,
            input_type="url",
            help_text=gettext_lazy("Change only to point the channel at a test server."),
        ),
        SetupField(
            "token_url",
            gettext_lazy("OAuth token URL"),
            initial=DEFAULT_TOKEN_URL,
            input_type="url",
            help_text=gettext_lazy("Where the access token is renewed with the refresh token."),
        ),
        SetupField(
            "daily_quota",
            gettext_lazy("Daily quota (units)"),
            required=False,
            initial="10000",
            input_type="int",
            help_text=gettext_lazy("The Google Cloud project's YouTube Data API quota per day."),
        ),
        SetupField(
            "access_token",
            gettext_lazy("Access token"),
            secret=True,
            help_text=gettext_lazy(
                "OAuth token with the youtube.force-ssl scope, issued to the channel owner."
            ),
        ),
        SetupField(
            "refresh_token",
            gettext_lazy("Refresh token"),
            secret=True,
            required=False,
            help_text=gettext_lazy(
                "Without it the channel needs re-authorization when the access token "
                "expires (after about an hour)."
            ),
        ),
        SetupField("client_id", gettext_lazy("OAuth client id"), secret=True, required=False),
        SetupField(
            "client_secret", gettext_lazy("OAuth client secret"), secret=True, required=False
        ),
    )
    backfill_note = gettext_noop(
        "YouTube has no date filter: history is read page by page (100 comment threads per "
        "quota unit) from the newest comment back to the chosen date, as far back as the "
        "channel's comments go. Threads with many replies cost one more unit per 100 replies."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Replaceable in tests: quota pacing depends on the time left until midnight Pacific.
        self.clock: Callable[[], datetime] = utcnow
        self._client: YouTubeClient | None = None

    # Settings.

    @property
    def channel_id(self) -> str:
        return str(self.connection.settings.get("channel_id") or "")

    @property
    def quota(self) -> int:
        """The daily quota in units: the channel's setting, else the class default."""
        value = self.connection.settings.get("daily_quota")
        try:
            quota = int(value) if value not in (None, "") else 0
        except (TypeError, ValueError):
            quota = 0
        return quota if quota > 0 else int(self.daily_quota or 10_000)

    @property
    def quota_used(self) -> int:
        """Units spent today: the ledger before this instance plus what this instance spent."""
        return self.connection.quota_used_today + self.units_spent

    @property
    def client(self) -> YouTubeClient:
        if self._client is None:
            settings = self.connection.settings
            self._client = YouTubeClient(
                base_url=str(settings.get("base_url") or DEFAULT_BASE_URL),
                token_url=str(settings.get("token_url") or DEFAULT_TOKEN_URL),
                credentials=dict(self.connection.credentials),
                session=self.session,
                spend=self._spend,
                refreshed=self._store_credentials,
                clock=lambda: self.clock(),
            )
        return self._client

    def _spend(self, units: int) -> None:
        self.units_spent += units

    def _store_credentials(self, credentials: dict[str, Any]) -> None:
        self.updated_credentials = credentials

    def _ensure_quota(self, units: int) -> None:
        """RateLimited until midnight Pacific, without calling, when the ledger is spent."""
        if self.quota_used + units > self.quota:
            raise RateLimited(
                f"YouTube's daily API quota for this channel is used up ({self.quota_used} of "
                f"{self.quota} units); it resets at midnight Pacific time.",
                retry_at=next_quota_reset(self.clock()),
            )

    # Polling.

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        if backfill_since is None:
            return {}
        # The backfill date acts as the high-water mark: the first poll pages back to it.
        return {"hwm": iso(backfill_since), "seen": []}

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        """One page of the published listing (plus the replies its new threads need); the page
        that reaches the high-water mark also reads the review queue and re-checks known
        threads, and is the caught-up one. Raises RateLimited without calling when the ledger
        says the quota is spent; a broken thread or reply becomes a SkippedPayload."""
        self._ensure_quota(1)
        poll = ChannelPoll(self.client, self.channel_id, cursor)
        try:
            finished = poll.scan_page()
        except PageTokenRejected:
            # The kept pageToken expired; page again from the newest thread (seen ids dedupe).
            return FetchedPage(items=[], cursor=poll.cursor(scanning=False), caught_up=False)
        if finished:
            poll.check_held()
            poll.recheck_threads()
        poll.add_video_titles()
        return FetchedPage(
            items=poll.items,
            cursor=poll.cursor(scanning=not finished),
            caught_up=finished,
            skipped=poll.skipped,
            updates=poll.updates,
        )

    @classmethod
    def quota_day(cls, now: datetime) -> date:
        """YouTube's quota day runs from midnight to midnight Pacific time."""
        return now.astimezone(QUOTA_TIME_ZONE).date()

    def next_poll_delay(self, interval_seconds: int) -> int:
        """Spread the poll budget (POLL_SHARE of the quota) over the time left until the quota
        resets at midnight Pacific; inside the reserve poll hourly; when spent, wait for the
        reset. The cost of the poll just made is the estimate for the next ones."""
        now = self.clock()
        until_reset = max(1, seconds_until(next_quota_reset(now), now))
        used, quota = self.quota_used, self.quota
        if used >= quota:
            return max(interval_seconds, until_reset)
        poll_budget = int(quota * POLL_SHARE) - used
        per_poll = max(self.units_spent, MIN_UNITS_PER_POLL)
        polls_left = poll_budget // per_poll
        if polls_left <= 0:
            return max(interval_seconds, min(RESERVE_POLL_SECONDS, until_reset))
        return max(interval_seconds, math.ceil(until_reset / polls_left))

    def test_connection(self) -> list[ConnectionCheck]:
        checks: list[ConnectionCheck] = []
        if not self.channel_id.startswith("UC"):
            checks.append(
                ConnectionCheck(
                    gettext("Channel id"),
                    False,
                    gettext("Enter the channel's id; it starts with UC."),
                )
            )
            return checks
        if not self.connection.credentials.get("access_token"):
            checks.append(
                ConnectionCheck(gettext("Access token"), False, gettext("No access token is set."))
            )
            return checks
        used, quota = self.quota_used, self.quota
        checks.append(
            ConnectionCheck(
                gettext("Daily quota"),
                used < quota,
                gettext(
                    "%(used)s of %(quota)s units used today; the quota resets at midnight "
                    "Pacific time."
                )
                % {"used": used, "quota": quota},
            )
        )
        if used >= quota:
            return checks

        try:
            channels = self.client.my_channels()
        except ConnectorError as exc:
            checks.append(ConnectionCheck(gettext("Access token"), False, exc.message))
            return checks
        owned = [item.get("id") for item in channels.get("items", []) if isinstance(item, dict)]
        if self.channel_id in owned:
            title = _channel_title(channels, self.channel_id)
            checks.append(
                ConnectionCheck(
                    gettext("Access token"),
                    True,
                    gettext("The token belongs to “%(title)s”.") % {"title": title},
                )
            )
        else:
            checks.append(
                ConnectionCheck(
                    gettext("Access token"),
                    False,
                    gettext(
                        "The token works but belongs to %(owned)s, not %(channel)s: YouTube lets "
                        "only the channel owner moderate."
                    )
                    % {
                        "owned": ", ".join(map(str, owned)) or gettext("no channel"),
                        "channel": self.channel_id,
                    },
                )
            )

        try:
            self.client.comment_threads(channel_id=self.channel_id, max_results=1, part="id")
            checks.append(
                ConnectionCheck(
                    gettext("Read comments"), True, gettext("Comment threads can be read.")
                )
            )
        except ConnectorError as exc:
            checks.append(ConnectionCheck(gettext("Read comments"), False, exc.message))
        try:
            self.client.comment_threads(
                channel_id=self.channel_id,
                max_results=1,
                part="id",
                moderation_status="heldForReview",
            )
            checks.append(
                ConnectionCheck(
                    gettext("Held for review"), True, gettext("The review queue can be read.")
                )
            )
        except ConnectorError as exc:
            checks.append(ConnectionCheck(gettext("Held for review"), False, exc.message))

        renewable = all(
            self.connection.credentials.get(name)
            for name in ("refresh_token", "client_id", "client_secret")
        )
        checks.append(
            ConnectionCheck(
                gettext("Token renewal"),
                renewable,
                gettext("The access token is renewed automatically.")
                if renewable
                else gettext(
                    "No refresh token, client id and secret: the channel needs "
                    "re-authorization when the access token expires."
                ),
            )
        )
        return checks

    # Actions.

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        removed = target.state == ItemState.DELETED
        if capability == Capability.REPLY:
            if removed:
                return gettext("The comment was removed on YouTube; it can no longer be answered.")
            if thread_info(target.raw).get("canReply") is False:
                return gettext("YouTube does not allow replies in this thread.")
        if capability in {Capability.HIDE, Capability.UNHIDE} and removed:
            return gettext("YouTube cannot restore a rejected comment.")
        if capability == Capability.DELETE and removed:
            return gettext("The comment is already removed on YouTube.")
        if capability == Capability.BAN and _is_ours(target, thread_info(target.raw)):
            return gettext("The channel cannot ban itself.")
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        # YouTube has no idempotency key; find_sent_reply reconciles after a timeout.
        self._refuse_unavailable(Capability.REPLY, target)
        self._ensure_quota(WRITE_COST)
        created = self.client.insert_reply(parent_id=top_level_id(target), text=text)
        snippet = as_dict(created.get("snippet"))
        return SentItem(
            external_id=created["id"],
            permalink=comment_url(as_text(snippet.get("videoId")), created["id"]),
        )

    def set_hidden(self, *, target: ActionTarget, hidden: bool) -> None:
        capability = Capability.HIDE if hidden else Capability.UNHIDE
        self._refuse_unavailable(capability, target)
        self._ensure_quota(WRITE_COST)
        self.client.set_moderation_status(
            target.external_id,
            "heldForReview" if hidden else "published",
            what="to hide the comment" if hidden else "to publish the comment again",
        )

    def delete(self, *, target: ActionTarget) -> None:
        """Our own comments are deleted; other people's are rejected, which hides them and
        their replies for good (only the author can delete a comment on YouTube)."""
        self._refuse_unavailable(Capability.DELETE, target)
        self._ensure_quota(WRITE_COST)
        if _is_ours(target, self.channel_id):
            self.client.delete_comment(target.external_id)
        else:
            self.client.set_moderation_status(
                target.external_id, "rejected", what="to remove the comment"
            )

    def ban(self, *, target: ActionTarget) -> None:
        """Reject the comment and ban its author from the channel's comments."""
        self._refuse_unavailable(Capability.BAN, target)
        self._ensure_quota(WRITE_COST)
        self.client.set_moderation_status(
            target.external_id, "rejected", ban_author=True, what="to ban the author"
        )

    def find_sent_reply(
        self, *, target: ReplyTarget, text: str, not_before: datetime
    ) -> SentItem | None:
        parent_id = top_level_id(target)
        wanted = _same_text(text)
        page_token: str | None = None
        for _ in range(MAX_REPLY_PAGES * 2):
            self._ensure_quota(1)
            data = self.client.replies(parent_id=parent_id, page_token=page_token)
            for comment in data.get("items", []):
                found = _our_reply(comment, self.channel_id, wanted, not_before)
                if found is not None:
                    return found
            page_token = as_text(data.get("nextPageToken")) or None
            if page_token is None:
                return None
        raise CannotReconcile(
            "The thread has too many replies to check whether the earlier reply got through."
        )

    def _refuse_unavailable(self, capability: Capability, target: ReplyTarget) -> None:
        reason = self.unavailable_reason(capability, target)
        if reason:
            raise InvalidRequest(reason, permanent=True)


# Helpers.


def _is_ours(target: ReplyTarget, channel: dict[str, Any] | str) -> bool:
    """Written by the connected channel: sent from the inbox, or by the channel elsewhere."""
    if target.direction == "outbound":
        return True
    channel_id = channel if isinstance(channel, str) else as_text(channel.get("channelId"))
    if not channel_id:
        return False
    if target.author_external_id:
        return target.author_external_id == channel_id
    comment = target.raw.get("comment") if isinstance(target.raw, dict) else None
    snippet = comment.get("snippet") if isinstance(comment, dict) else None
    author = snippet.get("authorChannelId") if isinstance(snippet, dict) else None
    return isinstance(author, dict) and author.get("value") == channel_id


def _same_text(text: str) -> str:
    # YouTube may normalize line endings and trailing space; compare the words.
    return " ".join(text.split())


def _our_reply(comment: Any, channel_id: str, wanted: str, not_before: datetime) -> SentItem | None:
    if not isinstance(comment, dict) or not isinstance(comment.get("id"), str):
        return None
    snippet = comment.get("snippet")
    if not isinstance(snippet, dict):
        return None
    author = snippet.get("authorChannelId")
    if not isinstance(author, dict) or author.get("value") != channel_id:
        return None
    original = snippet.get("textOriginal")
    display = snippet.get("textDisplay")
    text = original if isinstance(original, str) else html_to_text(as_text(display))
    if _same_text(text) != wanted:
        return None
    published = maybe_timestamp(snippet.get("publishedAt"))
    # A second of slack: YouTube's timestamps drop the fraction of the second we recorded.
    if published is None or published.timestamp() < int(not_before.timestamp()):
        return None
    return SentItem(
        external_id=comment["id"],
        permalink=comment_url(as_text(snippet.get("videoId")), comment["id"]),
    )


def _channel_title(channels: dict[str, Any], channel_id: str) -> str:
    for item in channels.get("items", []):
        if isinstance(item, dict) and item.get("id") == channel_id:
            snippet = item.get("snippet")
            if isinstance(snippet, dict) and isinstance(snippet.get("title"), str):
                return str(snippet["title"])
    return channel_id
