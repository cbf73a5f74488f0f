from datetime import datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_integrations.crypto import decrypt_credentials, encrypt_credentials


# The platforms are brands, the same in every language; only "E-mail" is a word.
class Platform(models.TextChoices):
    MASTODON = "mastodon", "Mastodon"
    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    YOUTUBE = "youtube", "YouTube"
    X = "x", "X"
    TELEGRAM = "telegram", "Telegram"
    EMAIL = "email", _("E-mail")


class ChannelStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    NEEDS_REAUTH = "needs_reauth", _("Needs re-authorization")
    FAILING = "failing", _("Failing")


# Channels in these states are polled; paused and needs_reauth wait for a person.
POLLABLE_STATUSES = (ChannelStatus.ACTIVE, ChannelStatus.FAILING)


class ChannelAccount(models.Model):
    """One connected account on one platform (a Mastodon account, a Facebook page, a mailbox)."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=200)
    # Non-secret connection settings: base_url, page or account ids.
    settings = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    status = models.CharField(
        max_length=20, choices=ChannelStatus.choices, default=ChannelStatus.ACTIVE
    )

    poll_interval_seconds = models.PositiveIntegerField(default=60)
    next_poll_at = models.DateTimeField(default=timezone.now)
    # Set by the dispatcher when it hands the channel to a worker; a worker that dies lets the
    # lease run out and the channel becomes due again.
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    cursor = models.JSONField(default=dict, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_poll_result = models.CharField(max_length=300, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    # Daily quota ledger (YouTube): units spent on `quota_day` (the platform's own calendar day).
    quota_day = models.DateField(null=True, blank=True)
    quota_used = models.PositiveIntegerField(default=0)
    # History backfill on connect: how far back, and when the first full catch-up finished.
    backfill_since = models.DateTimeField(null=True, blank=True)
    backfill_completed_at = models.DateTimeField(null=True, blank=True)
    # Why the channel is paused or waits for re-authorization, and who did it (for the page).
    status_reason = models.CharField(max_length=300, blank=True, default="")
    # How replies address people on this channel: the saved-reply variant chosen by default.
    default_tone = models.CharField(
        max_length=10, blank=True, default="", choices=[("du", "Du"), ("sie", "Sie")]
    )
    default_language = models.CharField(max_length=12, blank=True, default="")
    # Four-eyes: every reply on this channel waits for a lead's approval.
    requires_approval = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_poll_at"], name="channel_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(poll_interval_seconds__gte=1), name="channel_poll_interval_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.name}"

    def __repr__(self) -> str:
        # Never let the encrypted blob (or anything derived from it) reach a log line.
        return f"<ChannelAccount {self.pk} {self.platform} {self.name!r} {self.status}>"

    def get_credentials(self) -> dict[str, Any]:
        return decrypt_credentials(self.credentials_encrypted)

    def set_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials_encrypted = encrypt_credentials(credentials)

    @property
    def is_rate_limited(self) -> bool:
        until: datetime | None = self.rate_limited_until
        return until is not None and until > timezone.now()


class SkippedItem(models.Model):
    """A platform item that could not be understood; kept so nothing vanishes silently."""

    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="skipped_items"
    )
    external_id = models.CharField(max_length=200, blank=True, default="")
    reason = models.TextField()
    payload = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "external_id"],
                condition=~Q(external_id=""),
                name="skipped_item_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"skipped {self.external_id or '?'} on {self.channel_account_id}: {self.reason[:60]}"


class ConnectionTest(models.Model):
    """One "test connection" run: asked for by an admin on the page, carried out by a worker.

    `checks` holds the connector's report as [{"name": ..., "ok": ..., "detail": ...}]; it never
    contains credentials. `error` is set when the test could not run to its end.
    """

    channel = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="connection_tests"
    )
    requested_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checks = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["channel", "-created_at"], name="connection_test_latest_idx")
        ]

    def __str__(self) -> str:
        state = "finished" if self.finished_at else "running"
        return f"connection test {self.pk} of channel {self.channel_id} ({state})"

    @property
    def ok(self) -> bool:
        """Finished, and every check passed."""
        return (
            self.finished_at is not None
            and not self.error
            and bool(self.checks)
            and all(check.get("ok") for check in self.checks)
        )
