"""Keeps the fake YouTube busy for the demo: a stream of realistic comments on the brand's videos.

`python -m channels_integrations.youtube.demo --port 8083` serves a FakeYouTube on loopback
(admin page at /__admin/) while a CommentGenerator adds a comment every few seconds: questions,
praise and complaints in German and English, the odd follow-up in an existing thread, and now
and then a spammy one that YouTube holds for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator, serve_demo
from channels_integrations.youtube.fake import (
    BRAND_CHANNEL_ID,
    DEFAULT_VIDEOS,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    DEMO_TOKEN,
    FakeYouTube,
)


@dataclass(frozen=True)
class Persona:
    handle: str  # YouTube shows the @handle as the author's name
    language: str  # "de" or "en"


PERSONAS = (
    Persona("@jana.koehler", "de"),
    Persona("@tommueller84", "de"),
    Persona("@lena_schroeder", "de"),
    Persona("@juergenbecker", "de"),
    Persona("@oezlem.demir", "de"),
    Persona("@kaethe_w", "de"),
    Persona("@bjoern_radelt", "de"),
    Persona("@nordlicht_anke", "de"),
    Persona("@sam.rivera", "en"),
    Persona("@priyanatarajan", "en"),
    Persona("@oliver_reads", "en"),
    Persona("@meikachen", "en"),
    Persona("@danbuilds", "en"),
    Persona("@aurelie_d", "en"),
    Persona("@grumpygus", "en"),
    Persona("@leahwrites", "en"),
)

# "{order}" becomes a random order number, so repeated texts still differ.
COMMENTS = {
    "de": (
        "Gibt es die Jacke auch in XL? Im Shop ist sie ausverkauft.",
        "Super erklärt, danke! Hat mir die Rücksendung echt erleichtert 👍",
        "Meine Bestellung #{order} ist seit zwei Wochen unterwegs. Könnt ihr mal nachsehen?",
        "Bei Minute 2:14 sieht man die Naht, die ist bei meiner schon nach einer Woche gerissen.",
        "Wie lange dauert die Erstattung, wenn das Paket bei euch angekommen ist?",
        "Tolles Video! Wird es die Farbe Petrol wieder geben?",
        "Der Versand nach Österreich ist viel zu teuer, schade.",
        "Funktioniert der Rückgabeschein auch an der Packstation?",
        "Ich warte seit drei Wochen auf mein Geld für Bestellung #{order}. So geht das nicht.",
        "Endlich mal ein Unternehmen, das zeigt, wie es hinter den Kulissen aussieht. Daumen hoch!",
        "Ist die Jacke wirklich wasserdicht oder nur wasserabweisend?",
        "Euer Kundenservice antwortet nicht auf Mails. Was soll ich tun?",
    ),
    "en": (
        "Does this jacket run small? I'm usually a medium.",
        "Great video, the return steps were super clear. Thanks!",
        "Order #{order} still hasn't shipped after ten days. Any update?",
        "Love the behind-the-scenes content, more of this please! 🙌",
        "Do you ship to Canada? Checkout only lists EU countries.",
        "The zipper on mine broke after a week. Is that covered by the warranty?",
        "How long do refunds take once you receive the parcel?",
        "Worst customer service ever, nobody answers my emails.",
        "Will the blue version be back in stock before winter?",
        "Is the return label included in the box or do I print it?",
        "Honestly the best rain jacket I've owned. Worth every penny.",
        "I was charged twice for order #{order}. Who can help?",
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

# What YouTube's filter would hold for review.
SPAM = (
    "🔥 Get 1000 free subscribers now at http://subs-for-free.example 🔥",
    "I made $5000 last week working from home, check my channel!!!",
)


class CommentGenerator(DemoGenerator):
    """Adds a comment to `fake` every `interval` seconds (±30%), from a daemon thread that
    `stop()` ends promptly (it waits on an Event, not a sleep)."""

    item = "YouTube comment"

    def __init__(
        self,
        fake: FakeYouTube,
        *,
        interval: float = 8.0,
        seed: int | None = None,
        follow_up_chance: float = 0.25,
        held_chance: float = 0.05,
    ) -> None:
        super().__init__(interval=interval, seed=seed)
        self._fake = fake
        self._follow_up_chance = follow_up_chance
        self._held_chance = held_chance
        self._last_thread: dict[str, str] = {}  # handle -> their latest thread id

    def emit(self) -> dict[str, Any]:
        """Add one comment now: a new thread (a commentThread resource) or a follow-up reply
        in the author's earlier thread (a comment resource)."""
        persona = self._random.choice(PERSONAS)
        order = self._random.randint(40000, 59999)
        if self._random.random() < self._held_chance:
            return self._fake.add_comment(
                self._random.choice(SPAM),
                author="@promo" + str(order),
                video_id=self._random.choice(list(DEFAULT_VIDEOS)),
                moderation_status="heldForReview",
            )
        previous = self._last_thread.get(persona.handle)
        if previous is not None and self._random.random() < self._follow_up_chance:
            text = self._random.choice(FOLLOW_UPS[persona.language]).format(order=order)
            try:
                return self._fake.add_reply(previous, text, author=persona.handle)
            except ValueError:
                # The thread was deleted or rejected meanwhile: start a new one instead.
                self._last_thread.pop(persona.handle, None)
        text = self._random.choice(COMMENTS[persona.language]).format(order=order)
        thread = self._fake.add_comment(
            text,
            author=persona.handle,
            video_id=self._random.choice(list(DEFAULT_VIDEOS)),
        )
        self._last_thread[persona.handle] = thread["id"]
        return thread


def demo_channel(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of a YouTube channel pointing at a fake served at `base_url`
    (which also serves the token endpoint, at /token)."""
    base = base_url.rstrip("/")
    settings = {"base_url": base, "token_url": f"{base}/token", "channel_id": BRAND_CHANNEL_ID}
    credentials = {
        "access_token": DEMO_TOKEN,
        "refresh_token": DEMO_REFRESH_TOKEN,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    return settings, credentials


def main(argv: list[str] | None = None) -> None:
    serve_demo(
        argv,
        title="YouTube",
        port=8083,
        make_fake=FakeYouTube,
        generator=CommentGenerator,
    )


if __name__ == "__main__":
    main()
