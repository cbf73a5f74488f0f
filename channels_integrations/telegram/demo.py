"""Keeps the fake Telegram busy for the demo: people writing to the shop's bot.

`python -m channels_integrations.telegram.demo --port 8086` serves a FakeTelegram on loopback
(admin page at /__admin/) while a MessageGenerator adds a message every few seconds: private
chats with the bot, posts in the public community group and in the support topic of the forum,
now and then a photo or a follow-up that replies to the person's earlier message.
`demo_channel(base_url)` gives the settings and credentials of a channel on that fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator, serve_demo
from channels_integrations.telegram.fake import BOT_USERNAME, DEMO_TOKEN, FakeTelegram

# Short enough that a demo poll does not hold a worker for long when nothing happens.
DEMO_LONG_POLL_SECONDS = 5


def demo_channel(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of a Telegram channel polling the fake at `base_url`."""
    settings = {
        "base_url": base_url,
        "bot_username": BOT_USERNAME,
        "long_poll_seconds": DEMO_LONG_POLL_SECONDS,
    }
    return settings, {"bot_token": DEMO_TOKEN}


@dataclass(frozen=True)
class Persona:
    username: str
    first_name: str
    last_name: str
    language: str  # the language this person writes in: "de" or "en"


PERSONAS = (
    Persona("jana_k", "Jana", "Köhler", "de"),
    Persona("mueller_tom", "Tom", "Müller", "de"),
    Persona("lena_schroeder", "Lena", "Schröder", "de"),
    Persona("juergen_b", "Jürgen", "Becker", "de"),
    Persona("oezlem_y", "Özlem", "Demir", "de"),
    Persona("kaethe_w", "Käthe", "Wagner", "de"),
    Persona("bjoern_h", "Björn 🚲", "Hansen", "de"),
    Persona("mareike_gross", "Mareike", "Groß", "de"),
    Persona("steffen_weiss", "Steffen", "Weiß", "de"),
    Persona("nordlicht_anke", "Anke", "", "de"),
    Persona("sam_rivera", "Sam", "Rivera", "en"),
    Persona("priya_n", "Priya", "Natarajan", "en"),
    Persona("oliver_reads", "Oliver 📚", "Grant", "en"),
    Persona("meika_chen", "Mei-Ka", "Chen", "en"),
    Persona("dan_builds", "Dan", "O'Connor", "en"),
    Persona("aurelie_d", "Aurélie", "Dubois", "en"),
    Persona("tkowalski", "Tomasz", "Kowalski", "en"),
    Persona("nina_codes", "Nina", "", "en"),
    Persona("grumpy_gus", "Gus", "", "en"),
    Persona("leah_writes", "Leah", "Morgan", "en"),
)

# "{order}" becomes a random order number, so repeated texts still differ.
MESSAGES = {
    "de": (
        "Hallo, meine Bestellung #{order} steht seit einer Woche auf „in Bearbeitung“. "
        "Könnt ihr mal nachsehen?",
        "Wann kommt denn mein Paket? Die Sendungsverfolgung zeigt seit Tagen nichts Neues.",
        "Ich brauche für Bestellung #{order} noch eine Rechnung mit Firmenanschrift.",
        "Habt ihr am Samstag geöffnet? Auf der Website stehen zwei verschiedene Zeiten.",
        "Großes Lob an euren Support, mein Problem war in zehn Minuten gelöst! 👏",
        "Bin echt begeistert von der neuen Kollektion. Qualität top, Lieferung schnell.",
        "Kann ich eine Bestellung noch ändern, wenn sie schon bezahlt ist?",
        "Der Versand nach Österreich kostet fast so viel wie das Produkt selbst.",
        "Die App stürzt beim Bezahlen mit PayPal jedes Mal ab (iOS, aktuelle Version).",
        "Ich warte seit drei Wochen auf die Erstattung für meine Rücksendung. Wie ist der Stand?",
        "Gibt es die Regenjacke auch in XL? Online ist sie ausverkauft.",
        "Euer Kundenservice ist ein Witz. Niemand geht ans Telefon, keiner beantwortet Mails.",
        "Schon wieder das Falsche geliefert. Langsam reicht's wirklich.",
        "Danke für die nette Karte im Paket, hat mich sehr gefreut 😊",
        "Der Gutscheincode wird beim Checkout als „ungültig“ abgelehnt. Ist er abgelaufen?",
        "Bietet ihr auch Ratenzahlung an oder nur Kauf auf Rechnung?",
    ),
    "en": (
        "Hi! Order #{order} says delivered but there's nothing at my door. Can you check?",
        "Do you ship to Canada? The checkout only lists EU countries.",
        "Could you resend the invoice for order #{order}? I need it for my expense report.",
        "What are your opening hours on public holidays?",
        "Just got my package, everything arrived in perfect condition. Great packaging too!",
        "Your support team is fantastic, thanks for sorting out my refund so quickly 🙌",
        "The size chart seems to be off by a full size. Might be worth double-checking.",
        "Tracking hasn't updated in five days. Is my parcel lost?",
        "I was charged twice for order #{order}. Who do I talk to about this?",
        "Any plans to offer plastic-free packaging? Would love to see that.",
        "Can I change the delivery address after placing an order?",
        "Worst customer service I've ever dealt with. Absolute joke of a company.",
        "lol, third message with no reply. does anyone read these?",
        "Love the product, but the battery lasts nowhere near the advertised 12 hours.",
        "Does the discount code stack with the student discount?",
        "When will the blue version be back in stock?",
    ),
}

FOLLOW_UPS = {
    "de": (
        "Kurzes Update: Es hat sich leider immer noch nichts getan.",
        "Hat sich erledigt, danke!",
        "Hallo? Liest hier jemand mit? 🙃",
        "Nachtrag: Die Bestellnummer ist #{order}.",
    ),
    "en": (
        "Any update on this?",
        "Never mind, it just arrived. Thanks!",
        "Still waiting here…",
        "Adding my order number: #{order}.",
    ),
}

PHOTO_CAPTIONS = {
    "de": ("So kam das Paket bei mir an 📦", "Ist das normal so?"),
    "en": ("This is how the parcel arrived 📦", "Is this supposed to look like this?"),
}

# Mostly private chats with the bot; groups see less, since the bot there reads only what is
# addressed to it (privacy mode).
WHERE_WEIGHTS = {"private": 6, "group": 2, "topic": 2}


class MessageGenerator(DemoGenerator):
    """Adds a message for the bot to `fake` every `interval` seconds (±30%).

    Runs in a daemon thread; `stop()` returns promptly because the thread waits on an Event
    rather than sleeping.
    """

    item = "Telegram message"

    def __init__(
        self,
        fake: FakeTelegram,
        *,
        interval: float = 8.0,
        seed: int | None = None,
        follow_up_chance: float = 0.2,
        photo_chance: float = 0.1,
    ) -> None:
        super().__init__(interval=interval, seed=seed)
        self._fake = fake
        self._follow_up_chance = follow_up_chance
        self._photo_chance = photo_chance
        # (username, where) → (chat id, message id) of the person's latest message there.
        self._last: dict[tuple[str, str], tuple[int, int]] = {}
        self._group_id: int | None = None
        self._forum: tuple[int, int] | None = None  # (chat id, topic id)

    def emit(self) -> dict[str, Any]:
        """Add one message now and return its update."""
        persona = self._random.choice(PERSONAS)
        where = self._random.choices(list(WHERE_WEIGHTS), list(WHERE_WEIGHTS.values()))[0]
        previous = self._last.get((persona.username, where))
        follow_up = previous is not None and self._random.random() < self._follow_up_chance
        order = self._random.randint(40000, 59999)
        pool = FOLLOW_UPS if follow_up else MESSAGES
        text = self._random.choice(pool[persona.language]).format(order=order)
        media = None
        if not follow_up and self._random.random() < self._photo_chance:
            media, text = "photo", self._random.choice(PHOTO_CAPTIONS[persona.language])
        reply_to = previous[1] if follow_up and previous is not None else None
        last_name = persona.last_name or None
        if where == "private":
            update = self._fake.add_private_message(
                text,
                username=persona.username,
                first_name=persona.first_name,
                last_name=last_name,
                language_code=persona.language,
                reply_to=reply_to,
                media=media,
            )
        else:
            chat_id, topic_id = self._place(where)
            update = self._fake.add_group_message(
                text,
                chat_id=chat_id,
                topic_id=topic_id,
                username=persona.username,
                first_name=persona.first_name,
                last_name=last_name,
                language_code=persona.language,
                reply_to=reply_to,
                media=media,
            )
        message = update["message"]
        self._last[(persona.username, where)] = (message["chat"]["id"], message["message_id"])
        return update

    def _place(self, where: str) -> tuple[int, int | None]:
        if where == "group":
            if self._group_id is None:
                self._group_id = self._fake.add_group()
            return self._group_id, None
        if self._forum is None:
            forum = self._fake.add_group("Shop Forum", username="shop_forum", forum=True)
            self._forum = (forum, self._fake.add_topic(forum, "Support"))
        return self._forum


def main(argv: list[str] | None = None) -> None:
    serve_demo(
        argv,
        title="Telegram Bot API",
        port=8086,
        make_fake=FakeTelegram,
        generator=MessageGenerator,
    )


if __name__ == "__main__":
    main()
