"""What connects the inbox to other systems and keeps it lawful: API tokens, outbound webhooks
(subscriptions, the deliveries outbox and its attempt log), and data-retention policies."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from channels_integrations.models import ChannelAccount


class ApiToken(models.Model):
    """A personal access token for the REST API. It acts as its user, with exactly the user's
    permissions. Only a SHA-256 digest of the secret is stored; the secret is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=120)
    # The first characters of the token, shown in lists so a user can tell tokens apart.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WebhookEvent(models.TextChoices):
    CONVERSATION_CREATED = "conversation.created", _("Conversation created")
    MESSAGE_RECEIVED = "message.received", _("Message received")
    REPLY_SENT = "reply.sent", _("Reply sent")
    CONVERSATION_ASSIGNED = "conversation.assigned", _("Conversation assigned")
    MODERATION_ACTION = "moderation.action", _("Moderation action")
    INCIDENT_LEVEL_CHANGED = "incident.level_changed", _("Incident level changed")


class WebhookSubscription(models.Model):
    """An admin's subscription of one URL to some events. The signing secret is encrypted at
    rest (the channel credentials' key) and never shown back after creation."""

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=1000)
    events = models.JSONField(default=list)
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """The webhook outbox: one event for one subscription. Written in the same transaction as
    the relay cursor that covers its source event, so an event is delivered at least once and
    enqueued at most once per subscription (`source` is unique per subscription)."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    # What produced it, e.g. "conversation_event:123", "incident_event:7" or "test:<uuid>".
    source = models.CharField(max_length=80)
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    payload = models.JSONField(default=dict)
    state = models.CharField(
        max_length=20, choices=WebhookDeliveryState.choices, default=WebhookDeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "source"], name="webhook_delivery_once_per_source"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(state__in=["pending", "sending"]),
                name="webhook_delivery_due_idx",
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what the receiver answered (the delivery log)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    # The first few kilobytes of the receiver's answer (its text, never rendered as HTML).
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class WebhookRelayCursor(models.Model):
    """How far the relay has read an event table (one row per source table)."""

    source = models.CharField(max_length=40, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.source} at {self.last_id}"


class RetentionAction(models.TextChoices):
    DELETE = "delete", _("Delete the conversations")
    ANONYMIZE = "anonymize", _("Anonymize the conversations")


class RetentionPolicy(models.Model):
    """Conversations of this channel whose last message is older than `days` are deleted or
    anonymized by a scheduled task. Anonymizing keeps the counts and times for reports."""

    channel_account = models.OneToOneField(
        ChannelAccount, on_delete=models.CASCADE, related_name="retention_policy"
    )
    days = models.PositiveIntegerField()
    action = models.CharField(
        max_length=20, choices=RetentionAction.choices, default=RetentionAction.ANONYMIZE
    )
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1), name="retention_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.action} after {self.days} days on {self.channel_account_id}"
