"""What the API answers (read serializers) and what it accepts (input serializers).

Read serializers list their fields explicitly: a field added to a model is not published by
accident (channel credentials, raw platform payloads, token digests never are). Platform text
is returned as the platform sent it (JSON is not HTML: clients escape); platform URLs only when
they are plain http(s) (channels_integrations.text.safe_http_url).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from channels_integrations.channel_setup import (
    MAX_BACKFILL_DAYS,
    MAX_POLL_INTERVAL_SECONDS,
    MIN_POLL_INTERVAL_SECONDS,
)
from channels_integrations.models import ChannelAccount, ChannelStatus, Platform
from channels_integrations.text import safe_http_url
from inbox.models import (
    ApiToken,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    Note,
    OutboundAction,
    Person,
    Priority,
    Tag,
    Tone,
)
from moderation.actions import CaseResult
from moderation.models import ModerationCase

# Database ids are 64-bit: anything larger is refused as a bad request, not a database error.
MAX_ID = 2**63 - 1


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class SafeUrlField(serializers.CharField):
    """A platform URL: shown only when it is a plain http(s) URL, else ""."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return safe_http_url(value)


class UserRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return str(user.get_full_name() or user.get_username())


class TagSerializer(serializers.ModelSerializer[Tag]):
    class Meta:
        model = Tag
        fields = ["id", "name", "color"]


class ChannelRefSerializer(serializers.ModelSerializer[ChannelAccount]):
    class Meta:
        model = ChannelAccount
        fields = ["id", "platform", "name"]


class ContactRefSerializer(serializers.ModelSerializer[Contact]):
    class Meta:
        model = Contact
        fields = ["id", "platform", "handle", "display_name", "person_id"]


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    """A conversation as the list shows it (the detail adds the post and SLA facts)."""

    channel = ChannelRefSerializer(source="channel_account", read_only=True)
    contact = ContactRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    department_id = serializers.IntegerField(read_only=True, allow_null=True)
    tags = TagSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "kind",
            "status",
            "priority",
            "sentiment",
            "channel",
            "contact",
            "assignee",
            "department_id",
            "tags",
            "awaiting_approval",
            "last_message_at",
            "last_message_preview",
            "last_message_direction",
            "waiting_since",
            "sla_due_at",
            "updated_at",
        ]


class ConversationDetailSerializer(ConversationSerializer):
    post_permalink = SafeUrlField()

    class Meta(ConversationSerializer.Meta):
        fields = [
            *ConversationSerializer.Meta.fields,
            "thread_key",
            "language",
            "snoozed_until",
            "post_external_id",
            "post_text",
            "post_permalink",
            "message_count",
            "first_response_due_at",
            "first_response_at",
            "next_response_due_at",
            "resolution_due_at",
            "anonymized_at",
            "created_at",
        ]


class OutboundActionSerializer(serializers.ModelSerializer[OutboundAction]):
    """An outbox row: what was asked of the platform, and how far it got."""

    class Meta:
        model = OutboundAction
        fields = [
            "id",
            "kind",
            "state",
            "conversation_id",
            "message_id",
            "target_message_id",
            "attempts",
            "last_error",
            "outcome_unknown",
            "created_at",
            "sent_at",
        ]


class MessageSerializer(serializers.ModelSerializer[Message]):
    contact = ContactRefSerializer(read_only=True, allow_null=True)
    author = UserRefSerializer(read_only=True, allow_null=True)
    permalink = SafeUrlField()

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "external_id",
            "parent_external_id",
            "direction",
            "contact",
            "author",
            "text",
            "language",
            "permalink",
            "platform_state",
            "sent_at",
            "edited_at",
            "created_at",
        ]


class NoteSerializer(serializers.ModelSerializer[Note]):
    author = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Note
        fields = ["id", "conversation_id", "author", "text", "created_at"]


class ContactSerializer(serializers.ModelSerializer[Contact]):
    avatar_url = SafeUrlField()
    profile_url = SafeUrlField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "platform",
            "external_id",
            "handle",
            "display_name",
            "avatar_url",
            "profile_url",
            "person_id",
            "created_at",
        ]


class PersonSerializer(serializers.ModelSerializer[Person]):
    contacts = ContactSerializer(many=True, read_only=True)
    tags = TagSerializer(many=True, read_only=True)

    class Meta:
        model = Person
        fields = [
            "id",
            "display_name",
            "vip",
            "banned",
            "blocked",
            "stance",
            "tags",
            "contacts",
            "merged_into_id",
            "erased_at",
            "created_at",
            "updated_at",
        ]


class ModerationCaseSerializer(serializers.ModelSerializer[ModerationCase]):
    message = MessageSerializer(read_only=True)
    decided_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ModerationCase
        fields = [
            "id",
            "state",
            "conversation_id",
            "channel_account_id",
            "message",
            "reasons",
            "scores",
            "auto_action",
            "severity",
            "flagged_at",
            "decided_at",
            "decided_by",
        ]


class CaseResultSerializer(serializers.Serializer[CaseResult]):
    case = ModerationCaseSerializer(read_only=True)
    outbound = OutboundActionSerializer(read_only=True, allow_null=True)
    note = serializers.CharField(read_only=True)


class ChannelSerializer(serializers.ModelSerializer[ChannelAccount]):
    """A channel for admins. Credentials never leave the server: only which secret names are
    stored (`stored_secrets`), never a value, and no encrypted blob either."""

    department_ids = serializers.SerializerMethodField()
    stored_secrets = serializers.SerializerMethodField()

    class Meta:
        model = ChannelAccount
        fields = [
            "id",
            "platform",
            "name",
            "settings",
            "status",
            "status_reason",
            "poll_interval_seconds",
            "next_poll_at",
            "last_poll_at",
            "last_success_at",
            "last_poll_result",
            "last_error",
            "last_error_at",
            "consecutive_failures",
            "rate_limited_until",
            "backfill_since",
            "backfill_completed_at",
            "default_tone",
            "default_language",
            "requires_approval",
            "department_ids",
            "stored_secrets",
            "created_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_department_ids(self, channel: ChannelAccount) -> list[int]:
        return sorted(d.pk for d in channel.departments.all())

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_stored_secrets(self, channel: ChannelAccount) -> list[str]:
        from channels_integrations.crypto import CredentialsUnreadable

        try:
            return sorted(name for name, value in channel.get_credentials().items() if value)
        except CredentialsUnreadable:
            return []


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    user = UserRefSerializer(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "user", "created_at", "last_used_at", "expires_at",
                  "revoked_at"]  # fmt: skip


class MembershipOutSerializer(serializers.Serializer[Any]):
    department_id = serializers.IntegerField()
    department = serializers.CharField()
    role = serializers.CharField()


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    is_admin = serializers.BooleanField()
    is_lead = serializers.BooleanField()
    memberships = MembershipOutSerializer(many=True)
    token = ApiTokenSerializer(allow_null=True)


# --- Input ------------------------------------------------------------------------------------


class ReplyInput(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=10_000)
    in_reply_to = id_field(
        required=False, allow_null=True, help_text=_("An inbound message of the conversation.")
    )
    private = serializers.BooleanField(default=False)
    take_over = serializers.BooleanField(
        default=False, help_text=_("Reply even while a colleague is writing one here.")
    )


class NoteInput(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=10_000)


class AssignInput(serializers.Serializer[Any]):
    assignee = id_field(allow_null=True, help_text=_("A user id; null unassigns."))
    department = id_field(
        required=False,
        allow_null=True,
        help_text=_("A department id (null: none). Absent: the department stays as it is."),
    )


class StatusInput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    snoozed_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text=_("Required when snoozing; in the future.")
    )


class PriorityInput(serializers.Serializer[Any]):
    priority = serializers.ChoiceField(choices=Priority.choices)


class TagsInput(serializers.Serializer[Any]):
    add = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    remove = serializers.ListField(child=id_field(), required=False, max_length=50)
    set = serializers.ListField(
        child=serializers.CharField(max_length=60),
        required=False,
        max_length=50,
        help_text=_("Exactly these tags (by name). Not together with add or remove."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "set" in attrs and (attrs.get("add") or attrs.get("remove")):
            raise serializers.ValidationError(_("Use either set, or add and remove."))
        if not any(key in attrs for key in ("add", "remove", "set")):
            raise serializers.ValidationError(_("Say which tags to add, remove or set."))
        return attrs


class CaseDecisionInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=2000, required=False, default="", allow_blank=True,
        help_text=_("Required for a ban: why the author is banned."),
    )  # fmt: skip


class ChannelCreateInput(serializers.Serializer[Any]):
    platform = serializers.ChoiceField(choices=Platform.choices)
    name = serializers.CharField(max_length=200)
    settings = serializers.DictField(
        child=serializers.CharField(max_length=1000, allow_blank=True), required=False
    )
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=4000, allow_blank=True),
        required=False,
        help_text=_("Write-only: never returned."),
    )
    poll_interval_seconds = serializers.IntegerField(
        min_value=MIN_POLL_INTERVAL_SECONDS, max_value=MAX_POLL_INTERVAL_SECONDS, default=60
    )
    department_ids = serializers.ListField(child=id_field(), required=False, max_length=200)
    backfill_days = serializers.IntegerField(min_value=0, max_value=MAX_BACKFILL_DAYS, default=0)
    default_tone = serializers.ChoiceField(choices=Tone.choices, allow_blank=True, required=False)
    default_language = serializers.ChoiceField(
        choices=["de", "en"], allow_blank=True, required=False
    )


class ChannelUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    settings = serializers.DictField(
        child=serializers.CharField(max_length=1000, allow_blank=True), required=False
    )
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=4000, allow_blank=True),
        required=False,
        help_text=_("Only the secrets to replace; the others are kept. Never returned."),
    )
    poll_interval_seconds = serializers.IntegerField(
        min_value=MIN_POLL_INTERVAL_SECONDS, max_value=MAX_POLL_INTERVAL_SECONDS, required=False
    )
    department_ids = serializers.ListField(child=id_field(), required=False, max_length=200)
    default_tone = serializers.ChoiceField(choices=Tone.choices, allow_blank=True, required=False)
    default_language = serializers.ChoiceField(
        choices=["de", "en"], allow_blank=True, required=False
    )


class PauseInput(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class ChannelStatusOut(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ChannelStatus.choices)


# --- Envelopes (for the schema) ---------------------------------------------------------------


def page_of(serializer: type[serializers.Serializer[Any]], name: str) -> Any:
    """A named schema for `{"results": [...], "next_cursor": "..."}` of `serializer`."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": serializer(many=True),
            "next_cursor": serializers.CharField(
                help_text=_("Pass as ?cursor= for the next page; empty on the last page.")
            ),
            "__module__": __name__,
        },
    )


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False)


ConversationPage = page_of(ConversationSerializer, "ConversationPage")
MessagePage = page_of(MessageSerializer, "MessagePage")
NotePage = page_of(NoteSerializer, "NotePage")
PersonPage = page_of(PersonSerializer, "PersonPage")
CasePage = page_of(ModerationCaseSerializer, "ModerationCasePage")
