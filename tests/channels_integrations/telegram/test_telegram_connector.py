"""The Telegram connector against the documented payloads and the fake Bot API over HTTP."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from channels_integrations.base import CannotReconcile, Capability, ReplyTarget
from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.telegram.connector import (
    TelegramConnector,
    UpdateNormalizer,
)
from channels_integrations.telegram.fake import DEMO_TOKEN
from tests.channels_integrations.telegram.conftest import (
    FrozenClock,
    ServedTelegram,
    connector_for,
)

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "telegram" / "fixtures"
BOT_ID = DEMO_TOKEN.split(":")[0]
JANE = 123456789  # the fake's janedoe, as in the documented sample


def documented_update() -> dict[str, Any]:
    body = json.loads((FIXTURES / "get_updates_private_message.json").read_text())
    update: dict[str, Any] = body["result"][0]
    return update


def normalize(update: dict[str, Any]) -> Any:
    return UpdateNormalizer(bot_id=BOT_ID, bot_username="shop_bot").normalize_update(update)


def target_for(item: Any, **overrides: Any) -> ReplyTarget:
    fields: dict[str, Any] = {
        "external_id": item.external_id,
        "author_handle": item.author.handle,
        "raw": item.raw,
        "author_external_id": item.author.external_id,
        "thread_key": item.thread_key,
        "sent_at": item.created_at,
    }
    return ReplyTarget(**(fields | overrides))


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# Normalization


def test_it_normalizes_the_documented_private_message() -> None:
    item = normalize(documented_update())
    assert item.external_id == "123456789:4242"
    assert item.thread_key == "chat:123456789"
    assert item.kind == "private_message"
    assert item.parent_external_id == "123456789:4240"
    assert item.author.external_id == "123456789"
    assert item.author.handle == "janedoe"
    assert item.author.display_name == "Jane Doe"
    assert item.author.profile_url == "https://t.me/janedoe"
    assert item.text == "Hi, where is my order #1001?"
    assert item.created_at == datetime.fromtimestamp(1742667604, UTC)
    # A private chat's username is the person's: there is no public link to the message.
    assert item.permalink == ""
    assert item.from_self is False and item.edited_at is None
    assert item.raw["update_id"] == 570000001


def test_it_treats_group_messages_as_comments_with_a_public_link() -> None:
    update = documented_update()
    message = update["message"]
    message["chat"] = {
        "id": -1001234567890,
        "title": "Shop Community",
        "username": "shop_community",
        "type": "supergroup",
    }
    message["reply_to_message"]["chat"] = message["chat"]
    item = normalize(update)
    assert item.kind == "comment"
    assert item.external_id == "-1001234567890:4242"
    assert item.thread_key == "chat:-1001234567890"
    assert item.parent_external_id == "-1001234567890:4240"
    assert item.permalink == "https://t.me/shop_community/4242"
    assert (item.post_external_id, item.post_text) == ("chat:-1001234567890", "Shop Community")
    assert item.post_permalink == "https://t.me/shop_community"


def test_it_gives_each_forum_topic_its_own_thread() -> None:
    update = documented_update()
    message = update["message"]
    message["chat"] = {
        "id": -1009876543210,
        "title": "Shop Forum",
        "type": "supergroup",
        "is_forum": True,
    }
    message["message_thread_id"] = 17
    message["is_topic_message"] = True
    message["reply_to_message"] = {
        "message_id": 17,
        "chat": message["chat"],
        "date": 1742660000,
        "forum_topic_created": {"name": "Support", "icon_color": 1},
    }
    item = normalize(update)
    assert item.thread_key == "chat:-1009876543210:topic:17"
    # Every topic message quotes the topic's creation notice; that is not a reply.
    assert item.parent_external_id == ""
    assert item.permalink == ""  # a private group has no t.me links


def test_it_marks_the_bots_own_messages_as_from_self() -> None:
    update = documented_update()
    update["message"]["from"] = {
        "id": int(BOT_ID),
        "is_bot": True,
        "first_name": "ShopBot",
        "username": "shop_bot",
    }
    assert normalize(update).from_self is True
    update["message"]["from"]["id"] = 42  # another token of the same bot: known by its username
    assert normalize(update).from_self is True


def test_it_takes_the_author_of_anonymous_admins_from_the_sender_chat() -> None:
    update = documented_update()
    del update["message"]["from"]
    update["message"]["sender_chat"] = {"id": -1001, "title": "Shop Admins", "type": "supergroup"}
    item = normalize(update)
    assert (item.author.external_id, item.author.display_name) == ("-1001", "Shop Admins")


def test_it_stores_media_with_the_caption_or_a_placeholder(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message(media="photo")
    fake_telegram.add_private_message(media="sticker")
    fake_telegram.add_private_message(media="document", caption="Die Rechnung", file_name="r.pdf")
    page = connector_for(fake_telegram).fetch_page({})
    assert [item.text for item in page.items] == ["[photo]", "[sticker 👍]", "Die Rechnung"]
    assert page.items[2].attachments == ({"name": "r.pdf", "url": "", "type": "document"},)
    assert page.items[0].attachments == ({"name": "photo", "url": "", "type": "photo"},)


def test_it_keeps_long_html_and_emoji_texts_verbatim(fake_telegram: ServedTelegram) -> None:
    long_text = "Ä" * 9_993 + " 🙂 end."
    tricky = "<b>fett</b> & <script>alert(1)</script> 👨‍👩‍👧 Grüße"
    fake_telegram.add_private_message(long_text)
    fake_telegram.add_private_message(tricky)
    items = connector_for(fake_telegram).fetch_page({}).items
    assert [item.text for item in items] == [long_text, tricky]
    assert len(items[0].text) == 10_000


# Polling


def test_it_long_polls_with_the_offset_and_confirms_what_it_got(
    fake_telegram: ServedTelegram,
) -> None:
    first = fake_telegram.add_private_message("Wo ist mein Paket?")
    second = fake_telegram.add_group_message("Hallo zusammen", username="tom")
    connector = connector_for(fake_telegram)

    page = connector.fetch_page({})
    assert [item.text for item in page.items] == ["Wo ist mein Paket?", "Hallo zusammen"]
    assert page.cursor == {"offset": second["update_id"] + 1} and page.caught_up
    [call] = fake_telegram.calls()
    assert call["path"] == f"/bot{DEMO_TOKEN}/getUpdates"
    assert call["json"] == {
        "limit": 100,
        "timeout": 1,
        "allowed_updates": ["message", "edited_message"],
    }
    assert len(fake_telegram.pending_updates()) == 2  # not confirmed until the next call

    third = fake_telegram.add_private_message("Noch da?")
    page = connector.fetch_page(page.cursor)
    assert [item.text for item in page.items] == ["Noch da?"]
    assert fake_telegram.calls()[1]["json"]["offset"] == second["update_id"] + 1
    assert page.cursor == {"offset": third["update_id"] + 1}
    assert [u["update_id"] for u in fake_telegram.pending_updates()] == [third["update_id"]]
    assert first["update_id"] < second["update_id"] < third["update_id"]


def test_an_empty_long_poll_is_caught_up_and_keeps_the_cursor(
    fake_telegram: ServedTelegram,
) -> None:
    # The session's own read timeout (0.3 s) would end the 1-second long poll: the client gives
    # getUpdates timeout + 10 seconds.
    connector = connector_for(fake_telegram, read_timeout=0.3)
    started = time.monotonic()
    page = connector.fetch_page({"offset": 570000005})
    assert time.monotonic() - started >= 0.9  # it waited for the long poll's timeout
    assert (page.items, page.cursor, page.caught_up) == ([], {"offset": 570000005}, True)


def test_a_long_poll_returns_as_soon_as_a_message_arrives(fake_telegram: ServedTelegram) -> None:
    connector = connector_for(fake_telegram, long_poll_seconds=10)
    pages: list[Any] = []
    poller = threading.Thread(target=lambda: pages.append(connector.fetch_page({})))
    started = time.monotonic()
    poller.start()
    wait_until(lambda: fake_telegram.polling)
    fake_telegram.add_private_message("Ping")
    poller.join(timeout=5)
    assert time.monotonic() - started < 3
    assert [item.text for item in pages[0].items] == ["Ping"]


def test_it_pages_through_more_than_a_hundred_waiting_updates(
    fake_telegram: ServedTelegram,
) -> None:
    for n in range(130):
        fake_telegram.add_private_message(f"Nachricht {n}", username=f"user{n % 7}")
    connector = connector_for(fake_telegram)
    first = connector.fetch_page({})
    assert len(first.items) == 100 and not first.caught_up
    second = connector.fetch_page(first.cursor)
    assert len(second.items) == 30 and second.caught_up
    assert second.items[-1].text == "Nachricht 129"


def test_it_skips_unknown_and_malformed_updates_but_moves_past_them(
    fake_telegram: ServedTelegram,
) -> None:
    fake_telegram.add_private_message("before")
    callback = fake_telegram.add_raw_update(
        {"callback_query": {"id": "1", "from": {"id": 1, "is_bot": False, "first_name": "A"}}}
    )
    reaction = fake_telegram.add_raw_update({"message_reaction": {"chat": {"id": 1}}})
    broken = fake_telegram.add_raw_update(
        {
            "message": {
                "message_id": 9,
                "chat": {"id": 5, "type": "private"},
                "date": "yesterday",
                "from": {"id": 5, "is_bot": False, "first_name": "B"},
                "text": "x",
            }
        }
    )
    channel_post = fake_telegram.add_raw_update(
        {"channel_post": {"message_id": 1, "chat": {"id": -100, "type": "channel"}, "date": 1}}
    )
    last = fake_telegram.add_private_message("after")

    page = connector_for(fake_telegram).fetch_page({})
    assert [item.text for item in page.items] == ["before", "after"]
    skipped = {s.external_id: s.reason for s in page.skipped}
    assert set(skipped) == {
        f"update:{u['update_id']}" for u in (callback, reaction, broken, channel_post)
    }
    assert "callback_query" in skipped[f"update:{callback['update_id']}"]
    assert "date" in skipped[f"update:{broken['update_id']}"]
    assert page.cursor == {"offset": last["update_id"] + 1}


def test_it_skips_service_messages_with_a_reason(fake_telegram: ServedTelegram) -> None:
    forum = fake_telegram.add_group("Shop Forum", username=None, forum=True)
    fake_telegram.add_topic(forum, "Support")
    page = connector_for(fake_telegram).fetch_page({})
    assert page.items == []
    assert "without text" in page.skipped[0].reason


def test_it_sends_an_edit_as_the_item_again_and_as_an_update(
    fake_telegram: ServedTelegram,
) -> None:
    update = fake_telegram.add_private_message("Bestellung 123")
    connector = connector_for(fake_telegram)
    page = connector.fetch_page({})
    message = update["message"]
    fake_telegram.edit_message(message["chat"]["id"], message["message_id"], "Bestellung 1234")
    page = connector.fetch_page(page.cursor)
    [item] = page.items
    assert (item.external_id, item.text) == (f"{JANE}:1", "Bestellung 1234")
    assert item.edited_at is not None
    [change] = page.updates
    assert (change.external_id, change.text, change.edited_at) == (
        item.external_id,
        "Bestellung 1234",
        item.edited_at,
    )


def test_a_message_and_its_edit_in_one_page_arrive_once_with_the_latest_text(
    fake_telegram: ServedTelegram,
) -> None:
    update = fake_telegram.add_private_message("Typo")
    fake_telegram.edit_message(update["message"]["chat"]["id"], 1, "Typo fixed")
    page = connector_for(fake_telegram).fetch_page({})
    assert [(item.text, item.edited_at is not None) for item in page.items] == [
        ("Typo fixed", True)
    ]


# Errors


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, AuthExpired),
        (404, {"ok": False, "error_code": 404, "description": "Not Found"}, AuthExpired),
        (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}, Transient),
        (502, None, Transient),  # nginx's HTML page
        (503, "<html>Service Unavailable</html>", Transient),
        (409, None, Transient),
    ],
)
def test_it_maps_platform_errors_to_the_taxonomy(
    fake_telegram: ServedTelegram, status: int, body: object, error: type[Exception]
) -> None:
    fake_telegram.fail_next(status, body=body)
    with pytest.raises(error):
        connector_for(fake_telegram).fetch_page({"offset": 1})


DOCUMENTED_ERRORS = {
    "flood_control": RateLimited,
    "unauthorized": AuthExpired,
    "blocked_by_user": PermissionDenied,
    "message_to_delete_not_found": NotFound,
    "chat_not_found": NotFound,
    "second_poller": Transient,
}


@pytest.mark.parametrize(("name", "error"), DOCUMENTED_ERRORS.items())
def test_it_maps_the_documented_error_bodies(
    fake_telegram: ServedTelegram, name: str, error: type[Exception]
) -> None:
    body = json.loads((FIXTURES / "errors.json").read_text())[name]
    fake_telegram.fail_next(body["error_code"], body=body)
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    with pytest.raises(error) as caught:
        connector_for(fake_telegram).delete(target=target)
    assert body["description"] in str(caught.value) or isinstance(caught.value, AuthExpired)


def test_flood_control_is_rate_limited_until_retry_after(fake_telegram: ServedTelegram) -> None:
    fake_telegram.fail_next_flood_wait(retry_after=42)
    with pytest.raises(RateLimited) as caught:
        connector_for(fake_telegram).fetch_page({})
    wait = caught.value.retry_at - datetime.now(UTC)
    assert timedelta(seconds=40) < wait <= timedelta(seconds=42)
    assert "retry after 42" in caught.value.message


def test_a_revoked_token_is_an_expired_authorization(fake_telegram: ServedTelegram) -> None:
    fake_telegram.revoke_token(DEMO_TOKEN)
    with pytest.raises(AuthExpired, match="revoked"):
        connector_for(fake_telegram).fetch_page({})


def test_a_second_poller_gets_a_conflict(fake_telegram: ServedTelegram) -> None:
    # The poll engine never polls one channel twice at once; another program on the same token
    # does, and Telegram ends one of the two polls.
    first = connector_for(fake_telegram, long_poll_seconds=1)
    poller = threading.Thread(target=lambda: first.fetch_page({}))
    poller.start()
    wait_until(lambda: fake_telegram.polling)
    with pytest.raises(Transient, match="another getUpdates request"):
        connector_for(fake_telegram).fetch_page({})
    poller.join(timeout=5)


def test_a_webhook_blocks_polling_permanently(fake_telegram: ServedTelegram) -> None:
    fake_telegram.set_webhook("https://example.com/hook")
    with pytest.raises(ConnectorError, match="webhook") as caught:
        connector_for(fake_telegram).fetch_page({})
    assert caught.value.permanent and not isinstance(caught.value, Transient)


def test_the_bot_token_never_appears_in_errors(fake_telegram: ServedTelegram) -> None:
    unreachable = connector_for(fake_telegram, base_url="http://127.0.0.1:9")
    with pytest.raises(Transient) as refused:
        unreachable.fetch_page({})
    fake_telegram.set_delay(1.0)
    with pytest.raises(Transient, match="did not answer in time") as slow:
        connector_for(fake_telegram, read_timeout=0.2).reply(
            target=ReplyTarget(external_id=f"{JANE}:1", author_handle="", raw={}),
            text="Hi",
            idempotency_key="k",
        )
    secret = DEMO_TOKEN.split(":")[1]
    for caught in (refused, slow):
        assert secret not in str(caught.value)
        # Nothing chained either: a requests exception would carry the URL.
        assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_the_bot_token_is_redacted_from_urllib3_debug_logs(
    fake_telegram: ServedTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    connector_for(fake_telegram, long_poll_seconds=0).fetch_page({})
    assert "/bot<redacted>/getUpdates" in caplog.text
    assert DEMO_TOKEN.split(":")[1] not in caplog.text


def test_a_malformed_token_fails_without_calling_telegram(fake_telegram: ServedTelegram) -> None:
    with pytest.raises(AuthExpired, match="format"):
        connector_for(fake_telegram, token="abc/../getMe").fetch_page({})
    assert fake_telegram.calls() == []


# Replies


def test_it_replies_in_the_chat_quoting_the_message(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Wo bleibt meine Bestellung?")
    connector = connector_for(fake_telegram)
    [item] = connector.fetch_page({}).items

    sent = connector.reply(target=target_for(item), text="Wir schauen nach!", idempotency_key="k")

    [message] = fake_telegram.sent_messages()
    assert sent.external_id == f"{JANE}:{message['message_id']}"
    assert message["text"] == "Wir schauen nach!"
    assert message["reply_to_message"]["message_id"] == 1
    call = fake_telegram.calls()[-1]
    assert call["path"].endswith("/sendMessage")
    assert call["json"] == {
        "chat_id": JANE,
        "text": "Wir schauen nach!",
        "reply_parameters": {"message_id": 1, "allow_sending_without_reply": True},
    }


def test_it_replies_into_the_forum_topic_of_the_message(fake_telegram: ServedTelegram) -> None:
    forum = fake_telegram.add_group("Shop Forum", username="shop_forum", forum=True)
    topic = fake_telegram.add_topic(forum, "Support")
    fake_telegram.add_group_message("Hilfe!", chat_id=forum, topic_id=topic)
    connector = connector_for(fake_telegram)
    [item] = connector.fetch_page({}).items

    sent = connector.reply(target=target_for(item, raw={}), text="Sind dran.", idempotency_key="k")

    assert fake_telegram.calls()[-1]["json"]["message_thread_id"] == topic
    [message] = fake_telegram.sent_messages()
    assert (message["message_thread_id"], message["is_topic_message"]) == (topic, True)
    assert sent.permalink == f"https://t.me/shop_forum/{message['message_id']}"


def test_a_reply_to_a_deleted_message_still_goes_out(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Frage")
    fake_telegram.delete_as_author(JANE, 1)
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    connector_for(fake_telegram).reply(target=target, text="Antwort", idempotency_key="k")
    [message] = fake_telegram.sent_messages()
    assert "reply_to_message" not in message


def test_a_user_who_blocked_the_bot_cannot_be_answered(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Tschüss")
    fake_telegram.block_bot(JANE)
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    with pytest.raises(PermissionDenied, match="blocked the bot") as caught:
        connector_for(fake_telegram).reply(target=target, text="Hallo?", idempotency_key="k")
    assert caught.value.permanent
    assert fake_telegram.sent_messages() == []


def test_a_group_that_moved_to_a_supergroup_is_explained(fake_telegram: ServedTelegram) -> None:
    group = fake_telegram.add_group("Old group", supergroup=False)
    fake_telegram.add_group_message("Hi", chat_id=group)
    new_id = fake_telegram.upgrade_group(group)
    target = ReplyTarget(external_id=f"{group}:1", author_handle="janedoe", raw={})
    with pytest.raises(InvalidRequest, match=str(new_id)) as caught:
        connector_for(fake_telegram).reply(target=target, text="Hallo", idempotency_key="k")
    assert "upgraded to a supergroup" in caught.value.message and caught.value.permanent


def test_it_refuses_too_long_replies_before_calling_telegram(
    fake_telegram: ServedTelegram,
) -> None:
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    with pytest.raises(InvalidRequest, match="4096"):
        connector_for(fake_telegram).reply(target=target, text="x" * 4097, idempotency_key="k")
    assert fake_telegram.calls() == []
    assert TelegramConnector.max_reply_length == 4096


def test_flood_control_on_replies_says_when_to_retry(serve_telegram: Any) -> None:
    fake = serve_telegram(messages_per_chat_per_minute=2)
    fake.add_private_message("Hallo")
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    connector = connector_for(fake)
    for n in range(2):
        connector.reply(target=target, text=f"Antwort {n}", idempotency_key=str(n))
    with pytest.raises(RateLimited) as caught:
        connector.reply(target=target, text="Antwort 3", idempotency_key="3")
    assert caught.value.retry_at <= datetime.now(UTC) + timedelta(seconds=61)
    assert len(fake.sent_messages()) == 2


def test_an_ambiguous_reply_cannot_be_reconciled_and_was_sent_once(
    fake_telegram: ServedTelegram,
) -> None:
    fake_telegram.add_private_message("Hallo?")
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    fake_telegram.accept_then_stall(2)
    impatient = connector_for(fake_telegram, read_timeout=0.5)
    not_before = datetime.now(UTC)
    with pytest.raises(Transient, match="did not answer in time"):
        impatient.reply(target=target, text="Wir sind da.", idempotency_key="k")

    # Telegram has no way to look up what a bot sent: the outbox must not send blindly again.
    with pytest.raises(CannotReconcile):
        impatient.find_sent_reply(target=target, text="Wir sind da.", not_before=not_before)
    assert TelegramConnector.idempotency_window is None
    wait_until(lambda: len(fake_telegram.sent_messages()) >= 1)
    assert [m["text"] for m in fake_telegram.sent_messages()] == ["Wir sind da."]


# Delete and like


def test_it_deletes_a_message_in_a_private_chat(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Bitte löschen")
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    connector = connector_for(fake_telegram)
    connector.delete(target=target)
    assert fake_telegram.message(JANE, 1)["deleted"] is True
    with pytest.raises(NotFound, match="no longer exists"):
        connector.delete(target=target)


def test_it_deletes_other_peoples_group_messages_only_as_an_admin(
    fake_telegram: ServedTelegram,
) -> None:
    group = fake_telegram.add_group()
    fake_telegram.add_group_message("Spam!", chat_id=group)
    target = ReplyTarget(external_id=f"{group}:1", author_handle="janedoe", raw={})
    connector = connector_for(fake_telegram)
    with pytest.raises(InvalidRequest, match="admin") as caught:
        connector.delete(target=target)
    assert "message can't be deleted" in caught.value.message
    fake_telegram.set_bot_can_delete(group, True)
    connector.delete(target=target)
    assert fake_telegram.message(group, 1)["deleted"] is True


def test_it_cannot_delete_after_48_hours(
    frozen_telegram: ServedTelegram, clock: FrozenClock
) -> None:
    frozen_telegram.add_private_message("Alt")
    clock.now += timedelta(hours=48, minutes=1)
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    with pytest.raises(InvalidRequest, match="48 hours"):
        connector_for(frozen_telegram).delete(target=target)
    assert frozen_telegram.message(JANE, 1)["deleted"] is False


def test_it_likes_with_a_thumbs_up(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Danke euch!")
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    connector_for(fake_telegram).like(target=target)
    assert fake_telegram.message(JANE, 1)["bot_reactions"] == ["👍"]
    assert fake_telegram.calls()[-1]["json"]["reaction"] == [{"type": "emoji", "emoji": "👍"}]


def test_a_like_on_a_deleted_message_is_not_found(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("weg")
    fake_telegram.delete_as_author(JANE, 1)
    target = ReplyTarget(external_id=f"{JANE}:1", author_handle="janedoe", raw={})
    with pytest.raises(NotFound, match="message to react not found"):
        connector_for(fake_telegram).like(target=target)


def test_it_says_which_actions_the_platform_rules_out() -> None:
    fresh = ReplyTarget(external_id="1:1", author_handle="", raw={}, sent_at=datetime.now(UTC))
    old = ReplyTarget(
        external_id="1:1", author_handle="", raw={}, sent_at=datetime.now(UTC) - timedelta(days=3)
    )
    gone = ReplyTarget(external_id="1:1", author_handle="", raw={}, state="deleted")
    reason = TelegramConnector.unavailable_reason
    assert reason(Capability.DELETE, fresh) == ""
    assert "48 hours" in reason(Capability.DELETE, old)
    assert reason(Capability.LIKE, old) == "" and reason(Capability.REPLY, old) == ""
    assert "already deleted" in reason(Capability.LIKE, gone)
    assert reason(Capability.HIDE, fresh) != ""
    assert TelegramConnector.capabilities == {Capability.REPLY, Capability.DELETE, Capability.LIKE}


# Setup and connection test


def test_it_asks_for_the_base_url_the_bot_and_its_token() -> None:
    fields = {field.name: field for field in TelegramConnector.setup_fields}
    assert fields["base_url"].initial == "https://api.telegram.org"
    assert fields["base_url"].input_type == "url" and not fields["base_url"].secret
    assert fields["long_poll_seconds"].initial == "10"
    assert fields["bot_token"].secret and not fields["bot_username"].secret
    assert "24 hours" in TelegramConnector.backfill_note
    connector = connector_for(ServedTelegram())
    assert connector.initial_cursor(backfill_since=datetime.now(UTC)) == {}


def test_it_reports_a_working_connection(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("waiting")
    checks = {check.name: check for check in connector_for(fake_telegram).test_connection()}
    assert all(check.ok for check in checks.values())
    assert "@shop_bot" in checks["Bot token"].detail
    assert "Privacy mode is on" in checks["Group messages"].detail
    assert "1 update(s) are waiting" in checks["Receiving messages"].detail
    assert [c["path"].rsplit("/", 1)[1] for c in fake_telegram.calls()] == [
        "getMe",
        "getWebhookInfo",
    ]


def test_it_reports_a_revoked_token_without_raising(fake_telegram: ServedTelegram) -> None:
    fake_telegram.revoke_token(DEMO_TOKEN)
    [check] = connector_for(fake_telegram).test_connection()
    assert (check.name, check.ok) == ("Bot token", False)
    assert "revoked" in check.detail and DEMO_TOKEN not in check.detail


def test_it_reports_a_webhook_and_a_username_mismatch(fake_telegram: ServedTelegram) -> None:
    fake_telegram.set_webhook("https://hooks.example.com/telegram/secret-path")
    checks = connector_for(fake_telegram, bot_username="other_bot").test_connection()
    failed = {check.name: check.detail for check in checks if not check.ok}
    assert set(failed) == {"Bot username", "Receiving messages"}
    assert "hooks.example.com" in failed["Receiving messages"]
    assert "secret-path" not in failed["Receiving messages"]
    assert "@other_bot" in failed["Bot username"]


def test_the_raw_payload_is_kept_for_evidence() -> None:
    update = documented_update()
    assert normalize(copy.deepcopy(update)).raw == update


# The whole poll, through the real engine and ingest


def test_a_poll_groups_chats_groups_and_topics_into_conversations(
    db: None, fake_telegram: ServedTelegram
) -> None:
    from channels_integrations.models import ChannelAccount, SkippedItem
    from channels_integrations.polling import poll_channel
    from inbox.models import Conversation, Message

    account = ChannelAccount(
        platform="telegram",
        name="Telegram @shop_bot",
        settings={
            "base_url": fake_telegram.url,
            "bot_username": "shop_bot",
            "long_poll_seconds": 1,
        },
    )
    account.set_credentials({"bot_token": DEMO_TOKEN})
    account.save()

    fake_telegram.add_private_message("Hallo, wo ist mein Paket?")
    fake_telegram.add_private_message("Bestellung #4711", reply_to=1)
    fake_telegram.add_private_message(
        "Do you ship to Canada?", username="sam", first_name="Sam", last_name=None
    )
    group = fake_telegram.add_group()
    fake_telegram.add_group_message("@shop_bot habt ihr Samstag offen?", chat_id=group)
    fake_telegram.add_group_message(
        "Würde mich auch interessieren", chat_id=group, username="tom", first_name="Tom", reply_to=1
    )
    forum = fake_telegram.add_group("Shop Forum", username="shop_forum", forum=True)
    topic = fake_telegram.add_topic(forum, "Support")
    last = fake_telegram.add_group_message("Rückgabe klappt nicht", chat_id=forum, topic_id=topic)

    outcome = poll_channel(account.pk)

    assert (outcome.new_messages, outcome.skipped, outcome.error) == (6, 1, "")
    account.refresh_from_db()
    assert account.cursor == {"offset": last["update_id"] + 1}
    conversations = {
        c.thread_key: (c.kind, c.message_count)
        for c in Conversation.objects.filter(channel_account=account)
    }
    assert conversations == {
        f"chat:{JANE}": ("private_message", 2),
        "chat:5012345601": ("private_message", 1),
        f"chat:{group}": ("comment", 2),
        f"chat:{forum}:topic:{topic}": ("comment", 1),
    }
    reply = Message.objects.get(external_id=f"{group}:2")
    assert reply.parent_external_id == f"{group}:1"
    assert reply.permalink == "https://t.me/shop_community/2"
    assert SkippedItem.objects.filter(channel_account=account).count() == 1  # the topic notice

    fake_telegram.add_private_message("Noch eine Frage")
    second = poll_channel(account.pk)
    assert second.new_messages == 1
    assert Conversation.objects.get(thread_key=f"chat:{JANE}").message_count == 3
    assert fake_telegram.pending_updates()[-1]["update_id"] == last["update_id"] + 1
