"""The conversation model: who works here, who writes to us, and what they wrote."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from channels_integrations.models import ChannelAccount, Platform

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class AssignmentStrategy(models.TextChoices):
    MANUAL = "manual", _("Manual (leads assign)")
    ROUND_ROBIN = "round_robin", _("Round-robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")


class Department(models.Model):
    """A team that owns channels: its members see their conversations. Its working hours,
    time zone and holidays are the calendar of business-hour SLAs and of auto-assignment."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    channel_accounts = models.ManyToManyField(
        ChannelAccount, related_name="departments", blank=True
    )
    # Who colleagues and consulted experts turn to for this department.
    contact_person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    time_zone = models.CharField(max_length=64, default="Europe/Berlin")
    assignment_strategy = models.CharField(
        max_length=20, choices=AssignmentStrategy.choices, default=AssignmentStrategy.MANUAL
    )
    # Open conversations an agent may hold before auto-assignment passes them by (a member's
    # own capacity overrides it).
    default_capacity = models.PositiveSmallIntegerField(default=10)
    # Four-eyes: every reply by this department's agents waits for a lead's approval.
    requires_approval = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipRole(models.TextChoices):
    """A user's role in one department (admins are superusers and need no membership)."""

    LEAD = "lead", _("Team lead")
    AGENT = "agent", _("Agent")
    OBSERVER = "observer", _("Observer (read-only)")


# Roles that may change things in a department's conversations (observers only read).
ACTING_ROLES = (MembershipRole.LEAD, MembershipRole.AGENT)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(
        max_length=10, choices=MembershipRole.choices, default=MembershipRole.AGENT
    )
    # None: the department's default capacity.
    capacity = models.PositiveSmallIntegerField(null=True, blank=True)
    # Four-eyes for this member in this department.
    requires_approval = models.BooleanField(default=False)
    # Round-robin hands the next conversation to whoever waited longest since their last one.
    last_auto_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "department"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.department} ({self.role})"


class Tag(models.Model):
    """A label for conversations and persons ("billing", "press"); unique ignoring case."""

    name = models.CharField(max_length=60)
    color = models.CharField(max_length=7, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tag_unique_name_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class Stance(models.TextChoices):
    NONE = "", _("—")
    SKEPTIC = "skeptic", _("Skeptic")
    EXPERIENCED_CUSTOMER = "experienced_customer", _("Experienced customer")
    CRITIC = "critic", _("Critic")


class Person(models.Model):
    """One human, who may write to us from several platform identities (contacts)."""

    display_name = models.CharField(max_length=300)
    vip = models.BooleanField(default=False)
    banned = models.BooleanField(default=False)
    # Blocked in the inbox: their new conversations arrive as "ignored" (not a platform ban).
    blocked = models.BooleanField(default=False)
    stance = models.CharField(max_length=30, choices=Stance.choices, blank=True, default="")
    tags = models.ManyToManyField(Tag, blank=True, related_name="persons")
    # Set when this person was merged into another; the row stays so the merge can be undone.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_persons"
    )
    # Set when the person's data was erased on request (GDPR Art. 17): names, handles and texts
    # are gone, the rows stay so that counts and times in reports are kept.
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.display_name


class PersonNote(models.Model):
    """What colleagues should know about a person ("called the hotline twice about billing")."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"note on {self.person_id}"


class PersonMerge(models.Model):
    """One merge of `merged` into `kept`, with what moved, so that it can be undone exactly."""

    kept = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="merges_kept")
    merged = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="merges_merged")
    contact_ids = models.JSONField(default=list)
    note_ids = models.JSONField(default=list)
    tag_ids = models.JSONField(default=list)
    # Flags the kept person gained from the merged one (vip, banned, blocked, stance).
    flags_before = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.merged_id} into {self.kept_id}"


class Contact(models.Model):
    """One identity on one platform. `scope` separates id spaces (a Mastodon instance's host)."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    scope = models.CharField(max_length=200, blank=True, default="")
    external_id = models.CharField(max_length=200)
    handle = models.CharField(max_length=300, blank=True, default="")
    display_name = models.CharField(max_length=300, blank=True, default="")
    avatar_url = models.URLField(max_length=1000, blank=True, default="")
    profile_url = models.URLField(max_length=1000, blank=True, default="")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="contacts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "scope", "external_id"], name="contact_unique_identity"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.handle or self.external_id


class ConversationKind(models.TextChoices):
    MENTION = "mention", _("Mention")
    COMMENT = "comment", _("Comment")
    PRIVATE_MESSAGE = "private_message", _("Private message")
    EMAIL = "email", _("E-mail")


class ConversationStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    SNOOZED = "snoozed", _("Snoozed")
    RESOLVED = "resolved", _("Resolved")
    IGNORED = "ignored", _("Ignored")


class Sentiment(models.TextChoices):
    NONE = "", _("—")
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


# What "needs work": queues show these unless a status filter says otherwise.
OPEN_WORK = (ConversationStatus.NEW, ConversationStatus.OPEN, ConversationStatus.PENDING)


class Priority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ConversationQuerySet:
        """The one place that decides which conversations a user may see."""
        from inbox.access import visible_channels_subquery

        if not user.is_authenticated:
            return self.none()
        channels = visible_channels_subquery(user)
        if channels is None:
            return self
        # A subquery, not a list: the caller's query stays one statement (list counts).
        return self.filter(channel_account_id__in=channels)

    def workable_by(self, user: AbstractBaseUser | AnonymousUser) -> ConversationQuerySet:
        """The conversations a user may change (reply, assign, status...): visible_to without
        the channels where the user is only an observer."""
        from inbox.access import acting_channels_subquery

        if not user.is_authenticated:
            return self.none()
        channels = acting_channels_subquery(user)
        if channels is None:
            return self
        return self.filter(channel_account_id__in=channels)


class Conversation(models.Model):
    """The unit of work: one person's thread on one channel."""

    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="conversations"
    )
    kind = models.CharField(max_length=20, choices=ConversationKind.choices)
    thread_key = models.CharField(max_length=300)
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="conversations", null=True, blank=True
    )
    # The post a comment thread hangs under; every conversation of one post shares it.
    post_external_id = models.CharField(max_length=200, blank=True, default="")
    post_text = models.TextField(blank=True, default="")
    post_permalink = models.URLField(max_length=1000, blank=True, default="")
    post_media_url = models.URLField(max_length=1000, blank=True, default="")

    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.NEW
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )

    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    # Of the first inbound message (the language filter); the sentiment roll-up of the thread.
    language = models.CharField(max_length=12, blank=True, default="")
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True, default="")

    sla_policy = models.ForeignKey(
        "inbox.SlaPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # While snoozed or pending on the customer (as the policy says), the clocks stand still:
    # the time left on each target is kept here and counted again from the resume.
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_remaining = models.JSONField(default=dict, blank=True)
    # The warning for the current sla_due_at has been sent (cleared when the deadline moves).
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    # Four-eyes: a reply in this conversation waits for a lead's approval (the leads' queue).
    awaiting_approval = models.BooleanField(default=False)
    # Every reply here needs a lead's approval (set by a moderation rule, inbox.approval).
    requires_approval = models.BooleanField(default=False)
    # A colleague outside the team was asked for advice and has not answered yet.
    awaiting_internal_since = models.DateTimeField(null=True, blank=True)
    # The next SLA deadline of any kind (the "SLA due first" sort); None when nothing is due.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Since when the customer has been waiting for us: their oldest unanswered message.
    # None when the last word is ours (the "longest waiting" sort).
    waiting_since = models.DateTimeField(null=True, blank=True)
    # Denormalized for the list, so it renders from one table.
    last_message_at = models.DateTimeField()
    last_message_preview = models.CharField(max_length=300, blank=True, default="")
    last_message_direction = models.CharField(max_length=10, blank=True, default="")
    message_count = models.PositiveIntegerField(default=0)
    # Set when a retention policy or an erasure replaced its texts and author data.
    anonymized_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "thread_key"], name="conversation_unique_thread"
            ),
            models.CheckConstraint(
                condition=Q(status="snoozed", snoozed_until__isnull=False) | ~Q(status="snoozed"),
                name="conversation_snooze_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["-last_message_at", "-id"], name="conversation_newest_idx"),
            models.Index(
                fields=["channel_account", "-last_message_at", "-id"],
                name="conv_channel_newest_idx",
            ),
            # Open work (new, open, pending) is a few thousand rows among hundreds of thousands:
            # the queues' lists and counts read it through this partial index.
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=Q(status__in=[str(status) for status in OPEN_WORK]),
                name="conv_open_newest_idx",
            ),
            models.Index(
                fields=["id"],
                condition=Q(awaiting_approval=True),
                name="conv_awaiting_approval_idx",
            ),
            models.Index(fields=["waiting_since", "id"], name="conv_waiting_idx"),
            models.Index(fields=["sla_due_at", "id"], name="conv_sla_due_idx"),
            models.Index(fields=["assignee", "-last_message_at", "-id"], name="conv_assignee_idx"),
            models.Index(
                fields=["department", "-last_message_at", "-id"], name="conv_department_idx"
            ),
            models.Index(
                fields=["channel_account", "post_external_id"],
                condition=~Q(post_external_id=""),
                name="conversation_post_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.thread_key} on {self.channel_account_id}"


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class PlatformState(models.TextChoices):
    VISIBLE = "visible", _("Visible")
    HIDDEN = "hidden", _("Hidden")
    DELETED = "deleted", _("Deleted")
    HELD = "held", _("Held for review")


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # Denormalized from the conversation so the database can enforce one row per platform item.
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="messages"
    )
    # NULL, not "", until an outbound message has reached the platform: the unique constraint
    # below must not treat all unsent replies as duplicates of each other.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    parent_external_id = models.CharField(max_length=200, blank=True, default="")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_messages",
    )
    text = models.TextField(blank=True, default="")
    attachments = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=12, blank=True, default="")
    permalink = models.URLField(max_length=1000, blank=True, default="")
    platform_state = models.CharField(
        max_length=10, choices=PlatformState.choices, default=PlatformState.VISIBLE
    )
    platform_state_changed_at = models.DateTimeField(null=True, blank=True)
    # Set when the author edited the text on the platform; earlier versions stay in
    # `edit_history` ([{"text": ..., "replaced_at": ...}]) so nothing they wrote is lost to us.
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_history = models.JSONField(default=list, blank=True)
    classifier_scores = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField(help_text=_("When the platform says it was written."))
    created_at = models.DateTimeField(auto_now_add=True)
    # Moves with every change shown in the thread (state, edit, an action on it): the live
    # fragments' version, so a browser never replaces a newer rendering with an older one.
    updated_at = models.DateTimeField(auto_now=True)
    raw = models.JSONField(null=True, blank=True)
    # German and English stems of `text`, kept by a database trigger on PostgreSQL (see
    # migration 0004); searched with both configurations so "Rechnungen" finds "Rechnung".
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["sent_at", "id"]
        # The GIN index on search_vector is made by migration 0004 on PostgreSQL only.
        indexes = [
            models.Index(fields=["conversation", "sent_at", "id"], name="message_thread_idx"),
            # The reports read a period's messages by time with these columns only (an
            # index-only scan on PostgreSQL; SQLite ignores INCLUDE, hence models.W040 is
            # silenced in the settings).
            models.Index(
                fields=["sent_at"],
                include=["direction", "channel_account", "conversation", "author"],
                name="message_sent_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(direction="outbound") | Q(contact__isnull=False),
                name="message_inbound_has_contact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.external_id or '(unsent)'}"


class OutboundKind(models.TextChoices):
    REPLY = "reply", _("Reply")
    PRIVATE_REPLY = "private_reply", _("Private reply")
    HIDE = "hide", _("Hide")
    UNHIDE = "unhide", _("Unhide")
    DELETE = "delete", _("Delete")
    LIKE = "like", _("Like")
    BAN = "ban", _("Ban author")


class OutboundState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected by the reviewer")


class OutboundAction(models.Model):
    """The outbox: everything that leaves for a platform is a row here first."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="outbound_actions"
    )
    # The outbound message a reply creates in the thread (none for hide, delete, like).
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="outbound_action"
    )
    kind = models.CharField(max_length=20, choices=OutboundKind.choices)
    # The platform item the action is about (the message replied to, hidden, deleted, liked).
    target_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions_on"
    )
    target_external_id = models.CharField(max_length=200)
    text = models.TextField(blank=True, default="")
    state = models.CharField(
        max_length=20, choices=OutboundState.choices, default=OutboundState.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    # An attempt ended without knowing whether the platform did it (a timeout after the request
    # went out, a worker killed mid-call): the next attempt reconciles before it sends again.
    outcome_unknown = models.BooleanField(default=False)
    last_error = models.TextField(blank=True, default="")
    result_external_id = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outbound_actions",
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_actions",
    )
    # Four-eyes: the reviewer's note on a rejection, when they decided, and the agent's text
    # when the reviewer edited it before approving.
    review_note = models.TextField(blank=True, default="")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    original_text = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "claimed_at"], name="outbound_state_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="outbound_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.target_external_id} ({self.state})"


class EventKind(models.TextChoices):
    CONVERSATION_CREATED = "conversation_created", _("Conversation started")
    MESSAGE_RECEIVED = "message_received", _("Message received")
    REPLY_QUEUED = "reply_queued", _("Reply queued")
    REPLY_SENT = "reply_sent", _("Reply sent")
    REPLY_FAILED = "reply_failed", _("Reply failed")
    REPLY_RETRIED = "reply_retried", _("Reply retried")
    STATUS_CHANGED = "status_changed", _("Status changed")
    ACTION_QUEUED = "action_queued", _("Action queued")
    ACTION_DONE = "action_done", _("Action done on the platform")
    ACTION_FAILED = "action_failed", _("Action failed")
    MESSAGE_EDITED = "message_edited", _("Edited by its author")
    MESSAGE_STATE_CHANGED = "message_state_changed", _("Platform state changed")
    REPLY_RECONCILED = "reply_reconciled", _("Reply found on the platform")
    ASSIGNED = "assigned", _("Assigned")
    PRIORITY_CHANGED = "priority_changed", _("Priority changed")
    TAGS_CHANGED = "tags_changed", _("Tags changed")
    NOTE_ADDED = "note_added", _("Internal note")
    REPLY_TAKEN_OVER = "reply_taken_over", _("Took over the reply")
    ROUTED = "routed", _("Routed by a rule")
    APPROVAL_REQUESTED = "approval_requested", _("Reply awaits approval")
    REPLY_APPROVED = "reply_approved", _("Reply approved")
    REPLY_REJECTED = "reply_rejected", _("Reply rejected")
    SLA_BREACHED = "sla_breached", _("SLA target missed")
    CONSULT_REQUESTED = "consult_requested", _("Advice requested")
    CONSULT_ANSWERED = "consult_answered", _("Advice received")
    CONSULT_WITHDRAWN = "consult_withdrawn", _("Advice request withdrawn")
    MODERATED = "moderated", _("Moderation decision")


class ConversationEvent(models.Model):
    """The timeline and audit trail: who did what to a conversation, and when."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.conversation_id}"


class Note(models.Model):
    """An internal note in a conversation: never sent anywhere; @mentions notify colleagues."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField()
    # A consulted expert without an account ("Anna from Legal <anna@example.com>").
    external_author = models.CharField(max_length=300, blank=True, default="")
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on {self.conversation_id}"


class Tone(models.TextChoices):
    """How a brand addresses people; German makes the choice explicit ("Du" or "Sie")."""

    DU = "du", _("Du (informal)")
    SIE = "sie", _("Sie (formal)")


class SavedReply(models.Model):
    """A reusable answer, found in the composer by typing `/` and its shortcut or title.

    Its text comes in variants per language and tone; `departments` limits who sees it (none: all).
    """

    title = models.CharField(max_length=120)
    shortcut = models.SlugField(max_length=40)
    departments = models.ManyToManyField(Department, blank=True, related_name="saved_replies")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["shortcut"], name="saved_reply_unique_shortcut"),
        ]

    def __str__(self) -> str:
        return self.title


class SavedReplyVariant(models.Model):
    """One wording of a saved reply; placeholders: {author}, {agent}, {channel}, {date}."""

    saved_reply = models.ForeignKey(SavedReply, on_delete=models.CASCADE, related_name="variants")
    language = models.CharField(max_length=12, default="en")
    tone = models.CharField(max_length=10, choices=Tone.choices, blank=True, default="")
    text = models.TextField()

    class Meta:
        ordering = ["language", "tone"]
        constraints = [
            models.UniqueConstraint(
                fields=["saved_reply", "language", "tone"], name="saved_reply_variant_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.saved_reply_id} {self.language}/{self.tone}"


class AgentSignature(models.Model):
    """Appended to an agent's replies; per channel, or for every channel (channel empty)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signatures"
    )
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel_account"], name="signature_unique_per_channel"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(channel_account__isnull=True),
                name="signature_unique_default",
            ),
        ]

    def __str__(self) -> str:
        return f"signature of {self.user_id}"


class SavedView(models.Model):
    """A user's named list filter (the list page's query string), shown in the navigation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned to me")
    MENTIONED = "mentioned", _("Mentioned in a note")
    NEW_ITEM = "new_item", _("New item in my queues")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SEND_FAILED = "send_failed", _("Failed send")
    SLA_BREACH = "sla_breach", _("SLA breached")
    APPROVAL_REQUESTED = "approval_requested", _("Reply awaits my approval")
    REPLY_REVIEWED = "reply_reviewed", _("My reply was approved or rejected")
    CONSULT_ANSWERED = "consult_answered", _("Advice received")
    MODERATION = "moderation", _("Item flagged for moderation")
    INCIDENT = "incident", _("Incident level changed")


class Notification(models.Model):
    """One entry in a user's notification centre."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_idx"),
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


def _all_notification_kinds() -> list[str]:
    return [kind.value for kind in NotificationKind]


class Availability(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class AgentPreferences(models.Model):
    """How and when a user wants to be told: per kind in the app and on the desktop, sound,
    quiet hours, working hours (desktop pop-ups and sounds only inside them)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_preferences"
    )
    in_app_kinds = models.JSONField(default=_all_notification_kinds)
    desktop_kinds = models.JSONField(default=list)
    sound = models.BooleanField(default=False)
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_until = models.TimeField(null=True, blank=True)
    # ISO weekdays (1 = Monday) and hours; empty days mean "no fixed working hours".
    working_days = models.JSONField(default=list, blank=True)
    working_from = models.TimeField(null=True, blank=True)
    working_until = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="Europe/Berlin")
    # Auto-assignment gives work to online agents only (and inside their working hours).
    availability = models.CharField(
        max_length=10, choices=Availability.choices, default=Availability.ONLINE
    )
    availability_changed_at = models.DateTimeField(null=True, blank=True)
    # The interface language ("en", "de"); empty: the browser's.
    language = models.CharField(max_length=10, blank=True, default="")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class ConversationPresence(models.Model):
    """Who has a conversation open right now (one row per browser connection), and whether
    they are writing a reply: the "also viewing" list and the reply collision guard.

    Rows are refreshed by the live socket's heartbeat and count only while fresh, so a browser
    that vanished without saying goodbye stops counting by itself.
    """

    connection = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="presences"
    )
    composing = models.BooleanField(default=False)
    composing_since = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["conversation", "seen_at"], name="presence_conv_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.conversation_id}"


# The team's rules (calendars, routing, SLA, consulting, audit) live in their own module;
# imported here so that Django finds them and callers import every model from inbox.models.
from inbox.models.integrations import ApiToken as ApiToken  # noqa: E402
from inbox.models.integrations import RetentionAction as RetentionAction  # noqa: E402
from inbox.models.integrations import RetentionPolicy as RetentionPolicy  # noqa: E402
from inbox.models.integrations import WebhookAttempt as WebhookAttempt  # noqa: E402
from inbox.models.integrations import WebhookDelivery as WebhookDelivery  # noqa: E402
from inbox.models.integrations import WebhookDeliveryState as WebhookDeliveryState  # noqa: E402
from inbox.models.integrations import WebhookEvent as WebhookEvent  # noqa: E402
from inbox.models.integrations import WebhookRelayCursor as WebhookRelayCursor  # noqa: E402
from inbox.models.integrations import WebhookSubscription as WebhookSubscription  # noqa: E402
from inbox.models.teams import AuditEntry as AuditEntry  # noqa: E402
from inbox.models.teams import Consultation as Consultation  # noqa: E402
from inbox.models.teams import DepartmentHoliday as DepartmentHoliday  # noqa: E402
from inbox.models.teams import DepartmentHours as DepartmentHours  # noqa: E402
from inbox.models.teams import RoutingRule as RoutingRule  # noqa: E402
from inbox.models.teams import SlaBreach as SlaBreach  # noqa: E402
from inbox.models.teams import SlaKind as SlaKind  # noqa: E402
from inbox.models.teams import SlaPolicy as SlaPolicy  # noqa: E402
