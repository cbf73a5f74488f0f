from django.urls import path

from inbox import administration_views as views

app_name = "team"

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
    path("routing/", views.routing_rules, name="routing_rules"),
    path("routing/new/", views.routing_rule_edit, name="routing_rule_create"),
    path("routing/<int:pk>/", views.routing_rule_edit, name="routing_rule_edit"),
    path("routing/<int:pk>/delete/", views.routing_rule_delete, name="routing_rule_delete"),
    path("routing/<int:pk>/move/", views.routing_rule_move, name="routing_rule_move"),
    path("routing/<int:pk>/enabled/", views.routing_rule_enabled, name="routing_rule_enabled"),
    path("sla/", views.sla_policies, name="sla_policies"),
    path("sla/new/", views.sla_policy_edit, name="sla_policy_create"),
    path("sla/<int:pk>/", views.sla_policy_edit, name="sla_policy_edit"),
    path("sla/<int:pk>/delete/", views.sla_policy_delete, name="sla_policy_delete"),
    path("sla/<int:pk>/move/", views.sla_policy_move, name="sla_policy_move"),
    path("sla/<int:pk>/enabled/", views.sla_policy_enabled, name="sla_policy_enabled"),
    path("approval/", views.approval_settings, name="approval"),
    path("approval/channels/<int:pk>/", views.channel_approval, name="channel_approval"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
