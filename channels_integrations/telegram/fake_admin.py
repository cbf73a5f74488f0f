"""The fake Telegram's /__admin/ endpoints (not part of Telegram), built on its public methods.

GET /__admin/ shows a form to write to the bot and tables of waiting updates, messages and what
the bot did; POST /__admin/message is that form; POST /__admin/seed takes JSON
({"text", "chat": "private"|"group"|"topic", "username", "first_name", "last_name", "reply_to",
"media", "caption", "chat_id", "topic_id"}, or {"edit": {"chat_id", "message_id", "text"}}, or
{"raw": <any update>}); GET /__admin/sent lists the messages the bot sent. The base class adds
/__admin/fail-next, /__admin/calls and /__admin/reset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import (
    AdminField,
    AdminForm,
    AdminTable,
    Route,
    admin_page,
    json_response,
)
from channels_integrations.telegram.fake import MEDIA_KINDS, FakeTelegram

Json = dict[str, Any]

SUPPORT_TOPIC = "Support"
MESSAGE_FORM = AdminForm(
    "Write to the bot",
    action="message",
    submit="Send",
    fields=(
        AdminField("text", "Text", rows=3, required=True),
        AdminField("chat", "Where", options=("private", "group", "topic")),
        AdminField("username", "Username", placeholder="janedoe"),
        AdminField("first_name", "First name", placeholder="Jane"),
        AdminField("last_name", "Last name", placeholder="Doe"),
        AdminField("reply_to", "Reply to message id", placeholder="optional"),
    ),
)


def admin_routes(fake: FakeTelegram) -> list[Route]:
    def page(request: Request) -> Response:
        return _admin_page(fake, request)

    def message(request: Request) -> Response:
        """The page's form: urlencoded, answered with a redirect back (POST/redirect/GET)."""
        form = {key: value.strip() for key, value in request.form.items()}
        if form.get("text"):
            try:
                seed(fake, {key: value for key, value in form.items() if value})
            except ValueError as error:
                return Response(str(error), 400, content_type="text/plain; charset=utf-8")
        return Response("", 303, {"Location": request.script_root + "/__admin/"})

    def seed_json(request: Request) -> Response:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        try:
            return json_response(seed(fake, payload), 201)
        except ValueError as error:
            return json_response({"error": str(error)}, 400)

    return [
        ("GET", "/__admin/", page),
        ("POST", "/__admin/message", message),
        ("POST", "/__admin/seed", seed_json),
        ("GET", "/__admin/sent", lambda _: json_response(fake.sent_messages())),
    ]


def seed(fake: FakeTelegram, payload: Json) -> Json:
    """One message, edit or raw update from an admin payload; returns the update.

    Raises ValueError for a payload that makes no sense.
    """
    if isinstance(payload.get("raw"), dict):
        return fake.add_raw_update(payload["raw"])
    if isinstance(payload.get("edit"), dict):
        edit = payload["edit"]
        chat_id, message_id = _int(edit.get("chat_id")), _int(edit.get("message_id"))
        if chat_id is None or message_id is None or not isinstance(edit.get("text"), str):
            raise ValueError("edit needs chat_id, message_id and text")
        return fake.edit_message(chat_id, message_id, edit["text"])
    text = payload.get("text")
    text = text if isinstance(text, str) and text.strip() else None
    media = payload.get("media") if payload.get("media") in MEDIA_KINDS else None
    if text is None and media is None:
        raise ValueError("text (or media) is required")
    person: dict[str, Any] = {
        "username": str(payload.get("username") or "janedoe"),
        "first_name": str(payload.get("first_name") or "Jane"),
        "last_name": str(payload["last_name"]) if payload.get("last_name") else None,
        "language_code": str(payload.get("language_code") or "en"),
        "reply_to": _int(payload.get("reply_to")),
        "media": media,
        "caption": payload.get("caption") if isinstance(payload.get("caption"), str) else None,
    }
    where = payload.get("chat") or "private"
    if where == "private":
        return fake.add_private_message(text, **person)
    if where not in {"group", "topic"}:
        raise ValueError("chat must be private, group or topic")
    chat_id, topic_id = _int(payload.get("chat_id")), _int(payload.get("topic_id"))
    if where == "topic" and topic_id is None:
        chat_id, topic_id = _support_topic(fake)
    return fake.add_group_message(text, chat_id=chat_id, topic_id=topic_id, **person)


def _support_topic(fake: FakeTelegram) -> tuple[int, int]:
    """The "Support" topic of a forum supergroup, made on first use."""
    for message in fake.messages():
        created = message.get("forum_topic_created")
        if isinstance(created, dict) and created.get("name") == SUPPORT_TOPIC:
            return message["chat"]["id"], message["message_thread_id"]
    chat_id = fake.add_group("Shop Forum", username="shop_forum", forum=True)
    return chat_id, fake.add_topic(chat_id, SUPPORT_TOPIC)


def _admin_page(fake: FakeTelegram, request: Request) -> Response:
    bot = fake.bot
    return admin_page(
        f"Fake Telegram: @{bot['username']}",
        notes=[
            f"API base URL: {request.root_url.rstrip('/')}",
            f"bot id {bot['id']}",
            f"webhook: {fake.webhook_url or 'none'}",
            f"API calls recorded: {len(fake.calls())}",
        ],
        form=MESSAGE_FORM,
        tables=[
            AdminTable(
                "Updates waiting for getUpdates",
                ("Update id", "Type", "Chat", "From", "Text"),
                [_update_row(update) for update in reversed(fake.pending_updates()[-50:])],
            ),
            AdminTable(
                "Messages",
                ("Chat", "Message id", "From", "Date", "Text", "State", "Bot reaction"),
                [_message_row(message) for message in reversed(fake.messages()[-50:])],
            ),
            AdminTable(
                "What the bot did",
                ("Time", "Method", "Chat", "Message id", "Text / reaction"),
                [
                    [a["at"], a["method"], a["chat_id"], a["message_id"], a["detail"]]
                    for a in reversed(fake.actions()[-50:])
                ],
            ),
        ],
    )


def _update_row(update: Json) -> list[object]:
    # Injected updates may be malformed: any field may be missing or odd.
    kind = next((key for key in update if key != "update_id"), "")
    message = update.get(kind)
    message = message if isinstance(message, dict) else {}
    chat = message.get("chat")
    chat = chat if isinstance(chat, dict) else {}
    return [
        update.get("update_id"),
        kind,
        chat.get("title") or chat.get("id"),
        _sender_name(message),
        _message_text(message),
    ]


def _message_row(message: Json) -> list[object]:
    return [
        message["chat"]["id"],
        message["message_id"],
        _sender_name(message),
        _date_text(message.get("date")),
        _message_text(message),
        "deleted" if message["deleted"] else "visible",
        "".join(message["bot_reactions"]),
    ]


def _sender_name(message: Json) -> str:
    sender = message.get("from")
    if not isinstance(sender, dict):
        return ""
    name = " ".join(str(sender[key]) for key in ("first_name", "last_name") if sender.get(key))
    return f"{name} @{sender['username']}" if sender.get("username") else name


def _message_text(message: Json) -> str:
    for key in ("text", "caption"):
        if isinstance(message.get(key), str):
            return str(message[key])
    kind = next((key for key in MEDIA_KINDS if key in message), "")
    if kind:
        return f"[{kind}]"
    created = message.get("forum_topic_created")
    if isinstance(created, dict):
        return f"[topic created: {created.get('name', '')}]"
    return "[service message]"


def _date_text(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return ""


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
