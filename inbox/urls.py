from django.urls import path

from inbox import (
    approval_urls,
    availability_views,
    composer_urls,
    conversation_views,
    notification_urls,
    person_urls,
    views,
)

app_name = "inbox"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation"),
    path("c/<int:pk>/assign/", conversation_views.assign, name="assign"),
    path("c/<int:pk>/status/", conversation_views.status, name="status"),
    path("c/<int:pk>/priority/", conversation_views.priority, name="priority"),
    path("c/<int:pk>/tags/", conversation_views.tags, name="tags"),
    path("bulk/", conversation_views.bulk, name="bulk"),
    path("me/availability/", availability_views.availability, name="availability"),
    path("views/", conversation_views.save_view, name="save_view"),
    path("views/<int:pk>/delete/", conversation_views.delete_view, name="delete_view"),
    path("outbox/<int:pk>/retry/", views.retry, name="retry"),
    path("message/<int:pk>/text/", views.message_text, name="message_text"),
    path(
        "m/<int:pk>/<slug:kind>/",
        views.message_action,
        name="message_action",
    ),
    *composer_urls.urlpatterns,
    *approval_urls.urlpatterns,
    *person_urls.urlpatterns,
    *notification_urls.urlpatterns,
]
