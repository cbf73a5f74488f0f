"""The fake platform servers for the demo: every API platform on one loopback port, one path
prefix each (/mastodon, /facebook, /instagram, /youtube, /x, /telegram), plus the mail server
(IMAP and SMTP on ports of their own) and a generator per platform that keeps items coming.

The index page at / links every fake's admin page (create items, inject faults, see calls).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Protocol

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import FakeServer

logger = logging.getLogger(__name__)


class Generator(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class DemoPlatform:
    """How to run one platform's fake for the demo, and what its demo channel looks like."""

    platform: str
    prefix: str
    title: str
    fake: Callable[[], Any]
    generator: Callable[[Any, float], Generator]
    # (settings, credentials) for a channel aimed at the fake served at this base URL.
    channel: Callable[[str], tuple[dict[str, Any], dict[str, Any]]]


def _mastodon() -> DemoPlatform:
    from channels_integrations.mastodon.demo import MentionGenerator
    from channels_integrations.mastodon.fake import FakeMastodon

    return DemoPlatform(
        "mastodon",
        "/mastodon",
        "Mastodon",
        lambda: FakeMastodon(tokens={"demo-token"}),
        lambda fake, interval: MentionGenerator(fake, interval=interval),
        lambda url: ({"base_url": url}, {"access_token": "demo-token"}),
    )


def _platform(platform: str, title: str, fake_class: str, generator_class: str) -> DemoPlatform:
    """A platform whose package follows the shape: fake.<Fake>, demo.<Generator>, demo_channel."""
    fake_module = import_module(f"channels_integrations.{platform}.fake")
    demo = import_module(f"channels_integrations.{platform}.demo")
    token = getattr(demo, "DEMO_TOKEN", None) or getattr(fake_module, "DEMO_TOKEN", None)
    fake_type = getattr(fake_module, fake_class)
    generator_type = getattr(demo, generator_class)
    return DemoPlatform(
        platform,
        f"/{platform}",
        title,
        (lambda: fake_type(tokens=(token,))) if token else fake_type,
        lambda fake, interval: generator_type(fake, interval=interval),
        demo.demo_channel,
    )


def demo_platforms() -> list[DemoPlatform]:
    """Every API platform whose package is importable (the demo skips a broken one, loudly)."""
    makers: list[Callable[[], DemoPlatform]] = [
        _mastodon,
        lambda: _platform("facebook", "Facebook", "FakeFacebook", "CommentGenerator"),
        lambda: _platform("instagram", "Instagram", "FakeInstagram", "CommentGenerator"),
        lambda: _platform("youtube", "YouTube", "FakeYouTube", "CommentGenerator"),
        lambda: _platform("x", "X", "FakeX", "MentionGenerator"),
        lambda: _platform("telegram", "Telegram", "FakeTelegram", "MessageGenerator"),
    ]
    platforms = []
    for make in makers:
        try:
            platforms.append(make())
        except (ImportError, AttributeError):
            logger.exception("a fake platform could not be loaded; the demo goes on without it")
    return platforms


@dataclass
class RunningFakes:
    server: FakeServer
    fakes: dict[str, Any]
    platforms: dict[str, DemoPlatform]
    generators: list[Generator] = field(default_factory=list)
    # The demo mail server (IMAP and SMTP on ports of their own; admin page under /email).
    mail: Any = None

    @property
    def mastodon(self) -> Any:
        return self.fakes.get("mastodon")

    def base_url(self, platform: str) -> str:
        return self.server.url + self.platforms[platform].prefix

    def stop(self) -> None:
        for generator in self.generators:
            generator.stop()
        if self.mail is not None:
            self.mail.stop()
        self.server.stop()


def start_fake_platforms(
    *,
    host: str,
    port: int,
    mention_interval: float,
    imap_port: int = 0,
    smtp_port: int = 0,
) -> RunningFakes:
    """Serve every fake on host:port (one prefix each) and the mail server on its own ports;
    generators post every few seconds."""
    platforms = {platform.platform: platform for platform in demo_platforms()}
    fakes = {name: platform.fake() for name, platform in platforms.items()}
    mounts = {platforms[name].prefix: fake.wsgi_app for name, fake in fakes.items()}
    mail = _start_mail(host, imap_port, smtp_port)
    if mail is not None:
        mounts["/email"] = mail.wsgi_app
    app = DispatcherMiddleware(_index(platforms, mail), mounts)
    server = FakeServer(app, host=host, port=port)
    server.start()
    running = RunningFakes(server=server, fakes=fakes, platforms=platforms, mail=mail)
    if mention_interval > 0:
        for name, fake in fakes.items():
            # Staggered a little per platform, so the inbox does not fill in bursts.
            interval = mention_interval * (1 + 0.15 * len(running.generators))
            generator = platforms[name].generator(fake, interval)
            generator.start()
            running.generators.append(generator)
        if mail is not None:
            from channels_integrations.email.demo import SupportMailGenerator

            mail_generator = SupportMailGenerator(mail, interval=mention_interval * 2)
            mail_generator.start()
            running.generators.append(mail_generator)
    return running


def demo_mail_channel(
    host: str, imap_port: int, smtp_port: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of the demo mailbox on the fake mail server."""
    from channels_integrations.email.demo import demo_channel

    return demo_channel(imap_port, smtp_port, host=host)


def _start_mail(host: str, imap_port: int, smtp_port: int) -> Any:
    """The demo mail server (IMAP and SMTP); the demo goes on without e-mail if it fails."""
    try:
        from channels_integrations.email.fake import FakeMailServer

        return FakeMailServer().start(host, imap_port=imap_port, smtp_port=smtp_port)
    except Exception:
        logger.exception("the demo mail server did not start; the demo goes on without e-mail")
        return None


def _index(platforms: dict[str, DemoPlatform], mail: Any) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        links = "".join(
            f'<li><a href="{html.escape(platform.prefix)}/__admin/">'
            f"{html.escape(platform.title)}</a> <code>{html.escape(request.host_url.rstrip('/'))}"
            f"{html.escape(platform.prefix)}</code></li>"
            for platform in platforms.values()
        )
        if mail is not None:
            links += (
                '<li><a href="/email/__admin/">E-mail</a> '
                f"<code>IMAP {mail.imap_port}, SMTP {mail.smtp_port}</code></li>"
            )
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Fake platforms</title></head><body style='font: 15px system-ui; margin: 2rem'>"
            "<h1>Fake platforms</h1><p>Each fake speaks its platform's API under its prefix; "
            "its admin page creates items, injects faults and shows what the inbox sent.</p>"
            f"<ul>{links}</ul></body></html>"
        )
        return Response(body, content_type="text/html; charset=utf-8")(environ, start_response)

    return app
