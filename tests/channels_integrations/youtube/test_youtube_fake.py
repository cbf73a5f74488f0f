"""The fake YouTube, exercised over real HTTP as the connector (and a person) will use it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from channels_integrations.base import ConnectionSettings
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session
from channels_integrations.youtube.connector import YouTubeConnector
from channels_integrations.youtube.demo import (
    COMMENTS,
    FOLLOW_UPS,
    PERSONAS,
    CommentGenerator,
    demo_channel,
)
from channels_integrations.youtube.fake import BRAND_CHANNEL_ID, FakeYouTube

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "youtube" / "fixtures"
TOKEN = "demo-token"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(url: str, path: str, params: dict[str, Any], token: str = TOKEN) -> requests.Response:
    return requests.get(url + path, params=params, headers=auth(token), timeout=5)


def threads(url: str, token: str = TOKEN, **params: Any) -> requests.Response:
    query = {
        "part": "snippet,replies",
        "allThreadsRelatedToChannelId": BRAND_CHANNEL_ID,
        "order": "time",
        "maxResults": 100,
        **params,
    }
    return get(url, "/commentThreads", query, token)


def moderate(url: str, token: str = TOKEN, **params: Any) -> requests.Response:
    return requests.post(
        url + "/comments/setModerationStatus", params=params, headers=auth(token), timeout=5
    )


def reply(url: str, snippet: dict[str, Any], token: str = TOKEN) -> requests.Response:
    return requests.post(
        url + "/comments",
        params={"part": "snippet"},
        json={"snippet": snippet},
        headers=auth(token),
        timeout=5,
    )


def reason(response: requests.Response) -> str:
    return str(response.json()["error"]["errors"][0]["reason"])


@pytest.fixture
def fake(clock) -> FakeYouTube:
    return FakeYouTube(viewer_tokens={"viewer-token"}, clock=clock)


@pytest.fixture
def url(fake: FakeYouTube) -> Iterator[str]:
    with FakeServer(fake.wsgi_app) as server:
        yield server.url


def seed(fake: FakeYouTube, clock, count: int) -> list[str]:
    ids = []
    for n in range(count):
        clock.tick()
        ids.append(fake.add_comment(f"comment {n}")["id"])
    return ids


# Shape and paging.


def test_it_serves_threads_in_the_documented_shape(fake, url, clock):
    documented = fixture("commentThreads_list.json")
    fake.add_comment("older, on the next page")
    clock.tick()
    thread = fake.add_comment("Great video!", author="@janedoe", like_count=3)
    fake.add_brand_reply(thread["id"], "Thanks!")
    served = threads(url, maxResults=1).json()

    def same_keys(expected: object, actual: object, where: str) -> None:
        if isinstance(expected, dict):
            assert isinstance(actual, dict), where
            for key, value in expected.items():
                assert key in actual, f"{where}.{key}"
                same_keys(value, actual[key], f"{where}.{key}")
        elif isinstance(expected, list) and expected:
            assert isinstance(actual, list) and actual, where
            same_keys(expected[0], actual[0], f"{where}[0]")
        else:
            assert type(actual) is type(expected), where

    same_keys(documented, served, "response")
    top = served["items"][0]["snippet"]["topLevelComment"]
    assert served["items"][0]["id"] == top["id"] == thread["id"]
    assert top["snippet"]["publishedAt"] == "2026-03-22T18:00:01Z"
    assert served["nextPageToken"] and served["pageInfo"]["totalResults"] == 2
    reply_id = served["items"][0]["replies"]["comments"][0]["id"]
    assert reply_id.startswith(thread["id"] + ".")


def test_it_pages_newest_first_and_leaves_out_the_token_on_the_last_page(fake, url, clock):
    ids = seed(fake, clock, 5)
    pages, token = [], None
    while True:
        body = threads(url, maxResults=2, **({"pageToken": token} if token else {})).json()
        pages.append([item["id"] for item in body["items"]])
        assert body["pageInfo"] == {"totalResults": 5, "resultsPerPage": 2}
        token = body.get("nextPageToken")
        if token is None:
            break
    assert pages == [ids[:2:-1], ids[2:0:-1], ids[:1]]


def test_it_refuses_an_invalid_page_token_and_bad_parameters(url):
    assert reason(threads(url, pageToken="not-a-token")) == "invalidPageToken"
    assert reason(threads(url, maxResults=101)) == "invalidParameter"
    both = threads(url, videoId="dQw4w9WgXcQ")
    assert both.status_code == 400 and reason(both) == "incompatibleParameters"
    assert reason(get(url, "/commentThreads", {"part": "snippet"})) == "missingRequiredParameter"


def test_it_lists_the_replies_of_a_comment_and_looks_up_threads_by_id(fake, url, clock):
    [first, second] = seed(fake, clock, 2)
    for n in range(3):
        fake.add_reply(first, f"reply {n}")
    body = get(url, "/comments", {"part": "snippet", "parentId": first, "maxResults": 2}).json()
    assert [c["snippet"]["textOriginal"] for c in body["items"]] == ["reply 0", "reply 1"]
    assert body["nextPageToken"]
    by_id = get(
        url, "/commentThreads", {"part": "snippet", "id": f"{second},{first},UgzUnknown"}
    ).json()
    assert [t["id"] for t in by_id["items"]] == [second, first]
    assert "replies" not in by_id["items"][0]


def test_held_comments_are_listed_only_for_the_owner(fake, url, clock):
    [published] = seed(fake, clock, 1)
    held = fake.add_comment("buy now", moderation_status="heldForReview")
    held_reply = fake.add_reply(published, "spam reply", moderation_status="heldForReview")
    queue = threads(url, moderationStatus="heldForReview").json()["items"]
    assert {t["id"] for t in queue} == {held["id"], published}
    in_published = next(t for t in queue if t["id"] == published)
    assert [c["id"] for c in in_published["replies"]["comments"]] == [held_reply["id"]]
    assert [t["id"] for t in threads(url).json()["items"]] == [published]
    refused = threads(url, "viewer-token", moderationStatus="heldForReview")
    assert refused.status_code == 403 and reason(refused) == "forbidden"


# Auth and quota.


def test_it_answers_an_unknown_token_with_the_documented_auth_error(url):
    response = threads(url, "nope")
    assert response.status_code == 401
    assert response.json() == fixture("error_auth.json")


def test_it_refreshes_tokens_like_googles_token_endpoint(fake, url):
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "demo-refresh-token",
        "client_id": "demo-client.apps.googleusercontent.com",
        "client_secret": "demo-client-secret",
    }
    issued = requests.post(url + "/token", data=form, timeout=5).json()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3599
    assert threads(url, issued["access_token"]).status_code == 200

    bad_client = requests.post(url + "/token", data={**form, "client_secret": "x"}, timeout=5)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_grant = requests.post(url + "/token", data={**form, "grant_type": "password"}, timeout=5)
    assert bad_grant.json()["error"] == "unsupported_grant_type"
    fake.revoke_refresh_token("demo-refresh-token")
    revoked = requests.post(url + "/token", data=form, timeout=5)
    assert revoked.status_code == 400 and revoked.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_it_charges_quota_per_project_and_day_and_refuses_when_spent(url, clock):
    fake = FakeYouTube(tokens={"demo-token", "other-token"}, daily_quota=52, clock=clock)
    with FakeServer(fake.wsgi_app) as server:
        [thread] = seed(fake, clock, 1)
        assert threads(server.url).status_code == 200
        assert reply(server.url, {"parentId": thread, "textOriginal": "hi"}).status_code == 200
        assert fake.quota_used() == 51
        assert threads(server.url).status_code == 200
        spent = threads(server.url)
        assert spent.status_code == 403 and spent.json() == fixture("error_quota_exceeded.json")
        assert threads(server.url, "other-token").status_code == 200  # another project

        clock.now = datetime(2026, 3, 23, 7, 0, 1, tzinfo=UTC)  # midnight in Los Angeles
        assert threads(server.url).status_code == 200
        assert fake.quota_used() == 1


# Moderation semantics.


def test_set_moderation_status_answers_204_without_a_body(fake, url, clock):
    [thread] = seed(fake, clock, 1)
    response = moderate(url, id=thread, moderationStatus="heldForReview")
    assert response.status_code == 204 and response.content == b""
    assert fake.comment(thread)["snippet"]["moderationStatus"] == "heldForReview"


def test_a_rejected_comment_cannot_be_published_again(fake, url, clock):
    [thread] = seed(fake, clock, 1)
    assert moderate(url, id=thread, moderationStatus="rejected").status_code == 204
    for status in ("published", "heldForReview"):
        refused = moderate(url, id=thread, moderationStatus=status)
        assert refused.status_code == 400 and reason(refused) == "operationNotSupported"
    assert fake.comment(thread)["snippet"]["moderationStatus"] == "rejected"


def test_ban_author_needs_rejected(fake, url, clock):
    [thread] = seed(fake, clock, 1)
    refused = moderate(url, id=thread, moderationStatus="heldForReview", banAuthor="true")
    assert refused.status_code == 400 and reason(refused) == "banWithoutReject"
    assert fake.banned_authors() == set()
    assert moderate(url, id=thread, moderationStatus="rejected", banAuthor="true").ok
    assert len(fake.banned_authors()) == 1


def test_rejecting_hides_the_comment_and_its_replies(fake, url, clock):
    [thread] = seed(fake, clock, 1)
    fake.add_reply(thread, "a reply")
    moderate(url, id=thread, moderationStatus="rejected")
    assert threads(url).json()["items"] == []
    replies = get(url, "/comments", {"part": "snippet", "parentId": thread})
    assert replies.status_code == 404 and reason(replies) == "commentNotFound"


def test_only_the_author_may_delete_a_comment(fake, url, clock):
    [thread] = seed(fake, clock, 1)
    others = requests.delete(url + "/comments", params={"id": thread}, headers=auth(), timeout=5)
    assert others.status_code == 403 and reason(others) == "forbidden"
    ours = reply(url, {"parentId": thread, "textOriginal": "ours"}).json()
    deleted = requests.delete(
        url + "/comments", params={"id": ours["id"]}, headers=auth(), timeout=5
    )
    assert deleted.status_code == 204 and fake.comment(ours["id"]) is None
    missing = requests.delete(url + "/comments", params={"id": "nope"}, headers=auth(), timeout=5)
    assert missing.status_code == 404 and reason(missing) == "commentNotFound"


def test_moderating_needs_the_owner(url, fake, clock):
    [thread] = seed(fake, clock, 1)
    refused = moderate(url, "viewer-token", id=thread, moderationStatus="rejected")
    assert refused.status_code == 403 and reason(refused) == "forbidden"


@pytest.mark.parametrize(
    ("snippet", "status", "expected"),
    [
        ({"parentId": "{thread}", "textOriginal": ""}, 400, "commentTextRequired"),
        ({"parentId": "{thread}", "textOriginal": "x" * 10_001}, 400, "commentTextTooLong"),
        ({"textOriginal": "hi"}, 400, "parentIdMissing"),
        ({"parentId": "UgzUnknown", "textOriginal": "hi"}, 404, "commentNotFound"),
        ({"parentId": "{reply}", "textOriginal": "hi"}, 400, "operationNotSupported"),
        ({"parentId": "{closed}", "textOriginal": "hi"}, 400, "operationNotSupported"),
    ],
)
def test_it_refuses_replies_as_youtube_does(fake, url, clock, snippet, status, expected):
    [thread] = seed(fake, clock, 1)
    existing = fake.add_reply(thread, "a reply")["id"]
    closed = fake.add_comment("closed", can_reply=False)["id"]
    ids = {"{thread}": thread, "{reply}": existing, "{closed}": closed}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in snippet.items()}
    response = reply(url, body)
    assert (response.status_code, reason(response)) == (status, expected)
    assert fake.replies_by(BRAND_CHANNEL_ID) == []


# Faults and admin.


def test_fail_next_uses_youtubes_error_bodies(fake, url):
    fake.fail_next(503)
    unavailable = threads(url)
    assert unavailable.status_code == 503 and reason(unavailable) == "backendError"
    fake.fail_next(401)
    assert reason(threads(url)) == "authError"
    fake.fail_next_quota_exceeded()
    assert threads(url).json() == fixture("error_quota_exceeded.json")
    assert threads(url).status_code == 200


def test_the_admin_page_seeds_shows_and_resets(fake, url):
    seeded = requests.post(
        url + "/__admin/seed",
        json={
            "comments": [
                {"text": "<b>hi</b> from JSON"},
                {"text": "held", "author": "@x", "moderation_status": "heldForReview"},
            ]
        },
        timeout=5,
    )
    assert seeded.status_code == 201 and len(seeded.json()) == 2
    form = requests.post(
        url + "/__admin/comment",
        data={"text": "from the form", "parent_id": seeded.json()[0]["id"]},
        allow_redirects=False,
        timeout=5,
    )
    assert form.status_code == 303 and form.headers["Location"] == "/__admin/"
    page = requests.get(url + "/__admin/", timeout=5).text
    assert "&lt;b&gt;hi&lt;/b&gt; from JSON" in page and "from the form" in page
    assert "<b>hi</b>" not in page and BRAND_CHANNEL_ID in page

    queued = requests.post(url + "/__admin/fail-next", json={"status": 500}, timeout=5)
    assert queued.status_code == 201 and threads(url).status_code == 500
    calls = requests.get(url + "/__admin/calls", timeout=5).json()
    assert calls[-1]["path"] == "/commentThreads" and calls[-1]["status"] == 500
    assert requests.post(url + "/__admin/reset", timeout=5).ok
    assert fake.calls() == [] and fake.quota_used() == 0


def test_it_works_mounted_under_a_path_prefix(fake, clock):
    def not_found(environ: Any, start_response: Any) -> Any:
        return Response("not here", 404)(environ, start_response)

    app = DispatcherMiddleware(not_found, {"/youtube": fake.wsgi_app})
    seed(fake, clock, 3)
    with FakeServer(app) as server:
        base = server.url + "/youtube"
        settings, credentials = demo_channel(base)
        connector = YouTubeConnector(
            ConnectionSettings(settings, credentials), platform_session(read_timeout=5)
        )
        fake.revoke_token("demo-token")  # the refresh goes to {base}/token
        assert len(connector.fetch_page({}).items) == 3
        form = requests.post(
            base + "/__admin/comment", data={"text": "hi"}, allow_redirects=False, timeout=5
        )
        assert form.headers["Location"] == "/youtube/__admin/"
        page = requests.get(base + "/__admin/", timeout=5).text
        assert f"API base URL: {base}" in page


# The demo.


def test_the_generator_writes_german_and_english_comments_and_follow_ups(fake):
    generator = CommentGenerator(fake, seed=7, follow_up_chance=0.5, held_chance=0.1)
    for _ in range(60):
        generator.emit()
    comments = fake.comments()
    written = {c["snippet"]["textOriginal"] for c in comments}
    german = {t for t in COMMENTS["de"] + FOLLOW_UPS["de"] if "{order}" not in t}
    english = {t for t in COMMENTS["en"] + FOLLOW_UPS["en"] if "{order}" not in t}
    assert written & german and written & english
    assert any(c["snippet"].get("parentId") for c in comments)
    assert any(c["snippet"]["moderationStatus"] == "heldForReview" for c in comments)
    handles = {p.handle for p in PERSONAS}
    assert {c["snippet"]["authorDisplayName"] for c in comments} & handles


def test_the_generator_runs_in_the_background_and_stops_promptly(fake):
    generator = CommentGenerator(fake, interval=0.01, seed=1).start()
    deadline = time.monotonic() + 5
    while len(fake.comments()) < 3 and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    generator.stop()
    assert len(fake.comments()) >= 3 and not generator.running


def test_the_demo_channel_points_at_the_fake_with_a_working_token(fake, url):
    settings, credentials = demo_channel(url)
    assert settings == {
        "base_url": url,
        "token_url": f"{url}/token",
        "channel_id": BRAND_CHANNEL_ID,
    }
    connector = YouTubeConnector(ConnectionSettings(settings, credentials), platform_session())
    assert all(check.ok for check in connector.test_connection())
