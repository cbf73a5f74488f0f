"""Channel setup forms, generated from each connector's `setup_fields`.

Secret fields are password inputs that never render a value: on the edit form a blank secret
keeps the stored one, and the page says only whether a value is stored.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from channels_integrations.base import SetupField
from channels_integrations.channel_setup import (
    MAX_BACKFILL_DAYS,
    MAX_POLL_INTERVAL_SECONDS,
    MIN_POLL_INTERVAL_SECONDS,
)
from channels_integrations.models import ChannelAccount
from inbox.models import Department

SETTING_PREFIX = "setting_"
CREDENTIAL_PREFIX = "credential_"


def _setting_field(spec: SetupField, *, initial: Any) -> forms.Field:
    common: dict[str, Any] = {
        "label": spec.label,
        "required": spec.required,
        "help_text": spec.help_text,
        "initial": initial,
    }
    if spec.choices:
        return forms.ChoiceField(choices=[(value, value) for value in spec.choices], **common)
    if spec.input_type == "url":
        return forms.URLField(max_length=1000, assume_scheme="https", **common)
    if spec.input_type == "int":
        return forms.IntegerField(**common)
    if spec.input_type == "email":
        return forms.EmailField(max_length=300, **common)
    return forms.CharField(max_length=1000, strip=True, **common)


def _secret_field(spec: SetupField, *, stored: bool | None) -> forms.Field:
    """`stored` is None on the add form, else whether the channel has a value for this secret."""
    help_text = spec.help_text
    if stored is not None:
        state = gettext_lazy("Set; leave blank to keep it.") if stored else gettext_lazy("Not set.")
        help_text = format_lazy("{} {}", state, help_text) if help_text else state
    return forms.CharField(
        label=spec.label,
        # On the edit form a blank secret keeps the stored one; only a missing one is required.
        required=spec.required and not stored,
        help_text=help_text,
        max_length=4000,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={
                "autocomplete": "new-password",
                "spellcheck": "false",
                **({"placeholder": _("Stored: type a new value to replace it")} if stored else {}),
            },
        ),
    )


class ChannelForm(forms.Form):
    """Add (channel is None) or edit a channel of one platform."""

    name = forms.CharField(max_length=200, strip=True, label=gettext_lazy("Name"))
    poll_interval_seconds = forms.IntegerField(
        label=gettext_lazy("Poll interval (seconds)"),
        min_value=MIN_POLL_INTERVAL_SECONDS,
        max_value=MAX_POLL_INTERVAL_SECONDS,
        initial=60,
        help_text=gettext_lazy(
            "How often to ask the platform for new items. Rate limits and quotas slow "
            "polling down on their own."
        ),
    )
    departments = forms.ModelMultipleChoiceField(
        queryset=Department.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Owning departments"),
        help_text=gettext_lazy(
            "Their members see this channel's conversations. Admins see every channel."
        ),
    )

    default_tone = forms.ChoiceField(
        choices=[
            ("", pgettext_lazy("tone", "Neutral")),
            ("du", gettext_lazy("Du (informal)")),
            ("sie", gettext_lazy("Sie (formal)")),
        ],
        required=False,
        label=gettext_lazy("Default tone of replies"),
        help_text=gettext_lazy(
            "Which wording of a saved reply the composer picks on this channel."
        ),
    )
    default_language = forms.ChoiceField(
        choices=[
            ("", gettext_lazy("As the conversation")),
            ("de", gettext_lazy("German")),
            ("en", gettext_lazy("English")),
        ],
        required=False,
        label=gettext_lazy("Default reply language"),
        help_text=gettext_lazy("Used when a conversation's language is not known."),
    )

    def __init__(
        self,
        data: Any = None,
        *,
        setup_fields: tuple[SetupField, ...],
        channel: ChannelAccount | None = None,
        stored_secrets: set[str] | None = None,
    ) -> None:
        initial: dict[str, Any] = {}
        if channel is not None:
            initial = {
                "name": channel.name,
                "poll_interval_seconds": channel.poll_interval_seconds,
                "departments": list(channel.departments.all()),
                "default_tone": channel.default_tone,
                "default_language": channel.default_language,
            }
        super().__init__(data, initial=initial)
        self.setup_fields = setup_fields
        self.is_new = channel is None
        for spec in setup_fields:
            if spec.secret:
                stored = None if channel is None else spec.name in (stored_secrets or set())
                self.fields[CREDENTIAL_PREFIX + spec.name] = _secret_field(spec, stored=stored)
            else:
                value = spec.initial if channel is None else channel.settings.get(spec.name, "")
                self.fields[SETTING_PREFIX + spec.name] = _setting_field(spec, initial=value)
        if self.is_new:
            self.fields["backfill_days"] = forms.IntegerField(
                label=gettext_lazy("History backfill (days back)"),
                min_value=0,
                max_value=MAX_BACKFILL_DAYS,
                initial=0,
                help_text=gettext_lazy("0 takes only new items from now on."),
            )
        # Order: name, the platform's settings, its secrets, then polling and owners.
        order = ["name"]
        order += [SETTING_PREFIX + s.name for s in setup_fields if not s.secret]
        order += [CREDENTIAL_PREFIX + s.name for s in setup_fields if s.secret]
        order += ["poll_interval_seconds", "departments", "default_tone", "default_language"]
        if self.is_new:
            order.append("backfill_days")
        self.order_fields(order)

    def reply_defaults(self) -> dict[str, str]:
        return {
            "default_tone": self.cleaned_data.get("default_tone") or "",
            "default_language": self.cleaned_data.get("default_language") or "",
        }

    def settings_data(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for spec in self.setup_fields:
            if not spec.secret:
                # An empty number is None, an empty text "": both clear the stored value.
                values[spec.name] = self.cleaned_data.get(SETTING_PREFIX + spec.name)
        return values

    def credentials_data(self) -> dict[str, str]:
        """The secrets typed in; on the edit form, blank ones are left out (kept as stored)."""
        values: dict[str, str] = {}
        for spec in self.setup_fields:
            if spec.secret:
                value = self.cleaned_data.get(CREDENTIAL_PREFIX + spec.name) or ""
                if value or self.is_new:
                    values[spec.name] = value
        return values

    def secret_bound_fields(self) -> list[forms.BoundField]:
        return [self[CREDENTIAL_PREFIX + s.name] for s in self.setup_fields if s.secret]

    def setting_bound_fields(self) -> list[forms.BoundField]:
        return [self[SETTING_PREFIX + s.name] for s in self.setup_fields if not s.secret]


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        required=False,
        strip=True,
        label=gettext_lazy("Reason (optional)"),
        widget=forms.TextInput(
            attrs={"placeholder": gettext_lazy("e.g. campaign over, token being renewed")}
        ),
    )


class BackfillForm(forms.Form):
    days = forms.IntegerField(
        label=gettext_lazy("Days back"), min_value=1, max_value=MAX_BACKFILL_DAYS, initial=30
    )
