"""The REST API (Django REST framework): personal tokens that act as their user.

/api/tokens/ is the page to manage tokens, /api/docs/ the documentation, /api/schema/ the
OpenAPI 3 schema, and /api/v1/ the API itself (docs/api.md).
"""

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from inbox.api import (
    views_channels,
    views_conversations,
    views_docs,
    views_moderation,
    views_people,
    views_tokens,
)

app_name = "api"

v1: list[URLPattern | URLResolver] = [
    path("me/", views_people.Me.as_view(), name="me"),
    path("conversations/", views_conversations.ConversationList.as_view(), name="conversations"),
    path(
        "conversations/<int:pk>/",
        views_conversations.ConversationDetail.as_view(),
        name="conversation",
    ),
    path(
        "conversations/<int:pk>/messages/",
        views_conversations.ConversationMessages.as_view(),
        name="conversation_messages",
    ),
    path(
        "conversations/<int:pk>/notes/",
        views_conversations.ConversationNotes.as_view(),
        name="conversation_notes",
    ),
    path(
        "conversations/<int:pk>/reply/",
        views_conversations.ConversationReply.as_view(),
        name="conversation_reply",
    ),
    path(
        "conversations/<int:pk>/note/",
        views_conversations.ConversationNote.as_view(),
        name="conversation_note",
    ),
    path(
        "conversations/<int:pk>/assign/",
        views_conversations.ConversationAssign.as_view(),
        name="conversation_assign",
    ),
    path(
        "conversations/<int:pk>/status/",
        views_conversations.ConversationStatusView.as_view(),
        name="conversation_status",
    ),
    path(
        "conversations/<int:pk>/priority/",
        views_conversations.ConversationPriority.as_view(),
        name="conversation_priority",
    ),
    path(
        "conversations/<int:pk>/tags/",
        views_conversations.ConversationTags.as_view(),
        name="conversation_tags",
    ),
    path(
        "messages/<int:pk>/<slug:action>/",
        views_moderation.MessageAction.as_view(),
        name="message_action",
    ),
    path("moderation/cases/", views_moderation.CaseList.as_view(), name="cases"),
    path("moderation/cases/<int:pk>/", views_moderation.CaseDetail.as_view(), name="case"),
    path(
        "moderation/cases/<int:pk>/<slug:decision>/",
        views_moderation.CaseDecision.as_view(),
        name="case_decision",
    ),
    path("persons/", views_people.PersonList.as_view(), name="persons"),
    path("persons/<int:pk>/", views_people.PersonDetail.as_view(), name="person"),
    path("contacts/<int:pk>/", views_people.ContactDetail.as_view(), name="contact"),
    path("channels/", views_channels.ChannelList.as_view(), name="channels"),
    path("channels/<int:pk>/", views_channels.ChannelDetail.as_view(), name="channel"),
    path("channels/<int:pk>/pause/", views_channels.ChannelPause.as_view(), name="channel_pause"),
    path(
        "channels/<int:pk>/resume/", views_channels.ChannelResume.as_view(), name="channel_resume"
    ),
    path("reports/", views_people.Reports.as_view(), name="reports"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("tokens/", views_tokens.token_page, name="tokens"),
    path("tokens/<int:pk>/revoke/", views_tokens.revoke, name="revoke_token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views_docs.ApiDocs.as_view(url_name="api:schema"), name="docs"),
    path("v1/", include(v1)),
]
