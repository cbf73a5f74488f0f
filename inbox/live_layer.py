"""An in-memory channel layer that the embedded worker's threads can publish to.

Channels' InMemoryChannelLayer keeps asyncio queues that belong to the server's event loop;
waking a waiter from another thread's loop is not safe and can leave a message unseen until
something else stirs the loop. The embedded mode runs Celery in threads of the web process, so
sends from a foreign loop are handed to the server's loop with run_coroutine_threadsafe.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> Any:
        self._owner_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._on_owner_loop(super().send(channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._on_owner_loop(super().group_send(group, message))

    async def _on_owner_loop(self, coroutine: Any) -> None:
        owner = self._owner_loop
        if owner is None or owner is asyncio.get_running_loop() or owner.is_closed():
            await coroutine
            return
        future = asyncio.run_coroutine_threadsafe(coroutine, owner)
        await asyncio.wrap_future(future)
