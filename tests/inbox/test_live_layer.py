"""The embedded mode's in-memory channel layer, published to from a worker thread's own loop."""

import asyncio
import threading
import time

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
