"""Django's admin, for looking, not for changing the team or the outbox: departments, members
and roles are changed on the app's Team screens (audited), and outbox rows only through the
outbox (an edited state would bypass four-eyes approval or delivery)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from inbox.models import (
    Contact,
    Conversation,
    ConversationEvent,
    Department,
    Membership,
    Message,
    OutboundAction,
    Person,
)


class ReadOnlyAdmin:
    """View permission only."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(ReadOnlyAdmin, admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Department)
class DepartmentAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["channel_accounts"]
    inlines = [MembershipInline]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["display_name", "vip", "banned", "stance"]
    search_fields = ["display_name"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["display_name", "handle", "platform", "scope"]
    search_fields = ["display_name", "handle"]
    raw_id_fields = ["person"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel_account", "kind", "status", "last_message_at"]
    list_filter = ["status", "kind", "channel_account"]
    raw_id_fields = ["contact", "assignee"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "channel_account", "direction", "external_id", "sent_at"]
    list_filter = ["direction", "channel_account"]
    raw_id_fields = ["conversation", "contact", "author"]


@admin.register(OutboundAction)
class OutboundActionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["id", "kind", "state", "attempts", "target_external_id", "created_at"]
    list_filter = ["state", "kind"]
    raw_id_fields = ["conversation", "message", "author", "approver"]


@admin.register(ConversationEvent)
class ConversationEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["created_at", "conversation", "kind", "actor"]
    list_filter = ["kind"]
    raw_id_fields = ["conversation", "actor"]
