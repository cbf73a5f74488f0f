"""Ingest: normalized platform items → contacts, conversations and messages, with the cursor.

`ingest_page` is the only way items enter the database. Its guarantees:
- one transaction per page, holding the channel account's row lock: the items and the cursor that
  covers them commit together, so a crash loses nothing (the cursor stays where it was and the
  next poll fetches the same items again) and ingests nothing twice;
- idempotent: an item whose external id the channel already has is not added again, so a page
  ingested twice adds nothing (and the database's unique constraint backs this up). A known item
  seen with another text or platform state updates the message: the earlier text is kept in its
  edit history, a deleted item keeps its text for us;
- our own replies seen again by polling are matched to the outbox row they came from (the
  reconciliation of a reply whose delivery ended ambiguously), never stored twice;
- a cursor that moved since the poll read it (another poll won a race) aborts the page unchanged;
- set-based: a page costs a fixed number of queries, not a few per item.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.utils import timezone
from psycopg2.extras import execute_values

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem, ItemUpdate
from channels_integrations.models import ChannelAccount, SkippedItem
from channels_integrations.text import preview, safe_http_url
from inbox.actions import record_reply_on_platform
from inbox.assignment import reassign_reopened
from inbox.data_protection.erasure import ERASED_PREFIX
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
    PlatformState,
)
from inbox.notifications import notify_new_items
from inbox.routing import route_new_conversations
from inbox.sla import SLA_FIELDS, SlaBook
from moderation.pipeline import PageModeration

# An inbound message reopens a conversation that was closed by someone.
_REOPENING = {ConversationStatus.RESOLVED, ConversationStatus.PENDING, ConversationStatus.SNOOZED}
_STATES = set(PlatformState.values)


class CursorMoved(Exception):
    """The channel's cursor changed since this poll read it: another poll got there first."""


@dataclass
class IngestResult:
    new_messages: int = 0
    new_conversations: int = 0
    skipped: int = 0
    updated_messages: int = 0
    reconciled_replies: int = 0
    new_message_ids: list[int] = field(default_factory=list)


def ingest_page(
    *,
    channel_account_id: int,
    expected_cursor: dict[str, Any],
    page: FetchedPage,
    contact_scope: str = "",
) -> IngestResult:
    result = IngestResult(skipped=len(page.skipped))
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=channel_account_id)
        if account.cursor != expected_cursor:
            raise CursorMoved(f"cursor of channel {channel_account_id} moved during the poll")

        page_ingest = _PageIngest(account, contact_scope, result)
        page_ingest.run(page.items, page.updates)

        if page.skipped:
            SkippedItem.objects.bulk_create(
                (
                    SkippedItem(
                        channel_account=account,
                        external_id=skipped.external_id[:200],
                        reason=skipped.reason,
                        payload=_storable(skipped.payload),
                    )
                    for skipped in page.skipped
                ),
                ignore_conflicts=True,  # the same broken item seen again is recorded once
            )
        account.cursor = page.cursor
        account.save(update_fields=["cursor"])
        if page_ingest.changed_conversations or page_ingest.changed_messages:
            publish_changes_on_commit(
                conversation_ids=page_ingest.changed_conversations,
                message_ids=page_ingest.changed_messages,
                new_conversation_ids=page_ingest.new_conversations,
                channel_account_ids={account.pk},
                was=page_ingest.was,
            )
        if page_ingest.new_conversations:
            notify_new_items(conversation_ids=page_ingest.new_conversations)
    return result


class _PageIngest:
    """One page's work inside the ingest transaction, in a fixed number of queries."""

    def __init__(self, account: ChannelAccount, scope: str, result: IngestResult) -> None:
        self.account = account
        self.scope = scope
        self.result = result
        self.now = timezone.now()
        self.changed_conversations: set[int] = set()
        self.changed_messages: set[int] = set()
        self.new_conversations: set[int] = set()
        # What the changed conversations' list facts were before this page (see inbox.live).
        self.was: dict[int, dict[str, object]] = {}
        self.events: list[ConversationEvent] = []
        # The conversation of each platform item we have, among those this page refers to.
        self.conversation_of: dict[str, int] = {}
        # SLA policies and calendars, read once per page that adds messages (inbox.sla).
        self.sla = SlaBook()
        # Conversations this page reopened (their assignee may be away: inbox.assignment).
        self.reopened: list[Conversation] = []

    def run(self, items: list[InboundItem], updates: list[ItemUpdate]) -> None:
        items = [_fitted(item) for item in items]
        updates = [replace(u, external_id=fit_id(u.external_id, 200)) for u in updates]
        ordered = parents_first(_unique(items))
        # One look-up for the page's items (a known one is an update, not a new message), its
        # updates, and the messages its replies answer (they decide the replies' conversations).
        known: dict[str, Message] = {
            str(message.external_id): message
            for message in Message.objects.filter(
                channel_account=self.account,
                external_id__in={item.external_id for item in ordered}
                | {update.external_id for update in updates}
                | {item.parent_external_id for item in ordered if item.parent_external_id},
            )
            .only(
                "id",
                "conversation_id",
                "external_id",
                "text",
                "platform_state",
                "edit_history",
                "edited_at",
                "platform_state_changed_at",
                "direction",
            )
            # Erased or anonymized texts stay so when the platform sends the item again.
            .annotate(
                scrubbed=ExpressionWrapper(
                    Q(contact__external_id__startswith=ERASED_PREFIX)
                    | Q(conversation__anonymized_at__gte=F("sent_at")),
                    output_field=BooleanField(),
                )
            )
        }
        self.conversation_of = {key: message.conversation_id for key, message in known.items()}
        fresh = [item for item in ordered if item.external_id not in known]
        self._apply_updates(
            [_as_update(item) for item in ordered if item.external_id in known] + updates, known
        )
        own = [item for item in fresh if item.from_self]
        theirs = [item for item in fresh if not item.from_self]
        reconciled = self._reconcile_own_replies(own)
        self._add_messages(theirs, [item for item in own if item.external_id not in reconciled])
        if self.events:
            bulk_insert(self.events)

    # Known items: edits and platform state changes.

    def _apply_updates(self, updates: list[ItemUpdate], known: dict[str, Message]) -> None:
        changed: list[Message] = []
        for update in updates:
            message = known.get(update.external_id)
            if message is None:
                continue
            fields: dict[str, Any] = {}
            state = update.state if update.state in _STATES else None
            if state and state != message.platform_state:
                self.events.append(
                    ConversationEvent(
                        conversation_id=message.conversation_id,
                        kind=EventKind.MESSAGE_STATE_CHANGED,
                        data={
                            "message_id": message.id,
                            "before": message.platform_state,
                            "after": state,
                            "by": "platform",
                        },
                    )
                )
                message.platform_state = state
                message.platform_state_changed_at = self.now
                fields["platform_state"] = True
            text = _storable(update.text) if update.text is not None else None
            if (
                text
                and text != message.text
                and message.direction == Direction.INBOUND
                and message.platform_state != PlatformState.DELETED
                and not getattr(message, "scrubbed", False)
            ):
                history = list(message.edit_history or [])
                history.append({"text": message.text, "replaced_at": self.now.isoformat()})
                message.edit_history = history
                message.text = text
                message.edited_at = update.edited_at or self.now
                fields["text"] = True
                self.events.append(
                    ConversationEvent(
                        conversation_id=message.conversation_id,
                        kind=EventKind.MESSAGE_EDITED,
                        data={"message_id": message.id, "edits": len(history)},
                    )
                )
            if fields:
                changed.append(message)
                self.changed_messages.add(message.id)
                self.changed_conversations.add(message.conversation_id)
        if changed:
            Message.objects.bulk_update(
                changed,
                [
                    "platform_state",
                    "platform_state_changed_at",
                    "text",
                    "edited_at",
                    "edit_history",
                ],
            )
            self.result.updated_messages += len(changed)

    # Our own replies, seen again on the platform.

    def _reconcile_own_replies(self, own: list[InboundItem]) -> set[str]:
        """Match our items to outbox rows whose delivery has no platform id yet.

        A reply that reached the platform although its delivery timed out (or its worker died)
        is recognised here: same target, same text. The outbox row becomes sent, with the id the
        platform gave it, and the next delivery attempt has nothing left to do.
        """
        replies = [item for item in own if item.parent_external_id]
        if not replies:
            return set()
        pending = list(
            OutboundAction.objects.select_for_update()
            .filter(
                conversation__channel_account=self.account,
                kind__in=[OutboundKind.REPLY, OutboundKind.PRIVATE_REPLY],
                result_external_id="",
                target_external_id__in={item.parent_external_id for item in replies},
            )
            # Only deliveries in flight or whose outcome is unknown: a reply still queued (or
            # failed for sure) cannot be on the platform, whatever someone typed there.
            .filter(
                Q(state=OutboundState.SENDING)
                | Q(state__in=[OutboundState.QUEUED, OutboundState.FAILED], outcome_unknown=True)
            )
            .order_by("created_at", "id")
        )
        reconciled: set[str] = set()
        for item in replies:
            action = next(
                (
                    candidate
                    for candidate in pending
                    if candidate.target_external_id == item.parent_external_id
                    and _same_text(candidate.text, item.text)
                ),
                None,
            )
            if action is None:
                continue
            pending.remove(action)
            reconciled.add(item.external_id)
            OutboundAction.objects.filter(pk=action.pk).update(
                state=OutboundState.SENT,
                result_external_id=item.external_id,
                outcome_unknown=False,
                sent_at=self.now,
                last_error="",
                updated_at=self.now,
            )
            record_reply_on_platform(
                action, external_id=item.external_id, permalink=item.permalink, now=self.now
            )
            if action.message_id is not None:
                self.changed_messages.add(action.message_id)
                # A reply to it later in this page belongs to its conversation.
                self.conversation_of[item.external_id] = action.conversation_id
            self.events.append(
                ConversationEvent(
                    conversation_id=action.conversation_id,
                    kind=EventKind.REPLY_RECONCILED,
                    data={"action_id": action.pk, "external_id": item.external_id},
                )
            )
            self.changed_conversations.add(action.conversation_id)
            self.result.reconciled_replies += 1
        return reconciled

    # New items.

    def _add_messages(self, theirs: list[InboundItem], own: list[InboundItem]) -> None:
        if not theirs and not own:
            return
        contacts = self._contacts(theirs)
        items = parents_first([*theirs, *own])
        conversations, created = self._conversations(items, contacts)
        if created:
            # A person blocked in the inbox: their new conversations arrive set aside, not as
            # work (one query for the page; the items are still stored, nothing is lost).
            blocked = set(
                Person.objects.filter(
                    blocked=True,
                    contacts__pk__in={c.contact_id for c in created.values() if c.contact_id},
                ).values_list("contacts__pk", flat=True)
            )
            for conversation in created.values():
                if conversation.contact_id in blocked:
                    conversation.status = ConversationStatus.IGNORED
        placed = [
            (item, conversations[item.external_id])
            for item in items
            if item.external_id in conversations  # else our own post outside any conversation
        ]
        routing = None
        if created:
            # Routing rules and auto-assignment decide before the insert (one write each).
            first_texts: dict[str, str] = {}
            for item, conversation in placed:
                if conversation.pk is None and not item.from_self:
                    first_texts.setdefault(conversation.thread_key, item.text)
            routing = route_new_conversations(
                list(created.values()), first_texts=first_texts, now=self.now
            )
        # The SLA policy depends on the department and priority routing has just set.
        self.sla = SlaBook.cached()
        # Classifiers and moderation rules (which may set the priority, the department, …).
        moderation = PageModeration(self.account, now=self.now, sla_book=self.sla)
        moderation.decide(placed, contacts)
        for conversation_id, before in moderation.was.items():
            self.was.setdefault(conversation_id, {}).update(before)
        for conversation in created.values():
            # Before _count_messages: last_message_at is still the first item's time.
            self.sla.start(conversation, conversation.last_message_at)
        # The denormalized fields are set before the new conversations are inserted, so each of
        # them is written once; the existing ones (locked) are updated after the messages.
        status_events = self._count_messages(placed)
        if self.reopened:
            # A reopened conversation goes back to its assignee when they are available.
            reassigned = reassign_reopened(self.reopened, now=self.now)
            status_events.extend(reassigned.events)
            for conversation_id, before in reassigned.was.items():
                self.was.setdefault(conversation_id, {}).update(before)
        if created:
            bulk_insert(list(created.values()))
            self.result.new_conversations += len(created)
            self.new_conversations.update(conversation.id for conversation in created.values())
            self.events.extend(
                ConversationEvent(
                    conversation_id=conversation.id,
                    kind=EventKind.CONVERSATION_CREATED,
                    data={"thread_key": conversation.thread_key, "kind": conversation.kind},
                )
                for conversation in created.values()
            )
            if routing is not None:
                self.events.extend(routing.after_insert())
        self.events.extend(status_events)
        new_messages: list[Message] = []
        for item, conversation in placed:
            inbound = not item.from_self
            state = item.state if item.state in _STATES else PlatformState.VISIBLE
            contact = contacts.get(item.author.external_id) if inbound else None
            scores, language = moderation.message_fields(item)
            new_messages.append(
                Message(
                    conversation_id=conversation.id,
                    channel_account_id=self.account.id,
                    external_id=item.external_id,
                    parent_external_id=item.parent_external_id,
                    direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                    contact_id=contact.id if contact is not None else None,
                    text=_storable(item.text),
                    attachments=_attachments(item.attachments),
                    language=language,
                    classifier_scores=scores,
                    permalink=safe_http_url(item.permalink),
                    platform_state=state,
                    edited_at=item.edited_at,
                    sent_at=item.created_at,
                    raw=_storable(item.raw),
                )
            )
        bulk_insert(new_messages)
        self._update_conversations(
            {conversation.id: conversation for _, conversation in placed},
            {conversation.id for conversation in created.values()},
        )
        self.sla.record_missed()
        moderation.after_insert(new_messages, contacts)
        self.result.new_messages += len(new_messages)
        self.result.new_message_ids += [message.id for message in new_messages]
        self.changed_messages.update(message.id for message in new_messages)
        self.events.extend(
            ConversationEvent(
                conversation_id=message.conversation_id,
                kind=EventKind.MESSAGE_RECEIVED,
                data={"message_id": message.id, "external_id": message.external_id},
            )
            for message in new_messages
            if message.direction == Direction.INBOUND
        )

    def _contacts(self, items: list[InboundItem]) -> dict[str, Contact]:
        authors: dict[str, InboundAuthor] = {}
        for item in items:
            authors[item.author.external_id] = item.author  # the newest details win
        return upsert_contacts(self.account.platform, self.scope, list(authors.values()))

    def _conversations(
        self, items: list[InboundItem], contacts: dict[str, Contact]
    ) -> tuple[dict[str, Conversation], dict[str, Conversation]]:
        """The conversation of every item (by external id), and the missing ones (by thread
        key), made but not yet inserted."""
        parent_ids = {item.parent_external_id for item in items if item.parent_external_id}
        by_message = {
            key: self.conversation_of[key] for key in parent_ids if key in self.conversation_of
        }
        thread_keys = {item.thread_key for item in items}
        # Locked: an agent's reply (queue_reply) writes the same denormalized fields concurrently.
        existing = {
            conversation.thread_key: conversation
            for conversation in Conversation.objects.select_for_update().filter(
                channel_account=self.account, thread_key__in=thread_keys
            )
        }
        by_id: dict[int, Conversation] = {c.id: c for c in existing.values()}
        missing_ids = set(by_message.values()) - set(by_id)
        if missing_ids:
            for locked in Conversation.objects.select_for_update().filter(pk__in=missing_ids):
                by_id[locked.id] = locked

        result: dict[str, Conversation] = {}
        created: dict[str, Conversation] = {}
        for item in items:
            conversation: Conversation | None = None
            if item.parent_external_id:
                parent_in_page = result.get(item.parent_external_id)
                if parent_in_page is not None:
                    conversation = parent_in_page
                elif item.parent_external_id in by_message:
                    conversation = by_id.get(by_message[item.parent_external_id])
            if conversation is None:
                conversation = existing.get(item.thread_key) or created.get(item.thread_key)
            if conversation is None:
                if item.from_self:
                    continue
                contact = contacts.get(item.author.external_id)
                conversation = created[item.thread_key] = Conversation(
                    channel_account_id=self.account.id,
                    kind=item.kind,
                    thread_key=item.thread_key[:300],
                    contact_id=contact.id if contact is not None else None,
                    post_external_id=item.post_external_id[:200],
                    post_text=_storable(item.post_text),
                    post_permalink=safe_http_url(item.post_permalink),
                    post_media_url=safe_http_url(item.post_media_url),
                    status=ConversationStatus.NEW,
                    last_message_at=item.created_at,
                    language=item.language[:12],
                )
            result[item.external_id] = conversation
        return result, created

    def _count_messages(
        self, placed: list[tuple[InboundItem, Conversation]]
    ) -> list[ConversationEvent]:
        """Move each conversation's counters and last message on by its new items (oldest
        first); an inbound one reopens a conversation that was put aside. Returns the status
        change events (only existing conversations can change status)."""
        events: list[ConversationEvent] = []
        for item, conversation in placed:
            first = conversation.message_count == 0
            conversation.message_count += 1
            if first or item.created_at >= conversation.last_message_at:
                conversation.last_message_at = item.created_at
                conversation.last_message_preview = preview(_storable(item.text))
                conversation.last_message_direction = (
                    Direction.OUTBOUND if item.from_self else Direction.INBOUND
                )
            if item.from_self:
                # Answered on the platform itself: the customer is no longer waiting on us.
                if first or item.created_at >= conversation.last_message_at:
                    conversation.waiting_since = None
                    # Only a post at least as new as the customer's last word stops the
                    # clocks: an older one must not clear a newer message's next response.
                    self.sla.on_reply(conversation, item.created_at)
            else:
                if conversation.waiting_since is None:
                    conversation.waiting_since = item.created_at
                if not conversation.language and item.language:
                    conversation.language = item.language[:12]
            if not item.from_self and conversation.status in _REOPENING:
                before = conversation.status
                self.was.setdefault(conversation.id, {"status": before})
                self.reopened.append(conversation)
                conversation.status = ConversationStatus.OPEN
                conversation.snoozed_until = None
                self.sla.on_status(conversation, before, ConversationStatus.OPEN, item.created_at)
                events.append(
                    ConversationEvent(
                        conversation_id=conversation.id,
                        kind=EventKind.STATUS_CHANGED,
                        data={
                            "before": before,
                            "after": conversation.status,
                            "reason": "new inbound message",
                        },
                    )
                )
            if not item.from_self:
                self.sla.on_inbound(conversation, item.created_at)
        return events

    def _update_conversations(self, touched: dict[int, Conversation], created: set[int]) -> None:
        """Write the denormalized fields of the existing conversations that got messages, in
        one statement (they are locked since _conversations, so absolute values are safe)."""
        existing = [c for id_, c in touched.items() if id_ not in created]
        if existing and connection.vendor != "postgresql":
            # The embedded SQLite mode: Django's portable (slower) statement.
            for conversation in existing:
                conversation.updated_at = self.now
            Conversation.objects.bulk_update(existing, _CONVERSATION_AGGREGATES)
        elif existing:
            table = connection.ops.quote_name(Conversation._meta.db_table)
            with connection.cursor() as cursor:
                execute_values(
                    cursor,
                    f"UPDATE {table} AS c SET message_count = v.message_count, "  # noqa: S608
                    "last_message_at = v.last_message_at, "
                    "last_message_preview = v.last_message_preview, "
                    "last_message_direction = v.last_message_direction, status = v.status, "
                    "snoozed_until = v.snoozed_until, updated_at = v.updated_at, "
                    "waiting_since = v.waiting_since, language = v.language, "
                    "sentiment = v.sentiment, "
                    "first_response_at = v.first_response_at, "
                    "first_response_due_at = v.first_response_due_at, "
                    "next_response_due_at = v.next_response_due_at, "
                    "resolution_due_at = v.resolution_due_at, sla_due_at = v.sla_due_at, "
                    "sla_paused_at = v.sla_paused_at, "
                    "sla_paused_remaining = v.sla_paused_remaining, "
                    "sla_warned_at = v.sla_warned_at "
                    "FROM (VALUES %s) AS v (id, message_count, last_message_at, "
                    "last_message_preview, last_message_direction, status, snoozed_until, "
                    "updated_at, waiting_since, language, sentiment, first_response_at, "
                    "first_response_due_at, next_response_due_at, resolution_due_at, "
                    "sla_due_at, sla_paused_at, sla_paused_remaining, sla_warned_at) "
                    "WHERE c.id = v.id",
                    [
                        (
                            c.id,
                            c.message_count,
                            c.last_message_at,
                            c.last_message_preview,
                            c.last_message_direction,
                            c.status,
                            c.snoozed_until,
                            self.now,
                            c.waiting_since,
                            c.language,
                            c.sentiment,
                            c.first_response_at,
                            c.first_response_due_at,
                            c.next_response_due_at,
                            c.resolution_due_at,
                            c.sla_due_at,
                            c.sla_paused_at,
                            json.dumps(c.sla_paused_remaining or {}),
                            c.sla_warned_at,
                        )
                        for c in existing
                    ],
                    template="(%s::bigint, %s::integer, %s::timestamptz, %s, %s, %s, "
                    "%s::timestamptz, %s::timestamptz, %s::timestamptz, %s, %s, "
                    "%s::timestamptz, %s::timestamptz, %s::timestamptz, %s::timestamptz, "
                    "%s::timestamptz, %s::timestamptz, %s::jsonb, %s::timestamptz)",
                    page_size=len(existing),
                )
            for conversation in existing:
                conversation.updated_at = self.now
        self.changed_conversations.update(touched)


def upsert_contacts(platform: str, scope: str, authors: list[InboundAuthor]) -> dict[str, Contact]:
    """The contacts for these platform identities (by external id), each new one with its own
    Person; changed names and avatars are refreshed."""
    if not authors:
        return {}
    wanted = {author.external_id: _contact_fields(author) for author in authors}
    found = {
        contact.external_id: contact
        for contact in Contact.objects.filter(
            platform=platform, scope=scope, external_id__in=wanted
        )
    }
    missing = [external_id for external_id in wanted if external_id not in found]
    if missing:
        try:
            with transaction.atomic():
                persons = [
                    Person(
                        display_name=wanted[external_id]["display_name"]
                        or wanted[external_id]["handle"]
                        or external_id[:300]
                    )
                    for external_id in missing
                ]
                bulk_insert(persons)
                new = [
                    Contact(
                        platform=platform,
                        scope=scope,
                        external_id=external_id,
                        person=person,
                        **wanted[external_id],
                    )
                    for external_id, person in zip(missing, persons, strict=True)
                ]
                bulk_insert(new)
                found.update((contact.external_id, contact) for contact in new)
        except IntegrityError:
            # Another channel on the same platform created some of these a moment ago: the
            # savepoint rolled back our persons too; take theirs and create the rest one by one.
            for external_id in missing:
                found[external_id] = _get_or_create_contact(
                    platform, scope, external_id, wanted[external_id]
                )
    stale: list[Contact] = []
    renamed: dict[int, tuple[str, str]] = {}
    for external_id, fields in wanted.items():
        contact = found[external_id]
        if any(getattr(contact, name) != value for name, value in fields.items()):
            if fields["display_name"] and contact.display_name != fields["display_name"]:
                renamed[contact.person_id] = (contact.display_name, fields["display_name"])
            for name, value in fields.items():
                setattr(contact, name, value)
            contact.updated_at = timezone.now()
            stale.append(contact)
    if stale:
        Contact.objects.bulk_update(stale, [*_CONTACT_FIELDS, "updated_at"])
    # Someone renamed themselves on the platform: their person follows, unless an agent named
    # the person otherwise (or merged it with other identities). Rare: one statement each.
    for person_id, (old, new_name) in renamed.items():
        Person.objects.filter(pk=person_id, display_name=old).update(display_name=new_name)
    return found


def upsert_contact(platform: str, scope: str, author: InboundAuthor) -> Contact:
    """The contact for one platform identity (see upsert_contacts)."""
    return upsert_contacts(platform, scope, [author])[author.external_id]


_CONTACT_FIELDS = ("handle", "display_name", "avatar_url", "profile_url")


def _contact_fields(author: InboundAuthor) -> dict[str, str]:
    return {
        "handle": _storable(author.handle)[:300],
        "display_name": _storable(author.display_name)[:300],
        "avatar_url": safe_http_url(author.avatar_url),
        "profile_url": safe_http_url(author.profile_url),
    }


def _get_or_create_contact(
    platform: str, scope: str, external_id: str, fields: dict[str, str]
) -> Contact:
    contact = Contact.objects.filter(
        platform=platform, scope=scope, external_id=external_id
    ).first()
    if contact is not None:
        return contact
    try:
        with transaction.atomic():
            person = Person.objects.create(
                display_name=fields["display_name"] or fields["handle"] or external_id[:300]
            )
            return Contact.objects.create(
                platform=platform, scope=scope, external_id=external_id, person=person, **fields
            )
    except IntegrityError:
        return Contact.objects.get(platform=platform, scope=scope, external_id=external_id)


_Row = TypeVar("_Row", bound=models.Model)

# Values of these fields go to psycopg2 as they are, which is what Django's PostgreSQL backend
# does with them too; other fields prepare their values (JSON encoding, naive datetimes).
_PLAIN_FIELDS = (
    models.CharField,  # URLField and SlugField too
    models.TextField,
    models.IntegerField,  # the positive and small ones, and integer primary keys
    models.BooleanField,
)


def _plain(field: Any) -> bool:
    if isinstance(field, models.ForeignKey):  # its value is the target's primary key
        return _plain(field.target_field)
    return isinstance(field, _PLAIN_FIELDS)


_CONVERSATION_AGGREGATES = [
    "message_count",
    "last_message_at",
    "last_message_preview",
    "last_message_direction",
    "status",
    "snoozed_until",
    "updated_at",
    "waiting_since",
    "language",
    "sentiment",
    # The SLA timers (inbox.sla) an inbound message, a reopening or our own post may move.
    *SLA_FIELDS,
]


def bulk_insert(rows: Sequence[_Row]) -> None:
    """Insert new model instances in one statement and give them their ids, like bulk_create.

    bulk_create does Python work per value (pre_save, get_db_prep_save, a placeholder each)
    that costs more than PostgreSQL's part at the ingest's few hundred rows per page; here each
    row is one psycopg2 mogrify. auto_now and auto_now_add fields get one timestamp for all rows.
    Database errors (an IntegrityError) are raised as Django's, as bulk_create raises them.
    """
    if not rows:
        return
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        # The embedded SQLite mode: Django's portable bulk_create (it sets the ids too).
        type(rows[0])._default_manager.bulk_create(rows)
        return
    meta = type(rows[0])._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    stamped = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    encoders = [
        (index, f.encoder) for index, f in enumerate(fields) if isinstance(f, models.JSONField)
    ]
    prepared = [
        (index, f, isinstance(f, models.DateTimeField))
        for index, f in enumerate(fields)
        if not _plain(f) and not isinstance(f, models.JSONField)
    ]
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy, which costs a lookup per use
    values: list[list[Any]] = []
    for row in rows:
        for attname in stamped:
            setattr(row, attname, now)
        row_values = [getattr(row, f.attname) for f in fields]
        for index, encoder in encoders:
            value = row_values[index]
            # As JSONField saves it (None is SQL NULL), without its adapter object per value:
            # PostgreSQL reads the text into the jsonb column.
            if value is not None:
                row_values[index] = json.dumps(value, cls=encoder)
        for index, f, is_datetime in prepared:
            value = row_values[index]
            # NULL stays NULL; aware datetimes go as they are, as Django's backend passes them;
            # naive ones get the default time zone (and Django's warning).
            if value is not None and not (is_datetime and value.tzinfo is not None):
                row_values[index] = f.get_db_prep_save(value, db)
        values.append(row_values)
    quote = db.ops.quote_name
    table, pk_column = quote(meta.db_table), quote(str(meta.pk.column))
    columns = ", ".join(quote(str(f.column)) for f in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES %s RETURNING {pk_column}"  # noqa: S608
    with db.cursor() as cursor:
        ids = execute_values(cursor, sql, values, page_size=len(values), fetch=True)
    for row, (pk,) in zip(rows, ids, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = db.alias


def fit_id(value: str, limit: int) -> str:
    """A platform id as stored: unchanged when it fits the column, else a prefix and a hash of
    the whole, so long ids stay distinct and the same id always maps to the same value."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:40]
    return f"{value[: limit - 41]}~{digest}"


def _fitted(item: InboundItem) -> InboundItem:
    if (
        max(len(item.external_id), len(item.parent_external_id), len(item.post_external_id)) <= 200
        and len(item.thread_key) <= 300
    ):
        return item
    return replace(
        item,
        external_id=fit_id(item.external_id, 200),
        parent_external_id=fit_id(item.parent_external_id, 200),
        thread_key=fit_id(item.thread_key, 300),
        post_external_id=fit_id(item.post_external_id, 200),
    )


def parents_first(items: list[InboundItem]) -> list[InboundItem]:
    """Oldest first, and a message before any reply to it in the same page.

    Timestamps alone are not enough: platforms round them, and a reply can carry the same second
    as the message it answers.
    """
    by_id = {item.external_id: item for item in items}
    seen: set[str] = set()
    ordered: list[InboundItem] = []

    def place(item: InboundItem) -> None:
        if item.external_id in seen:
            return
        seen.add(item.external_id)  # before the parent: a reply cycle cannot recurse forever
        parent = by_id.get(item.parent_external_id)
        if parent is not None:
            place(parent)
        ordered.append(item)

    for item in sorted(items, key=lambda i: i.created_at):
        place(item)
    return ordered


def _unique(items: Iterable[InboundItem]) -> list[InboundItem]:
    """One item per external id; the last one wins (a page may carry an item and its edit)."""
    return list({item.external_id: item for item in items}.values())


def _as_update(item: InboundItem) -> ItemUpdate:
    return ItemUpdate(
        external_id=item.external_id,
        state=item.state,
        text=None if item.state == PlatformState.DELETED else item.text,
        edited_at=item.edited_at,
    )


def _same_text(sent: str, seen: str) -> bool:
    """Platforms prepend mentions (Mastodon's @acct) or normalize whitespace."""
    sent_words, seen_words = " ".join(sent.split()), " ".join(seen.split())
    return bool(sent_words) and (sent_words == seen_words or seen_words.endswith(sent_words))


def _attachments(attachments: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    kept = []
    for attachment in attachments:
        if not isinstance(attachment, dict):
            continue
        kept.append(
            {
                "name": _storable(str(attachment.get("name", "")))[:300],
                "url": safe_http_url(attachment.get("url")),
                "type": _storable(str(attachment.get("type", "")))[:60],
            }
        )
    return kept


def _storable(payload: Any) -> Any:
    """Raw payloads are kept for evidence; NUL characters cannot be stored in PostgreSQL text."""
    if isinstance(payload, str):
        return payload.replace("\x00", "\ufffd")
    if isinstance(payload, dict):
        return {
            str(key).replace("\x00", "\ufffd"): _storable(value) for key, value in payload.items()
        }
    if isinstance(payload, list | tuple):
        return [_storable(value) for value in payload]
    if payload is None or isinstance(payload, bool | int | float):
        return payload
    if isinstance(payload, datetime):
        return payload.isoformat()
    return repr(payload)
