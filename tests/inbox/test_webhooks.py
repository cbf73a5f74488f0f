"""Outbound webhooks: every event kind arrives, signed, through the real write paths, the relay
and the delivery task; retries with backoff; the 410/400 policy; no duplicates; late commits;
redelivery; SSRF refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone
from werkzeug.wrappers import Request, Response

from channels_integrations import outbox
from channels_integrations.fake_server import FakeServer
from channels_integrations.polling import poll_channel
from inbox import actions as inbox_actions
from inbox.conversation_actions import assign_conversations
from inbox.models import AuditEntry, ConversationEvent, EventKind, Message
from inbox.models.integrations import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
    WebhookRelayCursor,
)
from inbox.webhooks import actions, delivery, relay, tasks
from inbox.webhooks.delivery import DestinationRefused, check_destination
from moderation import actions as moderation_actions
from moderation import incidents

ALL_EVENTS = list(WebhookEvent.values)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every request, answers from `plan` (status,
    headers, body), then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    plan: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.requests.append(Received(dict(request.headers), request.get_data()))
            status, headers, body = self.plan.pop(0) if self.plan else (200, {}, "ok")
        return Response(body, status=status, headers=headers)(environ, start_response)

    def events(self) -> list[str]:
        return [received.json()["event"] for received in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    server = FakeServer(receiving.wsgi_app)
    server.start()
    receiving.url = server.url + "/hooks/inbox"
    try:
        yield receiving
    finally:
        server.stop()


def subscribe(admin: Any, url: str, events: list[str] | None = None) -> actions.WithSecret:
    return actions.create_subscription(user=admin, name="CRM", url=url, events=events or ALL_EVENTS)


def run_webhooks() -> None:
    """What beat and the worker do: relay, then dispatch, each claimed delivery sent inline."""
    tasks.relay_events()
    while True:
        claims = delivery.claim_due()
        if not claims:
            return
        for claim in claims:
            tasks.deliver(claim.delivery_id, claim.claimed_at.isoformat())


def verify(received: Received, secret: str, *, now: float | None = None) -> bool:
    """The receiver's check, as docs/webhooks.md tells integrators to write it."""
    timestamp = received.headers["X-Inbox-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    fresh = abs((now or time.time()) - int(timestamp)) <= 300
    return fresh and hmac.compare_digest(
        "sha256=" + expected, received.headers["X-Inbox-Signature"]
    )


def a_mention(
    channel: Any, fake: Any, text: str = "Wo ist meine Bestellung?", **kwargs: Any
) -> Any:
    channel.cursor = {"min_id": "0"}
    channel.save(update_fields=["cursor"])
    notification = fake.add_mention(text, **kwargs)
    poll_channel(channel.pk)
    return Message.objects.get(external_id=notification["status"]["id"]).conversation


# --- every event kind, end to end -------------------------------------------------------------


@pytest.mark.django_db
def test_it_delivers_every_event_kind_signed_from_the_real_write_paths(
    channel, fake_mastodon, admin_user, lead, agent, receiver, live_events
):
    subscription = subscribe(admin_user, receiver.url)

    conversation = a_mention(channel, fake_mastodon, "Wo ist <b>meine</b> Bestellung?")
    assign_conversations(user=lead, conversation_ids=[conversation.pk], assignee=agent)
    action = inbox_actions.queue_reply(user=agent, conversation=conversation, text="Wir helfen!")
    outbox.deliver(action.pk)
    moderation_actions.ban_person(
        user=admin_user, person=conversation.contact.person, reason="Threats"
    )
    incidents.ensure_default_levels()
    incident = incidents.declare_incident(
        user=admin_user, channel_account=channel, level=1, title="Shitstorm"
    )
    incidents.change_incident_level(user=admin_user, incident=incident, level=2)
    incidents.resolve_incident(user=admin_user, incident=incident, note="Calm again")

    run_webhooks()

    assert sorted(receiver.events()) == sorted(
        [
            "conversation.created",
            "message.received",
            "conversation.assigned",
            "reply.sent",
            "moderation.action",
            "incident.level_changed",
            "incident.level_changed",
            "incident.level_changed",
        ]
    )
    for received in receiver.requests:
        assert verify(received, subscription.secret)
        assert not verify(received, "another secret")
        payload = received.json()
        assert received.headers["X-Inbox-Event"] == payload["event"]
        assert received.headers["X-Inbox-Delivery"] == payload["id"]
        assert set(payload) == {"id", "event", "created_at", "data"}
    by_event = {received.json()["event"]: received.json()["data"] for received in receiver.requests}
    message = by_event["message.received"]
    assert message["message"]["text"].endswith("Wo ist <b>meine</b> Bestellung?")
    assert message["message"]["author"]["type"] == "contact"
    assert message["conversation"]["channel"] == {
        "id": channel.pk,
        "name": "Mastodon @brand",
        "platform": "mastodon",
    }
    assert by_event["conversation.assigned"]["after"]["assignee"]["id"] == agent.pk
    assert by_event["conversation.assigned"]["actor"]["id"] == lead.pk
    reply = by_event["reply.sent"]["reply"]
    assert reply["text"] == "Wir helfen!" and reply["author"]["id"] == agent.pk
    assert reply["external_id"] == fake_mastodon.received_statuses()[0]["id"]
    assert by_event["moderation.action"]["decision"]["action"] == "ban"
    changes = [
        (r.json()["data"]["change"], r.json()["data"]["from_level"], r.json()["data"]["to_level"])
        for r in receiver.requests
        if r.json()["event"] == "incident.level_changed"
    ]
    assert sorted(changes, key=str) == sorted(
        [("opened", None, 1), ("raised", 1, 2), ("resolved", 2, None)], key=str
    )
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}


@pytest.mark.django_db
def test_it_sends_only_the_events_a_subscription_chose(
    channel, fake_mastodon, admin_user, receiver
):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    a_mention(channel, fake_mastodon)
    run_webhooks()
    assert receiver.events() == ["message.received"]


@pytest.mark.django_db
def test_it_skips_building_payloads_when_nobody_wants_the_events(
    channel, fake_mastodon, admin_user, receiver, django_assert_max_num_queries
):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.INCIDENT_LEVEL_CHANGED])
    tasks.relay_events()  # the cursors exist
    for n in range(3):
        a_mention(channel, fake_mastodon, f"Hallo {n}")
    with django_assert_max_num_queries(12):
        assert relay.relay_events() == 0
    newest = ConversationEvent.objects.order_by("-id").values_list("id", flat=True).first()
    assert WebhookRelayCursor.objects.get(source="conversation_event").last_id == newest
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_it_delivers_nothing_that_happened_before_the_subscription(
    channel, fake_mastodon, admin_user, receiver
):
    a_mention(channel, fake_mastodon, "Vorher")
    subscribe(admin_user, receiver.url)
    run_webhooks()
    assert receiver.requests == []
    a_mention(channel, fake_mastodon, "Nachher")
    run_webhooks()
    assert sorted(receiver.events()) == ["conversation.created", "message.received"]
    texts = [r.json()["data"].get("message", {}).get("text", "") for r in receiver.requests]
    assert any(text.endswith("Nachher") for text in texts)
    assert not any("Vorher" in text for text in texts)


@pytest.mark.django_db
def test_an_inactive_subscription_gets_nothing(channel, fake_mastodon, admin_user, receiver):
    subscription = subscribe(admin_user, receiver.url).subscription
    actions.update_subscription(
        user=admin_user,
        subscription=subscription,
        name="CRM",
        url=receiver.url,
        events=ALL_EVENTS,
        active=False,
    )
    a_mention(channel, fake_mastodon)
    run_webhooks()
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


# --- no duplicates, no losses -----------------------------------------------------------------


@pytest.mark.django_db
def test_running_the_relay_twice_enqueues_each_event_once(
    channel, fake_mastodon, admin_user, receiver
):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    a_mention(channel, fake_mastodon)
    relay.relay_events()
    # The row is inside the lookback window: the second run reads it again.
    relay.relay_events()
    assert WebhookDelivery.objects.count() == 1
    run_webhooks()
    run_webhooks()
    assert receiver.events() == ["message.received"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_enqueue_each_event_once(channel, fake_mastodon, admin_user, receiver):
    subscribe(admin_user, receiver.url)
    relay.relay_events()
    for n in range(5):
        a_mention(channel, fake_mastodon, f"Nachricht {n}")
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            relay.relay_events()
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    sources = list(WebhookDelivery.objects.values_list("source", flat=True))
    assert len(sources) == len(set(sources)) == 10  # 5 conversations created, 5 messages


@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_after_the_relay_moved_on_is_still_delivered(
    channel, fake_mastodon, admin_user, agent, receiver
):
    """Ids are taken at insert, visible at commit: a slow transaction commits a row *below*
    the cursor after the relay has read past it."""
    subscribe(admin_user, receiver.url, events=[WebhookEvent.CONVERSATION_ASSIGNED])
    first = a_mention(channel, fake_mastodon, "Erste")
    second = a_mention(channel, fake_mastodon, "Zweite")
    relay.relay_events()
    inserted, release = threading.Event(), threading.Event()

    def slow_assignment() -> None:
        try:
            with transaction.atomic():
                assign_conversations(user=admin_user, conversation_ids=[first.pk], assignee=agent)
                inserted.set()
                release.wait(timeout=30)
        finally:
            close_old_connections()

    slow = threading.Thread(target=slow_assignment)
    slow.start()
    assert inserted.wait(timeout=30)
    assign_conversations(user=admin_user, conversation_ids=[second.pk], assignee=agent)
    relay.relay_events()  # reads the second assignment; the first is not visible yet
    assert ConversationEvent.objects.filter(kind=EventKind.ASSIGNED).count() == 1
    release.set()
    slow.join(timeout=30)
    cursor = WebhookRelayCursor.objects.get(source="conversation_event").last_id
    late = ConversationEvent.objects.get(kind=EventKind.ASSIGNED, conversation=first)
    assert late.pk < cursor  # it did commit below the cursor

    run_webhooks()

    assigned = sorted(r.json()["data"]["conversation"]["id"] for r in receiver.requests)
    assert assigned == sorted([first.pk, second.pk])


# --- retries, policy, redelivery --------------------------------------------------------------


@pytest.mark.django_db
def test_it_retries_a_500_with_backoff_then_delivers(channel, fake_mastodon, admin_user, receiver):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    receiver.plan = [(500, {}, "db down"), (503, {}, "still down")]
    with time_machine.travel(timezone.now(), tick=True) as clock:
        a_mention(channel, fake_mastodon)
        run_webhooks()
        row = WebhookDelivery.objects.get()
        assert row.state == WebhookDeliveryState.PENDING and row.attempts == 1
        assert (
            timedelta(seconds=30) <= row.next_attempt_at - timezone.now() <= timedelta(seconds=37)
        )
        run_webhooks()  # not due yet
        assert len(receiver.requests) == 1

        clock.shift(timedelta(seconds=37))
        run_webhooks()
        row.refresh_from_db()
        assert row.attempts == 2 and row.state == WebhookDeliveryState.PENDING
        assert (
            timedelta(minutes=2) <= row.next_attempt_at - timezone.now() <= timedelta(minutes=2.5)
        )

        clock.shift(timedelta(minutes=2.5))
        run_webhooks()
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.DELIVERED and row.last_status_code == 200
    log = list(row.attempt_log.values_list("number", "status_code", "response_body"))
    assert log == [(1, 500, "db down"), (2, 503, "still down"), (3, 200, "ok")]
    ids = {received.headers["X-Inbox-Delivery"] for received in receiver.requests}
    assert ids == {str(row.event_id)}  # one event, three tries: receivers deduplicate on it


@pytest.mark.django_db
def test_it_honors_a_longer_retry_after(channel, fake_mastodon, admin_user, receiver):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    receiver.plan = [(429, {"Retry-After": "600"}, "slow down")]
    a_mention(channel, fake_mastodon)
    run_webhooks()
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.PENDING
    assert row.next_attempt_at - timezone.now() >= timedelta(seconds=590)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["99999999999999999999", "\u00b2", "Mon, 32 Foo 2026"])
def test_an_odd_retry_after_on_a_success_is_ignored_and_the_delivery_recorded(
    channel, fake_mastodon, admin_user, receiver, value
):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    receiver.plan = [(200, {"Retry-After": value}, "ok")]
    a_mention(channel, fake_mastodon)
    run_webhooks()
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.DELIVERED
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_it_gives_up_after_the_last_retry(channel, fake_mastodon, admin_user, receiver):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    receiver.plan = [(502, {}, "bad gateway")] * delivery.MAX_ATTEMPTS
    with time_machine.travel(timezone.now(), tick=True) as clock:
        a_mention(channel, fake_mastodon)
        for _ in range(delivery.MAX_ATTEMPTS):
            run_webhooks()
            clock.shift(timedelta(hours=7.5))
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.FAILED
    assert row.attempts == delivery.MAX_ATTEMPTS == len(receiver.requests) == 7


@pytest.mark.django_db
def test_a_400_fails_at_once_and_keeps_the_subscription(
    channel, fake_mastodon, admin_user, receiver
):
    subscription = subscribe(admin_user, receiver.url).subscription
    receiver.plan = [(400, {}, '{"error": "<b>bad</b>"}')]
    a_mention(channel, fake_mastodon)  # two events: the first answer is 400, the other 200
    run_webhooks()
    states = sorted(WebhookDelivery.objects.values_list("state", "last_status_code"))
    assert states == [("delivered", 200), ("failed", 400)]
    subscription.refresh_from_db()
    assert subscription.active


@pytest.mark.django_db
def test_a_410_fails_and_switches_the_subscription_off(
    channel, fake_mastodon, admin_user, receiver
):
    subscription = subscribe(
        admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED]
    ).subscription
    receiver.plan = [(410, {}, "gone")]
    a_mention(channel, fake_mastodon)
    run_webhooks()
    subscription.refresh_from_db()
    assert not subscription.active
    assert WebhookDelivery.objects.get().state == WebhookDeliveryState.FAILED
    entry = AuditEntry.objects.filter(object_type="webhook", action="changed").get()
    assert entry.actor_id is None and entry.after == {"active": False}
    a_mention(channel, fake_mastodon, "Noch eine")
    run_webhooks()
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_redirect_is_not_followed(channel, fake_mastodon, admin_user, receiver):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    receiver.plan = [(302, {"Location": "http://169.254.169.254/latest"}, "")]
    a_mention(channel, fake_mastodon)
    run_webhooks()
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().state == WebhookDeliveryState.FAILED


@pytest.mark.django_db
def test_a_connection_error_is_retried(channel, fake_mastodon, admin_user):
    subscribe(admin_user, "http://127.0.0.1:9/closed", events=[WebhookEvent.MESSAGE_RECEIVED])
    a_mention(channel, fake_mastodon)
    run_webhooks()
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.PENDING and row.last_status_code is None
    assert "connect" in row.attempt_log.get().error.lower()


@pytest.mark.django_db
def test_redeliver_starts_a_new_series_with_the_same_event_id(
    channel, fake_mastodon, admin_user, receiver
):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    receiver.plan = [(400, {}, "nope")]
    a_mention(channel, fake_mastodon)
    run_webhooks()
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.FAILED
    actions.redeliver(user=admin_user, delivery=row)
    run_webhooks()
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.DELIVERED and row.attempts == 1
    assert list(row.attempt_log.values_list("number", "status_code")) == [(1, 400), (2, 200)]
    assert [r.headers["X-Inbox-Delivery"] for r in receiver.requests] == [str(row.event_id)] * 2
    with pytest.raises(inbox_actions.ActionRefused):
        actions.redeliver(user=admin_user, delivery=row)  # delivered: nothing to redo


@pytest.mark.django_db
def test_a_stalled_claim_is_sent_again(channel, fake_mastodon, admin_user, receiver):
    subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    a_mention(channel, fake_mastodon)
    relay.relay_events()
    [lost] = delivery.claim_due()  # the worker dies with it
    with time_machine.travel(timezone.now() + delivery.STALL + timedelta(seconds=1)):
        assert delivery.requeue_stalled() == 1
        run_webhooks()
        # The dead worker's task, redelivered late, finds its claim gone.
        assert delivery.deliver(lost) is None
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.DELIVERED and row.attempts == 2
    assert len(receiver.requests) == 1
    log = list(row.attempt_log.values_list("number", "status_code", "error"))
    assert log == [(1, None, "The worker stopped while sending."), (2, 200, "")]


@pytest.mark.django_db
def test_the_dispatch_task_hands_each_due_delivery_out_once(
    channel, fake_mastodon, admin_user, receiver, monkeypatch
):
    subscribe(admin_user, receiver.url)
    a_mention(channel, fake_mastodon)
    relay.relay_events()
    handed: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks.deliver, "delay", lambda *args: handed.append(args))
    assert tasks.dispatch() == 2
    assert tasks.dispatch() == 0
    for args in handed:
        tasks.deliver(*args)
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_the_test_event_goes_through_the_outbox_once(admin_user, receiver):
    subscription = subscribe(admin_user, receiver.url).subscription
    receiver.plan = [(500, {}, "boom")]
    test_delivery = actions.send_test_event(user=admin_user, subscription=subscription)
    run_webhooks()
    test_delivery.refresh_from_db()
    assert test_delivery.state == WebhookDeliveryState.FAILED  # no retries for a test
    assert receiver.events() == ["ping"]
    assert receiver.requests[0].json()["data"]["subscription"]["id"] == subscription.pk


# --- destinations -----------------------------------------------------------------------------


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_it_refuses_private_and_odd_destinations_in_production(url):
    with pytest.raises(DestinationRefused):
        check_destination(url)


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_it_accepts_a_public_address():
    check_destination("https://8.8.8.8/hook")


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
@pytest.mark.django_db
def test_a_delivery_to_a_private_address_fails_without_a_request(
    channel, fake_mastodon, admin_user, receiver
):
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        subscribe(admin_user, receiver.url, events=[WebhookEvent.MESSAGE_RECEIVED])
    a_mention(channel, fake_mastodon)
    run_webhooks()
    row = WebhookDelivery.objects.get()
    assert row.state == WebhookDeliveryState.FAILED and "private" in row.last_error
    assert receiver.requests == []
    assert WebhookAttempt.objects.get().error == row.last_error


@pytest.mark.django_db
def test_old_settled_deliveries_are_pruned_and_pending_ones_kept(admin_user):
    subscription = subscribe(admin_user, "http://127.0.0.1:9/hook").subscription
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        old = [
            WebhookDelivery.objects.create(
                subscription=subscription, event="ping", source=f"test:{state}", state=state
            )
            for state in ("delivered", "failed", "pending")
        ]
        WebhookAttempt.objects.create(delivery=old[0], number=1, started_at=timezone.now())
    recent = WebhookDelivery.objects.create(
        subscription=subscription, event="ping", source="test:new", state="delivered"
    )
    assert tasks.prune() == 2
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {old[2].pk, recent.pk}
    assert not WebhookAttempt.objects.exists()


@pytest.mark.django_db
def test_one_relay_run_reads_batch_after_batch_until_caught_up(
    channel, fake_mastodon, admin_user, receiver, monkeypatch
):
    subscribe(admin_user, receiver.url)
    relay.relay_events()
    for n in range(3):
        a_mention(channel, fake_mastodon, f"Nachricht {n}")
    monkeypatch.setattr(relay, "BATCH", 2)
    relay.relay_events()
    assert WebhookDelivery.objects.count() == 6  # 3 conversations created, 3 messages
    newest = ConversationEvent.objects.order_by("-id").values_list("id", flat=True).first()
    assert WebhookRelayCursor.objects.get(source="conversation_event").last_id == newest


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
@pytest.mark.django_db
def test_it_connects_to_the_address_it_checked_not_to_a_second_lookup(
    channel, fake_mastodon, admin_user, receiver, monkeypatch
):
    """A rebinding DNS server answers the check with a public address and the connection
    with an internal one; here the name does not resolve at all outside the check, so the
    request arrives only if it went to the checked address."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        subscription = subscribe(
            admin_user,
            f"http://hooks.rebind.invalid:{port}/hooks/inbox",
            events=[WebhookEvent.MESSAGE_RECEIVED],
        )
    checked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        checked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(delivery, "_addresses", resolve)
    monkeypatch.setattr(delivery, "_public", lambda address: address == "127.0.0.1")
    a_mention(channel, fake_mastodon)
    run_webhooks()
    assert checked == ["hooks.rebind.invalid"]
    [received] = receiver.requests
    assert received.headers["Host"] == f"hooks.rebind.invalid:{port}"
    assert verify(received, subscription.secret)
    assert WebhookDelivery.objects.get().state == WebhookDeliveryState.DELIVERED


def _self_signed(tmp_path: Any, hostname: str) -> tuple[str, str]:
    """A certificate for `hostname` and its key, as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_a_pinned_https_request_still_verifies_the_certificate_for_the_host_name(
    tmp_path, monkeypatch
):
    import ssl
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import requests

    cert, key = _self_signed(tmp_path, "hooks.example.test")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = f"host={self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    class TrustingOurCertificate(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.verify = cert

    monkeypatch.setattr(delivery.requests, "Session", TrustingOurCertificate)
    monkeypatch.setattr(delivery, "_addresses", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(delivery, "_public", lambda address: address == "127.0.0.1")
    try:
        answer = delivery._send(f"https://hooks.example.test:{port}/h", body=b"{}", headers={})
        assert (answer.status_code, answer.body) == (200, f"host=hooks.example.test:{port}")
        with pytest.raises(requests.exceptions.SSLError):
            delivery._send(f"https://other.example.test:{port}/h", body=b"{}", headers={})
    finally:
        server.shutdown()
