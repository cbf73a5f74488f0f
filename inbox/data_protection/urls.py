"""Data protection: a person's data export, erasure on request, and retention policies."""

from django.urls import URLPattern, URLResolver, path

from inbox.data_protection import views

app_name = "data_protection"

urlpatterns: list[URLPattern | URLResolver] = [
    path("persons/<int:pk>/export.json", views.person_export, name="person_export"),
    path("persons/<int:pk>/erase/", views.person_erase, name="person_erase"),
    path("retention/", views.retention, name="retention"),
    path("retention/<int:channel_pk>/", views.retention_save, name="retention_save"),
    path("audit-log.json", views.audit_log_json, name="audit_export_json"),
]
