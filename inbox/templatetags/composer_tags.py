"""Template helpers for the composer and for internal notes in the thread."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from inbox.composer import MENTION_RE, SIGNATURE_SEPARATOR, signature_for
from inbox.models import Conversation, Message, Note

register = template.Library()


@dataclass(frozen=True)
class ComposerState:
    """What the composer form needs beyond the conversation view's context."""

    can_reply: bool
    can_private: bool
    initial_mode: str
    signature: str
    # The signature as it adds to the reply's length (separator included): the counter's offset.
    signature_length: int
    reply_url: str
    note_url: str
    saved_replies_url: str
    signatures_url: str
    # Four-eyes: this user's replies here wait for a lead's approval.
    reviewed: bool = False


@register.simple_tag(takes_context=True)
def composer_state(
    context: template.Context, conversation: Conversation, capabilities: Iterable[str]
) -> ComposerState:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    capabilities = set(capabilities)
    can_reply = "reply" in capabilities
    signature = ""
    reviewed = False
    if user is not None and can_reply:
        from inbox.approval import reply_needs_approval

        signature = signature_for(user=user, channel_account_id=conversation.channel_account_id)
        reviewed = reply_needs_approval(user, conversation)
    return ComposerState(
        reviewed=reviewed,
        can_reply=can_reply,
        can_private="private_reply" in capabilities,
        initial_mode="reply" if can_reply else "note",
        signature=signature,
        signature_length=len(SIGNATURE_SEPARATOR + signature) if signature else 0,
        reply_url=reverse("inbox:reply", args=[conversation.pk]),
        note_url=reverse("inbox:note", args=[conversation.pk]),
        saved_replies_url=reverse("inbox:saved_reply_search", args=[conversation.pk]),
        signatures_url=reverse("inbox:signatures"),
    )


@register.filter
def note_html(note: Note) -> SafeString:
    """The note's text, escaped, with line breaks, and its real mentions highlighted.

    Built only from escaped pieces: a note is typed by a person and may contain anything.
    """
    mentioned = {user.get_username().lower() for user in note.mentions.all()}
    parts: list[str] = []
    last = 0
    for match in MENTION_RE.finditer(note.text):
        parts.append(escape(note.text[last : match.start()]))
        name = match.group(1)
        if name.lower() in mentioned:
            parts.append(format_html('<span class="mention">@{}</span>', name))
        else:
            parts.append(escape(match.group(0)))
        last = match.end()
    parts.append(escape(note.text[last:]))
    html = "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - every piece above is escaped


@dataclass(frozen=True)
class ThreadEntry:
    item: Message | Note
    is_note: bool


@register.simple_tag
def thread_entries(conversation: Conversation, messages: Iterable[Message]) -> list[ThreadEntry]:
    """Messages and internal notes of a conversation in the order they happened."""
    entries = [ThreadEntry(message, False) for message in messages]
    notes = Note.objects.filter(conversation=conversation).select_related("author")
    entries.extend(ThreadEntry(note, True) for note in notes.prefetch_related("mentions"))

    def when(entry: ThreadEntry) -> Any:
        item = entry.item
        return item.created_at if isinstance(item, Note) else item.sent_at

    return sorted(entries, key=when)


@register.simple_tag(takes_context=True)
def manages_saved_replies(context: template.Context) -> bool:
    """Whether the signed-in user may open the saved replies pages (admins, department leads)."""
    from inbox.composer import can_manage_saved_replies

    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return user is not None and can_manage_saved_replies(user)
