"""The e-mail connector against real servers: Dovecot over IMAP, aiosmtpd over SMTP."""

from __future__ import annotations

import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from channels_integrations.base import Capability, ReplyTarget
from channels_integrations.email.connector import EmailConnector
from channels_integrations.email.imap import FetchedMail
from channels_integrations.email.parsing import normalize_mail
from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    NotFound,
    Transient,
)
from tests.channels_integrations.email.conftest import (
    MailUser,
    make_connector,
    wait_until,
)

FIXTURES = Path(__file__).resolve().parents[3] / "channels_integrations" / "email" / "fixtures"
CUSTOMER = "jana.koehler@example.de"


def fixture(name: str) -> bytes:
    """A fixture as a mail server stores it: CRLF line ends."""
    return (FIXTURES / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def parse_fixture(name: str, *, own_address: str = "support@shop.example", **fetched):
    mail = FetchedMail(uid=fetched.pop("uid", 7), body=fixture(name), **fetched)
    return normalize_mail(mail, own_address=own_address, mailbox="INBOX", uidvalidity=1)


def mail(
    text: str,
    *,
    subject: str = "Wo bleibt meine Bestellung?",
    sender: str = f"Jana Köhler <{CUSTOMER}>",
    to: str = "support@shop.example",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    html: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Mar 2026 10:00:00 +0100"
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references or in_reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes(policy=policy.SMTP)


def target_for(connector: EmailConnector, user: MailUser, raw: bytes) -> ReplyTarget:
    """Deliver `raw` and poll it, as the inbox would before an agent replies to it."""
    user.deliver(raw)
    page = connector.fetch_page({})
    item = page.items[-1]
    return ReplyTarget(
        external_id=item.external_id,
        author_handle=item.author.handle,
        raw=item.raw,
        author_external_id=item.author.external_id,
        thread_key=item.thread_key,
    )


def parsed(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


# Normalization of the documented examples (RFC 5322 appendix A, RFC 2047 section 8).


def test_it_normalizes_the_rfc5322_example_message():
    item = parse_fixture("rfc5322_a1_1_simple.eml")
    assert item.external_id == "<1234@local.machine.example>"
    assert item.thread_key == "<1234@local.machine.example>"
    assert item.parent_external_id == ""
    assert item.kind == "email"
    assert item.author.external_id == "jdoe@machine.example"
    assert item.author.display_name == "John Doe"
    assert item.text == 'This is a message just to say hello.\nSo, "Hello".'
    assert item.post_text == "Saying Hello"
    # Without an arrival time (INTERNALDATE) the Date header is used.
    assert item.created_at.isoformat() == "1997-11-21T15:55:06+00:00"
    assert not item.from_self and item.state == "visible"
    assert item.raw["headers"]["Message-ID"] == "<1234@local.machine.example>"
    assert "This is a message" not in str(item.raw)  # headers only, never the body


def test_it_threads_replies_by_references_root_and_in_reply_to_parent():
    reply = parse_fixture("rfc5322_a2_reply.eml")
    assert reply.thread_key == "<1234@local.machine.example>"
    assert reply.parent_external_id == "<1234@local.machine.example>"
    assert reply.raw["headers"]["Reply-To"] == (
        '"Mary Smith: Personal Account" <smith@home.example>'
    )
    again = parse_fixture("rfc5322_a2_reply_to_reply.eml")
    assert again.thread_key == "<1234@local.machine.example>"
    assert again.parent_external_id == "<3456@example.net>"


def test_it_prefers_the_arrival_time_to_the_date_header():
    arrived = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    item = parse_fixture("rfc5322_a1_1_simple.eml", internaldate=arrived, flags=("\\Seen",))
    assert item.created_at == arrived
    assert item.raw["flags"] == ["\\Seen"]


def test_it_decodes_rfc2047_encoded_words():
    item = parse_fixture("rfc2047_encoded_words.eml")
    assert item.post_text == "If you can read this you understand the example."
    assert item.author.display_name == "Keith Moore"
    assert item.author.external_id == "moore@cs.utk.edu"


def test_it_prefers_plain_text_and_lists_attachments_by_name_only():
    item = parse_fixture("multipart_alternative_attachment.eml")
    assert item.text.startswith("Guten Tag,\n\nich warte seit drei Wochen auf die Rückerstattung")
    assert "<b>" not in item.text
    assert item.attachments == (
        {"name": "Rechnung März.pdf", "url": "", "type": "application/pdf"},
    )
    assert item.author.display_name == "Jürgen Bäcker"
    assert item.post_text == "Rückerstattung für Bestellung 4711"
    assert item.language == "de-DE"
    assert "JVBERi0" not in str(item.raw)


def test_it_reads_html_only_mail_as_text_without_scripts_or_styles():
    item = parse_fixture("html_only_latin1.eml")
    assert item.text == "Liefern Sie auch nach Österreich?\n\nFreundliche Grüße\nUte Grönemeyer"
    assert item.author.display_name == "Grönemeyer, Ute"


def test_it_survives_an_unknown_charset():
    item = parse_fixture("unknown_charset.eml")
    assert item.text == "Der Artikel kam beschädigt an. Grüße"


def test_it_gives_mail_without_message_id_a_stable_content_hash():
    first = parse_fixture("no_message_id.eml", uid=3)
    second = parse_fixture("no_message_id.eml", uid=99)
    assert first.external_id == second.external_id
    assert first.external_id.endswith("@no-message-id.invalid>")
    assert len(first.external_id) <= 200


def test_it_keeps_long_html_and_emoji_texts_whole():
    long_text = "Sehr geehrte Damen und Herren, 🙂 " + "x" * 10_000
    item = normalize_mail(
        FetchedMail(uid=1, body=mail(long_text, message_id="<long@example.de>")),
        own_address="support@shop.example",
        mailbox="INBOX",
        uidvalidity=1,
    )
    assert item.text == long_text
    html_only = EmailMessage()
    html_only["From"] = CUSTOMER
    html_only["Message-ID"] = "<h@example.de>"
    html_only["Date"] = "Mon, 23 Mar 2026 10:00:00 +0100"
    html_only.set_content("<p>Hallo <b>Welt</b> 🌍</p><p>" + "ä" * 10_000 + "</p>", subtype="html")
    html = normalize_mail(
        FetchedMail(uid=2, body=html_only.as_bytes(policy=policy.SMTP)),
        own_address="support@shop.example",
        mailbox="INBOX",
        uidvalidity=1,
    )
    assert html.text == "Hallo Welt 🌍\n\n" + "ä" * 10_000


def test_it_marks_mail_from_our_own_address_as_ours():
    item = parse_fixture("rfc5322_a1_1_simple.eml", own_address="JDoe@machine.example")
    assert item.from_self


def test_it_hashes_message_ids_too_long_to_store_the_same_way_everywhere():
    long_id = "<" + "a" * 250 + "@example.de>"
    parent = normalize_mail(
        FetchedMail(uid=1, body=mail("one", message_id=long_id)),
        own_address="support@shop.example",
        mailbox="INBOX",
        uidvalidity=1,
    )
    child = normalize_mail(
        FetchedMail(uid=2, body=mail("two", message_id="<c@example.de>", in_reply_to=long_id)),
        own_address="support@shop.example",
        mailbox="INBOX",
        uidvalidity=1,
    )
    assert len(parent.external_id) <= 200
    assert child.parent_external_id == parent.external_id == child.thread_key


# Polling Dovecot.


def test_it_takes_only_the_last_day_on_the_first_poll(mail_user):
    now = datetime.now(UTC)
    mail_user.deliver(mail("old", message_id="<old@example.de>"), when=now - timedelta(days=3))
    mail_user.deliver(mail("new", message_id="<new@example.de>"), when=now)
    page = make_connector(mail_user).fetch_page({})
    assert [item.external_id for item in page.items] == ["<new@example.de>"]
    assert page.caught_up
    assert set(page.cursor) == {"uidvalidity", "last_uid", "last_date"}
    assert page.cursor["last_uid"] == 2


def test_it_backfills_from_the_chosen_date(mail_user):
    now = datetime.now(UTC)
    for days, name in ((10, "ancient"), (3, "recent"), (0, "today")):
        mail_user.deliver(
            mail(name, message_id=f"<{name}@example.de>"), when=now - timedelta(days=days)
        )
    connector = make_connector(mail_user)
    cursor = connector.initial_cursor(backfill_since=now - timedelta(days=5))
    page = connector.fetch_page(cursor)
    assert [item.text for item in page.items] == ["recent", "today"]
    assert "since" not in page.cursor


def test_it_polls_incrementally_with_the_uid_cursor(mail_user):
    connector = make_connector(mail_user)
    mail_user.deliver(mail("first", message_id="<1@example.de>"))
    page = connector.fetch_page({})
    assert [item.text for item in page.items] == ["first"]

    # UID n:* always matches the last message, even when n is past it: nothing new here.
    again = connector.fetch_page(page.cursor)
    assert again.items == [] and again.caught_up and again.cursor == page.cursor

    mail_user.deliver(mail("second", message_id="<2@example.de>"))
    mail_user.deliver(mail("third", message_id="<3@example.de>"))
    page = connector.fetch_page(page.cursor)
    assert [item.text for item in page.items] == ["second", "third"]
    assert page.cursor["last_uid"] == 3 and page.caught_up


def test_it_pages_in_bounded_batches(mail_user):
    connector = make_connector(mail_user)
    first = connector.fetch_page({})
    assert first.items == [] and first.caught_up
    client = mail_user.imap()
    try:
        for n in range(55):
            client.append('"INBOX"', None, None, mail(f"mail {n}", message_id=f"<m{n}@example.de>"))
    finally:
        client.logout()
    page = connector.fetch_page(first.cursor)
    assert len(page.items) == 50 and not page.caught_up
    rest = connector.fetch_page(page.cursor)
    assert [item.text for item in rest.items] == [f"mail {n}" for n in range(50, 55)]
    assert rest.caught_up


def test_it_skips_an_unreadable_mail_and_keeps_the_rest(mail_user):
    connector = make_connector(mail_user)
    cursor = connector.fetch_page({}).cursor
    mail_user.deliver(mail("before", message_id="<b@example.de>"))
    mail_user.deliver(b"Subject: no sender at all\r\n\r\nWho wrote this?\r\n")
    mail_user.deliver(mail("after", message_id="<a@example.de>"))
    page = connector.fetch_page(cursor)
    assert [item.text for item in page.items] == ["before", "after"]
    [skipped] = page.skipped
    assert skipped.external_id.endswith(":2")
    assert "UID 2" in skipped.reason and "sender" in skipped.reason
    assert page.cursor["last_uid"] == 3


def test_it_reports_mail_flagged_deleted_as_deleted(mail_user):
    connector = make_connector(mail_user)
    cursor = connector.fetch_page({}).cursor
    mail_user.deliver(mail("weg damit", message_id="<d@example.de>"))
    client = mail_user.imap()
    try:
        client.select('"INBOX"')
        client.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
    finally:
        client.logout()
    [item] = connector.fetch_page(cursor).items
    assert item.state == "deleted"


def test_it_polls_another_mailbox_and_keeps_ids_across_a_uidvalidity_change(mail_user):
    mail_user.create("Support")
    raws = [mail(f"mail {n}", message_id=f"<s{n}@example.de>") for n in range(2)]
    for raw in raws:
        mail_user.deliver(raw, "Support")
    connector = make_connector(mail_user, mailbox="Support")
    page = connector.fetch_page({})
    assert [item.external_id for item in page.items] == ["<s0@example.de>", "<s1@example.de>"]

    mail_user.delete("Support")
    mail_user.create("Support")
    for raw in [*raws, mail("new", message_id="<s2@example.de>")]:
        mail_user.deliver(raw, "Support")
    resynced = connector.fetch_page(page.cursor)
    assert resynced.cursor["uidvalidity"] != page.cursor["uidvalidity"]
    # The UIDs start over; the ids do not, so the inbox recognizes the first two.
    assert [item.external_id for item in resynced.items] == [
        "<s0@example.de>",
        "<s1@example.de>",
        "<s2@example.de>",
    ]


def test_a_missing_mailbox_is_not_found(mail_user):
    with pytest.raises(NotFound, match="Nope"):
        make_connector(mail_user, mailbox="Nope").fetch_page({})


def test_a_wrong_password_is_an_expired_authorization(mail_user):
    with pytest.raises(AuthExpired, match="AUTHENTICATIONFAILED"):
        make_connector(mail_user, password="wrong").fetch_page({})


def test_an_unreachable_server_is_transient(mail_user):
    connector = make_connector(mail_user)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    connector.connection.settings["imap_port"] = port
    with pytest.raises(Transient, match="Could not talk to the IMAP server"):
        connector.fetch_page({})


def test_a_server_that_never_answers_is_transient(mail_user, settings):
    settings.PLATFORM_CONNECT_TIMEOUT = 0.3
    settings.PLATFORM_READ_TIMEOUT = 0.3
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    connector = make_connector(mail_user)
    connector.connection.settings["imap_port"] = silent.getsockname()[1]
    try:
        with pytest.raises(Transient, match="did not answer in time"):
            connector.fetch_page({})
    finally:
        silent.close()


def test_bad_settings_are_invalid_requests(mail_user):
    connector = make_connector(mail_user)
    connector.connection.settings["imap_security"] = "tls-please"
    with pytest.raises(InvalidRequest, match="imap_security"):
        connector.fetch_page({})


# Replies over SMTP.


def test_it_replies_with_exact_threading_headers_and_files_a_copy_in_sent(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server)
    target = target_for(connector, mail_user, fixture("rfc5322_a2_reply.eml"))

    sent = connector.reply(target=target, text="Danke, wir kümmern uns!", idempotency_key="k-1")

    domain = mail_user.address.split("@")[1]
    assert sent.external_id == f"<k-1@{domain}>"
    [received] = smtp_server.mails()
    assert received.mail_from == mail_user.address
    assert received.rcpt_tos == ["smith@home.example"]  # Reply-To wins over From
    message = parsed(received.data)
    assert message["From"] == f"Shop Support <{mail_user.address}>"
    assert message["To"] == '"Mary Smith: Personal Account" <smith@home.example>'
    assert message["Subject"] == "Re: Saying Hello"  # no "Re: Re:"
    assert message["Message-ID"] == f"<k-1@{domain}>"
    assert message["In-Reply-To"] == "<3456@example.net>"
    assert message["References"] == "<1234@local.machine.example> <3456@example.net>"
    assert message.get_content().strip() == "Danke, wir kümmern uns!"

    [copy] = mail_user.messages("Sent")
    assert parsed(copy)["Message-ID"] == f"<k-1@{domain}>"
    assert "Sent" in mail_user.mailboxes()


def test_it_builds_references_from_in_reply_to_when_the_target_has_none(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server)
    raw = mail("Hallo", message_id="<child@example.de>", in_reply_to="<root@example.de>")
    raw = raw.replace(b"References: <root@example.de>\r\n", b"")
    target = target_for(connector, mail_user, raw)
    connector.reply(target=target, text="Antwort", idempotency_key="k-2")
    message = parsed(smtp_server.mails()[0].data)
    assert message["Subject"] == "Re: Wo bleibt meine Bestellung?"
    assert message["References"] == "<root@example.de> <child@example.de>"


def test_a_refused_recipient_is_an_invalid_request_with_the_server_reason(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server)
    target = target_for(connector, mail_user, mail("Hallo", message_id="<r@example.de>"))
    smtp_server.fail_next("RCPT", "550 5.1.1 <jana.koehler@example.de>: User unknown")
    reason = re.escape("550 5.1.1 <jana.koehler@example.de>: User unknown")
    with pytest.raises(InvalidRequest, match=reason) as caught:
        connector.reply(target=target, text="Antwort", idempotency_key="k-3")
    assert caught.value.permanent
    assert smtp_server.mails() == []
    assert mail_user.messages("Sent") == []


def test_a_temporary_smtp_refusal_is_transient(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server)
    target = target_for(connector, mail_user, mail("Hallo", message_id="<t@example.de>"))
    smtp_server.fail_next("DATA", "451 4.3.0 Temporary server error, please try again later")
    with pytest.raises(Transient, match=r"451 4\.3\.0") as caught:
        connector.reply(target=target, text="Antwort", idempotency_key="k-4")
    assert not caught.value.permanent


def test_a_refused_smtp_login_is_an_expired_authorization(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server, smtp_password="revoked")
    target = target_for(connector, mail_user, mail("Hallo", message_id="<l@example.de>"))
    with pytest.raises(AuthExpired, match="535"):
        connector.reply(target=target, text="Antwort", idempotency_key="k-5")


def test_it_refuses_replies_that_are_empty_or_too_long(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server)
    target = target_for(connector, mail_user, mail("Hallo", message_id="<e@example.de>"))
    with pytest.raises(InvalidRequest, match="empty"):
        connector.reply(target=target, text="  ", idempotency_key="k-6")
    with pytest.raises(InvalidRequest, match="100000"):
        connector.reply(target=target, text="x" * 100_001, idempotency_key="k-7")
    assert smtp_server.mails() == []


def test_it_cannot_reply_to_delivery_reports_or_mail_without_a_sender():
    bounce = ReplyTarget(
        external_id="<b@mx.example>",
        author_handle="mailer-daemon@mx.example",
        raw={"headers": {"From": "Mail Delivery System <MAILER-DAEMON@mx.example>"}},
    )
    assert "does not take replies" in EmailConnector.unavailable_reason(Capability.REPLY, bounce)
    nobody = ReplyTarget(external_id="<n@x>", author_handle="", raw={"headers": {}})
    assert "no address" in EmailConnector.unavailable_reason(Capability.REPLY, nobody)
    person = ReplyTarget(external_id="<p@x>", author_handle="", raw={"headers": {"From": CUSTOMER}})
    assert EmailConnector.unavailable_reason(Capability.REPLY, person) == ""
    assert EmailConnector.unavailable_reason(Capability.HIDE, person) != ""


# Reconciliation after an ambiguous failure.


def test_after_a_timeout_it_finds_the_one_reply_and_does_not_send_it_twice(
    mail_user, smtp_server, settings
):
    connector = make_connector(mail_user, smtp_server)
    target = target_for(connector, mail_user, mail("Hallo?", message_id="<q@example.de>"))
    # The provider files submitted mail in Sent itself (as Gmail does), then answers late.
    smtp_server.file_in_sent = lambda data: mail_user.deliver(data, "Sent")
    smtp_server.stall_seconds = 2
    settings.PLATFORM_READ_TIMEOUT = 0.5
    started = datetime.now(UTC)

    with pytest.raises(Transient):
        connector.reply(target=target, text="Wir sind dran.", idempotency_key="k-8")

    wait_until(lambda: mail_user.messages("Sent"), what="the provider's copy in Sent")
    found = connector.find_sent_reply(target=target, text="Wir sind dran.", not_before=started)
    domain = mail_user.address.split("@")[1]
    assert found is not None and found.external_id == f"<k-8@{domain}>"

    # The outbox's retry carries the same key: nothing goes out a second time.
    smtp_server.stall_seconds = 0
    again = connector.reply(target=target, text="Wir sind dran.", idempotency_key="k-8")
    assert again.external_id == found.external_id
    assert len(smtp_server.mails()) == 1
    assert len(mail_user.messages("Sent")) == 1


def test_it_finds_no_reply_when_none_was_sent(mail_user, smtp_server):
    connector = make_connector(mail_user, smtp_server)
    target = target_for(connector, mail_user, mail("Hallo?", message_id="<none@example.de>"))
    other = datetime.now(UTC) - timedelta(minutes=1)
    assert connector.find_sent_reply(target=target, text="Wir sind dran.", not_before=other) is None
    connector.reply(target=target, text="Something else", idempotency_key="k-9")
    assert connector.find_sent_reply(target=target, text="Wir sind dran.", not_before=other) is None
    found = connector.find_sent_reply(target=target, text="Something  else", not_before=other)
    assert found is not None


def test_it_cannot_reconcile_replies_to_mail_without_message_id(mail_user):
    from channels_integrations.base import CannotReconcile

    target = ReplyTarget(
        external_id="<abc@no-message-id.invalid>",
        author_handle=CUSTOMER,
        raw={"headers": {"From": CUSTOMER}},
    )
    with pytest.raises(CannotReconcile):
        make_connector(mail_user).find_sent_reply(
            target=target, text="x", not_before=datetime.now(UTC)
        )


# The connection test.


def test_the_connection_test_passes_with_good_settings(mail_user, smtp_server):
    checks = make_connector(mail_user, smtp_server).test_connection()
    assert [(check.name, check.ok) for check in checks] == [
        ("Settings", True),
        ("IMAP server", True),
        ("IMAP login", True),
        ("Mailbox", True),
        ("Sent folder", True),
        ("SMTP server", True),
        ("SMTP login", True),
    ]
    assert "created with the first reply" in checks[4].detail


def test_the_connection_test_reports_a_revoked_password_without_raising(
    mail_user, smtp_server, dovecot_server
):
    connector = make_connector(mail_user, smtp_server)
    dovecot_server.set_password(mail_user, "changed")
    checks = {check.name: check for check in connector.test_connection()}
    assert checks["IMAP server"].ok
    assert not checks["IMAP login"].ok
    assert "refused the user name or password" in checks["IMAP login"].detail
    assert "Mailbox" not in checks
    assert checks["SMTP login"].ok  # the SMTP server still has the old password
    assert "correct-horse" not in str(checks)


def test_the_connection_test_reports_broken_settings(mail_user):
    connector = make_connector(mail_user)
    connector.connection.settings["address"] = "not an address"
    [check] = connector.test_connection()
    assert check.name == "Settings" and not check.ok and "not an e-mail address" in check.detail


def test_the_connection_test_reports_an_unreachable_smtp_server(mail_user):
    checks = make_connector(mail_user).test_connection()  # SMTP port 9: nothing listens
    assert checks[-1].name == "SMTP server" and not checks[-1].ok
    assert all(check.ok for check in checks[:-1])


def test_concurrent_polls_each_get_their_own_connection(mail_user):
    mail_user.deliver(mail("one", message_id="<c1@example.de>"))
    connector = make_connector(mail_user)
    results: list[int] = []
    errors: list[Exception] = []

    def poll() -> None:
        try:
            results.append(len(connector.fetch_page({}).items))
        except ConnectorError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and results == [1, 1, 1, 1]
