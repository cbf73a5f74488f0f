"""Moderation decisions kept as evidence, and their export for legal requests.

A decision copies what it is about when it is made: the item's text, external id, permalink and
time, its author's identity and the channel. It keeps those copies when the message, the person
or the channel is deleted later (the references are cleared, the copies stay), and the database
refuses any other change (migration moderation 0002).

`sha256` is the SHA-256 of a canonical JSON document of the evidence fields (EVIDENCE_FIELDS,
keys sorted, no spaces, UTF-8, times in UTC ISO 8601). Only copied values enter the digest, never
the references the database may clear, so a digest stays valid after the item is gone, and
anyone holding a JSON export can recompute it with `digest_of(row)` or with any SHA-256 tool.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q, QuerySet

from inbox.audit import EchoWriter, actor_name, csv_cell
from inbox.models import ConversationEvent, EventKind
from moderation.models import ModerationDecision

if TYPE_CHECKING:
    from channels_integrations.models import ChannelAccount
    from inbox.access import AnyUser
    from inbox.models import Contact, Message, Person
    from moderation.models import ModerationRule

logger = logging.getLogger(__name__)

# The fields a decision's digest covers, in the order exports list them. References (message,
# person, channel, rule, actor) are left out: the database sets them to NULL when the row they
# point to is deleted, and the copies next to them (external_id, person_id_at, channel_name,
# rule_name, actor_name) are what the evidence is.
EVIDENCE_FIELDS: tuple[str, ...] = (
    "created_at",
    "action",
    "automatic",
    "actor_name",
    "rule_name",
    "reason",
    "guideline",
    "scores",
    "platform",
    "channel_name",
    "conversation_id_at",
    "external_id",
    "permalink",
    "sent_at",
    "text",
    "text_sha256",
    "person_id_at",
    "author_external_id",
    "author_handle",
    "author_name",
)

# Export columns: the row's id, the evidence fields, the references as they are now, the digest.
EXPORT_FIELDS: tuple[str, ...] = (
    "id",
    *EVIDENCE_FIELDS,
    "message_id",
    "rule_id",
    "actor_id",
    "sha256",
)

VERIFICATION_NOTE = (
    "Each decision's sha256 is the SHA-256 (hex) of the UTF-8 bytes of a JSON object holding "
    "exactly the fields listed in canonical_fields with the values given in this file, keys "
    "sorted, separators ',' and ':' without spaces, non-ASCII characters unescaped "
    "(Python: json.dumps(fields, sort_keys=True, separators=(',', ':'), ensure_ascii=False)). "
    "text_sha256 is the SHA-256 of the item's text alone. Times are UTC, ISO 8601. "
    "digest_matches says whether the stored digest still matches the row at export time."
)


def decision_for(
    *,
    message: Message | None,
    action: str,
    automatic: bool,
    now: datetime,
    actor: AnyUser | None = None,
    rule: ModerationRule | None = None,
    scores: Mapping[str, Any] | None = None,
    guideline: str = "",
    reason: str = "",
    contact: Contact | None = None,
    channel: ChannelAccount | None = None,
    person: Person | None = None,
) -> ModerationDecision:
    """An unsaved decision about `message` with its evidence copied from it as it is now.

    Pass `contact` and `channel` when the caller has them (ingest does) and no query is made;
    otherwise they are read from the message. Without a message (a ban of someone who never
    wrote to us), the person and channel given are copied instead. Save it with
    record_decisions, which adds the digests.
    """
    decision = ModerationDecision(
        action=action,
        automatic=automatic,
        created_at=now,
        scores=dict(scores or {}),
        guideline=guideline[:500],
        reason=reason,
        actor_name=actor_name(actor)[:300],
    )
    if actor is not None and actor.is_authenticated:
        decision.actor_id = actor.pk
    if rule is not None:
        decision.rule = rule
        decision.rule_name = rule.name[:200]
    if message is not None:
        decision.message = message
        decision.conversation_id_at = message.conversation_id
        decision.external_id = (message.external_id or "")[:200]
        decision.permalink = (message.permalink or "")[:1000]
        decision.text = message.text or ""
        decision.sent_at = message.sent_at
        if channel is None:
            channel = message.channel_account
        if contact is None and message.contact_id is not None:
            contact = message.contact
    if channel is not None:
        decision.channel_account_id = channel.pk
        decision.channel_name = channel.name[:200]
        decision.platform = channel.platform[:20]
    if contact is not None:
        decision.author_external_id = contact.external_id[:200]
        decision.author_handle = contact.handle[:300]
        decision.author_name = (contact.display_name or contact.handle)[:300]
        decision.person_id = contact.person_id
        decision.person_id_at = contact.person_id
    elif person is not None:
        decision.person_id = person.pk
        decision.person_id_at = person.pk
        decision.author_name = person.display_name[:300]
    if person is not None and not decision.author_name:
        decision.author_name = person.display_name[:300]
    return decision


def _canonical_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        # Naive times only come from careless callers; they are taken as UTC, not guessed.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def evidence_fields(decision: ModerationDecision) -> dict[str, Any]:
    """The values the digest covers, as they appear in the JSON export."""
    fields = {name: getattr(decision, name) for name in EVIDENCE_FIELDS}
    fields["created_at"] = _canonical_time(decision.created_at)
    fields["sent_at"] = _canonical_time(decision.sent_at)
    # JSON round trips (the database's jsonb included) turn tuples into lists; so does this.
    fields["scores"] = json.loads(json.dumps(decision.scores or {}))
    return fields


def digest_of(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the EVIDENCE_FIELDS in `fields` (a decision's
    evidence_fields, or a row of a JSON export)."""
    canonical = json.dumps(
        {name: fields.get(name) for name in EVIDENCE_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def evidence_digest(decision: ModerationDecision) -> str:
    """The digest a decision's stored `sha256` must equal (text_sha256 must be set first)."""
    return digest_of(evidence_fields(decision))


def record_decisions(decisions: list[ModerationDecision]) -> list[ModerationDecision]:
    """Write these decisions with their digests in one insert, and one MODERATED event per
    decision that has a conversation (one more insert), in the caller's transaction.

    A decision is written once and never changed: this is the only place rows are created,
    and the digests are computed here, from the values inserted.
    """
    if not decisions:
        return []
    for decision in decisions:
        if decision.pk is not None:
            raise ValueError("a decision is recorded once")
        decision.text_sha256 = text_digest(decision.text)
        decision.sha256 = evidence_digest(decision)
    # No savepoint of its own: inside ingest's transaction this stays two statements.
    with transaction.atomic(savepoint=False):
        created = ModerationDecision.objects.bulk_create(decisions)
        events = [
            ConversationEvent(
                conversation_id=decision.conversation_id_at,
                actor_id=decision.actor_id,
                kind=EventKind.MODERATED,
                data={
                    "action": decision.action,
                    "automatic": decision.automatic,
                    "rule": decision.rule_name,
                    "decision_id": decision.pk,
                },
            )
            for decision in created
            # A conversation deleted in the meantime has no timeline to write to.
            if decision.conversation_id_at is not None
        ]
        if events:
            ConversationEvent.objects.bulk_create(events)
    return created


# --- export -----------------------------------------------------------------------------------


def evidence_rows(
    *,
    message_id: int | None = None,
    person_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    external_id: str = "",
    permalink: str = "",
) -> QuerySet[ModerationDecision]:
    """Decisions matching every filter given, oldest first.

    By item: `message_id` finds the decisions that still point at the message and those whose
    copy names it (its external id on its channel), so a message deleted since is still found
    by `external_id` or `permalink`. By person: the person id at the time of the decision,
    which survives the person's deletion. `until` is exclusive.
    """
    rows = ModerationDecision.objects.all()
    if message_id is not None:
        from inbox.models import Message

        item = Q(message_id=message_id)
        found = Message.objects.filter(pk=message_id).values("external_id", "channel_account_id")
        for row in found:
            if row["external_id"]:
                item |= Q(
                    external_id=row["external_id"], channel_account_id=row["channel_account_id"]
                )
        rows = rows.filter(item)
    if external_id:
        rows = rows.filter(external_id=external_id)
    if permalink:
        rows = rows.filter(permalink=permalink)
    if person_id is not None:
        rows = rows.filter(Q(person_id_at=person_id) | Q(person_id=person_id))
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows.order_by("created_at", "id")


def export_row(decision: ModerationDecision) -> dict[str, Any]:
    """One decision as the JSON export lists it."""
    row: dict[str, Any] = {"id": decision.pk}
    row.update(evidence_fields(decision))
    row["message_id"] = decision.message_id
    row["rule_id"] = decision.rule_id
    row["actor_id"] = decision.actor_id
    row["sha256"] = decision.sha256
    row["digest_matches"] = digest_of(row) == decision.sha256
    return row


def evidence_json(
    decisions: Iterable[ModerationDecision], *, filters: Mapping[str, Any], now: datetime
) -> str:
    """The JSON export: what was asked for, how to verify, and every decision with its digest."""
    document = {
        "exported_at": _canonical_time(now),
        "filters": {key: value for key, value in filters.items() if value not in (None, "")},
        "algorithm": "sha256",
        "canonical_fields": list(EVIDENCE_FIELDS),
        "verification": VERIFICATION_NOTE,
        "decisions": [export_row(decision) for decision in decisions],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, default=str)


def evidence_csv_lines(decisions: QuerySet[ModerationDecision]) -> Iterator[str]:
    """The CSV export, header first, read in chunks so a long period streams.

    Scores are a JSON cell; cells a spreadsheet would run as a formula get a leading
    apostrophe, so digests are checked against the JSON export, which keeps every value as is.
    """
    writer = csv.writer(EchoWriter())
    yield writer.writerow([*EXPORT_FIELDS, "digest_matches"])
    for decision in decisions.iterator(chunk_size=500):
        row = export_row(decision)
        row["scores"] = json.dumps(row["scores"], ensure_ascii=False, sort_keys=True)
        matches = "yes" if row["digest_matches"] else "NO"
        yield writer.writerow([csv_cell(row[name]) for name in EXPORT_FIELDS] + [matches])
