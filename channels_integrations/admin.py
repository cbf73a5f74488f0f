from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from channels_integrations.models import ChannelAccount, SkippedItem


class ChannelAccountForm(forms.ModelForm):
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label=gettext_lazy("Access token"),
        help_text=gettext_lazy(
            "Write-only: leave empty to keep the stored token. Stored encrypted."
        ),
    )

    class Meta:
        model = ChannelAccount
        fields = ["platform", "name", "settings", "status", "poll_interval_seconds"]
        # The model's fields have no verbose names (a migration each); the admin names them here.
        labels = {
            "platform": gettext_lazy("Platform"),
            "name": gettext_lazy("Name"),
            "settings": gettext_lazy("Settings"),
            "status": gettext_lazy("Status"),
            "poll_interval_seconds": gettext_lazy("Poll interval (seconds)"),
        }

    def save(self, commit: bool = True) -> Any:
        account = super().save(commit=False)
        token = self.cleaned_data.get("access_token")
        if token:
            account.set_credentials({**account.get_credentials(), "access_token": token})
        if commit:
            account.save()
        return account


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    form = ChannelAccountForm
    list_display = [
        "name",
        "platform",
        "status",
        "last_poll_at",
        "last_poll_result",
        "next_poll_at",
    ]
    list_filter = ["platform", "status"]
    readonly_fields = [
        "cursor",
        "last_poll_at",
        "last_success_at",
        "last_poll_result",
        "last_error",
        "consecutive_failures",
        "rate_limited_until",
        "next_poll_at",
        "poll_lease_until",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*ChannelAccountForm.Meta.fields, "access_token", *self.readonly_fields]


@admin.register(SkippedItem)
class SkippedItemAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel_account", "external_id", "reason"]
    list_filter = ["channel_account"]
