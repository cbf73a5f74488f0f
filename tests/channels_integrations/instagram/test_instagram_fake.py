"""The fake Instagram account, exercised over real HTTP under a path prefix."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from channels_integrations.base import ConnectionSettings
from channels_integrations.fake_server import FakeServer
from channels_integrations.http import platform_session
from channels_integrations.instagram.connector import COMMENT_FIELDS, InstagramConnector
from channels_integrations.instagram.demo import CommentGenerator, demo_channel
from channels_integrations.instagram.fake import ACCOUNT_ID, DEMO_TOKEN, FakeInstagram

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "instagram" / "fixtures"
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture
def fake() -> FakeInstagram:
    return FakeInstagram()


@pytest.fixture
def url(fake: FakeInstagram) -> Iterator[str]:
    """The fake mounted at /instagram, the way several fakes share one port in the demo."""
    app = DispatcherMiddleware(Response("not here", 404), {"/instagram": fake.wsgi_app})
    with FakeServer(app) as server:
        yield server.url + "/instagram"


def get(url: str, path: str, params: dict | None = None, **kwargs) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.get(f"{url}/v25.0/{path}", params=params, timeout=5, **kwargs)


def post(url: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.post(f"{url}/v25.0/{path}", timeout=5, **kwargs)


def error_of(response: requests.Response) -> dict:
    assert response.status_code == 400
    return response.json()["error"]


def test_it_serves_the_account_with_either_token_form(fake, url):
    by_header = get(url, ACCOUNT_ID, {"fields": "id,username"}).json()
    by_param = requests.get(
        f"{url}/v21.0/{ACCOUNT_ID}",
        params={"fields": "id,username", "access_token": DEMO_TOKEN},
        timeout=5,
    ).json()
    assert by_header == by_param == {"id": ACCOUNT_ID, "username": "brand"}


def test_comments_come_in_the_documented_shape(fake, url):
    documented = json.loads((FIXTURES / "comments.json").read_text())["data"][0]
    media = fake.add_media("Post")
    top = fake.add_comment(media["id"], "@brand is this back in stock?", username="jane.doe")
    fake.add_own_comment(top["id"], "Yes! DM us")
    body = get(url, f"{media['id']}/comments", {"fields": COMMENT_FIELDS}).json()
    [made] = body["data"]
    assert set(made) == set(documented)  # `parent_id` was asked for, but a top level has none
    [reply] = made["replies"]["data"]
    assert set(reply) == set(documented["replies"]["data"][0])
    assert reply["from"] == {"id": ACCOUNT_ID, "username": "brand"}
    assert reply["parent_id"] == top["id"]
    assert "next" not in body["paging"]  # the only page: cursors, but no next


def test_the_default_fields_are_those_of_the_docs_example(fake, url):
    documented = json.loads((FIXTURES / "comments_default_fields.json").read_text())["data"][0]
    media = fake.add_media("Post")
    fake.add_comment(media["id"], "I love this!")
    [made] = get(url, f"{media['id']}/comments").json()["data"]
    assert set(made) == set(documented)


def test_media_pages_by_cursor_newest_first(fake, url):
    made = [fake.add_media(f"post {n}") for n in range(3)]
    body = get(url, f"{ACCOUNT_ID}/media", {"limit": 2, "fields": "id,comments_count"}).json()
    assert [m["id"] for m in body["data"]] == [made[2]["id"], made[1]["id"]]
    assert body["paging"]["next"].startswith(f"{url}/v25.0/{ACCOUNT_ID}/media?")
    rest = requests.get(body["paging"]["next"], headers=AUTH, timeout=5).json()
    assert [m["id"] for m in rest["data"]] == [made[0]["id"]] and "next" not in rest["paging"]


def test_comments_count_counts_replies_and_unlisted_comments(fake, url):
    media = fake.add_media("Post")
    top = fake.add_comment(media["id"], "top")
    fake.add_comment(media["id"], "reply", parent_id=top["id"])
    fake.add_comment(media["id"], "restricted user", filtered=True)
    body = get(url, media["id"], {"fields": "comments_count"}).json()
    assert body["comments_count"] == 3
    listed = get(url, f"{media['id']}/comments", {"limit": 1}).json()
    assert listed["data"] == [] and "next" in listed["paging"]  # the filtered one fills page 1


def test_it_refuses_a_reply_to_a_reply_and_to_a_hidden_comment(fake, url):
    media = fake.add_media("Post")
    top = fake.add_comment(media["id"], "top")
    reply = fake.add_comment(media["id"], "reply", parent_id=top["id"])
    hidden = fake.add_comment(media["id"], "hidden", hidden=True)
    assert (
        "top-level"
        in error_of(post(url, f"{reply['id']}/replies", data={"message": "x"}))["message"]
    )
    assert (
        "hidden"
        in error_of(post(url, f"{hidden['id']}/replies", params={"message": "x"}))["message"]
    )
    created = post(url, f"{top['id']}/replies", params={"message": "ok"}).json()
    documented = json.loads((FIXTURES / "reply_created.json").read_text())
    assert set(created) == set(documented)
    assert fake.comment(created["id"])["parent_id"] == top["id"]


def test_the_account_cannot_hide_its_own_comment(fake, url):
    media = fake.add_media("Post")
    own = fake.add_own_comment(media["id"], "ours")
    theirs = fake.add_comment(media["id"], "theirs")
    assert error_of(post(url, own["id"], params={"hide": "true"}))["code"] == 100
    assert post(url, theirs["id"], params={"hide": "true"}).json() == {"success": True}
    assert fake.comment(theirs["id"])["hidden"] is True


def test_deleting_a_comment_removes_its_replies(fake, url):
    media = fake.add_media("Post")
    top = fake.add_comment(media["id"], "top")
    fake.add_comment(media["id"], "reply", parent_id=top["id"])
    response = requests.delete(f"{url}/v25.0/{top['id']}", headers=AUTH, timeout=5)
    assert response.json() == {"success": True} and fake.comments() == []
    assert error_of(get(url, top["id"]))["error_subcode"] == 33


def test_there_is_no_like_edge(fake, url):
    media = fake.add_media("Post")
    top = fake.add_comment(media["id"], "top")
    assert error_of(post(url, f"{top['id']}/likes"))["code"] == 100


def test_a_too_long_reply_is_refused(fake, url):
    media = fake.add_media("Post")
    top = fake.add_comment(media["id"], "top")
    assert error_of(post(url, f"{top['id']}/replies", data={"message": "x" * 2201}))["code"] == 100


def test_it_throttles_with_80002_and_an_instagram_usage_entry(fake, url):
    fake.set_rate_limit(1)
    get(url, ACCOUNT_ID)
    throttled = get(url, ACCOUNT_ID)
    assert error_of(throttled)["code"] == 80002
    [entry] = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[ACCOUNT_ID]
    assert entry["type"] == "instagram" and entry["estimated_time_to_regain_access"] >= 1


@pytest.mark.parametrize(("status", "code"), [(401, 190), (429, 80002), (500, 1), (503, 2)])
def test_injected_faults_default_to_graph_bodies(fake, url, status, code):
    fake.fail_next(status)
    assert get(url, ACCOUNT_ID).json()["error"]["code"] == code


def test_the_admin_page_seed_and_form(fake, url):
    media = requests.post(f"{url}/__admin/seed", json={"media": "Sommer ☀️"}, timeout=5).json()
    seeded = requests.post(
        f"{url}/__admin/seed",
        json={"text": "<b>Wow</b>", "media_id": media["id"], "username": "lena.s"},
        timeout=5,
    )
    assert seeded.status_code == 201
    bad = requests.post(
        f"{url}/__admin/seed", json={"text": "x", "username": "not valid!"}, timeout=5
    )
    assert bad.status_code == 400
    form = requests.post(
        f"{url}/__admin/comment",
        data={"text": "Per Formular", "username": "anke.k", "parent_id": seeded.json()["id"]},
        allow_redirects=False,
        timeout=5,
    )
    assert form.status_code == 303 and form.headers["Location"] == "/instagram/__admin/"
    page = requests.get(f"{url}/__admin/", timeout=5).text
    assert "&lt;b&gt;Wow&lt;/b&gt;" in page and "Per Formular" in page
    assert [c["text"] for c in fake.comments()] == ["<b>Wow</b>", "Per Formular"]


def test_the_demo_generator_writes_threads_and_runs_in_the_background(fake):
    generator = CommentGenerator(fake, seed=3, follow_up_chance=0.5)
    made = [generator.emit() for _ in range(30)]
    replies = [comment for comment in made if comment.get("parent_id")]
    assert replies and all(fake.comment(reply["parent_id"]) for reply in replies)
    background = CommentGenerator(fake, interval=0.01, seed=4).start()
    deadline = time.monotonic() + 5
    while len(fake.comments()) < 33 and time.monotonic() < deadline:
        time.sleep(0.01)
    background.stop()
    assert len(fake.comments()) >= 33 and not background.running


def test_the_demo_channel_connects_to_the_fake(fake, url):
    media = fake.add_media("Post")
    fake.add_comment(media["id"], "Hallo!")
    settings, credentials = demo_channel(url)
    connector = InstagramConnector(
        ConnectionSettings(settings=settings, credentials=credentials), platform_session()
    )
    assert all(check.ok for check in connector.test_connection())
    assert [item.text for item in connector.fetch_page({}).items] == ["Hallo!"]
