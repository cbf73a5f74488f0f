"""The YouTube connector against the documented payloads and the fake server over HTTP."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels_integrations.base import (
    Capability,
    FetchedPage,
    InboundItem,
    ItemUpdate,
    ReplyTarget,
)
from channels_integrations.errors import (
    AuthExpired,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.models import ChannelAccount
from channels_integrations.polling import poll_channel
from channels_integrations.youtube.client import next_quota_reset
from channels_integrations.youtube.connector import YouTubeConnector
from channels_integrations.youtube.demo import demo_channel
from channels_integrations.youtube.fake import BRAND_CHANNEL_ID, DEFAULT_VIDEOS, google_error
from channels_integrations.youtube.normalize import parse_thread
from inbox.models import Conversation, Message

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "youtube" / "fixtures"
PACIFIC = ZoneInfo("America/Los_Angeles")


def documented_thread() -> dict[str, Any]:
    listing = json.loads((FIXTURES / "commentThreads_list.json").read_text())
    thread: dict[str, Any] = listing["items"][0]
    return thread


def target_for(item: InboundItem, **changes: Any) -> ReplyTarget:
    fields: dict[str, Any] = {
        "external_id": item.external_id,
        "author_handle": item.author.handle,
        "raw": item.raw,
        "author_external_id": item.author.external_id,
        "thread_key": item.thread_key,
        "parent_external_id": item.parent_external_id,
        "direction": "outbound" if item.from_self else "inbound",
        "state": item.state,
        "text": item.text,
    }
    fields.update(changes)
    return ReplyTarget(**fields)


def poll_until_caught_up(
    connector: YouTubeConnector, cursor: dict[str, Any], max_pages: int = 10
) -> tuple[list[InboundItem], list[ItemUpdate], dict[str, Any]]:
    items: list[InboundItem] = []
    updates: list[ItemUpdate] = []
    for _ in range(max_pages):
        page: FetchedPage = connector.fetch_page(cursor)
        items += page.items
        updates += page.updates
        cursor = page.cursor
        if page.caught_up:
            return items, updates, cursor
    raise AssertionError("the connector did not catch up")


def texts(items: list[InboundItem]) -> list[str]:
    return sorted(item.text for item in items)


def seed(fake, clock, *comment_texts: str, **kwargs: Any) -> list[dict[str, Any]]:
    """New threads, one second apart."""
    threads = []
    for text in comment_texts:
        clock.tick()
        threads.append(fake.add_comment(text, **kwargs))
    return threads


def thread_calls(fake) -> list[dict[str, Any]]:
    return [c for c in fake.calls() if c["path"] == "/commentThreads"]


# Normalization of the documented payload.


def test_it_normalizes_the_documented_thread_and_its_reply():
    thread = parse_thread(documented_thread(), BRAND_CHANNEL_ID)
    top, [reply] = thread.top, thread.replies
    assert top.external_id == thread.id == top.thread_key == "UgzDE2tasfmrYLyNkGt4AaABAg"
    assert top.kind == "comment" and top.parent_external_id == ""
    assert top.text == "Great video!"
    assert top.created_at == datetime(2026, 3, 22, 18, 20, 4, tzinfo=UTC)
    assert top.author.external_id == "UCabcdefghijklmnopqrstuv"
    assert top.author.handle == "janedoe" and top.author.display_name == "@janedoe"
    assert top.author.profile_url == "http://www.youtube.com/@janedoe"
    assert top.author.avatar_url.startswith("https://yt3.ggpht.com/")
    assert (
        top.permalink == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=UgzDE2tasfmrYLyNkGt4AaABAg"
    )
    assert top.post_external_id == "dQw4w9WgXcQ"
    assert top.post_permalink == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert (top.state, top.from_self, top.edited_at) == ("visible", False, None)
    assert top.raw["thread"]["snippet"]["canReply"] is True
    assert "topLevelComment" not in top.raw["thread"]["snippet"]

    assert reply.external_id == "UgzDE2tasfmrYLyNkGt4AaABAg.9zQ1r2s3t4u"
    assert reply.parent_external_id == reply.thread_key == top.external_id
    assert reply.from_self and reply.author.handle == "brand"
    assert reply.text == "Thanks!" and reply.state == "visible"
    assert thread.total_replies == 1 == thread.included_replies


def test_it_reads_the_html_text_when_the_original_text_is_missing_and_drops_unsafe_urls():
    thread = documented_thread()
    snippet = thread["snippet"]["topLevelComment"]["snippet"]
    del snippet["textOriginal"]
    snippet["textDisplay"] = (
        'Hi<br>there &amp; <a href="https://x.example">you</a><script>x</script>'
    )
    snippet["authorChannelUrl"] = "javascript:alert(1)"
    snippet["authorProfileImageUrl"] = "data:image/png;base64,AAAA"
    top = parse_thread(thread, BRAND_CHANNEL_ID).top
    assert top.text == "Hi\nthere & you"
    assert top.author.profile_url == "" and top.author.avatar_url == ""
    assert top.author.handle == "janedoe"  # from the display name


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("published", "visible"),
        ("heldForReview", "held"),
        ("likelySpam", "held"),
        ("rejected", "deleted"),
    ],
)
def test_it_maps_the_moderation_status_to_the_item_state(status, state):
    thread = documented_thread()
    thread["snippet"]["topLevelComment"]["snippet"]["moderationStatus"] = status
    assert parse_thread(thread, BRAND_CHANNEL_ID).top.state == state


def test_an_edited_comment_carries_its_edit_time():
    thread = documented_thread()
    thread["snippet"]["topLevelComment"]["snippet"]["updatedAt"] = "2026-03-22T19:00:00Z"
    top = parse_thread(thread, BRAND_CHANNEL_ID).top
    assert top.edited_at == datetime(2026, 3, 22, 19, 0, tzinfo=UTC)


# Polling.


def test_the_first_poll_takes_the_newest_page_and_later_polls_only_new_items(
    fake_youtube, clock, make_connector
):
    seed(fake_youtube, clock, "one", "two", "three")
    connector = make_connector()
    first = connector.fetch_page({})
    assert texts(first.items) == ["one", "three", "two"] and first.caught_up
    assert first.cursor["hwm"] == "2026-03-22T18:00:03Z"

    seed(fake_youtube, clock, "four", "five")
    second = connector.fetch_page(first.cursor)
    assert texts(second.items) == ["five", "four"] and second.caught_up
    third = connector.fetch_page(second.cursor)
    assert third.items == [] and third.updates == [] and third.caught_up

    query = thread_calls(fake_youtube)[0]["query"]
    assert query["part"] == ["snippet,replies"]
    assert query["allThreadsRelatedToChannelId"] == [BRAND_CHANNEL_ID]
    assert query["order"] == ["time"] and query["maxResults"] == ["100"]


def test_it_pages_back_to_the_high_water_mark_across_pages(fake_youtube, clock, make_connector):
    seed(fake_youtube, clock, "old")
    connector = make_connector()
    cursor = connector.fetch_page({}).cursor
    seed(fake_youtube, clock, *[f"new {n}" for n in range(230)])

    first = connector.fetch_page(cursor)
    assert len(first.items) == 100 and not first.caught_up
    assert first.cursor["hwm"] == cursor["hwm"]  # moves only when the scan is complete
    assert first.cursor["scan"]["token"]
    second = connector.fetch_page(first.cursor)
    third = connector.fetch_page(second.cursor)
    assert len(second.items) == 100 and len(third.items) == 30 and third.caught_up
    everything = first.items + second.items + third.items
    assert len({item.external_id for item in everything}) == 230
    assert "old" not in texts(everything)
    assert third.cursor["hwm"] == "2026-03-22T18:03:51Z" and "scan" not in third.cursor
    scans = [c["query"] for c in thread_calls(fake_youtube) if "moderationStatus" not in c["query"]]
    page_tokens = [query.get("pageToken") for query in scans if "id" not in query]
    assert page_tokens[0] is None and page_tokens[1] is None
    assert page_tokens[2] and page_tokens[3] and len(page_tokens) == 4


def test_a_backfill_goes_back_to_the_chosen_date(fake_youtube, clock, make_connector):
    seed(fake_youtube, clock, "before")
    since = clock.tick(30)
    seed(fake_youtube, clock, *[f"after {n}" for n in range(120)])
    connector = make_connector()
    cursor = connector.initial_cursor(backfill_since=since)
    items, _, cursor = poll_until_caught_up(connector, cursor)
    assert len(items) == 120 and "before" not in texts(items)
    assert len(cursor["threads"]) == 120


def test_threads_published_in_the_same_second_are_neither_lost_nor_repeated(
    fake_youtube, clock, make_connector
):
    fake_youtube.add_comment("a")
    fake_youtube.add_comment("b")
    connector = make_connector()
    first = connector.fetch_page({})
    fake_youtube.add_comment("c")  # still the same second
    second = connector.fetch_page(first.cursor)
    assert texts(second.items) == ["c"]
    assert connector.fetch_page(second.cursor).items == []


def test_it_fetches_every_reply_when_the_thread_includes_only_some(
    fake_youtube, clock, make_connector
):
    [thread] = seed(fake_youtube, clock, "question")
    for n in range(8):
        clock.tick()
        fake_youtube.add_reply(thread["id"], f"answer {n}", author=f"@person{n}")
    page = make_connector().fetch_page({})
    assert len(page.items) == 9
    replies = [item for item in page.items if item.parent_external_id]
    assert {r.thread_key for r in replies} == {thread["id"]} and len(replies) == 8
    [reply_call] = [c for c in fake_youtube.calls() if c["path"] == "/comments"]
    assert reply_call["query"]["parentId"] == [thread["id"]]


def test_a_new_reply_on_a_recent_thread_is_found(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "question")
    connector = make_connector()
    cursor = connector.fetch_page({}).cursor
    clock.tick()
    fake_youtube.add_reply(thread["id"], "me too")
    page = connector.fetch_page(cursor)
    assert texts(page.items) == ["me too"]
    assert page.items[0].parent_external_id == thread["id"]
    assert connector.fetch_page(page.cursor).items == []


def test_a_new_reply_on_an_old_thread_is_found_by_the_recheck(fake_youtube, clock, make_connector):
    since = clock.tick()
    [old] = seed(fake_youtube, clock, "old question")
    seed(fake_youtube, clock, *[f"newer {n}" for n in range(120)])
    connector = make_connector()
    _, _, cursor = poll_until_caught_up(connector, connector.initial_cursor(backfill_since=since))
    clock.tick()
    fake_youtube.add_reply(old["id"], "late answer")

    page = connector.fetch_page(cursor)
    assert texts(page.items) == ["late answer"]
    recheck = [c for c in thread_calls(fake_youtube) if "id" in c["query"]][-1]
    assert old["id"] in recheck["query"]["id"][0].split(",")


def test_held_comments_come_in_held_and_approval_or_removal_updates_them(
    fake_youtube, clock, make_connector
):
    [published] = seed(fake_youtube, clock, "fine")
    [held] = seed(fake_youtube, clock, "buy followers", moderation_status="heldForReview")
    clock.tick()
    held_reply = fake_youtube.add_reply(
        published["id"], "spam reply", moderation_status="heldForReview"
    )
    connector = make_connector()
    page = connector.fetch_page({})
    states = {item.text: item.state for item in page.items}
    assert states == {"fine": "visible", "buy followers": "held", "spam reply": "held"}

    fake_youtube.set_status(held["id"], "published")
    fake_youtube.set_status(held_reply["id"], "rejected")
    page = connector.fetch_page(page.cursor)
    assert set(page.updates) == {
        ItemUpdate(external_id=held["id"], state="visible"),
        ItemUpdate(external_id=held_reply["id"], state="deleted"),
    }
    assert connector.fetch_page(page.cursor).updates == []


def test_a_comment_hidden_in_youtube_studio_becomes_held(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "hmm")
    connector = make_connector()
    cursor = connector.fetch_page({}).cursor
    fake_youtube.set_status(thread["id"], "heldForReview")
    page = connector.fetch_page(cursor)
    assert page.updates == [ItemUpdate(external_id=thread["id"], state="held")]


def test_a_thread_that_disappears_is_reported_deleted(fake_youtube, clock, make_connector):
    [gone, kept] = seed(fake_youtube, clock, "regret this", "keep this")
    connector = make_connector()
    cursor = connector.fetch_page({}).cursor
    fake_youtube.delete_comment(gone["id"])
    page = connector.fetch_page(cursor)
    assert page.updates == [ItemUpdate(external_id=gone["id"], state="deleted")]
    assert gone["id"] not in page.cursor["threads"] and kept["id"] in page.cursor["threads"]
    assert connector.fetch_page(page.cursor).updates == []


def test_an_edit_brings_the_comment_again_with_the_new_text_once(
    fake_youtube, clock, make_connector
):
    [thread] = seed(fake_youtube, clock, "frist")
    connector = make_connector()
    cursor = connector.fetch_page({}).cursor
    edited_at = clock.tick(60)
    fake_youtube.edit_comment(thread["id"], "first!")
    page = connector.fetch_page(cursor)
    [item] = page.items
    assert (item.external_id, item.text, item.edited_at) == (thread["id"], "first!", edited_at)
    assert connector.fetch_page(page.cursor).items == []


def test_a_malformed_thread_is_skipped_and_the_rest_of_the_page_kept(
    fake_youtube, clock, make_connector
):
    seed(fake_youtube, clock, "good one")
    broken = [
        {"kind": "youtube#commentThread", "snippet": {}},
        {"kind": "youtube#playlist", "id": "PL1"},
        {"kind": "youtube#commentThread", "id": "UgzNoSnippet", "snippet": "oops"},
    ]
    bad_time = copy.deepcopy(documented_thread())
    bad_time["id"] = "UgzBadTime"
    bad_time["snippet"]["topLevelComment"]["snippet"]["publishedAt"] = "yesterday"
    for payload in [*broken, bad_time]:
        clock.tick()
        fake_youtube.add_raw_thread(payload)
    mixed = copy.deepcopy(documented_thread())
    mixed["id"] = mixed["snippet"]["topLevelComment"]["id"] = "UgzMixedReplies"
    mixed["snippet"]["topLevelComment"]["snippet"]["publishedAt"] = "2026-03-22T18:00:06Z"
    bad_reply = copy.deepcopy(mixed["replies"]["comments"][0])
    bad_reply["id"] = "UgzMixedReplies.bad"
    del bad_reply["snippet"]["authorChannelId"]
    mixed["replies"]["comments"].append(bad_reply)
    mixed["snippet"]["totalReplyCount"] = 2
    clock.tick()
    fake_youtube.add_raw_thread(mixed)
    seed(fake_youtube, clock, "good two")

    page = make_connector().fetch_page({})
    assert texts(page.items) == ["Great video!", "Thanks!", "good one", "good two"]
    reasons = {s.external_id: s.reason for s in page.skipped}
    assert reasons == {
        "": "comment thread without an id",
        "PL1": "unexpected resource kind 'youtube#playlist'",
        "UgzNoSnippet": "comment thread without a snippet",
        "UgzBadTime": "unreadable publishedAt 'yesterday'",
        "UgzMixedReplies.bad": "comment without an author channel id",
    }


@pytest.mark.parametrize(
    "text",
    [
        "x" * 10_000,
        "<b>bold</b> & <script>alert(1)</script> stays text",
        "🎉👍🏽 Grüße aus Köln\n\nzweiter Absatz",
    ],
)
def test_long_html_and_emoji_texts_are_kept_as_written(fake_youtube, clock, make_connector, text):
    seed(fake_youtube, clock, text)
    [item] = make_connector().fetch_page({}).items
    assert item.text == text


def test_our_own_replies_are_marked_from_self_and_titles_become_post_text(
    fake_youtube, clock, make_connector
):
    [thread] = seed(fake_youtube, clock, "question", video_id="9bZkp7q19f0")
    clock.tick()
    fake_youtube.add_brand_reply(thread["id"], "answer from the studio")
    items = {item.text: item for item in make_connector().fetch_page({}).items}
    assert not items["question"].from_self and items["answer from the studio"].from_self
    assert {item.post_text for item in items.values()} == {DEFAULT_VIDEOS["9bZkp7q19f0"]}


# Errors.


def test_a_dead_token_without_a_refresh_token_is_an_expired_authorization(
    fake_youtube, make_connector
):
    fake_youtube.revoke_token("demo-token")
    connector = make_connector(credentials={"access_token": "demo-token"})
    with pytest.raises(AuthExpired, match=r"authError"):
        connector.fetch_page({})


def test_an_expired_token_is_refreshed_once_and_the_call_repeated(
    fake_youtube, clock, make_connector
):
    seed(fake_youtube, clock, "hello")
    fake_youtube.revoke_token("demo-token")
    connector = make_connector()
    page = connector.fetch_page({})
    assert texts(page.items) == ["hello"]
    [new_token] = fake_youtube.issued_tokens()
    assert connector.updated_credentials is not None
    assert connector.updated_credentials["access_token"] == new_token
    assert connector.updated_credentials["refresh_token"] == "demo-refresh-token"
    [token_call] = [c for c in fake_youtube.calls() if c["path"] == "/token"]
    assert token_call["form"]["grant_type"] == "refresh_token"
    # The new token spends the same project's quota.
    assert fake_youtube.quota_used(new_token) == fake_youtube.quota_used("demo-token") == 3


def test_a_revoked_refresh_token_is_an_expired_authorization(fake_youtube, make_connector):
    fake_youtube.revoke_token("demo-token")
    fake_youtube.revoke_refresh_token("demo-refresh-token")
    with pytest.raises(AuthExpired, match=r"invalid_grant"):
        make_connector().fetch_page({})


def test_a_token_endpoint_error_object_is_an_expired_authorization(fake_youtube, make_connector):
    # Google's API-style error body nests an object under "error" (OAuth's is a string).
    fake_youtube.revoke_token("demo-token")
    fake_youtube.fail_next(
        401, body={"error": {"code": 401, "status": "UNAUTHENTICATED"}}, path_prefix="/token"
    )
    with pytest.raises(AuthExpired, match=r"HTTP 401\)"):
        make_connector().fetch_page({})


def test_quota_exceeded_waits_until_midnight_pacific(fake_youtube, make_connector):
    fake_youtube.spend_quota(10_000)
    connector = make_connector()
    with pytest.raises(RateLimited, match="quotaExceeded") as caught:
        connector.fetch_page({})
    retry_at = caught.value.retry_at
    assert retry_at == next_quota_reset(connector.clock())
    local = retry_at.astimezone(PACIFIC)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert timedelta(0) < retry_at - datetime.now(UTC) <= timedelta(hours=25)


def test_a_short_rate_limit_honours_retry_after(fake_youtube, make_connector):
    fake_youtube.fail_next_rate_limited(reason="userRateLimitExceeded", retry_after=120)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited, match="userRateLimitExceeded") as caught:
        make_connector().fetch_page({})
    assert before + timedelta(seconds=119) <= caught.value.retry_at
    assert caught.value.retry_at <= datetime.now(UTC) + timedelta(seconds=121)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (503, None),
        (502, "<html><body>Bad Gateway</body></html>"),
        (400, {"error": {"code": 400, "errors": [{"reason": "processingFailure"}]}}),
    ],
)
def test_server_errors_are_transient(fake_youtube, make_connector, status, body):
    fake_youtube.fail_next(status, body=body)
    with pytest.raises(Transient):
        make_connector().fetch_page({})


def test_a_token_without_the_comment_scope_needs_reauthorization(fake_youtube, make_connector):
    fake_youtube.fail_next(
        403,
        body=google_error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            domain="global",
        ),
    )
    with pytest.raises(
        AuthExpired, match=r"youtube.force-ssl permission \(insufficientPermissions\)"
    ):
        make_connector().fetch_page({})


def test_an_expired_page_token_restarts_the_scan(fake_youtube, clock, make_connector):
    seed(fake_youtube, clock, "old")
    connector = make_connector()
    cursor = connector.fetch_page({}).cursor
    seed(fake_youtube, clock, *[f"new {n}" for n in range(150)])
    first = connector.fetch_page(cursor)
    fake_youtube.fail_next(
        400,
        body=google_error(400, "invalidPageToken", "The request specifies an invalid page token."),
    )
    restarted = connector.fetch_page(first.cursor)
    assert restarted.items == [] and not restarted.caught_up
    assert restarted.cursor["hwm"] == cursor["hwm"] and "scan" not in restarted.cursor
    items, _, _ = poll_until_caught_up(connector, restarted.cursor)
    assert len({i.external_id for i in first.items + items}) == 150


def test_a_platform_that_does_not_answer_in_time_is_transient(fake_youtube, make_connector):
    fake_youtube.set_delay(1.0)
    with pytest.raises(Transient, match="did not answer in time"):
        make_connector(read_timeout=0.2).fetch_page({})


# Quota.


def test_every_call_is_counted_in_units_spent(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "count me")
    connector = make_connector()
    page = connector.fetch_page({})
    assert connector.units_spent == len(fake_youtube.calls()) == 3  # threads, held, videos
    connector.reply(target=target_for(page.items[0]), text="ok", idempotency_key="k")
    assert connector.units_spent == 53
    assert fake_youtube.quota_used("demo-token") == 53
    assert thread["id"]


def test_a_spent_ledger_stops_polling_without_calling(fake_youtube, make_connector):
    connector = make_connector(quota_used_today=480, daily_quota="480")
    with pytest.raises(RateLimited, match="480 of 480 units") as caught:
        connector.fetch_page({})
    assert caught.value.retry_at == next_quota_reset(connector.clock())
    assert fake_youtube.calls() == []


@pytest.mark.parametrize(
    ("used", "delay"),
    [
        (0, 60),  # plenty: the channel's own interval
        (7_000, 166),  # 1,000 poll units left for 23 h at 2 units a poll
        (8_500, 3_600),  # inside the 20 % reserve: hourly
        (10_000, 82_800),  # spent: until midnight Pacific
    ],
)
def test_polling_slows_down_as_the_quota_runs_low(make_connector, used, delay):
    connector = make_connector(quota_used_today=used)
    # 01:00 in Los Angeles (PDT): 23 hours until the quota resets.
    connector.clock = lambda: datetime(2026, 3, 22, 8, 0, tzinfo=UTC)
    assert connector.next_poll_delay(60) == delay


# Actions.


def polled(fake, make_connector) -> dict[str, InboundItem]:
    connector = make_connector()
    items, _, _ = poll_until_caught_up(connector, {})
    return {item.text: item for item in items}


def test_it_replies_to_the_top_level_comment_of_the_thread(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "question")
    clock.tick()
    fake_youtube.add_reply(thread["id"], "follow-up")
    items = polled(fake_youtube, make_connector)

    sent = make_connector().reply(
        target=target_for(items["follow-up"]), text="Danke für die Geduld!", idempotency_key="k"
    )
    [reply] = fake_youtube.replies_by(BRAND_CHANNEL_ID)
    assert reply["snippet"]["parentId"] == thread["id"]
    assert reply["snippet"]["textOriginal"] == "Danke für die Geduld!"
    assert sent.external_id == reply["id"] and sent.external_id.startswith(thread["id"] + ".")
    assert sent.permalink == f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc={reply['id']}"


def test_a_reply_where_the_thread_allows_none_is_refused_with_youtubes_reason(
    fake_youtube, clock, make_connector
):
    [thread] = seed(fake_youtube, clock, "closed soon")
    stale = polled(fake_youtube, make_connector)["closed soon"]
    fake_youtube.set_can_reply(thread["id"], False)

    with pytest.raises(InvalidRequest) as caught:
        make_connector().reply(target=target_for(stale), text="hi", idempotency_key="k")
    assert caught.value.permanent
    assert caught.value.message == (
        "YouTube refused the reply: the thread does not allow replies (operationNotSupported)."
    )
    fresh = polled(fake_youtube, make_connector)["closed soon"]
    reason = YouTubeConnector.unavailable_reason(Capability.REPLY, target_for(fresh))
    assert reason == "YouTube does not allow replies in this thread."
    assert fake_youtube.replies_by(BRAND_CHANNEL_ID) == []


def test_a_too_long_reply_is_refused_with_youtubes_reason(fake_youtube, clock, make_connector):
    seed(fake_youtube, clock, "question")
    item = polled(fake_youtube, make_connector)["question"]
    with pytest.raises(InvalidRequest, match=r"too long \(commentTextTooLong\)"):
        make_connector().reply(target=target_for(item), text="x" * 10_001, idempotency_key="k")


def test_hide_and_unhide_set_the_moderation_status(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "rude")
    target = target_for(polled(fake_youtube, make_connector)["rude"])
    connector = make_connector()
    connector.set_hidden(target=target, hidden=True)
    assert fake_youtube.comment(thread["id"])["snippet"]["moderationStatus"] == "heldForReview"
    connector.set_hidden(target=target, hidden=False)
    assert fake_youtube.comment(thread["id"])["snippet"]["moderationStatus"] == "published"
    moderation = [c for c in fake_youtube.calls() if c["path"] == "/comments/setModerationStatus"]
    assert [c["query"]["moderationStatus"] for c in moderation] == [
        ["heldForReview"],
        ["published"],
    ]


def test_deleting_someone_elses_comment_rejects_it_with_its_replies(
    fake_youtube, clock, make_connector
):
    [thread] = seed(fake_youtube, clock, "spam")
    clock.tick()
    fake_youtube.add_reply(thread["id"], "reply to spam")
    items = polled(fake_youtube, make_connector)
    connector = make_connector()
    connector.delete(target=target_for(items["spam"]))
    assert fake_youtube.comment(thread["id"])["snippet"]["moderationStatus"] == "rejected"
    assert not [c for c in fake_youtube.calls() if c["method"] == "DELETE"]
    # Gone from the listing, replies included.
    assert polled(fake_youtube, make_connector) == {}


def test_deleting_our_own_comment_deletes_it(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "question")
    connector = make_connector()
    item = polled(fake_youtube, make_connector)["question"]
    sent = connector.reply(target=target_for(item), text="oops, typo", idempotency_key="k")
    ours = ReplyTarget(
        external_id=sent.external_id, author_handle="brand", raw={}, direction="outbound"
    )
    connector.delete(target=ours)
    assert fake_youtube.comment(sent.external_id) is None
    assert fake_youtube.comment(thread["id"]) is not None
    assert [a["action"] for a in fake_youtube.actions()] == ["comments.insert", "comments.delete"]


def test_ban_rejects_the_comment_and_bans_its_author(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "troll", author="@troll")
    item = polled(fake_youtube, make_connector)["troll"]
    make_connector().ban(target=target_for(item))
    assert fake_youtube.comment(thread["id"])["snippet"]["moderationStatus"] == "rejected"
    assert fake_youtube.banned_authors() == {item.author.external_id}
    later = fake_youtube.add_comment("I'm back", author="@troll")
    assert later["snippet"]["topLevelComment"]["snippet"]["moderationStatus"] == "rejected"


def test_a_rejected_comment_cannot_be_restored(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "rejected soon")
    item = polled(fake_youtube, make_connector)["rejected soon"]
    connector = make_connector()
    connector.delete(target=target_for(item))

    rejected = target_for(item, state="deleted")
    for capability in (Capability.UNHIDE, Capability.HIDE):
        reason = YouTubeConnector.unavailable_reason(capability, rejected)
        assert reason == "YouTube cannot restore a rejected comment."
    calls = len(fake_youtube.calls())
    with pytest.raises(InvalidRequest, match="cannot restore"):
        connector.set_hidden(target=rejected, hidden=False)
    assert len(fake_youtube.calls()) == calls  # refused without spending 50 units

    # The inbox did not know yet: YouTube refuses it.
    with pytest.raises(InvalidRequest) as caught:
        connector.set_hidden(target=target_for(item), hidden=False)
    assert caught.value.message == (
        "YouTube refused to publish the comment again: YouTube cannot restore a rejected "
        "comment (operationNotSupported)."
    )
    assert fake_youtube.comment(thread["id"])["snippet"]["moderationStatus"] == "rejected"


def test_moderating_a_comment_that_is_gone_is_not_found(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "bye")
    item = polled(fake_youtube, make_connector)["bye"]
    fake_youtube.delete_comment(thread["id"])
    with pytest.raises(NotFound, match=r"no longer exists on YouTube \(commentNotFound\)"):
        make_connector().set_hidden(target=target_for(item), hidden=True)


def test_a_token_of_another_channel_may_not_moderate(fake_youtube, clock, make_connector):
    seed(fake_youtube, clock, "not yours")
    item = polled(fake_youtube, make_connector)["not yours"]
    viewer = make_connector(credentials={"access_token": "viewer-token"})
    with pytest.raises(PermissionDenied, match=r"\(forbidden\)") as caught:
        viewer.set_hidden(target=target_for(item), hidden=True)
    assert caught.value.permanent


def test_comments_cannot_be_liked():
    assert Capability.LIKE not in YouTubeConnector.capabilities
    target = ReplyTarget(external_id="x", author_handle="", raw={})
    assert YouTubeConnector.unavailable_reason(Capability.LIKE, target)


# Reconciliation.


def test_a_reply_that_timed_out_is_found_instead_of_posted_twice(
    fake_youtube, clock, make_connector
):
    [thread] = seed(fake_youtube, clock, "where is my parcel?")
    item = polled(fake_youtube, make_connector)["where is my parcel?"]
    not_before = clock.now
    fake_youtube.accept_then_stall(2, path_prefix="/comments", method="POST")

    impatient = make_connector(read_timeout=0.5)
    with pytest.raises(Transient):
        impatient.reply(target=target_for(item), text="On its way!", idempotency_key="k")

    found = make_connector().find_sent_reply(
        target=target_for(item), text="On its way!", not_before=not_before
    )
    [reply] = fake_youtube.replies_by(BRAND_CHANNEL_ID)
    assert found is not None and found.external_id == reply["id"]
    assert reply["snippet"]["parentId"] == thread["id"]


def test_find_sent_reply_is_none_when_nothing_got_through(fake_youtube, clock, make_connector):
    [thread] = seed(fake_youtube, clock, "question")
    clock.tick()
    fake_youtube.add_brand_reply(thread["id"], "an older answer")
    item = polled(fake_youtube, make_connector)["question"]
    connector = make_connector()
    assert (
        connector.find_sent_reply(target=target_for(item), text="new", not_before=clock.now) is None
    )
    later = clock.now + timedelta(minutes=5)
    assert (
        connector.find_sent_reply(target=target_for(item), text="an older answer", not_before=later)
        is None
    )


# Test connection.


def test_test_connection_reports_a_working_channel(make_connector):
    checks = make_connector().test_connection()
    assert [(c.name, c.ok) for c in checks] == [
        ("Daily quota", True),
        ("Access token", True),
        ("Read comments", True),
        ("Held for review", True),
        ("Token renewal", True),
    ]
    assert "Brand" in checks[1].detail


def test_test_connection_reports_a_revoked_token_without_raising(fake_youtube, make_connector):
    fake_youtube.revoke_token("demo-token")
    checks = make_connector(credentials={"access_token": "demo-token"}).test_connection()
    assert [(c.name, c.ok) for c in checks] == [("Daily quota", True), ("Access token", False)]
    assert "access token is invalid" in checks[1].detail


def test_test_connection_reports_a_token_of_another_channel(make_connector):
    checks = make_connector(credentials={"access_token": "viewer-token"}).test_connection()
    by_name = {c.name: c for c in checks}
    assert not by_name["Access token"].ok and "UCviewer" in by_name["Access token"].detail
    assert by_name["Read comments"].ok
    assert not by_name["Held for review"].ok and "forbidden" in by_name["Held for review"].detail
    assert not by_name["Token renewal"].ok


# Through the poll engine.


def test_a_poll_through_the_engine_groups_each_thread_into_one_conversation(
    db, fake_youtube, clock
):
    [first, second] = seed(fake_youtube, clock, "Wann kommt die Jacke in XL?", "Love it!")
    clock.tick()
    fake_youtube.add_reply(first["id"], "Würde mich auch interessieren", author="@lena")
    clock.tick()
    fake_youtube.add_brand_reply(first["id"], "Ende des Monats!")
    settings, credentials = demo_channel(fake_youtube.url)
    account = ChannelAccount(platform="youtube", name="YouTube Brand", settings=settings)
    account.set_credentials(credentials)
    account.save()

    outcome = poll_channel(account.pk)

    assert outcome.error == "" and outcome.caught_up and outcome.new_messages == 4
    assert Conversation.objects.count() == 2
    thread = Conversation.objects.get(thread_key=first["id"])
    assert thread.kind == "comment"
    assert thread.post_text == DEFAULT_VIDEOS["dQw4w9WgXcQ"]
    assert thread.post_permalink == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert list(thread.messages.values_list("text", flat=True)) == [
        "Wann kommt die Jacke in XL?",
        "Würde mich auch interessieren",
        "Ende des Monats!",
    ]
    assert Message.objects.get(external_id=second["id"]).conversation.thread_key == second["id"]
    account.refresh_from_db()
    assert account.cursor["hwm"] == "2026-03-22T18:00:02Z"
    assert set(account.cursor["threads"]) == {first["id"], second["id"]}


def test_its_quota_day_is_the_pacific_calendar_day() -> None:
    from datetime import UTC, date, datetime

    from channels_integrations.youtube.connector import YouTubeConnector

    # 07:30 UTC on the 21st is still the 20th in California.
    assert YouTubeConnector.quota_day(datetime(2026, 11, 21, 7, 30, tzinfo=UTC)) == date(
        2026, 11, 20
    )
