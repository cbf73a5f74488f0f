"""The demo's fake mail server: its IMAP subset, its SMTP side, its admin app, and the connector
against it (so the demo cannot rot). The protocol truth is Dovecot's, in the connector tests."""

from __future__ import annotations

import imaplib
import smtplib
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from channels_integrations.base import ReplyTarget
from channels_integrations.email.demo import SupportMailGenerator, demo_channel
from channels_integrations.email.fake import DEMO_ADDRESS, DEMO_PASSWORD, FakeMailServer
from channels_integrations.errors import AuthExpired, Transient
from channels_integrations.fake_server import FakeServer
from channels_integrations.models import ChannelAccount, Platform
from channels_integrations.polling import poll_channel
from inbox.models import Conversation, Message
from tests.channels_integrations.email.conftest import fake_connector, wait_until


def login(fake: FakeMailServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", fake.imap_port, timeout=5)
    client.login(DEMO_ADDRESS, DEMO_PASSWORD)
    return client


def target(fake: FakeMailServer, **mail: object) -> ReplyTarget:
    fake.add_mail(
        str(mail.pop("text", "Wo bleibt meine Bestellung?")),
        from_address="jana@example.de",
        from_name="Jana Köhler",
        **mail,  # type: ignore[arg-type]
    )
    item = fake_connector(fake).fetch_page({}).items[-1]
    return ReplyTarget(external_id=item.external_id, author_handle=item.author.handle, raw=item.raw)


# The IMAP subset, spoken to with plain imaplib.


def test_it_speaks_the_imap_subset_imaplib_needs(fake_mail):
    client = login(fake_mail)
    try:
        assert "IMAP4REV1" in client.capabilities
        typ, _ = client.append(
            '"INBOX"',
            "(\\Seen)",
            imaplib.Time2Internaldate(datetime(2026, 3, 20, 8, 0, tzinfo=UTC)),
            b"From: a@example.de\r\nSubject: alt\r\nMessage-ID: <old@x>\r\n\r\nalt\r\n",
        )
        assert typ == "OK"
        fake_mail.add_mail("neu", message_id="<new@example.de>")
        typ, data = client.select('"INBOX"', readonly=True)
        assert (typ, data) == ("OK", [b"2"])
        assert client.response("UIDVALIDITY")[1][0].isdigit()
        assert client.response("UIDNEXT")[1] == [b"3"]
        assert client.uid("SEARCH", "UID", "5:*") == ("OK", [b"2"])  # n:* matches the last
        assert client.uid("SEARCH", "SINCE", "21-Mar-2026") == ("OK", [b"2"])
        assert client.uid("SEARCH", "HEADER", "Message-ID", '"<old@x>"') == ("OK", [b"1"])
        typ, data = client.uid("FETCH", "1", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        meta, body = data[0]
        assert b"UID 1" in meta and b"FLAGS (\\Seen)" in meta
        assert b'INTERNALDATE "20-Mar-2026 08:00:00 +0000"' in meta
        assert body.endswith(b"alt\r\n")
        assert client.create('"Archiv"')[0] == "OK"
        assert client.create('"Archiv"')[1] == [b"[ALREADYEXISTS] Mailbox already exists"]
        _, listing = client.list('""', '"*"')
        assert b'(\\HasNoChildren \\Sent) "/" "Sent"' in listing
        assert client.select('"Nope"')[0] == "NO"
    finally:
        client.logout()


def test_it_refuses_a_wrong_password_like_dovecot(fake_mail):
    client = imaplib.IMAP4("127.0.0.1", fake_mail.imap_port, timeout=5)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(DEMO_ADDRESS, "wrong")


def test_its_smtp_files_accepted_mail_and_refuses_foreign_senders(fake_mail):
    with smtplib.SMTP("127.0.0.1", fake_mail.smtp_port, timeout=5) as smtp:
        smtp.login(DEMO_ADDRESS, DEMO_PASSWORD)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("someone@else.example", ["jana@example.de"], b"Subject: x\r\n\r\nx")
        assert refused.value.smtp_code == 553
        smtp.sendmail(DEMO_ADDRESS, ["jana@example.de"], b"Subject: Hallo\r\n\r\nText\r\n")
    [sent] = fake_mail.sent_mails()
    assert sent["rcpt_tos"] == ["jana@example.de"] and sent["subject"] == "Hallo"
    assert len(fake_mail.mailbox_messages("Sent")) == 1


# The connector against the fake: what the demo does.


def test_the_connector_polls_and_replies_through_the_fake(fake_mail):
    generator = SupportMailGenerator(fake_mail, seed=7)
    emitted = [generator.emit() for _ in range(3)]
    connector = fake_connector(fake_mail)
    assert all(check.ok for check in connector.test_connection())

    page = connector.fetch_page({})
    assert [item.external_id for item in page.items] == [e["message_id"] for e in emitted]
    item = page.items[0]
    reply_to = ReplyTarget(
        external_id=item.external_id, author_handle=item.author.handle, raw=item.raw
    )
    sent = connector.reply(target=reply_to, text="Wir kümmern uns darum.", idempotency_key="d-1")

    [mail] = fake_mail.sent_mails()
    assert mail["message_id"] == sent.external_id == "<d-1@brand.example>"
    assert mail["in_reply_to"] == item.external_id
    assert mail["text"] == "Wir kümmern uns darum."
    assert mail["rcpt_tos"] == [item.author.external_id]
    # The fake files submitted mail in Sent itself; the connector sees that and adds no copy.
    assert len(fake_mail.mailbox_messages("Sent")) == 1
    found = connector.find_sent_reply(
        target=reply_to,
        text="Wir kümmern uns darum.",
        not_before=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert found is not None and found.external_id == sent.external_id
    assert connector.fetch_page(page.cursor).items == []


def test_an_ambiguous_smtp_timeout_is_reconciled_without_a_second_mail(fake_mail, settings):
    reply_to = target(fake_mail)
    connector = fake_connector(fake_mail)
    fake_mail.accept_then_stall(2)
    settings.PLATFORM_READ_TIMEOUT = 0.5
    started = datetime.now(UTC)
    with pytest.raises(Transient):
        connector.reply(target=reply_to, text="Kommt morgen.", idempotency_key="d-2")
    assert connector.find_sent_reply(target=reply_to, text="Kommt morgen.", not_before=started)
    again = connector.reply(target=reply_to, text="Kommt morgen.", idempotency_key="d-2")
    assert again.external_id == "<d-2@brand.example>"
    assert len(fake_mail.sent_mails()) == 1


@pytest.mark.parametrize(
    ("protocol", "command", "status", "error"),
    [
        ("imap", "LOGIN", 401, AuthExpired),
        ("imap", "EXAMINE", 503, Transient),
        ("imap", "FETCH", 500, Transient),
        ("smtp", "DATA", 451, Transient),
    ],
)
def test_injected_faults_map_to_the_taxonomy(fake_mail, protocol, command, status, error):
    reply_to = target(fake_mail)
    connector = fake_connector(fake_mail)
    fake_mail.fail_next(status, path_prefix=protocol, method=command)
    with pytest.raises(error):
        if protocol == "smtp":
            connector.reply(target=reply_to, text="Antwort", idempotency_key="d-3")
        else:
            connector.fetch_page({})


def test_a_changed_password_is_an_expired_authorization(fake_mail):
    fake_mail.set_password(DEMO_ADDRESS, "rotated")
    with pytest.raises(AuthExpired):
        fake_connector(fake_mail).fetch_page({})
    checks = {check.name: check.ok for check in fake_connector(fake_mail).test_connection()}
    assert checks["IMAP login"] is False and "SMTP login" in checks and not checks["SMTP login"]


def test_a_recreated_mailbox_keeps_the_ids(fake_mail):
    fake_mail.add_mail("eins", message_id="<1@example.de>")
    connector = fake_connector(fake_mail)
    page = connector.fetch_page({})
    raws = fake_mail.raw_messages("INBOX")
    fake_mail.recreate_mailbox("INBOX")
    for raw in raws:
        fake_mail.add_raw_mail(raw)
    fake_mail.add_mail("zwei", message_id="<2@example.de>")
    resynced = connector.fetch_page(page.cursor)
    assert resynced.cursor["uidvalidity"] != page.cursor["uidvalidity"]
    assert [item.external_id for item in resynced.items] == ["<1@example.de>", "<2@example.de>"]


@pytest.mark.django_db
def test_a_demo_channel_polls_through_the_engine(fake_mail):
    SupportMailGenerator(fake_mail, seed=3).emit()
    settings, credentials = demo_channel(fake_mail.imap_port, fake_mail.smtp_port)
    channel = ChannelAccount(platform=Platform.EMAIL, name="Demo support", settings=settings)
    channel.set_credentials(credentials)
    channel.save()
    outcome = poll_channel(channel.pk)
    assert outcome.error == "" and outcome.new_messages == 1
    conversation = Conversation.objects.get(channel_account=channel)
    assert conversation.kind == "email" and conversation.post_text
    assert Message.objects.filter(conversation=conversation).count() == 1


# The demo generator.


def test_the_generator_writes_german_and_english_mail_and_answers_into_threads(fake_mail):
    generator = SupportMailGenerator(fake_mail, seed=11, follow_up_chance=1.0)
    emitted = [generator.emit() for _ in range(40)]
    follow_ups = [e for e in emitted if e["in_reply_to"]]
    assert follow_ups, "some mails answer an earlier thread"
    known = {e["message_id"] for e in emitted}
    assert all(e["in_reply_to"] in known for e in follow_ups)
    raws = fake_mail.raw_messages("INBOX")
    texts = [
        BytesParser(policy=policy.default).parsebytes(raw).get_body().get_content() for raw in raws
    ]
    assert any("Viele Grüße" in text or "Hallo" in text for text in texts)
    assert any("Hi" in text or "Thanks" in text or "Hello" in text for text in texts)
    subjects = [mail["subject"] for mail in fake_mail.mailbox_messages("INBOX")]
    assert any(subject.startswith(("AW: ", "Re: ")) for subject in subjects)
    assert not any(subject.startswith(("AW: AW:", "Re: Re:")) for subject in subjects)


def test_the_generator_runs_in_the_background_and_stops(fake_mail):
    generator = SupportMailGenerator(fake_mail, interval=0.05, seed=5).start()
    try:
        wait_until(lambda: len(fake_mail.mailbox_messages("INBOX")) >= 2, what="demo mail")
    finally:
        generator.stop()
    assert not generator.running


def test_demo_channel_points_at_the_fake():
    settings, credentials = demo_channel(1143, 1025)
    assert settings["imap_port"] == 1143 and settings["smtp_port"] == 1025
    assert settings["address"] == credentials["username"] == DEMO_ADDRESS
    assert credentials["password"] == DEMO_PASSWORD


# The admin app, mounted under a path prefix as the demo runner may do.


@pytest.fixture
def admin_url(fake_mail):
    def not_found(environ, start_response):
        return Response("no such platform", 404)(environ, start_response)

    app = DispatcherMiddleware(not_found, {"/mail": fake_mail.wsgi_app})
    with FakeServer(app) as server:
        yield server.url + "/mail"


def test_the_admin_page_delivers_mail_and_shows_what_was_sent(fake_mail, admin_url):
    response = requests.post(
        admin_url + "/__admin/mail",
        data={
            "from_address": "tom@example.com",
            "from_name": "Tom",
            "subject": "Hi",
            "text": "Hello <b>there</b>",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/mail/__admin/"
    reply_to = ReplyTarget(
        external_id=fake_mail.mailbox_messages()[0]["message_id"],
        author_handle="tom@example.com",
        raw={"headers": {"From": "Tom <tom@example.com>", "Subject": "Hi"}},
    )
    fake_connector(fake_mail).reply(target=reply_to, text="Answer <script>", idempotency_key="a-1")

    page = requests.get(admin_url + "/__admin/", timeout=5)
    assert page.status_code == 200
    assert 'action="mail"' in page.text and 'action="fail-next"' in page.text
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page.text
    assert "Answer &lt;script&gt;" in page.text
    assert DEMO_PASSWORD not in page.text


def test_the_admin_api_seeds_injects_faults_lists_calls_and_resets(fake_mail, admin_url):
    seeded = requests.post(
        admin_url + "/__admin/seed",
        json=[
            {"from": "jana@example.de", "name": "Jana", "subject": "Frage", "text": "Hallo"},
            {"raw": "From: x@example.de\r\nSubject: roh\r\n\r\nroh\r\n"},
        ],
        timeout=5,
    )
    assert seeded.status_code == 201
    assert len(fake_mail.mailbox_messages()) == 2
    assert (
        requests.post(admin_url + "/__admin/seed", json={"text": 1}, timeout=5).status_code == 400
    )

    queued = requests.post(
        admin_url + "/__admin/fail-next",
        json={"status": 401, "path_prefix": "imap", "method": "LOGIN"},
        timeout=5,
    )
    assert queued.status_code == 201
    with pytest.raises(AuthExpired):
        fake_connector(fake_mail).fetch_page({})
    calls = requests.get(admin_url + "/__admin/calls", timeout=5).json()
    assert [call["command"] for call in calls][:2] == ["CAPABILITY", "LOGIN"]
    assert all(DEMO_PASSWORD not in call["args"] for call in calls)
    assert requests.post(admin_url + "/__admin/reset", timeout=5).json() == {"reset": True}
    assert fake_mail.calls() == []
    api = requests.get(admin_url + "/api/anything", timeout=5)
    assert api.status_code == 404 and "mail server" in api.json()["error"]
    assert requests.get(admin_url + "/__admin/sent", timeout=5).json() == []
