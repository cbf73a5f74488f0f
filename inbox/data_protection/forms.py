"""Forms of the data-protection screens: the erasure confirmation and a channel's policy."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from inbox.models import RetentionAction

ERASE_WORD = "ERASE"
MAX_RETENTION_DAYS = 36500


class EraseConfirmForm(forms.Form):
    """Typed confirmation: the person's name as shown, or the word ERASE."""

    confirmation = forms.CharField(label=_("Confirmation"), max_length=300, strip=True)

    def __init__(self, *args: Any, person_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.person_name = person_name

    def clean_confirmation(self) -> str:
        typed: str = self.cleaned_data["confirmation"]
        if typed != ERASE_WORD and typed != self.person_name.strip():
            raise forms.ValidationError(
                _("Type the person's name exactly as shown, or ERASE, to confirm.")
            )
        return typed


class RetentionPolicyForm(forms.Form):
    """One channel's policy on the retention page (the form's prefix is the channel's id)."""

    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    days = forms.IntegerField(
        label=_("Older than (days)"), min_value=1, max_value=MAX_RETENTION_DAYS, initial=365
    )
    action = forms.ChoiceField(
        label=_("Action"), choices=RetentionAction.choices, initial=RetentionAction.ANONYMIZE
    )
