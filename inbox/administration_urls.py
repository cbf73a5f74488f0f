from typing import Any

from django.urls import URLPattern, path

from inbox import administration_views as views

app_name = "team"


def _ordered_list_urls(route: str, screens: views.OrderedListScreens[Any, Any]) -> list[URLPattern]:
    """The same URLs for both ordered lists; each view is handed the list it serves."""
    name, kwargs, one = screens.name, {"screens": screens}, f"{route}/<int:pk>"
    return [
        path(f"{route}/", views.ordered_list, kwargs, name=screens.plural),
        path(f"{route}/new/", views.ordered_item_edit, kwargs, name=f"{name}_create"),
        path(f"{one}/", views.ordered_item_edit, kwargs, name=f"{name}_edit"),
        path(f"{one}/delete/", views.ordered_item_delete, kwargs, name=f"{name}_delete"),
        path(f"{one}/move/", views.ordered_item_move, kwargs, name=f"{name}_move"),
        path(f"{one}/enabled/", views.ordered_item_enabled, kwargs, name=f"{name}_enabled"),
    ]


urlpatterns = [
    path("", views.overview, name="overview"),
    path("departments/new/", views.department_create, name="department_create"),
    path("departments/<int:pk>/", views.department_detail, name="department"),
    path("departments/<int:pk>/delete/", views.department_delete, name="department_delete"),
    path("departments/<int:pk>/holidays/", views.holiday_add, name="holiday_add"),
    path("holidays/<int:pk>/delete/", views.holiday_remove, name="holiday_remove"),
    path("departments/<int:pk>/members/", views.member_add, name="member_add"),
    path("members/<int:pk>/", views.member_change, name="member_change"),
    path("members/<int:pk>/delete/", views.member_remove, name="member_remove"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/active/", views.user_active, name="user_active"),
    path("users/<int:pk>/admin/", views.user_admin, name="user_admin"),
    *_ordered_list_urls("routing", views.ROUTING_RULE_SCREENS),
    *_ordered_list_urls("sla", views.SLA_POLICY_SCREENS),
    path("approval/", views.approval_settings, name="approval"),
    path("approval/channels/<int:pk>/", views.channel_approval, name="channel_approval"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
