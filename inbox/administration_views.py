"""The team administration screens: departments, members, users, routing rules, SLA policies,
approval settings and the audit log.

Admins only: anonymous visitors go to the login page, everyone else gets 403 on every URL
(GET and POST alike) before anything is looked up. Thin: forms validate, the actions in
inbox.administration write (and audit); these views read and render.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_integrations.models import ChannelAccount, Platform
from inbox import administration as admin_actions
from inbox import audit
from inbox.access import AccessDenied, can_administer
from inbox.actions import ActionRefused
from inbox.administration_forms import (
    COMMON_TIME_ZONES,
    AddMemberForm,
    AuditFilterForm,
    DepartmentForm,
    HolidayForm,
    MemberForm,
    RoutingRuleForm,
    SlaPolicyForm,
    UserCreateForm,
    format_minutes,
)
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

View = Callable[..., HttpResponseBase]
AUDIT_PAGE_SIZE = 50
ROLE_ORDER: dict[str, int] = {
    MembershipRole.LEAD: 0,
    MembershipRole.AGENT: 1,
    MembershipRole.OBSERVER: 2,
}


def admin_required(view: View) -> View:
    """Logged-in admins only (login page for anonymous visitors, 403 for everyone else); an
    AccessDenied from an action (rights revoked mid-request) is a 403 too."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_administer(request.user):
            raise PermissionDenied("Only admins may administer the team.")
        try:
            return view(request, *args, **kwargs)
        except AccessDenied as exc:
            raise PermissionDenied(str(exc)) from None

    return login_required(wrapper)


def _flag(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name, "") in ("1", "true", "on", "yes")


def _direction(request: HttpRequest) -> admin_actions.MoveDirection:
    return "up" if request.POST.get("direction") == "up" else "down"


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# --- display helpers --------------------------------------------------------------------------


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
            first, last = admin_actions.WEEKDAY_NAMES[run[0]], admin_actions.WEEKDAY_NAMES[run[-1]]
            days = first if len(run) == 1 else f"{first}\u2013{last}"
            lines.append(f"{days} {', '.join(by_day[run[0]])}")
            run = []
        if spans is not None:
            run.append(weekday)
    return lines


def _person(user: Any) -> str:
    if user is None:
        return ""
    full_name: str = user.get_full_name()
    return full_name or user.get_username()


def _label(choices: type[Any], value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@dataclass
class DepartmentRow:
    department: Department
    members: list[Membership]
    hours: list[str]
    next_holiday: DepartmentHoliday | None


@dataclass
class RuleRow:
    rule: RoutingRule
    conditions: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)


@dataclass
class PolicyRow:
    policy: SlaPolicy
    scope: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def _department_rows() -> list[DepartmentRow]:
    today = timezone.localdate()
    departments = Department.objects.select_related("contact_person").prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("user")),
        Prefetch("channel_accounts", queryset=ChannelAccount.objects.order_by("name")),
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
            members=sorted(
                department.memberships.all(),
                key=lambda m: (ROLE_ORDER.get(m.role, 9), _person(m.user).lower()),
            ),
            hours=compact_hours(department.hours.all()),
            next_holiday=next(iter(getattr(department, "coming_holidays", [])), None),
        )
        for department in departments
    ]


def _rule_rows() -> list[RuleRow]:
    rules = RoutingRule.objects.select_related("set_department", "set_assignee").prefetch_related(
        Prefetch("channel_accounts", queryset=ChannelAccount.objects.order_by("name")),
        "add_tags",
    )
    rows = []
    for rule in rules:
        row = RuleRow(rule=rule)
        channels = [channel.name for channel in rule.channel_accounts.all()]
        if channels:
            row.conditions.append("channel " + " or ".join(channels))
        if rule.platforms:
            platforms = " or ".join(_label(Platform, p) for p in rule.platforms)
            row.conditions.append("platform " + platforms)
        if rule.kinds:
            kinds = " or ".join(_label(ConversationKind, k).lower() for k in rule.kinds)
            row.conditions.append("kind " + kinds)
        if rule.languages:
            row.conditions.append("language " + " or ".join(rule.languages))
        keywords = [line for line in rule.keywords.splitlines() if line.strip()]
        if keywords:
            row.conditions.append("mentions " + " or ".join(f"“{k}”" for k in keywords))
        if rule.author:
            author = _label(AuthorCondition, rule.author)
            row.conditions.append("author is " + author[:1].lower() + author[1:])
        if rule.set_department is not None:
            row.outcomes.append(f"department {rule.set_department.name}")
        if rule.set_assignee is not None:
            row.outcomes.append(f"assign to {_person(rule.set_assignee)}")
        if rule.set_priority is not None:
            row.outcomes.append(f"priority {_label(Priority, rule.set_priority).lower()}")
        tags = [tag.name for tag in rule.add_tags.all()]
        if tags:
            row.outcomes.append("tags " + ", ".join(tags))
        rows.append(row)
    return rows


def _policy_rows() -> list[PolicyRow]:
    policies = SlaPolicy.objects.prefetch_related(
        Prefetch("channel_accounts", queryset=ChannelAccount.objects.order_by("name")),
        Prefetch("departments", queryset=Department.objects.order_by("name")),
    )
    rows = []
    for policy in policies:
        row = PolicyRow(policy=policy)
        channels = [channel.name for channel in policy.channel_accounts.all()]
        if channels:
            row.scope.append("channel " + " or ".join(channels))
        departments = [department.name for department in policy.departments.all()]
        if departments:
            row.scope.append("department " + " or ".join(departments))
        if policy.priorities:
            priorities = " or ".join(_label(Priority, p).lower() for p in policy.priorities)
            row.scope.append("priority " + priorities)
        for label, minutes in (
            ("first response", policy.first_response_minutes),
            ("next response", policy.next_response_minutes),
            ("resolution", policy.resolution_minutes),
        ):
            if minutes is not None:
                row.targets.append(f"{label} {format_minutes(minutes)}")
        rows.append(row)
    return rows


# --- overview and users -----------------------------------------------------------------------


@admin_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """Departments (members by role, channels, contact, strategy, hours, four-eyes) and users."""
    users = (
        get_user_model()
        .objects.order_by("-is_active", "username")
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("department").order_by(
                    "department__name"
                ),
            )
        )
    )
    return render(
        request,
        "administration/overview.html",
        {
            "section": "overview",
            "department_rows": _department_rows(),
            "users": users,
            "unowned_channels": ChannelAccount.objects.filter(departments__isnull=True).order_by(
                "name"
            ),
        },
    )


@sensitive_post_parameters("password")
@admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    """A new account; the initial password is hidden from error reports and never logged."""
    form = UserCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            account = admin_actions.create_account(user=request.user, account=form.new_account())
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"User {account.get_username()} created.")
            return redirect(reverse("team:overview") + f"#user-{account.pk}")
    return render(
        request,
        "administration/user_form.html",
        {"section": "overview", "form": form},
        status=422 if form.is_bound else 200,
    )


def _account_change(request: HttpRequest, pk: int, change: Callable[[Any], Any]) -> HttpResponse:
    account = get_object_or_404(get_user_model(), pk=pk)
    try:
        change(account)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{_person(account)} saved.")
    return redirect(reverse("team:overview") + f"#user-{pk}")


@admin_required
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    active = _flag(request, "active")
    return _account_change(
        request,
        pk,
        lambda account: admin_actions.set_account_active(
            user=request.user, account=account, active=active
        ),
    )


@admin_required
@require_POST
def user_admin(request: HttpRequest, pk: int) -> HttpResponse:
    admin = _flag(request, "admin")
    return _account_change(
        request,
        pk,
        lambda account: admin_actions.set_account_admin(
            user=request.user, account=account, admin=admin
        ),
    )


# --- departments ------------------------------------------------------------------------------


def _department_page(
    request: HttpRequest,
    department: Department,
    *,
    form: DepartmentForm | None = None,
    member_form: MemberForm | None = None,
    member_form_for: int | None = None,
    add_member_form: AddMemberForm | None = None,
    holiday_form: HolidayForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The department page; a form given here (bound, with errors) replaces the blank one."""
    memberships = sorted(
        Membership.objects.filter(department=department).select_related("user"),
        key=lambda m: (ROLE_ORDER.get(m.role, 9), _person(m.user).lower()),
    )
    member_rows = [
        (
            membership,
            member_form
            if member_form is not None and member_form_for == membership.pk
            else MemberForm(prefix=f"m{membership.pk}", initial=MemberForm.initial_for(membership)),
        )
        for membership in memberships
    ]
    return render(
        request,
        "administration/department.html",
        {
            "section": "overview",
            "department": department,
            "form": form or DepartmentForm(department=department),
            "member_rows": member_rows,
            "add_member_form": add_member_form
            or AddMemberForm(department=department, prefix="add"),
            "holiday_form": holiday_form or HolidayForm(prefix="holiday"),
            "holidays": DepartmentHoliday.objects.filter(department=department).order_by("date"),
            "today": timezone.localdate(),
            "time_zones": COMMON_TIME_ZONES,
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def department_create(request: HttpRequest) -> HttpResponse:
    form = DepartmentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            department = admin_actions.save_department(
                user=request.user,
                department=None,
                details=form.details(),
                hours=form.weekly_hours(),
            )
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, "Department created. Add its members, then choose the contact person."
            )
            return redirect("team:department", pk=department.pk)
    return render(
        request,
        "administration/department_form.html",
        {"section": "overview", "form": form, "time_zones": COMMON_TIME_ZONES},
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def department_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The department's settings and week (POST saves them), its members and holidays."""
    department = get_object_or_404(Department, pk=pk)
    if request.method != "POST":
        return _department_page(request, department)
    form = DepartmentForm(request.POST, department=department)
    if form.is_valid():
        try:
            admin_actions.save_department(
                user=request.user,
                department=department,
                details=form.details(),
                hours=form.weekly_hours(),
            )
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Department saved.")
            return redirect("team:department", pk=pk)
    return _department_page(request, department, form=form, status=422)


@admin_required
@require_http_methods(["GET", "POST"])
def department_delete(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    status = 200
    if request.method == "POST":
        try:
            admin_actions.delete_department(user=request.user, department=department)
        except ActionRefused:
            status = 409  # the page lists what is in the way
        else:
            messages.success(request, f"Department {department.name} deleted.")
            return redirect("team:overview")
    sole_channels = (
        department.channel_accounts.annotate(owners=Count("departments"))
        .filter(owners=1)
        .order_by("name")
    )
    return render(
        request,
        "administration/department_delete.html",
        {
            "section": "overview",
            "department": department,
            "blockers": admin_actions.department_deletion_blockers(department),
            "member_count": department.memberships.count(),
            "sole_channels": sole_channels,
        },
        status=status,
    )


@admin_required
@require_POST
def holiday_add(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    form = HolidayForm(request.POST, prefix="holiday")
    if form.is_valid():
        day: date = form.cleaned_data["date"]
        try:
            admin_actions.add_holiday(
                user=request.user, department=department, day=day, name=form.cleaned_data["name"]
            )
        except ActionRefused as exc:
            form.add_error("date", str(exc))
        else:
            messages.success(request, f"Holiday on {day:%d %b %Y} added.")
            return redirect(reverse("team:department", args=[pk]) + "#holidays")
    return _department_page(request, department, holiday_form=form, status=422)


@admin_required
@require_POST
def holiday_remove(request: HttpRequest, pk: int) -> HttpResponse:
    holiday = get_object_or_404(DepartmentHoliday, pk=pk)
    try:
        admin_actions.remove_holiday(user=request.user, holiday=holiday)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Holiday on {holiday.date:%d %b %Y} removed.")
    return redirect(reverse("team:department", args=[holiday.department_id]) + "#holidays")


@admin_required
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    form = AddMemberForm(request.POST, department=department, prefix="add")
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = admin_actions.add_member(
                user=request.user,
                department=department,
                member=data["member"],
                role=data["role"],
                capacity=data["capacity"],
                requires_approval=data["requires_approval"],
            )
        except ActionRefused as exc:
            form.add_error("member", str(exc))
        else:
            messages.success(request, f"{_person(data['member'])} added to {department.name}.")
            return redirect(reverse("team:department", args=[pk]) + f"#member-{membership.pk}")
    return _department_page(request, department, add_member_form=form, status=422)


@admin_required
@require_POST
def member_change(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user", "department"), pk=pk)
    form = MemberForm(request.POST, prefix=f"m{pk}")
    if form.is_valid():
        try:
            admin_actions.change_member(
                user=request.user,
                membership=membership,
                role=form.cleaned_data["role"],
                capacity=form.cleaned_data["capacity"],
                requires_approval=form.cleaned_data["requires_approval"],
            )
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{_person(membership.user)} saved.")
            return redirect(
                reverse("team:department", args=[membership.department_id]) + f"#member-{pk}"
            )
    return _department_page(
        request, membership.department, member_form=form, member_form_for=pk, status=422
    )


@admin_required
@require_POST
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user", "department"), pk=pk)
    try:
        admin_actions.remove_member(user=request.user, membership=membership)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{_person(membership.user)} removed from {membership.department.name}."
        )
    return redirect(reverse("team:department", args=[membership.department_id]) + "#members")


# --- routing rules ----------------------------------------------------------------------------


def _ordered_list(
    request: HttpRequest, *, template: str, partial: str, context: dict[str, Any]
) -> HttpResponse:
    # htmx swaps only the table; a plain form post gets the whole page.
    return render(request, partial if _htmx(request) else template, context)


def _rules_context() -> dict[str, Any]:
    return {"section": "routing", "rule_rows": _rule_rows()}


@admin_required
@require_GET
def routing_rules(request: HttpRequest) -> HttpResponse:
    return render(request, "administration/routing_rules.html", _rules_context())


@admin_required
@require_http_methods(["GET", "POST"])
def routing_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no pk) or change a routing rule."""
    rule = get_object_or_404(RoutingRule, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = RoutingRuleForm(request.POST)
        if form.is_valid():
            try:
                admin_actions.save_routing_rule(
                    user=request.user, rule=rule, details=form.details()
                )
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Routing rule saved.")
                return redirect("team:routing_rules")
    else:
        form = RoutingRuleForm(initial=RoutingRuleForm.initial_for(rule) if rule else None)
    return render(
        request,
        "administration/routing_rule_form.html",
        {"section": "routing", "form": form, "rule": rule},
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def routing_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    try:
        admin_actions.delete_routing_rule(user=request.user, rule=rule)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Routing rule “{rule.name}” deleted.")
    return redirect("team:routing_rules")


@admin_required
@require_POST
def routing_rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    direction = _direction(request)
    try:
        admin_actions.move_routing_rule(user=request.user, rule=rule, direction=direction)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    if not _htmx(request):
        return redirect("team:routing_rules")
    return render(request, "administration/_routing_rules.html", _rules_context())


@admin_required
@require_POST
def routing_rule_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    try:
        admin_actions.set_routing_rule_enabled(
            user=request.user, rule=rule, enabled=_flag(request, "enabled")
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
    if not _htmx(request):
        return redirect("team:routing_rules")
    return render(request, "administration/_routing_rules.html", _rules_context())


# --- SLA policies -----------------------------------------------------------------------------


def _policies_context() -> dict[str, Any]:
    return {"section": "sla", "policy_rows": _policy_rows()}


@admin_required
@require_GET
def sla_policies(request: HttpRequest) -> HttpResponse:
    return render(request, "administration/sla_policies.html", _policies_context())


@admin_required
@require_http_methods(["GET", "POST"])
def sla_policy_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no pk; first response 24 h prefilled) or change an SLA policy."""
    policy = get_object_or_404(SlaPolicy, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = SlaPolicyForm(request.POST)
        if form.is_valid():
            try:
                admin_actions.save_sla_policy(
                    user=request.user, policy=policy, details=form.details()
                )
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "SLA policy saved.")
                return redirect("team:sla_policies")
    else:
        form = SlaPolicyForm(initial=SlaPolicyForm.initial_for(policy) if policy else None)
    return render(
        request,
        "administration/sla_policy_form.html",
        {"section": "sla", "form": form, "policy": policy},
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def sla_policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy, pk=pk)
    try:
        admin_actions.delete_sla_policy(user=request.user, policy=policy)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"SLA policy “{policy.name}” deleted.")
    return redirect("team:sla_policies")


@admin_required
@require_POST
def sla_policy_move(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy, pk=pk)
    direction = _direction(request)
    try:
        admin_actions.move_sla_policy(user=request.user, policy=policy, direction=direction)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    if not _htmx(request):
        return redirect("team:sla_policies")
    return render(request, "administration/_sla_policies.html", _policies_context())


@admin_required
@require_POST
def sla_policy_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy, pk=pk)
    try:
        admin_actions.set_sla_policy_enabled(
            user=request.user, policy=policy, enabled=_flag(request, "enabled")
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
    if not _htmx(request):
        return redirect("team:sla_policies")
    return render(request, "administration/_sla_policies.html", _policies_context())


# --- approval settings ------------------------------------------------------------------------


@admin_required
@require_GET
def approval_settings(request: HttpRequest) -> HttpResponse:
    """Where replies need a lead's approval: per channel (switched here), per department and
    per member (switched on their own pages, listed here)."""
    return render(
        request,
        "administration/approval.html",
        {
            "section": "approval",
            "channels": ChannelAccount.objects.order_by("name"),
            "departments": Department.objects.order_by("name"),
            "approval_members": Membership.objects.filter(requires_approval=True)
            .select_related("user", "department")
            .order_by("department__name", "user__username"),
        },
    )


@admin_required
@require_POST
def channel_approval(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(ChannelAccount, pk=pk)
    try:
        channel = admin_actions.set_channel_approval(
            user=request.user, channel=channel, requires_approval=_flag(request, "required")
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
    if _htmx(request):
        return render(request, "administration/_channel_approval.html", {"channel": channel})
    return redirect(reverse("team:approval") + f"#channel-{pk}")


# --- audit log --------------------------------------------------------------------------------


@admin_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """Newest first, 50 a page, filtered by object type and who made the change."""
    filter_form = AuditFilterForm(request.GET or None)
    filters = filter_form.filters() if request.GET else {"object_type": "", "actor_id": None}
    page = Paginator(audit.filtered_entries(**filters), AUDIT_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    changes = audit.describe_changes(page.object_list)
    query = {
        key: value
        for key, value in (
            ("object_type", filters["object_type"]),
            ("actor", filters["actor_id"] or ""),
        )
        if value
    }
    return render(
        request,
        "administration/audit_log.html",
        {
            "section": "audit",
            "filter_form": filter_form,
            "page": page,
            "entries": [(entry, changes[entry.pk]) for entry in page.object_list],
            "object_types": audit.OBJECT_TYPES,
            "filter_query": urlencode(query),
            "filtered": bool(query),
        },
    )


@admin_required
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log as CSV, streamed (a long log is never held in memory at once)."""
    filter_form = AuditFilterForm(request.GET or None)
    filters = filter_form.filters() if request.GET else {"object_type": "", "actor_id": None}
    response = StreamingHttpResponse(
        audit.csv_lines(audit.filtered_entries(**filters)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
