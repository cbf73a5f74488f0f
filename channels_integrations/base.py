"""The connector interface: what every platform sub-package provides, in the same shape.

A connector turns one channel account's platform API into normalized items (`fetch_page`) and
carries out outbound actions (`reply`, later hide/delete/like). It raises only the errors of
`channels_integrations.errors`; it never touches the database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.translation import gettext

from channels_integrations.http import PlatformSession

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


class Capability(enum.StrEnum):
    REPLY = "reply"
    PRIVATE_REPLY = "private_reply"
    HIDE = "hide"
    UNHIDE = "unhide"
    DELETE = "delete"
    LIKE = "like"
    BAN = "ban"


@dataclass(frozen=True)
class InboundAuthor:
    external_id: str
    handle: str = ""
    display_name: str = ""
    avatar_url: str = ""
    profile_url: str = ""


class ItemState(enum.StrEnum):
    """An item's state on the platform (the same values as inbox.models.PlatformState)."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    DELETED = "deleted"
    HELD = "held"


@dataclass(frozen=True)
class InboundItem:
    """One platform item, normalized (see reference/platform-apis.md, section 0.1)."""

    external_id: str
    # Items with the same thread_key belong to one conversation, unless the item answers a known
    # message, in which case it joins that message's conversation.
    thread_key: str
    kind: str
    author: InboundAuthor
    text: str
    created_at: datetime
    parent_external_id: str = ""
    permalink: str = ""
    language: str = ""
    # The post a comment thread hangs under: all conversations of one post are grouped by it.
    post_external_id: str = ""
    post_text: str = ""
    post_permalink: str = ""
    # A picture of the post (its image or video thumbnail), for the "media preview" link.
    post_media_url: str = ""
    # As the platform reports it now; a known item seen again with another state is updated.
    state: str = ItemState.VISIBLE
    # Set when the platform says the author edited the text after posting.
    edited_at: datetime | None = None
    # Written by the connected account itself (our page, our bot, our mailbox): an agent's reply
    # seen again by polling, or something posted directly on the platform.
    from_self: bool = False
    # [{"name": ..., "url": ..., "type": ...}] with http(s) URLs only.
    attachments: tuple[dict[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemUpdate:
    """The platform reports a change to an item we may already have (edited, deleted, hidden)."""

    external_id: str
    state: str | None = None
    text: str | None = None
    edited_at: datetime | None = None


@dataclass(frozen=True)
class SkippedPayload:
    external_id: str
    reason: str
    payload: Any


@dataclass(frozen=True)
class FetchedPage:
    items: list[InboundItem]
    cursor: dict[str, Any]
    # True when the platform has nothing newer than this page.
    caught_up: bool
    skipped: list[SkippedPayload] = field(default_factory=list)
    updates: list[ItemUpdate] = field(default_factory=list)


@dataclass(frozen=True)
class ReplyTarget:
    """What a connector needs to know about the message an action is about."""

    external_id: str
    author_handle: str
    raw: dict[str, Any]
    author_external_id: str = ""
    thread_key: str = ""
    parent_external_id: str = ""
    # "inbound" (someone wrote it) or "outbound" (we did): platforms treat deleting our own
    # items differently from removing other people's.
    direction: str = "inbound"
    state: str = ItemState.VISIBLE
    sent_at: datetime | None = None
    text: str = ""


# The same thing under the name the non-reply actions use.
ActionTarget = ReplyTarget


@dataclass(frozen=True)
class SentItem:
    external_id: str
    permalink: str = ""


@dataclass(frozen=True)
class ConnectionSettings:
    """What a connector gets from its channel account: settings and decrypted credentials."""

    settings: dict[str, Any]
    credentials: dict[str, Any]
    # Quota units this channel spent today (platforms with a daily quota, e.g. YouTube).
    quota_used_today: int = 0


@dataclass(frozen=True)
class SetupField:
    """One field of the channel setup form. Credentials are write-only: never shown back."""

    name: str
    # Lazy translations (setup_fields are class attributes, read in each request's language).
    label: StrOrPromise
    secret: bool = False
    required: bool = True
    help_text: StrOrPromise = ""
    initial: str = ""
    # "text", "url", "int", "email" (secrets are always password inputs)
    input_type: str = "text"
    # A choice among these values (a select), when given.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionCheck:
    """One line of a "test connection" report: what works and what is missing."""

    name: str
    ok: bool
    detail: str = ""


class CannotReconcile(Exception):
    """The platform offers no way to tell whether an earlier attempt got through."""


class Connector:
    platform: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    # The longest reply text the platform accepts, for the composer's counter and validation.
    max_reply_length: ClassVar[int]
    # The platform deduplicates replies by our idempotency key within this window (Mastodon: 1 h);
    # None when it has no such key.
    idempotency_window: ClassVar[timedelta | None] = None
    # Daily quota in units (YouTube); None when the platform has none.
    daily_quota: ClassVar[int | None] = None
    # Fields the channel setup form asks for: settings first, then secrets (credentials).
    setup_fields: ClassVar[tuple[SetupField, ...]] = ()
    # Shown on the setup page: how this platform's history backfill behaves. Marked with
    # gettext_noop and translated where it is shown (backfill_note_text).
    backfill_note: ClassVar[str] = ""

    def __init__(self, connection: ConnectionSettings, session: PlatformSession) -> None:
        self.connection = connection
        self.session = session
        # Quota units spent by the calls of this instance; the poll and the outbox record them.
        self.units_spent = 0
        # Set when the connector refreshed its token (OAuth refresh): the poll and the outbox
        # store these credentials (encrypted) after the call.
        self.updated_credentials: dict[str, Any] | None = None

    def contact_scope(self) -> str:
        """The id space of this platform's user ids for this account (see Contact.scope)."""
        return ""

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        """The cursor of a new channel: the newest items only, or history back to the date."""
        return {}

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        raise NotImplementedError

    @classmethod
    def quota_day(cls, now: datetime) -> date:
        """The platform's calendar day for its daily quota (YouTube's resets at midnight PT)."""
        return now.date()

    def next_poll_delay(self, interval_seconds: int) -> int:
        """Seconds until the next poll after a successful one (quota-aware platforms slow down)."""
        return interval_seconds

    def test_connection(self) -> list[ConnectionCheck]:
        """Real calls that show what works (token, account, permissions) and what is missing."""
        raise NotImplementedError

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        """Why this action cannot be done on this item ("" when it can): the platform's own
        rules beyond the capability list (a reply to a reply, a delete after 48 hours)."""
        if capability not in cls.capabilities:
            return gettext("The platform does not support this.")
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        raise NotImplementedError

    def private_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        raise NotImplementedError

    def set_hidden(self, *, target: ReplyTarget, hidden: bool) -> None:
        raise NotImplementedError

    def delete(self, *, target: ReplyTarget) -> None:
        raise NotImplementedError

    def like(self, *, target: ReplyTarget) -> None:
        raise NotImplementedError

    def ban(self, *, target: ReplyTarget) -> None:
        """Remove the item and ban its author from the account (YouTube's banAuthor)."""
        raise NotImplementedError

    def find_sent_reply(
        self, *, target: ReplyTarget, text: str, not_before: datetime
    ) -> SentItem | None:
        """After an ambiguous failure: our reply to `target` if the platform has it, else None.

        Raises CannotReconcile when the platform cannot tell; the action then fails with "may
        have been posted" rather than being posted blindly a second time.
        """
        raise CannotReconcile(f"{self.platform} cannot look up earlier replies")
