from django.urls import URLPattern, URLResolver, path

from inbox import notification_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/count/", notification_views.notification_count, name="notification_count"),
    path("notifications/read/", notification_views.mark_read, name="notifications_read"),
    path(
        "notifications/preferences/",
        notification_views.preferences,
        name="notification_preferences",
    ),
    path("notifications/test/", notification_views.send_test, name="notification_test"),
]
