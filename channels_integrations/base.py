"""The connector interface: what every platform sub-package provides, in the same shape.

A connector turns one channel account's platform API into normalized items (`fetch_page`) and
carries out outbound actions (`reply`, later hide/delete/like). It raises only the errors of
`channels_integrations.errors`; it never touches the database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from channels_integrations.http import PlatformSession


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
    post_text: str = ""
    post_permalink: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


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


@dataclass(frozen=True)
class ReplyTarget:
    """What a connector needs to know about the message being answered."""

    external_id: str
    author_handle: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class SentItem:
    external_id: str
    permalink: str = ""


@dataclass(frozen=True)
class ConnectionSettings:
    """What a connector gets from its channel account: settings and decrypted credentials."""

    settings: dict[str, Any]
    credentials: dict[str, Any]


class Connector:
    platform: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    # The longest reply text the platform accepts, for the composer's counter and validation.
    max_reply_length: ClassVar[int]

    def __init__(self, connection: ConnectionSettings, session: PlatformSession) -> None:
        self.connection = connection
        self.session = session

    def contact_scope(self) -> str:
        """The id space of this platform's user ids for this account (see Contact.scope)."""
        return ""

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        raise NotImplementedError

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        raise NotImplementedError
