"""Routing rules and SLA policies: the team's two ordered lists, in which the first enabled entry
that matches a conversation decides (inbox.routing, inbox.sla).

Both lists are kept the same way, by the functions that take ROUTING_RULES or SLA_POLICIES: an
entry is created last, moved up or down (which numbers the list 1..n again), switched on or off
and deleted. What is particular to each list, its conditions and what it sets, is in
save_routing_rule and save_sla_policy.

As everywhere on the team screens (inbox.administration): each action is for admins only
(AccessDenied for anyone else), runs in one transaction with the rows it changes locked, and
writes its audit entries in that same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from channels_integrations.models import ChannelAccount
from inbox.access import AnyUser
from inbox.actions import ActionRefused
from inbox.administration import check_can_administer, delete_audited, locked, save_audited
from inbox.audit import AuditAction, record, snapshot
from inbox.models import Department, RoutingRule, SlaPolicy
from inbox.persons import tag_for_name

MoveDirection = Literal["up", "down"]
# An entry of either list.
Item = TypeVar("Item", RoutingRule, SlaPolicy)


@dataclass(frozen=True)
class OrderedList(Generic[Item]):
    """One of the two lists: its rows and the fields its audit entries keep."""

    model: type[Item]
    audited_fields: tuple[str, ...]


ROUTING_RULES = OrderedList(
    model=RoutingRule,
    audited_fields=(
        "name",
        "position",
        "enabled",
        "stop_processing",
        "channel_accounts",
        "platforms",
        "kinds",
        "languages",
        "keywords",
        "author",
        "set_department",
        "set_assignee",
        "set_priority",
        "add_tags",
    ),
)
SLA_POLICIES = OrderedList(
    model=SlaPolicy,
    audited_fields=(
        "name",
        "position",
        "enabled",
        "channel_accounts",
        "departments",
        "priorities",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "business_hours",
        "pause_when_snoozed",
        "pause_when_pending",
        "warn_before_minutes",
    ),
)


# --- what both lists share --------------------------------------------------------------------


def _next_position(model: type[Item]) -> int:
    highest = model.objects.aggregate(highest=Max("position"))["highest"]
    return (highest or 0) + 1


def _save_item(
    *,
    user: AnyUser,
    items: OrderedList[Item],
    item: Item | None,
    details: RoutingRuleDetails | SlaPolicyDetails,
    columns: Mapping[str, Any],
    relations: Mapping[str, Iterable[models.Model]],
) -> Item:
    """Create (item None, placed last) or change an entry: the name, switch and channels of
    `details` and the list's own `columns` set, then its many-to-many `relations` replaced.
    The caller has checked the admin's rights. One transaction with the entry locked; one
    audit entry (none when nothing changed)."""
    columns = {"name": details.name, "enabled": details.enabled, **columns}
    channels = ChannelAccount.objects.filter(pk__in=details.channel_ids)
    relations = {"channel_accounts": channels, **relations}
    with transaction.atomic():
        if item is None:
            current = items.model(position=_next_position(items.model))
            before: dict[str, Any] = {}
        else:
            current = locked(items.model.objects.all(), item.pk)
            before = snapshot(current, items.audited_fields)
        for column, value in columns.items():
            setattr(current, column, value)
        current.save()
        for relation, rows in relations.items():
            getattr(current, relation).set(rows)
        record(
            actor=user,
            action=AuditAction.CREATED if item is None else AuditAction.CHANGED,
            instance_or_type=current,
            before=before,
            after=snapshot(current, items.audited_fields),
        )
    return current


def _renumber(*, user: AnyUser, items: OrderedList[Item], rows: list[Item]) -> None:
    """Store positions 1..n in the order of `rows`, with an audit entry for each row whose
    position changed (the caller holds their locks)."""
    for position, row in enumerate(rows, start=1):
        if row.position != position:
            save_audited(
                user=user, row=row, values={"position": position}, audited=items.audited_fields
            )


def move_item(
    *, user: AnyUser, items: OrderedList[Item], item: Item, direction: MoveDirection
) -> None:
    """Swap the entry with its neighbour above or below and renumber the list 1..n (the first
    entry stays where it is when moved up, the last when moved down).

    Every entry of the list is locked, in id order as every mover takes them, so two admins
    reordering at once take turns and positions never repeat. An audit entry for each entry
    whose position changed.
    """
    check_can_administer(user)
    if direction not in ("up", "down"):
        raise ActionRefused(_("Cannot move “%(direction)s”.") % {"direction": direction})
    with transaction.atomic():
        rows = list(items.model.objects.select_for_update().order_by("pk"))
        ordered = sorted(rows, key=lambda row: (row.position, row.pk))
        index = next((i for i, row in enumerate(ordered) if row.pk == item.pk), None)
        if index is None:
            raise ActionRefused(_("This item was deleted in the meantime."))
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ordered):
            ordered[index], ordered[other] = ordered[other], ordered[index]
        _renumber(user=user, items=items, rows=ordered)


def set_item_enabled(*, user: AnyUser, items: OrderedList[Item], item: Item, enabled: bool) -> Item:
    """Switch an entry on or off, row locked; one audit entry (none if it already was)."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(items.model.objects.all(), item.pk)
        return save_audited(
            user=user, row=current, values={"enabled": enabled}, audited=("enabled",)
        )


def delete_item(*, user: AnyUser, items: OrderedList[Item], item: Item) -> None:
    """Delete an entry; the others keep their order (a gap in the positions is harmless and
    closed by the next move). Row locked; one audit entry with its last values. A deleted SLA
    policy's recorded breaches stay, without it."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(items.model.objects.all(), item.pk)
        before = snapshot(current, items.audited_fields)
        delete_audited(user=user, row=current, before=before, object_repr=str(current))


# --- routing rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingRuleDetails:
    """Conditions (empty: any) and actions (None or empty: leave as it is) of a rule."""

    name: str
    enabled: bool = True
    stop_processing: bool = True
    channel_ids: frozenset[int] = frozenset()
    platforms: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    keywords: str = ""
    author: str = ""
    set_department_id: int | None = None
    set_assignee_id: int | None = None
    set_priority: int | None = None
    tag_names: tuple[str, ...] = ()


def save_routing_rule(
    *, user: AnyUser, rule: RoutingRule | None, details: RoutingRuleDetails
) -> RoutingRule:
    """Create (rule None, placed last) or change a routing rule. Tags are found by name
    ignoring case, or created. One transaction with the rule locked; one audit entry."""
    check_can_administer(user)
    with transaction.atomic():  # the tags made here go when the rule is not saved
        return _save_item(
            user=user,
            items=ROUTING_RULES,
            item=rule,
            details=details,
            columns={
                "stop_processing": details.stop_processing,
                "platforms": list(details.platforms),
                "kinds": list(details.kinds),
                "languages": list(details.languages),
                "keywords": details.keywords,
                "author": details.author,
                "set_department_id": details.set_department_id,
                "set_assignee_id": details.set_assignee_id,
                "set_priority": details.set_priority,
            },
            relations={
                "add_tags": [tag_for_name(name) for name in details.tag_names],
            },
        )


# --- SLA policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaPolicyDetails:
    """Scope (empty: any) and targets in minutes (None: no target of that kind)."""

    name: str
    enabled: bool = True
    channel_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()
    priorities: tuple[int, ...] = ()
    first_response_minutes: int | None = 24 * 60
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    business_hours: bool = False
    pause_when_snoozed: bool = True
    pause_when_pending: bool = True
    warn_before_minutes: int = 60


# What saving an entry of either list takes.
ItemDetails = TypeVar("ItemDetails", RoutingRuleDetails, SlaPolicyDetails)


def save_sla_policy(
    *, user: AnyUser, policy: SlaPolicy | None, details: SlaPolicyDetails
) -> SlaPolicy:
    """Create (policy None, placed last) or change an SLA policy. One transaction with the
    policy locked; one audit entry. New targets apply to conversations that start after."""
    check_can_administer(user)
    targets = (
        details.first_response_minutes,
        details.next_response_minutes,
        details.resolution_minutes,
    )
    if any(minutes is not None and minutes <= 0 for minutes in targets):
        raise ActionRefused(_("A target must be longer than zero minutes."))
    return _save_item(
        user=user,
        items=SLA_POLICIES,
        item=policy,
        details=details,
        columns={
            "priorities": sorted(details.priorities),
            "first_response_minutes": details.first_response_minutes,
            "next_response_minutes": details.next_response_minutes,
            "resolution_minutes": details.resolution_minutes,
            "business_hours": details.business_hours,
            "pause_when_snoozed": details.pause_when_snoozed,
            "pause_when_pending": details.pause_when_pending,
            "warn_before_minutes": details.warn_before_minutes,
        },
        relations={
            "departments": Department.objects.filter(pk__in=details.department_ids),
        },
    )
