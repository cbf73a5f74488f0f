"""The fake X, exercised over real HTTP as the connector and people use it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from channels_integrations.fake_server import FakeServer
from channels_integrations.x.demo import (
    DEMO_TOKEN,
    FOLLOW_UPS,
    MENTIONS,
    PERSONAS,
    MentionGenerator,
    demo_channel,
)
from channels_integrations.x.fake import BRAND_USER_ID, FakeX
from tests.channels_integrations.x.conftest import ServedX, connector_for, served

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "x" / "fixtures"
AUTH = {"Authorization": "Bearer demo-token"}
MENTIONS_PATH = f"/2/users/{BRAND_USER_ID}/mentions"


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def get(fake: ServedX, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("headers", AUTH)
    return requests.get(fake.url + path, params=params, timeout=5, **kwargs)


def send(fake: ServedX, method: str, path: str, body: object, **kwargs: Any) -> Any:
    kwargs.setdefault("headers", AUTH)
    return requests.request(method, fake.url + path, json=body, timeout=5, **kwargs)


def ids(response: requests.Response) -> list[str]:
    return [t["id"] for t in response.json().get("data", [])]


# Shape


def test_it_answers_the_documented_query_with_the_documented_shape() -> None:
    documented = json.loads((FIXTURES / "mentions_page.json").read_text())
    with served(ServedX(username="XDevelopers")) as fake:
        fake.add_mention(
            "love the new API! when is v3?",
            username="janedoe",
            display_name="Jane Doe",
            user_id="1234567890",
            avatar_url="https://pbs.twimg.com/profile_images/1/jane_normal.jpg",
            in_reply_to="1901570000000000000",
            tweet_id="1901573587187331074",
            created_at=datetime(2026, 3, 22, 18, 20, 4, tzinfo=UTC),
        )
        response = get(
            fake,
            MENTIONS_PATH,
            {
                "since_id": "1901573587187331000",
                "expansions": "author_id",
                "tweet.fields": "created_at,author_id,conversation_id,in_reply_to_user_id,"
                "referenced_tweets",
                "user.fields": "username,name,profile_image_url",
            },
        )
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == documented["data"]
    assert body["includes"] == documented["includes"]
    assert body["meta"] == {k: v for k, v in documented["meta"].items() if k != "next_token"}
    assert response.headers["x-rate-limit-limit"] == "180"
    assert response.headers["x-rate-limit-remaining"] == "179"
    assert response.headers["x-rate-limit-reset"].isdigit()


def test_it_sends_only_the_default_fields_unless_asked(fake_x: ServedX) -> None:
    made = fake_x.add_mention("hi")
    [post] = get(fake_x, MENTIONS_PATH).json()["data"]
    assert post == {
        "id": made["id"],
        "text": "@brand hi",
        "edit_history_tweet_ids": [made["id"]],
    }


def test_it_escapes_text_and_shortens_links_as_x_does(fake_x: ServedX) -> None:
    fake_x.add_mention("a < b & c > d, see https://example.com/x?y=1&z=2")
    [post] = get(fake_x, MENTIONS_PATH, {"tweet.fields": "entities"}).json()["data"]
    assert post["text"].startswith("@brand a &lt; b &amp; c &gt; d, see https://t.co/")
    [url] = post["entities"]["urls"]
    assert url["expanded_url"] == "https://example.com/x?y=1&z=2"
    assert post["text"].endswith(url["url"])
    assert post["entities"]["mentions"][0] == {
        "start": 0,
        "end": 6,
        "username": "brand",
        "id": BRAND_USER_ID,
    }


# Paging


def test_it_pages_with_next_token_until_the_last_page(fake_x: ServedX) -> None:
    made = [fake_x.add_mention(f"m {n}")["id"] for n in range(12)]
    first = get(fake_x, MENTIONS_PATH, {"max_results": 5})
    meta = first.json()["meta"]
    assert ids(first) == made[::-1][:5]
    assert meta["result_count"] == 5 and meta["newest_id"] == made[-1]
    pages, token = [ids(first)], meta["next_token"]
    while token:
        response = get(fake_x, MENTIONS_PATH, {"max_results": 5, "pagination_token": token})
        pages.append(ids(response))
        token = response.json()["meta"].get("next_token")
    assert pages == [made[::-1][:5], made[::-1][5:10], made[::-1][10:]]


def test_it_answers_an_empty_page_without_data(fake_x: ServedX) -> None:
    made = fake_x.add_mention("only")
    response = get(fake_x, MENTIONS_PATH, {"since_id": made["id"]})
    assert response.json() == {"meta": {"result_count": 0}}


def test_it_filters_by_since_id_and_time(fake_x: ServedX) -> None:
    now = datetime.now(UTC)
    old = fake_x.add_mention("old", created_at=now - timedelta(days=3))
    middle = fake_x.add_mention("middle", created_at=now - timedelta(days=2))
    new = fake_x.add_mention("new")
    assert ids(get(fake_x, MENTIONS_PATH, {"since_id": old["id"]})) == [new["id"], middle["id"]]
    start = (now - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = get(fake_x, MENTIONS_PATH, {"start_time": start, "end_time": end})
    assert ids(window) == [middle["id"]]


def test_it_reaches_only_the_most_recent_mentions() -> None:
    with served(ServedX(mention_window=5)) as fake:
        made = [fake.add_mention(f"m {n}")["id"] for n in range(7)]
        seen: list[str] = []
        token = None
        while True:
            params: dict[str, Any] = {"max_results": 5}
            if token:
                params["pagination_token"] = token
            response = get(fake, MENTIONS_PATH, params)
            seen += ids(response)
            token = response.json()["meta"].get("next_token")
            if not token:
                break
    assert seen == made[::-1][:5]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"max_results": 3}, "max_results"),
        ({"max_results": 101}, "max_results"),
        ({"tweet.fields": "created_at,colour"}, "tweet.fields"),
        ({"expansions": "everything"}, "expansions"),
        ({"since_id": "abc"}, "since_id"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"pagination_token": "nope"}, "pagination_token"),
    ],
)
def test_it_refuses_bad_parameters_like_x(
    fake_x: ServedX, params: dict[str, Any], parameter: str
) -> None:
    response = get(fake_x, MENTIONS_PATH, params)
    body = response.json()
    assert response.status_code == 400
    assert body["type"] == "https://api.x.com/2/problems/invalid-request"
    assert body["title"] == "Invalid Request"
    assert list(body["errors"][0]["parameters"]) == [parameter]


def test_old_pagination_tokens_stop_working(fake_x: ServedX) -> None:
    for n in range(12):
        fake_x.add_mention(f"m {n}")
    token = get(fake_x, MENTIONS_PATH).json()["meta"]["next_token"]
    fake_x.expire_pagination_tokens()
    assert get(fake_x, MENTIONS_PATH, {"pagination_token": token}).status_code == 400


def test_it_answers_an_unknown_user_with_errors_in_a_200(fake_x: ServedX) -> None:
    response = get(fake_x, "/2/users/999/mentions")
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["type"] == "https://api.x.com/2/problems/resource-not-found"
    assert error["detail"] == "Could not find user with id: [999]."


def test_it_expands_authors_and_referenced_posts(fake_x: ServedX) -> None:
    post = fake_x.add_post("Herbst!")
    fake_x.add_mention("Schön", username="jana", display_name="Jana K", in_reply_to=post["id"])
    body = get(
        fake_x,
        MENTIONS_PATH,
        {"expansions": "author_id,referenced_tweets.id,in_reply_to_user_id"},
    ).json()
    assert {u["username"] for u in body["includes"]["users"]} == {"jana", "brand"}
    assert [t["id"] for t in body["includes"]["tweets"]] == [post["id"]]
    fake_x.delete_as_author(post["id"])
    body = get(fake_x, MENTIONS_PATH, {"expansions": "referenced_tweets.id"}).json()
    assert "tweets" not in body.get("includes", {})
    assert body["errors"][0]["detail"] == (
        f"Could not find tweet with referenced_tweets.id: [{post['id']}]."
    )
    assert len(body["data"]) == 1


def test_edits_replace_the_post_in_the_timeline(fake_x: ServedX) -> None:
    original = fake_x.add_mention("Tolle Sache")
    edited = fake_x.edit_as_author(original["id"], "Tolle Sache!")
    [post] = get(fake_x, MENTIONS_PATH).json()["data"]
    assert post["id"] == edited["id"]
    assert post["edit_history_tweet_ids"] == [original["id"], edited["id"]]
    assert post["text"] == "@brand Tolle Sache!"
    reply = fake_x.add_mention("Antwort", username="other", in_reply_to=original["id"])
    with pytest.raises(ValueError, match="replies to others"):
        fake_x.edit_as_author(reply["id"], "geändert")


def test_a_post_deleted_by_its_author_leaves_the_timeline(fake_x: ServedX) -> None:
    kept, gone = fake_x.add_mention("bleibt"), fake_x.add_mention("weg")
    fake_x.delete_as_author(gone["id"])
    assert ids(get(fake_x, MENTIONS_PATH)) == [kept["id"]]
    lookup = get(fake_x, f"/2/tweets/{gone['id']}").json()
    assert lookup["errors"][0]["resource_id"] == gone["id"]


# Auth, faults, rate limits


def test_it_refuses_a_missing_bad_or_revoked_token(fake_x: ServedX) -> None:
    expected = json.loads((FIXTURES / "error_unauthorized.json").read_text())
    missing = get(fake_x, MENTIONS_PATH, headers={})
    assert (missing.status_code, missing.json()) == (401, expected)
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    bad = get(fake_x, MENTIONS_PATH, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    # X reads the token from the header only.
    query = get(fake_x, MENTIONS_PATH, {"access_token": "demo-token"}, headers={})
    assert query.status_code == 401
    assert get(fake_x, MENTIONS_PATH).status_code == 200
    fake_x.revoke_token("demo-token")
    assert get(fake_x, MENTIONS_PATH).status_code == 401


def test_it_enforces_a_budget_per_endpoint_and_token() -> None:
    clock = FrozenClock(datetime(2026, 3, 22, 18, 21, 13, tzinfo=UTC))
    fake = ServedX(
        tokens={"demo-token", "other-token"},
        rate_limits={"GET /2/users/:id/mentions": 2},
        clock=clock,
    )
    with served(fake):
        remaining = [get(fake, MENTIONS_PATH).headers["x-rate-limit-remaining"] for _ in range(2)]
        throttled = get(fake, MENTIONS_PATH)
        me = get(fake, "/2/users/me")
        other = get(fake, MENTIONS_PATH, headers={"Authorization": "Bearer other-token"})
        clock.now += timedelta(minutes=9)  # into the next 15-minute window
        after_reset = get(fake, MENTIONS_PATH)
    assert remaining == ["1", "0"]
    assert throttled.status_code == 429
    assert throttled.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert throttled.headers["x-rate-limit-remaining"] == "0"
    reset = datetime(2026, 3, 22, 18, 30, tzinfo=UTC)
    assert throttled.headers["x-rate-limit-reset"] == str(int(reset.timestamp()))
    assert (me.status_code, other.status_code, after_reset.status_code) == (200, 200, 200)


def test_it_injects_xs_own_error_bodies(fake_x: ServedX) -> None:
    fake_x.fail_next(429)
    fake_x.fail_next(503)
    fake_x.fail_next_rate_limited(reset_in=90, v11_body=True)
    limited, unavailable, v11 = (get(fake_x, MENTIONS_PATH) for _ in range(3))
    assert limited.status_code == 429 and limited.headers["x-rate-limit-remaining"] == "0"
    assert unavailable.json()["title"] == "Service Unavailable"
    assert v11.json() == {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
    reset = int(v11.headers["x-rate-limit-reset"])
    assert 80 < reset - time.time() <= 90
    assert get(fake_x, MENTIONS_PATH).status_code == 200


def test_it_injects_faults_through_the_admin_endpoint(fake_x: ServedX) -> None:
    fault = {"status": 502, "body": "<html>Bad Gateway</html>", "path_prefix": "/2/users"}
    response = requests.post(fake_x.url + "/__admin/fail-next", json=fault, timeout=5)
    assert response.status_code == 201
    assert get(fake_x, "/2/tweets/1").status_code == 200  # another path: untouched
    failed = get(fake_x, MENTIONS_PATH)
    assert (failed.status_code, failed.text) == (502, "<html>Bad Gateway</html>")


def test_it_renews_tokens_once_per_refresh_token(fake_x: ServedX) -> None:
    fake_x.add_refresh_token("rt-1", client_id="client-1")
    form = {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "client-1"}
    first = requests.post(fake_x.url + "/2/oauth2/token", data=form, timeout=5)
    replay = requests.post(fake_x.url + "/2/oauth2/token", data=form, timeout=5)
    grant = first.json()
    assert (first.status_code, grant["token_type"], grant["expires_in"]) == (200, "bearer", 7200)
    assert replay.status_code == 400
    assert replay.json()["error_description"] == "Value passed for the token was invalid."
    me = get(fake_x, "/2/users/me", headers={"Authorization": f"Bearer {grant['access_token']}"})
    assert me.json()["data"] == {"id": BRAND_USER_ID, "name": "Brand", "username": "brand"}


# Writes and moderation rules


def test_it_posts_a_reply_with_the_replied_to_name_in_front(fake_x: ServedX) -> None:
    mention = fake_x.add_mention("Frage", username="jana")
    body = {"text": "Antwort", "reply": {"in_reply_to_tweet_id": mention["id"]}}
    response = send(fake_x, "POST", "/2/tweets", body)
    created = response.json()["data"]
    assert response.status_code == 201
    assert created == {
        "id": created["id"],
        "text": "@jana Antwort",
        "edit_history_tweet_ids": [created["id"]],
    }
    [reply] = fake_x.replies_by_brand()
    assert reply["conversation_id"] == mention["id"]
    assert reply["in_reply_to_user_id"] == mention["author_id"]
    timeline = get(
        fake_x, f"/2/users/{BRAND_USER_ID}/tweets", {"tweet.fields": "referenced_tweets"}
    )
    assert timeline.json()["data"][0]["referenced_tweets"] == [
        {"type": "replied_to", "id": mention["id"]}
    ]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"text": "x" * 281}, 403, "Your Tweet text is too long."),
        ({"text": "  "}, 400, "One or more parameters"),
        ({"text": "hi", "reply": {"in_reply_to_tweet_id": "123"}}, 403, "deleted or not visible"),
        ("not an object", 400, "JSON object"),
    ],
)
def test_it_refuses_posts_x_would_refuse(
    fake_x: ServedX, body: object, status: int, detail: str
) -> None:
    response = send(fake_x, "POST", "/2/tweets", body)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert fake_x.replies_by_brand() == []


def test_it_refuses_duplicate_posts(fake_x: ServedX) -> None:
    assert send(fake_x, "POST", "/2/tweets", {"text": "Guten Morgen!"}).status_code == 201
    again = send(fake_x, "POST", "/2/tweets", {"text": "Guten Morgen!"})
    assert again.status_code == 403
    assert again.json()["detail"] == "You are not allowed to create a Tweet with duplicate content."


def test_it_hides_only_replies_in_conversations_the_account_started(fake_x: ServedX) -> None:
    post = fake_x.add_post("Unser Post")
    in_ours = fake_x.add_mention("Antwort", username="jana", in_reply_to=post["id"])
    elsewhere_root = fake_x.add_mention("Eigener Thread", username="tom")
    elsewhere = fake_x.add_mention(
        "Antwort dort", username="jana", in_reply_to=elsewhere_root["id"]
    )
    own_reply = send(
        fake_x,
        "POST",
        "/2/tweets",
        {"text": "Danke", "reply": {"in_reply_to_tweet_id": in_ours["id"]}},
    ).json()["data"]

    def hide(tweet_id: str, hidden: bool = True) -> requests.Response:
        return send(fake_x, "PUT", f"/2/tweets/{tweet_id}/hidden", {"hidden": hidden})

    documented = json.loads((FIXTURES / "hide_reply.json").read_text())
    assert hide(in_ours["id"]).json() == documented
    assert hide(in_ours["id"]).status_code == 200  # again: still a success
    assert fake_x.tweet(in_ours["id"])["hidden"] is True
    refused = hide(elsewhere["id"])
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "You can only hide or unhide replies to conversations you started."
    )
    assert hide(elsewhere_root["id"]).status_code == 403  # not a reply
    assert hide(own_reply["id"]).status_code == 403  # our own
    assert hide("123").status_code == 404
    assert hide(in_ours["id"], False).json() == {"data": {"hidden": False}}
    assert [a["action"] for a in fake_x.actions()] == ["reply", "hide", "unhide"]


def test_it_deletes_only_the_accounts_own_posts(fake_x: ServedX) -> None:
    mention = fake_x.add_mention("Frage")
    own = send(fake_x, "POST", "/2/tweets", {"text": "Hallo"}).json()["data"]
    others = send(fake_x, "DELETE", f"/2/tweets/{mention['id']}", None)
    deleted = send(fake_x, "DELETE", f"/2/tweets/{own['id']}", None)
    assert others.status_code == 403
    assert deleted.json() == {"data": {"deleted": True}}
    assert send(fake_x, "DELETE", f"/2/tweets/{own['id']}", None).status_code == 404
    assert fake_x.tweet(own["id"])["deleted"] is True


def test_it_likes_and_unlikes_as_the_account_only(fake_x: ServedX) -> None:
    mention = fake_x.add_mention("Super")
    like = send(fake_x, "POST", f"/2/users/{BRAND_USER_ID}/likes", {"tweet_id": mention["id"]})
    assert like.json() == {"data": {"liked": True}}
    assert fake_x.tweet(mention["id"])["liked"] is True
    as_other = send(fake_x, "POST", "/2/users/42/likes", {"tweet_id": mention["id"]})
    assert as_other.status_code == 403
    unlike = send(fake_x, "DELETE", f"/2/users/{BRAND_USER_ID}/likes/{mention['id']}", None)
    assert unlike.json() == {"data": {"liked": False}}
    assert [a["action"] for a in fake_x.actions()] == ["like", "unlike"]


# Admin interface


def test_it_seeds_through_the_admin_endpoint(fake_x: ServedX) -> None:
    admin = fake_x.url + "/__admin/"
    post = requests.post(admin + "seed", json={"post": True, "text": "Neu!"}, timeout=5).json()
    mention = requests.post(
        admin + "seed",
        json={"text": "Hallo", "username": "mueller_tom", "in_reply_to": post["id"]},
        timeout=5,
    )
    raw = requests.post(admin + "seed", json={"raw": {"text": 5}}, timeout=5)
    assert (mention.status_code, raw.status_code) == (201, 201)
    assert mention.json()["conversation_id"] == post["id"]
    assert requests.post(admin + "seed", json={"text": ""}, timeout=5).status_code == 400
    listed = requests.get(admin + "mentions", timeout=5).json()
    assert [m["text"] for m in listed] == ["@brand Hallo"]
    get(fake_x, MENTIONS_PATH)
    [call] = requests.get(admin + "calls", timeout=5).json()
    assert (call["path"], call["has_authorization"]) == (MENTIONS_PATH, True)
    requests.post(admin + "reset", timeout=5)
    assert fake_x.calls() == []


def test_it_escapes_hostile_text_on_the_admin_page(fake_x: ServedX) -> None:
    fake_x.add_mention("<script>alert(1)</script>", display_name="<img src=x onerror=alert(2)>")
    page = requests.get(fake_x.url + "/__admin/", timeout=5)
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "What the connector did" in page.text


def test_it_creates_mentions_from_the_admin_form(fake_x: ServedX) -> None:
    form = {"text": "Tolle Aktion!", "username": "kaethe_w", "display_name": "Käthe", "lang": "de"}
    response = requests.post(
        fake_x.url + "/__admin/mention", data=form, allow_redirects=False, timeout=5
    )
    assert (response.status_code, response.headers["Location"]) == (303, "/__admin/")
    [mention] = fake_x.mentions()
    assert (mention["text"], mention["lang"]) == ("@brand Tolle Aktion!", "de")


def test_it_works_mounted_under_a_path_prefix() -> None:
    fake = ServedX()
    fake.add_mention("unter /x")
    app = DispatcherMiddleware(Response("not here", 404), {"/x": fake.wsgi_app})
    with FakeServer(app) as server:
        root = server.url
        fake.url = root + "/x"
        connector = connector_for(fake)
        assert [i.text for i in connector.fetch_page({}).items] == ["@brand unter /x"]
        form = requests.post(
            fake.url + "/__admin/mention",
            data={"text": "per Formular"},
            allow_redirects=False,
            timeout=5,
        )
        page = requests.get(fake.url + "/__admin/", timeout=5)
        fault = requests.post(
            fake.url + "/__admin/fail-next",
            data={"status": "503"},
            allow_redirects=False,
            timeout=5,
        )
    assert form.headers["Location"] == "/x/__admin/"
    assert fault.headers["Location"] == "/x/__admin/"
    assert f"API base URL: {root}/x/2" in page.text
    assert 'action="mention"' in page.text


# Demo


def test_the_demo_has_a_varied_bilingual_pool() -> None:
    assert len(MENTIONS["de"]) + len(MENTIONS["en"]) >= 24
    assert abs(len(MENTIONS["de"]) - len(MENTIONS["en"])) <= 2
    assert len(PERSONAS) >= 20
    assert all(len(p.username) <= 15 for p in PERSONAS)
    assert any(ch in p.display_name for p in PERSONAS for ch in "äöüÄÖÜß")
    assert set(FOLLOW_UPS) == {"de", "en"}


def test_the_demo_replies_under_brand_posts_and_follows_up() -> None:
    fake = FakeX()
    generator = MentionGenerator(fake, seed=3, follow_up_chance=0.4, reply_to_post_chance=0.4)
    emitted = [generator.emit() for _ in range(60)]
    posts = set(generator.brand_posts())
    under_posts = [m for m in emitted if m["conversation_id"] in posts]
    follow_ups = [
        m for m in emitted if m["conversation_id"] not in posts and m["conversation_id"] != m["id"]
    ]
    assert under_posts and follow_ups
    by_id = {m["id"]: m for m in emitted}
    for reply in follow_ups:
        parent = by_id[reply["referenced_tweets"][0]["id"]]
        assert parent["author_id"] == reply["author_id"]
    assert len(fake.mentions()) == 60


def test_the_demo_generator_stops_promptly() -> None:
    fake = FakeX()
    generator = MentionGenerator(fake, interval=0.01, seed=1).start()
    deadline = time.monotonic() + 5
    while len(fake.mentions()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    generator.stop()
    assert time.monotonic() - started < 0.5
    assert len(fake.mentions()) >= 3
    assert not generator.running
    slow = MentionGenerator(FakeX(), interval=60).start()
    started = time.monotonic()
    slow.stop()
    assert time.monotonic() - started < 0.5


def test_the_demo_channel_reads_the_served_fake() -> None:
    fake = ServedX(tokens=[DEMO_TOKEN])
    with served(fake):
        settings, credentials = demo_channel(fake.url)
        assert settings == {
            "base_url": fake.url + "/2",
            "user_id": BRAND_USER_ID,
            "username": "brand",
        }
        assert demo_channel(fake.url + "/2/")[0]["base_url"] == fake.url + "/2"
        fake.add_mention("Demo")
        connector = connector_for(fake, settings=settings, credentials=credentials)
        assert [c.ok for c in connector.test_connection()] == [True, True, True, True]
