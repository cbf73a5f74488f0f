"""Moderation: rules, the moderation queue, decisions kept as evidence, bans and allow-lists,
community guidelines, traffic for crisis detection, escalation levels and incidents
(docs/moderation.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from channels_integrations.models import ChannelAccount
from inbox.models import Conversation, Message, Person


class CommunityGuideline(models.Model):
    """The house rules of one channel (or, without a channel, of every channel that has none of
    its own). Moderation reasons cite them; saved replies can quote them."""

    channel_account = models.OneToOneField(
        ChannelAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="guideline",
    )
    title = models.CharField(max_length=200)
    # The short version a reason or a reply quotes.
    summary = models.CharField(max_length=500, blank=True, default="")
    text = models.TextField(blank=True, default="")
    url = models.URLField(max_length=1000, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # NULLs are distinct in the one-to-one's unique index; this keeps one default.
            models.UniqueConstraint(
                Coalesce("channel_account", Value(0)), name="one_guideline_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class RuleHours(models.TextChoices):
    ANY = "", _("Any time")
    INSIDE = "inside", _("Inside working hours")
    OUTSIDE = "outside", _("Outside working hours")


class ModerationRule(models.Model):
    """One ordered moderation rule. Conditions and actions are JSON documents whose keys are
    listed in moderation.rules (CONDITION_KEYS, ACTION_KEYS); every condition that is set must
    hold. A rule in suggest-only mode records what it would have done in the moderation queue
    and does nothing else."""

    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    suggest_only = models.BooleanField(default=False)
    stop_processing = models.BooleanField(default=False)
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=dict, blank=True)
    # The guideline this rule enforces, cited in the reason (else the channel's guideline).
    guideline_section = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class CaseState(models.TextChoices):
    PENDING = "pending", _("Awaiting review")
    APPROVED = "approved", _("Approved (visible)")
    HIDDEN = "hidden", _("Hide confirmed")
    DELETED = "deleted", _("Deleted")


class ModerationCase(models.Model):
    """One item in the moderation queue: why it was flagged (rules, scores, the guideline), what
    was done automatically, and how a person settled it and how long that took."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="moderation_case"
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    channel_account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=CaseState.choices, default=CaseState.PENDING)
    # [{"rule_id", "rule", "suggest_only", "actions": [...], "guideline"}], newest rule last.
    reasons = models.JSONField(default=list, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    # What happened automatically on arrival: "hide", "delete" or "" (only queued).
    auto_action = models.CharField(max_length=10, blank=True, default="")
    severity = models.FloatField(default=0.0)
    flagged_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["channel_account", "-flagged_at"],
                condition=Q(state="pending"),
                name="modcase_pending_idx",
            ),
            models.Index(fields=["-decided_at"], name="modcase_decided_idx"),
        ]

    def __str__(self) -> str:
        return f"Case of message {self.message_id} ({self.state})"

    @property
    def seconds_to_action(self) -> float | None:
        if self.decided_at is None:
            return None
        return (self.decided_at - self.flagged_at).total_seconds()


class DecisionAction(models.TextChoices):
    FLAG = "flag", _("Sent to the moderation queue")
    SUGGEST = "suggest", _("Suggested by a rule")
    HIDE = "hide", _("Hidden")
    UNHIDE = "unhide", _("Made visible again")
    APPROVE = "approve", _("Approved")
    CONFIRM_HIDE = "confirm_hide", _("Hide confirmed")
    DELETE = "delete", _("Deleted")
    BAN = "ban", _("Author banned")
    UNBAN = "unban", _("Ban lifted")
    ALLOW = "allow", _("Author allow-listed")
    DISALLOW = "disallow", _("Allow-listing lifted")
    RULE_ACTION = "rule_action", _("Rule action")


class ModerationDecision(models.Model):
    """Evidence: one moderation decision as it was made, never changed and never deleted (the
    database refuses UPDATE and DELETE on PostgreSQL, and save() refuses an update everywhere).
    It copies what it is about — the item's text, author and channel at that moment — so it
    survives the item's deletion on the platform and in the inbox. `sha256` is the digest of the
    evidence fields as written (moderation.evidence), so an export can be checked against it."""

    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    conversation_id_at = models.BigIntegerField(null=True, blank=True)
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel_name = models.CharField(max_length=200, blank=True, default="")
    platform = models.CharField(max_length=20, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="")
    permalink = models.CharField(max_length=1000, blank=True, default="")
    text = models.TextField(blank=True, default="")
    text_sha256 = models.CharField(max_length=64, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    person_id_at = models.BigIntegerField(null=True, blank=True)
    author_external_id = models.CharField(max_length=200, blank=True, default="")
    author_handle = models.CharField(max_length=300, blank=True, default="")
    author_name = models.CharField(max_length=300, blank=True, default="")
    action = models.CharField(max_length=20, choices=DecisionAction.choices)
    automatic = models.BooleanField(default=False)
    rule = models.ForeignKey(
        ModerationRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rule_name = models.CharField(max_length=200, blank=True, default="")
    scores = models.JSONField(default=dict, blank=True)
    guideline = models.CharField(max_length=500, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["person_id_at", "created_at"], name="moddecision_person_idx"),
            models.Index(fields=["message", "created_at"], name="moddecision_message_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.external_id or 'a person'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableEvidence("A moderation decision is evidence and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableEvidence("A moderation decision is evidence and cannot be deleted.")


class ImmutableEvidence(Exception):
    """An attempt to change or delete a moderation decision."""


class ListKind(models.TextChoices):
    BAN = "ban", _("Banned")
    ALLOW = "allow", _("Allow-listed")


class PersonListing(models.Model):
    """A person banned (their new comments are hidden on arrival wherever the platform can hide)
    or allow-listed (automatic moderation never acts on them; rules can only flag for review),
    across all their networks. Lifting keeps the row, for the record."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="listings")
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "kind"],
                condition=Q(lifted_at__isnull=True),
                name="one_active_listing_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: person {self.person_id}"


class TrafficBucket(models.Model):
    """Inbound items of one channel in one five-minute slot, with how many were negative and
    toxic: the material of crisis detection and its time-of-day baselines. Ingest adds to it
    with one upsert per page."""

    channel_account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    inbound = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    toxic = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel_account", "start"], name="one_bucket_per_slot")
        ]
        indexes = [models.Index(fields=["start"], name="traffic_start_idx")]

    def __str__(self) -> str:
        return f"{self.channel_account_id} @ {self.start:%Y-%m-%d %H:%M}"


class EscalationLevel(models.Model):
    """One level of escalation (1 watch, 2 alert, 3 crisis, …) with the thresholds that reach it
    and the people responsible for it. A level is reached when, in the detection window, there
    are at least `min_items` inbound items and any threshold that is set is met."""

    number = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=60)
    # Rate against the channel's own baseline for this weekday and time of day.
    volume_ratio = models.FloatField(null=True, blank=True)
    # Fixed ceiling: inbound items per hour.
    items_per_hour = models.PositiveIntegerField(null=True, blank=True)
    negative_share = models.FloatField(null=True, blank=True)
    toxic_share = models.FloatField(null=True, blank=True)
    min_items = models.PositiveIntegerField(default=10)
    responsibles = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    notify_by_email = models.BooleanField(default=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Incident(models.Model):
    """A detected or declared crisis on one channel (or overall, without a channel): its level
    now and at its peak, its lead, and storm mode (auto-replies paused, every reply needs
    approval, stricter moderation thresholds) while it is switched on."""

    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    level = models.PositiveSmallIntegerField(default=1)
    peak_level = models.PositiveSmallIntegerField(default=1)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    storm_mode = models.BooleanField(default=False)
    automatic = models.BooleanField(default=True)
    opened_at = models.DateTimeField()
    # Last time detection saw the level's conditions (for the calm-down before lowering it).
    level_seen_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account"],
                condition=Q(status="open", channel_account__isnull=False),
                name="one_open_incident_per_channel",
            ),
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="open", channel_account__isnull=True),
                name="one_open_overall_incident",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class IncidentEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    LEVEL_RAISED = "level_raised", _("Level raised")
    LEVEL_LOWERED = "level_lowered", _("Level lowered")
    STORM_ON = "storm_on", _("Storm mode on")
    STORM_OFF = "storm_off", _("Storm mode off")
    LEAD_SET = "lead_set", _("Lead set")
    NOTIFIED = "notified", _("Responsibles notified")
    NOTE = "note", _("Note")
    RESOLVED = "resolved", _("Resolved")


class IncidentEvent(models.Model):
    """The incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=IncidentEventKind.choices)
    from_level = models.PositiveSmallIntegerField(null=True, blank=True)
    to_level = models.PositiveSmallIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    text = models.TextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"
