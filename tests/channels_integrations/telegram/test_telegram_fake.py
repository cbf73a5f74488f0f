"""The fake Telegram Bot API, exercised over real HTTP as the connector will use it."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from channels_integrations.fake_server import FakeServer
from channels_integrations.telegram.connector import TelegramConnector
from channels_integrations.telegram.demo import (
    FOLLOW_UPS,
    MESSAGES,
    PERSONAS,
    MessageGenerator,
    demo_channel,
)
from channels_integrations.telegram.fake import DEMO_TOKEN, FakeTelegram
from tests.channels_integrations.telegram.conftest import (
    FrozenClock,
    ServedTelegram,
    connector_for,
)

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "telegram" / "fixtures"
JANE = 123456789


def call(
    fake: ServedTelegram, method: str, token: str = DEMO_TOKEN, **params: Any
) -> requests.Response:
    return requests.post(f"{fake.url}/bot{token}/{method}", json=params, timeout=5)


def result(response: requests.Response) -> Any:
    body = response.json()
    assert body["ok"] is True, body
    return body["result"]


def error(response: requests.Response) -> tuple[int, str, dict[str, Any]]:
    body = response.json()
    assert body["ok"] is False and body["error_code"] == response.status_code
    return response.status_code, body["description"], body.get("parameters", {})


def update_ids(response: requests.Response) -> list[int]:
    return [update["update_id"] for update in result(response)]


# getUpdates


def test_it_serves_updates_in_the_documented_shape(fake_telegram: ServedTelegram) -> None:
    documented = json.loads((FIXTURES / "get_updates_private_message.json").read_text())
    fake_telegram.add_bot_message(
        fake_telegram.add_private_message("x")["message"]["chat"]["id"], "How can we help?"
    )
    made = fake_telegram.add_private_message("Hi, where is my order #1001?", reply_to=2)
    response = call(fake_telegram, "getUpdates", offset=made["update_id"])

    def same_keys(expected: object, actual: object, where: str) -> None:
        if isinstance(expected, dict):
            assert isinstance(actual, dict), where
            for key, value in expected.items():
                assert key in actual, f"{where}.{key}"
                same_keys(value, actual[key], f"{where}.{key}")

    same_keys(documented, response.json(), "body")
    [update] = result(response)
    assert update["message"]["from"] == documented["result"][0]["message"]["from"]
    assert update["message"]["chat"] == documented["result"][0]["message"]["chat"]
    assert update["message"]["reply_to_message"]["from"]["id"] == 7000000001
    assert "reply_to_message" not in update["message"]["reply_to_message"]


def test_it_confirms_updates_below_the_offset(fake_telegram: ServedTelegram) -> None:
    ids = [fake_telegram.add_private_message(f"m{n}")["update_id"] for n in range(4)]
    assert ids[0] == 570000001
    assert update_ids(call(fake_telegram, "getUpdates")) == ids
    assert update_ids(call(fake_telegram, "getUpdates", offset=ids[2])) == ids[2:]
    # Confirmed ones are gone for good, even without an offset.
    assert update_ids(call(fake_telegram, "getUpdates")) == ids[2:]
    assert update_ids(call(fake_telegram, "getUpdates", offset=ids[3] + 1)) == []
    assert fake_telegram.pending_updates() == []


def test_it_limits_pages_and_supports_a_negative_offset(fake_telegram: ServedTelegram) -> None:
    ids = [fake_telegram.add_private_message(f"m{n}")["update_id"] for n in range(5)]
    assert update_ids(call(fake_telegram, "getUpdates", limit=2)) == ids[:2]
    assert update_ids(call(fake_telegram, "getUpdates", offset=-2)) == ids[3:]
    assert [u["update_id"] for u in fake_telegram.pending_updates()] == ids[3:]


def test_it_reads_parameters_from_the_query_string_and_forms(fake_telegram: ServedTelegram) -> None:
    ids = [fake_telegram.add_private_message(f"m{n}")["update_id"] for n in range(3)]
    url = f"{fake_telegram.url}/bot{DEMO_TOKEN}/GETUPDATES"  # method names ignore case
    by_query = requests.get(url, params={"offset": ids[1], "limit": "1"}, timeout=5)
    by_form = requests.post(url, data={"offset": str(ids[2])}, timeout=5)
    assert update_ids(by_query) == [ids[1]]
    assert update_ids(by_form) == [ids[2]]


def test_a_long_poll_waits_for_the_timeout_when_nothing_comes(
    fake_telegram: ServedTelegram,
) -> None:
    started = time.monotonic()
    assert result(call(fake_telegram, "getUpdates", timeout=1)) == []
    assert 0.9 <= time.monotonic() - started < 3


def test_a_long_poll_answers_as_soon_as_an_update_arrives(fake_telegram: ServedTelegram) -> None:
    responses: list[requests.Response] = []
    poll = threading.Thread(
        target=lambda: responses.append(call(fake_telegram, "getUpdates", timeout=10))
    )
    started = time.monotonic()
    poll.start()
    deadline = time.monotonic() + 5
    while not fake_telegram.polling and time.monotonic() < deadline:
        time.sleep(0.01)
    # The waiting poll holds no lock: the admin page and other methods still answer.
    assert requests.get(f"{fake_telegram.url}/__admin/", timeout=2).status_code == 200
    assert result(call(fake_telegram, "getMe"))["username"] == "shop_bot"
    update = fake_telegram.add_private_message("Da bin ich")
    poll.join(timeout=5)
    assert time.monotonic() - started < 3
    assert update_ids(responses[0]) == [update["update_id"]]


def test_a_second_simultaneous_poll_gets_409(fake_telegram: ServedTelegram) -> None:
    poll = threading.Thread(target=lambda: call(fake_telegram, "getUpdates", timeout=1))
    poll.start()
    deadline = time.monotonic() + 5
    while not fake_telegram.polling and time.monotonic() < deadline:
        time.sleep(0.01)
    second = call(fake_telegram, "getUpdates", timeout=1)
    poll.join(timeout=5)
    assert error(second) == (
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        {},
    )


def test_a_webhook_blocks_get_updates_until_deleted(fake_telegram: ServedTelegram) -> None:
    assert result(call(fake_telegram, "setWebhook", url="https://example.com/hook")) is True
    assert result(call(fake_telegram, "getWebhookInfo"))["url"] == "https://example.com/hook"
    status, description, _ = error(call(fake_telegram, "getUpdates"))
    assert status == 409 and description.startswith("Conflict: can't use getUpdates method")
    assert call(fake_telegram, "deleteWebhook").json()["description"] == "Webhook was deleted"
    assert result(call(fake_telegram, "getUpdates")) == []


def test_it_queues_only_the_allowed_update_types(fake_telegram: ServedTelegram) -> None:
    call(fake_telegram, "getUpdates", allowed_updates=["message"])
    update = fake_telegram.add_private_message("original")
    fake_telegram.edit_message(JANE, 1, "edited")
    assert [u["update_id"] for u in fake_telegram.pending_updates()] == [update["update_id"]]
    call(fake_telegram, "getUpdates", allowed_updates=json.dumps(["message", "edited_message"]))
    fake_telegram.edit_message(JANE, 1, "edited again")
    assert [next(iter(u.keys() - {"update_id"})) for u in fake_telegram.pending_updates()] == [
        "message",
        "edited_message",
    ]


def test_it_forgets_updates_after_24_hours(frozen_telegram: ServedTelegram, clock: Any) -> None:
    frozen_telegram.add_private_message("old")
    clock.now += timedelta(hours=24, seconds=1)
    fresh = frozen_telegram.add_private_message("new")
    assert update_ids(call(frozen_telegram, "getUpdates")) == [fresh["update_id"]]


def test_it_sends_edits_with_an_edit_date(frozen_telegram: ServedTelegram, clock: Any) -> None:
    update = frozen_telegram.add_private_message("Bestellung 12")
    clock.now += timedelta(minutes=3)
    edited = frozen_telegram.edit_message(JANE, update["message"]["message_id"], "Bestellung 123")
    message = edited["edited_message"]
    assert message["text"] == "Bestellung 123"
    assert message["edit_date"] - message["date"] == 180


# Auth and faults


def test_it_rejects_a_bad_and_a_revoked_token(fake_telegram: ServedTelegram) -> None:
    assert error(call(fake_telegram, "getMe", token="1:nope")) == (401, "Unauthorized", {})
    fake_telegram.revoke_token(DEMO_TOKEN)
    assert error(call(fake_telegram, "getMe")) == (401, "Unauthorized", {})


def test_it_answers_404_for_unknown_methods_and_paths(fake_telegram: ServedTelegram) -> None:
    assert error(call(fake_telegram, "getEverything")) == (404, "Not Found", {})
    response = requests.get(f"{fake_telegram.url}/getMe", timeout=5)
    assert response.status_code == 404


def test_it_injects_the_platforms_usual_errors(fake_telegram: ServedTelegram) -> None:
    fake_telegram.fail_next(429)
    fake_telegram.fail_next(502)
    assert error(call(fake_telegram, "getMe")) == (
        429,
        "Too Many Requests: retry after 5",
        {"retry_after": 5},
    )
    bad_gateway = call(fake_telegram, "getMe")
    assert bad_gateway.status_code == 502 and "<h1>502 Bad Gateway</h1>" in bad_gateway.text
    assert result(call(fake_telegram, "getMe"))["is_bot"] is True


def test_it_injects_faults_through_the_admin_endpoint(fake_telegram: ServedTelegram) -> None:
    fault = {"status": 401, "body": {"ok": False, "error_code": 401, "description": "Unauthorized"}}
    queued = requests.post(f"{fake_telegram.url}/__admin/fail-next", json=fault, timeout=5)
    assert queued.status_code == 201
    assert call(fake_telegram, "getMe").status_code == 401
    assert call(fake_telegram, "getMe").status_code == 200


# Sending, deleting, reacting


def test_it_sends_replies_with_reply_parameters_or_the_legacy_field(
    fake_telegram: ServedTelegram,
) -> None:
    fake_telegram.add_private_message("Frage")
    modern = result(
        call(
            fake_telegram,
            "sendMessage",
            chat_id=JANE,
            text="Antwort 1",
            reply_parameters={"message_id": 1},
        )
    )
    legacy = result(
        call(
            fake_telegram, "sendMessage", chat_id=str(JANE), text="Antwort 2", reply_to_message_id=1
        )
    )
    assert modern["reply_to_message"]["text"] == legacy["reply_to_message"]["text"] == "Frage"
    assert modern["from"]["id"] == 7000000001 and modern["chat"]["id"] == JANE
    assert [m["text"] for m in fake_telegram.sent_messages()] == ["Antwort 1", "Antwort 2"]


def test_it_refuses_a_reply_to_a_missing_message_unless_allowed(
    fake_telegram: ServedTelegram,
) -> None:
    fake_telegram.add_private_message("Frage")
    missing = call(
        fake_telegram, "sendMessage", chat_id=JANE, text="Hi", reply_parameters={"message_id": 99}
    )
    allowed = call(
        fake_telegram,
        "sendMessage",
        chat_id=JANE,
        text="Hi",
        reply_parameters={"message_id": 99, "allow_sending_without_reply": True},
    )
    assert error(missing) == (400, "Bad Request: message to be replied not found", {})
    assert "reply_to_message" not in result(allowed)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"chat_id": 42, "text": "Hi"}, (400, "Bad Request: chat not found")),
        ({"chat_id": JANE, "text": "  "}, (400, "Bad Request: message text is empty")),
        ({"chat_id": JANE, "text": "x" * 4097}, (400, "Bad Request: message is too long")),
        (
            {"chat_id": JANE, "text": "Hi", "message_thread_id": 5},
            (400, "Bad Request: message thread not found"),
        ),
    ],
)
def test_it_validates_messages_like_telegram(
    fake_telegram: ServedTelegram, params: dict[str, Any], expected: tuple[int, str]
) -> None:
    fake_telegram.add_private_message("Hallo")
    assert error(call(fake_telegram, "sendMessage", **params))[:2] == expected
    assert fake_telegram.sent_messages() == []


def test_it_applies_flood_control_per_chat(serve_telegram: Any) -> None:
    clock = FrozenClock()
    fake = serve_telegram(clock=clock, messages_per_chat_per_minute=2)
    fake.add_private_message("Hallo")
    answers = [call(fake, "sendMessage", chat_id=JANE, text=f"{n}") for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    _, description, parameters = error(answers[2])
    assert description == f"Too Many Requests: retry after {parameters['retry_after']}"
    assert 0 < parameters["retry_after"] <= 60
    clock.now += timedelta(seconds=parameters["retry_after"])
    assert call(fake, "sendMessage", chat_id=JANE, text="later").status_code == 200


def test_a_blocked_user_and_a_moved_group_are_refused(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Tschüss")
    fake_telegram.block_bot(JANE)
    group = fake_telegram.add_group("Alt", supergroup=False)
    new_id = fake_telegram.upgrade_group(group)
    blocked = call(fake_telegram, "sendMessage", chat_id=JANE, text="Hallo?")
    moved = call(fake_telegram, "sendMessage", chat_id=group, text="Hallo?")
    assert error(blocked) == (403, "Forbidden: bot was blocked by the user", {})
    assert error(moved) == (
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": new_id},
    )
    assert result(call(fake_telegram, "sendMessage", chat_id=new_id, text="Hallo!"))


def test_it_deletes_only_within_48_hours(frozen_telegram: ServedTelegram, clock: Any) -> None:
    frozen_telegram.add_private_message("eins")
    frozen_telegram.add_private_message("zwei")
    clock.now += timedelta(hours=47, minutes=59)
    assert result(call(frozen_telegram, "deleteMessage", chat_id=JANE, message_id=1)) is True
    clock.now += timedelta(minutes=2)
    refused = call(frozen_telegram, "deleteMessage", chat_id=JANE, message_id=2)
    assert error(refused) == (400, "Bad Request: message can't be deleted", {})
    again = call(frozen_telegram, "deleteMessage", chat_id=JANE, message_id=1)
    assert error(again) == (400, "Bad Request: message to delete not found", {})
    assert [a["method"] for a in frozen_telegram.actions()] == ["deleteMessage"]


def test_in_groups_it_deletes_others_messages_only_as_an_admin(
    fake_telegram: ServedTelegram,
) -> None:
    group = fake_telegram.add_group()
    fake_telegram.add_group_message("Spam", chat_id=group)
    own = result(call(fake_telegram, "sendMessage", chat_id=group, text="Hallo"))
    refused = call(fake_telegram, "deleteMessage", chat_id=group, message_id=1)
    assert error(refused)[:2] == (400, "Bad Request: message can't be deleted")
    assert result(call(fake_telegram, "deleteMessage", chat_id=group, message_id=own["message_id"]))
    fake_telegram.set_bot_can_delete(group, True)
    assert result(
        call(fake_telegram, "deleteMessage", chat_id=f"@{'shop_community'}", message_id=1)
    )


def test_it_sets_one_emoji_reaction(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("Danke!")
    thumbs = [{"type": "emoji", "emoji": "👍"}]
    assert result(
        call(fake_telegram, "setMessageReaction", chat_id=JANE, message_id=1, reaction=thumbs)
    )
    assert fake_telegram.message(JANE, 1)["bot_reactions"] == ["👍"]
    invalid = call(
        fake_telegram,
        "setMessageReaction",
        chat_id=JANE,
        message_id=1,
        reaction=[{"type": "emoji", "emoji": "🦖"}],
    )
    too_many = call(
        fake_telegram,
        "setMessageReaction",
        chat_id=JANE,
        message_id=1,
        reaction=[*thumbs, {"type": "emoji", "emoji": "🔥"}],
    )
    missing = call(fake_telegram, "setMessageReaction", chat_id=JANE, message_id=9, reaction=thumbs)
    assert error(invalid)[1] == "Bad Request: REACTION_INVALID"
    assert error(too_many)[1] == "Bad Request: REACTIONS_TOO_MANY"
    assert error(missing)[1] == "Bad Request: message to react not found"


def test_it_reports_the_bot_and_its_privacy_mode(serve_telegram: Any) -> None:
    private = serve_telegram()
    open_bot = serve_telegram(privacy_mode=False)
    me = result(call(private, "getMe"))
    assert (me["id"], me["username"], me["is_bot"]) == (7000000001, "shop_bot", True)
    assert me["can_read_all_group_messages"] is False
    assert result(call(open_bot, "getMe"))["can_read_all_group_messages"] is True


# Admin endpoints


def test_it_seeds_messages_edits_and_raw_updates(fake_telegram: ServedTelegram) -> None:
    admin = f"{fake_telegram.url}/__admin"
    private = requests.post(
        f"{admin}/seed",
        json={"text": "Hallo", "username": "kaethe_w", "first_name": "Käthe"},
        timeout=5,
    )
    topic = requests.post(f"{admin}/seed", json={"text": "Hilfe", "chat": "topic"}, timeout=5)
    chat_id = private.json()["message"]["chat"]["id"]
    edit = requests.post(
        f"{admin}/seed",
        json={"edit": {"chat_id": chat_id, "message_id": 1, "text": "Hallo!"}},
        timeout=5,
    )
    raw = requests.post(f"{admin}/seed", json={"raw": {"callback_query": {"id": "7"}}}, timeout=5)
    bad = requests.post(f"{admin}/seed", json={"chat": "private"}, timeout=5)
    assert [r.status_code for r in (private, topic, edit, raw, bad)] == [201, 201, 201, 201, 400]
    assert private.json()["message"]["from"]["first_name"] == "Käthe"
    assert topic.json()["message"]["is_topic_message"] is True
    assert edit.json()["edited_message"]["text"] == "Hallo!"
    kinds = [next(iter(u.keys() - {"update_id"})) for u in fake_telegram.pending_updates()]
    # The forum topic's creation notice comes before the first message in it.
    assert kinds == ["message", "message", "message", "edited_message", "callback_query"]


def test_it_reports_calls_and_resets_through_admin_endpoints(
    fake_telegram: ServedTelegram,
) -> None:
    call(fake_telegram, "getUpdates", timeout=0)
    [recorded] = requests.get(f"{fake_telegram.url}/__admin/calls", timeout=5).json()
    assert (recorded["method"], recorded["status"], recorded["json"]) == (
        "POST",
        200,
        {"timeout": 0},
    )
    requests.post(f"{fake_telegram.url}/__admin/reset", timeout=5)
    assert fake_telegram.calls() == []


def test_it_escapes_hostile_text_on_the_admin_page(fake_telegram: ServedTelegram) -> None:
    fake_telegram.add_private_message("<script>alert(1)</script>", first_name="<img src=x>")
    call(fake_telegram, "sendMessage", chat_id=JANE, text="<script>alert(2)</script>")
    page = requests.get(f"{fake_telegram.url}/__admin/", timeout=5)
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text


def test_it_works_under_a_path_prefix() -> None:
    fake = FakeTelegram()
    app = DispatcherMiddleware(Response("not here", 404), {"/telegram": fake.wsgi_app})
    with FakeServer(app) as server:
        base = f"{server.url}/telegram"
        me = requests.get(f"{base}/bot{DEMO_TOKEN}/getMe", timeout=5).json()
        form = requests.post(
            f"{base}/__admin/message",
            data={"text": "Moin", "chat": "group"},
            allow_redirects=False,
            timeout=5,
        )
        page = requests.get(f"{base}/__admin/", timeout=5)
    assert me["result"]["username"] == "shop_bot"
    assert (form.status_code, form.headers["Location"]) == (303, "/telegram/__admin/")
    assert f"API base URL: {base}" in page.text
    assert fake.pending_updates()[0]["message"]["chat"]["type"] == "supergroup"


# Demo


def test_it_has_a_varied_bilingual_pool() -> None:
    assert len(MESSAGES["de"]) + len(MESSAGES["en"]) >= 30
    assert abs(len(MESSAGES["de"]) - len(MESSAGES["en"])) <= 2
    assert len(PERSONAS) >= 20 and set(FOLLOW_UPS) == {"de", "en"}
    assert any(ch in p.first_name + p.last_name for p in PERSONAS for ch in "äöüÄÖÜß")


def test_it_follows_up_in_the_same_chat_and_reaches_groups_and_topics() -> None:
    fake = FakeTelegram()
    generator = MessageGenerator(fake, seed=3, follow_up_chance=1.0, photo_chance=0.2)
    updates = [generator.emit() for _ in range(60)]
    messages = [u["message"] for u in updates]
    assert {m["chat"]["type"] for m in messages} == {"private", "supergroup"}
    assert any(m.get("is_topic_message") for m in messages)
    assert any("photo" in m for m in messages)
    replies = [m for m in messages if "reply_to_message" in m and "text" in m["reply_to_message"]]
    assert replies
    for reply in replies:
        assert reply["reply_to_message"]["from"]["id"] == reply["from"]["id"]


def test_it_generates_messages_and_stops_promptly() -> None:
    fake = FakeTelegram()
    generator = MessageGenerator(fake, interval=0.01, seed=1).start()
    deadline = time.monotonic() + 5
    while len(fake.pending_updates()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    generator.stop()
    assert time.monotonic() - started < 0.5 and not generator.running
    assert len(fake.pending_updates()) >= 3


def test_the_demo_channel_connects_to_the_fake(fake_telegram: ServedTelegram) -> None:
    settings, credentials = demo_channel(fake_telegram.url)
    assert credentials == {"bot_token": DEMO_TOKEN}
    from channels_integrations.base import ConnectionSettings
    from channels_integrations.http import platform_session

    connector = TelegramConnector(
        ConnectionSettings(settings=settings, credentials=credentials), platform_session()
    )
    assert all(check.ok for check in connector.test_connection())
    assert connector_for(fake_telegram).long_poll_seconds == 1
    assert connector.long_poll_seconds == settings["long_poll_seconds"]
