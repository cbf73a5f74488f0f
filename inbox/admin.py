from django.contrib import admin

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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
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
class OutboundActionAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "attempts", "target_external_id", "created_at"]
    list_filter = ["state", "kind"]
    raw_id_fields = ["conversation", "message", "author", "approver"]


@admin.register(ConversationEvent)
class ConversationEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "conversation", "kind", "actor"]
    list_filter = ["kind"]
    raw_id_fields = ["conversation", "actor"]
