"""Which rows of the event tables are webhook events, and the JSON each one is delivered as.

Every payload has the same envelope (docs/webhooks.md):

    {"id": "<uuid, = X-Inbox-Delivery>", "event": "message.received",
     "created_at": "<when it happened, ISO 8601>", "data": {...}}

`data` holds ids and the facts an integrator needs without calling back: the conversation
summary (channel, platform, status, priority, assignee, department, contact), the message text
and author for message events, the decision for moderation, the levels for incidents. The
event's own facts come from the event row (what happened then); the conversation summary is
read when the relay runs, a few seconds later. Payloads are built for many rows at once, with a
fixed number of queries per batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from channels_integrations.text import safe_http_url
from inbox.administration_rows import person_name
from inbox.models import (
    Conversation,
    ConversationEvent,
    Department,
    EventKind,
    Message,
    OutboundAction,
    Priority,
)
from inbox.models.integrations import WebhookEvent
from moderation.incidents import incident_url
from moderation.models import Incident, IncidentEvent, IncidentEventKind, ModerationDecision

# Timeline kinds that are webhook events. A reply found on the platform by a poll (reconciled)
# is as much "sent" as one the platform confirmed.
CONVERSATION_EVENTS: dict[str, str] = {
    EventKind.CONVERSATION_CREATED: WebhookEvent.CONVERSATION_CREATED,
    EventKind.MESSAGE_RECEIVED: WebhookEvent.MESSAGE_RECEIVED,
    EventKind.REPLY_SENT: WebhookEvent.REPLY_SENT,
    EventKind.REPLY_RECONCILED: WebhookEvent.REPLY_SENT,
    EventKind.ASSIGNED: WebhookEvent.CONVERSATION_ASSIGNED,
    EventKind.MODERATED: WebhookEvent.MODERATION_ACTION,
}

# Incident timeline kinds that move the level: opened (none to n), raised, lowered, resolved
# (n to none). Storm mode, leads, notes and notifications are not level changes.
INCIDENT_CHANGES: dict[str, str] = {
    IncidentEventKind.OPENED: "opened",
    IncidentEventKind.LEVEL_RAISED: "raised",
    IncidentEventKind.LEVEL_LOWERED: "lowered",
    IncidentEventKind.RESOLVED: "resolved",
}
INCIDENT_EVENTS: dict[str, str] = {
    kind: WebhookEvent.INCIDENT_LEVEL_CHANGED for kind in INCIDENT_CHANGES
}

TEST_EVENT = "ping"


def envelope(*, event_id: uuid.UUID, event: str, created_at: datetime, data: Any) -> dict[str, Any]:
    """The stable outer shape of every payload."""
    return {
        "id": str(event_id),
        "event": event,
        "created_at": _iso(created_at),
        "data": data,
    }


def test_payload_data(*, subscription_id: int, name: str) -> dict[str, Any]:
    return {
        "subscription": {"id": subscription_id, "name": name},
        "message": "This is a test event sent from the inbox.",
    }


@dataclass(frozen=True)
class Built:
    """One event row, as the relay inserts it for each subscription that wants it."""

    event: str
    created_at: datetime
    data: dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _absolute(path: str) -> str:
    return str(settings.SITE_URL).rstrip("/") + path


def _user(user: Any | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": person_name(user)}


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    """What an integrator needs to know about a conversation to route or file it."""
    channel = conversation.channel_account
    contact = conversation.contact
    department = conversation.department
    return {
        "id": conversation.pk,
        "url": _absolute(reverse("inbox:conversation", args=[conversation.pk])),
        "kind": conversation.kind,
        "status": conversation.status,
        "priority": Priority(conversation.priority).name.lower(),
        "channel": {"id": channel.pk, "name": channel.name, "platform": channel.platform},
        "contact": (
            {
                "id": contact.pk,
                "name": contact.display_name,
                "handle": contact.handle,
                "profile_url": safe_http_url(contact.profile_url) or None,
            }
            if contact is not None
            else None
        ),
        "assignee": _user(conversation.assignee),
        "department": (
            {"id": department.pk, "name": department.name} if department is not None else None
        ),
        "post_permalink": safe_http_url(conversation.post_permalink) or None,
        "created_at": _iso(conversation.created_at),
        "last_message_at": _iso(conversation.last_message_at),
    }


def _message(message: Message) -> dict[str, Any]:
    if message.contact is not None:
        author: dict[str, Any] | None = {
            "type": "contact",
            "id": message.contact.pk,
            "name": message.contact.display_name,
            "handle": message.contact.handle,
        }
    elif message.author is not None:
        author = {"type": "agent", **(_user(message.author) or {})}
    else:
        author = None
    return {
        "id": message.pk,
        "external_id": message.external_id,
        "direction": message.direction,
        "text": message.text,
        "language": message.language or None,
        "author": author,
        "sent_at": _iso(message.sent_at),
        "permalink": safe_http_url(message.permalink) or None,
        "attachments": len(message.attachments or []),
    }


def _decision(decision: ModerationDecision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "action": decision.action,
        "automatic": decision.automatic,
        "rule": decision.rule_name or None,
        "reason": decision.reason or None,
        "guideline": decision.guideline or None,
        "actor": (
            {"id": decision.actor_id, "name": decision.actor_name}
            if decision.actor_id is not None
            else None
        ),
        "message": {
            "id": decision.message_id,
            "external_id": decision.external_id or None,
            "text": decision.text,
            "author": {"name": decision.author_name, "handle": decision.author_handle},
            "sent_at": _iso(decision.sent_at),
            "permalink": safe_http_url(decision.permalink) or None,
        },
    }


def _assignment(
    values: dict[str, Any], users: dict[int, Any], departments: dict[int, Department]
) -> dict[str, Any]:
    department = departments.get(values.get("department") or 0)
    return {
        "assignee": _user(users.get(values.get("assignee") or 0)),
        "department": (
            {"id": department.pk, "name": department.name} if department is not None else None
        ),
    }


def _ints(values: Iterable[Any]) -> set[int]:
    return {value for value in values if isinstance(value, int) and not isinstance(value, bool)}


def build_conversation_events(events: Sequence[ConversationEvent]) -> dict[int, Built]:
    """Payload data for these timeline rows (of the kinds in CONVERSATION_EVENTS), by row id.

    Rows whose conversation, message, reply or decision is gone by now are left out: there is
    nothing left to tell about them.
    """
    conversations = {
        conversation.pk: conversation
        for conversation in Conversation.objects.select_related(
            "channel_account", "contact", "assignee", "department"
        ).filter(pk__in={event.conversation_id for event in events})
    }
    kinds = {event.kind for event in events}
    messages: dict[int, Message] = {}
    if EventKind.MESSAGE_RECEIVED in kinds:
        ids = _ints(
            event.data.get("message_id")
            for event in events
            if event.kind == EventKind.MESSAGE_RECEIVED
        )
        messages = Message.objects.select_related("contact", "author").in_bulk(ids)
    replies: dict[int, OutboundAction] = {}
    if kinds & {EventKind.REPLY_SENT, EventKind.REPLY_RECONCILED}:
        ids = _ints(event.data.get("action_id") for event in events)
        replies = OutboundAction.objects.select_related(
            "message__author", "message__contact", "author", "approver"
        ).in_bulk(ids)
    decisions: dict[int, ModerationDecision] = {}
    if EventKind.MODERATED in kinds:
        ids = _ints(event.data.get("decision_id") for event in events)
        decisions = ModerationDecision.objects.in_bulk(ids)
    users: dict[int, Any] = {}
    departments: dict[int, Department] = {}
    if EventKind.ASSIGNED in kinds:
        user_ids: set[int] = set()
        department_ids: set[int] = set()
        for event in events:
            if event.kind == EventKind.ASSIGNED:
                for side in ("before", "after"):
                    values = event.data.get(side) or {}
                    user_ids |= _ints([values.get("assignee")])
                    department_ids |= _ints([values.get("department")])
                user_ids |= _ints([event.actor_id])
        users = get_user_model().objects.in_bulk(user_ids)
        departments = Department.objects.in_bulk(department_ids)

    built: dict[int, Built] = {}
    for event in events:
        conversation = conversations.get(event.conversation_id)
        if conversation is None:
            continue
        data: dict[str, Any] = {"conversation": conversation_summary(conversation)}
        if event.kind == EventKind.MESSAGE_RECEIVED:
            message = messages.get(event.data.get("message_id") or 0)
            if message is None:
                continue
            data["message"] = _message(message)
        elif event.kind in (EventKind.REPLY_SENT, EventKind.REPLY_RECONCILED):
            reply = replies.get(event.data.get("action_id") or 0)
            if reply is None:
                continue
            sent: dict[str, Any] = (
                _message(reply.message)
                if reply.message is not None
                else {"id": None, "text": reply.text}
            )
            sent["external_id"] = event.data.get("external_id") or sent.get("external_id")
            data["reply"] = {
                **sent,
                "kind": reply.kind,
                "automatic": reply.author_id is None,
                "approved_by": _user(reply.approver),
                "reconciled": event.kind == EventKind.REPLY_RECONCILED,
            }
        elif event.kind == EventKind.ASSIGNED:
            before = event.data.get("before") or {}
            after = event.data.get("after") or {}

            data["before"] = _assignment(before, users, departments)
            data["after"] = _assignment(after, users, departments)
            data["actor"] = _user(users.get(event.actor_id or 0))
            data["reason"] = event.data.get("reason") or ("manual" if event.actor_id else None)
        elif event.kind == EventKind.MODERATED:
            decision = decisions.get(event.data.get("decision_id") or 0)
            if decision is None:
                continue
            data["decision"] = _decision(decision)
        built[event.pk] = Built(
            event=CONVERSATION_EVENTS[event.kind],
            created_at=event.created_at,
            data=data,
        )
    return built


def build_incident_events(events: Sequence[IncidentEvent]) -> dict[int, Built]:
    """Payload data for these incident rows (of the kinds in INCIDENT_EVENTS), by row id."""
    incidents = Incident.objects.select_related("channel_account", "lead").in_bulk(
        {event.incident_id for event in events}
    )
    actors = get_user_model().objects.in_bulk(_ints(event.actor_id for event in events))
    built: dict[int, Built] = {}
    for event in events:
        incident = incidents.get(event.incident_id)
        if incident is None:
            continue
        channel = incident.channel_account
        built[event.pk] = Built(
            event=INCIDENT_EVENTS[event.kind],
            created_at=event.created_at,
            data={
                "change": INCIDENT_CHANGES[event.kind],
                "from_level": event.from_level,
                # Resolving ends the incident: there is no level after it.
                "to_level": event.to_level,
                "note": event.text or None,
                "actor": _user(actors.get(event.actor_id or 0)),
                "incident": {
                    "id": incident.pk,
                    "url": incident_url(incident.pk),
                    "title": incident.title,
                    "status": incident.status,
                    "level": incident.level,
                    "peak_level": incident.peak_level,
                    "automatic": incident.automatic,
                    "storm_mode": incident.storm_mode,
                    "lead": _user(incident.lead),
                    "channel": (
                        {"id": channel.pk, "name": channel.name, "platform": channel.platform}
                        if channel is not None
                        else None
                    ),
                    "opened_at": _iso(incident.opened_at),
                    "resolved_at": _iso(incident.resolved_at),
                },
            },
        )
    return built
