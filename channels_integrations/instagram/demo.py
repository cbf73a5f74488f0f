"""Keeps the fake Instagram account busy for the demo: posts by the brand, comments by followers.

`python -m channels_integrations.instagram.demo --port 8083` serves a FakeInstagram on loopback
(admin page at /__admin/) while a CommentGenerator adds a comment every few seconds, in German
and English, now and then as a reply in an existing thread. `demo_channel(base_url)` gives the
settings and credentials of a channel aimed at that fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels_integrations.demo_generator import DemoGenerator, serve_demo
from channels_integrations.facebook.demo import COMMENTS, FOLLOW_UPS
from channels_integrations.facebook.graph import DEFAULT_API_VERSION
from channels_integrations.instagram.fake import ACCOUNT_ID, DEMO_TOKEN, FakeInstagram


@dataclass(frozen=True)
class Follower:
    username: str
    language: str  # "de" or "en"


FOLLOWERS = (
    Follower("jana.koehler", "de"),
    Follower("tom_mueller89", "de"),
    Follower("lena.schroeder", "de"),
    Follower("oezlem.demir", "de"),
    Follower("bjoern.radelt", "de"),
    Follower("nordlicht.anke", "de"),
    Follower("kaethe.w", "de"),
    Follower("sam.rivera", "en"),
    Follower("priya.reads", "en"),
    Follower("meika.chen", "en"),
    Follower("dan.builds", "en"),
    Follower("aurelie.d", "en"),
    Follower("leah.writes", "en"),
)

CAPTIONS = (
    "Herbst, wir sind bereit 🍂 #neuekollektion",
    "New drop: the waterproof city jacket in three colours ☔",
    "Behind the scenes in unserem Kölner Store ✨",
    "Which colour should we make next? Tell us below 👇",
    "Nachhaltig verpackt, schnell geliefert 📦",
)

EMOJI_COMMENTS = ("😍😍😍", "🔥🔥", "Need this!! 🙌", "Wie schön 😍")


def demo_channel(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, credentials) of an Instagram channel aimed at a FakeInstagram at `base_url`."""
    settings = {"base_url": base_url, "ig_user_id": ACCOUNT_ID, "api_version": DEFAULT_API_VERSION}
    return settings, {"access_token": DEMO_TOKEN}


class CommentGenerator(DemoGenerator):
    """Adds a comment (sometimes a post, sometimes a reply in a thread) to `fake` every
    `interval` seconds (±30 %), from a daemon thread that `stop()` ends promptly."""

    item = "Instagram comment"

    def __init__(
        self,
        fake: FakeInstagram,
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
        self._threads: list[tuple[str, str]] = []  # (media id, top-level comment id)

    def emit(self) -> dict[str, Any]:
        """Add one comment now (publishing a post first when needed) and return it."""
        media = self._fake.media()
        if not media or self._random.random() < self._post_chance:
            media.insert(0, self._fake.add_media(self._random.choice(CAPTIONS)))
        follower = self._random.choice(FOLLOWERS)
        order = self._random.randint(40000, 59999)
        if self._threads and self._random.random() < self._follow_up_chance:
            media_id, parent_id = self._random.choice(self._threads[-10:])
            if self._fake.comment(parent_id) is not None:
                text = self._random.choice(FOLLOW_UPS[follower.language]).format(order=order)
                return self._fake.add_comment(
                    media_id, text, username=follower.username, parent_id=parent_id
                )
        target = media[min(int(self._random.expovariate(1.0)), len(media) - 1)]
        pool: tuple[str, ...] = COMMENTS[follower.language]
        if self._random.random() < 0.15:
            pool = EMOJI_COMMENTS
        text = self._random.choice(pool).format(order=order)
        comment = self._fake.add_comment(target["id"], text, username=follower.username)
        self._threads.append((target["id"], comment["id"]))
        return comment


def main(argv: list[str] | None = None) -> None:
    serve_demo(
        argv,
        title="Instagram",
        port=8083,
        make_fake=FakeInstagram,
        generator=CommentGenerator,
    )


if __name__ == "__main__":
    main()
