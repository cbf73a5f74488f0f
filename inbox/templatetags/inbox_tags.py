"""Template helpers for the conversation view and its live fragments (which render alike)."""

from __future__ import annotations

from dataclasses import dataclass

from django import template

from inbox.actions import CAPABILITY_FOR, unavailable_reason
from inbox.models import Direction, Message, OutboundAction, OutboundKind, OutboundState

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
