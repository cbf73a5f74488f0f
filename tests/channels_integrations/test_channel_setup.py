"""Channel setup by admins: add, edit, secrets, pause/resume, backfill, connection test, access."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import formats, timezone
from django.views.debug import SafeExceptionReporterFilter

from channels_integrations import registry, views
from channels_integrations.channel_setup import NEW_CHANNEL_REASON, request_connection_test
from channels_integrations.forms import CREDENTIAL_PREFIX, SETTING_PREFIX
from channels_integrations.mastodon.connector import MastodonConnector
from channels_integrations.models import ChannelAccount, ChannelStatus, ConnectionTest, Platform
from channels_integrations.registry import connector_class, connector_for
from channels_integrations.tasks import run_connection_test
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def importable_connector(platform: str) -> Any:
    """The platform's connector class, or skip: connectors arrive during the day."""
    try:
        return connector_class(platform)
    except (ImportError, LookupError, AttributeError) as exc:
        pytest.skip(f"the {platform} connector is not importable yet ({type(exc).__name__})")


def setup_data(platform: str, *, secret: str, base_url: str = "", **extra: Any) -> dict[str, Any]:
    """A valid add form for the platform, every secret derived from `secret`."""
    data: dict[str, Any] = {
        "name": f"{Platform(platform).label} brand",
        "poll_interval_seconds": "60",
        "backfill_days": "0",
    }
    for spec in connector_class(platform).setup_fields:
        if spec.secret:
            data[CREDENTIAL_PREFIX + spec.name] = f"{secret}-{spec.name}"
        elif spec.input_type == "url":
            data[SETTING_PREFIX + spec.name] = base_url or spec.initial or "https://example.test"
        elif spec.input_type == "int":
            data[SETTING_PREFIX + spec.name] = spec.initial or "5"
        else:
            data[SETTING_PREFIX + spec.name] = spec.initial or f"{spec.name}-value"
    data.update(extra)
    return data


def mastodon_data(base_url: str, *, token: str = "demo-token", **extra: Any) -> dict[str, Any]:
    return {
        "name": "Mastodon @brand",
        SETTING_PREFIX + "base_url": base_url,
        CREDENTIAL_PREFIX + "access_token": token,
        "poll_interval_seconds": "30",
        "backfill_days": "0",
        **extra,
    }


def edit_data(channel: ChannelAccount, **extra: Any) -> dict[str, Any]:
    return {
        "name": channel.name,
        SETTING_PREFIX + "base_url": channel.settings["base_url"],
        CREDENTIAL_PREFIX + "access_token": "",
        "poll_interval_seconds": str(channel.poll_interval_seconds),
        "departments": [d.pk for d in channel.departments.all()],
        **extra,
    }


# Adding channels


@pytest.mark.parametrize("platform", Platform.values)
def test_it_adds_a_paused_channel_of_each_available_platform(client, admin_user, platform, caplog):
    connector = importable_connector(platform)
    caplog.set_level(logging.DEBUG)
    secret = f"s3cr3t-{platform}-0123456789"
    client.force_login(admin_user)

    form_page = client.get(reverse("channels:add_platform", args=[platform]))
    assert form_page.status_code == 200
    response = client.post(
        reverse("channels:add_platform", args=[platform]), setup_data(platform, secret=secret)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = ChannelAccount.objects.get()
    assert response["Location"] == reverse("channels:detail", args=[channel.pk])
    assert channel.platform == platform
    assert channel.status == ChannelStatus.PAUSED
    assert channel.status_reason == NEW_CHANNEL_REASON
    assert channel.backfill_since is None
    secrets = [spec.name for spec in connector.setup_fields if spec.secret]
    settings = [spec.name for spec in connector.setup_fields if not spec.secret]
    assert set(channel.settings) == set(settings)
    assert channel.get_credentials() == {name: f"{secret}-{name}" for name in secrets}
    assert secret not in channel.credentials_encrypted
    for url in (
        reverse("channels:detail", args=[channel.pk]),
        reverse("channels:edit", args=[channel.pk]),
        reverse("channels:list"),
    ):
        html = client.get(url).content.decode()
        assert secret not in html
    assert secret not in caplog.text


def test_the_platform_picker_offers_every_platform_and_marks_missing_connectors(
    client, admin_user, monkeypatch
):
    monkeypatch.setitem(
        registry.CONNECTORS, "facebook", "channels_integrations.not_there.connector.Nothing"
    )
    client.force_login(admin_user)
    html = client.get(reverse("channels:add")).content.decode()
    for label in Platform.labels:
        assert str(label) in html
    assert reverse("channels:add_platform", args=["mastodon"]) in html
    assert reverse("channels:add_platform", args=["facebook"]) not in html
    assert "Not available yet" in html

    missing = client.get(reverse("channels:add_platform", args=["facebook"]))
    assert missing.status_code == 404 and "not available yet" in missing.content.decode()
    assert client.get(reverse("channels:add_platform", args=["myspace"])).status_code == 404


def test_a_channel_whose_connector_is_missing_still_shows_its_pages(
    client, admin_user, monkeypatch
):
    channel = factories.make_mastodon_channel(name="Orphan")
    monkeypatch.setitem(
        registry.CONNECTORS, "mastodon", "channels_integrations.not_there.connector.Nothing"
    )
    client.force_login(admin_user)
    assert client.get(reverse("channels:list")).status_code == 200
    detail = client.get(reverse("channels:detail", args=[channel.pk]))
    assert detail.status_code == 200 and "not available" in detail.content.decode()
    edit = client.get(reverse("channels:edit", args=[channel.pk]))
    assert edit.status_code == 200 and "<form" not in edit.content.decode().split("<main")[1]


def test_the_add_form_requires_the_secret_and_a_sensible_poll_interval(
    client, admin_user, fake_mastodon
):
    client.force_login(admin_user)
    url = reverse("channels:add_platform", args=["mastodon"])
    no_token = client.post(url, mastodon_data(fake_mastodon.url, token=""))
    assert no_token.status_code == 422 and "This field is required" in no_token.content.decode()
    too_fast = client.post(url, mastodon_data(fake_mastodon.url, poll_interval_seconds="0"))
    assert too_fast.status_code == 422
    too_far = client.post(url, mastodon_data(fake_mastodon.url, backfill_days="400"))
    assert too_far.status_code == 422
    assert not ChannelAccount.objects.exists()


def test_a_refused_form_does_not_render_the_typed_secret_back(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("channels:add_platform", args=["mastodon"]),
        mastodon_data("not a url", token="typed-secret-9876543210"),
    )
    assert response.status_code == 422
    assert "typed-secret-9876543210" not in response.content.decode()


def test_the_views_that_receive_secrets_hide_them_from_error_reports(admin_user, fake_mastodon):
    token = "hidden-from-debug-pages-123456"
    request = RequestFactory().post(
        "/channels/add/mastodon/", mastodon_data(fake_mastodon.url, token=token)
    )
    request.user = admin_user
    request._messages = _NoMessages()
    views.add_channel_form(request, platform="mastodon")
    assert request.sensitive_post_parameters == "__ALL__"
    assert token not in str(SafeExceptionReporterFilter().get_post_parameters(request))

    channel = ChannelAccount.objects.get()
    request = RequestFactory().post(
        f"/channels/{channel.pk}/edit/",
        edit_data(channel, **{CREDENTIAL_PREFIX + "access_token": token}),
    )
    request.user = admin_user
    request._messages = _NoMessages()
    views.edit_channel(request, pk=channel.pk)
    assert request.sensitive_post_parameters == "__ALL__"
    assert token not in str(SafeExceptionReporterFilter().get_post_parameters(request))


class _NoMessages:
    def add(self, *args: Any, **kwargs: Any) -> None:
        pass


# Secrets on the edit form


def test_secrets_are_stored_encrypted_and_never_shown(client, admin_user, fake_mastodon, caplog):
    caplog.set_level(logging.DEBUG)
    token = "very-secret-token-abcdef123456"
    client.force_login(admin_user)
    client.post(
        reverse("channels:add_platform", args=["mastodon"]),
        mastodon_data(fake_mastodon.url, token=token),
    )
    channel = ChannelAccount.objects.get()
    assert token not in channel.credentials_encrypted
    assert channel.get_credentials() == {"access_token": token}

    detail = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    edit = client.get(reverse("channels:edit", args=[channel.pk])).content.decode()
    assert token not in detail and token not in edit
    assert "set" in detail
    password_input = edit.split('name="credential_access_token"')[0].rsplit("<input", 1)[1]
    assert 'type="password"' in password_input and "value=" not in password_input
    assert "Set; leave blank to keep it." in edit
    assert token not in caplog.text


def test_a_blank_secret_keeps_the_stored_one_and_a_typed_one_replaces_it(
    client, admin_user, channel
):
    client.force_login(admin_user)
    url = reverse("channels:edit", args=[channel.pk])

    response = client.post(url, edit_data(channel, name="Renamed", poll_interval_seconds="120"))
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed" and channel.poll_interval_seconds == 120
    assert channel.get_credentials() == {"access_token": "demo-token"}

    client.post(url, edit_data(channel, **{CREDENTIAL_PREFIX + "access_token": "other-token"}))
    channel.refresh_from_db()
    assert channel.get_credentials() == {"access_token": "other-token"}


def test_editing_keeps_the_poll_bookkeeping_of_the_channel(client, admin_user, channel):
    now = timezone.now()
    ChannelAccount.objects.filter(pk=channel.pk).update(
        last_success_at=now, cursor={"min_id": "42"}, consecutive_failures=2
    )
    client.force_login(admin_user)
    client.post(reverse("channels:edit", args=[channel.pk]), edit_data(channel, name="New"))
    channel.refresh_from_db()
    assert channel.name == "New"
    assert channel.last_success_at == now and channel.cursor == {"min_id": "42"}
    assert channel.consecutive_failures == 2


# Departments


def test_owning_departments_decide_who_sees_the_channel(
    client, admin_user, agent, department, fake_mastodon
):
    client.force_login(admin_user)
    client.post(
        reverse("channels:add_platform", args=["mastodon"]),
        mastodon_data(fake_mastodon.url, name="Owned channel", departments=[department.pk]),
    )
    channel = ChannelAccount.objects.get()
    assert list(channel.departments.all()) == [department]

    client.force_login(agent)
    assert "Owned channel" in client.get(reverse("channels:list")).content.decode()

    client.force_login(admin_user)
    client.post(reverse("channels:edit", args=[channel.pk]), edit_data(channel, departments=[]))
    assert not channel.departments.exists()
    client.force_login(agent)
    assert "Owned channel" not in client.get(reverse("channels:list")).content.decode()


# Pause and resume


def test_a_new_channel_waits_for_start_polling(client, admin_user, fake_mastodon):
    client.force_login(admin_user)
    client.post(
        reverse("channels:add_platform", args=["mastodon"]), mastodon_data(fake_mastodon.url)
    )
    channel = ChannelAccount.objects.get()
    html = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert "Start polling" in html and NEW_CHANNEL_REASON in html

    client.post(reverse("channels:resume", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE and channel.status_reason == ""
    assert channel.next_poll_at <= timezone.now()


def test_pause_with_a_reason_and_resume(client, admin_user, channel):
    client.force_login(admin_user)
    client.post(reverse("channels:pause", args=[channel.pk]), {"reason": "Campaign over"})
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.PAUSED and channel.status_reason == "Campaign over"
    assert (
        "Campaign over"
        in client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    )

    client.post(reverse("channels:pause", args=[channel.pk]), {"reason": ""})
    channel.refresh_from_db()
    assert channel.status_reason == f"Paused by {admin_user.username}"

    client.post(reverse("channels:resume", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE and channel.status_reason == ""


def test_resume_after_new_credentials_clears_needs_reauth(client, admin_user, channel):
    later = timezone.now() + timedelta(hours=1)
    ChannelAccount.objects.filter(pk=channel.pk).update(
        status=ChannelStatus.NEEDS_REAUTH,
        status_reason="The platform refused the token: re-authorize the channel.",
        next_poll_at=later,
    )
    client.force_login(admin_user)
    client.post(
        reverse("channels:edit", args=[channel.pk]),
        edit_data(channel, **{CREDENTIAL_PREFIX + "access_token": "other-token"}),
    )
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_REAUTH  # saving alone decides nothing
    assert channel.get_credentials() == {"access_token": "other-token"}

    client.post(reverse("channels:resume", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE and channel.status_reason == ""
    assert channel.next_poll_at <= timezone.now()


def test_resume_leaves_an_active_channel_alone(client, admin_user, channel):
    later = timezone.now() + timedelta(minutes=5)
    ChannelAccount.objects.filter(pk=channel.pk).update(next_poll_at=later)
    client.force_login(admin_user)
    client.post(reverse("channels:resume", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE and channel.next_poll_at == later


# Backfill


def test_a_backfill_on_connect_starts_the_cursor_at_the_date(client, admin_user, fake_mastodon):
    client.force_login(admin_user)
    before = timezone.now()
    client.post(
        reverse("channels:add_platform", args=["mastodon"]),
        mastodon_data(fake_mastodon.url, backfill_days="30"),
    )
    after = timezone.now()
    channel = ChannelAccount.objects.get()
    assert channel.backfill_since is not None
    assert before - timedelta(days=30) <= channel.backfill_since <= after - timedelta(days=30)
    assert channel.backfill_completed_at is None
    expected = connector_for(channel).initial_cursor(backfill_since=channel.backfill_since)
    assert channel.cursor == expected and channel.cursor != {}


def test_a_channel_without_backfill_starts_with_the_connectors_fresh_cursor(
    client, admin_user, fake_mastodon
):
    client.force_login(admin_user)
    client.post(
        reverse("channels:add_platform", args=["mastodon"]), mastodon_data(fake_mastodon.url)
    )
    channel = ChannelAccount.objects.get()
    assert channel.cursor == connector_for(channel).initial_cursor(backfill_since=None)


def test_starting_a_backfill_resets_since_completion_and_cursor(client, admin_user, channel):
    ChannelAccount.objects.filter(pk=channel.pk).update(
        cursor={"min_id": "99"},
        backfill_since=timezone.now() - timedelta(days=2),
        backfill_completed_at=timezone.now(),
    )
    client.force_login(admin_user)
    html = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert MastodonConnector.backfill_note in html and "items the channel already has" in html

    before = timezone.now()
    response = client.post(reverse("channels:backfill", args=[channel.pk]), {"days": "7"})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.backfill_completed_at is None
    assert channel.backfill_since is not None
    assert channel.backfill_since >= before - timedelta(days=7, seconds=1)
    assert channel.cursor == connector_for(channel).initial_cursor(
        backfill_since=channel.backfill_since
    )

    for days in ("0", "366", "x"):
        client.post(reverse("channels:backfill", args=[channel.pk]), {"days": days})
    unchanged = ChannelAccount.objects.get(pk=channel.pk)
    assert unchanged.backfill_since == channel.backfill_since


def test_the_backfill_progress_counts_messages_since_the_start(client, admin_user, channel):
    now = timezone.now()
    ChannelAccount.objects.filter(pk=channel.pk).update(backfill_since=now - timedelta(days=10))
    factories.make_conversation(channel, when=now - timedelta(days=9))
    factories.make_conversation(channel, when=now - timedelta(days=2))
    factories.make_conversation(channel, when=now - timedelta(days=20))  # before the backfill
    client.force_login(admin_user)
    url = reverse("channels:backfill_progress", args=[channel.pk])

    running = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert '<dd class="backfill-count">2</dd>' in running
    assert "Running" in running and 'hx-trigger="every 3s"' in running
    oldest = formats.date_format(timezone.localtime(now - timedelta(days=9)), "SHORT_DATE_FORMAT")
    assert oldest in running

    ChannelAccount.objects.filter(pk=channel.pk).update(backfill_completed_at=now)
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Complete" in done and "hx-trigger" not in done

    ChannelAccount.objects.filter(pk=channel.pk).update(
        backfill_completed_at=None, status=ChannelStatus.PAUSED
    )
    paused = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Waiting" in paused and "hx-trigger" not in paused


# Connection test


def test_asking_for_a_test_queues_it_after_commit_without_calling_the_platform(
    client, admin_user, channel, fake_mastodon, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_connection_test, "delay", queued.append)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("channels:test", args=[channel.pk]), HTTP_HX_REQUEST="true")
    test = ConnectionTest.objects.get()
    assert queued == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued == [test.pk]
    assert fake_mastodon.calls() == []
    html = response.content.decode()
    assert "Testing" in html and 'hx-trigger="every 1s"' in html
    assert test.requested_by == admin_user and test.finished_at is None


def test_a_good_token_passes_the_test_against_the_fake_mastodon(client, admin_user, channel):
    test = request_connection_test(user=admin_user, channel=channel)
    run_connection_test(test.pk)

    test.refresh_from_db()
    assert test.finished_at is not None and test.error == "" and test.ok
    by_name = {check["name"]: check for check in test.checks}
    assert by_name["Access token"]["ok"] and "@brand" in by_name["Access token"]["detail"]
    assert all(check["ok"] for check in test.checks)

    client.force_login(admin_user)
    html = client.get(
        reverse("channels:test_result", args=[channel.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Everything works." in html and "hx-trigger" not in html
    assert "Access token" in html
    detail = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert "Everything works." in detail


@pytest.mark.parametrize("how", ["revoked", "wrong"])
def test_a_bad_token_fails_the_test_with_a_clear_detail(
    client, admin_user, channel, fake_mastodon, how
):
    if how == "revoked":
        fake_mastodon.revoke_token("demo-token")
    else:
        channel.set_credentials({"access_token": "wrong-token"})
        channel.save()
    test = request_connection_test(user=admin_user, channel=channel)
    run_connection_test(test.pk)

    test.refresh_from_db()
    assert test.finished_at is not None and not test.ok
    failed = [check for check in test.checks if not check["ok"]]
    assert failed and failed[0]["name"] == "Access token"
    assert "access token" in failed[0]["detail"].lower()
    client.force_login(admin_user)
    html = client.get(reverse("channels:test_result", args=[channel.pk])).content.decode()
    assert "Something is missing." in html and "access token" in html.lower()


def test_a_crashing_test_is_stored_as_an_internal_error_without_secrets(
    admin_user, channel, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)

    def crash(self: MastodonConnector) -> list[Any]:
        token = self.connection.credentials["access_token"]
        raise RuntimeError(f"GET https://example.invalid/?access_token={token} failed")

    monkeypatch.setattr(MastodonConnector, "test_connection", crash)
    test = request_connection_test(user=admin_user, channel=channel)
    run_connection_test(test.pk)

    test.refresh_from_db()
    assert test.finished_at is not None and not test.ok
    assert test.checks[0]["name"] == "Internal error (RuntimeError)"
    assert test.checks[0]["ok"] is False
    assert "demo-token" not in str(test.checks) and "demo-token" not in test.error
    assert "demo-token" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_a_secret_the_connector_reports_back_is_masked(admin_user, channel, monkeypatch):
    from channels_integrations.base import ConnectionCheck

    def chatty(self: MastodonConnector) -> list[ConnectionCheck]:
        return [
            ConnectionCheck("Token", True, f"token {self.connection.credentials['access_token']}")
        ]

    monkeypatch.setattr(MastodonConnector, "test_connection", chatty)
    test = request_connection_test(user=admin_user, channel=channel)
    run_connection_test(test.pk)
    test.refresh_from_db()
    assert "demo-token" not in str(test.checks)


def test_a_finished_test_is_not_run_again(admin_user, channel, fake_mastodon):
    test = request_connection_test(user=admin_user, channel=channel)
    run_connection_test(test.pk)
    calls = len(fake_mastodon.calls())
    run_connection_test(test.pk)
    assert len(fake_mastodon.calls()) == calls


def test_a_test_nobody_picks_up_stops_polling_and_says_why(client, admin_user, channel):
    test = request_connection_test(user=admin_user, channel=channel)
    ConnectionTest.objects.filter(pk=test.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    client.force_login(admin_user)
    html = client.get(reverse("channels:test_result", args=[channel.pk])).content.decode()
    assert "Is the Celery worker running?" in html and "hx-trigger" not in html


# Access


def setup_requests(channel: ChannelAccount, fake_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    pk = channel.pk
    return [
        ("get", reverse("channels:add"), {}),
        ("get", reverse("channels:add_platform", args=["mastodon"]), {}),
        ("post", reverse("channels:add_platform", args=["mastodon"]), mastodon_data(fake_url)),
        ("get", reverse("channels:detail", args=[pk]), {}),
        ("get", reverse("channels:edit", args=[pk]), {}),
        (
            "post",
            reverse("channels:edit", args=[pk]),
            edit_data(channel, name="Taken over", **{CREDENTIAL_PREFIX + "access_token": "x"}),
        ),
        ("post", reverse("channels:pause", args=[pk]), {"reason": "no"}),
        ("post", reverse("channels:resume", args=[pk]), {}),
        ("post", reverse("channels:test", args=[pk]), {}),
        ("get", reverse("channels:test_result", args=[pk]), {}),
        ("post", reverse("channels:backfill", args=[pk]), {"days": "30"}),
        ("get", reverse("channels:backfill_progress", args=[pk]), {}),
    ]


def snapshot(channel: ChannelAccount) -> dict[str, Any]:
    row: dict[str, Any] = dict(ChannelAccount.objects.filter(pk=channel.pk).values().get())
    row["departments"] = sorted(channel.departments.values_list("pk", flat=True))
    row["credentials"] = ChannelAccount.objects.get(pk=channel.pk).get_credentials()
    return row


@pytest.mark.parametrize("persona", ["agent", "outsider"])
def test_non_admins_are_forbidden_on_every_setup_url(
    client, request, persona, channel, fake_mastodon
):
    user = request.getfixturevalue(persona)
    ChannelAccount.objects.filter(pk=channel.pk).update(status=ChannelStatus.PAUSED)
    before = snapshot(channel)
    client.force_login(user)
    for method, url, data in setup_requests(channel, fake_mastodon.url):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url)
        assert "demo-token" not in response.content.decode()
    assert snapshot(channel) == before
    assert ChannelAccount.objects.count() == 1
    assert not ConnectionTest.objects.exists()
    assert fake_mastodon.calls() == []


def test_anonymous_users_are_sent_to_the_login_page(client, channel, fake_mastodon):
    for method, url, data in setup_requests(channel, fake_mastodon.url):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("login"))


def test_setup_actions_refuse_non_admins_themselves(agent, channel):
    from channels_integrations import channel_setup
    from inbox.access import AccessDenied

    with pytest.raises(AccessDenied):
        channel_setup.pause_channel(user=agent, channel=channel)
    with pytest.raises(AccessDenied):
        channel_setup.request_connection_test(user=agent, channel=channel)
    with pytest.raises(AccessDenied):
        channel_setup.start_backfill(user=agent, channel=channel, days=3)


# Escaping


def test_hostile_names_settings_and_results_are_escaped_on_setup_pages(client, admin_user, channel):
    ChannelAccount.objects.filter(pk=channel.pk).update(
        name=HOSTILE,
        status=ChannelStatus.PAUSED,
        status_reason=HOSTILE,
        last_error=HOSTILE,
        settings={"base_url": HOSTILE},
    )
    ConnectionTest.objects.create(
        channel=channel,
        finished_at=timezone.now(),
        checks=[{"name": HOSTILE, "ok": False, "detail": HOSTILE}],
    )
    client.force_login(admin_user)
    for url in (
        reverse("channels:detail", args=[channel.pk]),
        reverse("channels:edit", args=[channel.pk]),
        reverse("channels:test_result", args=[channel.pk]),
        reverse("channels:list"),
    ):
        html = client.get(url).content.decode()
        assert HOSTILE not in html, url
        assert ESCAPED in html, url


def test_a_backfill_starts_even_when_the_stored_credentials_cannot_be_read(
    client, admin_user, channel
):
    ChannelAccount.objects.filter(pk=channel.pk).update(credentials_encrypted="not-a-token")
    client.force_login(admin_user)
    response = client.post(reverse("channels:backfill", args=[channel.pk]), {"days": "3"})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.backfill_since is not None and channel.cursor.get("not_before")


def test_the_channel_form_sets_the_composers_default_tone_and_language(client, admin_user):
    from channels_integrations.models import ChannelAccount
    from tests import factories

    channel = factories.make_mastodon_channel(name="Brand DE")
    client.force_login(admin_user)
    page = client.get(f"/channels/{channel.pk}/edit/").content.decode()
    assert 'name="default_tone"' in page and 'name="default_language"' in page
    response = client.post(
        f"/channels/{channel.pk}/edit/",
        {
            "name": "Brand DE",
            "setting_base_url": "https://mastodon.example",
            "poll_interval_seconds": "60",
            "default_tone": "sie",
            "default_language": "de",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    channel = ChannelAccount.objects.get(pk=channel.pk)
    assert (channel.default_tone, channel.default_language) == ("sie", "de")
