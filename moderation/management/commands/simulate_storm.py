"""`manage.py simulate_storm --channel NAME_OR_ID`: a shitstorm on one channel, for the demo.

A Facebook channel aimed at a running fake Facebook (the demo's) gets the storm the real way:
the comments are posted to the fake Page through its admin API and polled in by the real
connector, so automatic hides reach the fake platform like any others. Every other channel (or
a fake that does not answer) gets the items made here instead, through the real ingest path
(inbox.ingest.ingest_page: contacts, conversations, moderation, routing, live updates), one page
per simulated minute, with times spread over the last `--minutes` minutes, at the channel's
current cursor (which they leave where it is); those items exist only in the inbox, so a hide
of one of them fails visibly ("no longer on the platform"). Then detection runs and the command
prints the level.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Sum
from django.utils import timezone

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from channels_integrations.models import ChannelAccount, Platform
from channels_integrations.polling import poll_channel
from inbox.ingest import CursorMoved, ingest_page
from inbox.models import Message
from moderation.crisis import detect_crises, record_traffic
from moderation.incidents import ensure_default_levels
from moderation.models import Incident, IncidentStatus, TrafficBucket

KINDS = {
    "facebook": "comment",
    "instagram": "comment",
    "youtube": "comment",
    "telegram": "private_message",
    "email": "email",
}

ANGRY = (
    "Ihr habt eure Kunden komplett im Stich gelassen. Drei Wochen keine Antwort, keine Erstattung.",
    "Das neue Preismodell ist eine Frechheit. Ich kündige, und meine Freunde auch.",
    "Warum löscht ihr kritische Kommentare? Das macht es nur schlimmer.",
    "Seit dem Update funktioniert gar nichts mehr. Wann kommt endlich eine Stellungnahme?",
    "Ich warte seit 40 Minuten in der Hotline. Wirklich enttäuschend.",
    "Your statement answers none of the questions people are asking. Very disappointing.",
    "Three weeks and still no refund. This is not how you treat loyal customers.",
    "You raised prices and cut the service. Cancelling today.",
    "Deleting critical comments won't make this go away. Just own the mistake.",
    "The recall notice came after people were already hurt. Unacceptable.",
)
INSULTS = (
    "Ihr seid so unfassbar inkompetent, ihr Vollidioten.",
    "Was für ein Drecksladen. Schämt euch, ihr Versager.",
    "Halt die Klappe und gib mir mein Geld zurück, du Idiot.",
    "You are all clueless idiots. Pathetic company.",
    "What a bunch of incompetent morons. Shut up and fix it.",
    "Screw you and your garbage product, losers.",
)
SPAM = (
    "Verdiene 5000€ im Monat von zu Hause!!! Klick hier: http://reich-werden.example",
    "🔥🔥🔥 FREE iPhone giveaway 🔥🔥🔥 DM me now http://win-now.example",
    "Boost your followers fast! WhatsApp +49 170 1234567",
)
NEUTRAL = (
    "Gibt es schon einen Termin für das Statement?",
    "Is there an official update on this somewhere?",
    "Ich verstehe den Ärger, aber bitte bleibt sachlich.",
)
NEGATIVE = frozenset(ANGRY + INSULTS)
PEOPLE = (
    ("wutbuerger_k", "Klaus W."),
    ("anna_empört", "Anna"),
    ("maxmustermann", "Max M."),
    ("jule_b", "Jule Brandt"),
    ("tom_rage", "Tom"),
    ("sarah_k", "Sarah K."),
    ("angry_ann", "Ann Carter"),
    ("dave_no", "Dave"),
    ("crypto_king99", "💰 King"),
    ("priya_fed_up", "Priya"),
)


class Command(BaseCommand):
    help = "Simulate a shitstorm on one channel (demo): items through ingest, then detection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", required=True, help="channel name or id")
        parser.add_argument("--minutes", type=int, default=20)
        parser.add_argument("--per-minute", type=int, default=40)
        parser.add_argument("--negative", type=float, default=0.7, help="share of angry items")
        parser.add_argument("--toxic", type=float, default=0.2, help="share of insults")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        channel = self._channel(options["channel"])
        minutes, per_minute = options["minutes"], options["per_minute"]
        if not 1 <= minutes <= 6 * 60 or not 1 <= per_minute <= 1000:
            raise CommandError("--minutes 1 to 360, --per-minute 1 to 1000")
        chance = random.Random(options["seed"])  # noqa: S311 (demo texts)
        ensure_default_levels()
        now = timezone.now()
        texts = [
            self._item(channel.platform, now, chance, options) for _ in range(minutes * per_minute)
        ]
        polled = self._through_fake_facebook(channel, texts)
        if polled is not None:
            self.stdout.write(
                f"Posted {len(texts)} comments to the fake Facebook Page; polled in {polled}."
            )
            self._report(channel)
            return
        added = 0
        for minute in range(minutes):
            moment = now - timedelta(minutes=minutes - minute)
            items = [
                self._item(channel.platform, moment, chance, options) for _ in range(per_minute)
            ]
            added += self._ingest(channel, items)
        self.stdout.write(
            f"Ingested {added} items on {channel.name} over the last {minutes} minutes "
            f"(through inbox.ingest.ingest_page; the fakes run in another process)."
        )
        self._report(channel)

    def _through_fake_facebook(
        self, channel: ChannelAccount, items: list[InboundItem]
    ) -> int | None:
        """Post the items to the fake Facebook the channel polls and poll them in; None when
        the channel is not aimed at a fake Facebook that answers."""
        base = str((channel.settings or {}).get("base_url", "")).rstrip("/")
        if channel.platform != Platform.FACEBOOK or not base:
            return None
        session = requests.Session()
        ids: list[str] = []
        try:
            for item in items:
                response = session.post(
                    f"{base}/__admin/seed",
                    json={
                        "text": item.text,
                        "author_name": item.author.display_name,
                        "author_id": item.author.external_id,
                    },
                    timeout=5,
                )
                if response.status_code != 201:
                    return None
                ids.append(str(response.json()["id"]))
        except (requests.RequestException, ValueError, KeyError):
            return None
        # The running app's worker polls them in (and delivers the hides at once); without
        # one, this command polls after a while itself (its hides then wait for the outbox's
        # stalled-delivery sweep of the app).
        started, polled, seen = time.monotonic(), 0, 0
        while polled < len(items) and time.monotonic() - started < 180:
            count = Message.objects.filter(channel_account=channel, external_id__in=ids).count()
            if count > seen:
                seen, started = count, time.monotonic()
            polled = count
            if time.monotonic() - started > 20:
                poll_channel(channel.pk)
            time.sleep(1)
        return polled

    def _report(self, channel: ChannelAccount) -> None:
        detect_crises()
        incident = Incident.objects.filter(
            status=IncidentStatus.OPEN, channel_account=channel
        ).first()
        if incident is None:
            self.stdout.write("Detection: no incident (below every level's thresholds).")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Detection: level {incident.level} — {incident.title} "
                    f"(incident {incident.pk}; {incident.metrics.get('count')} items in the "
                    f"window, {incident.metrics.get('ratio')}x usual)"
                )
            )

    def _channel(self, name_or_id: str) -> ChannelAccount:
        found = ChannelAccount.objects.filter(name=name_or_id).first()
        if found is None and name_or_id.isdigit():
            found = ChannelAccount.objects.filter(pk=int(name_or_id)).first()
        if found is None:
            raise CommandError(f"No channel named or numbered {name_or_id!r}.")
        return found

    def _item(
        self, platform: str, moment: Any, chance: random.Random, options: dict[str, Any]
    ) -> InboundItem:
        roll = chance.random()
        if roll < options["toxic"]:
            text = chance.choice(INSULTS)
        elif roll < options["toxic"] + options["negative"]:
            text = chance.choice(ANGRY)
        elif roll < options["toxic"] + options["negative"] + 0.1:
            text = chance.choice(SPAM)
        else:
            text = chance.choice(NEUTRAL)
        handle, name = chance.choice(PEOPLE)
        key = f"storm-{uuid.uuid4().hex[:16]}"
        author_id = f"storm-{handle}-{chance.randint(1, 400)}"
        return InboundItem(
            external_id=key,
            thread_key=key,
            kind=KINDS.get(platform, "mention"),
            author=InboundAuthor(external_id=author_id, handle=handle, display_name=name),
            text=text,
            created_at=moment + timedelta(seconds=chance.uniform(0, 59)),
        )

    def _ingest(self, channel: ChannelAccount, items: list[InboundItem]) -> int:
        before = _inbound(channel.pk)
        for _attempt in range(3):
            cursor = ChannelAccount.objects.values_list("cursor", flat=True).get(pk=channel.pk)
            page = FetchedPage(items=items, cursor=cursor, caught_up=True)
            try:
                result = ingest_page(
                    channel_account_id=channel.pk, expected_cursor=cursor, page=page
                )
                break
            except CursorMoved:  # a poll moved it meanwhile: read it again
                continue
        else:
            raise CommandError("The channel's cursor keeps moving; pause its polling and retry.")
        if _inbound(channel.pk) == before:
            # This ingest does not count traffic yet: count the page here, with what each
            # text was written as (angry and insulting texts are negative, insults toxic).
            rows = [
                (channel.pk, item.created_at, item.text in NEGATIVE, item.text in INSULTS)
                for item in items
            ]
            record_traffic(rows)
        return result.new_messages


def _inbound(channel_id: int) -> int:
    return (
        TrafficBucket.objects.filter(channel_account_id=channel_id).aggregate(n=Sum("inbound"))["n"]
        or 0
    )
