"""The hostile workspace: every payload of tests/security/hostile_corpus.py sent through the
platform fakes over HTTP and polled in by the real connectors and poll code, once per module.

Mastodon carries every text payload (escaped, as Mastodon formats a user's text) and, from a
hostile instance, the markup payloads as raw status HTML; its accounts carry the name, handle
and URL payloads. Facebook, X, Telegram, YouTube and e-mail carry slices of the name and
attachment payloads in the fields each fills (author names, chat names and usernames, file
names, link titles, subjects, HTML bodies).
"""

from __future__ import annotations

import base64
import html
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from django.db import transaction

from channels_integrations.fake_platforms import RunningFakes, start_fake_platforms
from channels_integrations.models import ChannelAccount, SkippedItem
from channels_integrations.polling import poll_channel
from inbox.models import Department
from moderation.models import ModerationRule
from tests import factories
from tests.security.hostile_corpus import ATTACHMENT, HANDLE, NAME, TEXT, URL, Rendered, rendered


@dataclass
class HostileWorld:
    """What the module's tests read: the people, the channels and what was sent where."""

    department: Department
    agent: Any
    lead: Any
    admin: Any
    channels: dict[str, ChannelAccount]
    # marker → the platforms it was sent through (so a test can say where one went missing).
    sent: dict[str, set[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    fakes: RunningFakes | None = None

    def note(self, platform: str, *payloads: Rendered) -> None:
        for payload in payloads:
            self.sent.setdefault(payload.marker, set()).add(platform)


def _cycle(values: list[Rendered], start: int = 0) -> Iterator[Rendered]:
    return itertools.islice(itertools.cycle(values), start, None)


def _texts(start: int) -> Iterator[Rendered]:
    """Text payloads for the platforms whose text is not HTML. A NUL there stops the channel's
    ingest today (test_a_nul_in_a_flagged_item_does_not_stop_the_channel shows it), so it
    goes through Mastodon and YouTube only, whose HTML text is cleaned of it."""
    return _cycle([p for p in rendered(TEXT) if "\x00" not in p.value], start)


def _channel(platform: str, name: str, settings: dict[str, Any], credentials: dict[str, Any],
             department: Department) -> ChannelAccount:  # fmt: skip
    channel = ChannelAccount(platform=platform, name=name, settings=settings)
    channel.set_credentials(credentials)
    channel.save()
    department.channel_accounts.add(channel)
    return channel


def _poll_until_caught_up(channel: ChannelAccount) -> None:
    for _ in range(20):
        outcome = poll_channel(channel.pk)
        assert not outcome.error, f"{channel.platform}: {outcome.error}"
        if outcome.caught_up:
            return
    raise AssertionError(f"{channel.platform} never caught up")


def _send_mastodon(fakes: RunningFakes, world: HostileWorld) -> None:
    fake = fakes.fakes["mastodon"]
    names, handles, urls = _cycle(rendered(NAME)), _cycle(rendered(HANDLE)), _cycle(rendered(URL))
    status_urls = _cycle(rendered(URL), 7)
    created = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    texts = rendered(TEXT)
    # A hostile instance sends markup as status HTML, not escaped text.
    raw_markup = [p for p in texts if "<" in p.value or "&" in p.value]
    items = [(p, "<p>" + html.escape(p.value).replace("\n", "<br>") + "</p>") for p in texts]
    items += [(p, p.value) for p in raw_markup]
    for number, (payload, content) in enumerate(items):
        name, handle, avatar, status_url = next(names), next(handles), next(urls), next(status_urls)
        account = {
            "id": f"66{number:04d}",
            "username": f"hostile{number}",
            "acct": handle.value,
            "display_name": name.value,
            "url": avatar.value,
            "avatar": avatar.value,
        }
        when = (created + timedelta(minutes=number)).isoformat()
        status = {
            "id": str(500_000 + number),
            "created_at": when,
            "visibility": "public",
            "language": "en",
            "in_reply_to_id": None,
            "content": content,
            "url": status_url.value,
            "uri": status_url.value,
            "account": account,
            "media_attachments": [
                {"type": "image", "url": avatar.value, "description": name.value}
            ],
        }
        fake.add_raw_notification(
            {"id": str(10_000 + number), "type": "mention", "created_at": when,
             "account": account, "status": status}
        )  # fmt: skip
        world.note("mastodon", payload, name, handle, avatar, status_url)


def _send_facebook(fakes: RunningFakes, world: HostileWorld) -> None:
    fake = fakes.fakes["facebook"]
    names, files = rendered(NAME), _cycle(rendered(ATTACHMENT), 1)
    texts, urls = _texts(3), _cycle(rendered(URL), 2)
    post_text = next(texts)
    post = fake.add_post(post_text.value)
    world.note("facebook", post_text)
    for name in names[::8]:
        text, title, url = next(texts), next(files), next(urls)
        attachment = {
            "type": "share",
            "title": title.value,
            "url": "https://example.com/shared",
            "target": {"url": url.value},
        }
        fake.add_comment(post["id"], text.value, author_name=name.value, attachment=attachment)
        world.note("facebook", text, title, name)


def _send_x(fakes: RunningFakes, world: HostileWorld) -> None:
    fake = fakes.fakes["x"]
    texts, urls = _texts(5), _cycle(rendered(URL), 4)
    for number, name in enumerate(rendered(NAME)[1::8]):
        text, avatar = next(texts), next(urls)
        fake.add_mention(
            text.value[:2000], username=f"hostile{number}", display_name=name.value,
            avatar_url=avatar.value,
        )  # fmt: skip
        world.note("x", name)


def _send_telegram(fakes: RunningFakes, world: HostileWorld) -> None:
    fake = fakes.fakes["telegram"]
    texts, handles = _texts(11), _cycle(rendered(HANDLE), 5)
    files = _cycle(rendered(ATTACHMENT), 2)
    for name in rendered(NAME)[2::8]:
        text, handle, file_name = next(texts), next(handles), next(files)
        fake.add_private_message(
            None, username=handle.value, first_name=name.value, last_name=None,
            media="document", caption=text.value[:1024], file_name=file_name.value,
        )  # fmt: skip
        world.note("telegram", name, handle, file_name)


def _send_youtube(fakes: RunningFakes, world: HostileWorld) -> None:
    fake = fakes.fakes["youtube"]
    texts = _cycle(rendered(TEXT), 13)
    for name in rendered(NAME)[3::8]:
        text = next(texts)
        fake.add_comment(text.value[:10_000], author=name.value)
        world.note("youtube", name)


def _encoded_word(value: str) -> str:
    """One RFC 2047 encoded word: carries anything, CR and LF too, into a header, which is
    what a hostile sender's mail program can do."""
    return "=?utf-8?b?" + base64.b64encode(value.encode("utf-8", "surrogatepass")).decode() + "?="


def _send_mail(fakes: RunningFakes, world: HostileWorld) -> None:
    """Every attachment payload goes out as a file name here (a mail carries several)."""
    mail = fakes.mail
    texts, files = _texts(17), rendered(ATTACHMENT)
    senders = rendered(NAME)[4::8]
    for number, name in enumerate(senders):
        text = next(texts)
        body = text.value[:20_000]
        message = EmailMessage()
        message["To"] = mail.address
        message["Date"] = format_datetime(datetime(2026, 3, 2, 9, number % 60, tzinfo=UTC))
        message["Message-ID"] = make_msgid(domain="example.org")
        message.set_content(body)
        message.add_alternative(f"<p>{body}</p>", subtype="html")
        attached = files[number :: len(senders)]
        for file_name in attached:
            # A header cannot hold a line break, an encoded file name can hold anything else.
            safe_name = " ".join(file_name.value.replace("\x00", "").splitlines())
            message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                                   filename=safe_name)  # fmt: skip
        headers = (
            f"From: {_encoded_word(name.value)} <hostile{number}@example.org>\r\n"
            f"Subject: {_encoded_word(name.value)}\r\n"
        )
        mail.add_raw_mail(headers.encode() + message.as_bytes(policy=policy.SMTP))
        world.note("email", name, *attached)


def hostile_world(fakes: RunningFakes) -> HostileWorld:
    """The people, a department owning one channel per platform (each aimed at `fakes`), a
    rule that sends every marked item to the moderation queue and tells the leads, and the
    corpus sent through every fake and polled in."""
    from channels_integrations.email.demo import demo_channel as mail_channel
    from channels_integrations.fake_platforms import demo_platforms

    department = Department.objects.create(name="Hostile", slug="hostile")
    agent = factories.make_user("hostile-agent", first_name="Kim")
    lead = factories.make_user("hostile-lead", first_name="Lou")
    admin = factories.make_user("hostile-admin", is_staff=True, is_superuser=True)
    factories.add_member(agent, department)
    factories.add_member(lead, department, role="lead")
    ModerationRule.objects.create(
        name="Everything marked goes to the queue",
        conditions={"regex": "zq[0-9]+zq"},
        actions={"queue": True, "notify_leads": True},
    )
    world = HostileWorld(department, agent, lead, admin, {}, fakes=fakes)
    for name, platform in {p.platform: p for p in demo_platforms()}.items():
        if name == "instagram":
            continue  # the same Graph API shapes as Facebook
        settings, credentials = platform.channel(fakes.base_url(name))
        if name == "telegram":
            settings["long_poll_seconds"] = 0
        world.channels[name] = _channel(name, f"{name} brand", settings, credentials, department)
    settings, credentials = mail_channel(fakes.mail.imap_port, fakes.mail.smtp_port)
    world.channels["email"] = _channel("email", "Support mail", settings, credentials, department)
    world.channels["mastodon"].cursor = {"min_id": "0"}
    world.channels["mastodon"].save(update_fields=["cursor"])
    for send in (_send_mastodon, _send_facebook, _send_x, _send_telegram, _send_youtube,
                 _send_mail):  # fmt: skip
        send(fakes, world)
    for channel in world.channels.values():
        _poll_until_caught_up(channel)
    world.skipped = [
        f"{s.channel_account.platform}: {s.reason}"
        for s in SkippedItem.objects.select_related("channel_account")
    ]
    return world


@pytest.fixture(scope="module")
def hostile(django_db_setup: None, django_db_blocker: Any) -> Iterator[HostileWorld]:
    """The corpus ingested once for the module, inside a transaction rolled back at its end
    (each test's own transaction nests in it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        fakes = start_fake_platforms(host="127.0.0.1", port=0, mention_interval=0)
        try:
            yield hostile_world(fakes)
        finally:
            fakes.stop()
            transaction.set_rollback(True)
