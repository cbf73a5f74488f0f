"""The person: full page, the panel beside a conversation, and its writes (see person_views)."""

from django.urls import URLPattern, URLResolver, path

from inbox import person_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("p/<int:pk>/", person_views.person_detail, name="person"),
    path("p/<int:pk>/panel/", person_views.person_panel, name="person_panel"),
    path("p/<int:pk>/notes/", person_views.add_note, name="person_note"),
    path("p/<int:pk>/tags/", person_views.add_tag, name="person_tag_add"),
    path("p/<int:pk>/tags/remove/", person_views.remove_tag, name="person_tag_remove"),
    path("p/<int:pk>/flags/", person_views.set_flags, name="person_flags"),
    path("p/<int:pk>/assign-open/", person_views.assign_open_to_me, name="person_assign_open"),
    path(
        "p/<int:pk>/merge-candidates/",
        person_views.merge_candidates,
        name="person_merge_candidates",
    ),
    path("p/<int:pk>/merge/", person_views.merge, name="person_merge"),
    path(
        "p/<int:pk>/merges/<int:merge_pk>/undo/",
        person_views.undo_merge,
        name="person_merge_undo",
    ),
]
