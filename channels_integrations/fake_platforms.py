"""The fake platform servers for the demo: one loopback HTTP server per platform."""

from __future__ import annotations

from dataclasses import dataclass

from channels_integrations.fake_server import FakeServer
from channels_integrations.mastodon.demo import MentionGenerator
from channels_integrations.mastodon.fake import FakeMastodon


@dataclass
class RunningFakes:
    mastodon: FakeMastodon
    server: FakeServer
    generator: MentionGenerator | None

    def stop(self) -> None:
        if self.generator is not None:
            self.generator.stop()
        self.server.stop()


def start_fake_platforms(*, host: str, port: int, mention_interval: float) -> RunningFakes:
    """Start the fake Mastodon on host:port; a generator posts a mention every few seconds."""
    mastodon = FakeMastodon(tokens={"demo-token"})
    server = FakeServer(mastodon.wsgi_app, host=host, port=port)
    server.start()
    generator = None
    if mention_interval > 0:
        generator = MentionGenerator(mastodon, interval=mention_interval)
        generator.start()
    return RunningFakes(mastodon=mastodon, server=server, generator=generator)
