"""Keeps the fake X busy for the demo: a stream of realistic mentions of the brand.

`python -m channels_integrations.x.demo --port 8082` serves a FakeX on loopback (admin page at
/__admin/) while a MentionGenerator adds a mention every few seconds: questions, praise and
complaints in German and English, replies under the brand's own posts (which the agent may
hide), and the odd follow-up in a thread someone started. `demo_channel(base_url)` gives the
settings and credentials of a channel pointing at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator, serve_demo
from channels_integrations.x.fake import BRAND_USER_ID, BRAND_USERNAME, FakeX

# The fake's demo token; not a secret of any real account.
DEMO_TOKEN = "x-demo-token"  # noqa: S105


def demo_channel(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of a channel reading the fake X served at `base_url` (the
    server's root, with or without the /2 of the API)."""
    root = base_url.rstrip("/")
    api = root if root.endswith("/2") else root + "/2"
    settings = {"base_url": api, "user_id": BRAND_USER_ID, "username": BRAND_USERNAME}
    return settings, {"access_token": DEMO_TOKEN}


@dataclass(frozen=True)
class Persona:
    username: str  # X usernames: at most 15 letters, digits and underscores
    display_name: str
    language: str  # "de" or "en"


PERSONAS = (
    Persona("jana_koehler", "Jana Köhler", "de"),
    Persona("tom_mueller", "Tom Müller", "de"),
    Persona("lena_schroeder", "Lena Schröder 🌻", "de"),
    Persona("juergen_b", "Jürgen Becker", "de"),
    Persona("oezlem_d", "Özlem Demir", "de"),
    Persona("kaethe_w", "Käthe Wagner", "de"),
    Persona("bjoern_rad", "Björn Hansen 🚲", "de"),
    Persona("mareike_gross", "Mareike Groß", "de"),
    Persona("steffen_weiss", "Steffen Weiß", "de"),
    Persona("anke_kiel", "Anke aus Kiel", "de"),
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

# What the brand posted; people reply under these (replies the agent may hide).
BRAND_POSTS = (
    ("Unsere Herbstkollektion ist da! 🍂 Was ist euer Lieblingsstück?", "de"),
    (
        "Über die Feiertage haben unsere Filialen verkürzt geöffnet. Alle Zeiten auf der Website.",
        "de",
    ),
    ("Free shipping to the EU all week. Questions? Reply here 👇", "en"),
)

# "{order}" becomes a random order number, so repeated texts still differ.
MENTIONS: dict[str, tuple[str, ...]] = {
    "de": (
        "Meine Bestellung #{order} steht seit einer Woche auf „in Bearbeitung“. Könnt ihr "
        "nachsehen?",
        "Wann kommt mein Paket (#{order})? Die Sendungsverfolgung zeigt seit Tagen nichts.",
        "Ich brauche für #{order} eine Rechnung mit Firmenanschrift. Wie geht das?",
        "Habt ihr Samstag geöffnet? Auf der Website stehen zwei verschiedene Zeiten.",
        "Großes Lob an euren Support, Problem in zehn Minuten gelöst! 👏",
        "Bin begeistert von der neuen Kollektion. Qualität top, Lieferung schnell.",
        "Kann ich Bestellung #{order} noch ändern, wenn sie schon bezahlt ist?",
        "Versand nach Österreich kostet fast so viel wie das Produkt. Nicht zeitgemäß.",
        "Die App stürzt beim Bezahlen mit PayPal jedes Mal ab (iOS, aktuelle Version).",
        "Ich warte seit drei Wochen auf die Erstattung für Rücksendung #{order}. Stand?",
        "Gibt es die Regenjacke auch in XL? Online ist sie ausverkauft.",
        "Euer Kundenservice ist ein Witz. Niemand geht ans Telefon, keiner antwortet.",
        "Schon wieder das Falsche geliefert (#{order}). Langsam reicht's.",
        "Der Gutscheincode wird beim Checkout als „ungültig“ abgelehnt. Abgelaufen?",
    ),
    "en": (
        "Order #{order} says delivered but there's nothing at my door. Can you check?",
        "Do you ship to Canada? Checkout only lists EU countries.",
        "Could you resend the invoice for order #{order}? Need it for expenses.",
        "Just got my package, everything arrived in perfect condition. Great packaging!",
        "Your support team is fantastic, refund sorted in minutes 🙌",
        "Tracking for #{order} hasn't updated in five days. Is my parcel lost?",
        "I was charged twice for order #{order}. Who do I talk to?",
        "Any plans for plastic-free packaging? Would love that.",
        "The new website is much slower than the old one, especially on mobile.",
        "Worst customer service I've ever dealt with. Absolute joke.",
        "third message about #{order} with no reply. do you even read these?",
        "Love the product, but the battery lasts nowhere near the advertised 12 hours.",
        "Does the discount code stack with the student discount?",
        "When will the blue version be back in stock?",
    ),
}

FOLLOW_UPS: dict[str, tuple[str, ...]] = {
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

REPLIES_TO_POSTS: dict[str, tuple[str, ...]] = {
    "de": (
        "Die grüne Jacke! Gibt's die auch in M?",
        "Endlich! Wann kommt die Kollektion in die Filiale in Köln?",
        "Schade, dass ihr nicht nach Österreich liefert.",
        "Kauft hier nicht, mein Paket #{order} ist seit Wochen weg.",
    ),
    "en": (
        "Does that include Ireland?",
        "Ordered right away, thanks for the heads-up!",
        "Is the offer valid for the outlet items too?",
        "Free shipping is nice, but you still owe me a refund for #{order}.",
    ),
}


class MentionGenerator(DemoGenerator):
    """Adds a mention of the brand to `fake` every `interval` seconds (±30%).

    Runs in a daemon thread; `stop()` returns promptly because the thread waits on an Event
    rather than sleeping.
    """

    item = "X mention"

    def __init__(
        self,
        fake: FakeX,
        *,
        interval: float = 8.0,
        seed: int | None = None,
        follow_up_chance: float = 0.2,
        reply_to_post_chance: float = 0.3,
    ) -> None:
        super().__init__(interval=interval, seed=seed)
        self._fake = fake
        self._follow_up_chance = follow_up_chance
        self._reply_to_post_chance = reply_to_post_chance
        self._posts: list[str] = []
        self._last_mention: dict[str, str] = {}  # username -> their latest mention's id

    def brand_posts(self) -> list[str]:
        """The brand's posts people reply under (posted on first use)."""
        if not self._posts:
            self._posts = [self._fake.add_post(text, lang=lang)["id"] for text, lang in BRAND_POSTS]
        return list(self._posts)

    def emit(self) -> dict[str, Any]:
        """Add one mention now and return it (the post with every field)."""
        persona = self._random.choice(PERSONAS)
        order = self._random.randint(40000, 59999)
        previous = self._last_mention.get(persona.username)
        roll = self._random.random()
        in_reply_to: str | None = None
        if previous is not None and roll < self._follow_up_chance:
            pool, in_reply_to = FOLLOW_UPS, previous
        elif roll < self._follow_up_chance + self._reply_to_post_chance:
            pool, in_reply_to = REPLIES_TO_POSTS, self._random.choice(self.brand_posts())
        else:
            pool = MENTIONS
        text = self._random.choice(pool[persona.language]).format(order=order)
        mention = self._fake.add_mention(
            text,
            username=persona.username,
            display_name=persona.display_name,
            in_reply_to=in_reply_to,
            lang=persona.language,
        )
        self._last_mention[persona.username] = mention["id"]
        return mention


def main(argv: list[str] | None = None) -> None:
    serve_demo(
        argv,
        title="X",
        port=8082,
        make_fake=lambda: FakeX([DEMO_TOKEN]),
        generator=MentionGenerator,
    )


if __name__ == "__main__":
    main()
