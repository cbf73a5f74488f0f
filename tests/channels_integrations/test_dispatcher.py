"""The beat dispatcher hands each due channel to exactly one poll, even when run concurrently."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from channels_integrations.actions import claim_due_channels
from channels_integrations.models import ChannelAccount, ChannelStatus
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def due_channels(n: int) -> list[int]:
    past = timezone.now() - timedelta(seconds=5)
    return [factories.make_mastodon_channel(next_poll_at=past).pk for _ in range(n)]


def in_thread(target):
    """Run `target` in a thread with its own database connection; return (thread, result box)."""
    box: dict = {}

    def run():
        try:
            box["value"] = target()
        except BaseException as exc:  # surfaced by the test below
            box["error"] = exc
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def test_two_concurrent_dispatchers_never_hand_out_the_same_channel():
    ids = due_channels(20)
    a_holds_locks = threading.Event()
    b_finished = threading.Event()

    def dispatcher_a():
        # Keep A's transaction (and its row locks) open while B runs.
        with transaction.atomic():
            claimed = claim_due_channels(limit=10)
            a_holds_locks.set()
            assert b_finished.wait(10)
            return claimed

    def dispatcher_b():
        assert a_holds_locks.wait(10)
        try:
            return claim_due_channels(limit=100)
        finally:
            b_finished.set()

    thread_a, a = in_thread(dispatcher_a)
    thread_b, b = in_thread(dispatcher_b)
    thread_a.join(20)
    thread_b.join(20)
    assert "error" not in a and "error" not in b, (a, b)
    assert len(a["value"]) == 10
    assert set(a["value"]).isdisjoint(b["value"])
    assert set(a["value"]) | set(b["value"]) == set(ids)
    assert claim_due_channels() == []  # everything is leased now


def test_racing_dispatchers_hand_out_each_channel_once():
    ids = due_channels(60)
    start = threading.Barrier(4)

    def dispatcher():
        start.wait(10)
        claimed = []
        for _ in range(10):
            claimed += claim_due_channels(limit=5)
        return claimed

    runs = [in_thread(dispatcher) for _ in range(4)]
    results = []
    for thread, box in runs:
        thread.join(30)
        assert "error" not in box, box
        results += box["value"]
    assert sorted(results) == sorted(ids)


def test_it_hands_out_only_active_due_channels_and_leases_them():
    due = factories.make_mastodon_channel(next_poll_at=timezone.now() - timedelta(seconds=1))
    factories.make_mastodon_channel(next_poll_at=timezone.now() + timedelta(minutes=1))
    factories.make_mastodon_channel(next_poll_at=timezone.now(), status=ChannelStatus.PAUSED)
    factories.make_mastodon_channel(next_poll_at=timezone.now(), status=ChannelStatus.NEEDS_REAUTH)
    failing = factories.make_mastodon_channel(
        next_poll_at=timezone.now(), status=ChannelStatus.FAILING
    )

    assert sorted(claim_due_channels()) == sorted([due.pk, failing.pk])
    due.refresh_from_db()
    assert due.poll_lease_until is not None and due.next_poll_at == due.poll_lease_until


def test_a_channel_whose_poll_died_is_handed_out_again_after_its_lease():
    channel = factories.make_mastodon_channel(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert claim_due_channels() == [channel.pk]
    assert claim_due_channels() == []
    # The worker holding the lease was killed; time passes beyond the lease.
    ChannelAccount.objects.filter(pk=channel.pk).update(
        next_poll_at=timezone.now() - timedelta(seconds=1)
    )
    assert claim_due_channels() == [channel.pk]


def test_one_dispatch_run_hands_out_five_thousand_due_channels_each_once(monkeypatch):
    from channels_integrations import tasks

    past = timezone.now() - timedelta(seconds=5)
    template = factories.make_mastodon_channel(next_poll_at=past)
    ChannelAccount.objects.bulk_create(
        ChannelAccount(
            platform=template.platform,
            name=f"Channel {n}",
            settings=template.settings,
            credentials_encrypted=template.credentials_encrypted,
            next_poll_at=past,
        )
        for n in range(4999)
    )
    enqueued: list[int] = []
    monkeypatch.setattr(
        tasks.poll_channel, "apply_async", lambda args, **options: enqueued.append(args[0])
    )
    monkeypatch.setattr(tasks.settings, "POLL_DISPATCH_SECONDS", 60)  # a slow CI machine

    assert tasks.dispatch_due_polls() == 5000

    assert len(enqueued) == len(set(enqueued)) == 5000
    assert not ChannelAccount.objects.filter(next_poll_at__lte=timezone.now()).exists()
    assert tasks.dispatch_due_polls() == 0  # leased: nothing is handed out twice
