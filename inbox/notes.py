"""Internal notes in a conversation: never sent to a platform; @mentions notify colleagues."""

from __future__ import annotations

import logging

from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox import live
from inbox.access import AnyUser, check_can_act
from inbox.actions import ActionRefused
from inbox.composer import mentioned_users
from inbox.live import publish_changes_on_commit
from inbox.models import Conversation, ConversationEvent, EventKind, Note, NotificationKind

logger = logging.getLogger(__name__)

MAX_NOTE_LENGTH = 10_000


def add_note(*, user: AnyUser, conversation: Conversation, text: str) -> Note:
    """Add an internal note to a conversation.

    Guarantees: only for users who may work in the conversation (AccessDenied); an empty or
    overlong note is refused (ActionRefused). `@username` mentions an active colleague who may
    see the conversation (others stay plain text and hear nothing). Note, mentions, the timeline
    event and the mentioned users' notifications are written in one transaction; the thread's
    live update ("note.changed") goes out only after it commits.
    """
    check_can_act(user, conversation)
    text = text.strip()
    if not text:
        raise ActionRefused(_("The note is empty."))
    if len(text) > MAX_NOTE_LENGTH:
        raise ActionRefused(
            _("The note is %(length)d characters long; at most %(limit)d are allowed.")
            % {"length": len(text), "limit": MAX_NOTE_LENGTH}
        )
    mentioned = mentioned_users(text=text, conversation=conversation)
    with transaction.atomic():
        before = sorted(
            set(
                Note.mentions.through.objects.filter(
                    note__conversation_id=conversation.pk
                ).values_list("user_id", flat=True)
            )
        )
        note = Note.objects.create(conversation=conversation, author_id=user.pk, text=text)
        note.mentions.set([m.pk for m in mentioned])
        if set(before) != set(before) | {m.pk for m in mentioned}:
            # The conversation enters someone's "Mentions of me": their count moves live.
            publish_changes_on_commit(
                conversation_ids=[conversation.pk],
                was={conversation.pk: {"mentioned": before}},
            )
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.NOTE_ADDED,
            data={"note_id": note.pk, "mentions": [m.pk for m in mentioned]},
        )
        # Mentioning oneself is a reminder in the text, not something to be told about.
        others = [m for m in mentioned if m.pk != user.pk]
        if others:
            from inbox.notifications import Localized, notify

            notify(
                users=others,
                kind=NotificationKind.MENTIONED,
                conversation=conversation,
                actor=user,  # type: ignore[arg-type]
                text=Localized(
                    gettext_lazy("%(name)s mentioned you in a note"), name=_display_name(user)
                ),
            )
        channel_account_id = conversation.channel_account_id
        transaction.on_commit(
            lambda: publish_note(note.pk, conversation.pk, channel_account_id), robust=True
        )
    return note


def _display_name(user: AnyUser) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def render_note(note: Note) -> str:
    """The note as the thread shows it (the same partial the page and live events use)."""
    return render_to_string("inbox/_note.html", {"note": note})


def publish_note(note_id: int, conversation_id: int, channel_account_id: int) -> None:
    """Send the note's rendered fragment to the browsers on its channel ("note.changed").

    A failure is logged, never raised: the note is committed, and a browser that missed the
    event shows it after its next resynchronization.
    """
    try:
        if not live.channels_with_listeners({channel_account_id}):
            return
        note = Note.objects.select_related("author").prefetch_related("mentions").get(pk=note_id)
        live.send_events(
            [
                (
                    live.channel_group(channel_account_id),
                    {
                        "type": "note.changed",
                        "conversation_id": conversation_id,
                        "note_id": note_id,
                        **live.in_languages(lambda: {"html": render_note(note)}),
                    },
                )
            ]
        )
    except Exception:
        logger.exception("live update for note %s failed", note_id)
