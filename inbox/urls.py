from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation"),
    path("c/<int:pk>/reply/", views.reply, name="reply"),
    path("outbox/<int:pk>/retry/", views.retry, name="retry"),
    path(
        "m/<int:pk>/<slug:kind>/",
        views.message_action,
        name="message_action",
    ),
]
