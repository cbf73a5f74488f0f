"""How the team works: department calendars, routing rules, SLA policies and their breaches,
consultations of colleagues outside the inbox, and the audit log of admin changes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from channels_integrations.models import ChannelAccount
from inbox.models import Conversation, Department, Note, Tag


class DepartmentHours(models.Model):
    """One opening interval of a department on one ISO weekday (1 = Monday), in the
    department's time zone. Several intervals a day make a lunch break."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField()
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=1, weekday__lte=7), name="hours_weekday_iso"
            ),
            models.CheckConstraint(condition=Q(opens__lt=F("closes")), name="hours_opens_first"),
        ]

    def __str__(self) -> str:
        return f"{self.department_id} day {self.weekday} {self.opens}-{self.closes}"


class DepartmentHoliday(models.Model):
    """A day the department is closed (business-hour SLAs do not count it)."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["department", "date"], name="holiday_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class AuthorCondition(models.TextChoices):
    ANY = "", _("Anyone")
    VIP = "vip", _("A VIP")
    CRITIC = "critic", _("A known critic")
    FIRST_TIME = "first_time", _("Writing for the first time")


class RoutingRule(models.Model):
    """If a new conversation matches every condition set here, set its department, assignee,
    priority and tags. Rules run in `position` order; `stop_processing` ends the run at the
    first match. Empty conditions match everything."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    stop_processing = models.BooleanField(default=True)

    channel_accounts = models.ManyToManyField(ChannelAccount, blank=True, related_name="+")
    platforms = models.JSONField(default=list, blank=True)
    kinds = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    # One keyword or phrase per line; any of them, whole words, case and umlauts folded.
    keywords = models.TextField(blank=True, default="")
    author = models.CharField(
        max_length=20, choices=AuthorCondition.choices, blank=True, default=""
    )

    set_department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    set_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    set_priority = models.PositiveSmallIntegerField(null=True, blank=True)
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class SlaKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class SlaPolicy(models.Model):
    """Response and resolution targets for the conversations it applies to: the first policy
    (by `position`) whose channels, departments and priorities all match (empty: any)."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)

    channel_accounts = models.ManyToManyField(ChannelAccount, blank=True, related_name="+")
    departments = models.ManyToManyField(Department, blank=True, related_name="+")
    priorities = models.JSONField(default=list, blank=True)

    # Minutes; None: no target of that kind. The trade's rule is an answer within 24 hours.
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True, default=24 * 60)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Count only the department's working hours (its time zone, weekdays, holidays).
    business_hours = models.BooleanField(default=False)
    pause_when_snoozed = models.BooleanField(default=True)
    pause_when_pending = models.BooleanField(default=True)
    warn_before_minutes = models.PositiveIntegerField(default=60)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class SlaBreach(models.Model):
    """A missed target, kept for reports even after the conversation is answered."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="sla_breaches"
    )
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="breaches"
    )
    kind = models.CharField(max_length=20, choices=SlaKind.choices)
    due_at = models.DateTimeField()
    breached_at = models.DateTimeField()
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-breached_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "kind", "due_at"], name="sla_breach_once"
            ),
        ]
        indexes = [models.Index(fields=["breached_at"], name="sla_breach_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.conversation_id} due {self.due_at}"


class Consultation(models.Model):
    """A conversation forwarded to a colleague for advice by e-mail. The link carries a random
    token (only its SHA-256 is stored), shows that one conversation, and expires."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="consultations"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expert_name = models.CharField(max_length=200, blank=True, default="")
    expert_email = models.EmailField()
    question = models.TextField()
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.ForeignKey(
        Note, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"advice from {self.expert_email} on {self.conversation_id}"


class AuditEntry(models.Model):
    """One admin change: who, what, the values before and after, when. Written once, never
    edited (the admin screens have no way to change or delete it)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=200, blank=True, default="")
    action = models.CharField(max_length=20)  # created, changed, deleted
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=60, blank=True, default="")
    object_repr = models.CharField(max_length=300, blank=True, default="")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"
