"""The fake Mastodon server, exercised over real HTTP as the connector will use it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from channels_integrations.fake_server import FakeServer
from channels_integrations.mastodon.demo import FOLLOW_UPS, MENTIONS, PERSONAS, MentionGenerator
from channels_integrations.mastodon.fake import FakeMastodon

TOKEN = "demo-token"
FIXTURE = Path(__file__).parents[2] / "channels_integrations/mastodon/fixtures"


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> FakeMastodon:
    return FakeMastodon()


@pytest.fixture
def url(fake: FakeMastodon) -> Iterator[str]:
    with FakeServer(fake.wsgi_app) as server:
        yield server.url


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def notifications(
    url: str, params: dict[str, str | int] | None = None, *, token: str = TOKEN
) -> requests.Response:
    return requests.get(
        f"{url}/api/v1/notifications", params=params, headers=auth(token), timeout=5
    )


def post_status(url: str, data: dict[str, object], key: str | None = None) -> requests.Response:
    headers = auth() | ({"Idempotency-Key": key} if key else {})
    return requests.post(f"{url}/api/v1/statuses", data=data, headers=headers, timeout=5)


def ids(response: requests.Response) -> list[int]:
    return [int(item["id"]) for item in response.json()]


def seed(fake: FakeMastodon, count: int) -> list[int]:
    return [int(fake.add_mention(f"mention {n}")["id"]) for n in range(count)]


# Paging


def test_it_pages_forward_with_min_id_until_empty(fake: FakeMastodon, url: str) -> None:
    seeded = seed(fake, 7)
    cursor, pages = seeded[0] - 1, []
    while True:
        response = notifications(url, {"types[]": "mention", "min_id": cursor, "limit": 3})
        if not response.json():
            assert "Link" not in response.headers
            break
        pages.append(ids(response))
        cursor = max(ids(response))
    assert pages == [seeded[2::-1], seeded[5:2:-1], seeded[6:]]


def test_it_returns_the_newest_page_for_since_id(fake: FakeMastodon, url: str) -> None:
    seeded = seed(fake, 6)
    response = notifications(url, {"since_id": seeded[0], "limit": 2})
    assert ids(response) == [seeded[5], seeded[4]]


def test_it_returns_older_items_for_max_id(fake: FakeMastodon, url: str) -> None:
    seeded = seed(fake, 5)
    assert ids(notifications(url, {"max_id": seeded[3], "limit": 2})) == [seeded[2], seeded[1]]


def test_it_links_next_and_prev_pages_keeping_the_filter(fake: FakeMastodon, url: str) -> None:
    seeded = seed(fake, 5)
    response = notifications(url, {"types[]": "mention", "limit": 2})
    assert ids(response) == [seeded[4], seeded[3]]
    links = response.links
    assert links["next"]["url"].startswith(f"{url}/api/v1/notifications?max_id={seeded[3]}&")
    assert links["prev"]["url"].startswith(f"{url}/api/v1/notifications?min_id={seeded[4]}&")
    assert "types[]=mention" in links["next"]["url"]
    older = requests.get(links["next"]["url"], headers=auth(), timeout=5)
    assert ids(older) == [seeded[2], seeded[1]]


def test_it_clamps_the_limit_to_80(fake: FakeMastodon, url: str) -> None:
    seed(fake, 90)
    assert len(notifications(url).json()) == 40
    assert len(notifications(url, {"limit": 500}).json()) == 80


def test_it_filters_by_type(fake: FakeMastodon, url: str) -> None:
    mention = fake.add_mention("hello")
    favourite = fake.add_raw_notification({"type": "favourite", "account": {"id": "1"}})
    assert [n["id"] for n in notifications(url, {"types[]": "mention"}).json()] == [mention["id"]]
    excluded = notifications(url, {"exclude_types[]": "mention"}).json()
    assert [n["id"] for n in excluded] == [favourite["id"]]
    assert int(favourite["id"]) > int(mention["id"])


def test_it_serves_malformed_notifications_as_injected(fake: FakeMastodon, url: str) -> None:
    fake.add_raw_notification({"type": "mention", "status": None})
    [item] = notifications(url).json()
    assert item["status"] is None
    assert "account" not in item


# Shape


def test_it_renders_mentions_in_the_documented_shape(fake: FakeMastodon) -> None:
    [documented] = json.loads((FIXTURE / "notifications_mention.json").read_text())
    made = fake.add_mention("sup!", in_reply_to_id="103186038209478945", language="en")

    def same_keys(expected: object, actual: object, where: str) -> None:
        if isinstance(expected, dict):
            assert isinstance(actual, dict), where
            for key, value in expected.items():
                assert key in actual, f"{where}.{key}"
                same_keys(value, actual[key], f"{where}.{key}")

    same_keys(documented, made, "notification")
    ignored = ("created_at",)
    for key, value in documented["status"].items():
        if key not in ignored and key != "account":
            assert made["status"][key] == value, key
    assert made["id"] == documented["id"]
    assert made["account"] == documented["account"]


def test_it_formats_mention_text_as_mastodon_html(fake: FakeMastodon) -> None:
    made = fake.add_mention("Zeile 1\nZeile 2\n\n<b>Absatz</b> & so")
    content = made["status"]["content"]
    assert content.endswith("Zeile 1<br />Zeile 2</p><p>&lt;b&gt;Absatz&lt;/b&gt; &amp; so</p>")
    assert content.startswith('<p><span class="h-card"><a href="https://mastodon.social/@brand"')


# Auth, faults, rate limits, delays


def test_it_rejects_a_bad_token(url: str) -> None:
    response = notifications(url, token="nope")
    assert response.status_code == 401
    assert response.json() == {"error": "The access token is invalid"}


def test_it_rejects_a_revoked_token(fake: FakeMastodon, url: str) -> None:
    assert notifications(url).status_code == 200
    fake.revoke_token(TOKEN)
    assert notifications(url).status_code == 401


def test_it_accepts_the_token_as_a_query_parameter(url: str) -> None:
    response = requests.get(
        f"{url}/api/v1/accounts/verify_credentials", params={"access_token": TOKEN}, timeout=5
    )
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["acct"]) == ("14715", "brand")


def test_it_fails_the_next_calls_then_recovers(fake: FakeMastodon, url: str) -> None:
    fake.fail_next(503, times=2)
    fake.fail_next(401, body={"error": "The access token is invalid"}, path_prefix="/api/v1/st")
    assert [notifications(url).status_code for _ in range(3)] == [503, 503, 200]
    assert notifications(url).status_code == 200
    assert post_status(url, {"status": "hi"}).status_code == 401
    assert post_status(url, {"status": "hi"}).status_code == 200


def test_it_injects_faults_through_the_admin_endpoint(url: str) -> None:
    fault = {"status": 502, "body": "<html>Bad Gateway</html>", "times": 1}
    assert requests.post(f"{url}/__admin/fail-next", json=fault, timeout=5).status_code == 201
    response = notifications(url)
    assert (response.status_code, response.text) == (502, "<html>Bad Gateway</html>")
    assert notifications(url).status_code == 200


def test_it_sends_the_rate_limit_preset(fake: FakeMastodon, url: str) -> None:
    fake.fail_next_rate_limited(reset_in=90)
    response = notifications(url)
    assert response.status_code == 429
    assert response.json() == {"error": "Too many requests"}
    assert response.headers["X-RateLimit-Remaining"] == "0"
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"])
    assert timedelta(seconds=80) < reset - datetime.now(UTC) <= timedelta(seconds=90)


def test_it_counts_down_the_rate_limit_budget(url: str) -> None:
    first, second = notifications(url), notifications(url)
    assert first.headers["X-RateLimit-Limit"] == "300"
    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == (
        "299",
        "298",
    )


def test_it_answers_429_once_the_budget_is_spent() -> None:
    clock = FrozenClock(datetime(2026, 3, 22, 18, 21, 13, tzinfo=UTC))
    fake = FakeMastodon(rate_limit=3, clock=clock)
    with FakeServer(fake.wsgi_app) as server:
        remaining = [notifications(server.url).headers["X-RateLimit-Remaining"] for _ in range(3)]
        throttled = notifications(server.url)
        clock.now += timedelta(minutes=4)  # into the next 5-minute window
        after_reset = notifications(server.url)
    assert remaining == ["2", "1", "0"]
    assert throttled.status_code == 429
    assert throttled.json() == {"error": "Too many requests"}
    assert throttled.headers["X-RateLimit-Limit"] == "3"
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert throttled.headers["X-RateLimit-Reset"] == "2026-03-22T18:25:00.000000Z"
    assert after_reset.status_code == 200


def test_it_delays_responses_past_a_client_timeout(fake: FakeMastodon, url: str) -> None:
    fake.set_delay(1.0)
    with pytest.raises(requests.Timeout):
        requests.get(f"{url}/api/v1/notifications", headers=auth(), timeout=0.2)


# Statuses


def test_it_replies_once_per_idempotency_key(fake: FakeMastodon, url: str) -> None:
    mention = fake.add_mention("Wo bleibt mein Paket?", username="jana_k")
    reply = {
        "status": "@jana_k@example.social Wir schauen nach!",
        "in_reply_to_id": mention["status"]["id"],
        "visibility": "public",
    }
    first = post_status(url, reply, key="key-1")
    replay = post_status(url, reply, key="key-1")
    assert first.status_code == replay.status_code == 200
    assert first.json()["id"] == replay.json()["id"]
    status = first.json()
    assert status["account"]["id"] == "14715"
    assert status["in_reply_to_id"] == mention["status"]["id"]
    assert status["in_reply_to_account_id"] == mention["account"]["id"]
    assert status["mentions"] == [
        {
            "id": mention["account"]["id"],
            "username": "jana_k",
            "url": "https://example.social/@jana_k",
            "acct": "jana_k@example.social",
        }
    ]
    [received] = fake.received_statuses()
    assert received["idempotency_key"] == "key-1"
    assert received["status"] == reply["status"]
    assert [call["headers"].get("Idempotency-Key") for call in fake.calls()] == ["key-1"] * 2


def test_it_forgets_idempotency_keys_after_an_hour() -> None:
    clock = FrozenClock(datetime(2026, 3, 22, 12, 0, tzinfo=UTC))
    fake = FakeMastodon(clock=clock)
    with FakeServer(fake.wsgi_app) as server:
        first = post_status(server.url, {"status": "hello"}, key="k")
        clock.now += timedelta(minutes=59)
        within_the_hour = post_status(server.url, {"status": "hello"}, key="k")
        clock.now += timedelta(minutes=2)
        after_the_hour = post_status(server.url, {"status": "hello"}, key="k")
    assert first.json()["id"] == within_the_hour.json()["id"]
    assert after_the_hour.json()["id"] != first.json()["id"]


def test_it_accepts_json_bodies(url: str) -> None:
    response = requests.post(
        f"{url}/api/v1/statuses",
        json={"status": "Hallo!", "visibility": "direct", "language": "de"},
        headers=auth(),
        timeout=5,
    )
    assert response.status_code == 200
    assert (response.json()["visibility"], response.json()["language"]) == ("direct", "de")


def test_it_rejects_a_blank_status(fake: FakeMastodon, url: str) -> None:
    response = post_status(url, {"status": "   "})
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: Text can't be blank"}
    assert fake.received_statuses() == []


def test_it_rejects_a_reply_to_an_unknown_status(url: str) -> None:
    response = post_status(url, {"status": "hi", "in_reply_to_id": "1"})
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}


def test_it_deletes_only_the_brands_own_statuses(fake: FakeMastodon, url: str) -> None:
    mention = fake.add_mention("hi")
    own = post_status(url, {"status": "Danke!"}).json()
    others = requests.delete(
        f"{url}/api/v1/statuses/{mention['status']['id']}", headers=auth(), timeout=5
    )
    deleted = requests.delete(f"{url}/api/v1/statuses/{own['id']}", headers=auth(), timeout=5)
    gone = requests.get(f"{url}/api/v1/statuses/{own['id']}", headers=auth(), timeout=5)
    assert others.status_code == 403
    assert others.json() == {"error": "This action is not allowed"}
    assert (deleted.status_code, deleted.json()["text"]) == (200, "Danke!")
    assert gone.status_code == 404


def test_it_favourites_and_unfavourites(fake: FakeMastodon, url: str) -> None:
    status_id = fake.add_mention("hi")["status"]["id"]
    base = f"{url}/api/v1/statuses/{status_id}"
    liked = requests.post(f"{base}/favourite", headers=auth(), timeout=5).json()
    assert (liked["favourited"], liked["favourites_count"]) == (True, 1)
    assert notifications(url).json()[0]["status"]["favourited"] is True
    unliked = requests.post(f"{base}/unfavourite", headers=auth(), timeout=5).json()
    assert (unliked["favourited"], unliked["favourites_count"]) == (False, 0)


# Admin endpoints


def test_it_seeds_and_reports_calls_through_admin_endpoints(fake: FakeMastodon, url: str) -> None:
    seeded = requests.post(
        f"{url}/__admin/seed", json={"text": "Hallo", "username": "mueller_tom"}, timeout=5
    )
    raw = requests.post(f"{url}/__admin/seed", json={"raw": {"type": "poll"}}, timeout=5)
    assert (seeded.status_code, raw.status_code) == (201, 201)
    assert seeded.json()["account"]["acct"] == "mueller_tom@example.social"
    notifications(url, {"types[]": "mention"})
    [call] = requests.get(f"{url}/__admin/calls", timeout=5).json()
    assert call["query"] == {"types[]": ["mention"]}
    assert (call["method"], call["status"], call["has_authorization"]) == ("GET", 200, True)
    requests.post(f"{url}/__admin/reset", timeout=5)
    assert fake.calls() == []


def test_it_escapes_hostile_text_on_the_admin_page(fake: FakeMastodon, url: str) -> None:
    fake.add_mention("<script>alert(1)</script>", display_name="<img src=x onerror=alert(2)>")
    post_status(url, {"status": "<script>alert(3)</script>"}, key="<i>k</i>")
    page = requests.get(f"{url}/__admin/", timeout=5)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "<img" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page.text
    assert "&lt;i&gt;k&lt;/i&gt;" in page.text


def test_it_creates_mentions_from_the_admin_form(fake: FakeMastodon, url: str) -> None:
    form = {"text": "Tolle Aktion!", "username": "kaethe_w", "display_name": "Käthe"}
    response = requests.post(
        f"{url}/__admin/mention",
        data=form | {"visibility": "direct"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/__admin/")
    [notification] = fake.notifications()
    assert notification["account"]["display_name"] == "Käthe"
    assert notification["status"]["visibility"] == "direct"


# Demo generator


def test_it_has_a_varied_bilingual_pool() -> None:
    assert len(MENTIONS["de"]) + len(MENTIONS["en"]) >= 40
    assert abs(len(MENTIONS["de"]) - len(MENTIONS["en"])) <= 2
    assert len(PERSONAS) >= 20
    assert any(ch in p.display_name for p in PERSONAS for ch in "äöüÄÖÜß")
    assert set(FOLLOW_UPS) == {"de", "en"}


def test_it_follows_up_on_earlier_statuses(fake: FakeMastodon) -> None:
    generator = MentionGenerator(fake, seed=7, follow_up_chance=1.0)
    emitted = [generator.emit() for _ in range(60)]
    replies = [n for n in emitted if n["status"]["in_reply_to_id"]]
    assert replies
    own_ids = {n["status"]["id"]: n["account"]["username"] for n in emitted}
    for reply in replies:
        assert own_ids[reply["status"]["in_reply_to_id"]] == reply["account"]["username"]


def test_it_generates_mentions_and_stops_promptly(fake: FakeMastodon) -> None:
    generator = MentionGenerator(fake, interval=0.01, seed=1).start()
    deadline = time.monotonic() + 5
    while len(fake.notifications()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    generator.stop()
    assert time.monotonic() - started < 0.5
    assert len(fake.notifications()) >= 3
    # Its thread is gone, so nothing can add mentions after stop() returned.
    assert not generator.running


def test_it_stops_a_slow_generator_without_waiting_for_the_interval(fake: FakeMastodon) -> None:
    generator = MentionGenerator(fake, interval=60).start()
    started = time.monotonic()
    generator.stop()
    assert time.monotonic() - started < 0.5
    assert fake.notifications() == []
