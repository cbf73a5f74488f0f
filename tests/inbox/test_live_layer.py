"""The embedded mode's in-memory channel layer, published to from a worker thread's own loop."""

import asyncio
import threading
import time

import redis
from asgiref.sync import async_to_sync

from inbox.live_layer import ThreadSafeInMemoryChannelLayer


def test_a_send_from_another_threads_loop_wakes_the_waiting_receiver():
    layer = ThreadSafeInMemoryChannelLayer()
    received: list[dict] = []
    received_at: list[float] = []
    waiting = threading.Event()

    async def server():
        channel = await layer.new_channel()
        await layer.group_add("channel.1", channel)
        waiting.set()
        # The receiver sits in receive() on this loop while the worker thread publishes.
        received.append(await asyncio.wait_for(layer.receive(channel), timeout=5))
        received_at.append(time.monotonic())

    server_thread = threading.Thread(target=lambda: asyncio.run(server()))
    server_thread.start()
    assert waiting.wait(5)

    sent_at = time.monotonic()

    def worker():
        async_to_sync(layer.group_send)("channel.1", {"type": "live.event", "payload": {"n": 1}})

    worker_thread = threading.Thread(target=worker)
    worker_thread.start()
    worker_thread.join(5)
    server_thread.join(10)
    assert received == [{"type": "live.event", "payload": {"n": 1}}]
    # Promptly, not whenever something else happens to wake the server's loop.
    assert received_at[0] - sent_at < 1.0


def test_the_pub_sub_layer_tells_its_sockets_to_resync_after_losing_redis(tmp_path):
    """Messages published while Redis is away are gone and the sockets stay open: each web
    process's layer sends its sockets "live.resync" once its subscription works again, so the
    pages reload what they may have missed, and group messages flow again."""
    from inbox.live_layer import RESYNC_MESSAGE, ResyncingPubSubChannelLayer
    from tests.reliability.services import private_redis

    async def scenario(url: str, restart) -> list[dict]:
        listening = ResyncingPubSubChannelLayer(hosts=[{"address": url}], prefix="resync-test")
        sending = ResyncingPubSubChannelLayer(hosts=[{"address": url}], prefix="resync-test")
        channel = await listening.new_channel()
        await listening.group_add("channel.1", channel)
        await sending.group_send("channel.1", {"type": "live.events", "texts": ["before"]})
        received = [await asyncio.wait_for(listening.receive(channel), timeout=5)]
        await asyncio.get_running_loop().run_in_executor(None, restart)
        received.append(await asyncio.wait_for(listening.receive(channel), timeout=15))
        # The sender's pooled connection died with the old server: its first use may fail.
        for attempt in range(3):
            try:
                await sending.group_send("channel.1", {"type": "live.events", "texts": ["after"]})
                break
            except redis.ConnectionError:
                if attempt == 2:
                    raise
        received.append(await asyncio.wait_for(listening.receive(channel), timeout=5))
        await listening.flush()
        await sending.flush()
        return received

    with private_redis(tmp_path / "redis", appendonly=False) as server:

        def restart() -> None:
            server.stop()
            time.sleep(1.5)  # the outage itself, not a wait for a condition
            server.start()

        received = asyncio.run(scenario(server.url, restart))

    assert received == [
        {"type": "live.events", "texts": ["before"]},
        RESYNC_MESSAGE,
        {"type": "live.events", "texts": ["after"]},
    ]
