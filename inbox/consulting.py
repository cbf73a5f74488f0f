"""Consulting a colleague outside the inbox by e-mail (docs/approval.md, "Consulting").

An agent asks an expert (with or without an account) for advice on one conversation. The expert
gets an e-mail with a link that carries a random token; only the token's SHA-256 is stored, so
a copy of the database opens no consultation. The link shows that one conversation (its post
and its messages, never internal notes, never other conversations, never links into the app)
until it expires, is withdrawn or is answered. The answer comes back as an internal note by
the expert ("Name <email>"), and the conversation shows "waiting for internal answer" while any
consultation of it is open.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.access import AnyUser, check_can_act
from inbox.actions import ActionRefused
from inbox.live import publish_changes_on_commit
from inbox.models import (
    Consultation,
    Conversation,
    ConversationEvent,
    Department,
    Direction,
    EventKind,
    Message,
    Note,
    NotificationKind,
)
from inbox.notes import MAX_NOTE_LENGTH, publish_note
from inbox.notifications import Localized, languages_of, notify

logger = logging.getLogger(__name__)

DEFAULT_VALID_FOR = timedelta(days=7)
MAX_VALID_FOR = timedelta(days=30)
MAX_QUESTION_LENGTH = 5000


class ConsultationUnknown(Exception):
    """No consultation has this token (views answer 404)."""


class ConsultationClosed(Exception):
    """The link expired, was withdrawn or was answered already (views answer 410).

    `reason` is "expired", "withdrawn" or "answered"; `consultation` is the row.
    """

    def __init__(self, consultation: Consultation, reason: str) -> None:
        super().__init__(reason)
        self.consultation = consultation
        self.reason = reason


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expert_label(consultation: Consultation) -> str:
    """How the expert signs their answer: "Name <email>", or the address alone."""
    name = consultation.expert_name.strip()
    return f"{name} <{consultation.expert_email}>" if name else consultation.expert_email


def open_consultations() -> Q:
    """Consultations that can still be answered (not answered, withdrawn or expired)."""
    return Q(answered_at__isnull=True, withdrawn_at__isnull=True, expires_at__gt=timezone.now())


def closed_reason(consultation: Consultation, now: datetime | None = None) -> str:
    """Why the link no longer opens ("" while it does); an answer outranks an expiry."""
    if consultation.answered_at is not None:
        return "answered"
    if consultation.withdrawn_at is not None:
        return "withdrawn"
    if consultation.expires_at <= (now or timezone.now()):
        return "expired"
    return ""


def find_consultation(token: str) -> Consultation:
    """The consultation for a link's token, if it is still open.

    ConsultationUnknown for a token nobody issued; ConsultationClosed (with the reason) for an
    expired, withdrawn or answered one. The stored hash is compared in constant time.
    """
    digest = token_hash(token)
    consultation = (
        Consultation.objects.select_related("conversation__channel_account", "requested_by")
        .filter(token_hash=digest)
        .first()
    )
    if consultation is None or not hmac.compare_digest(consultation.token_hash, digest):
        raise ConsultationUnknown
    reason = closed_reason(consultation)
    if reason:
        raise ConsultationClosed(consultation, reason)
    return consultation


def request_advice(
    *,
    user: AnyUser,
    conversation: Conversation,
    expert_email: str,
    expert_name: str,
    question: str,
    department: Department | None = None,
    valid_for: timedelta = DEFAULT_VALID_FOR,
    base_url: str = "",
) -> tuple[Consultation, str]:
    """Ask an expert for advice on this conversation by e-mail; returns the consultation and
    the link (which is not stored anywhere: only its hash is).

    Guarantees: only users who may work in the conversation (AccessDenied / ReadOnly); a valid
    address and a question are required, and a lifetime of at most MAX_VALID_FOR
    (ActionRefused). Without an address, the department's contact person is asked. The
    consultation, the conversation's "waiting for internal answer" mark (set if not set yet)
    and the timeline event are one transaction; the e-mail and the live update go out only
    after it commits, so no link is ever mailed for a consultation that was rolled back. A
    failed e-mail is logged, not raised (the requester can withdraw and ask again).

    The link is built from settings.SITE_URL when set, else from `base_url` (the view passes
    request.build_absolute_uri("/")).
    """
    check_can_act(user, conversation)
    expert_email, expert_name = expert_email.strip(), expert_name.strip()
    if not expert_email and department is not None and department.contact_person is not None:
        contact = department.contact_person
        expert_email = contact.email
        expert_name = expert_name or contact.get_full_name() or contact.get_username()
    try:
        validate_email(expert_email)
    except ValidationError:
        raise ActionRefused(_("Enter the expert's e-mail address.")) from None
    question = question.strip()
    if not question:
        raise ActionRefused(_("Write the question for the expert."))
    if len(question) > MAX_QUESTION_LENGTH:
        raise ActionRefused(
            _("The question is %(length)d characters long; at most %(limit)d are allowed.")
            % {"length": len(question), "limit": MAX_QUESTION_LENGTH}
        )
    if not timedelta(0) < valid_for <= MAX_VALID_FOR:
        raise ActionRefused(_("A link may be valid for one minute up to 30 days."))
    site = getattr(settings, "SITE_URL", "") or base_url
    if not site:
        raise ValueError("request_advice needs settings.SITE_URL or a base_url for the link")

    token = secrets.token_urlsafe(32)
    link = urljoin(site, reverse("consult:answer", args=[token]))
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("channel_account", "contact")
            .get(pk=conversation.pk)
        )
        now = timezone.now()
        consultation = Consultation.objects.create(
            conversation=locked,
            requested_by_id=user.pk,
            department=department,
            expert_name=expert_name[:200],
            expert_email=expert_email,
            question=question,
            token_hash=token_hash(token),
            expires_at=now + valid_for,
        )
        if locked.awaiting_internal_since is None:
            locked.awaiting_internal_since = now
            locked.save(update_fields=["awaiting_internal_since", "updated_at"])
        ConversationEvent.objects.create(
            conversation=locked,
            actor_id=user.pk,
            kind=EventKind.CONSULT_REQUESTED,
            data={
                "consultation_id": consultation.pk,
                "expert": expert_label(consultation),
                "department": department.name if department is not None else "",
                "expires_at": consultation.expires_at.isoformat(),
            },
        )
        mail = _invitation(consultation, locked, user, link)
        transaction.on_commit(lambda: _send(consultation.pk, mail), robust=True)
        publish_changes_on_commit(conversation_ids=[locked.pk])
    return consultation, link


def answer_advice(*, token: str, text: str) -> Note:
    """The expert's answer: an internal note signed "Name <email>".

    Guarantees: only through an open link (ConsultationUnknown / ConsultationClosed, checked
    again under the consultation's row lock, so two answers sent at once make one note and one
    refusal); an empty or overlong answer is refused (ActionRefused). Note, consultation, the
    conversation's waiting mark (cleared when no other consultation of it is open), timeline
    event and the notifications of the requester and the assignee are one transaction; the
    live updates (thread and list) go out after commit.
    """
    text = text.strip()
    if not text:
        raise ActionRefused(_("Write your answer first."))
    if len(text) > MAX_NOTE_LENGTH:
        raise ActionRefused(
            _("The answer is %(length)d characters long; at most %(limit)d are allowed.")
            % {"length": len(text), "limit": MAX_NOTE_LENGTH}
        )
    found = find_consultation(token)
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("channel_account", "contact", "assignee")
            .get(pk=found.conversation_id)
        )
        consultation = (
            Consultation.objects.select_for_update(of=("self",))
            .select_related("requested_by")
            .get(pk=found.pk)
        )
        reason = closed_reason(consultation)
        if reason:
            raise ConsultationClosed(consultation, reason)
        now = timezone.now()
        expert = expert_label(consultation)
        note = Note.objects.create(
            conversation=conversation, author=None, external_author=expert[:300], text=text
        )
        consultation.answered_at = now
        consultation.answer_note = note
        consultation.save(update_fields=["answered_at", "answer_note"])
        _update_waiting_mark(conversation)
        ConversationEvent.objects.create(
            conversation=conversation,
            actor=None,
            kind=EventKind.CONSULT_ANSWERED,
            data={"consultation_id": consultation.pk, "note_id": note.pk, "expert": expert},
        )
        told = [u for u in (consultation.requested_by, conversation.assignee) if u is not None]
        notify(
            users=told,
            kind=NotificationKind.CONSULT_ANSWERED,
            conversation=conversation,
            actor=None,
            text=Localized(
                gettext_lazy("%(expert)s answered: %(preview)s"),
                expert=expert,
                preview=" ".join(text.split())[:160],
            ),
        )
        channel_account_id = conversation.channel_account_id
        transaction.on_commit(
            lambda: publish_note(note.pk, conversation.pk, channel_account_id), robust=True
        )
        publish_changes_on_commit(conversation_ids=[conversation.pk])
    return note


def withdraw_advice(*, user: AnyUser, consultation: Consultation) -> Consultation:
    """Close an open consultation's link before it is answered (asked the wrong person, the
    question is settled).

    Guarantees: only users who may work in the conversation (AccessDenied / ReadOnly); an
    answered or already withdrawn consultation is refused (ActionRefused); under the row lock,
    so a withdrawal and an answer at the same moment cannot both succeed. The conversation's
    waiting mark is cleared when no other consultation of it is open; live update after commit.
    """
    check_can_act(user, consultation.conversation)
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=consultation.conversation_id)
        locked = Consultation.objects.select_for_update().get(pk=consultation.pk)
        if locked.answered_at is not None:
            raise ActionRefused(_("The expert has answered already."))
        if locked.withdrawn_at is not None:
            raise ActionRefused(_("This request was withdrawn already."))
        locked.withdrawn_at = timezone.now()
        locked.save(update_fields=["withdrawn_at"])
        ConversationEvent.objects.create(
            conversation=conversation,
            actor_id=user.pk,
            kind=EventKind.CONSULT_WITHDRAWN,
            data={"consultation_id": locked.pk, "expert": expert_label(locked)},
        )
        _update_waiting_mark(conversation)
        publish_changes_on_commit(conversation_ids=[conversation.pk])
    return locked


def expire_consultations() -> int:
    """Clear "waiting for internal answer" on conversations whose every consultation is closed
    (links that expired unanswered). Idempotent; meant for a periodic task. Returns how many
    conversations changed."""
    waiting = Conversation.objects.filter(awaiting_internal_since__isnull=False).exclude(
        pk__in=Consultation.objects.filter(open_consultations()).values("conversation_id")
    )
    changed = []
    with transaction.atomic():
        for conversation in waiting.select_for_update(skip_locked=True):
            if _update_waiting_mark(conversation):
                changed.append(conversation.pk)
        if changed:
            publish_changes_on_commit(conversation_ids=changed)
    return len(changed)


def consultations_of(conversation: Conversation) -> QuerySet[Consultation]:
    """The conversation's consultations, newest first, for the conversation page."""
    return Consultation.objects.filter(conversation=conversation).select_related(
        "requested_by", "department", "answer_note"
    )


@dataclass(frozen=True)
class SharedMessage:
    """One message as the expert sees it: who (display name only), when, what."""

    author: str
    inbound: bool
    sent_at: datetime
    text: str
    state: str


def shared_thread(consultation: Consultation) -> list[SharedMessage]:
    """What the expert's page shows of the thread: the customer's messages and the replies
    that reached the platform, oldest first. Drafts awaiting approval, rejected, queued and
    failed replies, internal notes, handles, attachments and links stay out."""
    messages = (
        Message.objects.filter(conversation_id=consultation.conversation_id)
        .filter(Q(direction=Direction.INBOUND) | Q(external_id__isnull=False))
        .select_related("contact", "author")
        .order_by("sent_at", "id")
    )
    shared = []
    for message in messages:
        if message.direction == Direction.INBOUND:
            author = (message.contact.display_name if message.contact else "") or _("Customer")
        elif message.author is not None:
            author = message.author.get_full_name() or message.author.get_username()
        else:
            author = _("Our team")  # posted on the platform directly
        shared.append(
            SharedMessage(
                author=author,
                inbound=message.direction == Direction.INBOUND,
                sent_at=message.sent_at,
                text=message.text,
                state=message.platform_state,
            )
        )
    return shared


# Internals.


def _update_waiting_mark(conversation: Conversation) -> bool:
    """Clear awaiting_internal_since when no consultation of the (locked) conversation is open;
    True when it changed."""
    if conversation.awaiting_internal_since is None:
        return False
    if (
        Consultation.objects.filter(conversation_id=conversation.pk)
        .filter(open_consultations())
        .exists()
    ):
        return False
    conversation.awaiting_internal_since = None
    conversation.save(update_fields=["awaiting_internal_since", "updated_at"])
    return True


def _invitation(
    consultation: Consultation, conversation: Conversation, user: Any, link: str
) -> dict[str, Any]:
    """The e-mail, rendered inside the transaction (the rows are at hand), sent after it, in
    the expert's language when they have an account here (else the site's)."""
    context = {
        "consultation": consultation,
        "conversation": conversation,
        "requester": user.get_full_name() or user.get_username(),
        "link": link,
    }
    with translation.override(_language_of_address(consultation.expert_email)):
        subject = render_to_string("consult/invitation_subject.txt", context)
        message = render_to_string("consult/invitation.txt", context)
    return {
        "subject": " ".join(subject.split())[:200],
        "message": message,
        "from_email": None,
        "recipient_list": [consultation.expert_email],
    }


def _language_of_address(email: str) -> str:
    """The language of the active user with this address, or the site's (an outside expert)."""
    user_id = (
        get_user_model()
        .objects.filter(email__iexact=email, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if user_id is None:
        return settings.LANGUAGE_CODE
    return languages_of([user_id])[user_id]


def _send(consultation_id: int, mail: dict[str, Any]) -> None:
    try:
        send_mail(**mail, fail_silently=False)
    except Exception:
        logger.exception("could not e-mail consultation %s", consultation_id)
