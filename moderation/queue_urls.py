"""The moderation queue, bans and allow-lists, and the evidence export (mounted at /moderation/)."""

from django.urls import URLPattern, path

from moderation import listing_views, queue_views

app_name = "moderation"

urlpatterns: list[URLPattern] = [
    path("", queue_views.queue, name="queue"),
    path("cases/bulk/", queue_views.bulk, name="bulk"),
    path("cases/<int:pk>/<slug:decision>/", queue_views.decide, name="decide"),
    path("people/", listing_views.people, name="people"),
    path("people/search/", listing_views.person_search, name="person_search"),
    path("people/<int:pk>/", listing_views.person_panel, name="person_panel"),
    path("people/<int:pk>/ban/", listing_views.ban, name="person_ban"),
    path("people/<int:pk>/lift-ban/", listing_views.lift_ban, name="person_lift_ban"),
    path("people/<int:pk>/allow/", listing_views.allow, name="person_allow"),
    path("people/<int:pk>/lift-allow/", listing_views.lift_allow, name="person_lift_allow"),
    path("evidence/", listing_views.evidence_export, name="evidence"),
]
