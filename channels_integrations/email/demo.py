"""Keeps the fake mail server busy for the demo: support mail in German and English.

`python -m channels_integrations.email.demo` serves a FakeMailServer on loopback (IMAP, SMTP
and the admin page at /__admin/) while a SupportMailGenerator delivers a customer e-mail every
few seconds: questions, praise, complaints, and now and then an answer to an earlier thread
(to the customer's own mail, or to our reply when an agent has answered).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator
from channels_integrations.email.fake import DEMO_ADDRESS, DEMO_PASSWORD, FakeMailServer
from channels_integrations.fake_server import serve_forever

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Customer:
    name: str
    address: str
    language: str  # "de" or "en"


CUSTOMERS = (
    Customer("Jana Köhler", "jana.koehler@example.de", "de"),
    Customer("Tom Müller", "t.mueller@example.de", "de"),
    Customer("Lena Schröder", "lena.schroeder@example.at", "de"),
    Customer("Jürgen Becker", "juergen.becker@example.de", "de"),
    Customer("Özlem Demir", "oezlem.demir@example.de", "de"),
    Customer("Käthe Wagner", "kaethe.wagner@example.ch", "de"),
    Customer("Björn Hansen", "bjoern@example.de", "de"),
    Customer("Mareike Groß", "mareike.gross@example.de", "de"),
    Customer("Sam Rivera", "sam.rivera@example.com", "en"),
    Customer("Priya Natarajan", "priya.n@example.co.uk", "en"),
    Customer("Oliver Grant", "oliver.grant@example.com", "en"),
    Customer("Mei-Ka Chen", "meika.chen@example.com", "en"),
    Customer("Dan O'Connor", "dan.oconnor@example.ie", "en"),
    Customer("Aurélie Dubois", "aurelie.dubois@example.fr", "en"),
)

# (subject, text); "{order}" becomes an order number and "{name}" the customer's first name.
FIRST_MAILS = {
    "de": (
        (
            "Bestellung {order} noch nicht angekommen",
            "Hallo,\n\nmeine Bestellung {order} steht seit einer Woche auf „in Bearbeitung“. "
            "Könnt ihr bitte nachsehen, was los ist?\n\nViele Grüße\n{name}",
        ),
        (
            "Rechnung mit Firmenanschrift",
            "Guten Tag,\n\nfür die Bestellung {order} brauche ich eine Rechnung mit unserer "
            "Firmenanschrift (Muster GmbH, Hauptstraße 1, 50667 Köln). Ist das möglich?\n\n"
            "Danke und beste Grüße\n{name}",
        ),
        (
            "Rücksendung: Erstattung fehlt",
            "Hallo zusammen,\n\nich habe die Jacke vor drei Wochen zurückgeschickt "
            "(Bestellung {order}), die Erstattung ist aber noch nicht da. Wie ist der Stand?\n\n"
            "Grüße\n{name}",
        ),
        (
            "Großes Lob!",
            "Hallo,\n\nich wollte nur sagen: Lieferung super schnell, alles perfekt verpackt. "
            "Weiter so! 👏\n\n{name}",
        ),
        (
            "Falscher Artikel geliefert",
            "Hallo,\n\nstatt der bestellten Schuhe in Größe 42 kam ein Paar in 38 an. Das ist "
            "jetzt schon das zweite Mal. Ich bin ehrlich gesagt ziemlich genervt.\n\n{name}",
        ),
        (
            "Gutscheincode ungültig",
            "Hallo,\n\nder Gutscheincode FRUEHLING26 wird beim Bezahlen als ungültig "
            "abgelehnt. Ist er schon abgelaufen?\n\nLG {name}",
        ),
    ),
    "en": (
        (
            "Order {order} marked delivered but not here",
            "Hi,\n\nmy order {order} shows as delivered, but there is nothing at my door or "
            "with the neighbours. Could you check with the courier?\n\nThanks,\n{name}",
        ),
        (
            "Do you ship to Canada?",
            "Hello,\n\nthe checkout only lists EU countries. Is shipping to Canada possible "
            "at all?\n\nBest,\n{name}",
        ),
        (
            "Charged twice",
            "Hi there,\n\nI was charged twice for order {order}. Please refund the second "
            "payment.\n\n{name}",
        ),
        (
            "Thank you!",
            "Just wanted to say thanks: the handwritten note in my parcel made my day 🙌\n\n{name}",
        ),
        (
            "Invoice for my expense report",
            "Hello,\n\ncould you resend the invoice for order {order}? I need it as a PDF for "
            "my expense report.\n\nKind regards,\n{name}",
        ),
        (
            "Worst service ever",
            "Third email, still no answer. Do you people even read these? I want my money "
            "back for order {order}.\n\n{name}",
        ),
    ),
}

FOLLOW_UPS = {
    "de": (
        "Kurzes Update: Es hat sich leider immer noch nichts getan.",
        "Danke für die schnelle Antwort, damit ist alles geklärt!",
        "Hallo? Liest hier jemand mit? 🙃",
        "Nachtrag: Die Bestellnummer ist {order}.",
    ),
    "en": (
        "Any update on this?",
        "Never mind, it just arrived. Thanks!",
        "Thanks, that helped a lot.",
        "Adding my order number: {order}.",
    ),
}


@dataclass
class Thread:
    subject: str
    message_ids: list[str]


class SupportMailGenerator(DemoGenerator):
    """Delivers a customer e-mail to `fake` every `interval` seconds (±30%).

    Runs in a daemon thread; `stop()` returns promptly because the thread waits on an Event.
    """

    item = "demo e-mail"

    def __init__(
        self,
        fake: FakeMailServer,
        *,
        interval: float = 10.0,
        seed: int | None = None,
        follow_up_chance: float = 0.25,
    ) -> None:
        super().__init__(interval=interval, seed=seed)
        self._fake = fake
        self._follow_up_chance = follow_up_chance
        self._threads: dict[str, Thread] = {}  # customer address -> their latest thread

    def emit(self) -> dict[str, Any]:
        """Deliver one e-mail now; returns what was sent (message_id, subject, in_reply_to)."""
        customer = self._random.choice(CUSTOMERS)
        order = str(self._random.randint(40000, 59999))
        first_name = customer.name.split()[0]
        thread = self._threads.get(customer.address)
        if thread is not None and self._random.random() < self._follow_up_chance:
            # Answer the newest mail of the thread: our reply if an agent answered, else their own.
            replies = [
                mail
                for mail in self._fake.sent_mails()
                if customer.address in mail["to"] and mail["in_reply_to"] in thread.message_ids
            ]
            parent = replies[-1]["message_id"] if replies else thread.message_ids[-1]
            prefix = "AW: " if customer.language == "de" else "Re: "
            subject = (
                thread.subject if thread.subject.startswith(prefix) else prefix + thread.subject
            )
            text = self._random.choice(FOLLOW_UPS[customer.language]).format(order=order)
            if parent not in thread.message_ids:
                thread.message_ids.append(parent)
            message_id = self._fake.add_mail(
                f"{text}\n\n{first_name}",
                from_address=customer.address,
                from_name=customer.name,
                subject=subject,
                in_reply_to=parent,
                references=list(thread.message_ids),
            )
            thread.message_ids.append(message_id)
            return {"message_id": message_id, "subject": subject, "in_reply_to": parent}
        subject, text = self._random.choice(FIRST_MAILS[customer.language])
        subject = subject.format(order=order)
        message_id = self._fake.add_mail(
            text.format(order=order, name=first_name),
            from_address=customer.address,
            from_name=customer.name,
            subject=subject,
        )
        self._threads[customer.address] = Thread(subject, [message_id])
        return {"message_id": message_id, "subject": subject, "in_reply_to": None}


def demo_channel(
    imap_port: int, smtp_port: int, *, host: str = "127.0.0.1"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of a demo e-mail channel on the fake mail server."""
    settings = {
        "imap_host": host,
        "imap_port": imap_port,
        "imap_security": "none",
        "mailbox": "INBOX",
        "smtp_host": host,
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "address": DEMO_ADDRESS,
        "display_name": "Brand Support",
    }
    return settings, {"username": DEMO_ADDRESS, "password": DEMO_PASSWORD}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake mail server with demo e-mail.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--imap-port", type=int, default=1143)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--admin-port", type=int, default=8083)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between e-mails")
    parser.add_argument("--initial", type=int, default=4, help="e-mails to deliver at start")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO)
    fake = FakeMailServer().start(args.host, imap_port=args.imap_port, smtp_port=args.smtp_port)
    generator = SupportMailGenerator(fake, interval=args.interval, seed=args.seed)
    for _ in range(args.initial):
        generator.emit()
    generator.start()
    logger.info(
        "Fake mail server: IMAP %s:%s, SMTP %s:%s, admin http://%s:%s/__admin/ (login %s)",
        args.host,
        fake.imap_port,
        args.host,
        fake.smtp_port,
        args.host,
        args.admin_port,
        DEMO_ADDRESS,
    )
    try:
        serve_forever(fake.wsgi_app, args.host, args.admin_port)
    finally:
        generator.stop()
        fake.stop()


if __name__ == "__main__":
    main()
