"""Forms of the team administration screens. They only validate and turn what was typed into
the values the actions in inbox.administration and inbox.administration_rules take; nothing
here writes. Text typed in a compact notation (working hours, durations, language codes, tag
names) is read by inbox.administration_parsing.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.utils.dates import WEEKDAYS
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from channels_integrations.models import ChannelAccount, Platform
from inbox.administration import DepartmentDetails, NewAccount
from inbox.administration_parsing import (
    format_day_hours,
    format_minutes,
    parse_day_hours,
    parse_duration_minutes,
    parse_languages,
    parse_tag_names,
)
from inbox.administration_rules import Item, ItemDetails, RoutingRuleDetails, SlaPolicyDetails
from inbox.audit import OBJECT_TYPES
from inbox.models import (
    ACTING_ROLES,
    AssignmentStrategy,
    ConversationKind,
    Department,
    DepartmentHours,
    Membership,
    MembershipRole,
    Priority,
    RoutingRule,
    SlaPolicy,
)
from inbox.models.teams import AuthorCondition

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Details = TypeVar("Details", bound="DataclassInstance")

# Offered in the time zone field; any zone of the IANA database is accepted.
COMMON_TIME_ZONES = (
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/London",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)
# ISO weekday -> Django's translated name (django.utils.dates counts from 0 = Monday).
WEEKDAY_LABELS = {weekday + 1: name for weekday, name in WEEKDAYS.items()}
DURATION_HELP = gettext_lazy("Hours and minutes, e.g. 24h, 1h30m or 90m; days too: 2d.")
CHECKBOXES = forms.CheckboxSelectMultiple


@lru_cache(maxsize=1)
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(name: str) -> None:
    """ValidationError unless the server knows this IANA time zone."""
    if name not in _known_time_zones():
        raise ValidationError(
            _("“%(name)s” is not a time zone this server knows. Use a name like Europe/Berlin.")
            % {"name": name}
        )


# --- fields and choices -----------------------------------------------------------------------


class DurationField(forms.Field):
    """Minutes, typed as hours and minutes; empty means no target (None)."""

    widget = forms.TextInput(attrs={"size": 10, "maxlength": 30})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", DURATION_HELP)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return format_minutes(value) if isinstance(value, int) else value

    def to_python(self, value: Any) -> int | None:
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) > 30:
            raise ValidationError(_("Write e.g. 24h, 1h30m or 90m."))
        minutes = parse_duration_minutes(text)
        if minutes > 365 * 24 * 60:
            raise ValidationError(_("At most 365 days."))
        return minutes


def _channels() -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.order_by("name")


def _active_users() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_active=True).order_by("username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        full_name = obj.get_full_name()
        return f"{full_name} ({obj.get_username()})" if full_name else obj.get_username()


class ChannelChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)  # "Facebook: Brand": the platform helps to tell same-named pages apart


def _channel_field(help_text: str | Promise) -> ChannelChoiceField:
    # Called in class bodies, at import: lazy, so each request gets its own language.
    return ChannelChoiceField(
        queryset=_channels(),
        required=False,
        widget=CHECKBOXES,
        label=gettext_lazy("Channels"),
        help_text=help_text,
    )


def details_from(details_type: type[Details], data: Mapping[str, Any], **computed: Any) -> Details:
    """What an action takes (the dataclass `details_type`) from a form's cleaned data: the
    `computed` fields (ids of the chosen rows, values the form names or shapes differently) as
    given, every other one from the form field of the same name (KeyError if the form has none,
    so a renamed field cannot fall back to a default unnoticed)."""
    return details_type(
        **{
            field.name: computed[field.name] if field.name in computed else data[field.name]
            for field in dataclasses.fields(details_type)
        }
    )


def _pks(rows: Iterable[models.Model]) -> frozenset[int]:
    return frozenset(row.pk for row in rows)


def _pk(row: models.Model | None) -> int | None:
    return row.pk if row is not None else None


# --- departments ------------------------------------------------------------------------------


def hours_field_name(weekday: int) -> str:
    return f"hours_{weekday}"


class DepartmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120, strip=True)
    channel_accounts = _channel_field(
        gettext_lazy("Members of the department see these channels' conversations.")
    )
    contact_person = UserChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label=gettext_lazy("Contact person"),
        empty_label=gettext_lazy("Nobody yet"),
        help_text=gettext_lazy("The member colleagues and consulted experts turn to."),
    )
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"),
        max_length=64,
        initial="Europe/Berlin",
        validators=[validate_time_zone],
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
        help_text=gettext_lazy("Working hours and holidays are in this zone."),
    )
    assignment_strategy = forms.ChoiceField(
        choices=AssignmentStrategy.choices,
        initial=AssignmentStrategy.MANUAL,
        label=gettext_lazy("Assignment"),
        widget=forms.RadioSelect,
    )
    default_capacity = forms.IntegerField(
        min_value=0,
        max_value=1000,
        initial=10,
        label=gettext_lazy("Default capacity"),
        help_text=gettext_lazy(
            "Open conversations an agent may hold before auto-assignment passes them by."
        ),
    )
    requires_approval = forms.BooleanField(
        required=False,
        label=gettext_lazy("Replies need a lead's approval (four eyes)"),
    )

    def __init__(self, *args: Any, department: Department | None = None, **kwargs: Any) -> None:
        if department is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(department)
        super().__init__(*args, **kwargs)
        self.department = department
        for weekday, label in WEEKDAY_LABELS.items():
            self.fields[hours_field_name(weekday)] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": "closed"}),
            )
        members = get_user_model().objects.none()
        if department is not None:
            members = get_user_model().objects.filter(memberships__department=department)
        self.fields["contact_person"].queryset = members.order_by("username")  # type: ignore[attr-defined]
        if department is None:
            self.fields["contact_person"].help_text = gettext_lazy(
                "Add members first; then choose the contact person among them."
            )

    @classmethod
    def initial_for(cls, department: Department) -> dict[str, Any]:
        initial = model_to_dict(department, fields=list(cls.base_fields))  # named as its columns
        by_day: dict[int, list[tuple[time, time]]] = {}
        for row in DepartmentHours.objects.filter(department=department):
            by_day.setdefault(row.weekday, []).append((row.opens, row.closes))
        for weekday in WEEKDAY_LABELS:
            initial[hours_field_name(weekday)] = format_day_hours(sorted(by_day.get(weekday, [])))
        return initial

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        taken = Department.objects.filter(name__iexact=name)
        if self.department is not None:
            taken = taken.exclude(pk=self.department.pk)
        if taken.exists():
            raise ValidationError(
                _("There is already a department named %(name)s.") % {"name": name}
            )
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for weekday in WEEKDAY_LABELS:
            name = hours_field_name(weekday)
            if name in self.errors:
                continue
            try:
                cleaned[name] = parse_day_hours(cleaned.get(name) or "")
            except ValidationError as exc:
                self.add_error(name, exc)
        return cleaned

    def hour_fields(self) -> list[forms.BoundField]:
        return [self[hours_field_name(weekday)] for weekday in WEEKDAY_LABELS]

    def details(self) -> DepartmentDetails:
        data = self.cleaned_data
        return details_from(
            DepartmentDetails,
            data,
            channel_ids=_pks(data["channel_accounts"]),
            contact_person_id=_pk(data.get("contact_person")),
        )

    def weekly_hours(self) -> dict[int, list[tuple[time, time]]]:
        return {
            weekday: self.cleaned_data[hours_field_name(weekday)]
            for weekday in WEEKDAY_LABELS
            if self.cleaned_data[hours_field_name(weekday)]
        }


class HolidayForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120, required=False, strip=True)


# --- members and users ------------------------------------------------------------------------


def _capacity_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=0,
        max_value=1000,
        required=False,
        label=gettext_lazy("Capacity"),
        help_text=gettext_lazy("Empty: the department's default."),
        widget=forms.NumberInput(
            attrs={"placeholder": pgettext_lazy("capacity", "default"), "size": 5}
        ),
    )


class MemberForm(forms.Form):
    """A member's role, capacity and four-eyes flag (one form per row, prefixed)."""

    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=MembershipRole.choices)
    capacity = _capacity_field()
    requires_approval = forms.BooleanField(required=False, label=gettext_lazy("Needs approval"))

    @staticmethod
    def initial_for(membership: Membership) -> dict[str, Any]:
        return model_to_dict(membership, fields=["role", "capacity", "requires_approval"])


class AddMemberForm(MemberForm):
    member = UserChoiceField(
        queryset=get_user_model().objects.none(),
        label=gettext_lazy("User"),
        empty_label=gettext_lazy("Choose a user…"),
    )

    def __init__(self, *args: Any, department: Department, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = _active_users().exclude(  # type: ignore[attr-defined]
            memberships__department=department
        )
        self.order_fields(["member", "role", "capacity", "requires_approval"])


class UserCreateForm(forms.Form):
    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=150,
        validators=[get_user_model().username_validator],
        help_text=gettext_lazy("Letters, digits and @ . + - _ only."),
    )
    first_name = forms.CharField(
        label=gettext_lazy("First name"), max_length=150, required=False, strip=True
    )
    last_name = forms.CharField(
        label=gettext_lazy("Last name"), max_length=150, required=False, strip=True
    )
    email = forms.EmailField(max_length=254, required=False, label=gettext_lazy("E-mail"))
    password = forms.CharField(
        label=gettext_lazy("Initial password"),
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Tell it to them in person; they can change it after signing in."),
    )
    is_admin = forms.BooleanField(
        required=False,
        label=gettext_lazy("Admin"),
        help_text=gettext_lazy(
            "Admins see every channel and configure channels, the team and its rules."
        ),
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError(_("The username %(username)s is taken.") % {"username": username})
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            # The similarity check compares against what the person will be called.
            candidate = get_user_model()(
                username=cleaned.get("username") or "",
                first_name=cleaned.get("first_name") or "",
                last_name=cleaned.get("last_name") or "",
                email=cleaned.get("email") or "",
            )
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned

    def new_account(self) -> NewAccount:
        return details_from(NewAccount, self.cleaned_data)


# --- routing rules and SLA policies -----------------------------------------------------------


class OrderedItemForm(forms.Form, Generic[Item, ItemDetails]):
    """What the forms of a routing rule and of an SLA policy share: the name, the on/off switch
    and the channels it is for. With `item`, the form shows what that stored one has."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=120, strip=True)
    enabled = forms.BooleanField(required=False, initial=True, label=gettext_lazy("Enabled"))
    channel_accounts = _channel_field(gettext_lazy("Empty: any channel."))

    def __init__(self, *args: Any, item: Item | None = None, **kwargs: Any) -> None:
        if item is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(item)
        super().__init__(*args, **kwargs)

    def initial_for(self, item: Item) -> dict[str, Any]:
        """The item's values of the fields named as its columns; a subclass adds the others."""
        return model_to_dict(item, fields=list(self.base_fields))

    def details(self) -> ItemDetails:
        """What save_routing_rule or save_sla_policy takes, from the valid form."""
        raise NotImplementedError


class RoutingRuleForm(OrderedItemForm[RoutingRule, RoutingRuleDetails]):
    stop_processing = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Stop at this rule when it matches"),
        help_text=gettext_lazy("Unticked: later rules may still add to what this one set."),
    )
    platforms = forms.MultipleChoiceField(
        label=gettext_lazy("Platforms"),
        choices=Platform.choices,
        required=False,
        widget=CHECKBOXES,
        help_text=gettext_lazy("Empty: any."),
    )
    kinds = forms.MultipleChoiceField(
        choices=ConversationKind.choices,
        required=False,
        widget=CHECKBOXES,
        label=gettext_lazy("Kinds"),
        help_text=gettext_lazy("Empty: any."),
    )
    languages = forms.CharField(
        label=gettext_lazy("Languages"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Language codes separated by commas, e.g. de, en. Empty: any."),
    )
    keywords = forms.CharField(
        label=gettext_lazy("Keywords"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "One word or phrase per line; any of them matches, as whole words, ignoring "
            "case and umlauts. Empty: any text."
        ),
    )
    author = forms.ChoiceField(
        choices=AuthorCondition.choices, required=False, label=gettext_lazy("Author")
    )
    set_department = forms.ModelChoiceField(
        queryset=Department.objects.order_by("name"),
        required=False,
        label=gettext_lazy("Send to department"),
        empty_label=gettext_lazy("Leave as it is"),
    )
    set_assignee = UserChoiceField(
        queryset=_active_users(),
        required=False,
        label=gettext_lazy("Assign to"),
        empty_label=gettext_lazy("Leave as it is"),
        help_text=gettext_lazy(
            "Skipped when this person cannot work on the conversation's channel."
        ),
    )
    set_priority = forms.TypedChoiceField(
        choices=[("", gettext_lazy("Leave as it is")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
        label=gettext_lazy("Set priority"),
    )
    add_tags = forms.CharField(
        required=False,
        max_length=500,
        label=gettext_lazy("Add tags"),
        help_text=gettext_lazy("Tag names separated by commas; new ones are created."),
    )

    def initial_for(self, item: RoutingRule) -> dict[str, Any]:
        tag_names = item.add_tags.values_list("name", flat=True)
        return {
            **super().initial_for(item),
            "languages": ", ".join(item.languages),
            "add_tags": ", ".join(tag_names),
        }

    def clean_languages(self) -> tuple[str, ...]:
        return parse_languages(self.cleaned_data["languages"])

    def clean_add_tags(self) -> tuple[str, ...]:
        return parse_tag_names(self.cleaned_data["add_tags"])

    def clean_keywords(self) -> str:
        lines = [" ".join(line.split()) for line in self.cleaned_data["keywords"].splitlines()]
        return "\n".join(line for line in lines if line)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        acts = (
            cleaned.get("set_department")
            or cleaned.get("set_assignee")
            or cleaned.get("set_priority") is not None
            or cleaned.get("add_tags")
        )
        if not acts and not cleaned.get("stop_processing"):
            raise ValidationError(
                _(
                    "This rule does nothing: choose a department, an assignee, a priority or tags "
                    "(or tick “Stop at this rule” to keep later rules from matching)."
                )
            )
        department, assignee = cleaned.get("set_department"), cleaned.get("set_assignee")
        if (
            department is not None
            and assignee is not None
            and not getattr(assignee, "is_superuser", False)
            and not Membership.objects.filter(
                department=department, user=assignee, role__in=ACTING_ROLES
            ).exists()
        ):
            self.add_error(
                "set_assignee",
                _("%(person)s is not a lead or agent of %(department)s.")
                % {
                    "person": assignee.get_full_name() or assignee.get_username(),
                    "department": department.name,
                },
            )
        return cleaned

    def details(self) -> RoutingRuleDetails:
        data = self.cleaned_data
        return details_from(
            RoutingRuleDetails,
            data,
            channel_ids=_pks(data["channel_accounts"]),
            platforms=tuple(data["platforms"]),
            kinds=tuple(data["kinds"]),
            author=data["author"] or "",
            set_department_id=_pk(data.get("set_department")),
            set_assignee_id=_pk(data.get("set_assignee")),
            tag_names=data["add_tags"],
        )


# SLA targets are typed as durations and stored in minutes: form field -> the policy's column.
MINUTE_COLUMNS = {
    "first_response": "first_response_minutes",
    "next_response": "next_response_minutes",
    "resolution": "resolution_minutes",
    "warn_before": "warn_before_minutes",
}
TARGET_FIELDS = ("first_response", "next_response", "resolution")


class SlaPolicyForm(OrderedItemForm[SlaPolicy, SlaPolicyDetails]):
    departments = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Departments"),
        queryset=Department.objects.order_by("name"),
        required=False,
        widget=CHECKBOXES,
        help_text=gettext_lazy("Empty: any department."),
    )
    priorities = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Priorities"),
        choices=Priority.choices,
        coerce=int,
        required=False,
        widget=CHECKBOXES,
        help_text=gettext_lazy("Empty: any priority."),
    )
    first_response = DurationField(
        required=False,
        initial=24 * 60,
        label=gettext_lazy("First response within"),
        help_text=gettext_lazy(
            "Hours and minutes, e.g. 24h, 1h30m or 90m; days too: 2d. Empty: no target."
        ),
    )
    next_response = DurationField(
        required=False,
        label=gettext_lazy("Next response within"),
        help_text=gettext_lazy(
            "After each new customer message once we have answered. Empty: no target."
        ),
    )
    resolution = DurationField(
        required=False,
        label=gettext_lazy("Resolved within"),
        help_text=gettext_lazy("Empty: no target."),
    )
    business_hours = forms.BooleanField(
        required=False,
        label=gettext_lazy("Count business hours only"),
        help_text=gettext_lazy("The department's working hours, time zone and holidays."),
    )
    pause_when_snoozed = forms.BooleanField(
        required=False, initial=True, label=gettext_lazy("Pause while snoozed")
    )
    pause_when_pending = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Pause while waiting for the customer (pending)"),
    )
    warn_before = DurationField(
        initial=60,
        label=gettext_lazy("Warn before a breach"),
        help_text=gettext_lazy("How long before a target the assignee and the lead are warned."),
    )

    def initial_for(self, item: SlaPolicy) -> dict[str, Any]:
        minutes = {field: getattr(item, column) for field, column in MINUTE_COLUMNS.items()}
        return {**super().initial_for(item), **minutes}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in TARGET_FIELDS:
            if cleaned.get(name) == 0:
                self.add_error(
                    name, _("A target must be longer than zero; leave it empty for none.")
                )
        if not self.errors and not any(cleaned.get(name) for name in TARGET_FIELDS):
            raise ValidationError(_("Set at least one target."))
        return cleaned

    def details(self) -> SlaPolicyDetails:
        data = self.cleaned_data
        return details_from(
            SlaPolicyDetails,
            data,
            channel_ids=_pks(data["channel_accounts"]),
            department_ids=_pks(data["departments"]),
            priorities=tuple(data["priorities"]),
            **{column: data[field] for field, column in MINUTE_COLUMNS.items()},
        )


# --- audit log --------------------------------------------------------------------------------


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(required=False, label=gettext_lazy("Object"))
    actor = UserChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        label=gettext_lazy("Changed by"),
        empty_label=gettext_lazy("Anyone"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [  # type: ignore[attr-defined]
            ("", gettext_lazy("Everything")),
            *OBJECT_TYPES.items(),
        ]

    def filters(self) -> dict[str, Any]:
        """The filters to apply; invalid values are ignored (the page shows everything)."""
        if not self.is_valid():
            return {"object_type": "", "actor_id": None}
        actor: AbstractUser | None = self.cleaned_data.get("actor")
        return {
            "object_type": self.cleaned_data.get("object_type") or "",
            "actor_id": actor.pk if actor is not None else None,
        }
