"""A fake Facebook Page served on loopback, and connectors aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from channels_integrations.base import ConnectionSettings
from channels_integrations.facebook.connector import FacebookConnector
from channels_integrations.facebook.fake import DEMO_TOKEN, PAGE_ID, FakeFacebook
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session


class ServedFacebook(FakeFacebook):
    """A fake Facebook Page that knows the base URL it is served on."""

    url = ""


@pytest.fixture
def fake_facebook() -> Iterator[ServedFacebook]:
    """A fake Facebook Page on a free loopback port; `fake_facebook.url` is its base URL."""
    fake = ServedFacebook(tokens={DEMO_TOKEN, "other-token"})
    server = FakeServer(fake.wsgi_app)
    server.start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()


FacebookFactory = Callable[..., FacebookConnector]


@pytest.fixture
def facebook(fake_facebook: ServedFacebook) -> FacebookFactory:
    """Makes connectors aimed at the fake: facebook(token=..., read_timeout=...)."""

    def make(*, token: str = DEMO_TOKEN, read_timeout: float = 5.0) -> FacebookConnector:
        settings = {"base_url": fake_facebook.url, "page_id": PAGE_ID, "api_version": "v25.0"}
        return FacebookConnector(
            ConnectionSettings(settings=settings, credentials={"access_token": token}),
            platform_session(read_timeout=read_timeout),
        )

    return make
