"""The X connector against the documented payloads and the fake X over real HTTP."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from channels_integrations.base import (
    Capability,
    InboundAuthor,
    InboundItem,
    ItemState,
    ReplyTarget,
    SentItem,
)
from channels_integrations.errors import (
    AuthExpired,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.x.connector import XConnector
from channels_integrations.x.fake import BRAND_USER_ID
from channels_integrations.x.normalize import normalize_mention, normalize_page
from tests.channels_integrations.x.conftest import ServedX, connector_for, served, x_settings

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "x" / "fixtures"
ALL = {"newest_id": "1"}  # a cursor below every id: fetches the whole (reachable) history


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fetch_all(connector: XConnector, cursor: dict[str, Any] | None = None) -> list[InboundItem]:
    cursor = dict(ALL if cursor is None else cursor)
    items: list[InboundItem] = []
    for _ in range(20):
        page = connector.fetch_page(cursor)
        items += page.items
        cursor = page.cursor
        if page.caught_up:
            return items
    raise AssertionError("never caught up")


def target_for(item: InboundItem, **fields: Any) -> ReplyTarget:
    return ReplyTarget(
        external_id=item.external_id,
        author_handle=item.author.handle,
        raw=item.raw,
        author_external_id=item.author.external_id,
        thread_key=item.thread_key,
        parent_external_id=item.parent_external_id,
        **fields,
    )


def one_item(fake: ServedX, text: str) -> InboundItem:
    [item] = [i for i in fetch_all(connector_for(fake)) if i.text.endswith(text)]
    return item


# Normalization


def test_it_normalizes_the_documented_mentions_page() -> None:
    items, skipped = normalize_page(
        fixture("mentions_page.json"),
        account_user_id="2244994945",
        account_username="XDevelopers",
    )
    [item] = items
    assert skipped == []
    assert item.external_id == "1901573587187331074"
    assert item.kind == "mention"
    assert item.thread_key == "1901570000000000000"
    assert item.parent_external_id == "1901570000000000000"
    assert item.post_external_id == "1901570000000000000"
    assert item.post_permalink == "https://x.com/XDevelopers/status/1901570000000000000"
    assert item.author == InboundAuthor(
        external_id="1234567890",
        handle="janedoe",
        display_name="Jane Doe",
        avatar_url="https://pbs.twimg.com/profile_images/1/jane_normal.jpg",
        profile_url="https://x.com/janedoe",
    )
    assert item.text == "@XDevelopers love the new API! when is v3?"
    assert item.created_at == datetime(2026, 3, 22, 18, 20, 4, tzinfo=UTC)
    assert item.permalink == "https://x.com/janedoe/status/1901573587187331074"
    assert (item.edited_at, item.from_self, item.state) == (None, False, "visible")
    assert item.raw["tweet"]["id"] == "1901573587187331074"


def test_an_empty_page_has_no_items() -> None:
    assert normalize_page(fixture("mentions_empty.json"), account_user_id=BRAND_USER_ID) == ([], [])


def test_it_reports_an_edited_post_under_its_original_id() -> None:
    post = fixture("edited_post.json")["data"] | {
        "author_id": "1234567890",
        "created_at": "2026-03-22T18:25:00.000Z",
    }
    item = normalize_mention(post, users={}, tweets={}, account_user_id=BRAND_USER_ID)
    assert item is not None
    assert item.external_id == "1234567890"
    assert item.text == "Updated text (edited)"
    assert item.edited_at == datetime(2026, 3, 22, 18, 25, tzinfo=UTC)
    assert item.raw["tweet"]["id"] == "1234567891"


def test_it_never_keeps_unsafe_urls() -> None:
    post = {
        "id": "20",
        "text": "@brand look https://t.co/abc",
        "author_id": "7",
        "created_at": "2026-03-22T18:20:04.000Z",
        "entities": {"urls": [{"url": "https://t.co/abc", "expanded_url": "javascript:alert(1)"}]},
    }
    users = {"7": {"id": "7", "username": "eve", "name": "Eve", "profile_image_url": "data:x"}}
    item = normalize_mention(post, users=users, tweets={}, account_user_id=BRAND_USER_ID)
    assert item is not None
    assert item.text == "@brand look https://t.co/abc"
    assert item.attachments == ()
    assert item.author.avatar_url == ""


def test_it_keeps_long_html_and_emoji_texts_as_written(fake_x: ServedX) -> None:
    long_text = "Sehr lange Beschwerde über die Lieferung. " * 240
    fake_x.add_mention(long_text)
    fake_x.add_mention("<b>Fett</b> & <script>x</script> 😀👍🏽 ✔")
    fake_x.add_mention("Siehe https://example.com/bestellung?id=1&x=2 bitte")
    texts = {i.text: i for i in fetch_all(connector_for(fake_x))}
    assert f"@brand {long_text}" in texts
    assert len(f"@brand {long_text}") > 10_000
    assert "@brand <b>Fett</b> & <script>x</script> 😀👍🏽 ✔" in texts
    linked = texts["@brand Siehe https://example.com/bestellung?id=1&x=2 bitte"]
    assert linked.attachments == (
        {
            "name": "example.com/bestellung?id=…",
            "url": "https://example.com/bestellung?id=1&x=2",
            "type": "link",
        },
    )


def test_it_marks_posts_by_the_account_itself(fake_x: ServedX) -> None:
    fake_x.add_mention("Wir sind heute bis 20 Uhr da, @brand-Team", username="brand")
    fake_x.add_mention("Hallo!", username="jana")
    by_author = {i.author.handle: i for i in fetch_all(connector_for(fake_x))}
    assert by_author["brand"].from_self is True
    assert by_author["jana"].from_self is False


def test_it_groups_replies_by_conversation_and_names_the_post(fake_x: ServedX) -> None:
    post = fake_x.add_post("Unsere Herbstkollektion ist da! 🍂")
    fake_x.add_mention("Gibt's die Jacke in XL?", username="jana", in_reply_to=post["id"])
    top = fake_x.add_mention("Where is my order?", username="sam")
    fake_x.add_mention("Any update?", username="sam", in_reply_to=top["id"])
    items = {i.text: i for i in fetch_all(connector_for(fake_x))}
    reply = items["@brand Gibt's die Jacke in XL?"]
    assert (reply.thread_key, reply.parent_external_id) == (post["id"], post["id"])
    assert reply.post_text == "Unsere Herbstkollektion ist da! 🍂"
    assert reply.post_permalink == f"https://x.com/brand/status/{post['id']}"
    follow_up = items["@brand Any update?"]
    assert (follow_up.thread_key, follow_up.parent_external_id) == (top["id"], top["id"])
    assert items["@brand Where is my order?"].post_external_id == ""


def test_it_leaves_out_retweets(fake_x: ServedX) -> None:
    kept = fake_x.add_mention("Kept")
    fake_x.add_raw_mention(
        {
            "id": str(int(kept["id"]) + 5),
            "text": "RT @brand: Neue Kollektion!",
            "author_id": kept["author_id"],
            "created_at": kept["created_at"],
            "referenced_tweets": [{"type": "retweeted", "id": "5"}],
        }
    )
    page = connector_for(fake_x).fetch_page(ALL)
    assert [i.text for i in page.items] == ["@brand Kept"]
    assert page.skipped == []


def test_it_skips_malformed_mentions_and_keeps_the_rest(fake_x: ServedX) -> None:
    before = fake_x.add_mention("before")
    base = int(before["id"])
    good = {k: before[k] for k in ("author_id", "created_at", "text")}
    broken = [
        good | {"id": str(base + 1), "text": 5},
        good | {"id": str(base + 2), "created_at": "gestern"},
        good | {"id": str(base + 3), "created_at": "2026-03-22T18:20:04"},
        good | {"id": str(base + 4), "referenced_tweets": "nope"},
        good | {"id": str(base + 5), "author_id": None},
        good | {"id": str(base + 6), "edit_history_tweet_ids": []},
    ]
    for payload in broken:
        fake_x.add_raw_mention(payload)
    fake_x.add_raw_mention({"text": "no id at all"})
    fake_x.add_mention("after")
    page = connector_for(fake_x).fetch_page({"newest_id": str(base - 1)})
    assert sorted(i.text for i in page.items) == ["@brand after", "@brand before"]
    assert sorted(s.external_id for s in page.skipped) == sorted([p["id"] for p in broken] + [""])
    reasons = " ".join(s.reason for s in page.skipped)
    for word in ("text", "created_at", "time zone", "referenced_tweets", "author_id", "edit"):
        assert word in reasons


def test_a_deleted_parent_costs_only_context(fake_x: ServedX) -> None:
    post = fake_x.add_post("Gewinnspiel!")
    fake_x.add_mention("Bin dabei", username="jana", in_reply_to=post["id"])
    fake_x.delete_as_author(post["id"])
    page = connector_for(fake_x).fetch_page(ALL)
    [item] = page.items
    assert (item.thread_key, item.post_text) == (post["id"], "")
    assert page.skipped == []


def test_a_partial_error_about_a_mention_is_recorded_as_skipped(fake_x: ServedX) -> None:
    fake_x.add_mention("visible")
    error = {
        "value": "1901573587187331999",
        "detail": "Sorry, you are not authorized to see the Tweet with id: [1901573587187331999].",
        "title": "Authorization Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": "1901573587187331999",
        "type": "https://api.x.com/2/problems/not-authorized-for-resource",
    }
    fake_x.add_partial_error(error)
    page = connector_for(fake_x).fetch_page(ALL)
    assert [i.text for i in page.items] == ["@brand visible"]
    [skipped] = page.skipped
    assert skipped.external_id == "1901573587187331999"
    assert "not authorized to see the Tweet" in skipped.reason


# Polling and the cursor


def test_a_new_channel_takes_only_the_newest_page(fake_x: ServedX) -> None:
    for n in range(120):
        fake_x.add_mention(f"old {n}")
    page = connector_for(fake_x).fetch_page({})
    assert len(page.items) == 100
    assert page.caught_up
    assert page.cursor == {"newest_id": fake_x.mentions()[0]["id"]}
    [call] = fake_x.calls()
    assert call["path"] == f"/2/users/{BRAND_USER_ID}/mentions"
    assert call["query"] == {
        "max_results": ["100"],
        "expansions": ["author_id,referenced_tweets.id,in_reply_to_user_id"],
        "tweet.fields": [
            "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,"
            "entities,lang,edit_history_tweet_ids"
        ],
        "user.fields": ["username,name,profile_image_url"],
    }


def test_it_polls_for_new_mentions_with_since_id(fake_x: ServedX) -> None:
    first = fake_x.add_mention("first")
    connector = connector_for(fake_x)
    start = connector.fetch_page({})
    assert start.cursor == {"newest_id": first["id"]}
    fake_x.add_mention("second")
    third = fake_x.add_mention("third")
    page = connector.fetch_page(start.cursor)
    assert [i.text for i in page.items] == ["@brand third", "@brand second"]
    assert page.cursor == {"newest_id": third["id"]} and page.caught_up
    quiet = connector.fetch_page(page.cursor)
    assert (quiet.items, quiet.cursor, quiet.caught_up) == ([], page.cursor, True)
    queries = [c["query"] for c in fake_x.calls()]
    assert [q.get("since_id") for q in queries] == [None, [first["id"]], [third["id"]]]


def test_a_run_of_several_pages_moves_the_mark_only_at_its_end(fake_x: ServedX) -> None:
    fake_x.add_mention("seen")
    connector = connector_for(fake_x)
    mark = connector.fetch_page({}).cursor["newest_id"]
    for n in range(250):
        fake_x.add_mention(f"new {n}")
    newest = fake_x.mentions()[0]["id"]

    first = connector.fetch_page({"newest_id": mark})
    assert len(first.items) == 100 and not first.caught_up
    assert first.cursor["newest_id"] == mark
    assert first.cursor["pending_newest_id"] == newest
    assert set(first.cursor) == {"newest_id", "pending_newest_id", "pagination_token"}
    second = connector.fetch_page(first.cursor)
    assert second.cursor["newest_id"] == mark and not second.caught_up
    last = connector.fetch_page(second.cursor)
    assert len(last.items) == 50 and last.caught_up
    assert last.cursor == {"newest_id": newest}
    texts = {i.text for i in first.items + second.items + last.items}
    assert texts == {f"@brand new {n}" for n in range(250)}
    since = {c["query"]["since_id"][0] for c in fake_x.calls()[1:]}
    assert since == {mark}


def test_a_run_that_breaks_off_resumes_where_it_stopped(fake_x: ServedX) -> None:
    for n in range(150):
        fake_x.add_mention(f"m {n}")
    connector = connector_for(fake_x)
    first = connector.fetch_page(ALL)
    fake_x.fail_next(503)
    with pytest.raises(Transient):
        connector.fetch_page(first.cursor)
    rest = connector.fetch_page(first.cursor)
    assert rest.caught_up
    assert len({i.external_id for i in first.items + rest.items}) == 150


def test_a_refused_pagination_token_restarts_the_run_from_the_mark(fake_x: ServedX) -> None:
    for n in range(150):
        fake_x.add_mention(f"m {n}")
    connector = connector_for(fake_x)
    first = connector.fetch_page(ALL)
    fake_x.expire_pagination_tokens()
    restart = connector.fetch_page(first.cursor)
    assert (restart.items, restart.cursor, restart.caught_up) == ([], ALL, False)
    assert len({i.external_id for i in fetch_all(connector, restart.cursor)}) == 150


def test_it_backfills_history_no_further_than_the_800_most_recent() -> None:
    now = datetime.now(UTC)
    with served(ServedX(mention_window=8)) as fake:
        for days_ago in range(12, 0, -1):
            fake.add_mention(f"{days_ago} days ago", created_at=now - timedelta(days=days_ago))
        connector = connector_for(fake)
        cursor = connector.initial_cursor(backfill_since=now - timedelta(days=10, hours=1))
        assert cursor == {
            "start_time": (now - timedelta(days=10, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        }
        texts = [i.text for i in fetch_all(connector, cursor)]
    # The window holds the 8 newest; the date would reach 10.
    assert texts == [f"@brand {d} days ago" for d in range(1, 9)]


def test_an_edit_arrives_as_the_same_message_with_the_new_text(fake_x: ServedX) -> None:
    original = fake_x.add_mention("Lieferung ist gekommen, danke")
    connector = connector_for(fake_x)
    cursor = connector.fetch_page({}).cursor
    edited = fake_x.edit_as_author(original["id"], "Lieferung ist gekommen, danke! 🎉")
    page = connector.fetch_page(cursor)
    [item] = page.items
    assert item.external_id == original["id"]
    assert item.text == "@brand Lieferung ist gekommen, danke! 🎉"
    assert item.edited_at == datetime.fromisoformat(edited["created_at"])
    assert item.created_at == datetime.fromisoformat(original["created_at"])
    assert page.cursor == {"newest_id": edited["id"]}


# Errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, Transient),
        (502, Transient),
        (503, Transient),
        (400, InvalidRequest),
        (403, PermissionDenied),
        (404, NotFound),
    ],
)
def test_it_maps_error_statuses_to_the_taxonomy(
    fake_x: ServedX, status: int, error: type[Exception]
) -> None:
    fake_x.fail_next(status)
    with pytest.raises(error):
        connector_for(fake_x).fetch_page(ALL)


def test_a_proxy_page_or_garbage_is_transient(fake_x: ServedX) -> None:
    fake_x.fail_next(502, body="<html>Bad Gateway</html>")
    fake_x.fail_next(200, body="<html>maintenance</html>")
    for _ in range(2):
        with pytest.raises(Transient):
            connector_for(fake_x).fetch_page(ALL)


def test_xs_problem_detail_becomes_the_sentence_shown(fake_x: ServedX) -> None:
    fake_x.fail_next(400, body=fixture("error_invalid_request.json"))
    with pytest.raises(InvalidRequest) as caught:
        connector_for(fake_x).fetch_page(ALL)
    assert caught.value.message == (
        "X refused to list the mentions: The 'query' parameter is required. (Invalid Request)"
    )
    assert caught.value.permanent


def test_a_429_waits_for_the_reset_header_whatever_the_body_says(fake_x: ServedX) -> None:
    reset = datetime(2100, 1, 1, tzinfo=UTC)
    headers = {
        "x-rate-limit-limit": "10",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(reset.timestamp())),
    }
    fake_x.fail_next(429, body=fixture("error_rate_limit_v11.json"), headers=headers)
    fake_x.fail_next(429, headers=headers)
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            connector_for(fake_x).fetch_page(ALL)
        assert caught.value.retry_at == reset
        assert "rate limit" in caught.value.message


def test_a_used_up_daily_cap_waits_for_its_own_reset(fake_x: ServedX) -> None:
    soon = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    tomorrow = int((datetime.now(UTC) + timedelta(hours=20)).timestamp())
    headers = {
        "x-rate-limit-reset": str(soon),
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(tomorrow),
    }
    fake_x.fail_next(429, body={"title": "Too Many Requests"}, headers=headers)
    item_target = ReplyTarget(external_id="1", author_handle="x", raw={})
    with pytest.raises(RateLimited) as caught:
        connector_for(fake_x).reply(target=item_target, text="Hallo", idempotency_key="k")
    assert caught.value.retry_at == datetime.fromtimestamp(tomorrow, UTC)


def test_a_429_without_headers_waits_a_window(fake_x: ServedX) -> None:
    fake_x.fail_next(429, headers={})
    with pytest.raises(RateLimited) as caught:
        connector_for(fake_x).fetch_page(ALL)
    wait = caught.value.retry_at - datetime.now(UTC)
    assert timedelta(minutes=14) < wait <= timedelta(minutes=15)


def test_the_fakes_budget_rate_limits_the_poll_until_the_window_ends() -> None:
    clock_now = datetime(2100, 3, 22, 18, 21, 13, tzinfo=UTC)
    fake = ServedX(rate_limits={"GET /2/users/:id/mentions": 2}, clock=lambda: clock_now)
    with served(fake):
        connector = connector_for(fake)
        connector.fetch_page(ALL)
        connector.fetch_page(ALL)
        with pytest.raises(RateLimited) as caught:
            connector.fetch_page(ALL)
    assert caught.value.retry_at == datetime(2100, 3, 22, 18, 30, tzinfo=UTC)


def test_a_revoked_token_needs_reauthorization(fake_x: ServedX) -> None:
    fake_x.revoke_token("demo-token")
    with pytest.raises(AuthExpired) as caught:
        connector_for(fake_x).fetch_page(ALL)
    assert "connect the X account again" in caught.value.message
    assert "demo-token" not in caught.value.message


def test_an_unknown_account_is_not_found(fake_x: ServedX) -> None:
    connector = connector_for(fake_x, settings=x_settings(fake_x, user_id="999"))
    with pytest.raises(NotFound, match="Could not find user with id"):
        connector.fetch_page(ALL)


def test_a_platform_that_does_not_answer_in_time_is_transient(fake_x: ServedX) -> None:
    fake_x.set_delay(1.0)
    with pytest.raises(Transient, match="did not answer in time"):
        connector_for(fake_x, read_timeout=0.2).fetch_page(ALL)


def test_a_channel_without_account_id_is_refused(fake_x: ServedX) -> None:
    connector = connector_for(fake_x, settings=x_settings(fake_x, user_id=""))
    with pytest.raises(InvalidRequest, match="account id"):
        connector.fetch_page({})


# Actions


def test_it_replies_in_the_thread(fake_x: ServedX) -> None:
    fake_x.add_mention("Wo bleibt mein Paket?", username="jana")
    item = one_item(fake_x, "Wo bleibt mein Paket?")
    sent = connector_for(fake_x).reply(
        target=target_for(item), text="Wir schauen nach!", idempotency_key="k1"
    )
    [reply] = fake_x.replies_by_brand()
    assert sent == SentItem(reply["id"], f"https://x.com/brand/status/{reply['id']}")
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": item.external_id}]
    assert reply["conversation_id"] == item.thread_key
    assert reply["text"] == "@jana Wir schauen nach!"
    post = [c for c in fake_x.calls() if c["method"] == "POST"][-1]
    assert post["json"] == {
        "text": "Wir schauen nach!",
        "reply": {"in_reply_to_tweet_id": item.external_id},
    }


def test_a_too_long_reply_is_refused_before_sending(fake_x: ServedX) -> None:
    fake_x.add_mention("Frage")
    target = target_for(one_item(fake_x, "Frage"))
    connector = connector_for(fake_x)
    for text in ("ä" * 281, "😀" * 141, "字" * 141):
        with pytest.raises(InvalidRequest, match="X allows 280"):
            connector.reply(target=target, text=text, idempotency_key="k")
    assert not [c for c in fake_x.calls() if c["method"] == "POST"]
    connector.reply(target=target, text="😀" * 140, idempotency_key="k")
    assert len(fake_x.replies_by_brand()) == 1


def test_a_reply_to_a_deleted_post_is_refused_with_xs_reason(fake_x: ServedX) -> None:
    mention = fake_x.add_mention("Frage")
    target = target_for(one_item(fake_x, "Frage"))
    fake_x.delete_as_author(mention["id"])
    with pytest.raises(PermissionDenied) as caught:
        connector_for(fake_x).reply(target=target, text="Antwort", idempotency_key="k")
    assert caught.value.permanent
    assert caught.value.message == (
        "X refused to post the reply: You attempted to reply to a Tweet that is deleted or not "
        "visible to you. (Forbidden)"
    )


def test_a_retry_refused_as_duplicate_returns_the_reply_already_there(fake_x: ServedX) -> None:
    fake_x.add_mention("Frage")
    target = target_for(one_item(fake_x, "Frage"))
    connector = connector_for(fake_x)
    first = connector.reply(target=target, text="Danke!", idempotency_key="k1")
    again = connector.reply(target=target, text="Danke!", idempotency_key="k2")
    assert again == first
    assert len(fake_x.replies_by_brand()) == 1


def test_x_refuses_the_same_text_to_the_same_person_elsewhere(fake_x: ServedX) -> None:
    fake_x.add_mention("Frage eins", username="jana")
    fake_x.add_mention("Frage zwei", username="jana")
    connector = connector_for(fake_x)
    first = target_for(one_item(fake_x, "Frage eins"))
    second = target_for(one_item(fake_x, "Frage zwei"))
    connector.reply(target=first, text="Danke!", idempotency_key="k1")
    with pytest.raises(PermissionDenied, match="duplicate content"):
        connector.reply(target=second, text="Danke!", idempotency_key="k2")
    assert len(fake_x.replies_by_brand()) == 1


def test_it_hides_and_unhides_a_reply_in_our_conversation(fake_x: ServedX) -> None:
    post = fake_x.add_post("Gewinnspiel!")
    reply = fake_x.add_mention("Spam spam", username="spammer", in_reply_to=post["id"])
    target = target_for(one_item(fake_x, "Spam spam"))
    assert XConnector.unavailable_reason(Capability.HIDE, target) == ""
    connector = connector_for(fake_x)
    connector.set_hidden(target=target, hidden=True)
    assert fake_x.tweet(reply["id"])["hidden"] is True
    connector.set_hidden(target=target, hidden=False)
    assert fake_x.tweet(reply["id"])["hidden"] is False
    assert [a["action"] for a in fake_x.actions()] == ["hide", "unhide"]


def test_it_cannot_hide_replies_in_someone_elses_conversation(fake_x: ServedX) -> None:
    root = fake_x.add_mention("Was haltet ihr von @brand?", username="other")
    fake_x.add_mention("Nicht viel", username="jana", in_reply_to=root["id"])
    target = target_for(one_item(fake_x, "Nicht viel"))
    assert "started by someone else" in XConnector.unavailable_reason(Capability.HIDE, target)
    with pytest.raises(PermissionDenied, match="conversations you started"):
        connector_for(fake_x).set_hidden(target=target, hidden=True)
    assert fake_x.actions() == []


def test_it_deletes_our_own_reply(fake_x: ServedX) -> None:
    fake_x.add_mention("Frage")
    item = one_item(fake_x, "Frage")
    connector = connector_for(fake_x)
    sent = connector.reply(target=target_for(item), text="Antwort", idempotency_key="k")
    ours = ReplyTarget(
        external_id=sent.external_id, author_handle="brand", raw={}, direction="outbound"
    )
    assert XConnector.unavailable_reason(Capability.DELETE, ours) == ""
    connector.delete(target=ours)
    assert fake_x.tweet(sent.external_id)["deleted"] is True


def test_it_cannot_delete_other_peoples_posts(fake_x: ServedX) -> None:
    mention = fake_x.add_mention("Frage")
    target = target_for(one_item(fake_x, "Frage"))
    assert XConnector.unavailable_reason(Capability.DELETE, target) == (
        "X only lets you delete your own posts."
    )
    with pytest.raises(PermissionDenied, match="not allowed to delete"):
        connector_for(fake_x).delete(target=target)
    assert fake_x.tweet(mention["id"])["deleted"] is False


def test_it_likes_a_mention(fake_x: ServedX) -> None:
    mention = fake_x.add_mention("Tolles Produkt!")
    connector_for(fake_x).like(target=target_for(one_item(fake_x, "Tolles Produkt!")))
    assert fake_x.tweet(mention["id"])["liked"] is True
    [call] = [c for c in fake_x.calls() if c["method"] == "POST"]
    assert (call["path"], call["json"]) == (
        f"/2/users/{BRAND_USER_ID}/likes",
        {"tweet_id": mention["id"]},
    )


def test_actions_go_to_the_newest_version_of_an_edited_post(fake_x: ServedX) -> None:
    original = fake_x.add_mention("Tolle Sache")
    edited = fake_x.edit_as_author(original["id"], "Tolle Sache!!")
    [item] = fetch_all(connector_for(fake_x))
    assert item.external_id == original["id"]
    connector_for(fake_x).like(target=target_for(item))
    assert fake_x.tweet(edited["id"])["liked"] is True


def test_the_platform_rules_decide_what_is_offered() -> None:
    me = BRAND_USER_ID

    def target(tweet: dict[str, Any], **fields: Any) -> ReplyTarget:
        raw = {"tweet": tweet, "account_user_id": me, "referenced_tweets": []}
        return ReplyTarget(external_id=tweet["id"], author_handle="x", raw=raw, **fields)

    root = target({"id": "10", "author_id": "7", "conversation_id": "10"})
    in_ours = target(
        {
            "id": "11",
            "author_id": "7",
            "conversation_id": "9",
            "in_reply_to_user_id": me,
            "referenced_tweets": [{"type": "replied_to", "id": "9"}],
        }
    )
    deep_unknown = target(
        {
            "id": "12",
            "author_id": "7",
            "conversation_id": "9",
            "in_reply_to_user_id": "8",
            "referenced_tweets": [{"type": "replied_to", "id": "11"}],
        }
    )
    ours = target({"id": "13", "author_id": me, "conversation_id": "9"})
    reason = XConnector.unavailable_reason
    assert "starts its own conversation" in reason(Capability.HIDE, root)
    assert reason(Capability.REPLY, root) == reason(Capability.LIKE, root) == ""
    assert reason(Capability.HIDE, in_ours) == reason(Capability.UNHIDE, in_ours) == ""
    assert reason(Capability.HIDE, deep_unknown) == ""  # X decides
    assert reason(Capability.HIDE, ours) == "X does not let you hide your own posts."
    assert reason(Capability.DELETE, ours) == ""
    deleted = target({"id": "14", "author_id": "7"}, state=ItemState.DELETED)
    assert reason(Capability.REPLY, deleted) == "The post was deleted on X."
    assert reason(Capability.PRIVATE_REPLY, root) == "The platform does not support this."
    assert reason(Capability.BAN, root) == "The platform does not support this."


# Reconciliation after an ambiguous failure


def test_it_finds_a_reply_that_timed_out_instead_of_posting_twice(fake_x: ServedX) -> None:
    fake_x.add_mention("Wann öffnet ihr?", username="jana")
    target = target_for(one_item(fake_x, "Wann öffnet ihr?"))
    text = "Ab 9 Uhr & bis 20 Uhr <3"
    sent_at = datetime.now(UTC)
    fake_x.accept_then_stall(2, path_prefix="/2/tweets", method="POST")
    with pytest.raises(Transient, match="did not answer in time"):
        connector_for(fake_x, read_timeout=0.5).reply(
            target=target, text=text, idempotency_key="k1"
        )
    found = connector_for(fake_x).find_sent_reply(target=target, text=text, not_before=sent_at)
    [reply] = fake_x.replies_by_brand()
    assert found == SentItem(reply["id"], f"https://x.com/brand/status/{reply['id']}")
    assert len(fake_x.replies_by_brand()) == 1


def test_it_finds_no_reply_that_never_got_through(fake_x: ServedX) -> None:
    fake_x.add_mention("Frage eins", username="jana")
    fake_x.add_mention("Frage zwei", username="tom")
    first = target_for(one_item(fake_x, "Frage eins"))
    second = target_for(one_item(fake_x, "Frage zwei"))
    connector = connector_for(fake_x)
    started = datetime.now(UTC)
    connector.reply(target=second, text="Danke!", idempotency_key="k")
    assert connector.find_sent_reply(target=first, text="Danke!", not_before=started) is None
    assert connector.find_sent_reply(target=second, text="Anders", not_before=started) is None


# Setup


def test_it_reports_a_working_connection(fake_x: ServedX) -> None:
    checks = connector_for(fake_x).test_connection()
    assert [(c.name, c.ok) for c in checks] == [
        ("Access token", True),
        ("Account", True),
        ("Mentions", True),
        ("Own posts", True),
    ]
    assert checks[0].detail == f"The token belongs to @brand (id {BRAND_USER_ID})."


def test_it_reports_a_revoked_token_without_raising(fake_x: ServedX) -> None:
    fake_x.revoke_token("demo-token")
    [check] = connector_for(fake_x).test_connection()
    assert (check.name, check.ok) == ("Access token", False)
    assert "did not accept the access token" in check.detail


def test_it_reports_an_unreachable_platform_without_raising(fake_x: ServedX) -> None:
    settings = x_settings(fake_x, base_url="http://127.0.0.1:9/2")
    [check] = connector_for(fake_x, settings=settings).test_connection()
    assert (check.name, check.ok) == ("Connection", False)
    assert "X could not be reached" in check.detail


def test_it_reports_a_token_of_another_account(fake_x: ServedX) -> None:
    connector = connector_for(fake_x, settings=x_settings(fake_x, user_id="42"))
    checks = connector.test_connection()
    assert (checks[-1].name, checks[-1].ok) == ("Account", False)
    assert "replies would be posted as @brand" in checks[-1].detail


def test_it_asks_for_what_an_admin_must_type() -> None:
    fields = {f.name: f for f in XConnector.setup_fields}
    assert list(fields) == [
        "base_url",
        "user_id",
        "username",
        "client_id",
        "access_token",
        "refresh_token",
        "client_secret",
    ]
    assert (fields["base_url"].initial, fields["base_url"].input_type) == (
        "https://api.x.com/2",
        "url",
    )
    assert {n for n, f in fields.items() if f.secret} == {
        "access_token",
        "refresh_token",
        "client_secret",
    }
    assert "800" in XConnector.backfill_note
    assert XConnector.max_reply_length == 280


def test_the_initial_cursor_is_empty_or_the_backfill_date() -> None:
    connector = XConnector.__new__(XConnector)
    assert connector.initial_cursor(backfill_since=None) == {}
    berlin = timezone(timedelta(hours=1))
    since = datetime(2026, 3, 1, 12, 30, 15, 500, tzinfo=berlin)
    assert connector.initial_cursor(backfill_since=since) == {"start_time": "2026-03-01T11:30:15Z"}


# Token refresh and pacing


def test_it_renews_an_expired_token_with_the_refresh_token(fake_x: ServedX) -> None:
    fake_x.add_mention("Hallo")
    fake_x.add_refresh_token("rt-1", client_id="client-1")
    connector = connector_for(
        fake_x,
        settings=x_settings(fake_x, client_id="client-1"),
        credentials={"access_token": "expired", "refresh_token": "rt-1"},
    )
    assert [i.text for i in connector.fetch_page(ALL).items] == ["@brand Hallo"]
    renewed = connector.updated_credentials
    assert renewed is not None
    assert renewed["access_token"] != "expired" and renewed["refresh_token"] != "rt-1"
    assert datetime.fromisoformat(renewed["expires_at"]) > datetime.now(UTC)
    again = connector_for(fake_x, token=renewed["access_token"])
    assert again.fetch_page(ALL).items
    stale = connector_for(
        fake_x,
        settings=x_settings(fake_x, client_id="client-1"),
        credentials={"access_token": "expired", "refresh_token": "rt-1"},
    )
    with pytest.raises(AuthExpired, match="refused to refresh"):
        stale.fetch_page(ALL)


def test_it_spreads_polls_over_the_rate_limit_window() -> None:
    with served(ServedX(rate_limits={"GET /2/users/:id/mentions": 3})) as fake:
        connector = connector_for(fake)
        assert connector.next_poll_delay(60) == 60  # nothing known yet
        connector.fetch_page(ALL)
        now = datetime.now(UTC)
        window_end = datetime.fromtimestamp((int(now.timestamp()) // 900 + 1) * 900, UTC)
        left = (window_end - now).total_seconds()
        assert abs(connector.next_poll_delay(1) - math.ceil(left / 2)) <= 2
        connector.fetch_page(ALL)
        connector.fetch_page(ALL)
        assert abs(connector.next_poll_delay(1) - (math.ceil(left) + 1)) <= 2


# Through the real poll engine


@pytest.mark.django_db
def test_polling_groups_mentions_into_conversations(
    fake_x: ServedX, live_events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    from django.utils import timezone

    from channels_integrations.models import ChannelAccount
    from channels_integrations.polling import poll_channel
    from inbox.models import Conversation, Message

    post = fake_x.add_post("Unsere Herbstkollektion ist da! 🍂")
    jana = fake_x.add_mention("Gibt's die Jacke in XL?", username="jana", in_reply_to=post["id"])
    fake_x.add_mention("Schöne Farben!", username="tom", in_reply_to=post["id"])
    sam = fake_x.add_mention("My order #123 is late", username="sam")
    follow_up = fake_x.add_mention("Any update?", username="sam", in_reply_to=sam["id"])
    account = ChannelAccount(platform="x", name="X @brand", settings=x_settings(fake_x))
    account.set_credentials({"access_token": "demo-token"})
    account.save()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = poll_channel(account.pk)

    assert (outcome.new_messages, outcome.caught_up, outcome.error) == (4, True, "")
    account.refresh_from_db()
    assert account.cursor == {"newest_id": follow_up["id"]}
    threads = {
        c.thread_key: sorted(c.messages.values_list("text", flat=True))
        for c in Conversation.objects.filter(channel_account=account)
    }
    assert threads == {
        post["id"]: ["@brand Gibt's die Jacke in XL?", "@brand Schöne Farben!"],
        sam["id"]: ["@brand Any update?", "@brand My order #123 is late"],
    }
    reply = Message.objects.get(external_id=follow_up["id"])
    assert reply.parent_external_id == sam["id"]
    assert reply.permalink == f"https://x.com/sam/status/{follow_up['id']}"
    assert reply.contact is not None and reply.contact.handle == "sam"

    thanks = fake_x.add_mention("Danke!", username="jana", in_reply_to=jana["id"])
    ChannelAccount.objects.filter(pk=account.pk).update(next_poll_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        again = poll_channel(account.pk)
    assert again.new_messages == 1
    assert Conversation.objects.filter(channel_account=account).count() == 2
    assert Message.objects.get(external_id=thanks["id"]).conversation.thread_key == post["id"]
