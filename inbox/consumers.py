"""The live-update websocket: one per open browser tab.

Anonymous connections are closed at once with code 4401 and get nothing; accepting first lets the
page read that code (a refused handshake looks like a network error, and the tab would retry
forever). A connection joins the group of each channel its user may see (decided by inbox.access,
like every page) and its user's own group; events are forwarded as JSON with rendered HTML.
Logging out closes the sockets of that session.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from channels_integrations.models import ChannelAccount
from inbox.access import visible_channel_ids
from inbox.live import channel_group, user_group

# Custom close code (4000-4999 are for applications): not logged in.
CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.joined: list[str] = await self._groups_for(user)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "channels": len(self.joined) - 1})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The socket is one-way for now; writes go through forms and actions.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])

    async def session_ended(self, event: dict[str, Any]) -> None:
        session = self.scope.get("session")
        if session is not None and session.session_key == event.get("session_key"):
            await self.close(code=CLOSE_UNAUTHENTICATED)

    @database_sync_to_async
    def _groups_for(self, user: Any) -> list[str]:
        ids = visible_channel_ids(user)
        if ids is None:
            ids = set(ChannelAccount.objects.values_list("pk", flat=True))
        return [user_group(user.pk), *(channel_group(pk) for pk in sorted(ids))]
