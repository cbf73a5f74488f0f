"""Moderation rules and community guidelines (mounted at /moderation/rules/)."""

from django.urls import path

from moderation import rule_views as views

app_name = "moderation_rules"

urlpatterns = [
    path("", views.rule_list, name="list"),
    path("new/", views.rule_edit, name="create"),
    path("test/", views.rule_test_unsaved, name="test_unsaved"),
    path("<int:pk>/", views.rule_edit, name="edit"),
    path("<int:pk>/delete/", views.rule_delete, name="delete"),
    path("<int:pk>/move/", views.rule_move, name="move"),
    path("<int:pk>/enabled/", views.rule_enabled, name="enabled"),
    path("<int:pk>/test/", views.rule_test, name="test"),
    path("guidelines/", views.guideline_list, name="guidelines"),
    path("guidelines/default/", views.guideline_edit, name="guideline_default"),
    path("guidelines/channel/<int:channel_id>/", views.guideline_edit, name="guideline_channel"),
    path(
        "guidelines/channel/<int:channel_id>/delete/",
        views.guideline_delete,
        name="guideline_delete",
    ),
]
