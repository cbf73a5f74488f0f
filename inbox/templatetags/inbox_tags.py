"""Template helpers for the conversation view and its live fragments (which render alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from channels_integrations.text import safe_http_url
from inbox.actions import CAPABILITY_FOR, unavailable_reason
from inbox.models import (
    ConversationEvent,
    ConversationStatus,
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
    label: str | Promise
    # Asked before it is sent: destructive and irreversible actions.
    confirm: str | Promise = ""


_LABELS: dict[str, tuple[str | Promise, str | Promise]] = {
    OutboundKind.LIKE: (pgettext_lazy("action on an item", "Like"), ""),
    OutboundKind.HIDE: (gettext_lazy("Hide"), ""),
    OutboundKind.UNHIDE: (gettext_lazy("Unhide"), ""),
    OutboundKind.DELETE: (
        gettext_lazy("Delete"),
        gettext_lazy("Delete this item on the platform? This cannot be undone there."),
    ),
    OutboundKind.BAN: (
        gettext_lazy("Remove and ban author"),
        gettext_lazy("Remove this item and ban its author on the platform?"),
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


# A thread shows this much of a message; the whole text is one link away (inbox:message_text).
# Platforms allow a few thousand characters; e-mails and pasted letters can be megabytes, which
# would make every open of the conversation (and every live update of it) ship all of it.
THREAD_TEXT_LIMIT = 10_000


@register.filter
def thread_text(text: str) -> str:
    """The part of a message's text a thread shows."""
    return text if len(text) <= THREAD_TEXT_LIMIT else text[:THREAD_TEXT_LIMIT] + "…"


@register.filter
def is_cut_in_thread(text: str) -> bool:
    return len(text) > THREAD_TEXT_LIMIT


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
    rules = ", ".join(str(name) for name in data.get("rules", [])) or _("a rule")
    parts = []
    if data.get("department_name"):
        parts.append(_("department %(name)s") % {"name": data["department_name"]})
    if data.get("assignee_name"):
        parts.append(_("assignee %(name)s") % {"name": data["assignee_name"]})
    if data.get("priority") is not None:
        labels: dict[Any, str | Promise] = dict(Priority.choices)
        priority = labels.get(data["priority"], data["priority"])
        parts.append(_("priority %(priority)s") % {"priority": priority})
    if data.get("tags"):
        tags = ", ".join(str(tag) for tag in data["tags"])
        parts.append(_("tags %(tags)s") % {"tags": tags})
    if parts:
        text = _("Routed by %(rules)s: %(changes)s") % {
            "rules": rules,
            "changes": "; ".join(parts),
        }
    else:
        text = _("Routed by %(rules)s") % {"rules": rules}
    for skipped in data.get("skipped", []):
        text += " " + _("(skipped: %(reason)s)") % {"reason": skipped}
    return text


def _moderated_summary(data: dict[str, Any]) -> str:
    from moderation.models import DecisionAction

    action = str(data.get("action", ""))
    label = str(DecisionAction(action).label) if action in DecisionAction.values else action
    if data.get("automatic"):
        text = _("Moderation: %(action)s automatically") % {"action": label}
    else:
        text = _("Moderation: %(action)s") % {"action": label}
    if data.get("rule"):
        text += " " + _("(rule: %(rule)s)") % {"rule": data["rule"]}
    return text


def _status_label(value: Any) -> str:
    # Lower case inside the sentence ("Status open → pending", "Status offen → wartend").
    labels: dict[Any, str | Promise] = dict(ConversationStatus.choices)
    return str(labels.get(value, value if value is not None else "?")).lower()


@register.simple_tag
def event_summary(event: ConversationEvent) -> str:
    """One line for the timeline: what happened (the actor and time are shown beside it)."""
    data = event.data or {}
    kind = event.kind
    if kind == EventKind.STATUS_CHANGED:
        text = _("Status %(before)s → %(after)s") % {
            "before": _status_label(data.get("before")),
            "after": _status_label(data.get("after")),
        }
        if data.get("snoozed_until"):
            until = str(data["snoozed_until"])[:16].replace("T", " ")
            text += " " + _("until %(time)s") % {"time": until}
        if data.get("reason"):
            text += f" ({data['reason']})"
        return text
    if kind == EventKind.ASSIGNED:
        who = data.get("assignee_name") or _("nobody")
        if data.get("department_name"):
            text = _("Assigned to %(name)s, department %(department)s") % {
                "name": who,
                "department": data["department_name"],
            }
        else:
            text = _("Assigned to %(name)s") % {"name": who}
        if data.get("reason"):
            text += f" ({data['reason']})"
        return text
    if kind == EventKind.ROUTED:
        return _routed_summary(data)
    if kind == EventKind.PRIORITY_CHANGED:
        labels: dict[Any, str | Promise] = dict(Priority.choices)
        return _("Priority %(before)s → %(after)s") % {
            "before": labels.get(data.get("before"), "?"),
            "after": labels.get(data.get("after"), "?"),
        }
    if kind == EventKind.TAGS_CHANGED:
        parts = []
        if data.get("added"):
            parts.append(_("added %(tags)s") % {"tags": ", ".join(data["added"])})
        if data.get("removed"):
            parts.append(_("removed %(tags)s") % {"tags": ", ".join(data["removed"])})
        return _("Tags: %(changes)s") % {"changes": "; ".join(parts)}
    if kind == EventKind.REPLY_APPROVED:
        return _("Reply approved with changes") if data.get("edited") else _("Reply approved")
    if kind == EventKind.REPLY_REJECTED:
        return _("Reply rejected: %(note)s") % {"note": data.get("note", "")}
    if kind == EventKind.CONSULT_REQUESTED:
        return _("Advice requested from %(expert)s") % {"expert": data.get("expert", "?")}
    if kind == EventKind.CONSULT_ANSWERED:
        return _("Advice received from %(expert)s") % {"expert": data.get("expert", "?")}
    if kind == EventKind.CONSULT_WITHDRAWN:
        return _("Advice request to %(expert)s withdrawn") % {"expert": data.get("expert", "?")}
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
        (OutboundKind.REPLY, _("Reply")),
        (OutboundKind.PRIVATE_REPLY, _("Private reply")),
    ):
        if not unavailable_reason(message, kind):
            offers.append(OfferedAction(kind, label))
    return offers


@register.filter
def safe_url(value: str | None) -> str:
    """The URL if it is plain http(s), else "": stored platform URLs are never trusted in hrefs
    (ingest checks them too; this holds for rows written any other way)."""
    return safe_http_url(value or "")
