"""Plain factory functions: each makes one row the way the product would, with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.utils import timezone

from channels_integrations.models import ChannelAccount, Platform
from inbox.models import (
    Contact,
    Conversation,
    Department,
    Direction,
    Membership,
    MembershipRole,
    Message,
    Person,
)

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, **fields: Any) -> AbstractUser:
    user = get_user_model().objects.create_user(
        username=username or f"user{next(_counter)}", password=PASSWORD, **fields
    )
    assert isinstance(user, AbstractUser)
    return user


def make_department(name: str | None = None) -> Department:
    name = name or f"Department {next(_counter)}"
    return Department.objects.create(name=name, slug=name.lower().replace(" ", "-"))


def add_member(user: Any, department: Department, role: str = MembershipRole.AGENT) -> Membership:
    return Membership.objects.create(user=user, department=department, role=role)


def make_mastodon_channel(
    base_url: str = "http://127.0.0.1:9",
    *,
    token: str = "demo-token",
    department: Department | None = None,
    **fields: Any,
) -> ChannelAccount:
    channel = ChannelAccount(
        platform=Platform.MASTODON,
        name=fields.pop("name", f"Mastodon {next(_counter)}"),
        settings={"base_url": base_url},
        **fields,
    )
    channel.set_credentials({"access_token": token})
    channel.save()
    if department is not None:
        department.channel_accounts.add(channel)
    return channel


def make_conversation(
    channel: ChannelAccount,
    *,
    text: str = "Hello @brand",
    author: str = "Jane Doe",
    when: datetime | None = None,
    **fields: Any,
) -> Conversation:
    n = next(_counter)
    when = when or timezone.now() - timedelta(minutes=n)
    person = Person.objects.create(display_name=author)
    contact = Contact.objects.create(
        platform=channel.platform,
        scope="test",
        external_id=f"acct{n}",
        handle=f"user{n}@example.social",
        display_name=author,
        person=person,
    )
    conversation = Conversation.objects.create(
        channel_account=channel,
        kind="mention",
        thread_key=f"status{n}",
        contact=contact,
        last_message_at=when,
        last_message_preview=text[:140],
        last_message_direction=Direction.INBOUND,
        message_count=1,
        **{"waiting_since": when, **fields},
    )
    Message.objects.create(
        conversation=conversation,
        channel_account=channel,
        external_id=f"status{n}",
        direction=Direction.INBOUND,
        contact=contact,
        text=text,
        sent_at=when,
        raw={"status": {"id": f"status{n}", "visibility": "public"}},
    )
    return conversation


def make_due(action: Any) -> None:
    """An outbox action's back-off has passed: its scheduled task would run now."""
    from inbox.models import OutboundAction

    OutboundAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
