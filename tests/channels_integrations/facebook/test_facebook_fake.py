"""The fake Facebook Page, exercised over real HTTP under a path prefix, as the demo mounts it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from channels_integrations.base import ConnectionSettings
from channels_integrations.facebook.connector import FacebookConnector
from channels_integrations.facebook.demo import (
    COMMENTS,
    FOLLOW_UPS,
    CommentGenerator,
    demo_channel,
)
from channels_integrations.facebook.fake import DEMO_TOKEN, PAGE_ID, FakeFacebook
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "facebook" / "fixtures"
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture
def fake() -> FakeFacebook:
    return FakeFacebook()


@pytest.fixture
def url(fake: FakeFacebook) -> Iterator[str]:
    """The fake mounted at /facebook, the way several fakes share one port in the demo."""
    app = DispatcherMiddleware(Response("not here", 404), {"/facebook": fake.wsgi_app})
    with FakeServer(app) as server:
        yield server.url + "/facebook"


def get(url: str, path: str, params: dict | None = None, **kwargs) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.get(f"{url}/v25.0/{path}", params=params, timeout=5, **kwargs)


def post(url: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.post(f"{url}/v25.0/{path}", timeout=5, **kwargs)


def error_of(response: requests.Response) -> dict:
    assert response.status_code == 400
    return response.json()["error"]


# Versions, tokens, errors.


def test_it_accepts_any_version_and_the_token_as_header_or_parameter(fake, url):
    by_header = requests.get(f"{url}/v19.0/me", headers=AUTH, timeout=5)
    by_param = requests.get(f"{url}/v26.0/me", params={"access_token": DEMO_TOKEN}, timeout=5)
    assert by_header.json() == by_param.json() == {"name": "Brand", "id": PAGE_ID}


def test_it_refuses_tokens_as_graph_does(fake, url):
    assert error_of(get(url, "me", headers={}))["code"] == 104
    unknown = error_of(get(url, "me", headers={"Authorization": "Bearer nope"}))
    assert unknown["code"] == 190 and "error_subcode" not in unknown
    fake.expire_token(DEMO_TOKEN)
    expired = error_of(get(url, "me"))
    assert (expired["code"], expired["error_subcode"]) == (190, 463)
    fake.revoke_token(DEMO_TOKEN)
    assert error_of(get(url, "me"))["error_subcode"] == 460


def test_an_unknown_object_is_code_100_subcode_33(fake, url):
    error = error_of(get(url, "123456"))
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert error["type"] == "GraphMethodException" and error["fbtrace_id"]


def test_it_refuses_unknown_fields_and_bad_syntax(fake, url):
    fake_post = fake.add_post("Post")
    error = error_of(get(url, fake_post["id"], {"fields": "id,nonsense"}))
    assert error["message"] == (
        "(#100) Tried accessing nonexisting field (nonsense) on node type (Post)"
    )
    assert error_of(get(url, fake_post["id"], {"fields": "id,from{id"}))["code"] == 2500


@pytest.mark.parametrize(
    ("status", "code"), [(400, 100), (401, 190), (403, 10), (404, 100), (429, 80001), (500, 1)]
)
def test_injected_faults_default_to_graph_bodies(fake, url, status, code):
    fake.fail_next(status)
    response = get(url, "me")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_a_503_is_a_transient_graph_error(fake, url):
    fake.fail_next(503)
    error = get(url, "me").json()["error"]
    assert error["code"] == 2 and error["is_transient"] is True


def test_it_throttles_with_80001_and_the_wait_in_minutes(fake, url):
    fake.set_rate_limit(2)
    usage = json.loads(get(url, "me").headers["X-Business-Use-Case-Usage"])
    assert usage[PAGE_ID][0]["type"] == "pages" and usage[PAGE_ID][0]["call_count"] == 50
    get(url, "me")
    throttled = get(url, "me")
    assert error_of(throttled)["code"] == 80001
    [entry] = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[PAGE_ID]
    assert 1 <= entry["estimated_time_to_regain_access"] <= 60


def test_queued_rate_limits_carry_the_usage_headers(fake, url):
    fake.fail_next_rate_limited(4, regain_minutes=12)
    response = get(url, "me")
    assert error_of(response)["message"] == "(#4) Application request limit reached"
    [entry] = json.loads(response.headers["X-Business-Use-Case-Usage"])[PAGE_ID]
    assert entry["estimated_time_to_regain_access"] == 12
    assert json.loads(response.headers["X-App-Usage"])["call_count"] == 100


# Comments and paging.


def test_it_renders_comments_in_the_documented_shape(fake, url):
    [documented] = json.loads((FIXTURES / "comments_stream.json").read_text())["data"]
    fake_post = fake.add_post("Post")
    top = fake.add_comment(fake_post["id"], "Top")
    fake.add_comment(fake_post["id"], "Do you ship to Canada?", parent_id=top["id"])
    fields = ",".join(sorted(documented))
    fields = fields.replace("from", "from{id,name}").replace("parent", "parent{id}")
    body = get(
        url,
        f"{fake_post['id']}/comments",
        {"filter": "stream", "order": "reverse_chronological", "fields": fields},
    ).json()
    made = body["data"][0]
    assert set(made) == set(documented)
    assert set(made["from"]) == {"id", "name"} and set(made["parent"]) == {"id"}
    assert datetime.fromisoformat(made["created_time"]).tzinfo is not None
    assert made["permalink_url"].startswith(f"https://www.facebook.com/{PAGE_ID}/posts/")


def test_toplevel_is_the_default_and_stream_adds_the_replies(fake, url):
    fake_post = fake.add_post("Post")
    top = fake.add_comment(fake_post["id"], "Top")
    fake.add_comment(fake_post["id"], "Reply", parent_id=top["id"])
    toplevel = get(url, f"{fake_post['id']}/comments").json()["data"]
    stream = get(url, f"{fake_post['id']}/comments", {"filter": "stream"}).json()["data"]
    assert [c["message"] for c in toplevel] == ["Top"]
    assert [c["message"] for c in stream] == ["Top", "Reply"]
    assert set(toplevel[0]) == {"created_time", "from", "message", "id"}


def test_paging_links_point_back_under_the_prefix_and_the_last_page_has_no_next(fake, url):
    fake_post = fake.add_post("Post")
    for n in range(5):
        fake.add_comment(fake_post["id"], f"comment {n}")
    params = {"filter": "stream", "order": "reverse_chronological", "limit": 2}
    body = get(url, f"{fake_post['id']}/comments", params).json()
    seen = [c["message"] for c in body["data"]]
    assert body["paging"]["next"].startswith(f"{url}/v25.0/{fake_post['id']}/comments?")
    while "next" in body["paging"]:
        body = requests.get(body["paging"]["next"], headers=AUTH, timeout=5).json()
        seen += [c["message"] for c in body["data"]]
    assert seen == [f"comment {n}" for n in reversed(range(5))]
    assert "previous" in body["paging"] and "cursors" in body["paging"]


def test_a_filtered_page_is_empty_but_still_has_next(fake, url):
    fake_post = fake.add_post("Post")
    fake.add_comment(fake_post["id"], "visible")
    fake.add_comment(fake_post["id"], "filtered 1", filtered=True)
    fake.add_comment(fake_post["id"], "filtered 2", filtered=True)
    body = get(url, f"{fake_post['id']}/comments", {"order": "reverse_chronological", "limit": 2})
    first = body.json()
    assert first["data"] == [] and "next" in first["paging"]
    last = requests.get(first["paging"]["next"], headers=AUTH, timeout=5).json()
    assert [c["message"] for c in last["data"]] == ["visible"] and "next" not in last["paging"]


def test_a_cursor_whose_comment_was_deleted_is_refused(fake, url):
    fake_post = fake.add_post("Post")
    comments = [fake.add_comment(fake_post["id"], f"c{n}") for n in range(3)]
    body = get(url, f"{fake_post['id']}/comments", {"limit": 1}).json()
    fake.delete_comment(comments[0]["id"])
    stale = requests.get(body["paging"]["next"], headers=AUTH, timeout=5)
    assert error_of(stale)["code"] == 100


def test_since_filters_by_creation_time(fake, url):
    fake_post = fake.add_post("Post")
    old = datetime.now(UTC) - timedelta(hours=2)
    fake.add_comment(fake_post["id"], "old", created_at=old)
    fake.add_comment(fake_post["id"], "new")
    since = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    data = get(url, f"{fake_post['id']}/comments", {"since": since}).json()["data"]
    assert [c["message"] for c in data] == ["new"]


def test_the_feed_pages_by_time(fake, url):
    now = datetime.now(UTC)
    for n in range(3):
        fake.add_post(f"post {n}", created_at=now - timedelta(hours=3 - n))
    body = get(url, f"{PAGE_ID}/feed", {"limit": 2, "fields": "id,message"}).json()
    assert [p["message"] for p in body["data"]] == ["post 2", "post 1"]
    assert "until=" in body["paging"]["next"] and "since=" in body["paging"]["previous"]
    older = requests.get(body["paging"]["next"], headers=AUTH, timeout=5).json()
    assert [p["message"] for p in older["data"]] == ["post 0"] and "next" not in older["paging"]


def test_nested_reply_edges_page_like_the_edge_itself(fake, url):
    fake_post = fake.add_post("Post")
    top = fake.add_comment(fake_post["id"], "Top")
    for n in range(3):
        fake.add_comment(fake_post["id"], f"reply {n}", parent_id=top["id"])
    body = get(url, top["id"], {"fields": "id,comments.limit(2){id,message}"}).json()
    assert [c["message"] for c in body["comments"]["data"]] == ["reply 0", "reply 1"]
    rest = requests.get(body["comments"]["paging"]["next"], headers=AUTH, timeout=5).json()
    assert [c["message"] for c in rest["data"]] == ["reply 2"]


# Moderation semantics.


def test_a_reply_to_a_reply_joins_the_top_level_comment(fake, url):
    fake_post = fake.add_post("Post")
    top = fake.add_comment(fake_post["id"], "Top")
    reply = fake.add_comment(fake_post["id"], "Reply", parent_id=top["id"])
    created = post(url, f"{reply['id']}/comments", data={"message": "Answer"}).json()
    assert fake.comment(created["id"])["parent"]["id"] == top["id"]


def test_the_page_cannot_hide_its_own_comment_but_can_hide_others(fake, url):
    fake_post = fake.add_post("Post")
    theirs = fake.add_comment(fake_post["id"], "Theirs")
    ours = fake.add_page_comment(fake_post["id"], "Ours")
    assert ours["can_hide"] is False and theirs["can_hide"] is True
    assert error_of(post(url, ours["id"], data={"is_hidden": "true"}))["code"] == 100
    assert post(url, theirs["id"], data={"is_hidden": "true"}).json() == {"success": True}
    assert fake.comment(theirs["id"])["is_hidden"] is True


def test_a_comment_gets_one_private_reply(fake, url):
    fake_post = fake.add_post("Post")
    comment = fake.add_comment(fake_post["id"], "Hi")
    body = {"recipient": {"comment_id": comment["id"]}, "message": {"text": "Hello"}}
    sent = post(url, f"{PAGE_ID}/messages", json=body).json()
    assert sent["recipient_id"] == comment["from"]["id"] and sent["message_id"]
    assert error_of(post(url, f"{PAGE_ID}/messages", json=body))["code"] == 10900
    # The form-encoded, single-quoted style of Meta's curl samples works too.
    recipient = "{'comment_id':'" + comment["id"] + "'}"
    form = {"recipient": recipient, "message": "{'text':'x'}"}
    assert error_of(post(url, f"{PAGE_ID}/messages", data=form))["code"] == 10900


def test_an_old_comment_gets_no_private_reply(fake, url):
    fake_post = fake.add_post("Post")
    old = fake.add_comment(fake_post["id"], "Old", created_at=datetime.now(UTC) - timedelta(days=8))
    assert old["can_reply_privately"] is False
    body = {"recipient": {"comment_id": old["id"]}, "message": {"text": "Hello"}}
    assert error_of(post(url, f"{PAGE_ID}/messages", json=body))["code"] == 10903


def test_deleting_a_comment_deletes_its_replies_and_likes_count(fake, url):
    fake_post = fake.add_post("Post")
    top = fake.add_comment(fake_post["id"], "Top")
    fake.add_comment(fake_post["id"], "Reply", parent_id=top["id"])
    assert post(url, f"{top['id']}/likes").json() == {"success": True}
    assert fake.comment(top["id"])["like_count"] == 1
    deleted = requests.delete(f"{url}/v25.0/{top['id']}", headers=AUTH, timeout=5)
    assert deleted.json() == {"success": True}
    assert fake.comments() == []


def test_a_too_long_or_empty_comment_is_refused(fake, url):
    fake_post = fake.add_post("Post")
    assert error_of(post(url, f"{fake_post['id']}/comments", data={"message": ""}))["code"] == 100
    too_long = {"message": "x" * 8001}
    assert error_of(post(url, f"{fake_post['id']}/comments", data=too_long))["code"] == 100


# Admin.


def test_the_admin_page_lists_comments_escaped(fake, url):
    fake_post = fake.add_post("Post")
    fake.add_comment(fake_post["id"], "<script>alert(1)</script>", author_name="Mallory")
    page = requests.get(f"{url}/__admin/", timeout=5)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    assert 'action="comment"' in page.text and 'action="fail-next"' in page.text


def test_the_admin_form_adds_a_comment_and_redirects_under_the_prefix(fake, url):
    response = requests.post(
        f"{url}/__admin/comment",
        data={"text": "Von Hand", "author_name": "Anke", "post_text": "Neuer Beitrag"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 303 and response.headers["Location"] == "/facebook/__admin/"
    [comment] = fake.comments()
    assert comment["message"] == "Von Hand" and comment["from"]["name"] == "Anke"


def test_admin_seed_creates_posts_comments_and_raw_items(fake, url):
    created = requests.post(f"{url}/__admin/seed", json={"post": "Hallo"}, timeout=5).json()
    comment = requests.post(
        f"{url}/__admin/seed",
        json={"text": "Frage?", "post_id": created["id"], "author_name": "Tom"},
        timeout=5,
    )
    assert comment.status_code == 201
    raw = requests.post(f"{url}/__admin/seed", json={"raw": {"id": "1_x"}}, timeout=5)
    assert raw.status_code == 201
    assert requests.post(f"{url}/__admin/seed", json={}, timeout=5).status_code == 400
    state = requests.get(f"{url}/__admin/state", timeout=5).json()
    assert len(state["comments"]) == 2 and state["posts"][0]["message"] == "Hallo"


def test_admin_fail_next_and_calls_never_show_the_token(fake, url):
    queued = requests.post(f"{url}/__admin/fail-next", json={"status": 400, "times": 1}, timeout=5)
    assert queued.status_code == 201
    assert error_of(get(url, "me"))["code"] == 100
    get(url, "me", params={"access_token": DEMO_TOKEN}, headers={})
    calls = requests.get(f"{url}/__admin/calls", timeout=5).json()
    assert DEMO_TOKEN not in json.dumps(calls)
    assert calls[-1]["query"]["access_token"] == ["<redacted>"]


# Demo.


def test_the_demo_generator_writes_german_and_english_threads(fake):
    generator = CommentGenerator(fake, seed=7, follow_up_chance=0.4)
    made = [generator.emit() for _ in range(40)]
    texts = {comment["message"] for comment in made}
    known = {t.split("{")[0] for pool in (COMMENTS, FOLLOW_UPS) for ts in pool.values() for t in ts}
    assert all(any(text.startswith(k) for k in known) for text in texts)
    assert any("parent" in comment for comment in made)
    languages = {lang for lang, pool in COMMENTS.items() for t in pool if t in texts}
    assert languages == {"de", "en"}
    assert fake.posts()


def test_the_demo_generator_runs_in_the_background_and_stops(fake):
    generator = CommentGenerator(fake, interval=0.01, seed=1).start()
    deadline = time.monotonic() + 5
    while len(fake.comments()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    generator.stop()
    assert len(fake.comments()) >= 3 and not generator.running


def test_the_demo_channel_connects_to_the_fake(fake, url):
    settings, credentials = demo_channel(url)
    connector = FacebookConnector(
        ConnectionSettings(settings=settings, credentials=credentials), platform_session()
    )
    assert all(check.ok for check in connector.test_connection())
