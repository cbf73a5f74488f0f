from django.urls import path

from channels_integrations import views

app_name = "channels"

urlpatterns = [
    path("", views.channel_list, name="list"),
    path("add/", views.add_channel, name="add"),
    path("add/<str:platform>/", views.add_channel_form, name="add_platform"),
    path("<int:pk>/", views.channel_detail, name="detail"),
    path("<int:pk>/edit/", views.edit_channel, name="edit"),
    path("<int:pk>/pause/", views.pause_channel, name="pause"),
    path("<int:pk>/resume/", views.resume_channel, name="resume"),
    path("<int:pk>/test/", views.request_connection_test, name="test"),
    path("<int:pk>/test/result/", views.connection_test_result, name="test_result"),
    path("<int:pk>/backfill/", views.start_backfill, name="backfill"),
    path("<int:pk>/backfill/progress/", views.backfill_progress, name="backfill_progress"),
    path("<int:pk>/skipped/", views.skipped_items, name="skipped"),
]
