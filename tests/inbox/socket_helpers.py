"""Talking to the live socket in tests: a logged-in user's cookie, a connected communicator,
and waiting for a message with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio

from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application

# A deadline, not a wait: generous, as a busy CI machine serves the sockets slowly.
TIMEOUT = 10


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(cookie: bytes) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


async def connected(cookie: bytes) -> WebsocketCommunicator:
    communicator = socket(cookie)
    ok, _ = await communicator.connect()
    assert ok
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    return communicator


async def receive_until(communicator, wanted, timeout: float = TIMEOUT) -> dict:
    """The first message for which `wanted(message)` holds, skipping others, within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, "the expected message did not arrive in time"
        message = await communicator.receive_json_from(timeout=remaining)
        if wanted(message):
            return message
