"""The webhook screens: admins only, the secret shown once and never again (nor audited), clear
URL errors, the test button's result, the delivery log with escaped answers, redelivery."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from inbox.models import AuditEntry
from inbox.models.integrations import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
    WebhookSubscription,
)
from inbox.webhooks import actions
from inbox.webhooks.signing import decrypt_secret
from tests.factories import PASSWORD
from tests.inbox.test_webhooks import ALL_EVENTS, a_mention, receiver, run_webhooks, verify

pytestmark = pytest.mark.django_db
__all__ = ["receiver"]  # the fixture, shared with the delivery tests

HOSTILE = "<script>alert(1)</script>"


def login(client: Any, user: Any) -> Any:
    assert client.login(username=user.username, password=PASSWORD)
    return client


def create_via_form(client: Any, url: str, events: list[str] | None = None) -> Any:
    return client.post(
        reverse("webhooks:create"),
        {"name": "CRM", "url": url, "events": events or ALL_EVENTS, "active": "on"},
    )


def shown_secret(response: Any) -> str:
    match = re.search(r'id="webhook-secret"[^>]*value="([^"]+)"', response.content.decode())
    assert match is not None
    return match.group(1)


# --- permissions ------------------------------------------------------------------------------


@pytest.fixture
def subscription(admin_user: Any) -> WebhookSubscription:
    return actions.create_subscription(
        user=admin_user, name="CRM", url="http://127.0.0.1:9/hook", events=ALL_EVENTS
    ).subscription


def every_url(subscription: WebhookSubscription) -> list[tuple[str, str]]:
    test_delivery = WebhookDelivery.objects.create(
        subscription=subscription, event="ping", source="test:x", state="failed", is_test=True
    )
    pk = subscription.pk
    return [
        ("get", reverse("webhooks:list")),
        ("get", reverse("webhooks:create")),
        ("post", reverse("webhooks:create")),
        ("get", reverse("webhooks:edit", args=[pk])),
        ("post", reverse("webhooks:edit", args=[pk])),
        ("post", reverse("webhooks:delete", args=[pk])),
        ("post", reverse("webhooks:rotate_secret", args=[pk])),
        ("post", reverse("webhooks:test", args=[pk])),
        ("get", reverse("webhooks:deliveries", args=[pk])),
        ("get", reverse("webhooks:delivery_status", args=[test_delivery.pk])),
        ("post", reverse("webhooks:redeliver", args=[test_delivery.pk])),
    ]


@pytest.mark.parametrize("persona", ["lead", "agent", "observer", "outsider"])
def test_everyone_but_admins_gets_403_on_every_url(client, request, persona, subscription):
    login(client, request.getfixturevalue(persona))
    for method, url in every_url(subscription):
        response = getattr(client, method)(url, {"name": "x", "url": "http://a.example/"})
        assert response.status_code == 403, (method, url)
    subscription.refresh_from_db()
    assert subscription.name == "CRM" and subscription.active
    assert WebhookDelivery.objects.filter(state="pending").count() == 0


def test_anonymous_visitors_go_to_the_login_page(client, subscription):
    for method, url in every_url(subscription):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_admins_see_the_list_with_the_last_delivery(client, admin_user, subscription):
    WebhookDelivery.objects.create(
        subscription=subscription,
        event="message.received",
        source="conversation_event:1",
        state=WebhookDeliveryState.FAILED,
        attempts=1,
        last_status_code=503,
    )
    WebhookDelivery.objects.create(  # newer, not tried yet: says nothing about the receiver
        subscription=subscription, event="reply.sent", source="conversation_event:2"
    )
    response = login(client, admin_user).get(reverse("webhooks:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "CRM" in page and "http://127.0.0.1:9/hook" in page
    assert "HTTP 503" in page and "Message received" in page


# --- the secret -------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_never_again_nor_audited(client, admin_user, receiver):
    login(client, admin_user)
    response = create_via_form(client, receiver.url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    subscription = WebhookSubscription.objects.get()
    assert decrypt_secret(subscription.secret_encrypted) == secret
    assert secret not in subscription.secret_encrypted

    for url in (
        reverse("webhooks:list"),
        reverse("webhooks:edit", args=[subscription.pk]),
        reverse("webhooks:deliveries", args=[subscription.pk]),
        reverse("team:audit"),
    ):
        assert secret not in client.get(url).content.decode(), url
    entries = list(AuditEntry.objects.filter(object_type="webhook"))
    assert [entry.action for entry in entries] == ["created"]
    assert entries[0].after["url"] == receiver.url
    dumped = json.dumps([[e.before, e.after, e.object_repr] for e in entries])
    assert secret not in dumped and "secret_encrypted" not in dumped


def test_a_new_secret_replaces_the_old_one_for_signing(
    client, admin_user, receiver, channel, fake_mastodon
):
    login(client, admin_user)
    old = shown_secret(create_via_form(client, receiver.url, [WebhookEvent.MESSAGE_RECEIVED]))
    subscription = WebhookSubscription.objects.get()
    response = client.post(reverse("webhooks:rotate_secret", args=[subscription.pk]))
    new = shown_secret(response)
    assert new != old
    a_mention(channel, fake_mastodon)
    run_webhooks()
    [received] = receiver.requests
    assert verify(received, new) and not verify(received, old)
    dumped = json.dumps([[e.before, e.after] for e in AuditEntry.objects.all()])
    assert new not in dumped and old not in dumped
    assert AuditEntry.objects.filter(object_type="webhook", action="changed").count() == 1


# --- the form ---------------------------------------------------------------------------------


def test_it_refuses_a_url_that_is_not_http(client, admin_user):
    login(client, admin_user)
    response = create_via_form(client, "ftp://example.com/hook")
    assert response.status_code == 200
    assert "Only http:// and https:// addresses can receive webhooks." in response.content.decode()
    assert not WebhookSubscription.objects.exists()


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_it_refuses_a_private_address_in_production(client, admin_user):
    login(client, admin_user)
    response = create_via_form(client, "http://10.0.0.5:8080/hook")
    assert "private, loopback or link-local address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_it_needs_at_least_one_event(client, admin_user):
    login(client, admin_user)
    response = client.post(
        reverse("webhooks:create"), {"name": "CRM", "url": "http://127.0.0.1:9/"}
    )
    assert "Choose at least one event." in response.content.decode()


def test_editing_and_deleting_are_audited(client, admin_user, subscription):
    login(client, admin_user)
    response = client.post(
        reverse("webhooks:edit", args=[subscription.pk]),
        {"name": "CRM (new)", "url": subscription.url, "events": [WebhookEvent.REPLY_SENT]},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.events == ["reply.sent"] and not subscription.active
    changed = AuditEntry.objects.get(object_type="webhook", action="changed")
    assert changed.after == {"name": "CRM (new)", "events": ["reply.sent"], "active": False}
    client.post(reverse("webhooks:delete", args=[subscription.pk]))
    assert not WebhookSubscription.objects.exists()
    assert AuditEntry.objects.filter(object_type="webhook", action="deleted").count() == 1


# --- test button, log, redelivery -------------------------------------------------------------


def test_the_test_button_shows_the_result_when_it_arrives(client, admin_user, receiver):
    login(client, admin_user)
    create_via_form(client, receiver.url)
    subscription = WebhookSubscription.objects.get()
    response = client.post(
        reverse("webhooks:test", args=[subscription.pk]), headers={"HX-Request": "true"}
    )
    test_delivery = WebhookDelivery.objects.get(is_test=True)
    status_url = reverse("webhooks:delivery_status", args=[test_delivery.pk])
    page = response.content.decode()
    assert f'hx-get="{status_url}"' in page and 'hx-trigger="load delay:1s"' in page

    run_webhooks()

    settled = client.get(status_url).content.decode()
    assert "The receiver answered HTTP 200." in settled and "hx-get" not in settled
    assert receiver.events() == ["ping"]


def test_the_log_shows_attempts_with_escaped_answers_and_redelivers(
    client, admin_user, receiver, channel, fake_mastodon
):
    login(client, admin_user)
    create_via_form(client, receiver.url, [WebhookEvent.MESSAGE_RECEIVED])
    subscription = WebhookSubscription.objects.get()
    receiver.plan = [(400, {"Content-Type": "text/html"}, HOSTILE)]
    a_mention(channel, fake_mastodon)
    run_webhooks()
    row = WebhookDelivery.objects.get()

    page = client.get(reverse("webhooks:deliveries", args=[subscription.pk])).content.decode()
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "HTTP 400" in page and str(row.event_id) in page
    redeliver_url = reverse("webhooks:redeliver", args=[row.pk])
    assert redeliver_url in page

    response = client.post(redeliver_url)
    assert response.status_code == 302
    run_webhooks()
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.DELIVERED
    page = client.get(reverse("webhooks:deliveries", args=[subscription.pk])).content.decode()
    assert redeliver_url not in page


def test_the_log_is_paginated_newest_first(client, admin_user, subscription):
    for n in range(30):
        WebhookDelivery.objects.create(
            subscription=subscription, event="ping", source=f"test:{n}", is_test=True
        )
    login(client, admin_user)
    url = reverse("webhooks:deliveries", args=[subscription.pk])
    first = client.get(url)
    newest = WebhookDelivery.objects.order_by("-created_at", "-id").first()
    assert newest is not None
    assert f'id="delivery-{newest.pk}"' in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(url + "?page=2").content.decode()
    assert second.count('class="delivery-item"') == 5
