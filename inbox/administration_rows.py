"""The rows of the team screens' tables in words: a department with its members, hours and next
holiday; a routing rule's conditions and what it sets; an SLA policy's scope and targets. Each
list is read with the few queries its prefetches need, and the templates show the ready lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from channels_integrations.models import ChannelAccount, Platform
from inbox.administration import weekday_name
from inbox.administration_parsing import format_minutes
from inbox.models import (
    ConversationKind,
    Department,
    DepartmentHoliday,
    DepartmentHours,
    Membership,
    MembershipRole,
    Priority,
    RoutingRule,
    SlaPolicy,
)
from inbox.models.teams import AuthorCondition

ROLE_ORDER: dict[str, int] = {
    MembershipRole.LEAD: 0,
    MembershipRole.AGENT: 1,
    MembershipRole.OBSERVER: 2,
}


def person_name(user: Any) -> str:
    """The full name, or the username for someone without one; "" for nobody."""
    if user is None:
        return ""
    full_name: str = user.get_full_name()
    return full_name or user.get_username()


def members_by_role(memberships: Iterable[Membership]) -> list[Membership]:
    """Leads first, then agents, then observers; by name within a role."""
    return sorted(
        memberships, key=lambda m: (ROLE_ORDER.get(m.role, 9), person_name(m.user).lower())
    )


def compact_hours(rows: Iterable[DepartmentHours]) -> list[str]:
    """Working hours in a few words: consecutive weekdays with the same intervals share a line
    ("Mon\u2013Fri 09:00-17:00"); an empty list when no hours are set."""
    by_day: dict[int, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r.weekday, r.opens)):
        by_day.setdefault(row.weekday, []).append(f"{row.opens:%H:%M}-{row.closes:%H:%M}")
    lines: list[str] = []
    run: list[int] = []
    for weekday in range(1, 9):
        spans = by_day.get(weekday)
        if run and (spans is None or spans != by_day[run[0]] or weekday != run[-1] + 1):
            first, last = weekday_name(run[0]), weekday_name(run[-1])
            days = first if len(run) == 1 else f"{first}\u2013{last}"
            lines.append(f"{days} {', '.join(by_day[run[0]])}")
            run = []
        if spans is not None:
            run.append(weekday)
    return lines


def _label(choices: type[Any], value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _channels_by_name() -> Prefetch[Any]:
    return Prefetch("channel_accounts", queryset=ChannelAccount.objects.order_by("name"))


@dataclass
class DepartmentRow:
    department: Department
    members: list[Membership]
    hours: list[str]
    next_holiday: DepartmentHoliday | None


@dataclass
class RuleRow:
    item: RoutingRule
    conditions: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)


@dataclass
class PolicyRow:
    item: SlaPolicy
    scope: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def department_rows() -> list[DepartmentRow]:
    today = timezone.localdate()
    departments = Department.objects.select_related("contact_person").prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("user")),
        _channels_by_name(),
        "hours",
        Prefetch(
            "holidays",
            queryset=DepartmentHoliday.objects.filter(date__gte=today).order_by("date"),
            to_attr="coming_holidays",
        ),
    )
    return [
        DepartmentRow(
            department=department,
            members=members_by_role(department.memberships.all()),
            hours=compact_hours(department.hours.all()),
            next_holiday=next(iter(getattr(department, "coming_holidays", [])), None),
        )
        for department in departments
    ]


def _any_of(label: str, names: Iterable[str]) -> list[str]:
    """["channel Brand or Press"]: one line naming what is allowed; none when it is all."""
    listed = list(names)
    return [f"{label} {' or '.join(listed)}"] if listed else []


def rule_rows() -> list[RuleRow]:
    rules = RoutingRule.objects.select_related("set_department", "set_assignee").prefetch_related(
        _channels_by_name(), "add_tags"
    )
    rows = []
    for rule in rules:
        keywords = [line for line in rule.keywords.splitlines() if line.strip()]
        row = RuleRow(
            item=rule,
            conditions=[
                *_any_of("channel", (channel.name for channel in rule.channel_accounts.all())),
                *_any_of("platform", (_label(Platform, p) for p in rule.platforms)),
                *_any_of("kind", (_label(ConversationKind, k).lower() for k in rule.kinds)),
                *_any_of("language", rule.languages),
                *_any_of("mentions", (f"“{keyword}”" for keyword in keywords)),
            ],
        )
        if rule.author:
            author = _label(AuthorCondition, rule.author)
            row.conditions.append("author is " + author[:1].lower() + author[1:])
        if rule.set_department is not None:
            row.outcomes.append(f"department {rule.set_department.name}")
        if rule.set_assignee is not None:
            row.outcomes.append(f"assign to {person_name(rule.set_assignee)}")
        if rule.set_priority is not None:
            row.outcomes.append(f"priority {_label(Priority, rule.set_priority).lower()}")
        tags = [tag.name for tag in rule.add_tags.all()]
        if tags:
            row.outcomes.append("tags " + ", ".join(tags))
        rows.append(row)
    return rows


def _targets(policy: SlaPolicy) -> list[str]:
    return [
        f"{label} {format_minutes(minutes)}"
        for label, minutes in (
            ("first response", policy.first_response_minutes),
            ("next response", policy.next_response_minutes),
            ("resolution", policy.resolution_minutes),
        )
        if minutes is not None
    ]


def policy_rows() -> list[PolicyRow]:
    policies = SlaPolicy.objects.prefetch_related(
        _channels_by_name(),
        Prefetch("departments", queryset=Department.objects.order_by("name")),
    )
    return [
        PolicyRow(
            item=policy,
            scope=[
                *_any_of("channel", (channel.name for channel in policy.channel_accounts.all())),
                *_any_of("department", (d.name for d in policy.departments.all())),
                *_any_of("priority", (_label(Priority, p).lower() for p in policy.priorities)),
            ],
            targets=_targets(policy),
        )
        for policy in policies
    ]
