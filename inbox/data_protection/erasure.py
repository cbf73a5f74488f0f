"""Erasure on request (GDPR Art. 17), and the scrubbing it shares with retention policies.

Scrubbing replaces what a person wrote or is identified by and keeps what reports count: rows,
times, statuses, SLA facts, tags, sentiment and language stay; texts, attachments, raw
payloads, permalinks, edit histories, classifier evidence and identities go. Updating
`Message.text` makes the database trigger recompute `search_vector`, so search forgets too.

A scrubbed contact keeps its platform and scope, but its external id becomes "erased:<row id>":
ingest looks contacts up by (platform, scope, external id), so the same author writing again
gets a new contact and a new person and is never linked back to the erased rows. A hash of the
platform id would be re-computable by anyone holding that id, and a second erasure of the same
identity would collide with the first on the unique constraint; the row id is neither.

Moderation decisions are evidence (moderation.models.ModerationDecision; the database refuses
UPDATE and DELETE) and are kept with their copies of the text and author: Art. 17(3)(e) GDPR,
the establishment, exercise or defence of legal claims (docs/data-protection.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    CharField,
    Exists,
    F,
    Func,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Concat
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from inbox import audit
from inbox.access import AccessDenied, AnyUser, can_administer
from inbox.actions import ActionRefused
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Consultation,
    Contact,
    Conversation,
    ConversationKind,
    Direction,
    Message,
    Note,
    Notification,
    OutboundAction,
    Person,
    PersonNote,
)
from moderation.models import ModerationCase, ModerationDecision

ERASED_PREFIX = "erased:"
ERASED_TEXT = _("[erased]")
ERASED_PERSON = _("Erased person")
# Beyond this many scrubbed messages the live update names the conversations only: browsers
# re-render the rows and headers, and an open thread shows the new texts on its next load.
LIVE_MESSAGE_LIMIT = 500
# Kinds whose post is the author's own (their post mentioning us, their chat, their e-mail);
# a comment hangs under our post, whose text is ours and stays.
KINDS_WITH_THEIR_POST = (
    ConversationKind.MENTION,
    ConversationKind.PRIVATE_MESSAGE,
    ConversationKind.EMAIL,
)


def stored(text: str | Promise) -> str:
    """A marker as it is written into the database: in the site's language, not the
    language of whoever happens to trigger the write (a task has none)."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


_Sql = tuple[str, tuple[str | int, ...]]


class _WithoutKey(Func):
    """A JSON column without one top-level key (PostgreSQL's `-`, SQLite's json_remove)."""

    output_field = JSONField()

    def __init__(self, field: str, key: str) -> None:
        super().__init__(F(field), Value(key))
        self.key = key

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _Sql:
        clone = self.copy()
        column = clone.get_source_expressions()[0]  # resolved by now: an F is no longer one
        clone.set_source_expressions([column, Cast(Value(self.key), TextField())])
        return clone.as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" - ")

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _Sql:
        clone = self.copy()
        column = clone.get_source_expressions()[0]
        clone.set_source_expressions([column, Value(f"$.{self.key}")])
        return clone.as_sql(compiler, connection, function="json_remove")


def _without_evidence(field: str) -> _WithoutKey:
    # The scores are numbers and stay for reports; "evidence" quotes the words that scored.
    return _WithoutKey(field, "evidence")


def scrub_messages(messages: QuerySet[Message], *, now: datetime) -> int:
    """Replace the texts and everything else the author put in these messages; keep the
    rows, their times, directions, states and languages. Returns the number of messages."""
    count = messages.update(
        text=stored(ERASED_TEXT),
        attachments=[],
        raw=None,
        edit_history=[],
        permalink="",
        classifier_scores=_without_evidence("classifier_scores"),
        updated_at=now,
    )
    ModerationCase.objects.filter(message__in=messages).update(scores=_without_evidence("scores"))
    return count


def scrub_conversations(
    conversation_ids: Iterable[int], *, now: datetime, replace_thread_keys: bool
) -> int:
    """Scrub what these conversations hold beside their messages' texts: the preview, the
    author's own post, internal notes, reply drafts and review notes, advice requests and
    notification texts; set anonymized_at. Counts, times, statuses and SLA facts stay.

    `replace_thread_keys`: a private chat's thread key is often the author's platform id, so
    an erasure replaces it (a new message from them then starts a new conversation);
    retention keeps it (the author may still be writing to us in it).
    """
    ids = list(conversation_ids)
    marker = stored(ERASED_TEXT)
    conversations = Conversation.objects.filter(pk__in=ids)
    fields: dict[str, object] = {
        "last_message_preview": marker,
        "anonymized_at": now,
        "updated_at": now,
    }
    if replace_thread_keys:
        fields["thread_key"] = Concat(Value(ERASED_PREFIX), Cast("id", CharField()))
    count = conversations.update(**fields)
    conversations.filter(kind__in=KINDS_WITH_THEIR_POST).update(
        post_text="", post_permalink="", post_media_url=""
    )
    Note.objects.filter(conversation_id__in=ids).update(text=marker)
    OutboundAction.objects.filter(conversation_id__in=ids).exclude(text="").update(text=marker)
    OutboundAction.objects.filter(conversation_id__in=ids).update(
        original_text="", review_note="", updated_at=now
    )
    Consultation.objects.filter(conversation_id__in=ids).update(question=marker)
    Notification.objects.filter(conversation_id__in=ids).update(text=marker)
    return count


def scrub_contacts(contacts: QuerySet[Contact], *, now: datetime) -> int:
    """Blank the identity of these contacts and replace their external ids (see the module
    docstring: the same author is never re-linked). Platform and scope stay for counts."""
    return contacts.exclude(external_id__startswith=ERASED_PREFIX).update(
        external_id=Concat(Value(ERASED_PREFIX), Cast("id", CharField())),
        handle="",
        display_name="",
        avatar_url="",
        profile_url="",
        updated_at=now,
    )


def forget_persons(person_ids: Iterable[int], *, now: datetime) -> int:
    """Persons reduced to their flags: neutral name, notes deleted, tags and stance removed,
    erased_at set. Banned and blocked stay (moderation facts, listings keep the record)."""
    ids = list(person_ids)
    PersonNote.objects.filter(person_id__in=ids).delete()
    Person.tags.through.objects.filter(person_id__in=ids).delete()
    return Person.objects.filter(pk__in=ids).update(
        display_name=stored(ERASED_PERSON), stance="", vip=False, erased_at=now, updated_at=now
    )


def _newest_is_theirs(conversation_ids: Iterable[int], contact_ids: list[int]) -> list[int]:
    """Of these conversations, those whose newest message was written by one of the contacts
    (their list preview is that person's text)."""
    newest_author = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .order_by("-sent_at", "-id")
        .values("contact_id")[:1]
    )
    return list(
        Conversation.objects.filter(pk__in=list(conversation_ids))
        .annotate(newest_author=Subquery(newest_author))
        .filter(newest_author__in=contact_ids)
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure changed, in counts (this is also the audit entry: no personal data)."""

    persons: int
    contacts: int
    messages: int
    conversations_anonymized: int
    conversations_touched: int
    notes_deleted: int
    moderation_decisions_kept: int


def absorbed_person_ids(person_id: int, *, lock: bool = False) -> list[int]:
    """The person and everyone merged into them, directly or through a chain (A merged into B,
    then B into C: C's data includes A's). With `lock`, the merged rows are locked too."""
    found = [person_id]
    frontier = [person_id]
    while frontier:
        absorbed = Person.objects.filter(merged_into_id__in=frontier).exclude(pk__in=found)
        if lock:
            absorbed = absorbed.select_for_update()
        frontier = list(absorbed.values_list("pk", flat=True))
        found += frontier
    return found


def check_can_erase(user: AnyUser) -> None:
    """AccessDenied unless the user handles data-protection requests (admins)."""
    if not can_administer(user):
        raise AccessDenied("Only admins handle data-protection requests.")


def erase_person(*, user: AnyUser, person: Person, now: datetime | None = None) -> ErasureResult:
    """Erase everything we hold about `person` (and the persons merged into them) in one
    transaction, with the person rows locked: their messages are scrubbed wherever they
    wrote, their own conversations (the ones started by their contacts) are scrubbed whole
    (our replies to them, notes, drafts) and marked anonymized, their contacts lose their
    identity, the person keeps only a neutral name and flags. Counts, times, statuses and
    SLA facts stay. Moderation decisions are kept as evidence (module docstring).

    Audited with counts only; live updates go out after commit. Erasing an erased person
    again is harmless (it finds nothing new to scrub). Raises AccessDenied for non-admins and
    ActionRefused for a person that was merged into another (erase that one).
    """
    check_can_erase(user)
    now = now or timezone.now()
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.merged_into_id is not None:
            raise ActionRefused(
                _("This person was merged into another one: erase that person instead.")
            )
        person_ids = absorbed_person_ids(person.pk, lock=True)
        contact_ids = list(
            Contact.objects.filter(person_id__in=person_ids).values_list("pk", flat=True)
        )
        own_ids = list(
            Conversation.objects.filter(contact_id__in=contact_ids).values_list("pk", flat=True)
        )
        written_in = set(
            Message.objects.filter(contact_id__in=contact_ids)
            .values_list("conversation_id", flat=True)
            .distinct()
        )
        others = written_in - set(own_ids)
        messages = Message.objects.filter(
            Q(contact_id__in=contact_ids)
            | Q(conversation_id__in=own_ids, direction=Direction.OUTBOUND)
        )
        message_ids = list(messages.values_list("pk", flat=True)[: LIVE_MESSAGE_LIMIT + 1])
        previews = _newest_is_theirs(others, contact_ids)
        message_count = scrub_messages(messages, now=now)
        anonymized = scrub_conversations(own_ids, now=now, replace_thread_keys=True)
        Conversation.objects.filter(pk__in=previews).update(
            last_message_preview=stored(ERASED_TEXT), updated_at=now
        )
        notes_deleted = PersonNote.objects.filter(person_id__in=person_ids).count()
        contact_count = scrub_contacts(Contact.objects.filter(pk__in=contact_ids), now=now)
        forget_persons(person_ids, now=now)
        touched = set(own_ids) | others
        result = ErasureResult(
            persons=len(person_ids),
            contacts=contact_count,
            messages=message_count,
            conversations_anonymized=anonymized,
            conversations_touched=len(touched),
            notes_deleted=notes_deleted,
            moderation_decisions_kept=ModerationDecision.objects.filter(
                person_id_at__in=person_ids
            ).count(),
        )
        audit.record(
            actor=user,
            action=audit.AuditAction.CREATED,
            instance_or_type="person_erasure",
            before={},
            after=asdict(result),
            object_id=str(person.pk),
            object_repr=f"Person #{person.pk}",
        )
        if touched:
            publish_changes_on_commit(
                conversation_ids=touched,
                message_ids=message_ids if len(message_ids) <= LIVE_MESSAGE_LIMIT else (),
            )
    return result


def contacts_without_live_data(contact_ids: Iterable[int]) -> QuerySet[Contact]:
    """Of these contacts, those not yet scrubbed that have nothing left outside anonymized
    conversations: no conversation of their own and no message that is still readable."""
    live = Q(conversation__anonymized_at__isnull=True) | Q(
        conversation__anonymized_at__lt=F("conversation__last_message_at")
    )
    live_conversation = Q(anonymized_at__isnull=True) | Q(anonymized_at__lt=F("last_message_at"))
    return (
        Contact.objects.filter(pk__in=list(contact_ids))
        .exclude(external_id__startswith=ERASED_PREFIX)
        .exclude(Exists(Message.objects.filter(live, contact_id=OuterRef("pk"))))
        .exclude(Exists(Conversation.objects.filter(live_conversation, contact_id=OuterRef("pk"))))
    )


def persons_without_identity(person_ids: Iterable[int]) -> QuerySet[Person]:
    """Of these persons, those not yet erased whose every contact is scrubbed."""
    return (
        Person.objects.filter(pk__in=list(person_ids), erased_at__isnull=True)
        .exclude(
            Exists(
                Contact.objects.filter(person_id=OuterRef("pk")).exclude(
                    external_id__startswith=ERASED_PREFIX
                )
            )
        )
        .filter(merged_into__isnull=True)
    )
