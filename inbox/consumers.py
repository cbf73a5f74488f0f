"""The live-update websocket: one per open browser tab.

Anonymous connections are closed at once with code 4401 and get nothing; accepting first lets the
page read that code (a refused handshake looks like a network error, and the tab would retry
forever). A connection joins the group of each channel its user may see (decided by inbox.access,
like every page) and its user's own group; events are forwarded as JSON with rendered HTML.
Logging out closes the sockets of that session. A "groups.changed" message on the user's group
(inbox.presence.refresh_live_groups) makes the connection recompute its channel groups, so a
membership change takes effect without a reload.

Each connection reads one language: the user's choice, else the language cookie, else the
handshake's Accept-Language (as pages decide). It registers it (inbox.live.register_language) on
connect and with every heartbeat, so changes are rendered in it; its own error messages speak it.

The browser tells the socket what it is doing (inbox.presence does the work):
    {"type": "view", "conversation_id": N}        this tab has conversation N open
    {"type": "leave"}                             no conversation open any more
    {"type": "composing", "on": true|false}       writing a reply in the viewed conversation
    {"type": "take_over", "conversation_id": N}   take the reply from the colleague holding it
    {"type": "ping"}                              heartbeat; answered with {"type": "pong"}
Anything malformed, unknown or not allowed is answered with {"type": "error", "message": ...} and
changes nothing; an unknown and a forbidden conversation get the same answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext

from channels_integrations.models import ChannelAccount
from inbox import presence
from inbox.access import AccessDenied, ReadOnly, visible_channel_ids
from inbox.language import SUPPORTED
from inbox.live import channel_group, register_language, user_group
from inbox.notifications import preferences_for

logger = logging.getLogger(__name__)

# Custom close code (4000-4999 are for applications): not logged in.
CLOSE_UNAUTHENTICATED = 4401

# Bigger than any message the page sends; a larger frame is not worth parsing.
MAX_MESSAGE_LENGTH = 1000


def _conversation_id(content: dict[str, Any]) -> int | None:
    value = content.get("conversation_id")
    # bool is an int in Python, and a huge number would fail in the database instead of here.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def handshake_language(scope: dict[str, Any], chosen: str) -> str:
    """The language of a socket: the user's choice, else what LocaleMiddleware would take from
    the handshake (the language cookie, then Accept-Language), else the site's."""
    if chosen in SUPPORTED:
        return chosen
    request = HttpRequest()
    request.path = request.path_info = scope.get("path", "/")
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
    cookies = scope.get("cookies") or {}
    if settings.LANGUAGE_COOKIE_NAME in cookies:
        request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = cookies[settings.LANGUAGE_COOKIE_NAME]
    return translation.get_language_from_request(request)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str]
    joined: list[str]
    viewing: int | None
    language: str

    async def connect(self) -> None:
        self.joined = []
        self.viewing = None
        self.language = settings.LANGUAGE_CODE
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.language = await database_sync_to_async(self._register_language)(user)
        self.joined = await self._groups_for(user.pk)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "hello", "channels": len(self.joined) - 1, "user_id": user.pk}
        )

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", None):
            try:
                await database_sync_to_async(presence.leave)(connection=self.channel_name)
            except Exception:
                # Stale rows stop counting by themselves; the goodbye is only faster.
                logger.exception("could not remove the presence of %s", self.channel_name)
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    # Messages from the browser -----------------------------------------------------------

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # The base class would raise on binary frames and bad JSON, closing the socket.
        if not self.joined:
            return  # anonymous: being closed, gets nothing
        with translation.override(self.language):  # the answers speak the socket's language
            if text_data is None or len(text_data) > MAX_MESSAGE_LENGTH:
                await self._error(gettext("Unsupported message."))
                return
            try:
                content = json.loads(text_data)
            except ValueError:
                await self._error(gettext("Unsupported message."))
                return
            await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        try:
            if kind == "ping":
                await self._ping()
            elif kind == "view":
                await self._view(content)
            elif kind == "leave":
                await self._leave()
            elif kind == "composing":
                await self._composing(content)
            elif kind == "take_over":
                await self._take_over(content)
            else:
                await self._error(gettext("Unsupported message."))
        except Exception:
            # One failed message (a database hiccup) must not close the tab's live updates.
            logger.exception("live socket message %r failed", kind)
            await self._error(gettext("That did not work. Please try again."))

    def _register_language(self, user: Any) -> str:
        language = handshake_language(self.scope, preferences_for(user).language)
        register_language(language)
        return language

    def _heartbeat(self) -> bool:
        register_language(self.language)  # still read here: keep rendering it
        return presence.heartbeat(connection=self.channel_name)

    async def _ping(self) -> None:
        alive = await database_sync_to_async(self._heartbeat)()
        if not alive and self.viewing is not None:
            # The row was cleaned as stale (a sleeping laptop): come back as a viewer.
            await self._view({"conversation_id": self.viewing})
            if self.viewing is None:
                return  # not allowed any more: _view answered with an error
        await self.send_json({"type": "pong"})

    async def _view(self, content: dict[str, Any]) -> None:
        conversation_id = _conversation_id(content)
        if conversation_id is None:
            await self._error(gettext("No such conversation."))
            return
        try:
            await database_sync_to_async(self._view_sync)(conversation_id)
        except AccessDenied:
            if self.viewing == conversation_id:
                self.viewing = None
            await self._error(gettext("No such conversation."))
            return
        self.viewing = conversation_id

    def _view_sync(self, conversation_id: int) -> None:
        presence.view(
            connection=self.channel_name, user=self._current_user(), conversation_id=conversation_id
        )

    async def _leave(self) -> None:
        self.viewing = None
        await database_sync_to_async(presence.leave)(connection=self.channel_name)

    async def _composing(self, content: dict[str, Any]) -> None:
        on = content.get("on")
        if not isinstance(on, bool):
            await self._error(gettext("Unsupported message."))
            return
        try:
            done = await database_sync_to_async(presence.set_composing)(
                connection=self.channel_name, composing=on
            )
        except ReadOnly as exc:
            await self._error(str(exc))
            return
        if not done:
            await self._error(gettext("Open a conversation first."))

    async def _take_over(self, content: dict[str, Any]) -> None:
        conversation_id = _conversation_id(content)
        if conversation_id is None:
            await self._error(gettext("No such conversation."))
            return
        try:
            await database_sync_to_async(self._take_over_sync)(conversation_id)
        except ReadOnly as exc:
            await self._error(str(exc))
        except AccessDenied:
            await self._error(gettext("No such conversation."))

    def _take_over_sync(self, conversation_id: int) -> None:
        user = self._current_user()
        conversation = presence.visible_conversation(user=user, conversation_id=conversation_id)
        presence.take_over(user=user, conversation=conversation, connection=self.channel_name)

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    # Messages from the server ------------------------------------------------------------

    async def live_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])

    async def live_events(self, event: dict[str, Any]) -> None:
        """The events of one change (inbox.live.send_events), already encoded: one frame each."""
        for text in event["texts"]:
            await self.send(text_data=text)

    async def live_resync(self, event: dict[str, Any]) -> None:
        """This web process lost Redis for a while (inbox.live_layer): events published then
        never arrived, so the page reloads its list and thread as after a reconnect."""
        await self.send_json({"type": "resync"})

    async def session_ended(self, event: dict[str, Any]) -> None:
        session = self.scope.get("session")
        if session is not None and session.session_key == event.get("session_key"):
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def groups_changed(self, event: dict[str, Any]) -> None:
        """What the user may see changed: join and leave channel groups to match, drop the
        viewed conversation if it is no longer visible, and tell the page (it may resync)."""
        user_id = self.scope["user"].pk
        wanted = await self._groups_for(user_id)
        for group in wanted:
            if group not in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)
        for group in self.joined:
            if group not in wanted:
                await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = wanted
        if self.viewing is not None and await database_sync_to_async(self._forget_if_hidden)():
            self.viewing = None
        await self.send_json({"type": "groups.changed", "channels": len(wanted) - 1})

    def _forget_if_hidden(self) -> bool:
        try:
            user = self._current_user()
        except AccessDenied:
            presence.leave(connection=self.channel_name)
            return True
        return presence.forget_if_hidden(connection=self.channel_name, user=user)

    def _current_user(self) -> Any:
        # Read afresh: the session's user object was loaded at connect, and rights (active,
        # admin) may have changed since.
        user = get_user_model().objects.filter(pk=self.scope["user"].pk, is_active=True).first()
        if user is None:
            raise AccessDenied("not an active user any more")
        return user

    @database_sync_to_async
    def _groups_for(self, user_id: int) -> list[str]:
        # Read afresh: rights (active, admin) may have changed since the session began.
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            return [user_group(user_id)]
        ids = visible_channel_ids(user)
        if ids is None:
            ids = set(ChannelAccount.objects.values_list("pk", flat=True))
        return [user_group(user_id), *(channel_group(pk) for pk in sorted(ids))]
