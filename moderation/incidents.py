"""Incidents: who may see and steer them, the manual actions on them, storm mode, and the one
place where an incident's level moves (with its timeline event and the responsibles told).

Who may do what (docs/moderation.md):
- see an incident: admins; members who can see its channel; for an overall incident (no
  channel), every member of any department; and the responsibles of any escalation level,
  who are told about every incident and so must be able to open it;
- steer it (storm mode, lead, level, resolve): admins, the incident's lead, the responsibles
  of any level, and the team leads of a department owning its channel;
- add a note: everyone who may steer it, and the leads and agents who work its channel
  (observers read);
- declare one: admins, responsibles, and the leads of a department owning the channel.

Every action locks the incident row (select_for_update), records an IncidentEvent and is
idempotent where repeating it means nothing (storm mode already on, the same lead). Storm mode
is read on every ingest page and reply, so `storm_channel_ids` is cached per process for five
seconds and dropped (here and after commit) on every change this process makes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.access import (
    AccessDenied,
    AnyUser,
    can_act_on_channel,
    can_view_channel,
    is_admin,
    leads_channel,
    visible_channels_subquery,
)
from inbox.models import Membership, NotificationKind
from inbox.notifications import Localized, NoticeText, languages_of, notify
from inbox.team_config import TeamConfigCache, forget_team_config
from moderation.models import (
    EscalationLevel,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.utils.functional import _StrOrPromise as StrOrPromise

    from channels_integrations.models import ChannelAccount

logger = logging.getLogger(__name__)

NOTE_LIMIT = 5000

# What storm mode does while it is on (the integrator wires each effect; the page lists them).
STORM_EFFECTS = (
    gettext_lazy("Auto-replies are paused on the affected channels."),
    gettext_lazy("Every reply needs a lead's approval before it is sent."),
    gettext_lazy(
        "Moderation uses stricter thresholds: borderline items go to the moderation queue."
    ),
)

# The levels an admin starts with (EscalationLevel rows; edited on the levels page).
DEFAULT_LEVELS: tuple[dict[str, Any], ...] = (
    {"number": 1, "name": "Watch", "volume_ratio": 3.0, "negative_share": 0.5, "min_items": 10},
    {"number": 2, "name": "Alert", "volume_ratio": 6.0, "toxic_share": 0.25, "min_items": 25},
    {"number": 3, "name": "Crisis", "volume_ratio": 10.0, "items_per_hour": 300, "min_items": 60},
)


class IncidentRefused(Exception):
    """The action makes no sense in the incident's state (resolved, level unknown, empty
    note, an incident already open there); views answer 422 with the message."""


# Who may see and do what.


def is_responsible(user: AnyUser) -> bool:
    """Named responsible of at least one escalation level."""
    if not (user.is_authenticated and user.is_active):
        return False
    return EscalationLevel.responsibles.through.objects.filter(user_id=int(user.pk or 0)).exists()


def visible_incidents(user: AnyUser) -> QuerySet[Incident]:
    """The incidents `user` may see (module docstring), as one query."""
    incidents = Incident.objects.all()
    if not (user.is_authenticated and user.is_active):
        return incidents.none()
    if is_admin(user):
        return incidents
    channels = visible_channels_subquery(user)
    member = Exists(Membership.objects.filter(user_id=user.pk))
    responsible = Exists(EscalationLevel.responsibles.through.objects.filter(user_id=user.pk))
    return incidents.filter(
        Q(channel_account_id__in=channels)
        | (Q(channel_account__isnull=True) & Q(member))
        | Q(responsible)
    )


def may_view(user: AnyUser, incident: Incident) -> bool:
    if is_admin(user) or is_responsible(user):
        return True
    if incident.channel_account_id is None:
        return bool(user.is_authenticated and Membership.objects.filter(user_id=user.pk).exists())
    return can_view_channel(user, incident.channel_account_id)


def may_steer(user: AnyUser, incident: Incident) -> bool:
    """Storm mode, lead, level and resolving (module docstring)."""
    if not (user.is_authenticated and user.is_active):
        return False
    if is_admin(user) or (incident.lead_id is not None and incident.lead_id == user.pk):
        return True
    if incident.channel_account_id is not None and leads_channel(user, incident.channel_account_id):
        return True
    return is_responsible(user)


def may_note(user: AnyUser, incident: Incident) -> bool:
    if may_steer(user, incident):
        return True
    if incident.channel_account_id is None:
        return Membership.objects.filter(
            user_id=int(user.pk or 0), role__in=["lead", "agent"]
        ).exists()
    return can_act_on_channel(user, incident.channel_account_id)


def may_declare(user: AnyUser, channel_account_id: int | None) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if is_admin(user) or is_responsible(user):
        return True
    return channel_account_id is not None and leads_channel(user, channel_account_id)


def _check(allowed: bool, what: StrOrPromise) -> None:
    if not allowed:
        raise AccessDenied(_("You may not %(what)s.") % {"what": what})


def _locked(incident: Incident) -> Incident:
    # The channel is nullable (overall incidents): lock the incident row only.
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("channel_account")
        .get(pk=incident.pk)
    )


def _open(incident: Incident) -> None:
    if incident.status != IncidentStatus.OPEN:
        raise IncidentRefused(_("This incident is resolved."))


# Levels.


def ensure_default_levels() -> list[EscalationLevel]:
    """The escalation levels, creating 1 Watch, 2 Alert and 3 Crisis when there are none yet.
    Safe to call twice at once (the level number is unique)."""
    levels = list(EscalationLevel.objects.order_by("number"))
    if levels:
        return levels
    for defaults in DEFAULT_LEVELS:
        with transaction.atomic():
            EscalationLevel.objects.get_or_create(number=defaults["number"], defaults=defaults)
    return list(EscalationLevel.objects.order_by("number"))


def level_names() -> dict[int, str]:
    return dict(EscalationLevel.objects.values_list("number", "name"))


def describe_metrics(metrics: dict[str, Any]) -> str:
    """One line a person reads: "120 items in 15 min (480/h, 8.0x usual), 62% negative, …"."""
    if not metrics or "count" not in metrics:
        return ""
    return _(
        "%(count)s items in %(minutes)s min (%(rate)s/h, %(ratio)sx usual), "
        "%(negative)s%% negative, %(toxic)s%% toxic"
    ) % {
        "count": metrics["count"],
        "minutes": f"{metrics.get('window_minutes', 15):g}",
        "rate": f"{metrics.get('rate_per_hour', 0):g}",
        "ratio": f"{metrics.get('ratio', 0):g}",
        "negative": round(100 * metrics.get("negative_share", 0)),
        "toxic": round(100 * metrics.get("toxic_share", 0)),
    }


def move_level(
    incident: Incident,
    *,
    to: int,
    now: datetime,
    actor: AbstractBaseUser | None,
    metrics: dict[str, Any] | None = None,
    text: str = "",
) -> Incident:
    """Set a locked, open incident's level to `to` (at least 1), with a LEVEL_RAISED or
    LEVEL_LOWERED event, and tell the responsibles of every level above the old one up to the
    new one (in the app, and after commit by e-mail). The calm-down clock restarts."""
    before = incident.level
    if to == before:
        return incident
    incident.level = to
    incident.peak_level = max(incident.peak_level, to)
    incident.level_seen_at = now
    fields = ["level", "peak_level", "level_seen_at"]
    if metrics is not None:
        incident.metrics = metrics
        fields.append("metrics")
    incident.save(update_fields=fields)
    kind = IncidentEventKind.LEVEL_RAISED if to > before else IncidentEventKind.LEVEL_LOWERED
    IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        from_level=before,
        to_level=to,
        metrics=metrics if metrics is not None else incident.metrics,
        text=text,
        actor_id=_pk(actor),
        created_at=now,
    )
    if to > before:
        notify_responsibles(incident, above=before, now=now, actor=actor)
    return incident


def open_incident(
    *,
    channel_account_id: int | None,
    level: int,
    title: str,
    now: datetime,
    automatic: bool,
    actor: AbstractBaseUser | None = None,
    metrics: dict[str, Any] | None = None,
    text: str = "",
) -> Incident | None:
    """Open an incident with its OPENED event and tell the responsibles of levels 1 to
    `level`. None when another one is open there already (the database's unique constraint
    decides, in a savepoint, so two workers never open two)."""
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                channel_account_id=channel_account_id,
                title=title[:200],
                level=level,
                peak_level=level,
                automatic=automatic,
                lead_id=_pk(actor) if not automatic else None,
                opened_at=now,
                level_seen_at=now,
                metrics=metrics or {},
            )
    except IntegrityError:
        return None
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.OPENED,
        to_level=level,
        metrics=metrics or {},
        text=text,
        actor_id=_pk(actor),
        created_at=now,
    )
    notify_responsibles(incident, above=0, now=now, actor=actor)
    return incident


def notify_responsibles(
    incident: Incident, *, above: int, now: datetime, actor: AbstractBaseUser | None
) -> None:
    """Tell the responsibles of the levels in (above, incident.level] in the app now, and by
    e-mail after commit (those of a level with notify_by_email who have an address), and
    record who was told in a NOTIFIED event (also when nobody is responsible)."""
    levels = list(
        EscalationLevel.objects.filter(number__gt=above, number__lte=incident.level)
        .prefetch_related("responsibles")
        .order_by("number")
    )
    users: dict[int, AbstractBaseUser] = {}
    mailed: dict[str, AbstractBaseUser] = {}
    for level in levels:
        for user in level.responsibles.all():
            if not user.is_active:
                continue
            users[user.pk] = user
            email = getattr(user, "email", "")
            if level.notify_by_email and email:
                mailed[email] = user
    if actor is not None:  # who raised it knows
        users.pop(actor.pk, None)
        mailed = {email: user for email, user in mailed.items() if user.pk != actor.pk}
    name = next((lvl.name for lvl in reversed(levels) if lvl.number == incident.level), "")
    label = _level_label(name, incident.level)
    text: NoticeText = Localized(
        gettext_lazy("%(level)s: %(title)s"), level=label, title=incident.title
    )
    if describe_metrics(incident.metrics):
        text = Localized(
            gettext_lazy("%(level)s: %(title)s — %(metrics)s"),
            level=label,
            title=incident.title,
            metrics=partial(describe_metrics, incident.metrics),
        )
    if users:
        notify(
            users=list(users.values()),
            kind=NotificationKind.INCIDENT,
            conversation=None,
            actor=actor,
            text=text,
        )
    if mailed:
        languages = languages_of(user.pk for user in mailed.values())
        transaction.on_commit(
            partial(
                _send_mails,
                incident.pk,
                {email: languages[user.pk] for email, user in sorted(mailed.items())},
                name,
            ),
            robust=True,
        )
    # The record of who was told, in the language of whoever caused it (it is evidence).
    if users:
        told = _("In the app: %(names)s.") % {
            "names": ", ".join(sorted(_name(u) for u in users.values()))
        }
        if mailed:
            told += " " + _("By e-mail: %(addresses)s.") % {"addresses": ", ".join(sorted(mailed))}
    else:
        told = _("Nobody to tell: no active responsible for %(level)s.") % {"level": label.render()}
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.NOTIFIED,
        to_level=incident.level,
        text=told,
        created_at=now,
    )


def _pk(user: AnyUser | None) -> int | None:
    return int(user.pk) if user is not None and user.pk is not None else None


def _signed_in(user: AnyUser) -> AbstractBaseUser:
    """The acting user, once _check let them act (only signed-in users may)."""
    if isinstance(user, AnonymousUser):
        raise AccessDenied(_("Sign in first."))
    return user


def _name(user: AbstractBaseUser) -> str:
    full = getattr(user, "get_full_name", None)
    return (full() if callable(full) else "") or user.get_username()


def incident_url(incident_id: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("incidents:detail", args=[incident_id])


def _level_label(name: str, level: int) -> Localized:
    if name:
        return Localized(gettext_lazy("%(name)s (level %(number)s)"), name=name, number=level)
    return Localized(gettext_lazy("Level %(number)s"), number=level)


def _incident_mail(incident: Incident, level_name: str) -> tuple[str, str]:
    """Subject and body of the incident e-mail, in the active language."""
    subject = f"[{_level_label(level_name, incident.level).render()}] {incident.title}"
    body = "\n".join(
        [
            incident.title,
            "",
            _("Level now: %(level)s (peak %(peak)s)")
            % {"level": incident.level, "peak": incident.peak_level},
            describe_metrics(incident.metrics),
            _("Storm mode: on") if incident.storm_mode else _("Storm mode: off"),
            "",
            _("Open the incident: %(url)s") % {"url": incident_url(incident.pk)},
        ]
    )
    return subject[:200], body


def _send_mails(incident_id: int, languages: dict[str, str], level_name: str) -> None:
    # After commit: the mail describes what the database holds now. One message per person, so
    # responsibles do not see each other's addresses, in each one's language (rendered once per
    # language); a failing mail server is logged, never turned into an error of the detection
    # run that already committed.
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return
    mails: dict[str, tuple[str, str]] = {}
    for language in set(languages.values()):
        with translation.override(language):
            mails[language] = _incident_mail(incident, level_name)
    try:
        connection = get_connection()
        connection.send_messages(
            [
                EmailMessage(*mails[language], None, [address])
                for address, language in languages.items()
            ]
        )
    except Exception:
        logger.exception("incident e-mail for incident %s failed", incident_id)


# Manual actions.


def declare_incident(
    *,
    user: AnyUser,
    channel_account: ChannelAccount | None,
    level: int,
    title: str,
    now: datetime | None = None,
) -> Incident:
    """Open an incident by hand (automatic=False, the declaring user leads it). Detection
    raises it when traffic reaches a higher level but never lowers or resolves it. Refused
    when one is open there already."""
    channel_id = channel_account.pk if channel_account is not None else None
    _check(may_declare(user, channel_id), gettext_lazy("declare an incident here"))
    title = title.strip()
    if not title:
        raise IncidentRefused(_("Give the incident a title."))
    if level < 1:
        raise IncidentRefused(_("The level must be 1 or higher."))
    now = now or timezone.now()
    with transaction.atomic():
        incident = open_incident(
            channel_account_id=channel_id,
            level=level,
            title=title,
            now=now,
            automatic=False,
            actor=_signed_in(user),
        )
        if incident is None:
            raise IncidentRefused(_("An incident is already open there."))
    return incident


def set_storm_mode(
    *, user: AnyUser, incident: Incident, on: bool, now: datetime | None = None
) -> Incident:
    """Switch storm mode on or off (STORM_ON / STORM_OFF); a repeat changes nothing. Every
    process sees the change within five seconds, this one at once."""
    _check(may_steer(user, incident), gettext_lazy("switch storm mode for this incident"))
    now = now or timezone.now()
    with transaction.atomic():
        incident = _locked(incident)
        if on:
            _open(incident)
        if incident.storm_mode == on:
            return incident
        incident.storm_mode = on
        incident.save(update_fields=["storm_mode"])
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEventKind.STORM_ON if on else IncidentEventKind.STORM_OFF,
            actor_id=_pk(user),
            created_at=now,
        )
        _forget_storm_state()
    return incident


def set_incident_lead(
    *,
    user: AnyUser,
    incident: Incident,
    lead: AbstractBaseUser | None,
    now: datetime | None = None,
) -> Incident:
    """Give the incident a lead (who may see it), or none; LEAD_SET event. Anyone who may
    steer it may also take the lead themselves."""
    _check(may_steer(user, incident), gettext_lazy("choose the lead of this incident"))
    if lead is not None and not (lead.is_active and may_view(lead, incident)):
        raise IncidentRefused(_("%(name)s cannot see this incident.") % {"name": _name(lead)})
    now = now or timezone.now()
    with transaction.atomic():
        incident = _locked(incident)
        _open(incident)
        if incident.lead_id == (lead.pk if lead is not None else None):
            return incident
        incident.lead_id = _pk(lead)
        incident.save(update_fields=["lead"])
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEventKind.LEAD_SET,
            text=_name(lead) if lead is not None else "No lead",
            actor_id=_pk(user),
            created_at=now,
        )
    return incident


def add_incident_note(
    *, user: AnyUser, incident: Incident, text: str, now: datetime | None = None
) -> IncidentEvent:
    """A note on the timeline (also on a resolved incident: the review after the crisis)."""
    _check(may_note(user, incident), gettext_lazy("add notes to this incident"))
    text = text.strip()
    if not text:
        raise IncidentRefused(_("The note is empty."))
    return IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.NOTE,
        text=text[:NOTE_LIMIT],
        actor_id=_pk(user),
        created_at=now or timezone.now(),
    )


def change_incident_level(
    *, user: AnyUser, incident: Incident, level: int, now: datetime | None = None
) -> Incident:
    """Set the level by hand (one of the configured levels); raising tells the new levels'
    responsibles. Detection goes on from there: on an automatic incident it lowers the level
    again after the calm-down if traffic does not justify it."""
    _check(may_steer(user, incident), gettext_lazy("change the level of this incident"))
    if not EscalationLevel.objects.filter(number=level).exists() or level < 1:
        raise IncidentRefused(_("There is no such escalation level."))
    now = now or timezone.now()
    with transaction.atomic():
        incident = _locked(incident)
        _open(incident)
        return move_level(incident, to=level, now=now, actor=_signed_in(user))


def resolve_incident(
    *, user: AnyUser, incident: Incident, note: str = "", now: datetime | None = None
) -> Incident:
    """Resolve the incident (RESOLVED event with the note); storm mode goes off with it. A
    repeat changes nothing."""
    _check(may_steer(user, incident), gettext_lazy("resolve this incident"))
    now = now or timezone.now()
    with transaction.atomic():
        incident = _locked(incident)
        if incident.status != IncidentStatus.OPEN:
            return incident
        close_incident(incident, now=now, actor=_signed_in(user), text=note.strip()[:NOTE_LIMIT])
    return incident


def close_incident(
    incident: Incident, *, now: datetime, actor: AbstractBaseUser | None, text: str = ""
) -> None:
    """Resolve a locked, open incident (and switch its storm mode off, with its event)."""
    if incident.storm_mode:
        incident.storm_mode = False
        IncidentEvent.objects.create(
            incident=incident, kind=IncidentEventKind.STORM_OFF, actor_id=_pk(actor), created_at=now
        )
        _forget_storm_state()
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.save(update_fields=["status", "resolved_at", "storm_mode"])
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.RESOLVED,
        from_level=incident.level,
        metrics=incident.metrics,
        text=text,
        actor_id=_pk(actor),
        created_at=now,
    )


# Storm mode, as ingest and replies read it.


def _load_storm_channels() -> frozenset[int] | None:
    ids = list(
        Incident.objects.filter(status=IncidentStatus.OPEN, storm_mode=True).values_list(
            "channel_account_id", flat=True
        )
    )
    if any(pk is None for pk in ids):
        return None
    return frozenset(pk for pk in ids if pk is not None)


_storm_cache: TeamConfigCache[frozenset[int] | None] = TeamConfigCache(
    _load_storm_channels, seconds=5.0
)


def storm_channel_ids() -> frozenset[int] | None:
    """Channels in storm mode now; None means every channel (an overall incident is in storm
    mode). At most five seconds old in other processes."""
    return _storm_cache.get()


def in_storm(channel_account_id: int) -> bool:
    ids = storm_channel_ids()
    return ids is None or channel_account_id in ids


def _forget_storm_state() -> None:
    # Now, for this process's next read, and after commit, so a read between the two (of the
    # still-uncommitted state by another thread) is not kept for five seconds.
    forget_team_config()
    transaction.on_commit(forget_team_config)


# Pages.


def banner_incidents(user: AnyUser) -> list[Incident]:
    """Open incidents of level 2 or more, or in storm mode, that `user` may see (one query)."""
    if not (user.is_authenticated and user.is_active):
        return []
    return list(
        visible_incidents(user)
        .filter(status=IncidentStatus.OPEN)
        .filter(Q(level__gte=2) | Q(storm_mode=True))
        .select_related("channel_account")
        .order_by("-level", "-opened_at")[:5]
    )


def responsible_choices() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_active=True).order_by("username")
