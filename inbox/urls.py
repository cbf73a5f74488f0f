from django.urls import path

from inbox import composer_urls, notification_urls, person_urls, views

app_name = "inbox"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation"),
    path("outbox/<int:pk>/retry/", views.retry, name="retry"),
    path(
        "m/<int:pk>/<slug:kind>/",
        views.message_action,
        name="message_action",
    ),
    *composer_urls.urlpatterns,
    *person_urls.urlpatterns,
    *notification_urls.urlpatterns,
]
