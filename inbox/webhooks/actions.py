"""Every write to webhook subscriptions and deliveries made by people: admins only, audited.

The signing secret is generated here and returned in clear text exactly once (creation and
rotation); it is stored encrypted and never written to the audit log or any log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox import audit
from inbox.access import AccessDenied, AnyUser, can_administer
from inbox.actions import ActionRefused
from inbox.models.integrations import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
    WebhookSubscription,
)
from inbox.webhooks.events import TEST_EVENT, envelope, test_payload_data
from inbox.webhooks.signing import encrypt_secret, new_secret

AUDIT_TYPE = "webhook"
AUDITED_FIELDS = ("name", "url", "events", "active")


@dataclass(frozen=True)
class WithSecret:
    """A subscription and its signing secret in clear text, to be shown once."""

    subscription: WebhookSubscription
    secret: str


def _check(user: AnyUser) -> None:
    if not can_administer(user):
        raise AccessDenied("Only admins may manage webhooks.")


def _events(events: Iterable[str]) -> list[str]:
    chosen = set(events)
    unknown = chosen - set(WebhookEvent.values)
    if unknown:
        raise ActionRefused(
            _("Unknown webhook events: %(events)s") % {"events": ", ".join(sorted(unknown))}
        )
    # In the order of WebhookEvent, so an edit that picks the same events changes nothing.
    return [event for event in WebhookEvent.values if event in chosen]


def _audit(
    user: AnyUser,
    action: str,
    subscription: WebhookSubscription,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    audit.record(
        actor=user,
        action=action,
        instance_or_type=AUDIT_TYPE,
        object_id=str(subscription.pk),
        object_repr=subscription.name,
        before=before,
        after=after,
    )


def create_subscription(
    *, user: AnyUser, name: str, url: str, events: Iterable[str], active: bool = True
) -> WithSecret:
    """Create a subscription with a fresh secret (returned once) and audit it. It receives
    events that happen from now on, none from before."""
    _check(user)
    secret = new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            name=name.strip(),
            url=url.strip(),
            events=_events(events),
            active=active,
            secret_encrypted=encrypt_secret(secret),
            created_by_id=user.pk,
        )
        _audit(user, audit.AuditAction.CREATED, subscription, {}, _snapshot(subscription))
    return WithSecret(subscription, secret)


def _snapshot(subscription: WebhookSubscription) -> dict[str, Any]:
    return audit.snapshot(subscription, AUDITED_FIELDS)


def _locked(subscription: WebhookSubscription) -> WebhookSubscription:
    return WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)


def update_subscription(
    *,
    user: AnyUser,
    subscription: WebhookSubscription,
    name: str,
    url: str,
    events: Iterable[str],
    active: bool,
) -> WebhookSubscription:
    """Change a subscription (row locked; audited when something changed). Deliveries already
    enqueued keep their payload and go to the new URL."""
    _check(user)
    with transaction.atomic():
        locked = _locked(subscription)
        before = _snapshot(locked)
        locked.name = name.strip()
        locked.url = url.strip()
        locked.events = _events(events)
        locked.active = active
        locked.save(update_fields=[*AUDITED_FIELDS, "updated_at"])
        _audit(user, audit.AuditAction.CHANGED, locked, before, _snapshot(locked))
    return locked


def delete_subscription(*, user: AnyUser, subscription: WebhookSubscription) -> None:
    """Delete a subscription with its deliveries and their log (audited)."""
    _check(user)
    with transaction.atomic():
        locked = _locked(subscription)
        _audit(user, audit.AuditAction.DELETED, locked, _snapshot(locked), {})
        locked.delete()


def rotate_secret(*, user: AnyUser, subscription: WebhookSubscription) -> WithSecret:
    """Replace the signing secret (returned once). Requests from now on, retries included,
    are signed with the new one. The audit entry says that it changed, never its value."""
    _check(user)
    secret = new_secret()
    with transaction.atomic():
        locked = _locked(subscription)
        locked.secret_encrypted = encrypt_secret(secret)
        locked.save(update_fields=["secret_encrypted", "updated_at"])
        _audit(
            user,
            audit.AuditAction.CHANGED,
            locked,
            {"signing_secret": "previous"},
            {"signing_secret": f"rotated {timezone.now().isoformat(timespec='seconds')}"},
        )
    return WithSecret(locked, secret)


def send_test_event(*, user: AnyUser, subscription: WebhookSubscription) -> WebhookDelivery:
    """Enqueue a "ping" to the subscription through the same outbox (one attempt, no retries),
    and hand it to a worker after commit."""
    _check(user)
    from inbox.webhooks.tasks import enqueue_dispatch

    with transaction.atomic():
        delivery = WebhookDelivery(
            subscription=subscription,
            event=TEST_EVENT,
            source=f"test:{uuid.uuid4()}",
            is_test=True,
            next_attempt_at=timezone.now(),
        )
        delivery.payload = envelope(
            event_id=delivery.event_id,
            event=TEST_EVENT,
            created_at=timezone.now(),
            data=test_payload_data(subscription_id=subscription.pk, name=subscription.name),
        )
        delivery.save()
        enqueue_dispatch()
    return delivery


def redeliver(*, user: AnyUser, delivery: WebhookDelivery) -> WebhookDelivery:
    """Start a new series of attempts for a failed delivery: same event id and payload (a
    receiver that got it after all can tell), attempts counted from zero, the log kept."""
    _check(user)
    from inbox.webhooks.tasks import enqueue_dispatch

    now = timezone.now()
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(
            pk=delivery.pk, state=WebhookDeliveryState.FAILED
        ).update(
            state=WebhookDeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            claimed_at=None,
            updated_at=now,
        )
        if not updated:
            raise ActionRefused(_("Only a failed delivery can be sent again."))
        enqueue_dispatch()
    delivery.refresh_from_db()
    return delivery
