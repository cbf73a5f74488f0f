"""The team administration screens: departments, members, users, routing rules, SLA policies,
approval settings and the audit log.

Admins only: anonymous visitors go to the login page, everyone else gets 403 on every URL
(GET and POST alike) before anything is looked up. Thin: forms validate, the actions in
inbox.administration and inbox.administration_rules write (and audit); these views read and
render. Routing rules and SLA policies share one set of views (OrderedListScreens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from typing import Any, Generic
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
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_integrations.models import ChannelAccount
from inbox import administration as admin_actions
from inbox import administration_rules as rule_actions
from inbox import audit
from inbox.access import AccessDenied, AnyUser, can_administer
from inbox.actions import ActionRefused
from inbox.administration_forms import (
    COMMON_TIME_ZONES,
    AddMemberForm,
    AuditFilterForm,
    DepartmentForm,
    HolidayForm,
    MemberForm,
    OrderedItemForm,
    RoutingRuleForm,
    SlaPolicyForm,
    UserCreateForm,
)
from inbox.administration_rows import (
    department_rows,
    members_by_role,
    person_name,
    policy_rows,
    rule_rows,
)
from inbox.administration_rules import Item, ItemDetails
from inbox.models import Department, DepartmentHoliday, Membership

View = Callable[..., HttpResponseBase]
AUDIT_PAGE_SIZE = 50


def admin_required(view: View) -> View:
    """Logged-in admins only (login page for anonymous visitors, 403 for everyone else); an
    AccessDenied from an action (rights revoked mid-request) is a 403 too."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_administer(request.user):
            raise PermissionDenied(_("Only admins may administer the team."))
        try:
            return view(request, *args, **kwargs)
        except AccessDenied as exc:
            raise PermissionDenied(str(exc)) from None

    return login_required(wrapper)


def _flag(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name, "") in ("1", "true", "on", "yes")


def _direction(request: HttpRequest) -> rule_actions.MoveDirection:
    return "up" if request.POST.get("direction") == "up" else "down"


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


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
            "department_rows": department_rows(),
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
            messages.success(
                request, _("User %(username)s created.") % {"username": account.get_username()}
            )
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
        messages.success(request, _("%(name)s saved.") % {"name": person_name(account)})
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
    memberships = members_by_role(
        Membership.objects.filter(department=department).select_related("user")
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
                request, _("Department created. Add its members, then choose the contact person.")
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
            messages.success(request, _("Department saved."))
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
            messages.success(request, _("Department %(name)s deleted.") % {"name": department.name})
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
            messages.success(
                request, _("Holiday on %(day)s added.") % {"day": date_format(day, "DATE_FORMAT")}
            )
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
        messages.success(
            request,
            _("Holiday on %(day)s removed.") % {"day": date_format(holiday.date, "DATE_FORMAT")},
        )
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
            messages.success(
                request,
                _("%(name)s added to %(department)s.")
                % {"name": person_name(data["member"]), "department": department.name},
            )
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
            messages.success(request, _("%(name)s saved.") % {"name": person_name(membership.user)})
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
            request,
            _("%(person)s removed from %(department)s.")
            % {"person": person_name(membership.user), "department": membership.department.name},
        )
    return redirect(reverse("team:department", args=[membership.department_id]) + "#members")


# --- routing rules and SLA policies -----------------------------------------------------------


@dataclass(frozen=True)
class OrderedListScreens(Generic[Item, ItemDetails]):
    """The pages of one ordered list (routing rules or SLA policies), which share the views
    below; administration_urls hands each view the list it serves."""

    items: rule_actions.OrderedList[Item]
    name: str  # of its URLs and templates: team:routing_rule_edit, routing_rule_form.html
    plural: str  # of the list's page, its table (swapped alone by htmx) and their URLs
    title: str | Promise
    # Whole sentences per list (German word order and gender differ); deleted takes %(name)s.
    saved_message: str | Promise
    deleted_message: str | Promise
    item_name: str  # "rule": the form's variable, and the id prefix of the table rows
    section: str  # the team tab that is highlighted
    rows: Callable[[], list[Any]]
    form_class: type[OrderedItemForm[Item, ItemDetails]]
    save: Callable[[AnyUser, Item | None, ItemDetails], Item]

    @property
    def urls(self) -> dict[str, str]:
        """URL names by action: "list" -> team:routing_rules, "move" -> team:routing_rule_move."""
        actions = ("create", "edit", "delete", "move", "enabled")
        return {"list": f"team:{self.plural}"} | {a: f"team:{self.name}_{a}" for a in actions}

    @property
    def table_template(self) -> str:
        return f"administration/_{self.plural}.html"

    @property
    def list_id(self) -> str:
        """The table's element id, which htmx swaps."""
        return self.plural.replace("_", "-")


ROUTING_RULE_SCREENS = OrderedListScreens(
    items=rule_actions.ROUTING_RULES,
    name="routing_rule",
    plural="routing_rules",
    title=gettext_lazy("Routing rules"),
    saved_message=gettext_lazy("Routing rule saved."),
    deleted_message=gettext_lazy("Routing rule “%(name)s” deleted."),
    item_name="rule",
    section="routing",
    rows=rule_rows,
    form_class=RoutingRuleForm,
    save=lambda user, rule, details: rule_actions.save_routing_rule(
        user=user, rule=rule, details=details
    ),
)
SLA_POLICY_SCREENS = OrderedListScreens(
    items=rule_actions.SLA_POLICIES,
    name="sla_policy",
    plural="sla_policies",
    title=gettext_lazy("SLA policies"),
    saved_message=gettext_lazy("SLA policy saved."),
    deleted_message=gettext_lazy("SLA policy “%(name)s” deleted."),
    item_name="policy",
    section="sla",
    rows=policy_rows,
    form_class=SlaPolicyForm,
    save=lambda user, policy, details: rule_actions.save_sla_policy(
        user=user, policy=policy, details=details
    ),
)


def _list_context(screens: OrderedListScreens[Any, Any]) -> dict[str, Any]:
    return {"section": screens.section, "screens": screens, "rows": screens.rows()}


def _list_changed(request: HttpRequest, screens: OrderedListScreens[Any, Any]) -> HttpResponse:
    # htmx swaps only the table; a plain form post goes back to the whole page.
    if not _htmx(request):
        return redirect(screens.urls["list"])
    return render(request, screens.table_template, _list_context(screens))


@admin_required
@require_GET
def ordered_list(request: HttpRequest, *, screens: OrderedListScreens[Any, Any]) -> HttpResponse:
    return render(request, f"administration/{screens.plural}.html", _list_context(screens))


@admin_required
@require_http_methods(["GET", "POST"])
def ordered_item_edit(
    request: HttpRequest, pk: int | None = None, *, screens: OrderedListScreens[Any, Any]
) -> HttpResponse:
    """Create (no pk) or change a rule or policy."""
    item = get_object_or_404(screens.items.model, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = screens.form_class(request.POST)
        if form.is_valid():
            try:
                screens.save(request.user, item, form.details())
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, str(screens.saved_message))
                return redirect(screens.urls["list"])
    else:
        form = screens.form_class(item=item)
    return render(
        request,
        f"administration/{screens.name}_form.html",
        {"section": screens.section, "form": form, screens.item_name: item},
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def ordered_item_delete(
    request: HttpRequest, pk: int, *, screens: OrderedListScreens[Any, Any]
) -> HttpResponse:
    item = get_object_or_404(screens.items.model, pk=pk)
    try:
        rule_actions.delete_item(user=request.user, items=screens.items, item=item)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, str(screens.deleted_message) % {"name": item.name})
    return redirect(screens.urls["list"])


@admin_required
@require_POST
def ordered_item_move(
    request: HttpRequest, pk: int, *, screens: OrderedListScreens[Any, Any]
) -> HttpResponse:
    item = get_object_or_404(screens.items.model, pk=pk)
    try:
        rule_actions.move_item(
            user=request.user, items=screens.items, item=item, direction=_direction(request)
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
    return _list_changed(request, screens)


@admin_required
@require_POST
def ordered_item_enabled(
    request: HttpRequest, pk: int, *, screens: OrderedListScreens[Any, Any]
) -> HttpResponse:
    item = get_object_or_404(screens.items.model, pk=pk)
    try:
        rule_actions.set_item_enabled(
            user=request.user, items=screens.items, item=item, enabled=_flag(request, "enabled")
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
    return _list_changed(request, screens)


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
