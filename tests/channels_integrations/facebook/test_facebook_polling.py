"""Polling a Facebook channel end to end: the real poll engine, the fake Page, PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_integrations.facebook.demo import demo_channel
from channels_integrations.facebook.fake import PAGE_ID
from channels_integrations.models import ChannelAccount, ChannelStatus
from channels_integrations.polling import poll_channel
from inbox.models import Contact, Conversation, Message

pytestmark = pytest.mark.django_db


def facebook_channel(base_url: str) -> ChannelAccount:
    settings, credentials = demo_channel(base_url)
    account = ChannelAccount(platform="facebook", name="Facebook: Brand", settings=settings)
    account.set_credentials(credentials)
    account.save()
    return account


def test_a_poll_makes_one_conversation_per_top_level_comment(fake_facebook):
    post = fake_facebook.add_post("Die neue Herbstkollektion ist da!")
    question = fake_facebook.add_comment(post["id"], "Gibt es die Jacke in L?", author_name="Jana")
    fake_facebook.add_comment(
        post["id"], "Würde mich auch interessieren", author_name="Tom", parent_id=question["id"]
    )
    praise = fake_facebook.add_comment(post["id"], "Tolle Farben! 😍", author_name="Sam")
    account = facebook_channel(fake_facebook.url)

    outcome = poll_channel(account.pk)

    assert (outcome.new_messages, outcome.caught_up, outcome.error) == (3, True, "")
    conversations = Conversation.objects.filter(channel_account=account)
    assert {c.thread_key for c in conversations} == {question["id"], praise["id"]}
    thread = conversations.get(thread_key=question["id"])
    assert thread.kind == "comment"
    assert thread.post_text == "Die neue Herbstkollektion ist da!"
    assert thread.post_permalink == post["permalink_url"]
    messages = list(thread.messages.order_by("sent_at", "id"))
    assert [m.text for m in messages] == [
        "Gibt es die Jacke in L?",
        "Würde mich auch interessieren",
    ]
    assert messages[1].parent_external_id == question["id"]
    assert {c.scope for c in Contact.objects.filter(platform="facebook")} == {PAGE_ID}
    account.refresh_from_db()
    assert account.status == ChannelStatus.ACTIVE and set(account.cursor["posts"]) == {post["id"]}

    fake_facebook.add_comment(
        post["id"], "Ja, ab Freitag wieder!", author_name="Jana", parent_id=question["id"]
    )
    assert poll_channel(account.pk).new_messages == 1
    assert thread.messages.count() == 3
    assert Message.objects.filter(channel_account=account).count() == 4


def test_a_throttled_poll_waits_as_long_as_graph_says(fake_facebook):
    account = facebook_channel(fake_facebook.url)
    fake_facebook.fail_next_rate_limited(80001, regain_minutes=30)
    poll_channel(account.pk)
    account.refresh_from_db()
    assert account.rate_limited_until is not None
    assert account.rate_limited_until > timezone.now() + timedelta(minutes=29)


def test_a_revoked_token_stops_the_channel_for_reauthorization(fake_facebook):
    account = facebook_channel(fake_facebook.url)
    fake_facebook.revoke_token("demo-page-token")
    poll_channel(account.pk)
    account.refresh_from_db()
    assert account.status == ChannelStatus.NEEDS_REAUTH
    assert "re-authorize" in account.last_error.lower()
