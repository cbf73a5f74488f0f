"""The channel layers: Redis pub/sub in the services mode, in memory in the embedded mode.

ThreadSafeInMemoryChannelLayer: an in-memory channel layer that the embedded worker's threads can
publish to.

Channels' InMemoryChannelLayer keeps asyncio queues that belong to the server's event loop;
waking a waiter from another thread's loop is not safe and can leave a message unseen until
something else stirs the loop. The embedded mode runs Celery in threads of the web process, so
sends from a foreign loop are handed to the server's loop with run_coroutine_threadsafe.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection

logger = logging.getLogger(__name__)


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


class ResyncingPubSubChannelLayer(RedisPubSubChannelLayer):
    """The services mode's channel layer: channels_redis's pub/sub layer, which tells its sockets
    when it lost Redis.

    Pub/sub publishes a group message once; each web process that has members subscribed gets it
    and hands it to its own sockets. The list-based layer (channels_redis.core) instead stores one
    message per member socket and each web process takes them one at a time, a few Redis round
    trips each: with a few hundred sockets per process, events waited for tens of seconds and the
    layer dropped what exceeded its capacity (bench/live.py, docs/performance.md).

    What pub/sub does not do is keep messages for a process that is not listening: whatever was
    published while Redis was away is gone, and the sockets stay open, so nothing would tell the
    browsers. Here each web process, when its subscription works again after an error, sends every
    local socket {"type": "live.resync"}; the consumer passes it on and the page reloads its list
    and open thread, as after a reconnect (static/js/live.js).
    """

    def _get_layer(self) -> Any:
        known = self._layers.get(asyncio.get_running_loop())
        if known is not None:
            return known
        layer = super()._get_layer()
        # A fresh loop layer has no subscriptions yet: its shards can be swapped for ours.
        layer._shards = [_ResyncingShard(shard.host, layer) for shard in layer._shards]
        return layer


RESYNC_MESSAGE = {"type": "live.resync"}


class _ResyncingShard(RedisSingleShardConnection):
    async def _do_receiving(self) -> None:
        # channels_redis's loop, with the outage remembered: redis-py reconnects and subscribes
        # again inside get_message, so the first call that returns after an error means the
        # subscription is back.
        lost = False
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    if lost:
                        lost = False
                        logger.warning("live layer: Redis is back; telling the sockets to resync")
                        self._tell_every_socket_to_resync()
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                if not lost:
                    logger.warning("live layer: lost Redis; events are missed", exc_info=True)
                lost = True
                await asyncio.sleep(1)

    def _tell_every_socket_to_resync(self) -> None:
        encoded = self.channel_layer.channel_layer.serialize(RESYNC_MESSAGE)
        for queue in self.channel_layer.channels.values():
            queue.put_nowait(encoded)
