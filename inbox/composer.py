"""The composer's knowledge: saved replies (who sees them, search, the variant for a conversation,
placeholders), agent signatures, @mentions in notes, and sending a composed reply.

Writes here follow the house pattern (check permission, write in a transaction, record the
event, publish after commit); reading helpers are plain functions over querysets.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.access import (
    AccessDenied,
    AnyUser,
    can_view_channel,
    led_department_ids,
    visible_channel_ids,
)
from inbox.actions import ActionRefused, queue_reply
from inbox.models import (
    AgentSignature,
    Conversation,
    Department,
    Message,
    OutboundAction,
    SavedReply,
    SavedReplyVariant,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# Between the agent's text and their signature; counted in the platform's length limit.
SIGNATURE_SEPARATOR = "\n\n"
PLACEHOLDERS = ("author", "agent", "channel", "date", "guidelines", "guidelines_url")
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# `@name` not glued to a word before it (so e-mail addresses are not mentions); a name may hold
# the characters Django allows in usernames except "@", and ends in a word character so that
# "@kim." at the end of a sentence mentions "kim".
MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]*\w)")
MAX_MENTIONS = 20
PREVIEW_LENGTH = 140


class ReplyCollision(ActionRefused):
    """A colleague is writing a reply here; the sender has to take over explicitly."""


# --- saved replies: who sees them ---------------------------------------------------------


def saved_replies_for(user: AnyUser) -> QuerySet[SavedReply]:
    """Saved replies the user may use: unscoped ones, those of their departments; admins all."""
    if not user.is_authenticated or not user.is_active:
        return SavedReply.objects.none()
    if getattr(user, "is_superuser", False):
        return SavedReply.objects.all()
    scopes = SavedReply.departments.through.objects.filter(savedreply_id=OuterRef("pk"))
    mine = scopes.filter(department__memberships__user_id=user.pk)
    # Exists() rather than a join: no duplicate rows, no DISTINCT.
    return SavedReply.objects.filter(~Exists(scopes) | Exists(mine))


def can_manage_saved_replies(user: AnyUser) -> bool:
    """Admins manage every saved reply; department leads those scoped to their departments."""
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(getattr(user, "is_superuser", False) or led_department_ids(user))


def can_manage_saved_reply(user: AnyUser, saved_reply: SavedReply) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    scope = {department.pk for department in saved_reply.departments.all()}
    # An unscoped reply is seen by everyone, so only an admin may change it.
    return bool(scope) and scope <= led_department_ids(user)


def manageable_saved_replies(user: AnyUser) -> list[SavedReply]:
    """The saved replies this user may edit or delete, with their variants and departments."""
    replies = SavedReply.objects.prefetch_related("variants", "departments").order_by("title")
    if getattr(user, "is_superuser", False):
        return list(replies)
    led = led_department_ids(user)
    if not led:
        return []
    candidates = replies.filter(departments__in=led).distinct()
    return [reply for reply in candidates if can_manage_saved_reply(user, reply)]


def manageable_departments(user: AnyUser) -> QuerySet[Department]:
    """Departments a saved reply may be scoped to by this user."""
    if getattr(user, "is_superuser", False):
        return Department.objects.all()
    return Department.objects.filter(pk__in=led_department_ids(user))


# --- saved replies: choosing and rendering ------------------------------------------------


def _primary_language(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-")[0]


def choose_variant(
    variants: Iterable[SavedReplyVariant], *, tone: str, language: str
) -> SavedReplyVariant | None:
    """The wording to use: the conversation's language in the channel's tone; else that
    language in the neutral tone, then in any tone; else English, else anything.

    Without a channel tone the neutral wording is preferred, then the formal one ("Sie"):
    addressing a stranger formally is the safe mistake in German.
    """
    wanted = _primary_language(language)
    tone_order = {tone: 0, "": 1} if tone else {"": 0, "sie": 1}

    def rank(variant: SavedReplyVariant) -> tuple[int, int, str, str]:
        own = _primary_language(variant.language)
        language_rank = 0 if wanted and own == wanted else 1 if own == "en" else 2
        return (language_rank, tone_order.get(variant.tone, 2), own, variant.tone)

    return min(variants, key=rank, default=None)


def conversation_tone_and_language(conversation: Conversation) -> tuple[str, str]:
    """The tone (channel default) and language (conversation's, else channel default) to use."""
    channel = conversation.channel_account
    return channel.default_tone, conversation.language or channel.default_language


def agent_name(user: Any) -> str:
    """How an agent signs a reply: the first name, as people do in community management."""
    if user is None:  # an automatic reply
        return ""
    return (
        getattr(user, "first_name", "")
        or (user.get_full_name() if hasattr(user, "get_full_name") else "")
        or user.get_username()
    )


def format_date(day: date, language: str) -> str:
    if _primary_language(language) == "de":
        return day.strftime("%d.%m.%Y")
    return f"{day.day} {day:%B} {day.year}"


def placeholder_values(*, user: Any, conversation: Conversation, language: str) -> dict[str, str]:
    contact = conversation.contact
    author = (contact.display_name or contact.handle) if contact else ""
    return {
        "author": author,
        "agent": agent_name(user),
        "channel": conversation.channel_account.name,
        "date": format_date(timezone.localdate(), language),
        **guideline_placeholders(conversation.channel_account_id),
    }


def guideline_placeholders(channel_account_id: int) -> dict[str, str]:
    """{guidelines} (the channel's community guidelines in short) and {guidelines_url}."""
    from moderation.guidelines import guideline_for

    guideline = guideline_for(channel_account_id)
    if guideline is None:
        return {"guidelines": "", "guidelines_url": ""}
    return {
        "guidelines": guideline.summary or guideline.title,
        "guidelines_url": guideline.url,
    }


def render_placeholders(text: str, values: dict[str, str]) -> str:
    """Fill {author}, {agent}, {channel}, {date}, {guidelines}, {guidelines_url}; any other
    braces stay as they are.

    Not str.format: saved-reply text is written by people, and format() would both fail on a
    stray brace and let "{author.__class__}" reach into Python objects.
    """
    return _PLACEHOLDER_RE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


@dataclass(frozen=True)
class SavedReplySuggestion:
    """One entry of the `/` picker: the chosen variant, rendered for this conversation."""

    id: int
    title: str
    shortcut: str
    text: str
    preview: str
    language: str
    tone: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "shortcut": self.shortcut,
            "text": self.text,
            "preview": self.preview,
            "language": self.language,
            "tone": self.tone,
        }


def search_saved_replies(*, user: AnyUser, query: str, limit: int = 8) -> list[SavedReply]:
    """Saved replies the user may use matching `query` (shortcut, title or text), best first:
    exact shortcut, shortcut prefix, title prefix, then the rest by title."""
    replies = saved_replies_for(user).prefetch_related("variants")
    query = query.strip()
    if query:
        in_text = SavedReplyVariant.objects.filter(
            saved_reply_id=OuterRef("pk"), text__icontains=query
        )
        replies = (
            replies.filter(
                Q(shortcut__istartswith=query) | Q(title__icontains=query) | Exists(in_text)
            )
            .annotate(
                rank=Case(
                    When(shortcut__iexact=query, then=Value(0)),
                    When(shortcut__istartswith=query, then=Value(1)),
                    When(title__istartswith=query, then=Value(2)),
                    default=Value(3),
                    output_field=IntegerField(),
                )
            )
            .order_by("rank", "title", "pk")
        )
    else:
        replies = replies.order_by("title", "pk")
    return list(replies[:limit])


def suggest_saved_replies(
    *, user: AnyUser, conversation: Conversation, query: str, limit: int = 8
) -> list[SavedReplySuggestion]:
    """The `/` picker's entries for this conversation: the variant for its channel's tone and
    its language, with the placeholders filled in."""
    tone, language = conversation_tone_and_language(conversation)
    suggestions = []
    for reply in search_saved_replies(user=user, query=query, limit=limit):
        variant = choose_variant(reply.variants.all(), tone=tone, language=language)
        if variant is None:
            continue
        values = placeholder_values(user=user, conversation=conversation, language=language)
        text = render_placeholders(variant.text, values)
        flat = " ".join(text.split())
        suggestions.append(
            SavedReplySuggestion(
                id=reply.pk,
                title=reply.title,
                shortcut=reply.shortcut,
                text=text,
                preview=flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1] + "…",
                language=variant.language,
                tone=variant.tone,
            )
        )
    return suggestions


# --- saved replies: managing ---------------------------------------------------------------


@dataclass(frozen=True)
class VariantText:
    language: str
    tone: str
    text: str


def save_saved_reply(
    *,
    user: AnyUser,
    saved_reply: SavedReply | None,
    title: str,
    shortcut: str,
    department_ids: Collection[int],
    variants: Sequence[VariantText],
) -> SavedReply:
    """Create (saved_reply None) or change a saved reply with exactly these variants.

    Guarantees: only admins, or leads for replies scoped to departments they lead (a lead's
    reply must be scoped to at least one of them: AccessDenied / ActionRefused otherwise); the
    shortcut is unique; one language/tone per variant; reply, scope and variants change in one
    transaction, so the picker never sees a reply without its wording.
    """
    if not can_manage_saved_replies(user):
        raise AccessDenied(_("not allowed to manage saved replies"))
    if saved_reply is not None and not can_manage_saved_reply(user, saved_reply):
        raise AccessDenied(_("not allowed to manage this saved reply"))
    departments = set(department_ids)
    if not getattr(user, "is_superuser", False):
        if not departments:
            raise ActionRefused(_("Choose at least one of your departments."))
        if not departments <= led_department_ids(user):
            raise AccessDenied(_("not a lead of every chosen department"))
    cleaned = [
        VariantText(_primary_language(v.language) or "en", v.tone, v.text.strip())
        for v in variants
        if v.text.strip()
    ]
    if not cleaned:
        raise ActionRefused(_("Write at least one wording of the reply."))
    keys = [(v.language, v.tone) for v in cleaned]
    if len(set(keys)) != len(keys):
        raise ActionRefused(_("Each language and tone may have only one wording."))
    title, shortcut = title.strip(), shortcut.strip().lower()
    if not title or not shortcut:
        raise ActionRefused(_("A saved reply needs a title and a shortcut."))
    taken = SavedReply.objects.filter(shortcut=shortcut)
    if saved_reply is not None:
        taken = taken.exclude(pk=saved_reply.pk)
    if taken.exists():
        raise ActionRefused(_("The shortcut /%(shortcut)s is taken.") % {"shortcut": shortcut})
    try:
        with transaction.atomic():
            if saved_reply is None:
                saved_reply = SavedReply.objects.create(
                    title=title, shortcut=shortcut, created_by_id=user.pk
                )
            else:
                saved_reply.title, saved_reply.shortcut = title, shortcut
                saved_reply.save(update_fields=["title", "shortcut", "updated_at"])
            saved_reply.departments.set(departments)
            saved_reply.variants.all().delete()
            SavedReplyVariant.objects.bulk_create(
                SavedReplyVariant(
                    saved_reply=saved_reply, language=v.language, tone=v.tone, text=v.text
                )
                for v in cleaned
            )
    except IntegrityError as exc:
        # Two people saving the same shortcut at once: the constraint decides.
        raise ActionRefused(
            _("The shortcut /%(shortcut)s is taken.") % {"shortcut": shortcut}
        ) from exc
    return saved_reply


def delete_saved_reply(*, user: AnyUser, saved_reply: SavedReply) -> None:
    """Delete a saved reply and its variants; only for those who may manage it (AccessDenied)."""
    if not can_manage_saved_reply(user, saved_reply):
        raise AccessDenied(_("not allowed to manage this saved reply"))
    saved_reply.delete()


# --- signatures ----------------------------------------------------------------------------


def signature_for(*, user: AnyUser, channel_account_id: int) -> str:
    """The agent's signature on this channel: the channel's own, else their default, else ""."""
    if not user.is_authenticated:
        return ""
    signatures = {
        signature.channel_account_id: signature.text
        for signature in AgentSignature.objects.filter(user_id=user.pk).filter(
            Q(channel_account_id=channel_account_id) | Q(channel_account__isnull=True)
        )
    }
    return signatures.get(channel_account_id) or signatures.get(None) or ""


def with_signature(text: str, signature: str) -> str:
    text, signature = text.strip(), signature.strip()
    if not text or not signature:
        return text
    return f"{text}{SIGNATURE_SEPARATOR}{signature}"


def set_signature(*, user: AnyUser, channel_account_id: int | None, text: str) -> None:
    """Set (or with empty text remove) the user's default or per-channel signature.

    Only for channels the user may see (AccessDenied); idempotent; one row per user and
    channel, kept by the database's unique constraints.
    """
    if not user.is_authenticated:
        raise AccessDenied(_("not signed in"))
    if channel_account_id is not None and not can_view_channel(user, channel_account_id):
        raise AccessDenied(_("not allowed on this channel"))
    text = text.strip()
    if len(text) > AgentSignature._meta.get_field("text").max_length:  # type: ignore[operator]
        raise ActionRefused(_("The signature is too long."))
    rows = AgentSignature.objects.filter(user_id=user.pk, channel_account_id=channel_account_id)
    with transaction.atomic():
        if not text:
            rows.delete()
        elif not rows.update(text=text):
            AgentSignature.objects.create(
                user_id=user.pk, channel_account_id=channel_account_id, text=text
            )


def signature_channels(user: AnyUser) -> QuerySet[Any]:
    """The channels a user may set a signature for: those they may see."""
    from channels_integrations.models import ChannelAccount

    ids = visible_channel_ids(user)
    channels = ChannelAccount.objects.order_by("name", "pk")
    return channels if ids is None else channels.filter(pk__in=ids)


# --- replies -------------------------------------------------------------------------------


def send_reply(
    *,
    user: AnyUser,
    conversation: Conversation,
    text: str,
    in_reply_to: Message | None = None,
    private: bool = False,
    take_over: bool = False,
) -> OutboundAction:
    """Queue the agent's reply from the composer, with their signature for this channel.

    Guarantees: refused with ReplyCollision ("X is replying…") while a colleague holds the reply
    here, unless `take_over` (inbox.presence records the take-over and tells the colleague);
    the signature counts against the platform's length limit (queue_reply refuses what the
    platform would); take-over, reply and releasing the sender's hold on the reply are one
    transaction, so a refused reply takes nothing over. Otherwise as inbox.actions.queue_reply:
    a reply that needs a lead's approval (inbox.approval) is stored as a draft awaiting review,
    and the sender's hold on the reply is released all the same (the draft is written).
    """
    from inbox.presence import check_reply_allowed, finish_reply

    signature = signature_for(user=user, channel_account_id=conversation.channel_account_id)
    with transaction.atomic():
        try:
            check_reply_allowed(user=user, conversation=conversation, take_over=take_over)
        except ActionRefused as exc:
            raise ReplyCollision(str(exc)) from exc
        action = queue_reply(
            user=user,
            conversation=conversation,
            text=with_signature(text, signature),
            in_reply_to=in_reply_to,
            private=private,
        )
        finish_reply(user=user, conversation=conversation)  # type: ignore[arg-type]
    return action


# --- mentions ------------------------------------------------------------------------------


def mentioned_names(text: str) -> list[str]:
    """`@names` in the text, lower-cased, in order, each once."""
    names: list[str] = []
    for match in MENTION_RE.finditer(text):
        name = match.group(1).lower()
        if name not in names:
            names.append(name)
    return names[:MAX_MENTIONS]


def mentioned_users(*, text: str, conversation: Conversation) -> list[AbstractBaseUser]:
    """Active users named with `@username` who may see the conversation; other names stay text."""
    names = mentioned_names(text)
    if not names:
        return []
    candidates = (
        get_user_model()
        .objects.annotate(lower_username=Lower("username"))
        .filter(is_active=True, lower_username__in=names)
    )
    return [
        user
        for user in candidates.order_by("username")
        if can_view_channel(user, conversation.channel_account_id)
    ]


# --- demo ----------------------------------------------------------------------------------

_DEMO_REPLIES: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    (
        "Thanks for the feedback",
        "danke",
        [
            (
                "de",
                "du",
                "Hallo {author}, danke dir für dein Feedback! Wir geben es an das "
                "zuständige Team weiter. Viele Grüße, {agent}",
            ),
            (
                "de",
                "sie",
                "Guten Tag {author}, vielen Dank für Ihr Feedback! Wir geben es an "
                "das zuständige Team weiter. Freundliche Grüße, {agent}",
            ),
            (
                "en",
                "",
                "Hi {author}, thanks for your feedback! We've passed it on to the team "
                "in charge. Best, {agent}",
            ),
        ],
    ),
    (
        "Please send us a direct message",
        "dm",
        [
            (
                "de",
                "du",
                "Hallo {author}, das schauen wir uns gern genauer an. Schreib uns "
                "bitte eine Direktnachricht mit deiner Kundennummer, dann melden wir uns. {agent}",
            ),
            (
                "de",
                "sie",
                "Guten Tag {author}, das sehen wir uns gern genauer an. Bitte "
                "schreiben Sie uns eine Direktnachricht mit Ihrer Kundennummer. {agent}",
            ),
            (
                "en",
                "",
                "Hi {author}, we'd like to look into this. Please send us a direct "
                "message with your customer number and we'll get back to you. {agent}",
            ),
        ],
    ),
    (
        "We are looking into it",
        "pruefen",
        [
            (
                "de",
                "du",
                "Hallo {author}, danke für den Hinweis! Wir prüfen das gerade und "
                "melden uns bis morgen bei dir. {agent}",
            ),
            (
                "de",
                "sie",
                "Guten Tag {author}, danke für den Hinweis! Wir prüfen das und "
                "melden uns bis morgen bei Ihnen. {agent}",
            ),
            (
                "en",
                "",
                "Hi {author}, thanks for letting us know! We're looking into it and "
                "will get back to you by tomorrow. {agent}",
            ),
        ],
    ),
    (
        "Known outage",
        "stoerung",
        [
            (
                "de",
                "du",
                "Hallo {author}, seit heute ({date}) gibt es eine bekannte Störung. "
                "Unser Technikteam arbeitet daran, sorry für den Ärger! {agent}",
            ),
            (
                "de",
                "sie",
                "Guten Tag {author}, seit heute ({date}) besteht eine bekannte "
                "Störung. Unser Technikteam arbeitet mit Hochdruck daran. {agent}",
            ),
            (
                "en",
                "",
                "Hi {author}, there is a known outage since today ({date}). Our "
                "engineers are on it; sorry for the trouble! {agent}",
            ),
        ],
    ),
    (
        "Community guidelines",
        "netiquette",
        [
            (
                "de",
                "du",
                "Hallo {author}, wir freuen uns über Kritik, bitten dich aber um "
                "einen respektvollen Ton. Unsere Netiquette gilt für alle auf {channel}. {agent}",
            ),
            (
                "de",
                "sie",
                "Guten Tag {author}, Kritik ist hier willkommen, wir bitten Sie "
                "aber um einen respektvollen Ton. Unsere Netiquette gilt für alle auf {channel}.",
            ),
            (
                "en",
                "",
                "Hi {author}, criticism is welcome here, but please keep it respectful. "
                "Our community guidelines apply to everyone on {channel}. {agent}",
            ),
        ],
    ),
]


def seed_demo_saved_replies() -> list[SavedReply]:
    """Five realistic saved replies (German du/sie and English) for the demo; idempotent:
    a shortcut that exists already is left as it is."""
    replies = []
    with transaction.atomic():
        for title, shortcut, variants in _DEMO_REPLIES:
            reply, created = SavedReply.objects.get_or_create(
                shortcut=shortcut, defaults={"title": title}
            )
            if created:
                SavedReplyVariant.objects.bulk_create(
                    SavedReplyVariant(saved_reply=reply, language=lang, tone=tone, text=text)
                    for lang, tone, text in variants
                )
            replies.append(reply)
    return replies
