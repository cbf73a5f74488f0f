"""The periodic re-check of comments older than the polling overlap: edits, hides, deletions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from channels_integrations.base import ItemState, ItemUpdate
from channels_integrations.facebook.connector import FacebookConnector, _Cursor
from channels_integrations.facebook.fake import DEMO_TOKEN
from channels_integrations.facebook.graph_fake import graph_error
from channels_integrations.models import ChannelAccount
from channels_integrations.polling import poll_channel
from inbox.models import Message

from .test_facebook_polling import facebook_channel

FIELDS = "id,message,is_hidden,created_time"
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


def graph_get(fake, version: str, **params: str) -> requests.Response:
    return requests.get(f"{fake.url}/{version}/", params=params, headers=AUTH, timeout=5)


def two_hours_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=2)


def root_reads(fake) -> list[dict]:
    return [c for c in fake.calls() if c["path"] == "/v25.0/" and "ids" in c["query"]]


def due(cursor: dict) -> dict:
    """The cursor as it will be once the re-check interval has passed."""
    return cursor | {"recheck_at": int(datetime.now(UTC).timestamp()) - 1}


# The fake's multiple-id read.


def test_the_fake_answers_a_multiple_id_read_keyed_by_id(fake_facebook):
    post = fake_facebook.add_post("Post")
    first = fake_facebook.add_comment(post["id"], "eins")
    second = fake_facebook.add_comment(post["id"], "zwei", hidden=True)
    ids = f"{first['id']},{second['id']}"

    body = graph_get(fake_facebook, "v25.0", ids=ids, fields=FIELDS).json()

    assert set(body) == {first["id"], second["id"]}
    assert body[first["id"]] == {
        "id": first["id"],
        "message": "eins",
        "is_hidden": False,
        "created_time": first["created_time"],
    }
    assert body[second["id"]]["is_hidden"] is True


def test_the_fake_fails_the_whole_read_when_one_id_is_gone(fake_facebook):
    post = fake_facebook.add_post("Post")
    kept = fake_facebook.add_comment(post["id"], "bleibt")
    gone = fake_facebook.add_comment(post["id"], "weg")
    fake_facebook.delete_comment(gone["id"])

    response = graph_get(fake_facebook, "v25.0", ids=f"{kept['id']},{gone['id']}", fields=FIELDS)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 803 and gone["id"] in error["message"]


def test_the_fake_limits_ids_refuses_them_from_v26_and_counts_the_call(fake_facebook):
    post = fake_facebook.add_post("Post")
    comment = fake_facebook.add_comment(post["id"], "eins")
    many = ",".join([comment["id"]] * 51)
    too_many = graph_get(fake_facebook, "v25.0", ids=many)
    assert too_many.json()["error"]["code"] == 100
    newer = graph_get(fake_facebook, "v26.0", ids=comment["id"])
    assert newer.json()["error"]["code"] == 100

    fake_facebook.reset()
    fake_facebook.set_rate_limit(1)
    ok = graph_get(fake_facebook, "v25.0", ids=comment["id"])
    assert ok.status_code == 200
    throttled = graph_get(fake_facebook, "v25.0", ids=comment["id"])
    assert throttled.json()["error"]["code"] == 80001


# The connector.


def test_a_recheck_reports_edits_hides_and_deletions_after_the_overlap(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    old = two_hours_ago()
    edited = fake_facebook.add_comment(post["id"], "Jacke in L?", created_at=old)
    hidden = fake_facebook.add_comment(post["id"], "Spam", created_at=old)
    deleted = fake_facebook.add_comment(post["id"], "Ups", created_at=old)
    unchanged = fake_facebook.add_comment(post["id"], "Danke", created_at=old)
    fake_facebook.add_comment(post["id"], "Neu")  # keeps the high-water mark at now
    connector = facebook()

    first = connector.fetch_page({})
    assert len(first.items) == 5 and first.updates == [] and root_reads(fake_facebook) == []

    fake_facebook.edit_comment(edited["id"], "Jacke in L oder XL?")
    fake_facebook.set_hidden(hidden["id"], True)
    fake_facebook.delete_comment(deleted["id"])

    # Within the interval: the listing (since = hw - 60 s) does not see the old comments.
    soon = connector.fetch_page(first.cursor)
    assert soon.items == [] and soon.updates == [] and root_reads(fake_facebook) == []

    later = connector.fetch_page(due(soon.cursor))

    assert later.items == []
    updates = {update.external_id: update for update in later.updates}
    assert updates[edited["id"]].text == "Jacke in L oder XL?"
    assert updates[edited["id"]].edited_at is not None
    assert updates[hidden["id"]].state == ItemState.HIDDEN
    assert updates[deleted["id"]] == ItemUpdate(deleted["id"], state=ItemState.DELETED)
    assert updates[unchanged["id"]].text == "Danke"  # the ingest sees it did not change
    assert updates[unchanged["id"]].state == ItemState.VISIBLE
    # One batch read; it failed on the deleted id (803), so its ids were read one by one.
    assert len(root_reads(fake_facebook)) == 1
    watched = [entry[0] for entry in later.cursor["watch"]]
    assert deleted["id"] not in watched and edited["id"] in watched
    now = int(datetime.now(UTC).timestamp())
    assert later.cursor["recheck_at"] >= now + 590

    # The next interval brings the unhide; the deleted comment is no longer asked for.
    fake_facebook.set_hidden(hidden["id"], False)
    calls_before = len(fake_facebook.calls())
    again = connector.fetch_page(due(later.cursor))
    updates = {update.external_id: update for update in again.updates}
    assert updates[hidden["id"]].state == ItemState.VISIBLE
    assert deleted["id"] not in updates
    reads = fake_facebook.calls()[calls_before:]
    assert sum(1 for c in reads if c["path"] == "/v25.0/") == 1  # one batch, nothing gone


def test_from_v26_the_recheck_reads_comments_one_by_one(fake_facebook, facebook):
    post = fake_facebook.add_post("Post")
    comment = fake_facebook.add_comment(post["id"], "alt", created_at=two_hours_ago())
    connector = facebook()
    connector.client.api_version = "v26.0"
    first = connector.fetch_page({})
    fake_facebook.edit_comment(comment["id"], "neu")

    later = connector.fetch_page(due(first.cursor))

    assert [(u.external_id, u.text) for u in later.updates] == [(comment["id"], "neu")]
    assert not [c for c in fake_facebook.calls() if c["path"] == "/v26.0/"]


def test_a_failing_recheck_keeps_the_new_comments_and_waits_for_the_next_interval(
    fake_facebook, facebook, monkeypatch
):
    post = fake_facebook.add_post("Post")
    old = fake_facebook.add_comment(post["id"], "alt", created_at=two_hours_ago())
    connector = facebook()
    first = connector.fetch_page({})
    fake_facebook.edit_comment(old["id"], "geändert")
    fresh = fake_facebook.add_comment(post["id"], "ganz neu")

    def unavailable(call):
        return graph_error(1, "An unknown error has occurred.", status=500, is_transient=True)

    monkeypatch.setattr(fake_facebook, "_multi_read", unavailable)
    page = connector.fetch_page(due(first.cursor))

    assert [item.external_id for item in page.items] == [fresh["id"]]
    assert page.updates == []
    assert len(root_reads(fake_facebook)) == 1  # no fallback id by id after a 5xx
    assert {entry[0] for entry in page.cursor["watch"]} == {old["id"], fresh["id"]}
    assert page.cursor["recheck_at"] > int(datetime.now(UTC).timestamp())

    monkeypatch.undo()
    retried = connector.fetch_page(due(page.cursor))
    assert {u.external_id: u.text for u in retried.updates}[old["id"]] == "geändert"


def test_the_watch_list_stays_bounded_by_count_and_age():
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    entries = [[f"1_{n}", stamp - n] for n in range(FacebookConnector.MAX_WATCHED + 100)]
    entries.append(["1_too_old", int((now - timedelta(days=8)).timestamp())])
    entries.append(["bad entry"])

    cursor = _Cursor.load({"watch": entries}, now)

    assert len(cursor.watch) == FacebookConnector.MAX_WATCHED
    assert "1_too_old" not in cursor.watch
    assert "1_0" in cursor.watch and f"1_{FacebookConnector.MAX_WATCHED}" not in cursor.watch
    assert list(cursor.watch) == sorted(cursor.watch, key=cursor.watch.__getitem__)


def test_polling_keeps_the_watch_list_bounded(fake_facebook, facebook, monkeypatch):
    monkeypatch.setattr(FacebookConnector, "MAX_WATCHED", 5)
    post = fake_facebook.add_post("Post")
    for n in range(8):
        fake_facebook.add_comment(post["id"], f"comment {n}")
    connector = facebook()
    page = connector.fetch_page({})
    assert len(page.cursor["watch"]) == 5
    fake_facebook.add_comment(post["id"], "one more")
    assert len(connector.fetch_page(page.cursor).cursor["watch"]) == 5


# End to end: the poll engine, the fake Page, PostgreSQL.


@pytest.mark.django_db
def test_an_edit_and_a_deletion_on_facebook_reach_the_inbox_messages(fake_facebook):
    post = fake_facebook.add_post("Die neue Herbstkollektion ist da!")
    old = two_hours_ago()
    question = fake_facebook.add_comment(
        post["id"], "Gibt es die Jacke in L?", author_name="Jana", created_at=old
    )
    rude = fake_facebook.add_comment(post["id"], "So ein Mist", author_name="Tom", created_at=old)
    fake_facebook.add_comment(post["id"], "Tolle Farben!", author_name="Sam")
    account = facebook_channel(fake_facebook.url)
    assert poll_channel(account.pk).new_messages == 3

    fake_facebook.edit_comment(question["id"], "Gibt es die Jacke in L oder XL?")
    fake_facebook.delete_comment(rude["id"])
    ChannelAccount.objects.filter(pk=account.pk).update(cursor=due(_cursor_of(account)))

    outcome = poll_channel(account.pk)

    assert outcome.error == "" and outcome.new_messages == 0
    edited = Message.objects.get(channel_account=account, external_id=question["id"])
    assert edited.text == "Gibt es die Jacke in L oder XL?"
    assert [entry["text"] for entry in edited.edit_history] == ["Gibt es die Jacke in L?"]
    assert edited.edited_at is not None
    deleted = Message.objects.get(channel_account=account, external_id=rude["id"])
    assert deleted.platform_state == "deleted"
    assert deleted.text == "So ein Mist"  # kept for the team


def _cursor_of(account: ChannelAccount) -> dict:
    account.refresh_from_db()
    return dict(account.cursor)
