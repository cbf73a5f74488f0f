"""Moderation's pages: the queue and people lists (moderation.queue_urls), rules and guidelines
(moderation.rule_urls), incidents and escalation levels (moderation.incident_urls)."""

from django.urls import include, path

urlpatterns = [
    path("rules/", include("moderation.rule_urls")),
    path("incidents/", include("moderation.incident_urls")),
    path("", include("moderation.queue_urls")),
]
