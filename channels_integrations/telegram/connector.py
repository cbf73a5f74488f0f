"""Telegram: a bot's private chats and groups in, replies, deletes and 👍 reactions out.

Poll: `getUpdates` long poll (JSON body: offset, limit, timeout = the channel's long_poll_seconds,
allowed_updates ["message", "edited_message"]). Cursor: {"offset": <last update_id + 1>}; calling
getUpdates with that offset confirms everything before it, so Telegram forgets it. Only one
getUpdates may run per bot token (Telegram answers a second one with 409 Conflict, mapped to
Transient); the poll engine never polls one channel twice at once, so a 409 means another program
uses the same token.

Threads: a private chat is one conversation ("chat:<chat id>"); a group or supergroup is one
conversation ("chat:<chat id>"), and each forum topic of a forum supergroup is its own
("chat:<chat id>:topic:<message_thread_id>"). A reply to a known message joins that message's
conversation anyway. Ids are strings: chat and user ids exceed 32 bits.

Telegram keeps undelivered updates for 24 hours and bots cannot read chat history, so there is no
backfill beyond what is still waiting; the bot cannot see what it sent itself (find_sent_reply
raises CannotReconcile).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from channels_integrations.base import (
    Capability,
    ConnectionCheck,
    Connector,
    FetchedPage,
    InboundAuthor,
    InboundItem,
    ItemUpdate,
    ReplyTarget,
    SentItem,
    SetupField,
    SkippedPayload,
)
from channels_integrations.errors import ConnectorError, InvalidRequest, MalformedPayload
from channels_integrations.telegram.client import TelegramClient, bot_id_from_token
from channels_integrations.text import safe_http_url
from inbox.models import ConversationKind

PAGE_LIMIT = 100
DEFAULT_BASE_URL = "https://api.telegram.org"
DEFAULT_LONG_POLL_SECONDS = 10
# api.telegram.org ends a long poll after about 50 s whatever the timeout (observed in
# tdlib/telegram-bot-api#562, not documented): longer waits buy nothing.
MAX_LONG_POLL_SECONDS = 50
ALLOWED_UPDATES = ["message", "edited_message"]
MAX_MESSAGE_LENGTH = 4096
DELETE_WINDOW = timedelta(hours=48)
LIKE_EMOJI = "👍"
GROUP_TYPES = {"group", "supergroup"}

# Messages without text: the media they carry, in the order Telegram documents them. The key
# names the attachment; stickers and dice carry an emoji worth showing.
MEDIA_KEYS = (
    "animation",
    "audio",
    "document",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
)


class TelegramConnector(Connector):
    platform = "telegram"
    # Bots cannot hide messages (only ban or restrict members) and cannot look up what they sent.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.REPLY, Capability.DELETE, Capability.LIKE}
    )
    max_reply_length = MAX_MESSAGE_LENGTH
    setup_fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "base_url",
            gettext_lazy("Bot API base URL"),
            initial=DEFAULT_BASE_URL,
            input_type="url",
            help_text=gettext_lazy(
                "Telegram's Bot API server; change it only for a self-hosted Bot API server."
            ),
        ),
        SetupField(
            "bot_username",
            gettext_lazy("Bot username"),
            help_text=gettext_lazy("The bot's @username without the @, e.g. shop_bot."),
        ),
        SetupField(
            "long_poll_seconds",
            gettext_lazy("Long-poll wait (seconds)"),
            required=False,
            initial=str(DEFAULT_LONG_POLL_SECONDS),
            input_type="int",
            help_text=gettext_lazy(
                "How long one poll waits for new messages before it ends (0 to 50)."
            ),
        ),
        SetupField(
            "bot_token",
            gettext_lazy("Bot token"),
            secret=True,
            input_type="password",
            help_text=gettext_lazy(
                "The token from @BotFather (123456789:AA…). The bot must have no webhook."
            ),
        ),
    )
    backfill_note = gettext_noop(
        "Telegram keeps a bot's undelivered messages for 24 hours, and bots cannot read chat "
        "history: the first poll brings in what arrived in the last 24 hours, nothing older."
    )

    @property
    def client(self) -> TelegramClient:
        return TelegramClient(
            str(self.connection.settings.get("base_url") or DEFAULT_BASE_URL),
            self._token,
            self.session,
        )

    @property
    def _token(self) -> str:
        return str(self.connection.credentials.get("bot_token", "")).strip()

    @property
    def long_poll_seconds(self) -> int:
        raw = self.connection.settings.get("long_poll_seconds", DEFAULT_LONG_POLL_SECONDS)
        try:
            seconds = int(str(raw).strip())
        except ValueError:
            return DEFAULT_LONG_POLL_SECONDS
        return min(max(seconds, 0), MAX_LONG_POLL_SECONDS)

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        # Without an offset getUpdates starts at the oldest unconfirmed update, which is at most
        # 24 hours old: the most history a bot can get, whatever the date asked for.
        return {}

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        offset = cursor.get("offset")
        if not isinstance(offset, int) or isinstance(offset, bool):
            offset = None
        updates = self.client.get_updates(
            offset=offset,
            limit=PAGE_LIMIT,
            timeout=self.long_poll_seconds,
            allowed_updates=ALLOWED_UPDATES,
        )
        normalizer = UpdateNormalizer(
            bot_id=bot_id_from_token(self._token),
            bot_username=str(self.connection.settings.get("bot_username") or ""),
        )
        by_id: dict[str, InboundItem] = {}
        updates_out: list[ItemUpdate] = []
        skipped: list[SkippedPayload] = []
        highest: int | None = None
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                # Past every update we received, the unreadable ones included: leaving the offset
                # before one would fetch it again on every poll. Only this page counts: after a
                # week without updates Telegram may start the ids again lower.
                highest = update_id if highest is None else max(highest, update_id)
            try:
                item = normalizer.normalize_update(update)
            except MalformedPayload as exc:
                skipped.append(
                    SkippedPayload(
                        external_id=f"update:{update_id}" if update_id is not None else "",
                        reason=exc.message,
                        payload=update,
                    )
                )
                continue
            if item.edited_at is not None:
                # The item again, so an edit of a message we never saw is not lost, and an update,
                # so a message we already have gets the new text.
                updates_out.append(
                    ItemUpdate(
                        external_id=item.external_id, text=item.text, edited_at=item.edited_at
                    )
                )
            # A message and its edit in one page: the inbox gets its latest text.
            by_id[item.external_id] = item
        new_cursor = dict(cursor)
        if highest is not None:
            new_cursor = {"offset": highest + 1}
        return FetchedPage(
            items=list(by_id.values()),
            cursor=new_cursor,
            caught_up=len(updates) < PAGE_LIMIT,
            skipped=skipped,
            updates=updates_out,
        )

    def test_connection(self) -> list[ConnectionCheck]:
        client = self.client
        try:
            me = client.get_me()
        except ConnectorError as exc:
            return [ConnectionCheck(gettext("Bot token"), ok=False, detail=exc.message)]
        username = _text(me.get("username"))
        checks = [
            ConnectionCheck(
                gettext("Bot token"),
                ok=True,
                detail=gettext("The token belongs to @%(username)s (bot id %(id)s).")
                % {"username": username, "id": _id_text(me.get("id"))},
            )
        ]
        configured = str(self.connection.settings.get("bot_username") or "").lstrip("@")
        if configured and configured.lower() != username.lower():
            checks.append(
                ConnectionCheck(
                    gettext("Bot username"),
                    ok=False,
                    detail=gettext(
                        "The token belongs to @%(username)s, not to @%(configured)s as set up."
                    )
                    % {"username": username, "configured": configured},
                )
            )
        if me.get("can_read_all_group_messages") is True:
            groups = gettext("Privacy mode is off: the bot receives every message in its groups.")
        else:
            groups = gettext(
                "Privacy mode is on: in groups the bot receives only commands, replies to its "
                "messages and messages that mention it (change it with @BotFather /setprivacy)."
            )
        checks.append(ConnectionCheck(gettext("Group messages"), ok=True, detail=groups))
        try:
            webhook = client.get_webhook_info()
        except ConnectorError as exc:
            checks.append(
                ConnectionCheck(gettext("Receiving messages"), ok=False, detail=exc.message)
            )
            return checks
        webhook_url = _text(webhook.get("url"))
        pending = webhook.get("pending_update_count")
        waiting = ""
        if isinstance(pending, int):
            waiting = " " + gettext("%(count)d update(s) are waiting.") % {"count": pending}
        if webhook_url:
            host = safe_http_url(webhook_url).split("/")[2] if safe_http_url(webhook_url) else ""
            checks.append(
                ConnectionCheck(
                    gettext("Receiving messages"),
                    ok=False,
                    detail=(
                        gettext(
                            "A webhook is set (to %(host)s): Telegram sends updates only there "
                            "and refuses polling. Remove it with deleteWebhook."
                        )
                        % {"host": host}
                        if host
                        else gettext(
                            "A webhook is set: Telegram sends updates only there and refuses "
                            "polling. Remove it with deleteWebhook."
                        )
                    ),
                )
            )
        else:
            checks.append(
                ConnectionCheck(
                    gettext("Receiving messages"),
                    ok=True,
                    detail=gettext("No webhook is set, so the inbox can poll for messages.")
                    + waiting,
                )
            )
        return checks

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        if capability in {Capability.DELETE, Capability.LIKE} and target.state == "deleted":
            return gettext("The message is already deleted on Telegram.")
        too_old = target.sent_at is not None and datetime.now(UTC) - target.sent_at >= DELETE_WINDOW
        if capability == Capability.DELETE and too_old:
            return gettext("Telegram lets bots delete messages only within 48 hours of sending.")
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        # Telegram has no idempotency key: the outbox must not retry an ambiguous failure blindly.
        if len(text) > MAX_MESSAGE_LENGTH:
            raise InvalidRequest(
                f"Telegram refused the reply: a message can have at most {MAX_MESSAGE_LENGTH} "
                f"characters, this one has {len(text)}."
            )
        chat_id, message_id = split_external_id(target.external_id)
        sent = self.client.send_message(
            chat_id=chat_id,
            text=text,
            reply_to_message_id=message_id,
            message_thread_id=topic_of(target),
        )
        chat = sent.get("chat")
        chat = chat if isinstance(chat, dict) else {}
        sent_chat_id = chat["id"] if _is_int(chat.get("id")) else chat_id
        return SentItem(
            external_id=f"{sent_chat_id}:{sent['message_id']}",
            permalink=permalink(chat, sent["message_id"]),
        )

    def delete(self, *, target: ReplyTarget) -> None:
        chat_id, message_id = split_external_id(target.external_id)
        self.client.delete_message(chat_id=chat_id, message_id=message_id)

    def like(self, *, target: ReplyTarget) -> None:
        chat_id, message_id = split_external_id(target.external_id)
        self.client.set_reaction(chat_id=chat_id, message_id=message_id, emoji=LIKE_EMOJI)


class UpdateNormalizer:
    """Turns one update into an InboundItem, or raises MalformedPayload for anything else."""

    def __init__(self, *, bot_id: str, bot_username: str) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username.lstrip("@").lower()

    def normalize_update(self, update: Any) -> InboundItem:
        if not isinstance(update, dict):
            raise MalformedPayload("update is not an object")
        if not _is_int(update.get("update_id")):
            raise MalformedPayload("update without a numeric update_id")
        kinds = [key for key in update if key != "update_id"]
        if "message" in update:
            return self.normalize_message(update["message"], raw=update, edited=False)
        if "edited_message" in update:
            return self.normalize_message(update["edited_message"], raw=update, edited=True)
        kind = kinds[0] if kinds else "empty"
        raise MalformedPayload(f"unsupported update type {kind!r} (only messages are ingested)")

    def normalize_message(self, message: Any, *, raw: dict[str, Any], edited: bool) -> InboundItem:
        if not isinstance(message, dict):
            raise MalformedPayload("message is not an object")
        message_id = message.get("message_id")
        chat = message.get("chat")
        if not _is_int(message_id):
            raise MalformedPayload("message without a numeric message_id")
        if not isinstance(chat, dict) or not _is_int(chat.get("id")):
            raise MalformedPayload("message without a chat id")
        chat_id = chat["id"]
        chat_type = chat.get("type")
        if chat_type == "private":
            kind = ConversationKind.PRIVATE_MESSAGE
        elif chat_type in GROUP_TYPES:
            kind = ConversationKind.COMMENT
        else:
            raise MalformedPayload(f"message in an unsupported chat type {chat_type!r}")
        created_at = _timestamp(message.get("date"), "date")
        edited_at = None
        if edited or message.get("edit_date") is not None:
            edited_at = _timestamp(message.get("edit_date"), "edit_date")

        author, from_self = self._author(message)
        topic = message.get("message_thread_id") if message.get("is_topic_message") else None
        thread_key = f"chat:{chat_id}" + (f":topic:{topic}" if _is_int(topic) else "")
        parent = message.get("reply_to_message")
        parent_external_id = ""
        # In a forum topic every message "replies" to the topic's creation notice; that is the
        # topic, not a message anyone answers.
        answers_a_message = isinstance(parent, dict) and "forum_topic_created" not in parent
        if answers_a_message and isinstance(parent, dict) and _is_int(parent.get("message_id")):
            parent_external_id = f"{chat_id}:{parent['message_id']}"
        text, attachments = _content(message)
        is_group = chat_type in GROUP_TYPES
        chat_username = _text(chat.get("username"))
        return InboundItem(
            external_id=f"{chat_id}:{message_id}",
            thread_key=thread_key,
            kind=kind,
            author=author,
            text=text,
            created_at=created_at,
            parent_external_id=parent_external_id,
            permalink=permalink(chat, message_id),
            post_external_id=f"chat:{chat_id}" if is_group else "",
            post_text=_text(chat.get("title")) if is_group else "",
            post_permalink=(
                safe_http_url(f"https://t.me/{chat_username}") if is_group and chat_username else ""
            ),
            edited_at=edited_at,
            from_self=from_self,
            attachments=attachments,
            raw=raw,
        )

    def _author(self, message: dict[str, Any]) -> tuple[InboundAuthor, bool]:
        sender = message.get("from")
        if isinstance(sender, dict) and _is_int(sender.get("id")):
            username = _text(sender.get("username"))
            name = " ".join(
                part
                for part in (_text(sender.get("first_name")), _text(sender.get("last_name")))
                if part
            )
            from_self = str(sender["id"]) == self.bot_id or bool(
                self.bot_username and username.lower() == self.bot_username
            )
            return (
                InboundAuthor(
                    external_id=str(sender["id"]),
                    handle=username,
                    display_name=name or username,
                    profile_url=safe_http_url(f"https://t.me/{username}") if username else "",
                ),
                from_self,
            )
        # Anonymous group admins and channels write as a chat.
        sender_chat = message.get("sender_chat")
        if isinstance(sender_chat, dict) and _is_int(sender_chat.get("id")):
            username = _text(sender_chat.get("username"))
            return (
                InboundAuthor(
                    external_id=str(sender_chat["id"]),
                    handle=username,
                    display_name=_text(sender_chat.get("title")) or username,
                    profile_url=safe_http_url(f"https://t.me/{username}") if username else "",
                ),
                False,
            )
        raise MalformedPayload("message without a sender (from or sender_chat)")


def split_external_id(external_id: str) -> tuple[int, int]:
    """("<chat id>", "<message id>") of "<chat id>:<message id>"; chat ids may be negative."""
    chat, _, message = external_id.rpartition(":")
    try:
        return int(chat), int(message)
    except ValueError:
        raise InvalidRequest(
            f"This is not a Telegram message id: {external_id[:60]!r}.", permanent=True
        ) from None


def topic_of(target: ReplyTarget) -> int | None:
    """The forum topic a reply must go to, from the message itself or its thread key."""
    raw = target.raw if isinstance(target.raw, dict) else {}
    for key in ("message", "edited_message"):
        message = raw.get(key)
        if isinstance(message, dict) and message.get("is_topic_message"):
            topic = message.get("message_thread_id")
            if isinstance(topic, int) and not isinstance(topic, bool):
                return topic
    _, found, topic_text = target.thread_key.partition(":topic:")
    if found and topic_text.lstrip("-").isdigit():
        return int(topic_text)
    return None


def permalink(chat: dict[str, Any], message_id: Any) -> str:
    """t.me links exist for public groups (those with a username) only; a private chat's username
    is the person's, not a chat address."""
    username = _text(chat.get("username"))
    if chat.get("type") not in GROUP_TYPES or not username or not _is_int(message_id):
        return ""
    return safe_http_url(f"https://t.me/{username}/{message_id}")


def _content(message: dict[str, Any]) -> tuple[str, tuple[dict[str, str], ...]]:
    """The text, or for media the caption or a placeholder: a message is never stored empty."""
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise MalformedPayload("text is not a string")
    caption = message.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise MalformedPayload("caption is not a string")
    attachments: list[dict[str, str]] = []
    placeholder = ""
    for key in MEDIA_KEYS:
        media = message.get(key)
        if media is None:
            continue
        details = media if isinstance(media, dict) else {}
        # Telegram's file URLs contain the bot token, so only the name is kept; the file id stays
        # in the raw payload.
        name = _text(details.get("file_name")) or key
        attachments.append({"name": name, "url": "", "type": key})
        emoji = _text(details.get("emoji"))
        placeholder = placeholder or f"[{key.replace('_', ' ')}{f' {emoji}' if emoji else ''}]"
    if text:
        return text, tuple(attachments)
    if caption:
        return caption, tuple(attachments)
    if placeholder:
        return placeholder, tuple(attachments)
    raise MalformedPayload("message without text, caption or supported media")


def _timestamp(value: Any, name: str) -> datetime:
    if not _is_int(value):
        raise MalformedPayload(f"unreadable {name} {value!r}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload(f"unreadable {name} {value!r}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id_text(value: Any) -> str:
    return str(value) if _is_int(value) else "?"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
