"""A fake Telegram Bot API for tests and the demo.

It speaks the real API over real HTTP: `/bot<token>/<method>` with case-insensitive method names,
parameters from the query string, a form or a JSON body, the `{"ok": …}` envelope with
`error_code`, `description` and `parameters`, a getUpdates long poll that blocks until an update
arrives, offset confirmation, the 409 of a second poller or of a set webhook, flood control with
`parameters.retry_after`, and the moderation rules bots live with (48 hours to delete, only the
bot's own messages in groups unless it is an admin). One bot, seen through the tokens given to
__init__; its id is the number before the colon of the first token, as on Telegram.

State lives in memory behind `_lock`. getUpdates waits on a Condition built on that lock, so a
waiting long poll holds nothing while it waits. Endpoints under /__admin/ are not part of
Telegram: they seed messages, inject faults and show what the connector did (platform-apis.md
sections 0.4, 5 and 9).
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import PlatformFake, RateBudget, json_response

Json = dict[str, Any]
Clock = Callable[[], datetime]

# Not a secret: the fake accepts it, Telegram never would.
DEMO_TOKEN = "7000000001:AAHdemo-token_for-the-fake-bot-0123456"  # noqa: S105
BOT_USERNAME = "shop_bot"
BOT_FIRST_NAME = "ShopBot"
# The documented sample (platform-apis.md 5.4) starts here, and so does the fake.
FIRST_UPDATE_ID = 570000001
JANE_ID = 123456789
# User ids above 32 bits, as Telegram hands them out today.
FIRST_USER_ID = 5012345601
FIRST_SUPERGROUP_ID = -1001234567890
FIRST_GROUP_ID = -4123456789
DEFAULT_GROUP_TITLE = "Shop Community"
DEFAULT_GROUP_USERNAME = "shop_community"

UPDATE_RETENTION = timedelta(hours=24)
DELETE_WINDOW = timedelta(hours=48)
MAX_TEXT_LENGTH = 4096
MAX_LIMIT = 100
# api.telegram.org ends a long poll after about 50 s whatever the timeout (observed, undocumented).
MAX_LONG_POLL_SECONDS = 50
# Telegram's published guidance: about 20 messages a minute into one group.
MESSAGES_PER_CHAT_PER_MINUTE = 20
# Left out of the default (empty) allowed_updates, as on Telegram.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# The emoji a bot may react with (ReactionTypeEmoji); anything else is REACTION_INVALID.
_REACTION_EMOJI_TEXT = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 "
    "🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 "
    "😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 "
    "🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡 "
)
REACTION_EMOJIS = frozenset(_REACTION_EMOJI_TEXT.split())
MEDIA_KINDS = ("photo", "sticker", "document", "voice", "video")
PATH_RE = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)/?$")

CONFLICT_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def error_body(code: int, description: str, parameters: Json | None = None) -> Json:
    body: Json = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


# What fail_next() sends when a test names only the status code.
DEFAULT_ERROR_BODIES: dict[int, object] = {
    400: error_body(400, "Bad Request: chat not found"),
    401: error_body(401, "Unauthorized"),
    403: error_body(403, "Forbidden: bot was blocked by the user"),
    404: error_body(404, "Not Found"),
    409: error_body(409, CONFLICT_POLLER),
    429: error_body(429, "Too Many Requests: retry after 5", {"retry_after": 5}),
    500: error_body(500, "Internal Server Error"),
    502: NGINX_502,
}


class ApiError(Exception):
    """One Bot API error answer, raised by the method views (lock held)."""

    def __init__(self, code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.body = error_body(code, description, parameters)
        self.code = code


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _int(value: object) -> int | None:
    """Telegram's integer parameters: JSON numbers, or digits in a query string or form."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _json_value(value: object) -> object:
    """Objects and arrays arrive JSON-serialized in a query string or form."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in {"true", "1"})


def _without_reply(message: Json) -> Json:
    """A replied-to message as Telegram nests it: one level deep only."""
    return {
        key: copy.deepcopy(value) for key, value in message.items() if key != "reply_to_message"
    }


def _media_payload(kind: str, serial: int, file_name: str | None) -> object:
    ids = {"file_id": f"AgACAgIAAxkBAAI{serial:08d}", "file_unique_id": f"AQAD{serial:08d}"}
    if kind == "photo":
        return [
            {**ids, "file_size": 1372, "width": 90, "height": 68},
            {
                **ids,
                "file_id": ids["file_id"] + "x",
                "file_unique_id": ids["file_unique_id"] + "x",
                "file_size": 73012,
                "width": 1280,
                "height": 960,
            },
        ]
    if kind == "sticker":
        return {
            **ids,
            "type": "regular",
            "width": 512,
            "height": 512,
            "emoji": "👍",
            "is_animated": False,
            "is_video": False,
        }
    if kind == "document":
        return {
            **ids,
            "file_name": file_name or "rechnung.pdf",
            "mime_type": "application/pdf",
            "file_size": 48213,
        }
    if kind == "voice":
        return {**ids, "duration": 4, "mime_type": "audio/ogg", "file_size": 9120}
    if kind == "video":
        return {
            **ids,
            "duration": 7,
            "width": 720,
            "height": 1280,
            "file_name": file_name or "clip.mp4",
            "mime_type": "video/mp4",
            "file_size": 812345,
        }
    raise ValueError(f"media must be one of {', '.join(MEDIA_KINDS)}")


class FakeTelegram(PlatformFake):
    """In-memory Telegram with one bot, its private chats and groups.

    Public methods take `_lock` themselves; API views run with it already held (see
    PlatformFake), so they only use private helpers.
    """

    def __init__(
        self,
        tokens: Iterable[str] = (DEMO_TOKEN,),
        *,
        clock: Clock = _utcnow,
        messages_per_chat_per_minute: int = MESSAGES_PER_CHAT_PER_MINUTE,
        privacy_mode: bool = True,
    ) -> None:
        # Imported here: the admin module builds on this one's public API.
        from channels_integrations.telegram.fake_admin import admin_routes

        super().__init__(admin_routes=admin_routes(self))
        token_list = list(tokens)
        if not token_list or not all(":" in token for token in token_list):
            raise ValueError("tokens look like <bot id>:<secret>")
        self._clock = clock
        self._tokens = set(token_list)
        self._bot: Json = {
            "id": int(token_list[0].split(":", 1)[0]),
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }
        self._privacy_mode = privacy_mode
        self._flood_limit = messages_per_chat_per_minute
        self._flood = RateBudget(60, clock)
        self._changed = threading.Condition(self._lock)
        self._users: dict[str, Json] = {}
        self._chats: dict[int, Json] = {}
        # Per chat: next message id, blocked, bot_can_delete, migrated_to, topics.
        self._chat_state: dict[int, Json] = {}
        self._messages: dict[tuple[int, int], Json] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._reactions: dict[tuple[int, int], list[str]] = {}
        self._updates: list[tuple[datetime, Json]] = []  # (created, update), oldest first
        self._next_update_id = FIRST_UPDATE_ID
        self._next_user_id = FIRST_USER_ID
        self._next_supergroup_id = FIRST_SUPERGROUP_ID
        self._next_group_id = FIRST_GROUP_ID
        self._media_serial = 1
        self._allowed_updates: list[str] = []
        self._webhook_url = ""
        self._polling = False
        self._sent: list[Json] = []
        self._actions: list[Json] = []
        self._methods: dict[str, Callable[[Json], object]] = {
            "getme": self._get_me,
            "getwebhookinfo": self._get_webhook_info,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "sendmessage": self._send_message,
            "deletemessage": self._delete_message,
            "setmessagereaction": self._set_message_reaction,
        }

    # Python API: used by tests in-process, by the demo and by /__admin/.

    @property
    def bot(self) -> Json:
        return dict(self._bot)

    def add_private_message(
        self,
        text: str | None = None,
        *,
        username: str = "janedoe",
        first_name: str = "Jane",
        last_name: str | None = "Doe",
        language_code: str | None = "en",
        reply_to: int | None = None,
        media: str | None = None,
        caption: str | None = None,
        file_name: str | None = None,
    ) -> Json:
        """A person writes to the bot in their private chat; returns the update."""
        with self._lock:
            user = self._user(username, first_name, last_name, language_code)
            chat = self._private_chat(user)
            message = self._new_message(
                chat,
                user,
                text,
                reply_to=reply_to,
                media=media,
                caption=caption,
                file_name=file_name,
            )
            return self._queue("message", message)

    def add_group(
        self,
        title: str = DEFAULT_GROUP_TITLE,
        *,
        username: str | None = DEFAULT_GROUP_USERNAME,
        supergroup: bool = True,
        forum: bool = False,
        bot_can_delete: bool = False,
    ) -> int:
        """A group the bot was added to; returns its chat id. `bot_can_delete` makes the bot an
        admin allowed to delete other people's messages."""
        with self._lock:
            if supergroup:
                chat_id, self._next_supergroup_id = (
                    self._next_supergroup_id,
                    self._next_supergroup_id - 1,
                )
            else:
                chat_id, self._next_group_id = self._next_group_id, self._next_group_id - 1
            chat: Json = {"id": chat_id, "title": title}
            if username and supergroup:
                chat["username"] = username
            chat["type"] = "supergroup" if supergroup else "group"
            if forum:
                chat["is_forum"] = True
            self._chats[chat_id] = chat
            self._chat_state[chat_id] = {
                "next_id": 1,
                "bot_can_delete": bot_can_delete,
                "topics": {},
            }
            return chat_id

    def add_topic(self, chat_id: int, name: str, *, username: str = "community_admin") -> int:
        """A forum topic in a forum supergroup; returns its message_thread_id."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None or not chat.get("is_forum"):
                raise ValueError("topics exist only in forum supergroups")
            admin = self._user(username, "Community", "Admin", "de")
            state = self._chat_state[chat_id]
            message_id = self._next_message_id(chat_id)
            message: Json = {
                "message_id": message_id,
                "from": copy.deepcopy(admin),
                "chat": copy.deepcopy(chat),
                "date": self._now_ts(),
                "message_thread_id": message_id,
                "forum_topic_created": {"name": name, "icon_color": 7322096},
                "is_topic_message": True,
            }
            self._messages[(chat_id, message_id)] = message
            state["topics"][message_id] = name
            self._queue("message", message)
            return message_id

    def add_group_message(
        self,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        topic_id: int | None = None,
        username: str = "janedoe",
        first_name: str = "Jane",
        last_name: str | None = "Doe",
        language_code: str | None = "en",
        reply_to: int | None = None,
        media: str | None = None,
        caption: str | None = None,
    ) -> Json:
        """Someone writes in a group (the default public supergroup unless `chat_id`), in a
        forum topic if `topic_id`; returns the update."""
        if chat_id is None:
            chat_id = self._default_group()
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None or chat["type"] == "private":
                raise ValueError(f"no group with id {chat_id}")
            if topic_id is not None and topic_id not in self._chat_state[chat_id]["topics"]:
                raise ValueError(f"no topic {topic_id} in chat {chat_id}")
            user = self._user(username, first_name, last_name, language_code)
            message = self._new_message(
                chat, user, text, reply_to=reply_to, media=media, caption=caption, topic_id=topic_id
            )
            return self._queue("message", message)

    def add_bot_message(self, chat_id: int, text: str) -> Json:
        """Something the bot said earlier (bots get no updates for their own messages)."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                raise ValueError(f"no chat with id {chat_id}")
            message = self._new_message(chat, self._bot, text)
            return copy.deepcopy(message)

    def edit_message(self, chat_id: int, message_id: int, text: str) -> Json:
        """The author edits their message: an edited_message update with edit_date."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None or (chat_id, message_id) in self._deleted:
                raise ValueError(f"no message {chat_id}:{message_id}")
            if message.get("from", {}).get("id") == self._bot["id"]:
                raise ValueError("the bot's own messages are edited through the API")
            message["caption" if "caption" in message else "text"] = text
            message["edit_date"] = max(self._now_ts(), message["date"])
            return self._queue("edited_message", message)

    def delete_as_author(self, chat_id: int, message_id: int) -> None:
        """The author deletes their message. Telegram tells bots nothing about it."""
        with self._lock:
            if (chat_id, message_id) not in self._messages:
                raise ValueError(f"no message {chat_id}:{message_id}")
            self._deleted.add((chat_id, message_id))

    def add_raw_update(self, payload: Json) -> Json:
        """Queue any dict as an update (unknown types, malformed items), past allowed_updates."""
        update = copy.deepcopy(payload)
        with self._lock:
            update_id = _int(update.get("update_id"))
            if update_id is None:
                update_id = self._next_update_id
                update = {"update_id": update_id, **update}
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.append((self._clock(), update))
            self._updates.sort(key=lambda item: _int(item[1].get("update_id")) or 0)
            self._changed.notify_all()
            return copy.deepcopy(update)

    def block_bot(self, user_id: int) -> None:
        """The person blocks the bot: sending to their chat gets 403."""
        with self._lock:
            if user_id not in self._chat_state:
                raise ValueError(f"no private chat with {user_id}")
            self._chat_state[user_id]["blocked"] = True

    def upgrade_group(self, chat_id: int) -> int:
        """A basic group becomes a supergroup with a new id; the old id answers 400 with
        migrate_to_chat_id from now on. Returns the new id."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None or chat["type"] != "group":
                raise ValueError("only basic groups are upgraded")
            new_id, self._next_supergroup_id = (
                self._next_supergroup_id,
                self._next_supergroup_id - 1,
            )
            self._chat_state[chat_id]["migrated_to"] = new_id
            self._chats[new_id] = {"id": new_id, "title": chat["title"], "type": "supergroup"}
            old_state = self._chat_state[chat_id]
            self._chat_state[new_id] = {
                "next_id": 1,
                "bot_can_delete": old_state["bot_can_delete"],
                "topics": {},
            }
            # Telegram announces the move in both chats, as service messages.
            admin = self._user("community_admin", "Community", "Admin", "de")
            notice = self._new_service_message(chat, admin, {"migrate_to_chat_id": new_id})
            self._queue("message", notice)
            new_notice = self._new_service_message(
                self._chats[new_id], admin, {"migrate_from_chat_id": chat_id}
            )
            self._queue("message", new_notice)
            return new_id

    def set_bot_can_delete(self, chat_id: int, allowed: bool) -> None:
        with self._lock:
            self._chat_state[chat_id]["bot_can_delete"] = allowed

    def set_webhook(self, url: str) -> None:
        with self._lock:
            self._webhook_url = url

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    @property
    def polling(self) -> bool:
        """True while a getUpdates long poll is waiting for updates."""
        with self._lock:
            return self._polling

    def pending_updates(self) -> list[Json]:
        """Updates not yet confirmed by a getUpdates offset, oldest first."""
        with self._lock:
            return [copy.deepcopy(update) for _, update in self._updates]

    def message(self, chat_id: int, message_id: int) -> Json:
        """A message as it is now, with "deleted": True once it is gone and the bot's reaction;
        ValueError if it never existed."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {chat_id}:{message_id}")
            state = copy.deepcopy(message)
            state["deleted"] = (chat_id, message_id) in self._deleted
            state["bot_reactions"] = list(self._reactions.get((chat_id, message_id), []))
            return state

    def messages(self) -> list[Json]:
        """Every message in every chat, as message() shows it, in the order they were written."""
        with self._lock:
            keys = list(self._messages)
        return [self.message(chat_id, message_id) for chat_id, message_id in keys]

    @property
    def webhook_url(self) -> str:
        with self._lock:
            return self._webhook_url

    def sent_messages(self) -> list[Json]:
        """Messages the bot sent through sendMessage, oldest first."""
        with self._lock:
            return copy.deepcopy(self._sent)

    def actions(self) -> list[Json]:
        """Every successful sendMessage, deleteMessage and setMessageReaction, oldest first."""
        with self._lock:
            return copy.deepcopy(self._actions)

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        """Telegram's own error bodies; for other codes the envelope with the HTTP phrase."""
        if status in DEFAULT_ERROR_BODIES:
            return DEFAULT_ERROR_BODIES[status], {}
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return error_body(status, phrase), {}

    def fail_next_flood_wait(self, retry_after: int = 5, *, times: int = 1) -> None:
        """Flood control on the next calls, as Telegram answers it."""
        body = error_body(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
        self.fail_next(429, body=body, times=times)

    def reset(self) -> None:
        """Forget faults, recorded calls, the delay and spent flood budgets."""
        super().reset()
        self._flood.clear()

    # The real API.

    def answer(self, request: Request) -> Response:
        """Any method, lock held; getUpdates answers at once (a short poll)."""
        return self._answer(request, may_wait=False)

    def answer_unlocked(self, request: Request) -> Response:
        with self._lock:
            return self._answer(request, may_wait=True)

    def _answer(self, request: Request, *, may_wait: bool) -> Response:
        match = PATH_RE.match(request.path)
        if match is None:
            return json_response(error_body(404, "Not Found"), 404)
        if match["token"] not in self._tokens:
            return json_response(error_body(401, "Unauthorized"), 401)
        method = match["method"].lower()
        params = self._params(request)
        if params is None:
            return json_response(error_body(400, "Bad Request: can't parse JSON object"), 400)
        try:
            if method == "getupdates":
                result = self._get_updates(params, may_wait=may_wait)
            elif method in self._methods:
                result = self._methods[method](params)
            else:
                return json_response(error_body(404, "Not Found"), 404)
        except ApiError as error:
            return json_response(error.body, error.code)
        if isinstance(result, Response):
            return result
        return json_response({"ok": True, "result": result})

    @staticmethod
    def _params(request: Request) -> Json | None:
        params: Json = dict(request.args.items())
        if request.is_json:
            body = request.get_json(silent=True)
            if body is None and request.get_data():
                return None
            if isinstance(body, dict):
                params.update(body)
        else:
            params.update(request.form.items())
        return params

    def _get_updates(self, params: Json, *, may_wait: bool) -> object:
        if self._webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        if self._polling:
            raise ApiError(409, CONFLICT_POLLER)
        offset = _int(params.get("offset"))
        limit = _int(params.get("limit"))
        limit = MAX_LIMIT if limit is None or limit <= 0 else min(limit, MAX_LIMIT)
        timeout = min(max(0, _int(params.get("timeout")) or 0), MAX_LONG_POLL_SECONDS)
        allowed = _json_value(params.get("allowed_updates"))
        if isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed):
            self._allowed_updates = list(allowed)
        self._confirm(offset)
        ready = self._deliverable(limit)
        if ready or not may_wait or timeout == 0:
            return ready
        self._polling = True
        try:
            deadline = time.monotonic() + timeout
            while not ready:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # Releases _lock while waiting: seeding, other methods and admin pages go on.
                self._changed.wait(remaining)
                ready = self._deliverable(limit)
        finally:
            self._polling = False
        return ready

    def _confirm(self, offset: int | None) -> None:
        cutoff = self._clock() - UPDATE_RETENTION
        self._updates = [(at, update) for at, update in self._updates if at > cutoff]
        if offset is None or offset == 0:
            return
        if offset < 0:
            # The last -offset updates; everything before them is forgotten.
            self._updates = self._updates[offset:]
            return
        self._updates = [
            (at, update)
            for at, update in self._updates
            if (_int(update.get("update_id")) or 0) >= offset
        ]

    def _deliverable(self, limit: int) -> list[Json]:
        return [copy.deepcopy(update) for _, update in self._updates[:limit]]

    def _get_me(self, params: Json) -> object:
        return {
            **self._bot,
            "can_join_groups": True,
            "can_read_all_group_messages": not self._privacy_mode,
            "supports_inline_queries": False,
        }

    def _get_webhook_info(self, params: Json) -> object:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _set_webhook(self, params: Json) -> object:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self._webhook_url = url
        return json_response(
            {
                "ok": True,
                "result": True,
                "description": "Webhook was set" if url else "Webhook was deleted",
            }
        )

    def _delete_webhook(self, params: Json) -> object:
        was_set, self._webhook_url = bool(self._webhook_url), ""
        if _truthy(params.get("drop_pending_updates")):
            self._updates = []
        description = "Webhook was deleted" if was_set else "Webhook is already deleted"
        return json_response({"ok": True, "result": True, "description": description})

    def _send_message(self, params: Json) -> object:
        chat = self._chat_for(params.get("chat_id"))
        chat_id = chat["id"]
        state = self._chat_state[chat_id]
        text = params.get("text")
        text = text if isinstance(text, str) else ("" if text is None else str(text))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        if state.get("blocked"):
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        used, reset = self._flood.spend(f"chat:{chat_id}")
        if used > self._flood_limit:
            wait = max(1, math.ceil((reset - self._clock()).total_seconds()))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

        reply = _json_value(params.get("reply_parameters"))
        if isinstance(reply, dict):
            reply_to = _int(reply.get("message_id"))
            without_reply = _truthy(reply.get("allow_sending_without_reply"))
        else:
            # Older clients send these two instead of reply_parameters.
            reply_to = _int(params.get("reply_to_message_id"))
            without_reply = _truthy(params.get("allow_sending_without_reply"))
        parent = None
        if reply_to is not None:
            parent = self._live_message(chat_id, reply_to)
            if parent is None and not without_reply:
                raise ApiError(400, "Bad Request: message to be replied not found")
        topic = _int(params.get("message_thread_id"))
        if topic is not None and topic not in state["topics"]:
            raise ApiError(400, "Bad Request: message thread not found")
        if topic is None and parent is not None and parent.get("is_topic_message"):
            topic = parent.get("message_thread_id")  # a reply stays in its topic
        message = self._new_message(
            chat, self._bot, text, reply_to=reply_to if parent else None, topic_id=topic
        )
        self._sent.append(copy.deepcopy(message))
        self._record("sendMessage", chat_id, message["message_id"], text)
        return copy.deepcopy(message)

    def _delete_message(self, params: Json) -> object:
        chat = self._chat_for(params.get("chat_id"))
        message_id = _int(params.get("message_id"))
        message = self._live_message(chat["id"], message_id)
        if message is None or message_id is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        sent = datetime.fromtimestamp(message["date"], UTC)
        own = message.get("from", {}).get("id") == self._bot["id"]
        too_old = self._clock() - sent >= DELETE_WINDOW
        not_allowed = (
            chat["type"] != "private"
            and not own
            and not self._chat_state[chat["id"]]["bot_can_delete"]
        )
        if too_old or not_allowed:
            raise ApiError(400, "Bad Request: message can't be deleted")
        self._deleted.add((chat["id"], message_id))
        self._record("deleteMessage", chat["id"], message_id, "")
        return True

    def _set_message_reaction(self, params: Json) -> object:
        chat = self._chat_for(params.get("chat_id"))
        message_id = _int(params.get("message_id"))
        message = self._live_message(chat["id"], message_id)
        if message is None or message_id is None:
            raise ApiError(400, "Bad Request: message to react not found")
        reaction = _json_value(params.get("reaction"))
        reaction = [] if reaction is None else reaction
        if not isinstance(reaction, list):
            raise ApiError(400, "Bad Request: can't parse reaction types JSON object")
        emoji: list[str] = []
        for item in reaction:
            if not isinstance(item, dict) or item.get("type") != "emoji":
                raise ApiError(400, "Bad Request: REACTION_INVALID")
            if item.get("emoji") not in REACTION_EMOJIS:
                raise ApiError(400, "Bad Request: REACTION_INVALID")
            emoji.append(str(item["emoji"]))
        if len(emoji) > 1:
            # Bots, like non-premium users, set one reaction per message.
            raise ApiError(400, "Bad Request: REACTIONS_TOO_MANY")
        self._reactions[(chat["id"], message_id)] = emoji
        self._record("setMessageReaction", chat["id"], message_id, "".join(emoji) or "(removed)")
        return True

    # State helpers (lock held by the caller).

    def _now_ts(self) -> int:
        return int(self._clock().timestamp())

    def _record(self, method: str, chat_id: int, message_id: int, detail: str) -> None:
        self._actions.append(
            {
                "at": self._clock().isoformat(),
                "method": method,
                "chat_id": chat_id,
                "message_id": message_id,
                "detail": detail,
            }
        )

    def _chat_for(self, value: object) -> Json:
        chat_id = _int(value)
        if chat_id is None and isinstance(value, str) and value.startswith("@"):
            chat_id = next(
                (cid for cid, chat in self._chats.items() if chat.get("username") == value[1:]),
                None,
            )
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None or chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        migrated_to = self._chat_state[chat_id].get("migrated_to")
        if migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": migrated_to},
            )
        return chat

    def _live_message(self, chat_id: int, message_id: int | None) -> Json | None:
        if message_id is None or (chat_id, message_id) in self._deleted:
            return None
        return self._messages.get((chat_id, message_id))

    def _user(
        self, username: str, first_name: str, last_name: str | None, language_code: str | None
    ) -> Json:
        known = self._users.get(username)
        if known is not None:
            return known
        if username == "janedoe":
            user_id = JANE_ID
        else:
            user_id, self._next_user_id = self._next_user_id, self._next_user_id + 1
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[username] = user
        return user

    def _private_chat(self, user: Json) -> Json:
        chat = self._chats.get(user["id"])
        if chat is None:
            chat = {"id": user["id"], "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
            chat["type"] = "private"
            self._chats[user["id"]] = chat
            self._chat_state[user["id"]] = {"next_id": 1, "bot_can_delete": True, "topics": {}}
        return chat

    def _default_group(self) -> int:
        with self._lock:
            for chat_id, chat in self._chats.items():
                if chat.get("username") == DEFAULT_GROUP_USERNAME:
                    return chat_id
        return self.add_group()

    def _next_message_id(self, chat_id: int) -> int:
        state = self._chat_state[chat_id]
        message_id: int = state["next_id"]
        state["next_id"] = message_id + 1
        return message_id

    def _new_message(
        self,
        chat: Json,
        sender: Json,
        text: str | None,
        *,
        reply_to: int | None = None,
        media: str | None = None,
        caption: str | None = None,
        file_name: str | None = None,
        topic_id: int | None = None,
    ) -> Json:
        if text is None and media is None:
            raise ValueError("a message needs text or media")
        if media is not None and media not in MEDIA_KINDS:
            raise ValueError(f"media must be one of {', '.join(MEDIA_KINDS)}")
        chat_id = chat["id"]
        parent = None
        if reply_to is not None:
            parent = self._messages.get((chat_id, reply_to))
            if parent is None:
                raise ValueError(f"no message {reply_to} in chat {chat_id}")
        message_id = self._next_message_id(chat_id)
        message: Json = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": copy.deepcopy(chat),
            "date": self._now_ts(),
        }
        if topic_id is not None:
            message["message_thread_id"] = topic_id
            message["is_topic_message"] = True
            # Inside a topic, a message that answers nothing quotes the topic's creation notice.
            parent = parent or self._messages.get((chat_id, topic_id))
        if media is not None:
            message[media] = _media_payload(media, self._media_serial, file_name)
            self._media_serial += 1
            if caption or text:
                message["caption"] = caption or text
        else:
            message["text"] = text
        if parent is not None:
            message["reply_to_message"] = _without_reply(parent)
        self._messages[(chat_id, message_id)] = message
        return message

    def _new_service_message(self, chat: Json, sender: Json, service: Json) -> Json:
        message_id = self._next_message_id(chat["id"])
        message = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": copy.deepcopy(chat),
            "date": self._now_ts(),
            **service,
        }
        self._messages[(chat["id"], message_id)] = message
        return message

    def _queue(self, kind: str, message: Json) -> Json:
        """Queue an update of `kind` unless the bot's allowed_updates leave it out; Telegram does
        not even create those."""
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(message)}
        allowed = set(self._allowed_updates)
        if (kind in allowed) if allowed else (kind not in OPT_IN_UPDATES):
            self._next_update_id += 1
            self._updates.append((self._clock(), update))
            self._changed.notify_all()
        return copy.deepcopy(update)
