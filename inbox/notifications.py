"""The notification centre: who is told what, and whether it may pop up or ring right now.

`notify` is the one way a notification is made. Its guarantees:
- a notification only for users whose preferences include its kind in the app, never for the
  person who caused it, never for an inactive user, never about a conversation the user may not
  see (the rule of inbox.access.visible_channel_ids, read for all recipients in one query);
- set-based: one query for the recipients' preferences, one for their visibility, one insert,
  whatever the number of users (and, in notify_new_items, of conversations);
- written in the caller's transaction; the live push to each user's group (with the rendered
  row, the unread count and whether the browser may pop up a desktop notification and ring)
  goes out after commit, so nobody is told about something that was rolled back.

Whether a notification may interrupt (desktop pop-up, sound) is decided by pure functions of
the preferences and `now` (`may_interrupt`, `delivery_for`), in the user's time zone.

Notifications speak their recipient's language (their preference, else the site's): callers
pass a `Localized` text, rendered once per language among the recipients and stored rendered;
the live event (row, title, body) is rendered in that language too.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import get_template
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from inbox import live
from inbox.access import AccessDenied, AnyUser, visible_channel_ids_by_user
from inbox.language import SUPPORTED
from inbox.models import (
    AgentPreferences,
    Conversation,
    ConversationStatus,
    Department,
    Membership,
    MembershipRole,
    Notification,
    NotificationKind,
    OutboundAction,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

PANEL_SIZE = 30
_TEXT_LIMIT = 300


# Texts in the recipient's language.


class Localized:
    """A text rendered later, in the language active then: a lazy message (`gettext_lazy`) and
    its values, which may be Localized or lazy themselves (a choice label) or callables (a date
    in the language's format). Values are bound when it is built, so building one in a loop is
    safe."""

    __slots__ = ("message", "params")

    def __init__(self, message: str | Promise, /, **params: LocalizedValue) -> None:
        self.message = message
        self.params: Mapping[str, LocalizedValue] = params

    def render(self) -> str:
        if not self.params:
            return str(self.message)
        return str(self.message) % {name: _rendered(v) for name, v in self.params.items()}

    def __str__(self) -> str:
        return self.render()


LocalizedValue = str | int | Promise | Localized | Callable[[], str]
NoticeText = str | Localized


def _rendered(value: object) -> object:
    if isinstance(value, Localized):
        return value.render()
    if isinstance(value, Promise):
        return str(value)
    if callable(value):
        return value()
    return value


def language_of(preferences: AgentPreferences | None) -> str:
    """The language a user is written to in: their choice, else the site's default (a message
    stored or mailed has no browser to ask)."""
    chosen = preferences.language if preferences is not None else ""
    return chosen if chosen in SUPPORTED else settings.LANGUAGE_CODE


def languages_of(user_ids: Iterable[int]) -> dict[int, str]:
    """Each user's language (see language_of), in one query."""
    ids = set(user_ids)
    chosen = dict(
        AgentPreferences.objects.filter(user_id__in=ids)
        .exclude(language="")
        .values_list("user_id", "language")
    )
    return {pk: chosen[pk] if chosen.get(pk) in SUPPORTED else settings.LANGUAGE_CODE for pk in ids}


def render_in(language: str, text: NoticeText) -> str:
    """`text` in `language` (a plain string stays as it is)."""
    if isinstance(text, str):
        return text
    with translation.override(language):
        return text.render()


def local_time(moment: datetime) -> Callable[[], str]:
    """A moment as the reader's language writes a short date and time (in the site's zone)."""
    local = timezone.localtime(moment)
    return partial(formats.date_format, local, "SHORT_DATETIME_FORMAT")


def subject_of(conversation: Conversation) -> NoticeText:
    """Who wrote, on which channel: the subject line of notices about a conversation."""
    contact = conversation.contact
    who = (contact.display_name or contact.handle) if contact is not None else ""
    channel = conversation.channel_account.name
    if not who:
        return channel
    return Localized(gettext_lazy("%(who)s on %(channel)s"), who=who, channel=channel)


# Time rules: pure functions of the preferences and `now`.


@dataclass(frozen=True)
class Delivery:
    """How a notification reaches its user beyond the notification centre."""

    desktop: bool
    sound: bool


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def user_zone(preferences: AgentPreferences) -> ZoneInfo:
    """The user's time zone; the site's when theirs is unknown (a zone removed from tzdata)."""
    try:
        return ZoneInfo(preferences.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def in_daily_window(moment: time, start: time, end: time) -> bool:
    """Whether `moment` lies in [start, end); a window whose end is before its start runs past
    midnight (22:00 until 07:00). An empty window (start == end) contains nothing."""
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def in_quiet_hours(preferences: AgentPreferences, now: datetime) -> bool:
    if preferences.quiet_from is None or preferences.quiet_until is None:
        return False
    local = now.astimezone(user_zone(preferences))
    return in_daily_window(local.time(), preferences.quiet_from, preferences.quiet_until)


def in_working_hours(preferences: AgentPreferences, now: datetime) -> bool:
    """True when no working hours are set (no working days), else whether `now` is inside them.

    Days without times mean those whole days. A shift that runs past midnight (22:00 until
    06:00) belongs to the day it started on: Friday's night shift covers Saturday 03:00.
    """
    days = {int(day) for day in preferences.working_days or []}
    if not days:
        return True
    local = now.astimezone(user_zone(preferences))
    start, end = preferences.working_from, preferences.working_until
    if start is None or end is None:
        return local.isoweekday() in days
    if not in_daily_window(local.time(), start, end):
        return False
    shift_day = local - timedelta(days=1) if start > end and local.time() < end else local
    return shift_day.isoweekday() in days


def may_interrupt(preferences: AgentPreferences, now: datetime) -> bool:
    """Desktop pop-ups and sounds only inside working hours (if set) and outside quiet hours."""
    return in_working_hours(preferences, now) and not in_quiet_hours(preferences, now)


def delivery_for(preferences: AgentPreferences, kind: str, now: datetime) -> Delivery:
    if not may_interrupt(preferences, now):
        return Delivery(desktop=False, sound=False)
    return Delivery(desktop=kind in (preferences.desktop_kinds or []), sound=preferences.sound)


# Reading preferences and counts.


def _signed_in_id(user: AnyUser) -> int:
    if not user.is_authenticated or user.pk is None:
        raise AccessDenied("notifications are for signed-in users")
    return int(user.pk)


def preferences_for(user: AnyUser) -> AgentPreferences:
    """The user's preferences; the defaults (unsaved) for a user who never changed them."""
    user_id = _signed_in_id(user)
    found = AgentPreferences.objects.filter(user_id=user_id).first()
    return found if found is not None else AgentPreferences(user_id=user_id)


def unread_count(user: AnyUser) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user_id=_signed_in_id(user), read_at__isnull=True).count()


def latest_notifications(user: AnyUser, limit: int = PANEL_SIZE) -> list[Notification]:
    if not user.is_authenticated:
        return []
    return list(
        Notification.objects.filter(user_id=_signed_in_id(user))
        .select_related("actor", "conversation")
        .order_by("-created_at", "-id")[:limit]
    )


# Writes.


# What a user sets on the preferences page (the form edits exactly these).
PREFERENCE_FIELDS = [
    "in_app_kinds",
    "desktop_kinds",
    "sound",
    "quiet_from",
    "quiet_until",
    "working_days",
    "working_from",
    "working_until",
    "time_zone",
    "language",
]


def save_preferences(*, user: AnyUser, preferences: AgentPreferences) -> AgentPreferences:
    """Store `preferences` (validated by the caller's form) as the user's own.

    One row per user, whatever `preferences.user` says: update_or_create makes two tabs saving
    at once for the first time end with one row, not an IntegrityError.
    """
    fields = PREFERENCE_FIELDS
    user_id = _signed_in_id(user)
    with transaction.atomic():
        saved, _created = AgentPreferences.objects.update_or_create(
            user_id=user_id, defaults={name: getattr(preferences, name) for name in fields}
        )
    return saved


def mark_read(*, user: AnyUser, ids: list[int] | None) -> int:
    """Mark the user's own notifications read (`ids`, or all when None); returns how many
    changed. Others' ids are ignored. The user's other tabs get the new unread count after
    commit."""
    user_id = _signed_in_id(user)
    with transaction.atomic():
        unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
        if ids is not None:
            unread = unread.filter(pk__in=ids)
        changed = unread.update(read_at=timezone.now())
        if changed:
            transaction.on_commit(partial(_send_read, user_id, ids), robust=True)
    return changed


def notify(
    *,
    users: Iterable[AbstractBaseUser],
    kind: str,
    conversation: Conversation | None,
    actor: AbstractBaseUser | None,
    text: NoticeText,
) -> None:
    """Tell `users` about something (see the module's guarantees), `text` in each one's
    language."""
    _deliver([_Wanted(user, kind, conversation, actor, text) for user in users])


def notify_each(
    notices: Iterable[tuple[Iterable[AbstractBaseUser], Conversation | None, NoticeText]],
    *,
    kind: str,
    actor: AbstractBaseUser | None,
) -> None:
    """Several notices of one kind at once, each (users, conversation, text): the same queries
    as one notify() call, whatever their number (ingest tells about a page of items)."""
    _deliver(
        [
            _Wanted(user, kind, conversation, actor, text)
            for users, conversation, text in notices
            for user in users
        ]
    )


def notify_assigned(
    *, conversation: Conversation, assignee: AbstractBaseUser | None, actor: AbstractBaseUser | None
) -> None:
    """Tell the new assignee (unless they assigned it to themselves)."""
    if assignee is None:
        return
    subject = subject_of(conversation)
    text: NoticeText
    if actor is not None:
        text = Localized(
            gettext_lazy("%(who)s assigned you: %(subject)s"),
            who=_display_name(actor),
            subject=subject,
        )
    else:
        text = Localized(gettext_lazy("Assigned to you: %(subject)s"), subject=subject)
    notify(
        users=[assignee],
        kind=NotificationKind.ASSIGNED,
        conversation=conversation,
        actor=actor,
        text=text,
    )


def notify_send_failed(*, action: OutboundAction) -> None:
    """Tell the author of an outbox action that it failed, with the platform's reason.

    Reads the action again: the caller's instance may predate the failure it was just marked with.
    """
    failed = (
        OutboundAction.objects.select_related(
            "author", "conversation__contact", "conversation__channel_account"
        )
        .filter(pk=action.pk)
        .first()
    )
    if failed is None or failed.author is None:
        return
    reason: NoticeText = failed.last_error or Localized(gettext_lazy("no reason given"))
    notify(
        users=[failed.author],
        kind=NotificationKind.SEND_FAILED,
        conversation=failed.conversation,
        actor=None,
        text=Localized(
            gettext_lazy("Your %(action)s failed (%(subject)s): %(reason)s"),
            action=partial(_action_name, failed.get_kind_display()),
            subject=subject_of(failed.conversation),
            reason=reason,
        ),
    )


def _action_name(label: object) -> str:
    # Inside an English sentence the label is lower case ("Your reply failed"); German nouns
    # keep their capital.
    text = str(label)
    return text.lower() if translation.get_language() == "en" else text


def notify_new_items(*, conversation_ids: Iterable[int]) -> None:
    """Tell everyone who has these new conversations in their queues: the members of the
    conversation's department if it has one, else of the departments owning its channel.

    Ignored conversations (a blocked person's) are no news. A fixed number of queries, however
    many conversations and users.
    """
    ids = set(conversation_ids)
    if not ids:
        return
    # Who would be told is decided on three narrow columns; the whole rows (with contact and
    # channel, for the text) are read only when someone is (ingest calls this for every page).
    facts = list(
        Conversation.objects.filter(pk__in=ids)
        .exclude(status=ConversationStatus.IGNORED)
        .values_list("id", "department_id", "channel_account_id")
    )
    if not facts:
        return
    unrouted_channels = {channel for _, department, channel in facts if department is None}
    owners: dict[int, set[int]] = defaultdict(set)
    if unrouted_channels:
        for department_id, channel_id in Department.channel_accounts.through.objects.filter(
            channelaccount_id__in=unrouted_channels
        ).values_list("department_id", "channelaccount_id"):
            owners[channel_id].add(department_id)
    departments = {department for _, department, _ in facts if department is not None}
    departments.update(*owners.values())
    members: dict[int, list[AbstractBaseUser]] = defaultdict(list)
    for membership in Membership.objects.filter(
        department_id__in=departments, user__is_active=True
    ).select_related("user"):
        members[membership.department_id].append(membership.user)
    if not members:
        return
    conversations = Conversation.objects.filter(pk__in=[pk for pk, _, _ in facts]).select_related(
        "contact", "channel_account"
    )
    wanted: list[_Wanted] = []
    for conversation in conversations:
        queue = (
            {conversation.department_id}
            if conversation.department_id is not None
            else owners.get(conversation.channel_account_id, set())
        )
        text = Localized(
            gettext_lazy("%(subject)s: %(preview)s"),
            subject=subject_of(conversation),
            preview=conversation.last_message_preview,
        )
        wanted.extend(
            _Wanted(user, NotificationKind.NEW_ITEM, conversation, None, text)
            for department_id in queue
            for user in members.get(department_id, [])
        )
    _deliver(wanted)


def notify_sla_warning(*, conversation: Conversation) -> None:
    """Warn that a conversation's answer is nearly due: its assignee, else the team leads of its
    department, else of the departments owning its channel."""
    users: Sequence[AbstractBaseUser]
    if conversation.assignee_id is not None:
        users = [conversation.assignee] if conversation.assignee is not None else []
    else:
        leads = Q(memberships__role=MembershipRole.LEAD)
        if conversation.department_id is not None:
            leads &= Q(memberships__department_id=conversation.department_id)
        else:
            leads &= Q(memberships__department__channel_accounts=conversation.channel_account_id)
        users = list(get_user_model().objects.filter(leads, is_active=True).distinct())
    due = conversation.sla_due_at or conversation.first_response_due_at
    text: NoticeText
    if due is not None:
        text = Localized(
            gettext_lazy("Answer due at %(time)s: %(subject)s"),
            time=timezone.localtime(due).strftime("%H:%M"),
            subject=subject_of(conversation),
        )
    else:
        text = Localized(
            gettext_lazy("Answer due soon: %(subject)s"), subject=subject_of(conversation)
        )
    notify(
        users=users,
        kind=NotificationKind.SLA_WARNING,
        conversation=conversation,
        actor=None,
        text=text,
    )


def sample_notification_event(*, user: AnyUser, now: datetime) -> dict[str, Any]:
    """A notification for the preferences page's test button: nothing is stored; it pops up and
    rings (if sound is on) whatever the hours, so the browser's permission can be checked;
    `interrupts_now` says whether a real one would at `now`."""
    preferences = preferences_for(user)
    return {
        "type": "notification",
        "id": 0,
        "kind": "test",
        "html": "",
        "unread": unread_count(user),
        "desktop": True,
        "sound": preferences.sound,
        "title": str(_("Test notification")),
        "body": str(_("This is how new notifications will look.")),
        "url": reverse("inbox:notifications"),
        "test": True,
        "interrupts_now": may_interrupt(preferences, now),
    }


# Internals.


@dataclass(frozen=True)
class _Wanted:
    user: AbstractBaseUser
    kind: str
    conversation: Conversation | None
    actor: AbstractBaseUser | None
    text: NoticeText


def _display_name(user: AbstractBaseUser) -> str:
    full = getattr(user, "get_full_name", None)
    return (full() if callable(full) else "") or user.get_username()


def _may_see(user: AbstractBaseUser, conversation: Conversation | None, visible: set[int]) -> bool:
    if conversation is None:
        return True
    if getattr(user, "is_superuser", False):
        return True
    return conversation.channel_account_id in visible


def _deliver(wanted: list[_Wanted]) -> None:
    wanted = [
        w
        for w in wanted
        if w.kind in NotificationKind.values
        and w.user.is_active
        and (w.actor is None or w.actor.pk != w.user.pk)
    ]
    if not wanted:
        return
    user_ids = {w.user.pk for w in wanted}
    preferences = {p.user_id: p for p in AgentPreferences.objects.filter(user_id__in=user_ids)}
    needs_visibility = {
        w.user.pk
        for w in wanted
        if w.conversation is not None and not getattr(w.user, "is_superuser", False)
    }
    visible = visible_channel_ids_by_user(needs_visibility)
    rows: list[Notification] = []
    languages: dict[int, str] = {}
    # One rendering per text and language, however many recipients share them.
    rendered: dict[tuple[int, str], str] = {}
    seen: set[tuple[int, str, int | None]] = set()
    for w in wanted:
        key = (w.user.pk, w.kind, w.conversation.pk if w.conversation is not None else None)
        if key in seen:  # the same user in two departments of one queue: told once
            continue
        seen.add(key)
        prefs = preferences.get(w.user.pk) or AgentPreferences(user_id=w.user.pk)
        if w.kind not in (prefs.in_app_kinds or []):
            continue
        if not _may_see(w.user, w.conversation, visible.get(w.user.pk, set())):
            continue
        language = languages[w.user.pk] = language_of(preferences.get(w.user.pk))
        text_key = (id(w.text), language)
        if text_key not in rendered:
            rendered[text_key] = render_in(language, w.text)
        row = Notification(
            user_id=w.user.pk,
            kind=w.kind,
            conversation=w.conversation,
            actor_id=w.actor.pk if w.actor is not None else None,
            text=rendered[text_key][:_TEXT_LIMIT],
        )
        rows.append(row)
    if not rows:
        return
    Notification.objects.bulk_create(rows)
    now = timezone.now()
    deliveries = {
        row.pk: delivery_for(
            preferences.get(row.user_id) or AgentPreferences(user_id=row.user_id), row.kind, now
        )
        for row in rows
    }
    transaction.on_commit(partial(_send_created, rows, deliveries, languages), robust=True)


def _send_created(
    rows: list[Notification], deliveries: dict[int, Delivery], languages: dict[int, str]
) -> None:
    # The database is the truth and the bell reads it on every page: a failed push must not
    # turn the committed write that caused it into an error.
    try:
        live.send_events(_created_events(rows, deliveries, languages))
    except Exception:
        logger.exception("live push of %s notifications failed", len(rows))


def _created_events(
    rows: list[Notification], deliveries: dict[int, Delivery], languages: dict[int, str]
) -> list[tuple[str, dict[str, Any]]]:
    template = get_template("inbox/notifications/_notification.html")
    unread = dict(
        Notification.objects.filter(user_id__in={row.user_id for row in rows}, read_at__isnull=True)
        .values("user_id")
        .annotate(count=Count("id"))
        .values_list("user_id", "count")
    )
    labels = dict(NotificationKind.choices)
    # A page of new items must not pop up and ring a hundred times: per user, only the last of
    # one batch interrupts, and says how many more came with it.
    per_user: dict[int, list[Notification]] = defaultdict(list)
    for row in rows:
        per_user[row.user_id].append(row)
    events: list[tuple[str, dict[str, Any]]] = []
    for user_id, own in per_user.items():
        with translation.override(languages.get(user_id, settings.LANGUAGE_CODE)):
            events.extend(_user_events(user_id, own, deliveries, unread, labels, template))
    return events


def _user_events(
    user_id: int,
    own: list[Notification],
    deliveries: dict[int, Delivery],
    unread: dict[int, int],
    labels: dict[str, Any],
    template: Any,
) -> list[tuple[str, dict[str, Any]]]:
    """The live events of one user's new notifications, in the language active (theirs)."""
    events: list[tuple[str, dict[str, Any]]] = []
    for index, row in enumerate(own):
        last = index == len(own) - 1
        delivery = deliveries[row.pk] if last else Delivery(desktop=False, sound=False)
        body = row.text
        if last and len(own) > 1:
            more = len(own) - 1
            body = ngettext(
                "%(text)s (and %(count)s more)", "%(text)s (and %(count)s more)", more
            ) % {"text": row.text, "count": more}
        events.append(
            (
                live.user_group(user_id),
                {
                    "type": "notification",
                    "id": row.pk,
                    "kind": row.kind,
                    "html": template.render({"notification": row}),
                    "unread": unread.get(user_id, 0),
                    "desktop": delivery.desktop,
                    "sound": delivery.sound,
                    "title": str(labels.get(row.kind, row.kind)),
                    "body": body,
                    "url": notification_url(row),
                },
            )
        )
    return events


def notification_url(notification: Notification) -> str:
    if notification.conversation_id is not None:
        return reverse("inbox:conversation", args=[notification.conversation_id])
    return reverse("inbox:notifications")


def _send_read(user_id: int, ids: list[int] | None) -> None:
    try:
        live.send_events(
            [
                (
                    live.user_group(user_id),
                    {
                        "type": "notifications.read",
                        "ids": ids,
                        "unread": Notification.objects.filter(
                            user_id=user_id, read_at__isnull=True
                        ).count(),
                    },
                )
            ]
        )
    except Exception:
        logger.exception("live push of read notifications for user %s failed", user_id)
