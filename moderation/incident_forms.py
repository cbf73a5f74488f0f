"""Forms of the incident pages: declare, lead, level, note, resolve, and the escalation levels."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms import BaseModelFormSet, modelformset_factory
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_integrations.models import ChannelAccount
from moderation.incidents import NOTE_LIMIT, responsible_choices
from moderation.models import EscalationLevel


class DeclareIncidentForm(forms.Form):
    channel_account = forms.ModelChoiceField(
        queryset=ChannelAccount.objects.none(),
        required=False,
        empty_label=gettext_lazy("All channels"),
        label=gettext_lazy("Channel"),
    )
    level = forms.TypedChoiceField(label=gettext_lazy("Escalation level"), coerce=int, choices=())
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)

    def __init__(self, *args: Any, channels: Any, levels: list[EscalationLevel], **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["channel_account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = channels
        level_field = self.fields["level"]
        assert isinstance(level_field, forms.TypedChoiceField)
        level_field.choices = [(lvl.number, f"{lvl.number} {lvl.name}") for lvl in levels]


class LevelChoiceForm(forms.Form):
    level = forms.TypedChoiceField(label=gettext_lazy("Escalation level"), coerce=int, choices=())

    def __init__(self, *args: Any, levels: list[EscalationLevel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["level"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(lvl.number, f"{lvl.number} {lvl.name}") for lvl in levels]


class LeadForm(forms.Form):
    # Empty: no lead. "me" is what the "Take the lead" button sends.
    lead = forms.CharField(label=gettext_lazy("Lead"), required=False)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=NOTE_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=NOTE_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class EscalationLevelForm(forms.ModelForm):
    class Meta:
        model = EscalationLevel
        fields = [
            "number",
            "name",
            "min_items",
            "volume_ratio",
            "items_per_hour",
            "negative_share",
            "toxic_share",
            "responsibles",
            "notify_by_email",
        ]
        labels = {
            "number": gettext_lazy("Number"),
            "name": gettext_lazy("Name"),
            "volume_ratio": gettext_lazy("Times the usual rate"),
            "items_per_hour": gettext_lazy("Items per hour (fixed)"),
            "negative_share": gettext_lazy("Negative share (0-1)"),
            "toxic_share": gettext_lazy("Toxic share (0-1)"),
            "min_items": gettext_lazy("At least this many items"),
            "responsibles": gettext_lazy("Responsibles"),
            "notify_by_email": gettext_lazy("Notify by e-mail"),
        }
        widgets = {"responsibles": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["responsibles"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = responsible_choices()
        field.label_from_instance = _person  # type: ignore[method-assign,assignment]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        thresholds = ("volume_ratio", "items_per_hour", "negative_share", "toxic_share")
        if not any(data.get(name) is not None for name in thresholds) and data.get("name"):
            raise forms.ValidationError(
                _("Set at least one threshold, or the level is never reached.")
            )
        for name in ("negative_share", "toxic_share"):
            value = data.get(name)
            if value is not None and not 0 < value <= 1:
                self.add_error(name, _("A share between 0 and 1 (0.5 is half of the items)."))
        ratio = data.get("volume_ratio")
        if ratio is not None and ratio <= 1:
            self.add_error("volume_ratio", _("More than 1: the usual rate is 1."))
        if data.get("number") is not None and data["number"] < 1:
            self.add_error("number", _("Levels start at 1."))
        return data


def _person(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


class BaseLevelFormSet(BaseModelFormSet):
    def clean(self) -> None:
        super().clean()
        numbers = [
            form.cleaned_data.get("number")
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))  # type: ignore[attr-defined]
            if hasattr(form, "cleaned_data")
        ]
        numbers = [n for n in numbers if n is not None]
        if len(numbers) != len(set(numbers)):
            raise forms.ValidationError(_("Each level needs its own number."))


EscalationLevelFormSet = modelformset_factory(
    EscalationLevel,
    form=EscalationLevelForm,
    formset=BaseLevelFormSet,
    extra=1,
    can_delete=True,
)
