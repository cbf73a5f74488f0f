"""Moderation's scheduled tasks (thin: they call the functions that do the work)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="moderation.tasks.detect_crises")
def detect_crises() -> int:
    """Compare each channel's last minutes with its baseline and thresholds; open, raise,
    lower or resolve incidents and tell the responsibles (moderation.crisis). Safe to run
    twice at once. Returns the number of open incidents."""
    from moderation.crisis import detect_crises as detect

    return len(detect())


@shared_task(name="moderation.tasks.expire_listings")
def expire_listings() -> int:
    """Lift bans and allow-listings whose expiry has passed (so ingest stops hiding a person
    whose ban ran out). Returns how many were lifted."""
    from moderation.actions import expire_listings as expire

    return expire()
