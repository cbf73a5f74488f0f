"""Ingest: normalized platform items → contacts, conversations and messages, with the cursor.

`ingest_page` is the only way items enter the database. Its guarantees:
- one transaction per page, holding the channel account's row lock: the items and the cursor that
  covers them commit together, so a crash loses nothing (the cursor stays where it was and the
  next poll fetches the same items again) and ingests nothing twice;
- idempotent: an item whose external id the channel already has is left alone, so a page ingested
  twice adds nothing (and the database's unique constraint backs this up);
- a cursor that moved since the poll read it (another poll won a race) aborts the page unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from channels_integrations.models import ChannelAccount, SkippedItem
from channels_integrations.text import preview, safe_http_url
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Message,
    Person,
)

# The trade's rule: every request answered within 24 hours (SLA policies refine this later).
DEFAULT_FIRST_RESPONSE_TARGET = timedelta(hours=24)

# An inbound message reopens a conversation that was closed by someone.
_REOPENING = {ConversationStatus.RESOLVED, ConversationStatus.PENDING, ConversationStatus.SNOOZED}


class CursorMoved(Exception):
    """The channel's cursor changed since this poll read it: another poll got there first."""


@dataclass
class IngestResult:
    new_messages: int = 0
    new_conversations: int = 0
    skipped: int = 0


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

        known = set(
            Message.objects.filter(
                channel_account=account,
                external_id__in=[item.external_id for item in page.items],
            ).values_list("external_id", flat=True)
        )
        changed_conversations: set[int] = set()
        new_message_ids: set[int] = set()
        contacts: dict[str, Contact] = {}
        for item in parents_first(page.items):
            if item.external_id in known:
                continue
            known.add(item.external_id)
            contact = contacts.get(item.author.external_id)
            if contact is None:
                contact = upsert_contact(account.platform, contact_scope, item.author)
                contacts[item.author.external_id] = contact
            conversation, created = _conversation_for(account, item, contact)
            message = _add_inbound_message(account, conversation, item, contact)
            result.new_messages += 1
            result.new_conversations += int(created)
            changed_conversations.add(conversation.id)
            new_message_ids.add(message.id)

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
        publish_changes_on_commit(
            conversation_ids=changed_conversations, message_ids=new_message_ids
        )
    return result


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


def upsert_contact(platform: str, scope: str, author: InboundAuthor) -> Contact:
    """The contact for this platform identity, created with its own Person on first sight."""
    fields = {
        "handle": author.handle[:300],
        "display_name": author.display_name[:300],
        "avatar_url": safe_http_url(author.avatar_url),
        "profile_url": safe_http_url(author.profile_url),
    }
    contact = Contact.objects.filter(
        platform=platform, scope=scope, external_id=author.external_id
    ).first()
    if contact is None:
        try:
            with transaction.atomic():
                person = Person.objects.create(
                    display_name=author.display_name or author.handle or author.external_id
                )
                return Contact.objects.create(
                    platform=platform,
                    scope=scope,
                    external_id=author.external_id,
                    person=person,
                    **fields,
                )
        except IntegrityError:
            # Another channel on the same platform created this identity a moment ago.
            contact = Contact.objects.get(
                platform=platform, scope=scope, external_id=author.external_id
            )
    stale = {name: value for name, value in fields.items() if getattr(contact, name) != value}
    if stale:
        for name, value in stale.items():
            setattr(contact, name, value)
        contact.save(update_fields=[*stale, "updated_at"])
    return contact


def _conversation_for(
    account: ChannelAccount, item: InboundItem, contact: Contact
) -> tuple[Conversation, bool]:
    if item.parent_external_id:
        parent_conversation_id = (
            Message.objects.filter(channel_account=account, external_id=item.parent_external_id)
            .values_list("conversation_id", flat=True)
            .first()
        )
        if parent_conversation_id is not None:
            return Conversation.objects.select_for_update().get(pk=parent_conversation_id), False
    # Locked: an agent's reply (queue_reply) writes the same denormalized fields concurrently.
    conversation = (
        Conversation.objects.select_for_update()
        .filter(channel_account=account, thread_key=item.thread_key)
        .first()
    )
    if conversation is not None:
        return conversation, False
    conversation = Conversation.objects.create(
        channel_account=account,
        kind=item.kind,
        thread_key=item.thread_key,
        contact=contact,
        post_text=item.post_text,
        post_permalink=safe_http_url(item.post_permalink),
        status=ConversationStatus.NEW,
        last_message_at=item.created_at,
        first_response_due_at=item.created_at + DEFAULT_FIRST_RESPONSE_TARGET,
    )
    ConversationEvent.objects.create(
        conversation=conversation,
        kind=EventKind.CONVERSATION_CREATED,
        data={"thread_key": item.thread_key, "kind": item.kind},
    )
    return conversation, True


def _add_inbound_message(
    account: ChannelAccount, conversation: Conversation, item: InboundItem, contact: Contact
) -> Message:
    message = Message.objects.create(
        conversation=conversation,
        channel_account=account,
        external_id=item.external_id,
        parent_external_id=item.parent_external_id,
        direction=Direction.INBOUND,
        contact=contact,
        text=_storable(item.text),
        language=item.language,
        permalink=safe_http_url(item.permalink),
        sent_at=item.created_at,
        raw=_storable(item.raw),
    )
    update_fields = ["message_count", "updated_at"]
    conversation.message_count += 1
    if item.created_at >= conversation.last_message_at or conversation.message_count == 1:
        conversation.last_message_at = item.created_at
        conversation.last_message_preview = preview(item.text)
        conversation.last_message_direction = Direction.INBOUND
        update_fields += ["last_message_at", "last_message_preview", "last_message_direction"]
    if conversation.status in _REOPENING:
        before = conversation.status
        conversation.status = ConversationStatus.OPEN
        conversation.snoozed_until = None
        update_fields += ["status", "snoozed_until"]
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.STATUS_CHANGED,
            data={"before": before, "after": conversation.status, "reason": "new inbound message"},
        )
    conversation.save(update_fields=update_fields)
    ConversationEvent.objects.create(
        conversation=conversation,
        kind=EventKind.MESSAGE_RECEIVED,
        data={"message_id": message.id, "external_id": item.external_id},
    )
    return message


def _storable(payload: Any) -> Any:
    """Raw payloads are kept for evidence; NUL characters cannot be stored in PostgreSQL text."""
    if isinstance(payload, str):
        return payload.replace("\x00", "\ufffd")
    if isinstance(payload, dict):
        return {
            str(key).replace("\x00", "\ufffd"): _storable(value) for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [_storable(value) for value in payload]
    if payload is None or isinstance(payload, bool | int | float):
        return payload
    return repr(payload)
