"""The one access helper: which channels a user may see, and what they may do there.

Roles (docs/permissions.md):
- admin (a superuser): sees and does everything, and alone configures channels, departments,
  routing, SLAs and approval settings;
- team lead (Membership.role "lead"): works their departments' conversations, routes them to
  any department that owns the channel, assigns them within their departments, approves replies;
- agent ("agent"): works their departments' conversations, takes them or hands them to a
  colleague of the same department;
- observer ("observer"): reads their departments' conversations, changes nothing.

A user's role is per department: lead in one, observer in another. Pages, actions, the
live-update consumer and the API all ask here; nothing else decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from inbox.models import Conversation, Department

AnyUser = AbstractBaseUser | AnonymousUser


class AccessDenied(Exception):
    """The user may not see this; callers answer 404 (a 403 would confirm that it exists)."""


class ReadOnly(AccessDenied):
    """The user may see this but not change it (an observer); callers answer 403 with the
    reason."""


READ_ONLY_MESSAGE = gettext_lazy("You can read this conversation but not change it.")


def _active(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def is_admin(user: AnyUser) -> bool:
    return _active(user) and bool(getattr(user, "is_superuser", False))


def _links(user: AnyUser, roles: Iterable[str] | None = None) -> QuerySet[Any]:
    """Department-channel links of the departments the user belongs to (with one of `roles`)."""
    from inbox.models import Department

    # One filter() call: the role must be of this user's membership, not of any member's.
    mine: dict[str, Any] = {"department__memberships__user_id": user.pk}
    if roles is not None:
        mine["department__memberships__role__in"] = list(roles)
    return Department.channel_accounts.through.objects.filter(**mine)


def visible_channel_ids(user: AnyUser) -> set[int] | None:
    """Channel ids the user may see, or None for every channel (admins)."""
    if not _active(user):
        return set()
    if is_admin(user):
        return None
    return set(_links(user).values_list("channelaccount_id", flat=True))


def acting_channel_ids(user: AnyUser) -> set[int] | None:
    """Channel ids whose conversations the user may change (lead or agent there), or None for
    every channel (admins). Observers see channels without acting on them."""
    from inbox.models import ACTING_ROLES

    if not _active(user):
        return set()
    if is_admin(user):
        return None
    return set(_links(user, ACTING_ROLES).values_list("channelaccount_id", flat=True))


def visible_channel_ids_by_user(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """visible_channel_ids for many members in one query (superusers: decided by the caller,
    they see every channel; inactive users: by the caller too)."""
    from inbox.models import Department

    visible: dict[int, set[int]] = defaultdict(set)
    ids = set(user_ids)
    if ids:
        for user_id, channel_id in Department.channel_accounts.through.objects.filter(
            department__memberships__user_id__in=ids
        ).values_list("department__memberships__user_id", "channelaccount_id"):
            visible[user_id].add(channel_id)
    return visible


def visible_channels_subquery(user: AnyUser) -> QuerySet[Any] | None:
    """The same rule as visible_channel_ids, as a subquery (None: every channel)."""
    from inbox.models import Department

    if not _active(user):
        return Department.channel_accounts.through.objects.none().values("channelaccount_id")
    if is_admin(user):
        return None
    return _links(user).values("channelaccount_id")


def acting_channels_subquery(user: AnyUser) -> QuerySet[Any] | None:
    """The same rule as acting_channel_ids, as a subquery (None: every channel)."""
    from inbox.models import ACTING_ROLES, Department

    if not _active(user):
        return Department.channel_accounts.through.objects.none().values("channelaccount_id")
    if is_admin(user):
        return None
    return _links(user, ACTING_ROLES).values("channelaccount_id")


def can_view_channel(user: AnyUser, channel_account_id: int) -> bool:
    ids = visible_channel_ids(user)
    return ids is None or channel_account_id in ids


def can_act_on_channel(user: AnyUser, channel_account_id: int) -> bool:
    ids = acting_channel_ids(user)
    return ids is None or channel_account_id in ids


def check_can_act(user: AnyUser, conversation: Conversation) -> None:
    """AccessDenied unless the user may change this conversation (reply, note, hide, assign,
    status...): admins, and leads and agents of a department that owns its channel."""
    if not can_act_on_channel(user, conversation.channel_account_id):
        if can_view_channel(user, conversation.channel_account_id):
            raise ReadOnly(READ_ONLY_MESSAGE)
        raise AccessDenied(_("not allowed to see this conversation"))


def may_only_read(user: AnyUser, channel_account_id: int) -> bool:
    """Sees the channel but may not act on it (an observer there): pages hide the controls."""
    return can_view_channel(user, channel_account_id) and not can_act_on_channel(
        user, channel_account_id
    )


def led_department_ids(user: AnyUser) -> set[int]:
    from inbox.models import Membership, MembershipRole

    if not _active(user):
        return set()
    return set(
        Membership.objects.filter(user_id=int(user.pk or 0), role=MembershipRole.LEAD).values_list(
            "department_id", flat=True
        )
    )


def is_lead(user: AnyUser) -> bool:
    """Leads at least one department, or is an admin (the "Awaiting approval" queue, SLA
    notices to leads, saved-reply management)."""
    return is_admin(user) or bool(led_department_ids(user))


def leads_channel(user: AnyUser, channel_account_id: int) -> bool:
    """Admin, or lead of a department that owns this channel."""
    from inbox.models import Department

    if is_admin(user):
        return True
    led = led_department_ids(user)
    return (
        bool(led)
        and Department.channel_accounts.through.objects.filter(
            department_id__in=led, channelaccount_id=channel_account_id
        ).exists()
    )


def can_approve(user: AnyUser, conversation: Conversation) -> bool:
    """Four-eyes: admins and the leads of a department owning the channel review replies."""
    return leads_channel(user, conversation.channel_account_id)


def check_can_assign(
    user: AnyUser,
    conversation: Conversation,
    *,
    assignee: Any | None,
    department: Department | None = None,
    set_department: bool = False,
) -> None:
    """AccessDenied (with a reason a person can read) unless the user may give this
    conversation to `assignee` (None: nobody) and, with `set_department`, to `department`.

    Leads and agents assign within their departments: the assignee must work (lead or agent)
    in a department that owns the channel and that the acting user belongs to. Routing to
    another department (that owns the channel) is for leads and admins.
    """
    from inbox.models import ACTING_ROLES, Department, Membership

    check_can_act(user, conversation)
    channel_id = conversation.channel_account_id
    name = ""
    if assignee is not None:
        name = assignee.get_full_name() or assignee.get_username()
        if not can_act_on_channel(assignee, channel_id):
            if can_view_channel(assignee, channel_id):
                raise AccessDenied(
                    _("%(name)s may only read this conversation's channel.") % {"name": name}
                )
            raise AccessDenied(
                _("%(name)s cannot see this conversation's channel.") % {"name": name}
            )
    if set_department:
        if not leads_channel(user, channel_id):
            raise AccessDenied(_("Only team leads and admins route conversations to departments."))
        if (
            department is not None
            and not department.channel_accounts.filter(pk=channel_id).exists()
        ):
            raise AccessDenied(
                _("%(name)s does not own this conversation's channel.") % {"name": department.name}
            )
    if assignee is None or is_admin(user) or assignee.pk == user.pk:
        return
    owning = Department.objects.filter(channel_accounts__id=channel_id)
    shared = Membership.objects.filter(
        user_id=int(user.pk or 0), role__in=ACTING_ROLES, department__in=owning
    ).values("department_id")
    if not Membership.objects.filter(
        user_id=assignee.pk, role__in=ACTING_ROLES, department_id__in=shared
    ).exists() and not is_admin(assignee):
        raise AccessDenied(
            _("%(name)s is not in one of your departments for this channel.") % {"name": name}
        )


def can_manage_channels(user: AnyUser) -> bool:
    """Connecting, configuring, pausing and testing channels is for admins only."""
    return is_admin(user)


def can_administer(user: AnyUser) -> bool:
    """Departments, members and roles, routing, SLA policies, approval settings, the audit
    log: admins only."""
    return is_admin(user)
