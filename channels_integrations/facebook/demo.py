"""Keeps the fake Facebook Page busy for the demo: posts by the Page, comments by its readers.

`python -m channels_integrations.facebook.demo --port 8082` serves a FakeFacebook on loopback
(admin page at /__admin/) while a CommentGenerator adds a comment every few seconds: questions,
praise and complaints in German and English, and now and then a follow-up in an existing thread.
`demo_channel(base_url)` gives the settings and credentials of a channel aimed at that fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator, serve_demo
from channels_integrations.facebook.fake import DEMO_TOKEN, PAGE_ID, FakeFacebook
from channels_integrations.facebook.graph import DEFAULT_API_VERSION


@dataclass(frozen=True)
class Reader:
    name: str
    language: str  # "de" or "en"


READERS = (
    Reader("Jana Köhler", "de"),
    Reader("Tom Müller", "de"),
    Reader("Lena Schröder", "de"),
    Reader("Jürgen Becker", "de"),
    Reader("Özlem Demir", "de"),
    Reader("Käthe Wagner", "de"),
    Reader("Björn Hansen", "de"),
    Reader("Mareike Groß", "de"),
    Reader("Sam Rivera", "en"),
    Reader("Priya Natarajan", "en"),
    Reader("Oliver Grant", "en"),
    Reader("Mei-Ka Chen", "en"),
    Reader("Dan O'Connor", "en"),
    Reader("Aurélie Dubois", "en"),
    Reader("Leah Morgan", "en"),
)

# What the Page posts (German and English alternate, as on a bilingual brand page).
POSTS = (
    "Die neue Herbstkollektion ist da! 🍂 Welches Teil gefällt euch am besten?",
    "Our autumn collection has landed 🍂 Which piece is your favourite?",
    "Ab Montag verschicken wir klimaneutral. Was wünscht ihr euch noch von uns?",
    "Weekend sale: 20 % off all rain jackets until Sunday night ☔",
    "Unsere Filiale in Köln hat ab sofort auch sonntags geöffnet.",
    "We're hiring! Join our customer care team in Berlin (German and English speakers).",
)

# "{order}" becomes a random order number, so repeated texts still differ.
COMMENTS = {
    "de": (
        "Wann kommt die Jacke in Größe L wieder rein?",
        "Meine Bestellung #{order} ist seit zehn Tagen unterwegs. Könnt ihr nachsehen?",
        "Wie schön! Die Farben sind wirklich toll 😍",
        "Gibt es das auch in nachhaltiger Baumwolle?",
        "Versand nach Österreich kostet fast so viel wie das Produkt. Schade.",
        "Euer Kundenservice antwortet seit einer Woche nicht auf meine Mail.",
        "Ich habe den Pulli letzte Woche gekauft, die Qualität ist super!",
        "Kann ich im Laden umtauschen, wenn ich online bestellt habe?",
        "Der Gutscheincode funktioniert im Checkout nicht.",
        "Schon wieder falsch geliefert. Langsam reicht's wirklich.",
        "Habt ihr am Samstag länger geöffnet?",
    ),
    "en": (
        "Do you ship to Canada?",
        "Order #{order} says delivered but nothing arrived. Can you help?",
        "Love this! Just ordered two 🙌",
        "Is the sizing true to fit? I'm between M and L.",
        "Worst customer service ever, three emails and no reply.",
        "Any plans for plastic-free packaging?",
        "Can I still change the address on order #{order}?",
        "The app crashes every time I try to pay with PayPal.",
        "Great quality, my jacket survived a whole winter in Scotland.",
        "When is the blue one back in stock?",
        "Does the discount stack with the student discount?",
    ),
}

FOLLOW_UPS = {
    "de": (
        "Kurzes Update: Es hat sich leider immer noch nichts getan.",
        "Hat sich erledigt, danke!",
        "Hallo? Liest hier jemand mit? 🙃",
        "Nachtrag: Die Bestellnummer ist #{order}.",
        "Geht mir genauso!",
    ),
    "en": (
        "Any update on this?",
        "Never mind, it just arrived. Thanks!",
        "Same here, following.",
        "Adding my order number: #{order}.",
        "Still waiting…",
    ),
}


def demo_channel(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of a Facebook channel aimed at a FakeFacebook at `base_url`."""
    settings = {"base_url": base_url, "page_id": PAGE_ID, "api_version": DEFAULT_API_VERSION}
    return settings, {"access_token": DEMO_TOKEN}


class CommentGenerator(DemoGenerator):
    """Adds a comment (sometimes a post, sometimes a follow-up) to `fake` every `interval`
    seconds (±30 %). Runs in a daemon thread; `stop()` returns promptly because the thread
    waits on an Event rather than sleeping."""

    item = "Facebook comment"

    def __init__(
        self,
        fake: FakeFacebook,
        *,
        interval: float = 8.0,
        seed: int | None = None,
        follow_up_chance: float = 0.25,
        post_chance: float = 0.05,
    ) -> None:
        super().__init__(interval=interval, seed=seed)
        self._fake = fake
        self._follow_up_chance = follow_up_chance
        self._post_chance = post_chance
        self._threads: list[tuple[str, str]] = []  # (post id, top-level comment id)

    def emit(self) -> dict[str, Any]:
        """Add one comment now (publishing a post first when needed) and return it."""
        posts = self._fake.posts()
        if not posts or self._random.random() < self._post_chance:
            posts.insert(0, self._fake.add_post(self._random.choice(POSTS)))
        reader = self._random.choice(READERS)
        order = self._random.randint(40000, 59999)
        if self._threads and self._random.random() < self._follow_up_chance:
            post_id, parent_id = self._random.choice(self._threads[-10:])
            text = self._random.choice(FOLLOW_UPS[reader.language]).format(order=order)
            return self._fake.add_comment(
                post_id, text, author_name=reader.name, parent_id=parent_id
            )
        # Newer posts draw more comments, as they do on a real Page.
        post = posts[min(int(self._random.expovariate(1.0)), len(posts) - 1)]
        text = self._random.choice(COMMENTS[reader.language]).format(order=order)
        comment = self._fake.add_comment(post["id"], text, author_name=reader.name)
        self._threads.append((post["id"], comment["id"]))
        return comment


def main(argv: list[str] | None = None) -> None:
    serve_demo(
        argv,
        title="Facebook Page",
        port=8082,
        make_fake=FakeFacebook,
        generator=CommentGenerator,
    )


if __name__ == "__main__":
    main()
