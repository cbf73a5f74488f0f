"""API fixtures: a token per persona and a client that sends it; a private rate-limit cache."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from inbox.api import tokens


@pytest.fixture(autouse=True)
def private_cache(settings: Any) -> None:
    """Rate-limit counts in a cache of this test alone: clearing the shared Redis would wipe
    what other test runs on the machine keep there."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "api-tests",
        }
    }
    cache.clear()


def token_for(user: Any, name: str = "test") -> str:
    return tokens.create_token(user=user, name=name)[1]


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


@pytest.fixture
def api_for() -> Any:
    """api_for(user) -> an APIClient that sends a fresh token of `user`."""
    return client_for
