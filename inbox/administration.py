"""Every write of the team administration screens: departments and their calendars, members
and roles, user accounts and approval settings (routing rules and SLA policies, the two ordered
lists, are written by inbox.administration_rules, on the same terms).

Each action is for admins only (`can_administer`; AccessDenied for anyone else), runs in one
transaction with the changed rows locked, and writes its audit entry (inbox.audit) in that
same transaction: a change is never stored without its entry, nor an entry without its change.
Requests that cannot be carried out as asked raise ActionRefused with a message for the admin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from itertools import pairwise
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, models, transaction
from django.db.models import Count, QuerySet
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import gettext

from channels_integrations.models import ChannelAccount
from inbox.access import AccessDenied, AnyUser, can_administer
from inbox.actions import ActionRefused
from inbox.audit import AuditAction, object_type_of, record, snapshot
from inbox.models import (
    Department,
    DepartmentHoliday,
    DepartmentHours,
    Membership,
    MembershipRole,
    RoutingRule,
    SavedReply,
    SlaPolicy,
)

DEPARTMENT_FIELDS = (
    "name",
    "slug",
    "channel_accounts",
    "contact_person",
    "time_zone",
    "assignment_strategy",
    "default_capacity",
    "requires_approval",
)
HOLIDAY_FIELDS = ("department", "date", "name")
MEMBERSHIP_FIELDS = ("user", "department", "role", "capacity", "requires_approval")
# Never the password: not even its hash goes into the log.
USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_superuser",
    "is_staff",
)
CHANNEL_FIELDS = ("requires_approval",)

# In the audit snapshot (stored as written, in English); pages and errors use weekday_name().
WEEKDAY_NAMES = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


def weekday_name(weekday: int) -> str:
    """The short name of an ISO weekday (1 = Monday) in the active language."""
    return str(WEEKDAYS_ABBR[weekday - 1])


# ISO weekday -> opening intervals (opens, closes), in the department's time zone.
WeeklyHours = Mapping[int, Sequence[tuple[time, time]]]
M = TypeVar("M", bound=models.Model)


def check_can_administer(user: AnyUser) -> None:
    """AccessDenied unless the user may administer the team; every action here starts with it."""
    if not can_administer(user):
        raise AccessDenied(gettext("Only admins may change the team's settings."))


def locked(queryset: QuerySet[M], pk: Any) -> M:
    """The row, locked until the transaction ends (the caller opens one); ActionRefused when
    another admin deleted it in the meantime."""
    try:
        return queryset.select_for_update().get(pk=pk)
    except ObjectDoesNotExist:
        raise ActionRefused(gettext("This item was deleted in the meantime.")) from None


def save_audited(
    *,
    user: AnyUser,
    row: M,
    values: Mapping[str, Any],
    audited: Sequence[str],
    object_repr: str = "",
) -> M:
    """Set `values` on the row and save only those columns, then record the change of the
    `audited` fields (no entry when none changed). The caller holds the row's lock, in the
    transaction the entry is written in."""
    before = snapshot(row, audited)
    for column, value in values.items():
        setattr(row, column, value)
    # auto_now is only written when named; the rules' and policies' updated_at must move.
    stamp = ["updated_at"] if any(f.name == "updated_at" for f in row._meta.fields) else []
    row.save(update_fields=[*values, *stamp])
    record(
        actor=user,
        action=AuditAction.CHANGED,
        instance_or_type=row,
        object_repr=object_repr,
        before=before,
        after=snapshot(row, audited),
    )
    return row


def delete_audited(
    *, user: AnyUser, row: models.Model, before: Mapping[str, Any], object_repr: str
) -> None:
    """Delete the row and record its last values (`before`). The caller holds the row's lock,
    in the transaction the entry is written in."""
    pk = str(row.pk)
    row.delete()
    record(
        actor=user,
        action=AuditAction.DELETED,
        instance_or_type=object_type_of(row),
        object_id=pk,
        object_repr=object_repr,
        before=before,
        after={},
    )


# --- departments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentDetails:
    """What the department form sets (the slug is made from the name on creation)."""

    name: str
    channel_ids: frozenset[int]
    contact_person_id: int | None
    time_zone: str
    assignment_strategy: str
    default_capacity: int
    requires_approval: bool


def hours_summary(rows: Iterable[DepartmentHours]) -> list[str]:
    """One line per open weekday, e.g. "Mon 09:00-12:30, 13:30-17:00"; rows in weekday order."""
    by_day: dict[int, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r.weekday, r.opens)):
        interval = f"{row.opens:%H:%M}-{row.closes:%H:%M}"
        by_day.setdefault(row.weekday, []).append(interval)
    return [f"{WEEKDAY_NAMES[day]} {', '.join(spans)}" for day, spans in sorted(by_day.items())]


def _department_snapshot(department: Department) -> dict[str, Any]:
    values = snapshot(department, DEPARTMENT_FIELDS)
    values["hours"] = hours_summary(DepartmentHours.objects.filter(department=department))
    return values


def _free_slug(name: str) -> str:
    base = slugify(name)[:110] or "department"
    slug, number = base, 2
    while Department.objects.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug


def _check_weekly_hours(hours: WeeklyHours) -> None:
    for weekday, intervals in hours.items():
        if weekday not in WEEKDAY_NAMES:
            raise ActionRefused(gettext("There is no weekday %(weekday)s.") % {"weekday": weekday})
        ordered = sorted(intervals)
        for opens, closes in ordered:
            if opens >= closes:
                raise ActionRefused(
                    gettext("%(weekday)s: %(opens)s is not before %(closes)s.")
                    % {
                        "weekday": weekday_name(weekday),
                        "opens": f"{opens:%H:%M}",
                        "closes": f"{closes:%H:%M}",
                    }
                )
        for (_, first_closes), (second_opens, _) in pairwise(ordered):
            if second_opens < first_closes:
                raise ActionRefused(
                    gettext("%(weekday)s: the opening hours overlap.")
                    % {"weekday": weekday_name(weekday)}
                )


def save_department(
    *,
    user: AnyUser,
    department: Department | None,
    details: DepartmentDetails,
    hours: WeeklyHours | None = None,
) -> Department:
    """Create (department None) or change a department, and with `hours` replace its whole
    week of opening hours.

    One transaction with the department row locked; the slug is made once, from the name on
    creation, and stays (other places may key on it). The contact person must be a member.
    One audit entry ("hours" among its keys); none when nothing changed.
    """
    check_can_administer(user)
    if hours is not None:
        _check_weekly_hours(hours)
    try:
        with transaction.atomic():
            if department is None:
                current = Department(slug=_free_slug(details.name))
                before: dict[str, Any] = {}
            else:
                current = locked(Department.objects.all(), department.pk)
                before = _department_snapshot(current)
            if details.contact_person_id is not None and not (
                current.pk is not None
                and Membership.objects.filter(
                    department=current, user_id=details.contact_person_id
                ).exists()
            ):
                raise ActionRefused(
                    gettext("The contact person must be a member of the department.")
                )
            current.name = details.name
            current.contact_person_id = details.contact_person_id
            current.time_zone = details.time_zone
            current.assignment_strategy = details.assignment_strategy
            current.default_capacity = details.default_capacity
            current.requires_approval = details.requires_approval
            current.save()
            current.channel_accounts.set(ChannelAccount.objects.filter(pk__in=details.channel_ids))
            if hours is not None:
                DepartmentHours.objects.filter(department=current).delete()
                DepartmentHours.objects.bulk_create(
                    DepartmentHours(department=current, weekday=day, opens=opens, closes=closes)
                    for day, intervals in sorted(hours.items())
                    for opens, closes in sorted(intervals)
                )
            record(
                actor=user,
                action=AuditAction.CREATED if department is None else AuditAction.CHANGED,
                instance_or_type=current,
                before=before,
                after=_department_snapshot(current),
            )
    except IntegrityError:
        raise ActionRefused(
            gettext("There is already a department named %(name)s.") % {"name": details.name}
        ) from None
    return current


def department_deletion_blockers(department: Department) -> list[str]:
    """Why the department cannot be deleted yet: rows that would silently change meaning.

    A routing rule that sends work here would be deleted with it (the database cascades), an
    SLA policy limited to it would then apply to every department, and a saved reply scoped
    only to it would then be shown to everyone.
    """
    reasons = [
        gettext("Routing rule “%(name)s” sends conversations to this department.") % {"name": name}
        for name in RoutingRule.objects.filter(set_department=department).values_list(
            "name", flat=True
        )
    ]
    reasons += [
        gettext("SLA policy “%(name)s” applies to this department.") % {"name": name}
        for name in SlaPolicy.objects.filter(departments=department).values_list("name", flat=True)
    ]
    only_here = (
        SavedReply.objects.filter(departments=department)
        .annotate(scopes=Count("departments", distinct=True))
        .filter(scopes=1)
    )
    reasons += [
        gettext("Saved reply “%(title)s” is for this department only.") % {"title": title}
        for title in SavedReply.objects.filter(pk__in=only_here.values("pk")).values_list(
            "title", flat=True
        )
    ]
    return reasons


def delete_department(*, user: AnyUser, department: Department) -> None:
    """Delete a department with its memberships, hours and holidays (its conversations keep
    their channel and lose the department).

    Refused (ActionRefused) while department_deletion_blockers names anything. One transaction
    with the row locked; one audit entry with the department's last values.
    """
    check_can_administer(user)
    with transaction.atomic():
        current = locked(Department.objects.all(), department.pk)
        blockers = department_deletion_blockers(current)
        if blockers:
            raise ActionRefused(" ".join([gettext("Change these first:"), *blockers]))
        before = _department_snapshot(current)
        before["members"] = sorted(
            Membership.objects.filter(department=current).values_list("user_id", flat=True)
        )
        delete_audited(user=user, row=current, before=before, object_repr=current.name)


def _holiday_repr(holiday: DepartmentHoliday, department: Department) -> str:
    label = f"{department.name}: {holiday.date.isoformat()}"
    return f"{label} {holiday.name}".strip()


def add_holiday(
    *, user: AnyUser, department: Department, day: date, name: str
) -> DepartmentHoliday:
    """Close the department on `day`. Refused if that day is already a holiday there; the
    department row is locked so two admins adding the same day get one holiday and one
    clear refusal."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(Department.objects.all(), department.pk)
        if DepartmentHoliday.objects.filter(department=current, date=day).exists():
            raise ActionRefused(
                gettext("%(day)s is already a holiday of %(department)s.")
                % {"day": date_format(day, "DATE_FORMAT"), "department": current.name}
            )
        holiday = DepartmentHoliday.objects.create(department=current, date=day, name=name)
        record(
            actor=user,
            action=AuditAction.CREATED,
            instance_or_type=holiday,
            object_repr=_holiday_repr(holiday, current),
            before={},
            after=snapshot(holiday, HOLIDAY_FIELDS),
        )
    return holiday


def remove_holiday(*, user: AnyUser, holiday: DepartmentHoliday) -> None:
    """Open the department again on the holiday's date; one audit entry."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(DepartmentHoliday.objects.select_related("department"), holiday.pk)
        delete_audited(
            user=user,
            row=current,
            before=snapshot(current, HOLIDAY_FIELDS),
            object_repr=_holiday_repr(current, current.department),
        )


# --- members ----------------------------------------------------------------------------------


def _member_repr(membership: Membership) -> str:
    member = membership.user
    name = member.get_full_name() or member.get_username()
    return f"{name} in {membership.department.name}"


def _check_membership_values(role: str, capacity: int | None) -> None:
    if role not in MembershipRole.values:
        raise ActionRefused(gettext("There is no role “%(role)s”.") % {"role": role})
    if capacity is not None and capacity < 0:
        raise ActionRefused(gettext("The capacity cannot be negative."))


def add_member(
    *,
    user: AnyUser,
    department: Department,
    member: AbstractUser,
    role: str,
    capacity: int | None = None,
    requires_approval: bool = False,
) -> Membership:
    """Make `member` a member of the department with this role. Refused if they already are
    (the unique constraint decides under concurrency); one audit entry."""
    check_can_administer(user)
    _check_membership_values(role, capacity)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user_id=member.pk,
                department=department,
                role=role,
                capacity=capacity,
                requires_approval=requires_approval,
            )
            record(
                actor=user,
                action=AuditAction.CREATED,
                instance_or_type=membership,
                object_repr=_member_repr(membership),
                before={},
                after=snapshot(membership, MEMBERSHIP_FIELDS),
            )
    except IntegrityError:
        name = member.get_full_name() or member.get_username()
        raise ActionRefused(
            gettext("%(name)s is already a member of %(department)s.")
            % {"name": name, "department": department.name}
        ) from None
    return membership


def change_member(
    *,
    user: AnyUser,
    membership: Membership,
    role: str,
    capacity: int | None,
    requires_approval: bool,
) -> Membership:
    """Change a member's role, capacity (None: the department's default) and four-eyes flag,
    with the membership row locked; one audit entry, none when nothing changed."""
    check_can_administer(user)
    _check_membership_values(role, capacity)
    with transaction.atomic():
        current = locked(Membership.objects.select_related("user", "department"), membership.pk)
        return save_audited(
            user=user,
            row=current,
            values={"role": role, "capacity": capacity, "requires_approval": requires_approval},
            audited=MEMBERSHIP_FIELDS,
            object_repr=_member_repr(current),
        )


def remove_member(*, user: AnyUser, membership: Membership) -> None:
    """Take a user out of a department. If they were its contact person, the department has
    none afterwards (recorded as a department change). One transaction, department first
    then membership locked (the order save_department takes them in)."""
    check_can_administer(user)
    with transaction.atomic():
        department = locked(Department.objects.all(), membership.department_id)
        current = locked(Membership.objects.select_related("user", "department"), membership.pk)
        if department.contact_person_id == current.user_id:
            save_audited(
                user=user,
                row=department,
                values={"contact_person": None},
                audited=DEPARTMENT_FIELDS,
            )
        delete_audited(
            user=user,
            row=current,
            before=snapshot(current, MEMBERSHIP_FIELDS),
            object_repr=_member_repr(current),
        )


# --- user accounts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    username: str
    first_name: str
    last_name: str
    email: str
    password: str = field(repr=False)  # never printed, never logged
    is_admin: bool = False


def create_account(*, user: AnyUser, account: NewAccount) -> AbstractUser:
    """Create a user who can sign in with the initial password. Admins are superusers (and
    staff, for the Django admin). The audit entry has the account's fields, never the
    password or its hash. Refused if the username is taken (ignoring case)."""
    check_can_administer(user)
    user_model = get_user_model()
    try:
        with transaction.atomic():
            if user_model.objects.filter(username__iexact=account.username).exists():
                raise ActionRefused(
                    gettext("The username %(username)s is taken.") % {"username": account.username}
                )
            created = user_model.objects.create_user(
                username=account.username,
                email=account.email,
                password=account.password,
                first_name=account.first_name,
                last_name=account.last_name,
                is_superuser=account.is_admin,
                is_staff=account.is_admin,
            )
            assert isinstance(created, AbstractUser)
            record(
                actor=user,
                action=AuditAction.CREATED,
                instance_or_type=created,
                before={},
                after=snapshot(created, USER_FIELDS),
            )
    except IntegrityError:
        raise ActionRefused(
            gettext("The username %(username)s is taken.") % {"username": account.username}
        ) from None
    return created


def _change_account(
    *, user: AnyUser, account: AbstractUser, values: Mapping[str, bool]
) -> AbstractUser:
    check_can_administer(user)
    if account.pk == user.pk:
        # Nobody locks themselves out: the admin doing this stays an active admin, so there is
        # always at least one.
        raise ActionRefused(
            gettext("You cannot deactivate yourself or revoke your own admin rights.")
        )
    with transaction.atomic():
        current = locked(get_user_model().objects.all(), account.pk)
        assert isinstance(current, AbstractUser)
        return save_audited(user=user, row=current, values=values, audited=USER_FIELDS)


def set_account_active(*, user: AnyUser, account: AbstractUser, active: bool) -> AbstractUser:
    """Deactivate (they can no longer sign in, and their open sessions stop working) or
    reactivate a user. Refused for yourself. Row locked; one audit entry."""
    return _change_account(user=user, account=account, values={"is_active": active})


def set_account_admin(*, user: AnyUser, account: AbstractUser, admin: bool) -> AbstractUser:
    """Make a user an admin or revoke it (superuser and staff together). Refused for
    yourself, so the acting admin always remains. Row locked; one audit entry."""
    return _change_account(
        user=user, account=account, values={"is_superuser": admin, "is_staff": admin}
    )


# --- approval settings ------------------------------------------------------------------------


def set_channel_approval(
    *, user: AnyUser, channel: ChannelAccount, requires_approval: bool
) -> ChannelAccount:
    """Four-eyes for every reply on this channel, on or off. Only that field is written, with
    the channel row locked, so a poll finishing at the same moment keeps its own fields. One
    audit entry with that flag only (never the channel's settings or credentials)."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(ChannelAccount.objects.all(), channel.pk)
        return save_audited(
            user=user,
            row=current,
            values={"requires_approval": requires_approval},
            audited=CHANNEL_FIELDS,
        )
