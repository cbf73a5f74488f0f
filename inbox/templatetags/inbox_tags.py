"""Template helpers for the conversation view and its live fragments (which render alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from channels_integrations.text import safe_http_url
from inbox.actions import CAPABILITY_FOR, unavailable_reason
from inbox.models import (
    ConversationEvent,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Priority,
)

register = template.Library()


@dataclass(frozen=True)
class OfferedAction:
    kind: str
    label: str
    # Asked before it is sent: destructive and irreversible actions.
    confirm: str = ""


_LABELS = {
    OutboundKind.LIKE: ("Like", ""),
    OutboundKind.HIDE: ("Hide", ""),
    OutboundKind.UNHIDE: ("Unhide", ""),
    OutboundKind.DELETE: (
        "Delete",
        "Delete this item on the platform? This cannot be undone there.",
    ),
    OutboundKind.BAN: (
        "Remove and ban author",
        "Remove this item and ban its author on the platform?",
    ),
}


@register.simple_tag
def message_actions(message: Message) -> list[OfferedAction]:
    """The actions this item offers: only what its platform supports and allows on it now."""
    if not message.external_id:
        return []
    offered = []
    for kind, (label, confirm) in _LABELS.items():
        if kind == OutboundKind.HIDE and message.platform_state != "visible":
            continue
        if kind == OutboundKind.UNHIDE and message.platform_state not in {"hidden", "held"}:
            continue
        # Moderating and liking are about other people's items; our own can only be deleted.
        if kind != OutboundKind.DELETE and message.direction != Direction.INBOUND:
            continue
        if kind == OutboundKind.DELETE and message.platform_state == "deleted":
            continue
        if kind in CAPABILITY_FOR and not unavailable_reason(message, kind):
            offered.append(OfferedAction(kind, label, confirm))
    return offered


@register.simple_tag
def pending_actions(message: Message) -> list[OutboundAction]:
    """Hide/delete/like actions on this item that are on their way or failed (newest first)."""
    return [
        action
        for action in message.actions_on.all()
        if action.kind not in {OutboundKind.REPLY, OutboundKind.PRIVATE_REPLY}
        and action.state in {OutboundState.QUEUED, OutboundState.SENDING, OutboundState.FAILED}
    ]


@register.filter
def is_past(value: datetime | None) -> bool:
    return value is not None and value <= timezone.now()


@register.filter
def initials(user: Any) -> str:
    """The avatar chip's letters of a user (the same as the list rows')."""
    from inbox.rows import initials as of_name

    return of_name(user.get_full_name() or user.get_username())


@register.filter
def depth_class(level: int) -> str:
    return f"depth-{min(int(level), 4)}"


def _routed_summary(data: dict[str, Any]) -> str:
    rules = ", ".join(str(name) for name in data.get("rules", [])) or "a rule"
    parts = []
    for key in ("department", "assignee"):
        if data.get(f"{key}_name"):
            parts.append(f"{key} {data[f'{key}_name']}")
    if data.get("priority") is not None:
        labels: dict[Any, str] = dict(Priority.choices)
        parts.append(f"priority {labels.get(data['priority'], data['priority'])}")
    if data.get("tags"):
        parts.append("tags " + ", ".join(str(tag) for tag in data["tags"]))
    text = f"Routed by {rules}" + (": " + "; ".join(parts) if parts else "")
    for skipped in data.get("skipped", []):
        text += f" (skipped: {skipped})"
    return text


def _moderated_summary(data: dict[str, Any]) -> str:
    from moderation.models import DecisionAction

    action = str(data.get("action", ""))
    label = str(DecisionAction(action).label) if action in DecisionAction.values else action
    text = f"Moderation: {label}" + (" automatically" if data.get("automatic") else "")
    if data.get("rule"):
        text += f" (rule: {data['rule']})"
    return text


@register.simple_tag
def event_summary(event: ConversationEvent) -> str:
    """One line for the timeline: what happened (the actor and time are shown beside it)."""
    data = event.data or {}
    kind = event.kind
    if kind == EventKind.STATUS_CHANGED:
        text = f"Status {data.get('before', '?')} → {data.get('after', '?')}"
        if data.get("snoozed_until"):
            text += f" until {str(data['snoozed_until'])[:16].replace('T', ' ')}"
        if data.get("reason"):
            text += f" ({data['reason']})"
        return text
    if kind == EventKind.ASSIGNED:
        who = data.get("assignee_name") or "nobody"
        text = f"Assigned to {who}"
        if data.get("department_name"):
            text += f", department {data['department_name']}"
        if data.get("reason"):
            text += f" ({data['reason']})"
        return text
    if kind == EventKind.ROUTED:
        return _routed_summary(data)
    if kind == EventKind.PRIORITY_CHANGED:
        labels: dict[Any, str] = dict(Priority.choices)
        return (
            f"Priority {labels.get(data.get('before'), '?')} → {labels.get(data.get('after'), '?')}"
        )
    if kind == EventKind.TAGS_CHANGED:
        parts = []
        if data.get("added"):
            parts.append("added " + ", ".join(data["added"]))
        if data.get("removed"):
            parts.append("removed " + ", ".join(data["removed"]))
        return "Tags: " + "; ".join(parts)
    if kind == EventKind.REPLY_APPROVED:
        return "Reply approved with changes" if data.get("edited") else "Reply approved"
    if kind == EventKind.REPLY_REJECTED:
        return f"Reply rejected: {data.get('note', '')}"
    if kind == EventKind.CONSULT_REQUESTED:
        return f"Advice requested from {data.get('expert', '?')}"
    if kind == EventKind.CONSULT_ANSWERED:
        return f"Advice received from {data.get('expert', '?')}"
    if kind == EventKind.CONSULT_WITHDRAWN:
        return f"Advice request to {data.get('expert', '?')} withdrawn"
    if kind == EventKind.MODERATED:
        return _moderated_summary(data)
    label = str(EventKind(kind).label) if kind in EventKind.values else kind
    if data.get("kind"):
        label += f" ({data['kind']})"
    if data.get("error"):
        label += f": {data['error']}"
    return label


@register.simple_tag
def reply_offers(message: Message) -> list[OfferedAction]:
    """Reply and private reply to this item, where its platform supports them on it."""
    if message.direction != Direction.INBOUND or not message.external_id:
        return []
    offers = []
    for kind, label in (
        (OutboundKind.REPLY, "Reply"),
        (OutboundKind.PRIVATE_REPLY, "Private reply"),
    ):
        if not unavailable_reason(message, kind):
            offers.append(OfferedAction(kind, label))
    return offers


@register.filter
def safe_url(value: str | None) -> str:
    """The URL if it is plain http(s), else "": stored platform URLs are never trusted in hrefs
    (ingest checks them too; this holds for rows written any other way)."""
    return safe_http_url(value or "")
