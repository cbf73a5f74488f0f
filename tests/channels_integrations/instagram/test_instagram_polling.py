"""Polling an Instagram channel end to end: the real poll engine, the fake account, PostgreSQL."""

from __future__ import annotations

import pytest

from channels_integrations.instagram.demo import demo_channel
from channels_integrations.instagram.fake import ACCOUNT_ID
from channels_integrations.models import ChannelAccount
from channels_integrations.polling import poll_channel
from inbox.models import Contact, Conversation

pytestmark = pytest.mark.django_db


def instagram_channel(base_url: str) -> ChannelAccount:
    settings, credentials = demo_channel(base_url)
    account = ChannelAccount(platform="instagram", name="Instagram: @brand", settings=settings)
    account.set_credentials(credentials)
    account.save()
    return account


def test_a_poll_makes_one_conversation_per_top_level_comment(fake_instagram):
    media = fake_instagram.add_media("Neue Kollektion 🍂")
    question = fake_instagram.add_comment(
        media["id"], "Gibt es das auch in Grün?", username="jana.koehler"
    )
    fake_instagram.add_comment(
        media["id"], "+1, bitte in Grün!", username="tom_mueller89", parent_id=question["id"]
    )
    praise = fake_instagram.add_comment(media["id"], "Love it 😍", username="sam.rivera")
    account = instagram_channel(fake_instagram.url)

    outcome = poll_channel(account.pk)

    assert (outcome.new_messages, outcome.caught_up, outcome.error) == (3, True, "")
    conversations = Conversation.objects.filter(channel_account=account)
    assert {c.thread_key for c in conversations} == {question["id"], praise["id"]}
    thread = conversations.get(thread_key=question["id"])
    assert thread.kind == "comment" and thread.post_text == "Neue Kollektion 🍂"
    assert thread.post_permalink == media["permalink"]
    assert [m.text for m in thread.messages.order_by("sent_at", "id")] == [
        "Gibt es das auch in Grün?",
        "+1, bitte in Grün!",
    ]
    assert thread.contact is not None and thread.contact.handle == "jana.koehler"
    assert {c.scope for c in Contact.objects.filter(platform="instagram")} == {ACCOUNT_ID}

    fake_instagram.add_comment(
        media["id"], "Danke für die Antwort!", username="jana.koehler", parent_id=question["id"]
    )
    assert poll_channel(account.pk).new_messages == 1
    assert thread.messages.count() == 3
