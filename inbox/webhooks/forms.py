"""The subscription form: a name, the receiving URL (checked like at send time) and events."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from inbox.models.integrations import WebhookEvent
from inbox.webhooks.delivery import DestinationRefused, check_destination


class SubscriptionForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("What receives the events, e.g. “CRM” or “Data warehouse”."),
    )
    url = forms.URLField(
        label=_("Payload URL"),
        max_length=1000,
        assume_scheme="https",
        help_text=_("We send a signed POST request with a JSON body to this address."),
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/inbox"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )
    active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("While switched off, no events are sent to this URL."),
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            check_destination(url)
        except DestinationRefused as exc:
            raise forms.ValidationError(str(exc), code="destination") from None
        return url

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "url": data["url"],
            "events": data["events"],
            "active": data["active"],
        }
