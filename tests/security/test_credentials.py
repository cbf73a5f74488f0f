"""Credentials never leave the server: every secret field of every platform's channel, a
webhook's signing secret, an API token after its creation and the SMTP password appear in no
page an admin opens (channel list, detail, edit, connection test, skipped items, audit log and
its exports, the Django admin, webhooks, tokens), no API answer, and no log line at any level,
even when the platform echoes the token back in its 401 and 500 answers to polls and connection
tests; not in clear, base64 or URL-encoded. The database keeps them as ciphertext."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import pytest
from django.test import Client
from django.utils import timezone

from channels_integrations.channel_setup import run_connection_test
from channels_integrations.fake_server import FakeServer
from channels_integrations.models import ChannelAccount, ChannelStatus, ConnectionTest
from channels_integrations.polling import poll_channel
from channels_integrations.registry import CONNECTORS, connector_class
from inbox.api import tokens
from inbox.models.integrations import ApiToken, WebhookSubscription
from inbox.webhooks.actions import create_subscription
from tests import factories


class EchoingPlatform:
    """A platform that answers every request with `status` and echoes back everything it was
    sent (headers, query, body), as careless real APIs do in their error messages."""

    def __init__(self) -> None:
        self.status = 401
        self.echoed: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        sent = {
            "path": environ.get("PATH_INFO", ""),
            "query": parse_qs(environ.get("QUERY_STRING", "")),
            "headers": {k: str(v) for k, v in environ.items() if k.startswith("HTTP_")},
            "body": environ["wsgi.input"].read(length).decode(errors="replace"),
        }
        text = json.dumps(sent)
        self.echoed.append(text)
        body = json.dumps(
            {
                "error": {"message": f"Invalid OAuth access token: {text}", "code": 190},
                "errors": [{"message": text}],
                "description": f"Unauthorized: {text}",
                "ok": False,
            }
        ).encode()
        reason = {401: "Unauthorized", 500: "Internal Server Error"}[self.status]
        start_response(
            f"{self.status} {reason}",
            [("Content-Type", "application/json"), ("WWW-Authenticate", f"Bearer {text[:200]}")],
        )
        return [body]


@pytest.fixture
def platform() -> Iterator[tuple[EchoingPlatform, str]]:
    app = EchoingPlatform()
    server = FakeServer(app)
    server.start()
    try:
        yield app, server.url
    finally:
        server.stop()


def secret(label: str) -> str:
    return f"S3cret-{label}-{uuid.uuid4().hex}"


def setting_value(name: str, url: str) -> Any:
    values = {
        "base_url": url,
        "token_url": f"{url}/token",
        "imap_host": "127.0.0.1",
        "smtp_host": "127.0.0.1",
        # A closed port: the mail channel fails to connect.
        "imap_port": 9,
        "smtp_port": 9,
        "imap_security": "none",
        "smtp_security": "none",
        "address": "brand@example.com",
        "long_poll_seconds": 0,
        "daily_quota": 10000,
        "api_version": "v19.0",
        "user_id": "2244994945",
        "page_id": "104170365234567",
        "ig_user_id": "17841405309211844",
        "channel_id": "UC_x5XG1OV2P6uZZ5FSM9Ttw",
    }
    return values.get(name, f"{name}-value")


def make_channels(url: str, department: Any) -> dict[str, str]:
    """One channel per platform, every secret field set; returns every secret by label."""
    secrets: dict[str, str] = {}
    for platform in CONNECTORS:
        fields = connector_class(platform).setup_fields
        credentials = {}
        for spec in fields:
            if spec.secret:
                value = secret(f"{platform}-{spec.name}")
                credentials[spec.name] = value
                secrets[f"{platform}.{spec.name}"] = value
        channel = ChannelAccount(
            platform=platform,
            name=f"{platform} channel",
            settings={s.name: setting_value(s.name, url) for s in fields if not s.secret},
        )
        channel.set_credentials(credentials)
        channel.save()
        department.channel_accounts.add(channel)
    return secrets


def encodings(value: str) -> set[str]:
    raw = value.encode()
    return {
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        # The middle of a base64 text whose secret does not start on a 3-byte boundary.
        base64.b64encode(b"x" + raw).decode()[4:-4],
        base64.b64encode(b"xy" + raw).decode()[4:-4],
        value[8:],  # the random part alone
    }


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [
        label
        for label, value in secrets.items()
        if any(encoded in text for encoded in encodings(value))
    ]


def body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return str(response.content.decode())


def page_paths(channel_ids: list[int], webhook_id: int) -> list[str]:
    paths = [
        "/channels/",
        "/team/audit/",
        "/team/audit/export.csv",
        "/privacy/audit-log.json",
        "/admin/channels_integrations/channelaccount/",
        "/team/webhooks/",
        f"/team/webhooks/{webhook_id}/",
        f"/team/webhooks/{webhook_id}/deliveries/",
        "/api/tokens/",
        "/inbox/",
    ]
    for pk in channel_ids:
        paths += [
            f"/channels/{pk}/",
            f"/channels/{pk}/edit/",
            f"/channels/{pk}/test/result/",
            f"/channels/{pk}/skipped/",
            f"/admin/channels_integrations/channelaccount/{pk}/change/",
            f"/admin/channels_integrations/channelaccount/{pk}/history/",
        ]
    return paths


@pytest.mark.django_db
def test_no_secret_reaches_a_page_an_api_answer_or_a_log_line(
    platform: tuple[EchoingPlatform, str], caplog: Any, settings: Any
) -> None:
    app, url = platform
    department = factories.make_department("Community")
    admin: Any = factories.make_user("alex", is_staff=True, is_superuser=True)
    secrets = make_channels(url, department)
    secrets["smtp"] = settings.EMAIL_HOST_PASSWORD = secret("smtp")
    with caplog.at_level(logging.DEBUG):
        hook = create_subscription(
            user=admin, name="CRM", url="https://crm.example.com/hook", events=[]
        )
        secrets["webhook"] = hook.secret
        secrets["api_token"] = tokens.create_token(user=admin, name="CRM sync")[1]
        channels = list(ChannelAccount.objects.order_by("pk"))

        for status in (401, 500):
            app.status = status
            for channel in channels:
                ChannelAccount.objects.filter(pk=channel.pk).update(
                    status=ChannelStatus.ACTIVE, next_poll_at=timezone.now()
                )
                poll_channel(channel.pk)
                test = ConnectionTest.objects.create(channel=channel, requested_by=admin)
                run_connection_test(test_id=test.pk)
        assert ConnectionTest.objects.exclude(finished_at=None).count() == 2 * len(channels)
        # The polls did fail, and said so on the channel (shown on its pages below).
        assert ChannelAccount.objects.exclude(last_error="").exists()

        # An admin replaces a secret with a form that fails validation: the page comes back
        # with the error, never with what was typed.
        mastodon = ChannelAccount.objects.get(platform="mastodon")
        typed = secrets["mastodon.typed"] = secret("typed")
        client = Client()
        client.force_login(admin)
        again = client.post(
            f"/channels/{mastodon.pk}/edit/",
            {"name": "", "credential_access_token": typed},
        )
        assert again.status_code in (200, 422)
        answers = {f"POST edit {mastodon.pk}": again.content.decode()}
        replaced = client.post(
            f"/channels/{mastodon.pk}/edit/",
            {
                "name": "Mastodon renamed",
                "setting_base_url": url,
                "credential_access_token": typed,
                "poll_interval_seconds": "60",
                "departments": [department.pk],
            },
        )
        answers["POST edit (valid)"] = replaced.content.decode()

        for path in page_paths([c.pk for c in channels], hook.subscription.pk):
            response = client.get(path)
            assert response.status_code == 200, path
            answers[path] = body(response)
        api = Client(HTTP_AUTHORIZATION=f"Bearer {secrets['api_token']}")
        for path in [
            "/api/v1/channels/",
            "/api/v1/me/",
            *(f"/api/v1/channels/{c.pk}/" for c in channels),
        ]:
            response = api.get(path)
            assert response.status_code == 200, path
            # The token is sent by the client, never answered back.
            answers[path] = response.content.decode()

    leaked = {path: found for path, text in answers.items() if (found := leaks(text, secrets))}
    assert leaked == {}
    logged = "\n".join(
        f"{record.getMessage()}\n{record.exc_text or ''}\n{record.__dict__}"
        for record in caplog.records
    )
    assert caplog.records, "nothing was logged: the check would prove nothing"
    assert leaks(logged, secrets) == []
    # The platform did get (and echo back) the tokens: the checks above had something to find.
    assert len(leaks("".join(app.echoed), secrets)) >= len(CONNECTORS) - 1


@pytest.mark.django_db
def test_the_database_keeps_ciphertext_only(platform: tuple[EchoingPlatform, str]) -> None:
    _, url = platform
    department = factories.make_department("Community")
    admin: Any = factories.make_user("alex", is_staff=True, is_superuser=True)
    secrets = make_channels(url, department)
    secrets["webhook"] = create_subscription(
        user=admin, name="CRM", url="https://crm.example.com/hook", events=[]
    ).secret
    secrets["api_token"] = tokens.create_token(user=admin, name="CRM sync")[1]

    stored = json.dumps(
        [
            list(ChannelAccount.objects.values()),
            list(WebhookSubscription.objects.values()),
            list(ApiToken.objects.values()),
        ],
        default=str,
    )
    assert leaks(stored, secrets) == []
    # And the ciphertext does decrypt to them: the check above looked at the right column.
    channel = ChannelAccount.objects.get(platform="email")
    assert channel.get_credentials()["password"] == secrets["email.password"]
