"""A person's data export (GDPR Art. 15 and 20): everything we hold about them, as one JSON
document, written piece by piece so a person with 50,000 messages streams in bounded memory.

What it holds: the person rows (the person and those merged into them) with flags, stance,
tags and notes; every contact (platform identity); their own conversations (started by their
contacts) whole, with their internal notes and timelines; the other conversations they wrote in as
metadata only (another person's thread: no preview, post or author); every message they
wrote and every reply we wrote in their conversations, with attachments, permalinks, edit
histories, classifier scores and raw platform payloads; moderation cases on their messages,
moderation decisions about them (with digests), ban and allow listings; merges.
Nothing written by other persons is included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q, QuerySet

from inbox import audit
from inbox.access import AnyUser
from inbox.data_protection.erasure import absorbed_person_ids, check_can_erase
from inbox.models import (
    AuditEntry,
    Contact,
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    Note,
    Person,
    PersonMerge,
    PersonNote,
)
from moderation.evidence import export_row
from moderation.models import ModerationCase, ModerationDecision, PersonListing

FORMAT = "social-inbox.person-export/1"
CHUNK_SIZE = 1000
# Columns that are derived from others (the search index) or say nothing about the person.
SKIPPED_FIELDS = frozenset({"search_vector"})
# What we show of a conversation that is another person's thread they wrote in.
FOREIGN_CONVERSATION_FIELDS = (
    "id",
    "channel_account_id",
    "kind",
    "status",
    "created_at",
    "last_message_at",
    "message_count",
)


def row(instance: models.Model) -> dict[str, Any]:
    """Every stored column of the row (foreign keys as ids)."""
    return {
        field.attname: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.name not in SKIPPED_FIELDS
    }


def _without(values: dict[str, Any], key: str) -> dict[str, Any]:
    values.pop(key, None)
    return values


@dataclass(frozen=True)
class PersonData:
    """The querysets of one person's data; each is read once, in chunks, by `json_chunks`."""

    person: Person
    person_ids: list[int]
    contact_ids: list[int]
    own_conversation_ids: list[int]

    @classmethod
    def of(cls, person: Person) -> PersonData:
        person_ids = absorbed_person_ids(person.pk)
        contact_ids = list(
            Contact.objects.filter(person_id__in=person_ids).values_list("pk", flat=True)
        )
        own = list(
            Conversation.objects.filter(contact_id__in=contact_ids).values_list("pk", flat=True)
        )
        return cls(person, person_ids, contact_ids, own)

    def persons(self) -> QuerySet[Person]:
        return Person.objects.filter(pk__in=self.person_ids).order_by("pk")

    def contacts(self) -> QuerySet[Contact]:
        return Contact.objects.filter(pk__in=self.contact_ids).order_by("pk")

    def messages(self) -> QuerySet[Message]:
        """What they wrote, and what we wrote to them: our replies in their own conversations
        that answer one of their messages (or the chat itself). Replies under their thread to
        someone else who joined it are that other person's data."""
        theirs = Message.objects.filter(
            contact_id__in=self.contact_ids, external_id__isnull=False
        ).values("external_id")
        to_them = Q(parent_external_id="") | Q(parent_external_id__in=theirs)
        return Message.objects.filter(
            Q(contact_id__in=self.contact_ids)
            | (
                Q(conversation_id__in=self.own_conversation_ids, direction=Direction.OUTBOUND)
                & to_them
            )
        ).order_by("sent_at", "pk")

    def foreign_conversations(self) -> QuerySet[Conversation]:
        written_in = Message.objects.filter(contact_id__in=self.contact_ids).values(
            "conversation_id"
        )
        return (
            Conversation.objects.filter(pk__in=written_in)
            .exclude(pk__in=self.own_conversation_ids)
            .order_by("pk")
        )

    def own_conversations(self) -> QuerySet[Conversation]:
        return Conversation.objects.filter(pk__in=self.own_conversation_ids).order_by("pk")

    def decisions(self) -> QuerySet[ModerationDecision]:
        return ModerationDecision.objects.filter(
            Q(person_id_at__in=self.person_ids) | Q(person_id__in=self.person_ids)
        ).order_by("created_at", "pk")

    def cases(self) -> QuerySet[ModerationCase]:
        return ModerationCase.objects.filter(message__contact_id__in=self.contact_ids).order_by(
            "pk"
        )

    def counts(self) -> dict[str, int]:
        """How many rows of each kind the export holds (the audit entry: numbers only)."""
        return {
            "persons": len(self.person_ids),
            "contacts": len(self.contact_ids),
            "conversations": len(self.own_conversation_ids),
            "other_conversations": self.foreign_conversations().count(),
            "messages": self.messages().count(),
            "moderation_decisions": self.decisions().count(),
            "moderation_cases": self.cases().count(),
        }


def _person_rows(data: PersonData) -> Iterator[dict[str, Any]]:
    persons = data.persons().prefetch_related("tags")
    notes: dict[int, list[dict[str, Any]]] = {}
    for note in PersonNote.objects.filter(person_id__in=data.person_ids).order_by("pk"):
        notes.setdefault(note.person_id, []).append(row(note))
    for person in persons:
        values = row(person)
        values["tags"] = [tag.name for tag in person.tags.all()]
        values["notes"] = notes.get(person.pk, [])
        yield values


def _own_conversation_rows(data: PersonData) -> Iterator[dict[str, Any]]:
    conversations = data.own_conversations().prefetch_related("tags")
    for conversation in conversations.iterator(chunk_size=CHUNK_SIZE):
        values = row(conversation)
        # The list's preview of the newest message may quote someone who answered in their
        # thread; their own words are in "messages".
        values.pop("last_message_preview", None)
        values["tags"] = [tag.name for tag in conversation.tags.all()]
        yield values


def _section(name: str, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`"name": [rows]`, one row a piece (the rows may come from a database cursor)."""
    yield ",\n" + json.dumps(name) + ": ["
    separator = "\n"
    for item in rows:
        yield separator + json.dumps(item, cls=DjangoJSONEncoder, ensure_ascii=False)
        separator = ",\n"
    yield "\n]"


def json_chunks(data: PersonData, *, now: datetime) -> Iterator[str]:
    """The export document in pieces (a generator for a streaming response). Messages and
    conversations are read from the database in chunks, never all at once."""
    yield "{\n" + json.dumps("format") + ": " + json.dumps(FORMAT)
    yield ",\n" + json.dumps("exported_at") + ": " + json.dumps(now, cls=DjangoJSONEncoder)
    yield from _section("persons", _person_rows(data))
    yield from _section("contacts", (row(c) for c in data.contacts().iterator(CHUNK_SIZE)))
    yield from _section(
        "merges",
        (
            row(merge)
            for merge in PersonMerge.objects.filter(
                Q(kept_id__in=data.person_ids) | Q(merged_id__in=data.person_ids)
            ).order_by("pk")
        ),
    )
    yield from _section("conversations", _own_conversation_rows(data))
    own = data.own_conversation_ids
    yield from _section(
        "conversation_notes",
        (
            _without(row(note), "external_author")  # a consulted expert's name and address
            for note in Note.objects.filter(conversation_id__in=own).iterator(CHUNK_SIZE)
        ),
    )
    yield from _section(
        "conversation_events",
        (
            row(event)
            for event in ConversationEvent.objects.filter(conversation_id__in=own)
            .order_by("pk")
            .iterator(CHUNK_SIZE)
        ),
    )
    yield from _section(
        "other_conversations",
        data.foreign_conversations().values(*FOREIGN_CONVERSATION_FIELDS).iterator(CHUNK_SIZE),
    )
    yield from _section("messages", (row(m) for m in data.messages().iterator(CHUNK_SIZE)))
    yield from _section("moderation_cases", (row(c) for c in data.cases().iterator(CHUNK_SIZE)))
    yield from _section(
        "moderation_decisions", (export_row(d) for d in data.decisions().iterator(CHUNK_SIZE))
    )
    yield from _section(
        "listings",
        (
            row(listing)
            for listing in PersonListing.objects.filter(person_id__in=data.person_ids).order_by(
                "pk"
            )
        ),
    )
    yield "\n}\n"


def start_person_export(*, user: AnyUser, person: Person) -> PersonData:
    """Check the user may export (admins), record the export in the audit log (counts only,
    no personal data) and return the data to stream. The entry is written before the first
    byte leaves, so an export that is cut off halfway is still on record."""
    check_can_erase(user)
    data = PersonData.of(person)
    audit.record(
        actor=user,
        action=audit.AuditAction.CREATED,
        instance_or_type="person_export",
        before={},
        after=data.counts(),
        object_id=str(person.pk),
        object_repr=f"Person #{person.pk}",
    )
    return data


def audit_log_json_chunks(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    """The audit log (entries as given, e.g. filtered and newest first) as a JSON array, one
    entry a piece, read in chunks so a long log streams."""
    yield "["
    separator = "\n"
    for entry in entries.iterator(chunk_size=CHUNK_SIZE):
        values = {
            "id": entry.pk,
            "when": entry.created_at,
            "actor_id": entry.actor_id,
            "actor": entry.actor_name,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "object": entry.object_repr,
            "before": entry.before,
            "after": entry.after,
        }
        yield separator + json.dumps(values, cls=DjangoJSONEncoder, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


def start_audit_log_export(
    *, user: AnyUser, entries: QuerySet[AuditEntry], filters: dict[str, Any]
) -> QuerySet[AuditEntry]:
    """Check the user may export the log (admins), record the export itself in the log (its
    filters and size) and return the entries to stream."""
    check_can_erase(user)
    count = entries.count()
    audit.record(
        actor=user,
        action=audit.AuditAction.CREATED,
        instance_or_type="audit_export",
        before={},
        after={"format": "json", "entries": count, **filters},
        object_repr=f"Audit log export (json, {count} entries)",
    )
    return entries
