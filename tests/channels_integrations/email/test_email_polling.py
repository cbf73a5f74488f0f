"""E-mail through the real poll engine: Dovecot → connector → ingest → conversations."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest

from channels_integrations.models import ChannelAccount, Platform
from channels_integrations.polling import poll_channel
from inbox.models import Conversation, Direction, Message
from tests.channels_integrations.email.conftest import MailUser, channel_settings

pytestmark = pytest.mark.django_db


def make_channel(user: MailUser, *, mailbox: str = "INBOX") -> ChannelAccount:
    settings, credentials = channel_settings(user, mailbox=mailbox)
    channel = ChannelAccount(platform=Platform.EMAIL, name="Support mailbox", settings=settings)
    channel.set_credentials(credentials)
    channel.save()
    return channel


def mail(
    text: str,
    *,
    message_id: str,
    sender: str,
    subject: str,
    in_reply_to: str = "",
    references: str = "",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@shop.example"
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references or in_reply_to:
        message["References"] = references or in_reply_to
    message.set_content(text)
    return message.as_bytes(policy=policy.SMTP)


def test_it_groups_mail_into_conversations_by_thread(mail_user):
    jana, tom = "Jana Köhler <jana@example.de>", "Tom Miller <tom@example.com>"
    mail_user.deliver(
        mail("Wo ist mein Paket?", message_id="<a@example.de>", sender=jana, subject="Paket 4711")
    )
    mail_user.deliver(
        mail(
            "Nachtrag: Sendungsnummer 123.",
            message_id="<b@example.de>",
            sender=jana,
            subject="AW: Paket 4711",
            in_reply_to="<a@example.de>",
        )
    )
    mail_user.deliver(
        mail("Opening hours?", message_id="<c@example.com>", sender=tom, subject="Hours")
    )
    # Two answers to a mail the inbox never saw (sent from another tool) share its root.
    for n in (1, 2):
        mail_user.deliver(
            mail(
                f"Follow-up {n}",
                message_id=f"<d{n}@example.com>",
                sender=tom,
                subject="Re: Your invoice",
                in_reply_to="<invoice@billing.shop.example>",
            )
        )
    # Our own reply, seen in the mailbox (a colleague copied the support address).
    mail_user.deliver(
        mail(
            "Ihr Paket ist unterwegs.",
            message_id="<ours@shop.example>",
            sender=f"Shop Support <{mail_user.address}>",
            subject="Re: Paket 4711",
            in_reply_to="<b@example.de>",
            references="<a@example.de> <b@example.de>",
        )
    )
    channel = make_channel(mail_user)

    outcome = poll_channel(channel.pk)

    assert outcome.error == "" and outcome.caught_up
    assert outcome.new_messages == 6
    assert Conversation.objects.filter(channel_account=channel).count() == 3
    parcel = Conversation.objects.get(channel_account=channel, thread_key="<a@example.de>")
    assert parcel.kind == "email"
    assert parcel.post_text == "Paket 4711"
    assert parcel.contact is not None and parcel.contact.handle == "jana@example.de"
    assert parcel.contact.display_name == "Jana Köhler"
    assert list(parcel.messages.values_list("external_id", "direction")) == [
        ("<a@example.de>", Direction.INBOUND),
        ("<b@example.de>", Direction.INBOUND),
        ("<ours@shop.example>", Direction.OUTBOUND),
    ]
    invoice = Conversation.objects.get(
        channel_account=channel, thread_key="<invoice@billing.shop.example>"
    )
    assert invoice.messages.count() == 2
    channel.refresh_from_db()
    assert set(channel.cursor) == {"uidvalidity", "last_uid", "last_date"}
    assert channel.cursor["last_uid"] == 6

    mail_user.deliver(
        mail(
            "Danke!",
            message_id="<e@example.de>",
            sender=jana,
            subject="AW: Paket 4711",
            in_reply_to="<ours@shop.example>",
            references="<a@example.de> <b@example.de> <ours@shop.example>",
        )
    )
    second = poll_channel(channel.pk)
    assert second.new_messages == 1
    assert parcel.messages.count() == 4


def test_a_uidvalidity_change_resyncs_without_duplicates(mail_user):
    mail_user.create("Support")
    raws = [
        mail(f"Frage {n}", message_id=f"<q{n}@example.de>", sender="k@example.de", subject="Frage")
        for n in range(3)
    ]
    for raw in raws:
        mail_user.deliver(raw, "Support")
    channel = make_channel(mail_user, mailbox="Support")
    assert poll_channel(channel.pk).new_messages == 3
    channel.refresh_from_db()
    before = channel.cursor

    # The mailbox is rebuilt (restored from a backup, migrated): new UIDVALIDITY, new UIDs.
    mail_user.delete("Support")
    mail_user.create("Support")
    for raw in raws:
        mail_user.deliver(raw, "Support")
    mail_user.deliver(
        mail("Neue Frage", message_id="<new@example.de>", sender="k@example.de", subject="Neu"),
        "Support",
    )
    outcome = poll_channel(channel.pk)

    channel.refresh_from_db()
    assert outcome.error == ""
    assert outcome.new_messages == 1
    assert channel.cursor["uidvalidity"] != before["uidvalidity"]
    assert Message.objects.filter(channel_account=channel).count() == 4
    assert Message.objects.filter(channel_account=channel, text="Neue Frage").exists()


def test_a_revoked_password_sends_the_channel_to_re_authorization(mail_user, dovecot_server):
    channel = make_channel(mail_user)
    dovecot_server.set_password(mail_user, "rotated")
    outcome = poll_channel(channel.pk)
    channel.refresh_from_db()
    assert "refused the user name or password" in outcome.error
    assert channel.status == "needs_reauth"
    assert "rotated" not in channel.last_error and "correct-horse" not in channel.last_error
