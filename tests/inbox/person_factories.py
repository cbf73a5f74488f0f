"""Factories for the person tests: channels on other platforms, one person on several of them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.utils import timezone

from channels_integrations.models import ChannelAccount, Platform
from inbox.models import Contact, Conversation, Department, Direction, Person

_counter = itertools.count(1)


def make_channel(
    platform: str = Platform.FACEBOOK, *, department: Department | None = None, name: str = ""
) -> ChannelAccount:
    channel = ChannelAccount.objects.create(
        platform=platform, name=name or f"{Platform(platform).label} {next(_counter)}"
    )
    if department is not None:
        department.channel_accounts.add(channel)
    return channel


def make_person(display_name: str = "Jane Doe", **fields: object) -> Person:
    return Person.objects.create(display_name=display_name, **fields)


def make_contact(
    person: Person,
    platform: str = Platform.MASTODON,
    *,
    handle: str = "",
    display_name: str = "",
    profile_url: str = "",
) -> Contact:
    n = next(_counter)
    return Contact.objects.create(
        platform=platform,
        scope="test",
        external_id=f"person-test-{n}",
        handle=handle or f"someone{n}",
        display_name=display_name or person.display_name,
        profile_url=profile_url,
        person=person,
    )


def add_conversation(
    channel: ChannelAccount,
    person: Person,
    *,
    contact: Contact | None = None,
    status: str = "new",
    when: datetime | None = None,
    preview: str = "Hello",
) -> Conversation:
    """A conversation of `person` on `channel` (through a new contact unless one is given)."""
    n = next(_counter)
    contact = contact or make_contact(person, channel.platform)
    return Conversation.objects.create(
        channel_account=channel,
        kind="private_message",
        thread_key=f"person-thread-{n}",
        contact=contact,
        status=status,
        last_message_at=when or timezone.now() - timedelta(minutes=n),
        last_message_preview=preview,
        last_message_direction=Direction.INBOUND,
        message_count=1,
    )
