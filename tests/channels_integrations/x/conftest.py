"""A fake X served on a loopback port, and connectors aimed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from channels_integrations.base import ConnectionSettings
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session
from channels_integrations.x.connector import XConnector
from channels_integrations.x.fake import BRAND_USER_ID, BRAND_USERNAME, FakeX

TOKEN = "demo-token"


class ServedX(FakeX):
    """A fake X that knows the base URL it is served on (`url`, without the /2)."""

    url = ""

    @property
    def api_url(self) -> str:
        return self.url + "/2"


@pytest.fixture
def fake_x() -> Iterator[ServedX]:
    """A fake X on a free loopback port; `fake_x.api_url` is the connector's base_url."""
    fake = ServedX(tokens={TOKEN, "other-token"})
    server = FakeServer(fake.wsgi_app)
    server.start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()


def x_settings(fake: ServedX, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": fake.api_url,
        "user_id": BRAND_USER_ID,
        "username": BRAND_USERNAME,
        **overrides,
    }


def connector_for(
    fake: ServedX,
    *,
    token: str = TOKEN,
    read_timeout: float = 5.0,
    settings: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
) -> XConnector:
    return XConnector(
        ConnectionSettings(
            settings=settings if settings is not None else x_settings(fake),
            credentials=credentials if credentials is not None else {"access_token": token},
        ),
        platform_session(read_timeout=read_timeout),
    )


@contextmanager
def served(fake: ServedX) -> Iterator[ServedX]:
    """Serve a specially configured fake (rate limits, clock, window) for one test."""
    with FakeServer(fake.wsgi_app) as server:
        fake.url = server.url
        yield fake
