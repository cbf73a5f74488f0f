"""The demo workspace (`make run`): one channel of every platform on the built-in fakes, all alive:
each passes its connection test and polls what its generator posts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels_integrations.fake_platforms import RunningFakes, start_fake_platforms
from channels_integrations.models import ChannelAccount, ChannelStatus
from channels_integrations.polling import poll_channel
from channels_integrations.registry import connector_for
from inbox.models import Message

pytestmark = pytest.mark.django_db

API_PLATFORMS = ["mastodon", "facebook", "instagram", "youtube", "x", "telegram"]


@pytest.fixture(scope="module")
def fakes() -> Iterator[RunningFakes]:
    running = start_fake_platforms(host="127.0.0.1", port=0, mention_interval=0)
    try:
        yield running
    finally:
        running.stop()


def test_every_api_platform_has_a_demo_fake(fakes):
    assert sorted(fakes.platforms) == sorted(API_PLATFORMS)
    assert fakes.mail is not None


def test_the_demo_mailbox_is_alive(fakes):
    from channels_integrations.email.demo import SupportMailGenerator
    from channels_integrations.fake_platforms import demo_mail_channel

    settings, credentials = demo_mail_channel(
        "127.0.0.1", fakes.mail.imap_port, fakes.mail.smtp_port
    )
    channel = ChannelAccount(platform="email", name="Support (demo)", settings=settings)
    channel.set_credentials(credentials)
    channel.save()
    checks = connector_for(channel).test_connection()
    assert checks and all(check.ok for check in checks), checks

    SupportMailGenerator(fakes.mail, interval=60).emit()
    poll_channel(channel.pk)

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE, channel.last_error
    assert Message.objects.filter(channel_account=channel).exists()


@pytest.mark.parametrize("platform", API_PLATFORMS)
def test_the_demo_channel_is_alive(fakes, platform):
    demo = fakes.platforms[platform]
    settings, credentials = demo.channel(fakes.base_url(platform))
    channel = ChannelAccount(platform=platform, name=f"{demo.title} (demo)", settings=settings)
    channel.set_credentials(credentials)
    channel.save()

    checks = connector_for(channel).test_connection()
    assert checks and all(check.ok for check in checks), checks

    poll_channel(channel.pk)  # the first poll sets the starting point
    generator = demo.generator(fakes.fakes[platform], 60)
    for _ in range(3):
        generator.emit()
    channel.refresh_from_db()
    channel.next_poll_at = channel.last_poll_at
    channel.save()
    poll_channel(channel.pk)

    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE, channel.last_error
    assert Message.objects.filter(channel_account=channel).exists()
