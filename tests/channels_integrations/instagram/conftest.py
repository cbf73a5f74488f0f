"""A fake Instagram account served on loopback, and connectors aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from channels_integrations.base import ConnectionSettings
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session
from channels_integrations.instagram.connector import InstagramConnector
from channels_integrations.instagram.fake import ACCOUNT_ID, DEMO_TOKEN, FakeInstagram


class ServedInstagram(FakeInstagram):
    """A fake Instagram account that knows the base URL it is served on."""

    url = ""


@pytest.fixture
def fake_instagram() -> Iterator[ServedInstagram]:
    """A fake Instagram account on a free loopback port; `fake_instagram.url` is its base URL."""
    fake = ServedInstagram(tokens={DEMO_TOKEN, "other-token"})
    server = FakeServer(fake.wsgi_app)
    server.start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()


InstagramFactory = Callable[..., InstagramConnector]


@pytest.fixture
def instagram(fake_instagram: ServedInstagram) -> InstagramFactory:
    """Makes connectors aimed at the fake: instagram(token=..., read_timeout=...)."""

    def make(*, token: str = DEMO_TOKEN, read_timeout: float = 5.0) -> InstagramConnector:
        settings = {"base_url": fake_instagram.url, "ig_user_id": ACCOUNT_ID}
        return InstagramConnector(
            ConnectionSettings(settings=settings, credentials={"access_token": token}),
            platform_session(read_timeout=read_timeout),
        )

    return make
