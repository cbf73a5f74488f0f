"""Incidents and escalation levels; mounted at /moderation/incidents/ (namespace "incidents")."""

from django.urls import path

from moderation import incident_views as views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.declare, name="declare"),
    path("levels/", views.escalation_levels, name="levels"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/storm/", views.storm, name="storm"),
    path("<int:pk>/lead/", views.lead, name="lead"),
    path("<int:pk>/level/", views.level, name="level"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
]
