"""The Instagram connector against the documented payloads and the fake account over HTTP."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels_integrations.base import Capability, InboundItem, ItemUpdate, ReplyTarget
from channels_integrations.errors import (
    AuthExpired,
    InvalidRequest,
    MalformedPayload,
    NotFound,
    RateLimited,
    Transient,
)
from channels_integrations.facebook.graph import parse_graph_error
from channels_integrations.instagram import connector as instagram_connector
from channels_integrations.instagram.connector import InstagramConnector, normalize_comment
from channels_integrations.instagram.fake import ACCOUNT_ID

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "instagram" / "fixtures"
MEDIA = {
    "id": "17895695668004550",
    "caption": "Back in stock soon?",
    "permalink": "https://www.instagram.com/p/C123456789x/",
    "media_product_type": "FEED",
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


def by_text(page) -> dict[str, InboundItem]:
    return {item.text: item for item in page.items}


def comment_calls(fake) -> list[dict]:
    return [c for c in fake.calls() if c["path"].endswith("/comments")]


# Normalization of the documented payloads.


def test_it_normalizes_the_documented_comment_and_its_reply():
    [comment] = fixture("comments.json")["data"]
    item = normalize_comment(comment, media=MEDIA, account_id=ACCOUNT_ID, account_username="brand")
    assert item.external_id == "17873440459141021" and item.thread_key == item.external_id
    assert item.kind == "comment" and item.parent_external_id == ""
    assert item.author.external_id == "17841400000000001"
    assert item.author.handle == "jane.doe"
    assert item.author.profile_url == "https://www.instagram.com/jane.doe/"
    assert item.text == "@brand is this back in stock?"
    assert item.created_at.isoformat() == "2026-03-22T18:20:04+00:00"
    assert item.post_external_id == MEDIA["id"] and item.post_text == MEDIA["caption"]
    assert item.post_permalink == MEDIA["permalink"] and item.permalink == ""
    assert "replies" not in item.raw and item.raw["media"]["id"] == MEDIA["id"]
    assert not item.from_self

    [reply] = comment["replies"]["data"]
    answer = normalize_comment(reply, media=MEDIA, account_id=ACCOUNT_ID, account_username="")
    assert answer.parent_external_id == item.external_id == answer.thread_key
    assert answer.from_self


def test_a_comment_without_any_author_is_malformed():
    [comment, _] = fixture("comments_default_fields.json")["data"]
    with pytest.raises(MalformedPayload, match="author"):
        normalize_comment(comment, media=MEDIA, account_id=ACCOUNT_ID, account_username="")


def test_the_account_is_recognized_by_its_username_too():
    [comment] = fixture("comments.json")["data"]
    comment = comment | {"from": None, "username": "brand"}
    del comment["from"]
    item = normalize_comment(comment, media=MEDIA, account_id=ACCOUNT_ID, account_username="brand")
    assert item.from_self and item.author.external_id == "brand"


def test_it_reads_the_documented_instagram_error():
    error = parse_graph_error(fixture("error_image_too_large.json"))
    assert error is not None
    assert (error.code, error.subcode, error.is_transient) == (36000, 2207004, False)


# Polling.


def test_it_polls_comments_and_replies_then_only_lists_again_when_the_count_changes(
    fake_instagram, instagram
):
    media = fake_instagram.add_media("Neue Kollektion 🍂")
    top = fake_instagram.add_comment(media["id"], "Gibt es das in L?", username="jana.koehler")
    fake_instagram.add_comment(media["id"], "Ja!", username="tom_m", parent_id=top["id"])
    connector = instagram()

    page = connector.fetch_page({})
    found = by_text(page)
    assert set(found) == {"Gibt es das in L?", "Ja!"} and page.caught_up
    assert found["Ja!"].thread_key == top["id"] == found["Ja!"].parent_external_id
    assert found["Ja!"].post_text == "Neue Kollektion 🍂"
    assert page.cursor["media"][media["id"]]["count"] == 2

    calls_before = len(comment_calls(fake_instagram))
    quiet = connector.fetch_page(page.cursor)
    assert quiet.items == [] and quiet.updates == []
    assert len(comment_calls(fake_instagram)) == calls_before  # count unchanged: no listing

    fake_instagram.add_comment(media["id"], "Und in M?", username="lena.s")
    later = connector.fetch_page(quiet.cursor)
    assert [item.text for item in later.items] == ["Und in M?"]


def test_a_deleted_comment_comes_back_as_an_update(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "Spam link")
    reply = fake_instagram.add_comment(media["id"], "reply", parent_id=top["id"])
    connector = instagram()
    cursor = connector.fetch_page({}).cursor

    fake_instagram.delete_comment(top["id"])
    page = connector.fetch_page(cursor)

    assert page.items == []
    assert set(page.updates) == {
        ItemUpdate(top["id"], state="deleted"),
        ItemUpdate(reply["id"], state="deleted"),
    }
    assert page.cursor["media"][media["id"]]["seen"] == []


def test_a_hidden_change_comes_back_as_an_update_when_the_list_is_read(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    first = fake_instagram.add_comment(media["id"], "rude")
    connector = instagram()
    cursor = connector.fetch_page({}).cursor
    fake_instagram.set_hidden(first["id"], True)
    fake_instagram.add_comment(media["id"], "new one")  # changes the count, so it is listed

    page = connector.fetch_page(cursor)

    assert [item.text for item in page.items] == ["new one"]
    assert page.updates == [ItemUpdate(first["id"], state="hidden")]
    assert page.cursor["media"][media["id"]]["hidden"] == [first["id"]]


def test_it_walks_empty_pages_and_paged_replies(fake_instagram, instagram, monkeypatch):
    monkeypatch.setattr(instagram_connector, "COMMENTS_PAGE_SIZE", 2)
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "oldest")
    for n in range(30):  # more than the 25 replies the nested field returns
        fake_instagram.add_comment(media["id"], f"reply {n}", parent_id=top["id"])
    for n in range(2):
        fake_instagram.add_comment(media["id"], f"restricted {n}", filtered=True)
    fake_instagram.add_comment(media["id"], "newest")

    page = instagram().fetch_page({})

    texts = {item.text for item in page.items}
    assert texts == {"oldest", "newest"} | {f"reply {n}" for n in range(30)}
    assert any(c["path"].endswith(f"{top['id']}/replies") for c in fake_instagram.calls())


def test_a_cut_listing_reports_no_deletions(fake_instagram, instagram, monkeypatch):
    media = fake_instagram.add_media("Post")
    comments = [fake_instagram.add_comment(media["id"], f"c{n}") for n in range(4)]
    connector = instagram()
    cursor = connector.fetch_page({}).cursor
    monkeypatch.setattr(instagram_connector, "COMMENTS_PAGE_SIZE", 1)
    monkeypatch.setattr(instagram_connector, "MAX_COMMENT_PAGES", 2)
    fake_instagram.add_comment(media["id"], "new")

    page = connector.fetch_page(cursor)

    assert [item.text for item in page.items] == ["new"]
    assert page.updates == []
    assert comments[0]["id"] in page.cursor["media"][media["id"]]["seen"]


def test_the_seen_ids_are_capped_and_older_comments_stay_quiet(
    fake_instagram, instagram, monkeypatch
):
    monkeypatch.setattr(instagram_connector, "MAX_SEEN_PER_MEDIA", 3)
    media = fake_instagram.add_media("Post")
    base = datetime.now(UTC) - timedelta(minutes=10)
    old = [
        fake_instagram.add_comment(media["id"], f"c{n}", created_at=base + timedelta(minutes=n))
        for n in range(5)
    ]
    connector = instagram()
    page = connector.fetch_page({})
    assert len(page.items) == 5
    state = page.cursor["media"][media["id"]]
    assert state["seen"] == [old[4]["id"], old[3]["id"], old[2]["id"]]

    fake_instagram.delete_comment(old[0]["id"])  # beyond the cap: nobody remembers it
    fake_instagram.add_comment(media["id"], "new")
    fake_instagram.add_comment(media["id"], "newer")
    later = connector.fetch_page(page.cursor)
    assert sorted(item.text for item in later.items) == ["new", "newer"] and later.updates == []


def test_an_unchanged_count_is_listed_again_after_a_while(fake_instagram, instagram, monkeypatch):
    media = fake_instagram.add_media("Post")
    doomed = fake_instagram.add_comment(media["id"], "will be deleted")
    connector = instagram()
    cursor = connector.fetch_page({}).cursor
    fake_instagram.delete_comment(doomed["id"])
    fake_instagram.add_comment(media["id"], "same count")

    assert connector.fetch_page(cursor).items == []  # the count alone shows no change

    monkeypatch.setattr(instagram_connector, "RELIST_AFTER", timedelta(0))
    page = connector.fetch_page(cursor)
    assert [item.text for item in page.items] == ["same count"]
    assert page.updates == [ItemUpdate(doomed["id"], state="deleted")]


def test_the_first_poll_takes_the_last_day_and_a_backfill_goes_further(fake_instagram, instagram):
    media = fake_instagram.add_media("Post", created_at=datetime.now(UTC) - timedelta(days=5))
    fake_instagram.add_comment(
        media["id"], "four days old", created_at=datetime.now(UTC) - timedelta(days=4)
    )
    fake_instagram.add_comment(media["id"], "fresh")
    connector = instagram()
    first = connector.fetch_page({})
    assert [item.text for item in first.items] == ["fresh"]
    assert first.updates == []

    backfill = connector.initial_cursor(backfill_since=datetime.now(UTC) - timedelta(days=7))
    assert {i.text for i in connector.fetch_page(backfill).items} == {"fresh", "four days old"}


def test_media_older_than_the_window_are_not_polled(fake_instagram, instagram):
    old = fake_instagram.add_media("Old", created_at=datetime.now(UTC) - timedelta(days=40))
    fake_instagram.add_comment(old["id"], "late comment")
    page = instagram().fetch_page({})
    assert page.items == [] and page.cursor["media"] == {}


def test_it_resumes_a_sweep_cut_short_by_the_item_budget(fake_instagram, instagram, monkeypatch):
    monkeypatch.setattr(instagram_connector, "ITEM_BUDGET", 1)
    media = [fake_instagram.add_media(f"Post {n}") for n in range(2)]
    for each in media:
        fake_instagram.add_comment(each["id"], f"on {each['caption']}")
    connector = instagram()
    first = connector.fetch_page({})
    assert not first.caught_up and first.cursor["resume"] == media[0]["id"]
    second = connector.fetch_page(first.cursor)
    assert second.caught_up and {i.text for i in first.items + second.items} == {
        "on Post 0",
        "on Post 1",
    }


def test_it_skips_malformed_comments_and_keeps_the_rest(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    fake_instagram.add_comment(media["id"], "before")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    fake_instagram.add_raw_comment(media["id"], {"id": "9001", "text": "?", "timestamp": now})
    fake_instagram.add_raw_comment(
        media["id"], {"id": "9002", "text": 7, "username": "x", "timestamp": now}
    )
    fake_instagram.add_raw_comment(media["id"], {"id": "9003", "text": "?", "timestamp": "soon"})
    fake_instagram.add_raw_comment(media["id"], "not an object")
    fake_instagram.add_comment(media["id"], "after")
    connector = instagram()

    page = connector.fetch_page({})

    assert {item.text for item in page.items} == {"before", "after"}
    reasons = {skipped.external_id: skipped.reason for skipped in page.skipped}
    assert "author" in reasons["9001"] and "text" in reasons["9002"] and "" in reasons
    assert "timestamp" in reasons["9003"]
    # Seen once, skipped once: they are not reported again on the next listing.
    fake_instagram.add_comment(media["id"], "later")
    again = connector.fetch_page(page.cursor)
    assert [s.external_id for s in again.skipped] == [""]


def test_it_keeps_long_html_and_emoji_texts(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    long_text = "ß" * 9_996 + "🔥🔥🔥🔥"
    fake_instagram.add_comment(media["id"], long_text)
    fake_instagram.add_comment(media["id"], "<i>so</i> good & cheap")
    texts = {item.text for item in instagram().fetch_page({}).items}
    assert texts == {long_text, "<i>so</i> good & cheap"}


def test_the_accounts_own_comments_are_from_self(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "Hi")
    fake_instagram.add_own_comment(top["id"], "Hello from us")
    found = by_text(instagram().fetch_page({}))
    assert found["Hello from us"].from_self and not found["Hi"].from_self


# Errors.


def test_code_80002_is_a_rate_limit_until_access_is_regained(fake_instagram, instagram):
    fake_instagram.fail_next_rate_limited(regain_minutes=23)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited, match="80002") as caught:
        instagram().fetch_page({})
    retry_at = caught.value.retry_at
    assert before + timedelta(minutes=23) <= retry_at <= datetime.now(UTC) + timedelta(minutes=23)


def test_the_instagram_usage_entry_decides_the_wait(fake_instagram, instagram):
    usage = {
        ACCOUNT_ID: [
            {"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7},
            {"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 90},
        ]
    }
    fake_instagram.fail_next_graph_error(
        80002, "(#80002) Too many calls", headers={"X-Business-Use-Case-Usage": json.dumps(usage)}
    )
    with pytest.raises(RateLimited) as caught:
        instagram().fetch_page({})
    assert caught.value.retry_at < datetime.now(UTC) + timedelta(minutes=8)


def test_an_expired_or_revoked_token_needs_reauthorization(fake_instagram, instagram):
    fake_instagram.expire_token("demo-ig-token")
    with pytest.raises(AuthExpired, match="subcode 463"):
        instagram().fetch_page({})
    fake_instagram.revoke_token("other-token")
    with pytest.raises(AuthExpired, match="subcode 460"):
        instagram(token="other-token").fetch_page({})


@pytest.mark.parametrize(("code", "is_transient"), [(1, None), (2, None), (9004, True)])
def test_transient_graph_errors_are_transient(fake_instagram, instagram, code, is_transient):
    fake_instagram.fail_next_graph_error(code, "Try again later", is_transient=is_transient)
    with pytest.raises(Transient):
        instagram().fetch_page({})


def test_a_server_error_page_is_transient(fake_instagram, instagram):
    fake_instagram.fail_next(502, body="<html>Bad gateway</html>")
    with pytest.raises(Transient):
        instagram().fetch_page({})


# Actions.


def polled(fake_instagram, instagram, text: str) -> InboundItem:
    return by_text(instagram().fetch_page({}))[text]


def test_it_replies_to_a_top_level_comment(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    fake_instagram.add_comment(media["id"], "Back in stock?", username="jane.doe")
    item = polled(fake_instagram, instagram, "Back in stock?")

    sent = instagram().reply(target=target_of(item), text="Friday!", idempotency_key="k")

    reply = fake_instagram.comment(sent.external_id)
    assert reply["text"] == "Friday!" and reply["parent_id"] == item.external_id
    assert reply["from"]["id"] == ACCOUNT_ID


def test_a_reply_to_a_reply_goes_to_its_top_level_comment_with_a_mention(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "Question", username="jane.doe")
    fake_instagram.add_comment(media["id"], "Me too!", username="sam.rivera", parent_id=top["id"])
    item = polled(fake_instagram, instagram, "Me too!")

    sent = instagram().reply(target=target_of(item), text="Friday!", idempotency_key="k")

    reply = fake_instagram.comment(sent.external_id)
    assert reply["parent_id"] == top["id"] and reply["text"] == "@sam.rivera Friday!"


def test_the_fake_refuses_a_reply_to_a_hidden_comment_with_its_reason(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    fake_instagram.add_comment(media["id"], "hidden one", hidden=True)
    item = polled(fake_instagram, instagram, "hidden one")
    assert "unhide" in InstagramConnector.unavailable_reason(Capability.REPLY, target_of(item))
    with pytest.raises(InvalidRequest, match=r"Instagram refused the reply: .*hidden") as caught:
        instagram().reply(target=target_of(item), text="Hi", idempotency_key="k")
    assert caught.value.permanent


def test_it_hides_unhides_and_deletes(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "spam")
    fake_instagram.add_comment(media["id"], "reply", parent_id=top["id"])
    item = polled(fake_instagram, instagram, "spam")
    connector = instagram()

    connector.set_hidden(target=target_of(item), hidden=True)
    assert fake_instagram.comment(top["id"])["hidden"] is True
    connector.set_hidden(target=target_of(item, state="hidden"), hidden=False)
    assert fake_instagram.comment(top["id"])["hidden"] is False
    connector.delete(target=target_of(item))
    assert fake_instagram.comments(media["id"]) == []
    assert [a["action"] for a in fake_instagram.actions()] == ["hide", "unhide", "delete"]


def test_actions_on_a_deleted_comment_are_not_found(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "gone soon")
    item = polled(fake_instagram, instagram, "gone soon")
    fake_instagram.delete_comment(top["id"])
    with pytest.raises(NotFound, match="Instagram refused the request to delete the comment"):
        instagram().delete(target=target_of(item))


def test_the_account_cannot_hide_its_own_comment(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    own = fake_instagram.add_own_comment(media["id"], "Giveaway rules: …")
    item = polled(fake_instagram, instagram, own["text"])
    outbound = target_of(item, direction="outbound")
    assert "own comments" in InstagramConnector.unavailable_reason(Capability.HIDE, outbound)
    with pytest.raises(InvalidRequest, match="hide your own comments"):
        instagram().set_hidden(target=target_of(item), hidden=True)


def test_there_is_no_like_and_no_private_reply():
    [comment] = fixture("comments.json")["data"]
    item = normalize_comment(comment, media=MEDIA, account_id=ACCOUNT_ID, account_username="")
    reason = InstagramConnector.unavailable_reason
    assert "like" in reason(Capability.LIKE, target_of(item))
    assert "live videos" in reason(Capability.PRIVATE_REPLY, target_of(item))
    assert reason(Capability.UNHIDE, target_of(item)) == "The comment is not hidden."
    assert reason(Capability.REPLY, target_of(item, state="deleted")) != ""
    assert reason(Capability.REPLY, target_of(item)) == ""


def test_after_an_ambiguous_timeout_it_finds_the_reply_that_got_through(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    top = fake_instagram.add_comment(media["id"], "Question", username="jane.doe")
    fake_instagram.add_comment(media["id"], "Me too", username="sam.rivera", parent_id=top["id"])
    item = polled(fake_instagram, instagram, "Me too")
    not_before = datetime.now(UTC)
    fake_instagram.accept_then_stall(2)

    with pytest.raises(Transient, match=r"did not answer .* in time"):
        instagram(read_timeout=0.5).reply(target=target_of(item), text="Soon!", idempotency_key="k")

    found = instagram().find_sent_reply(target=target_of(item), text="Soon!", not_before=not_before)
    ours = [c for c in fake_instagram.comments(media["id"]) if c["from"]["id"] == ACCOUNT_ID]
    assert len(ours) == 1 and ours[0]["text"] == "@sam.rivera Soon!"
    assert found is not None and found.external_id == ours[0]["id"]
    assert (
        instagram().find_sent_reply(target=target_of(item), text="Other", not_before=not_before)
        is None
    )


# Connection test.


def test_it_reports_a_working_connection(fake_instagram, instagram):
    media = fake_instagram.add_media("Post")
    fake_instagram.add_comment(media["id"], "Hi")
    checks = instagram().test_connection()
    assert [(c.name, c.ok) for c in checks] == [
        ("Access token and account", True),
        ("Posts", True),
        ("Comments", True),
    ]
    assert "@brand" in checks[0].detail


def test_it_reports_a_revoked_token_without_raising(fake_instagram, instagram):
    fake_instagram.revoke_token("demo-ig-token")
    [check] = instagram().test_connection()
    assert not check.ok and "refused the access token" in check.detail
