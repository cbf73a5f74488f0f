"""A conversation as one list row: every value the row shows, computed once in Python.

The list renders 50 rows per page and every live event renders one; Django's template engine
spends most of a page resolving dotted lookups and formatting dates. The row template therefore
reads flat, ready values from a ConversationRow (one lookup each) instead of walking models and
calling display methods and date filters itself (bench/inbox.py measures the difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import pgettext_lazy

from channels_integrations.models import Platform
from inbox.models import Conversation, ConversationKind, ConversationStatus, Priority, Sentiment
from inbox.queries import micros

_CLOSED = {ConversationStatus.RESOLVED, ConversationStatus.IGNORED}
# Labels by value, looked up once per row instead of through get_FOO_display().
_STATUS = dict(ConversationStatus.choices)
_PRIORITY = dict(Priority.choices)
_KIND = dict(ConversationKind.choices)
_SENTIMENT = dict(Sentiment.choices)
_PLATFORM = dict(Platform.choices)


@dataclass(frozen=True)
class Moment:
    """A time as the row shows it: ISO for the browser, exact for the tooltip, short inline."""

    iso: str
    exact: str | Promise
    short: str | Promise


# Written when the row is rendered, in the language active then (a live row is rendered once
# per language in use): each language's own order and month names.
def _date_in_language(value: datetime, format_name: str | Promise) -> str:
    return formats.date_format(value, str(format_name))


_formatted = lazy(_date_in_language, str)


def moment(value: datetime) -> Moment:
    local = timezone.localtime(value)
    return Moment(
        iso=local.isoformat(),
        exact=_formatted(local, pgettext_lazy("date and time format", "j M Y, H:i")),
        short=_formatted(local, pgettext_lazy("short date and time format", "j M, H:i")),
    )


@dataclass(frozen=True)
class ConversationRow:
    id: int
    url: str
    version: str
    status: str
    status_label: str
    priority: int
    priority_label: str
    platform: str
    platform_label: str
    channel_name: str
    kind: str
    kind_label: str
    author: str
    preview: str
    outbound_last: bool
    when: Moment
    tags: tuple[str, ...]
    sentiment: str
    sentiment_label: str
    sla: Moment | None
    sla_overdue: bool
    # Four-eyes: a reply waits for a lead; advice was asked of a colleague outside the inbox.
    awaiting_approval: bool
    awaiting_internal: bool
    assignee_name: str
    assignee_initials: str
    sort_newest: str
    sort_waiting: str
    sort_sla: str


def initials(name: str) -> str:
    """Two letters for an avatar chip: of the first and last name, or the first two."""
    parts = name.strip().split()
    if len(parts) >= 2:
        return (parts[0][0] + parts[-1][0]).upper()
    return name.strip()[:2].upper()


def row_for(
    conversation: Conversation, *, now: datetime | None = None, url_prefix: str = ""
) -> ConversationRow:
    """The row of a conversation read with select_related("channel_account", "contact",
    "assignee") and prefetch_related("tags") (inbox.queries.conversations_for_list)."""
    now = now or timezone.now()
    url_prefix = url_prefix or conversation_url_prefix()
    contact = conversation.contact
    channel = conversation.channel_account
    assignee = conversation.assignee
    assignee_name = ""
    if assignee is not None:
        assignee_name = assignee.get_full_name() or assignee.get_username()
    sla = conversation.sla_due_at if conversation.status not in _CLOSED else None
    updated = conversation.updated_at
    return ConversationRow(
        id=conversation.pk,
        url=f"{url_prefix}{conversation.pk}/",
        version=f"{int(updated.timestamp())}.{updated.microsecond:06d}",
        status=conversation.status,
        status_label=str(_STATUS.get(conversation.status, conversation.status)),
        priority=conversation.priority,
        priority_label=str(_PRIORITY.get(conversation.priority, conversation.priority)),
        platform=channel.platform,
        platform_label=str(_PLATFORM.get(channel.platform, channel.platform)),
        channel_name=channel.name,
        kind=conversation.kind,
        kind_label=str(_KIND.get(conversation.kind, conversation.kind)),
        author=(contact.display_name or contact.handle) if contact else "",
        preview=conversation.last_message_preview,
        outbound_last=conversation.last_message_direction == "outbound",
        when=moment(conversation.last_message_at),
        tags=tuple(tag.name for tag in conversation.tags.all()),
        sentiment=conversation.sentiment,
        sentiment_label=str(_SENTIMENT.get(conversation.sentiment, "")),
        sla=moment(sla) if sla else None,
        sla_overdue=bool(sla and sla <= now),
        awaiting_approval=conversation.awaiting_approval,
        awaiting_internal=conversation.awaiting_internal_since is not None,
        assignee_name=assignee_name,
        assignee_initials=initials(assignee_name) if assignee_name else "",
        sort_newest=str(micros(conversation.last_message_at)),
        sort_waiting=str(micros(conversation.waiting_since)) if conversation.waiting_since else "",
        sort_sla=str(micros(conversation.sla_due_at)) if conversation.sla_due_at else "",
    )


def conversation_url_prefix() -> str:
    """The conversation URL without its id ("/inbox/c/"), reversed once, not once a row."""
    return reverse("inbox:conversation", args=[0]).removesuffix("0/")


def rows_for(conversations: list[Conversation]) -> list[ConversationRow]:
    now = timezone.now()
    prefix = conversation_url_prefix()
    return [row_for(c, now=now, url_prefix=prefix) for c in conversations]
