"""A fake YouTube served on loopback, and connectors aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels_integrations.base import ConnectionSettings
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session
from channels_integrations.youtube.connector import YouTubeConnector
from channels_integrations.youtube.demo import demo_channel
from channels_integrations.youtube.fake import FakeYouTube

ConnectorFactory = Callable[..., YouTubeConnector]


class ServedYouTube(FakeYouTube):
    """A fake YouTube that knows the base URL it is served on."""

    url = ""


class Clock:
    """A settable clock: every new comment is published one second after the previous one, so
    tests control the order without sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 22, 18, 0, 0, tzinfo=UTC))


@pytest.fixture
def fake_youtube(clock: Clock) -> Iterator[ServedYouTube]:
    """A fake YouTube on a free loopback port (`fake_youtube.url`), living on `clock`."""
    fake = ServedYouTube(
        tokens={"demo-token", "other-token"}, viewer_tokens={"viewer-token"}, clock=clock
    )
    with FakeServer(fake.wsgi_app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def make_connector(fake_youtube: ServedYouTube) -> ConnectorFactory:
    """make_connector(token=…, credentials=…, quota_used_today=…, read_timeout=…, **settings)."""

    def make(
        *,
        credentials: dict[str, Any] | None = None,
        quota_used_today: int = 0,
        read_timeout: float = 5.0,
        **settings: Any,
    ) -> YouTubeConnector:
        demo_settings, demo_credentials = demo_channel(fake_youtube.url)
        return YouTubeConnector(
            ConnectionSettings(
                settings={**demo_settings, **settings},
                credentials=demo_credentials if credentials is None else credentials,
                quota_used_today=quota_used_today,
            ),
            platform_session(read_timeout=read_timeout),
        )

    return make
