"""The Facebook connector against the documented payloads and the fake Page over HTTP."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels_integrations.base import Capability, InboundItem, ReplyTarget
from channels_integrations.errors import (
    AuthExpired,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.facebook import connector as facebook_connector
from channels_integrations.facebook.connector import FacebookConnector, normalize_comment
from channels_integrations.facebook.fake import PAGE_ID
from channels_integrations.facebook.graph import (
    classify_error,
    parse_graph_error,
    rate_limit_retry_at,
    usage_percent,
)

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "facebook" / "fixtures"
POST = {
    "id": "448242228374517_122131676912594941",
    "message": "Our autumn collection is here",
    "permalink_url": "https://www.facebook.com/448242228374517/posts/122131676912594941/",
}


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def target_of(item: InboundItem, **changes) -> ReplyTarget:
    target = ReplyTarget(
        external_id=item.external_id,
        author_handle=item.author.handle,
        raw=item.raw,
        author_external_id=item.author.external_id,
        thread_key=item.thread_key,
        parent_external_id=item.parent_external_id,
        state=item.state,
        sent_at=item.created_at,
        text=item.text,
    )
    return dataclasses.replace(target, **changes)


def items_by_text(page) -> dict[str, InboundItem]:
    return {item.text: item for item in page.items}


# Normalization of the documented payloads.


def test_it_normalizes_the_documented_comment():
    [comment] = fixture("comments_stream.json")["data"]
    item = normalize_comment(comment, post=POST, page_id=PAGE_ID, parents={})
    assert item.external_id == "122131676912594941_1213590066982748"
    assert item.parent_external_id == "122131676912594941_542072878449250"
    assert item.thread_key == "122131676912594941_542072878449250"
    assert item.kind == "comment"
    assert item.author.external_id == "7123456789012345"
    assert item.author.display_name == "Jane Doe"
    assert item.text == "Do you ship to Canada?"
    assert item.created_at.isoformat() == "2026-03-22T18:20:04+00:00"
    assert item.permalink.endswith("?comment_id=1213590066982748")
    assert item.post_external_id == POST["id"]
    assert item.post_text == POST["message"]
    assert item.post_permalink == POST["permalink_url"]
    assert item.state == "visible" and not item.from_self


def test_a_comment_without_parent_starts_its_own_thread_and_the_page_is_from_self():
    [comment] = fixture("comments_stream.json")["data"]
    del comment["parent"]
    comment["from"] = {"id": PAGE_ID, "name": "Brand"}
    comment["is_hidden"] = True
    item = normalize_comment(comment, post=POST, page_id=PAGE_ID, parents={})
    assert item.thread_key == item.external_id and item.parent_external_id == ""
    assert item.from_self
    assert item.state == "hidden"


def test_a_parent_that_is_the_post_means_top_level():
    [comment] = fixture("comments_stream.json")["data"]
    comment["parent"] = {"id": POST["id"]}
    item = normalize_comment(comment, post=POST, page_id=PAGE_ID, parents={})
    assert item.parent_external_id == "" and item.thread_key == item.external_id


def test_it_keeps_only_http_attachment_urls():
    [comment] = fixture("comments_stream.json")["data"]
    comment["attachment"] = {
        "type": "photo",
        "media": {"image": {"src": "https://scontent.example/photo.jpg"}},
        "url": "javascript:alert(1)",
    }
    item = normalize_comment(comment, post=POST, page_id=PAGE_ID, parents={})
    assert item.attachments == (
        {"name": "photo", "url": "https://scontent.example/photo.jpg", "type": "image"},
    )
    comment["attachment"] = {"type": "photo", "media": {"image": {"src": "data:image/png,x"}}}
    assert normalize_comment(comment, post=POST, page_id=PAGE_ID, parents={}).attachments == ()


def test_it_reads_the_documented_error_envelope_and_usage_headers():
    error = parse_graph_error(fixture("error_envelope.json"))
    assert error is not None
    assert (error.code, error.subcode, error.reason) == (190, 460, "A message")
    headers = {name: json.dumps(value) for name, value in fixture("usage_headers.json").items()}
    assert usage_percent(headers) == 97
    now = datetime(2026, 3, 22, 18, 0, tzinfo=UTC)
    # No wait estimate (0 minutes) and no Retry-After: the default wait.
    assert rate_limit_retry_at(headers, usage_type="pages", now=now) == now + timedelta(minutes=5)


def test_the_documented_80001_error_is_a_rate_limit_with_the_usage_estimate():
    error = parse_graph_error(fixture("error_rate_limit_80001.json"))
    assert error is not None
    usage = {PAGE_ID: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 9}]}
    now = datetime(2026, 3, 22, 18, 0, tzinfo=UTC)
    mapped = classify_error(
        error,
        status=400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        platform="Facebook",
        what="the list of comments",
        usage_type="pages",
        now=now,
    )
    assert isinstance(mapped, RateLimited) and mapped.retry_at == now + timedelta(minutes=9)
    assert "too many calls to this Page account" in mapped.message


# Polling.


def test_it_polls_comments_of_recent_posts_and_then_only_new_ones(fake_facebook, facebook):
    post = fake_facebook.add_post("Die neue Herbstkollektion ist da!")
    top = fake_facebook.add_comment(post["id"], "Gibt es die Jacke in L?", author_name="Jana")
    fake_facebook.add_comment(post["id"], "Same question", author_name="Sam", parent_id=top["id"])
    connector = facebook()

    page = connector.fetch_page({})
    found = items_by_text(page)
    assert set(found) == {"Gibt es die Jacke in L?", "Same question"}
    assert page.caught_up
    reply = found["Same question"]
    assert reply.thread_key == top["id"] and reply.parent_external_id == top["id"]
    assert reply.post_external_id == post["id"]
    assert reply.post_text == "Die neue Herbstkollektion ist da!"
    assert reply.post_permalink == post["permalink_url"]

    again = connector.fetch_page(page.cursor)
    assert again.items == [] and again.caught_up

    fake_facebook.add_comment(post["id"], "Und in M?", author_name="Tom")
    later = connector.fetch_page(again.cursor)
    assert [item.text for item in later.items] == ["Und in M?"]

    comment_calls = [c for c in fake_facebook.calls() if c["path"].endswith("/comments")]
    query = comment_calls[-1]["query"]
    assert query["filter"] == ["stream"] and query["order"] == ["reverse_chronological"]
    hw = page.cursor["posts"][post["id"]]["hw"]
    assert query["since"] == [str(hw - 60)]


def test_the_cursor_keeps_no_graph_cursors_and_stays_small(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    for n in range(30):
        fake_facebook.add_comment(post["id"], f"comment {n}")
    cursor = facebook().fetch_page({}).cursor
    text = json.dumps(cursor)
    assert "after" not in text and "cursors" not in text
    assert set(cursor) == {"v", "start", "posts", "watch", "recheck_at"}
    assert len(cursor["posts"][post["id"]]["seen"]) == 30  # all inside the 60 s overlap
    # The re-check's watch list holds ids and creation times only.
    assert all(len(entry) == 2 for entry in cursor["watch"]) and len(cursor["watch"]) == 30


def test_it_walks_short_and_empty_pages_until_next_is_absent(fake_facebook, facebook, monkeypatch):
    monkeypatch.setattr(facebook_connector, "COMMENTS_PAGE_SIZE", 2)
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "oldest")
    for n in range(4):  # privacy-filtered: they fill whole pages and leave them empty
        fake_facebook.add_comment(post["id"], f"hidden from us {n}", filtered=True)
    fake_facebook.add_comment(post["id"], "newest")

    page = facebook().fetch_page({})

    assert sorted(item.text for item in page.items) == ["newest", "oldest"]
    comment_calls = [c for c in fake_facebook.calls() if "/comments" in c["path"]]
    assert len(comment_calls) == 3  # newest + filtered, filtered x2 (empty, with next), oldest


def test_the_first_poll_takes_the_last_day_and_a_backfill_goes_further(fake_facebook, facebook):
    post = fake_facebook.add_post("Post", created_at=datetime.now(UTC) - timedelta(days=10))
    fake_facebook.add_comment(
        post["id"], "three days old", created_at=datetime.now(UTC) - timedelta(days=3)
    )
    fake_facebook.add_comment(post["id"], "fresh")
    connector = facebook()
    assert [item.text for item in connector.fetch_page({}).items] == ["fresh"]

    backfill = connector.initial_cursor(backfill_since=datetime.now(UTC) - timedelta(days=7))
    assert sorted(i.text for i in connector.fetch_page(backfill).items) == [
        "fresh",
        "three days old",
    ]
    too_far = connector.initial_cursor(backfill_since=datetime.now(UTC) - timedelta(days=400))
    assert too_far["start"] >= int((datetime.now(UTC) - timedelta(days=31)).timestamp())


def test_posts_older_than_the_window_are_not_polled(fake_facebook, facebook):
    old = fake_facebook.add_post("Old", created_at=datetime.now(UTC) - timedelta(days=45))
    fake_facebook.add_comment(old["id"], "late comment on an old post")
    assert facebook().fetch_page({}).items == []


def test_it_resumes_a_sweep_cut_short_by_the_item_budget(fake_facebook, facebook, monkeypatch):
    monkeypatch.setattr(facebook_connector, "ITEM_BUDGET", 2)
    posts = [fake_facebook.add_post(f"Post {n}") for n in range(3)]
    for post in posts:
        fake_facebook.add_comment(post["id"], f"on {post['message']}")
        fake_facebook.add_comment(post["id"], f"more on {post['message']}")
    connector = facebook()

    first = connector.fetch_page({})
    assert len(first.items) == 2 and not first.caught_up
    assert first.cursor["resume"] == posts[1]["id"]  # newest first: post 2, then 1, then 0
    second = connector.fetch_page(first.cursor)
    assert len(second.items) == 2 and not second.caught_up
    third = connector.fetch_page(second.cursor)
    assert len(third.items) == 2 and third.caught_up and "resume" not in third.cursor
    texts = {item.text for page in (first, second, third) for item in page.items}
    assert len(texts) == 6


def test_it_skips_malformed_comments_and_keeps_the_rest(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "before")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    fake_facebook.add_raw_comment(post["id"], {"id": "1_no_author", "message": "?"})
    fake_facebook.add_raw_comment(
        post["id"],
        {"id": "1_bad_time", "message": "?", "from": {"id": "9"}, "created_time": "yesterday"},
    )
    fake_facebook.add_raw_comment(
        post["id"], {"id": "1_bad_text", "message": 5, "from": {"id": "9"}, "created_time": now}
    )
    fake_facebook.add_raw_comment(post["id"], ["not", "an", "object"])
    fake_facebook.add_comment(post["id"], "after")

    page = facebook().fetch_page({})

    assert sorted(item.text for item in page.items) == ["after", "before"]
    reasons = {skipped.external_id: skipped.reason for skipped in page.skipped}
    assert "MODERATE" in reasons["1_no_author"]
    assert "timestamp" in reasons["1_bad_time"]
    assert "not text" in reasons["1_bad_text"]
    assert "" in reasons  # the comment that is not even an object


def test_it_keeps_long_html_and_emoji_texts_as_they_are(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    long_text = "Ä" * 9_990 + " 🙂🙂🙂🙂"
    html = "<b>bold?</b> <script>alert(1)</script> & more"
    fake_facebook.add_comment(post["id"], long_text)
    fake_facebook.add_comment(post["id"], html)
    texts = {item.text for item in facebook().fetch_page({}).items}
    assert texts == {long_text, html}
    assert len(long_text) == 9_995


def test_the_pages_own_comments_come_as_from_self(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    top = fake_facebook.add_comment(post["id"], "Question?")
    fake_facebook.add_page_comment(top["id"], "Answer!")
    found = items_by_text(facebook().fetch_page({}))
    assert found["Answer!"].from_self and not found["Question?"].from_self
    assert found["Answer!"].thread_key == top["id"]


def test_hidden_comments_arrive_hidden(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "spam spam", hidden=True)
    [item] = facebook().fetch_page({}).items
    assert item.state == "hidden"


# Errors.


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_a_throttle_code_is_a_rate_limit_until_access_is_regained(fake_facebook, facebook, code):
    fake_facebook.fail_next_rate_limited(code, regain_minutes=17)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        facebook().fetch_page({})
    after = datetime.now(UTC)
    assert before + timedelta(minutes=17) <= caught.value.retry_at
    assert caught.value.retry_at <= after + timedelta(minutes=17)
    assert f"code {code}" in caught.value.message


def test_retry_after_wins_when_it_is_later(fake_facebook, facebook):
    body, headers = fake_facebook.fault_defaults(429)
    fake_facebook.fail_next(400, body=body, headers=headers | {"Retry-After": "3600"})
    with pytest.raises(RateLimited) as caught:
        facebook().fetch_page({})
    assert caught.value.retry_at >= datetime.now(UTC) + timedelta(minutes=59)


def test_the_budget_running_out_on_the_fake_is_a_rate_limit(fake_facebook, facebook):
    fake_facebook.set_rate_limit(1)
    fake_facebook.add_post("Post")
    with pytest.raises(RateLimited) as caught:
        facebook().fetch_page({})
    assert caught.value.retry_at > datetime.now(UTC)
    assert "80001" in caught.value.message


def test_an_expired_token_needs_reauthorization(fake_facebook, facebook):
    fake_facebook.expire_token("demo-page-token")
    with pytest.raises(AuthExpired, match="subcode 463"):
        facebook().fetch_page({})


def test_a_revoked_or_unknown_token_needs_reauthorization(fake_facebook, facebook):
    fake_facebook.revoke_token("demo-page-token")
    with pytest.raises(AuthExpired, match="Re-authorize"):
        facebook().fetch_page({})
    with pytest.raises(AuthExpired):
        facebook(token="never-issued").fetch_page({})


@pytest.mark.parametrize(
    ("code", "is_transient"),
    [(1, None), (2, None), (36000, True)],
)
def test_graph_transient_errors_are_transient(fake_facebook, facebook, code, is_transient):
    fake_facebook.fail_next_graph_error(code, "Please retry", is_transient=is_transient)
    with pytest.raises(Transient):
        facebook().fetch_page({})


@pytest.mark.parametrize(("status", "body"), [(500, "<html>oops</html>"), (503, None)])
def test_http_errors_without_a_graph_body_are_transient(fake_facebook, facebook, status, body):
    fake_facebook.fail_next(status, body=body)
    with pytest.raises(Transient):
        facebook().fetch_page({})


def test_a_platform_that_does_not_answer_in_time_is_transient(fake_facebook, facebook):
    fake_facebook.set_delay(1.0)
    with pytest.raises(Transient, match=r"did not answer .* in time"):
        facebook(read_timeout=0.2).fetch_page({})


def test_a_missing_permission_is_permission_denied(fake_facebook, facebook):
    fake_facebook.fail_next_graph_error(200, "(#200) Permissions error")
    with pytest.raises(PermissionDenied) as caught:
        facebook().fetch_page({})
    assert caught.value.permanent


# Actions.


def fetched(fake_facebook, facebook, text: str) -> InboundItem:
    return items_by_text(facebook().fetch_page({}))[text]


def test_it_replies_under_the_top_level_comment(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    top = fake_facebook.add_comment(post["id"], "Question?")
    fake_facebook.add_comment(post["id"], "Me too", parent_id=top["id"])
    reply_item = fetched(fake_facebook, facebook, "Me too")

    sent = facebook().reply(target=target_of(reply_item), text="We ship!", idempotency_key="k")

    ours = fake_facebook.comment(sent.external_id)
    assert ours is not None and ours["message"] == "We ship!"
    assert ours["parent"]["id"] == top["id"] and ours["from"]["id"] == PAGE_ID
    assert [a["action"] for a in fake_facebook.actions()] == ["reply"]


def test_a_reply_to_a_deleted_comment_is_not_found(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    top = fake_facebook.add_comment(post["id"], "Soon gone")
    item = fetched(fake_facebook, facebook, "Soon gone")
    fake_facebook.delete_comment(top["id"])
    with pytest.raises(NotFound, match="Facebook refused the reply") as caught:
        facebook().reply(target=target_of(item), text="Hello?", idempotency_key="k")
    assert caught.value.permanent and "does not exist" in caught.value.message


def test_an_empty_reply_is_an_invalid_request_with_the_reason(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "Question?")
    item = fetched(fake_facebook, facebook, "Question?")
    with pytest.raises(InvalidRequest, match="Missing message or attachment"):
        facebook().reply(target=target_of(item), text="", idempotency_key="k")


def test_it_sends_one_private_reply_per_comment(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "My order is late")
    item = fetched(fake_facebook, facebook, "My order is late")
    connector = facebook()

    sent = connector.private_reply(target=target_of(item), text="DM'd you", idempotency_key="k")

    assert sent.external_id.startswith("m_")
    [action] = fake_facebook.actions()
    assert action["action"] == "private_reply" and action["target"] == item.external_id
    with pytest.raises(InvalidRequest, match="Activity already replied to"):
        connector.private_reply(target=target_of(item), text="again", idempotency_key="k2")
    refreshed = fetched(fake_facebook, facebook, "My order is late")
    assert refreshed.raw["can_reply_privately"] is False
    reason = FacebookConnector.unavailable_reason(Capability.PRIVATE_REPLY, target_of(refreshed))
    assert "one private reply per comment" in reason


def test_it_hides_unhides_deletes_and_likes(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    top = fake_facebook.add_comment(post["id"], "Buy followers at spam.example")
    fake_facebook.add_comment(post["id"], "a reply", parent_id=top["id"])
    item = fetched(fake_facebook, facebook, "Buy followers at spam.example")
    connector = facebook()

    connector.set_hidden(target=target_of(item), hidden=True)
    assert fake_facebook.comment(top["id"])["is_hidden"] is True
    connector.set_hidden(target=target_of(item, state="hidden"), hidden=False)
    assert fake_facebook.comment(top["id"])["is_hidden"] is False
    connector.like(target=target_of(item))
    assert fake_facebook.comment(top["id"])["like_count"] == 1
    connector.delete(target=target_of(item))
    assert fake_facebook.comment(top["id"]) is None
    assert fake_facebook.comments(post["id"]) == []  # its reply went with it
    actions = [a["action"] for a in fake_facebook.actions()]
    assert actions == ["hide", "unhide", "like", "delete"]


def test_the_page_cannot_hide_its_own_comment(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    top = fake_facebook.add_comment(post["id"], "Question?")
    fake_facebook.add_page_comment(top["id"], "Our answer")
    ours = fetched(fake_facebook, facebook, "Our answer")
    assert "own comments" in FacebookConnector.unavailable_reason(Capability.HIDE, target_of(ours))
    with pytest.raises(InvalidRequest, match="cannot hide its own comments"):
        facebook().set_hidden(target=target_of(ours), hidden=True)


def test_unavailable_reasons_follow_the_items_state():
    [comment] = fixture("comments_stream.json")["data"]
    item = normalize_comment(comment, post=POST, page_id=PAGE_ID, parents={})
    reason = FacebookConnector.unavailable_reason
    assert reason(Capability.REPLY, target_of(item)) == ""
    assert reason(Capability.BAN, target_of(item)) == "The platform does not support this."
    assert reason(Capability.UNHIDE, target_of(item)) == "The comment is not hidden."
    assert reason(Capability.HIDE, target_of(item, state="hidden")) != ""
    assert reason(Capability.LIKE, target_of(item, state="deleted")) != ""
    # The documented comment is from March 2026: too old for a private reply now.
    assert "7 days" in reason(Capability.PRIVATE_REPLY, target_of(item))
    outbound = target_of(item, direction="outbound")
    assert "own comment" in reason(Capability.PRIVATE_REPLY, outbound)


def test_after_an_ambiguous_timeout_it_finds_the_reply_that_got_through(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "Do you ship to Canada?")
    item = fetched(fake_facebook, facebook, "Do you ship to Canada?")
    target = target_of(item)
    not_before = datetime.now(UTC)
    fake_facebook.accept_then_stall(2)

    with pytest.raises(Transient, match=r"did not answer .* in time"):
        facebook(read_timeout=0.5).reply(target=target, text="Yes, we do!", idempotency_key="k")

    found = facebook().find_sent_reply(target=target, text="Yes, we do!", not_before=not_before)
    replies = [c for c in fake_facebook.comments(post["id"]) if c["from"]["id"] == PAGE_ID]
    assert len(replies) == 1
    assert found is not None and found.external_id == replies[0]["id"]


def test_it_finds_no_reply_when_none_was_posted(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    top = fake_facebook.add_comment(post["id"], "Hello?")
    fake_facebook.add_page_comment(top["id"], "Another answer")
    item = fetched(fake_facebook, facebook, "Hello?")
    found = facebook().find_sent_reply(
        target=target_of(item), text="Yes, we do!", not_before=datetime.now(UTC)
    )
    assert found is None


# Connection test and pacing.


def test_it_reports_a_working_connection(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_comment(post["id"], "Hi")
    checks = facebook().test_connection()
    assert [(c.name, c.ok) for c in checks] == [
        ("Access token", True),
        ("Page", True),
        ("Posts", True),
        ("Comments with authors", True),
    ]


def test_it_reports_a_revoked_token_without_raising(fake_facebook, facebook):
    fake_facebook.revoke_token("demo-page-token")
    [check] = facebook().test_connection()
    assert check.name == "Access token" and not check.ok
    assert "refused the access token" in check.detail


def test_it_reports_comments_without_authors(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    fake_facebook.add_raw_comment(post["id"], {"id": "1_2", "message": "no from"})
    checks = {c.name: c for c in facebook().test_connection()}
    assert not checks["Comments with authors"].ok
    assert "MODERATE" in checks["Comments with authors"].detail


def test_it_slows_down_when_graph_reports_high_usage(fake_facebook, facebook):
    fake_facebook.set_rate_limit(100)
    connector = facebook()
    connector.fetch_page({})
    assert connector.next_poll_delay(60) == 60
    fake_facebook.set_rate_limit(2)
    connector.fetch_page({})  # 1 of 2 calls left: 100 % in the next header
    assert connector.next_poll_delay(60) == 240
