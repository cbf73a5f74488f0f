"""The Mastodon connector against the documented payloads and the fake server over HTTP."""

import json
from pathlib import Path

import pytest

from channels_integrations.base import ConnectionSettings, ReplyTarget
from channels_integrations.errors import AuthExpired, InvalidRequest, RateLimited, Transient
from channels_integrations.http import platform_session
from channels_integrations.mastodon.connector import MastodonConnector, normalize_notification
from tests.conftest import ServedMastodon

FIXTURES = Path(__file__).resolve().parents[2] / "channels_integrations" / "mastodon" / "fixtures"


def connector_for(
    fake: ServedMastodon, *, token: str = "demo-token", read_timeout: float = 5.0
) -> MastodonConnector:
    return MastodonConnector(
        ConnectionSettings(settings={"base_url": fake.url}, credentials={"access_token": token}),
        platform_session(read_timeout=read_timeout),
    )


def test_it_normalizes_the_documented_mention():
    notification = json.loads((FIXTURES / "notifications_mention.json").read_text())[0]
    item = normalize_notification(notification)
    assert item.external_id == "103186126728896492"
    assert item.parent_external_id == "103186038209478945"
    assert item.author.external_id == "971724"
    assert item.author.handle == "zsc@example.social"
    assert item.text == "@brand sup!"
    assert item.permalink == "https://example.social/@zsc/103186126728896492"
    assert item.kind == "mention"
    assert item.created_at.isoformat() == "2026-03-22T07:49:01.940000+00:00"


def test_it_treats_direct_visibility_as_a_private_message():
    notification = json.loads((FIXTURES / "notifications_mention.json").read_text())[0]
    notification["status"]["visibility"] = "direct"
    assert normalize_notification(notification).kind == "private_message"


def test_it_never_keeps_platform_html_or_script_urls():
    notification = json.loads((FIXTURES / "notifications_mention.json").read_text())[0]
    notification["status"]["content"] = "<p>hi<script>alert(1)</script> <b>there</b><br>line 2</p>"
    notification["status"]["url"] = "javascript:alert(1)"
    notification["status"]["uri"] = "javascript:alert(2)"
    notification["status"]["account"]["url"] = "data:text/html,boo"
    item = normalize_notification(notification)
    assert item.text == "hi there\nline 2"
    assert item.permalink == ""
    assert item.author.profile_url == ""


def test_it_pages_forward_with_min_id_until_caught_up(fake_mastodon):
    first = fake_mastodon.add_mention("first")
    connector = connector_for(fake_mastodon)
    page = connector.fetch_page({})
    assert [i.text for i in page.items] == ["@brand first"]
    assert page.cursor == {"min_id": first["id"]} and page.caught_up

    for n in range(3):
        fake_mastodon.add_mention(f"later {n}")
    page = connector.fetch_page(page.cursor)
    assert sorted(i.text for i in page.items) == [
        "@brand later 0",
        "@brand later 1",
        "@brand later 2",
    ]
    assert not page.caught_up
    page = connector.fetch_page(page.cursor)
    assert page.items == [] and page.caught_up

    notification_calls = [c for c in fake_mastodon.calls() if c["path"] == "/api/v1/notifications"]
    assert notification_calls[1]["query"]["min_id"] == [first["id"]]
    assert notification_calls[1]["query"]["types[]"] == ["mention"]


def test_it_skips_a_malformed_notification_and_keeps_the_rest(fake_mastodon):
    connector = connector_for(fake_mastodon)
    fake_mastodon.add_mention("before")
    broken = fake_mastodon.add_raw_notification(
        {"type": "mention", "status": {"id": "1", "content": 5}}
    )
    fake_mastodon.add_mention("after")
    page = connector.fetch_page({"min_id": "0"})
    assert sorted(i.text for i in page.items) == ["@brand after", "@brand before"]
    assert [s.external_id for s in page.skipped] == [broken["id"]]
    assert int(page.cursor["min_id"]) >= int(broken["id"])


def test_it_replies_in_thread_with_the_mention_visibility_and_idempotency_key(fake_mastodon):
    notification = fake_mastodon.add_mention(
        "Wo bleibt meine Bestellung?", username="erika", visibility="unlisted"
    )
    item = normalize_notification(notification)
    connector = connector_for(fake_mastodon)
    target = ReplyTarget(
        external_id=item.external_id, author_handle=item.author.handle, raw=item.raw
    )

    sent = connector.reply(target=target, text="Wir schauen nach!", idempotency_key="key-1")
    again = connector.reply(target=target, text="Wir schauen nach!", idempotency_key="key-1")

    assert again.external_id == sent.external_id
    [status] = fake_mastodon.received_statuses()
    assert status["in_reply_to_id"] == item.external_id
    assert status["visibility"] == "unlisted"
    assert status["status"] == f"@{item.author.handle} Wir schauen nach!"
    assert status["idempotency_key"] == "key-1"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": "The access token is invalid"}, AuthExpired),
        (503, {"error": "Service unavailable"}, Transient),
        (500, "<html>oops</html>", Transient),
        (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, InvalidRequest),
    ],
)
def test_it_maps_platform_errors_to_the_taxonomy(fake_mastodon, status, body, error):
    fake_mastodon.fail_next(status, body=body)
    with pytest.raises(error):
        connector_for(fake_mastodon).fetch_page({"min_id": "0"})


def test_it_reads_the_rate_limit_reset_from_the_headers(fake_mastodon):
    fake_mastodon.fail_next(
        429,
        body={"error": "Too many requests"},
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2099-03-22T18:25:00.000000Z",
        },
    )
    with pytest.raises(RateLimited) as caught:
        connector_for(fake_mastodon).fetch_page({"min_id": "0"})
    assert caught.value.retry_at.isoformat() == "2099-03-22T18:25:00+00:00"


def test_a_revoked_token_is_an_expired_authorization(fake_mastodon):
    fake_mastodon.revoke_token("demo-token")
    with pytest.raises(AuthExpired):
        connector_for(fake_mastodon).fetch_page({})


def test_a_platform_that_does_not_answer_in_time_is_transient(fake_mastodon):
    fake_mastodon.set_delay(1.0)
    with pytest.raises(Transient, match="did not answer in time"):
        connector_for(fake_mastodon, read_timeout=0.2).fetch_page({})
