"""A live fake Telegram on a loopback port, and connectors aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from channels_integrations.base import ConnectionSettings
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session
from channels_integrations.telegram.connector import TelegramConnector
from channels_integrations.telegram.fake import DEMO_TOKEN, FakeTelegram

OTHER_TOKEN = "7000000001:AAHsecond-token-of-the-same-bot-98765"


class ServedTelegram(FakeTelegram):
    """A fake Telegram that knows the base URL it is served on."""

    url = ""


class FrozenClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def serve_telegram() -> Iterator[Callable[..., ServedTelegram]]:
    """Serve a ServedTelegram built with the given arguments on a free loopback port."""
    servers: list[FakeServer] = []

    def serve(**kwargs: Any) -> ServedTelegram:
        fake = ServedTelegram(**kwargs)
        server = FakeServer(fake.wsgi_app)
        server.start()
        servers.append(server)
        fake.url = server.url
        return fake

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def fake_telegram(serve_telegram: Callable[..., ServedTelegram]) -> ServedTelegram:
    """A fake Telegram on a free loopback port; `fake_telegram.url` is its base URL."""
    return serve_telegram(tokens=(DEMO_TOKEN, OTHER_TOKEN))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def frozen_telegram(
    serve_telegram: Callable[..., ServedTelegram], clock: FrozenClock
) -> ServedTelegram:
    """A served fake Telegram whose time is `clock`."""
    return serve_telegram(clock=clock)


def connector_for(
    fake: ServedTelegram,
    *,
    token: str = DEMO_TOKEN,
    read_timeout: float = 5.0,
    long_poll_seconds: int = 1,
    base_url: str | None = None,
    bot_username: str = "shop_bot",
) -> TelegramConnector:
    settings = {
        "base_url": base_url or fake.url,
        "bot_username": bot_username,
        "long_poll_seconds": long_poll_seconds,
    }
    return TelegramConnector(
        ConnectionSettings(settings=settings, credentials={"bot_token": token}),
        platform_session(read_timeout=read_timeout),
    )
