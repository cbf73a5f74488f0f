"""Keeps the fake Mastodon busy for the demo: a stream of realistic brand mentions.

`python -m channels_integrations.mastodon.demo --port 8081` serves a FakeMastodon
on loopback (admin page at /__admin/) while a MentionGenerator adds a mention
every few seconds, so the inbox fills up the way a community manager's would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator, serve_demo
from channels_integrations.mastodon.fake import FakeMastodon


@dataclass(frozen=True)
class Persona:
    username: str
    display_name: str
    language: str  # the language this person writes in: "de" or "en"


PERSONAS = (
    Persona("jana_k", "Jana Köhler", "de"),
    Persona("mueller_tom", "Tom Müller", "de"),
    Persona("lena_schroeder", "Lena Schröder", "de"),
    Persona("juergen_b", "Jürgen Becker", "de"),
    Persona("oezlem_y", "Özlem Demir", "de"),
    Persona("kaethe_w", "Käthe Wagner", "de"),
    Persona("bjoern_h", "Björn Hansen 🚲", "de"),
    Persona("mareike_gross", "Mareike Groß", "de"),
    Persona("steffen_weiss", "Steffen Weiß", "de"),
    Persona("nordlicht_anke", "Anke aus Kiel", "de"),
    Persona("sam_rivera", "Sam Rivera", "en"),
    Persona("priya_n", "Priya Natarajan", "en"),
    Persona("oliver_reads", "Oliver Grant 📚", "en"),
    Persona("meika_chen", "Mei-Ka Chen", "en"),
    Persona("dan_builds", "Dan O'Connor", "en"),
    Persona("aurelie_d", "Aurélie Dubois", "en"),
    Persona("tkowalski", "Tomasz Kowalski", "en"),
    Persona("nina_codes", "Nina", "en"),
    Persona("grumpy_gus", "Gus", "en"),
    Persona("leah_writes", "Leah Morgan", "en"),
)

# "{order}" becomes a random order number, so repeated texts still differ.
MENTIONS = {
    "de": (
        "Hallo, meine Bestellung #{order} steht seit einer Woche auf „in Bearbeitung“. "
        "Könnt ihr mal nachsehen?",
        "Wann kommt denn mein Paket? Die Sendungsverfolgung zeigt seit Tagen nichts Neues.",
        "Ich brauche für Bestellung #{order} noch eine Rechnung mit Firmenanschrift. Wie geht das?",
        "Auf der Rechnung steht noch meine alte Adresse. Könnt ihr die bitte korrigieren? 🙏",
        "Habt ihr am Samstag geöffnet? Auf der Website stehen zwei verschiedene Zeiten.",
        "Wie lange hat die Filiale in Köln zwischen den Feiertagen offen?",
        "Großes Lob an euren Support, mein Problem war in zehn Minuten gelöst! 👏",
        "Bin echt begeistert von der neuen Kollektion. Qualität top, Lieferung schnell.",
        "Kann ich eine Bestellung noch ändern, wenn sie schon bezahlt ist?",
        "Der Versand nach Österreich kostet fast so viel wie das Produkt selbst. "
        "Das finde ich nicht mehr zeitgemäß.",
        "Die App stürzt beim Bezahlen mit PayPal jedes Mal ab (iOS, aktuelle Version).",
        "Warum ging mein Paket an eine Packstation, obwohl ich meine Hausadresse angegeben habe?",
        "Ich warte seit drei Wochen auf die Erstattung für meine Rücksendung. Wie ist der Stand?",
        "Gibt es die Regenjacke auch in XL? Online ist sie ausverkauft.",
        "Euer Kundenservice ist ein Witz. Niemand geht ans Telefon, keiner beantwortet Mails.",
        "Schon wieder das Falsche geliefert. Langsam reicht's wirklich, ihr Amateure.",
        "Kann ich die Rechnung nachträglich als PDF bekommen? Im Kundenkonto finde ich sie nicht.",
        "Danke für die nette Karte im Paket, hat mich sehr gefreut 😊",
        "Ist der Laden am Hauptbahnhof barrierefrei erreichbar?",
        "Die angegebene Lieferzeit von zwei bis drei Tagen stimmt leider nicht, "
        "bei mir waren es neun. Nur als Feedback.",
        "Der Gutscheincode wird beim Checkout als „ungültig“ abgelehnt. Ist er abgelaufen?",
        "Bietet ihr auch Ratenzahlung an oder nur Kauf auf Rechnung?",
    ),
    "en": (
        "Hi! Order #{order} says delivered but there's nothing at my door. "
        "Can you check with the courier?",
        "Do you ship to Canada? The checkout only lists EU countries.",
        "Could you resend the invoice for order #{order}? I need it for my expense report.",
        "What are your opening hours on public holidays?",
        "Just got my package, everything arrived in perfect condition. Great packaging too!",
        "Your support team is fantastic, thanks for sorting out my refund so quickly 🙌",
        "The size chart seems to be off by a full size. Might be worth double-checking.",
        "Tracking hasn't updated in five days. Is my parcel lost?",
        "I was charged twice for order #{order}. Who do I talk to about this?",
        "Any plans to offer plastic-free packaging? Would love to see that.",
        "The new website is much slower than the old one, especially on mobile.",
        "Can I change the delivery address after placing an order?",
        "Is the Berlin store open late on Thursdays?",
        "Worst customer service I've ever dealt with. Absolute joke of a company.",
        "lol, third email with no reply. do you people even read these?",
        "Love the product, but the battery lasts nowhere near the advertised 12 hours.",
        "How long do returns usually take to process once you receive them?",
        "Does the discount code stack with the student discount?",
        "Quick question: is the invoice emailed automatically or do I download it myself?",
        "Big thanks to whoever packed my order, the handwritten note made my day!",
        "Your app logs me out every time I switch apps. Pretty annoying.",
        "When will the blue version be back in stock?",
    ),
}

FOLLOW_UPS = {
    "de": (
        "Kurzes Update: Es hat sich leider immer noch nichts getan.",
        "Hat sich erledigt, danke!",
        "Hallo? Liest hier jemand mit? 🙃",
        "Nachtrag: Die Bestellnummer ist #{order}.",
        "Danke für die schnelle Hilfe!",
        "Ich habe jetzt zusätzlich eine Mail geschrieben, Ticket {order}.",
    ),
    "en": (
        "Any update on this?",
        "Never mind, it just arrived. Thanks!",
        "Still waiting here…",
        "Adding my order number: #{order}.",
        "Thanks, that helped!",
        "I've also emailed support, no reply yet.",
    ),
}

# Mostly public mentions, with the occasional DM (direct) and quiet (unlisted) one.
VISIBILITY_WEIGHTS = {"public": 8, "unlisted": 1, "direct": 1}


class MentionGenerator(DemoGenerator):
    """Adds a mention of the brand to `fake` every `interval` seconds (±30%).

    Runs in a daemon thread; `stop()` returns promptly because the thread
    waits on an Event rather than sleeping.
    """

    item = "Mastodon mention"

    def __init__(
        self,
        fake: FakeMastodon,
        *,
        interval: float = 8.0,
        seed: int | None = None,
        follow_up_chance: float = 0.2,
    ) -> None:
        super().__init__(interval=interval, seed=seed)
        self._fake = fake
        self._follow_up_chance = follow_up_chance
        self._last_status: dict[str, str] = {}  # username -> their latest status id

    def emit(self) -> dict[str, Any]:
        """Add one mention now and return its notification."""
        persona = self._random.choice(PERSONAS)
        previous = self._last_status.get(persona.username)
        follow_up = previous is not None and self._random.random() < self._follow_up_chance
        pool = FOLLOW_UPS if follow_up else MENTIONS
        text = self._random.choice(pool[persona.language])
        visibilities = list(VISIBILITY_WEIGHTS)
        notification = self._fake.add_mention(
            text.format(order=self._random.randint(40000, 59999)),
            username=persona.username,
            display_name=persona.display_name,
            visibility=self._random.choices(visibilities, list(VISIBILITY_WEIGHTS.values()))[0],
            in_reply_to_id=previous if follow_up else None,
            language=persona.language,
        )
        self._last_status[persona.username] = notification["status"]["id"]
        return notification


def main(argv: list[str] | None = None) -> None:
    serve_demo(
        argv,
        title="Mastodon",
        port=8081,
        make_fake=lambda: FakeMastodon(["demo-token"]),
        generator=MentionGenerator,
    )


if __name__ == "__main__":
    main()
