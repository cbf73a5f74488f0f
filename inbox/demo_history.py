"""A month of past work for the demo workspace, so that the reports (docs/reports.md) have
something to show on a fresh `make run`: conversations on every demo channel with a weekday and
hour rhythm, the agents' replies, resolutions, SLA targets met and missed, tags, sentiment,
moderation decisions.

`seed_demo_history()` writes the rows directly in a few bulk inserts, in one transaction, and
not through ingest: ingest would count the items as traffic of "now" (a false incident), notify
people and publish live events. What it writes is therefore shaped the way ingest, the SLA
book and the moderation evidence would have left it (denormalized fields, SLA due times through
`inbox.sla.SlaBook`, decisions through `moderation.evidence`), and left so that no periodic
task picks it up: every conversation is resolved or ignored, except at most one per channel
answered and pending on the customer (its SLA clocks paused, nothing due), all assigned.

It writes no crisis-detection traffic (moderation.TrafficBucket) on purpose: a baseline true
to this month (a few items an hour a channel) would make the live demo's generators, which post
every 8 to 16 seconds a channel, look like a storm within a minute (docs/reports.md, "Demo
data"). Without history, detection applies only its fixed thresholds until the live traffic
has made a baseline of its own.

The texts come from the fake platforms' demo generators (channels_integrations/*/demo.py), in
German and English; the agents' answers and the few abusive comments are the pools below.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from channels_integrations.models import ChannelAccount, Platform
from channels_integrations.text import preview
from inbox.conversation_actions import tags_by_name
from inbox.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationKind,
    ConversationStatus,
    Department,
    Direction,
    EventKind,
    Message,
    Person,
    PlatformState,
    Priority,
    SlaBreach,
)
from inbox.sla import SlaBook, breach_event
from moderation.classifiers.base import Classification, get_classifier
from moderation.evidence import decision_for, record_decisions
from moderation.models import DecisionAction, ModerationRule

# Every row of the history carries it (thread keys, external ids): the marker that makes the
# seeding run once, and what tells the history apart from the live demo's items.
HISTORY_PREFIX = "demo-history-"
# About 2,250 conversations in 30 days over the seven demo channels.
CONVERSATIONS_PER_DAY = 75
# The history stops this long before `now`: the live demo fills the present, and no history
# item lands in crisis detection's window.
QUIET_END = timedelta(hours=2)
# The demo team (demo_setup's users) and how the work is shared among them.
TEAM = (("agent", 0.5), ("trainee", 0.3), ("lead", 0.2))
MODERATOR = "lead"
BATCH = 500


# Per platform: conversation kind, share of the volume, and how much of it comes in the evening
# (Instagram peaks after work) and at weekends.
@dataclass(frozen=True)
class _Rhythm:
    kind: str
    weight: float
    evening: float
    weekend: float


RHYTHMS: dict[str, _Rhythm] = {
    Platform.FACEBOOK: _Rhythm(ConversationKind.COMMENT, 1.3, 0.35, 0.5),
    Platform.INSTAGRAM: _Rhythm(ConversationKind.COMMENT, 1.2, 1.4, 0.9),
    Platform.EMAIL: _Rhythm(ConversationKind.EMAIL, 1.0, 0.1, 0.25),
    Platform.X: _Rhythm(ConversationKind.MENTION, 0.8, 0.4, 0.6),
    Platform.TELEGRAM: _Rhythm(ConversationKind.PRIVATE_MESSAGE, 0.7, 0.5, 0.6),
    Platform.YOUTUBE: _Rhythm(ConversationKind.COMMENT, 0.6, 0.6, 0.8),
    Platform.MASTODON: _Rhythm(ConversationKind.MENTION, 0.4, 0.35, 0.6),
}

# Demo content (what the agents wrote and what the moderation removed), not interface text.
REPLIES = {
    "de": (
        "Hallo {name}, danke für Ihre Nachricht! Wir haben das geprüft und melden uns mit "
        "allen Details per Direktnachricht.",
        "Hallo {name}, das tut uns leid. Die Sendung ist unterwegs und kommt in den nächsten "
        "zwei Tagen bei Ihnen an.",
        "Vielen Dank für das Lob, {name}! Wir geben es gern an das Team weiter.",
        "Hallo {name}, die korrigierte Rechnung ist soeben an Ihre E-Mail-Adresse rausgegangen.",
        "Hallo {name}, ein Umtausch ist in jeder Filiale möglich, bitte bringen Sie den Beleg mit.",
        "Danke für den Hinweis, {name}! Unser Technik-Team kümmert sich bereits darum.",
    ),
    "en": (
        "Hi {name}, thanks for reaching out! We've looked into it and sent you the details "
        "in a direct message.",
        "Sorry about that, {name}. Your parcel is on its way and should arrive within two days.",
        "Thank you so much, {name}! We'll pass this on to the team.",
        "Hi {name}, the corrected invoice is on its way to your e-mail address.",
        "Hi {name}, yes, you can exchange it in any of our stores, just bring the receipt.",
        "Thanks for letting us know, {name}! Our tech team is already on it.",
    ),
}
ABUSE = {
    "de": (
        "Ihr seid doch alle unfähige Idioten.",
        "Was für ein Drecksladen, ihr Vollidioten!",
    ),
    "en": (
        "You are all idiots, worst company ever.",
        "Shut up, you stupid morons.",
    ),
}
# Topic tags by what the first message talks about; "Lob" for positive ones.
TOPICS = (
    ("Rechnung", ("rechnung", "invoice", "gutschein", "discount", "bezahl", "paypal")),
    ("Lieferung", ("bestellung", "order", "paket", "liefer", "deliver", "versand", "ship")),
    ("Bug", ("crash", "funktioniert nicht", "app ", "fehler", "error")),
)
PRAISE_TAG = "Lob"
BILLING_TAG = "Rechnung"


@dataclass(frozen=True)
class _Voice:
    """What customers write on one platform: first messages and follow-ups by language."""

    first: Mapping[str, Sequence[str]]
    follow_ups: Mapping[str, Sequence[str]]
    posts: tuple[str, ...] = ()


def _voices() -> dict[str, _Voice]:
    """The demo generators' texts (imported here: they load the fake servers' modules)."""
    from channels_integrations.email import demo as email
    from channels_integrations.facebook import demo as facebook
    from channels_integrations.instagram import demo as instagram
    from channels_integrations.mastodon import demo as mastodon
    from channels_integrations.telegram import demo as telegram
    from channels_integrations.x import demo as x
    from channels_integrations.youtube import demo as youtube

    mails = {
        lang: tuple(body for _subject, body in mails) for lang, mails in email.FIRST_MAILS.items()
    }
    return {
        Platform.FACEBOOK: _Voice(facebook.COMMENTS, facebook.FOLLOW_UPS, facebook.POSTS),
        Platform.INSTAGRAM: _Voice(
            {
                lang: (*texts, *instagram.EMOJI_COMMENTS)
                for lang, texts in facebook.COMMENTS.items()
            },
            facebook.FOLLOW_UPS,
            instagram.CAPTIONS,
        ),
        Platform.EMAIL: _Voice(mails, email.FOLLOW_UPS),
        Platform.X: _Voice(x.MENTIONS, x.FOLLOW_UPS),
        Platform.TELEGRAM: _Voice(telegram.MESSAGES, telegram.FOLLOW_UPS),
        Platform.YOUTUBE: _Voice(youtube.COMMENTS, youtube.FOLLOW_UPS),
        Platform.MASTODON: _Voice(mastodon.MENTIONS, mastodon.FOLLOW_UPS),
    }


# Customers: a pool of people, some of them on several networks (one Person, several Contacts).
CUSTOMERS = (
    ("Jana Köhler", "de"),
    ("Tom Müller", "de"),
    ("Lena Schröder", "de"),
    ("Jürgen Becker", "de"),
    ("Özlem Demir", "de"),
    ("Käthe Wagner", "de"),
    ("Björn Hansen", "de"),
    ("Mareike Groß", "de"),
    ("Anke Petersen", "de"),
    ("Felix Brandt", "de"),
    ("Sabine Krüger", "de"),
    ("Murat Yilmaz", "de"),
    ("Nina Hoffmann", "de"),
    ("Stefan Lorenz", "de"),
    ("Claudia Vogel", "de"),
    ("Paul Richter", "de"),
    ("Sam Rivera", "en"),
    ("Priya Natarajan", "en"),
    ("Oliver Grant", "en"),
    ("Mei-Ka Chen", "en"),
    ("Dan O'Connor", "en"),
    ("Aurélie Dubois", "en"),
    ("Leah Morgan", "en"),
    ("Jonas Berg", "en"),
    ("Chloe Martin", "en"),
    ("Ravi Kapoor", "en"),
)
# The same person on so many networks at most; the first customers are the loyal ones.
NETWORKS_PER_CUSTOMER = 3


@dataclass
class _Plan:
    """One conversation of the history before it is written."""

    channel: ChannelAccount
    contact: Contact
    name: str
    language: str
    start: datetime
    text: str
    classification: Classification
    assignee: Any
    department: Department | None
    priority: int
    tags: list[str]
    # (sent_at, inbound?, text, classification or None), oldest first, the start included.
    messages: list[tuple[datetime, bool, str, Classification | None]] = field(default_factory=list)
    status: str = ConversationStatus.RESOLVED
    closed_at: datetime | None = None
    abusive: bool = False


def seed_demo_history(*, days: int = 30, now: datetime | None = None, seed: int = 7) -> int:
    """Write `days` of past work on the demo channels (those demo_setup creates) and return
    the number of conversations written; 0 when the history is there already (any conversation
    whose thread key starts with HISTORY_PREFIX) or the demo workspace is not.

    One transaction (a second run at the same time fails on the threads' unique constraint and
    leaves nothing); deterministic for one `seed` and `now`. Sends no notification, queues no
    outbound action, publishes no live event; leaves nothing for wake_snoozed, assign_waiting,
    check_sla or detect_crises to act on (see the module docstring).
    """
    now = now or timezone.now()
    if Conversation.objects.filter(thread_key__startswith=HISTORY_PREFIX).exists():
        return 0
    channels = [
        channel
        for channel in ChannelAccount.objects.filter(name__endswith="(demo)").order_by("pk")
        if channel.platform in RHYTHMS
    ]
    users = {
        user.username: user
        for user in get_user_model().objects.filter(username__in=[name for name, _ in TEAM])
    }
    departments = {
        department.slug: department
        for department in Department.objects.filter(slug__in=("community", "billing"))
    }
    if not channels or len(users) < len(TEAM) or "community" not in departments:
        return 0
    with transaction.atomic():
        history = _History(
            rng=random.Random(seed),  # noqa: S311 (demo data, not secrets)
            now=now,
            start=now - timedelta(days=days),
            channels=channels,
            users=users,
            departments=departments,
        )
        return history.write()


class _History:
    """One seeding run: the random draws, the demo workspace's rows it needs, the SLA book."""

    def __init__(
        self,
        *,
        rng: random.Random,
        now: datetime,
        start: datetime,
        channels: list[ChannelAccount],
        users: dict[str, Any],
        departments: dict[str, Department],
    ) -> None:
        self.rng = rng
        self.now = now
        self.start = start
        self.end = now - QUIET_END
        self.channels = channels
        self.users = users
        self.departments = departments
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.voices = _voices()
        self.classifier = get_classifier()
        self._classified: dict[tuple[str, str], Classification] = {}
        self.book = SlaBook.load()
        self._by_conversation: dict[int, list[Message]] = defaultdict(list)
        self.billing_channels = set(
            departments["billing"].channel_accounts.values_list("pk", flat=True)
            if "billing" in departments
            else ()
        )

    def write(self) -> int:
        contacts = self._contacts()
        plans = list(self._plan(contacts))
        conversations = self._conversations(plans)
        self._messages(plans, conversations)
        self._tags(plans, conversations)
        self._moderation(plans, conversations)
        return len(conversations)

    def _contacts(self) -> dict[str, list[tuple[Contact, str, str]]]:
        """Per platform, the customers found there: (contact, name, language)."""
        persons = [Person(display_name=name) for name, _language in CUSTOMERS]
        Person.objects.bulk_create(persons)
        _backdate(persons, [self.start] * len(persons))
        contacts: list[Contact] = []
        found: dict[str, list[tuple[Contact, str, str]]] = defaultdict(list)
        platforms = [channel.platform for channel in self.channels]
        for number, (person, (name, language)) in enumerate(zip(persons, CUSTOMERS, strict=True)):
            for platform in self.rng.sample(platforms, min(NETWORKS_PER_CUSTOMER, len(platforms))):
                handle = name.lower().replace(" ", ".").replace("'", "")
                contact = Contact(
                    platform=platform,
                    external_id=f"{HISTORY_PREFIX}{number}",
                    handle=handle,
                    display_name=name,
                    person=person,
                )
                contacts.append(contact)
                found[platform].append((contact, name, language))
        Contact.objects.bulk_create(contacts)
        return found

    # Planning: no query, every time and text is drawn here.

    def _plan(self, contacts: dict[str, list[tuple[Contact, str, str]]]) -> Iterable[_Plan]:
        """The conversations, hour by hour: a Poisson count per channel and hour from the
        platform's rhythm, scaled to CONVERSATIONS_PER_DAY."""
        hours = int((self.end - self.start).total_seconds() // 3600)
        first_hour = self.start.replace(minute=0, second=0, microsecond=0)
        weights = {
            channel.pk: [
                self._intensity(channel.platform, first_hour + timedelta(hours=h))
                for h in range(hours)
            ]
            for channel in self.channels
        }
        total = sum(sum(values) for values in weights.values())
        scale = CONVERSATIONS_PER_DAY * hours / 24 / total if total else 0.0
        pending_left = {channel.pk: 1 for channel in self.channels}
        for h in range(hours):
            hour = first_hour + timedelta(hours=h)
            for channel in self.channels:
                people = contacts.get(channel.platform)
                if not people:
                    continue
                for _ in range(_poisson(self.rng, weights[channel.pk][h] * scale)):
                    at = hour + timedelta(seconds=self.rng.uniform(0, 3600))
                    if not self.start <= at < self.end:
                        continue
                    yield self._one(channel, people, at, pending_left)

    def _intensity(self, platform: str, at: datetime) -> float:
        """Relative traffic at `at` (local time): office hours on weekdays, the platform's
        evening share after work, little at night, its weekend share on Saturday and Sunday."""
        rhythm = RHYTHMS[platform]
        local = at.astimezone(self.zone)
        hour = local.hour
        if 9 <= hour < 18:
            level = 1.0
        elif hour in (7, 8):
            level = 0.5
        elif 18 <= hour < 23:
            level = rhythm.evening
        else:
            level = 0.08
        if local.weekday() >= 5:
            level *= rhythm.weekend
        return rhythm.weight * level

    def _one(
        self,
        channel: ChannelAccount,
        people: Sequence[tuple[Contact, str, str]],
        at: datetime,
        pending_left: dict[int, int],
    ) -> _Plan:
        rng = self.rng
        # Recurring customers: the first ones of the pool write far more often.
        index = min(int(rng.paretovariate(1.2)) - 1, len(people) - 1)
        contact, name, language = people[index]
        voice = self.voices[channel.platform]
        abusive = rng.random() < 0.03
        text = _fill(rng.choice((ABUSE if abusive else voice.first)[language]), name, rng)
        scores = self._classify(text, language)
        tags = [PRAISE_TAG] if scores.sentiment == "positive" else []
        lowered = text.lower()
        tags += [tag for tag, words in TOPICS if any(word in lowered for word in words)]
        billing = BILLING_TAG in tags and channel.pk in self.billing_channels
        department = self.departments["billing" if billing else "community"]
        members = [(self.users[username], weight) for username, weight in TEAM]
        if billing:  # Billing is the agent's and the lead's (demo_setup's memberships)
            members = [(user, w) for user, w in members if user.username != "trainee"]
        assignee = rng.choices([u for u, _ in members], [w for _, w in members])[0]
        urgent = channel.platform == Platform.EMAIL and rng.random() < 0.15
        plan = _Plan(
            channel=channel,
            contact=contact,
            name=name,
            language=language,
            start=at,
            text=text,
            classification=scores,
            assignee=assignee,
            department=department,
            priority=Priority.URGENT if urgent else Priority.NORMAL,
            tags=tags,
            abusive=abusive,
        )
        plan.messages.append((at, True, text, scores))
        if abusive:
            plan.status = ConversationStatus.IGNORED
            plan.closed_at = at + timedelta(minutes=rng.uniform(5, 90))
            return plan
        # Our first answer: log-normal, median about 1.5 hours (40 minutes when urgent), a
        # long tail past a day; never in the night (then the early shift answers).
        reply = self._daytime(at + _lognormal(rng, 0.7 if urgent else 1.6, 1.25))
        if reply >= self.end:
            reply = at + (self.end - at) * rng.uniform(0.2, 0.8)
        plan.messages.append((reply, False, self._reply(language, name), None))
        if rng.random() < 0.25:
            follow = at + _lognormal(rng, 0.8, 1.0)
            plan.messages.append((follow, True, self._follow_up(voice, language, name), None))
            if follow >= reply:
                again = self._daytime(follow + _lognormal(rng, 1.0, 1.0))
                plan.messages.append((again, False, self._reply(language, name), None))
        # What would only happen after the history's end is left to the live demo.
        plan.messages = sorted((m for m in plan.messages if m[0] < self.end), key=lambda m: m[0])
        last, last_inbound = plan.messages[-1][0], plan.messages[-1][1]
        closed = self._daytime(last + _lognormal(rng, 2.5, 1.1))
        if closed >= self.end:
            if pending_left[channel.pk] and not last_inbound:
                # Answered, waiting on the customer: the live workspace's "pending" example.
                pending_left[channel.pk] -= 1
                plan.status = ConversationStatus.PENDING
                closed = last + timedelta(minutes=1)
            else:
                closed = last + (self.end - last) * rng.uniform(0.05, 0.9)
        plan.closed_at = closed
        return plan

    def _daytime(self, at: datetime) -> datetime:
        """`at`, or the next morning's first hours when it falls between 22:00 and 7:00."""
        local = at.astimezone(self.zone)
        if 7 <= local.hour < 22:
            return at
        morning = local.replace(hour=7, minute=0, second=0, microsecond=0)
        if local.hour >= 22:
            morning += timedelta(days=1)
        return morning + timedelta(minutes=self.rng.uniform(10, 120))

    def _classify(self, text: str, language: str) -> Classification:
        key = (text, language)
        if key not in self._classified:
            self._classified[key] = self.classifier.classify(text, language_hint=language)
        return self._classified[key]

    def _follow_up(self, voice: _Voice, language: str, name: str) -> str:
        return _fill(self.rng.choice(voice.follow_ups[language]), name, self.rng)

    def _reply(self, language: str, name: str) -> str:
        return self.rng.choice(REPLIES[language]).replace("{name}", name.split()[0])

    # Writing: a few bulk statements a table.

    def _conversations(self, plans: list[_Plan]) -> list[Conversation]:
        """The conversations with their SLA targets (as SlaBook starts them), answers and
        closing applied; the breaches they collect are written with their events."""
        conversations = []
        for number, plan in enumerate(plans):
            inbound = [m for m in plan.messages if m[1]]
            last = plan.messages[-1]
            voice = self.voices[plan.channel.platform]
            post = self.rng.choice(voice.posts) if voice.posts else ""
            conversation = Conversation(
                channel_account=plan.channel,
                kind=RHYTHMS[plan.channel.platform].kind,
                thread_key=f"{HISTORY_PREFIX}{number}",
                contact=plan.contact,
                post_text=post,
                post_external_id=f"{HISTORY_PREFIX}post-{voice.posts.index(post)}" if post else "",
                status=ConversationStatus.OPEN,
                priority=plan.priority,
                assignee=plan.assignee,
                department=plan.department,
                language=plan.language,
                sentiment=plan.classification.sentiment,
                last_message_at=last[0],
                last_message_preview=preview(last[2]),
                last_message_direction=Direction.INBOUND if last[1] else Direction.OUTBOUND,
                message_count=len(plan.messages),
                waiting_since=inbound[-1][0] if last[1] else None,
            )
            # The book records missed targets of saved conversations only (by pk): a stand-in
            # pk until the insert lets every SLA field be final before it, with no update.
            conversation.pk = number + 1
            self.book.start(conversation, plan.start)
            for at, from_customer, _text, _scores in plan.messages[1:]:
                if from_customer:
                    self.book.on_inbound(conversation, at)
                else:
                    self.book.on_reply(conversation, at)
            assert plan.closed_at is not None
            self.book.on_status(conversation, self._before(plan), plan.status, plan.closed_at)
            conversation.status = plan.status
            conversation.pk = None
            conversations.append(conversation)
        Conversation.objects.bulk_create(conversations, batch_size=BATCH)
        events: list[tuple[ConversationEvent, datetime]] = []
        for plan, conversation in zip(plans, conversations, strict=True):
            events.append(
                (
                    ConversationEvent(
                        conversation=conversation,
                        kind=EventKind.CONVERSATION_CREATED,
                        data={"thread_key": conversation.thread_key, "kind": conversation.kind},
                    ),
                    plan.start,
                )
            )
            assert plan.closed_at is not None
            events.append(
                (
                    ConversationEvent(
                        conversation=conversation,
                        actor=self.users[MODERATOR] if plan.abusive else plan.assignee,
                        kind=EventKind.STATUS_CHANGED,
                        data={"before": self._before(plan), "after": plan.status},
                    ),
                    plan.closed_at,
                )
            )
        breaches, self.book.missed = self.book.missed, []
        for row in breaches:
            row.conversation_id = conversations[row.conversation_id - 1].pk
        SlaBreach.objects.bulk_create(breaches, batch_size=BATCH)
        for row in breaches:
            events.append(
                (
                    breach_event(row.conversation_id, row.kind, row.due_at, row.policy_id),
                    row.breached_at,
                )
            )
        _create_events(events)
        return conversations

    @staticmethod
    def _before(plan: _Plan) -> str:
        """The status a conversation was closed (or set pending) from."""
        return ConversationStatus.NEW if plan.abusive else ConversationStatus.OPEN

    def _messages(self, plans: list[_Plan], conversations: list[Conversation]) -> None:
        rows: list[Message] = []
        for plan, conversation in zip(plans, conversations, strict=True):
            for index, (at, inbound, text, scores) in enumerate(plan.messages):
                hidden = plan.abusive and index == 0
                rows.append(
                    Message(
                        conversation=conversation,
                        channel_account=plan.channel,
                        external_id=f"{conversation.thread_key}-{index}",
                        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                        contact=plan.contact if inbound else None,
                        author=None if inbound else plan.assignee,
                        text=text,
                        language=plan.language,
                        classifier_scores=(
                            scores or self._classify(text, plan.language)
                        ).as_scores()
                        if inbound
                        else {},
                        platform_state=PlatformState.HIDDEN if hidden else PlatformState.VISIBLE,
                        platform_state_changed_at=at + timedelta(seconds=30) if hidden else None,
                        sent_at=at,
                    )
                )
        Message.objects.bulk_create(rows, batch_size=BATCH)
        # created_at is auto_now_add (every insert sets "now"): one update each moves the
        # history's rows to their time, a conversation's being its first message's.
        history = Message.objects.filter(conversation__thread_key__startswith=HISTORY_PREFIX)
        history.update(created_at=F("sent_at"))
        first = history.filter(conversation=OuterRef("pk")).order_by("sent_at", "pk")
        Conversation.objects.filter(thread_key__startswith=HISTORY_PREFIX).update(
            created_at=Subquery(first.values("sent_at")[:1])
        )
        for row in rows:
            self._by_conversation[row.conversation_id].append(row)

    def _tags(self, plans: list[_Plan], conversations: list[Conversation]) -> None:
        names = {name for plan in plans for name in plan.tags}
        tags = {tag.name.lower(): tag for tag in tags_by_name(sorted(names))}
        through = Conversation.tags.through
        through.objects.bulk_create(
            [
                through(conversation_id=conversation.pk, tag_id=tags[name.lower()].pk)
                for plan, conversation in zip(plans, conversations, strict=True)
                for name in dict.fromkeys(plan.tags)
                if name.lower() in tags
            ],
            batch_size=BATCH,
        )

    def _moderation(self, plans: list[_Plan], conversations: list[Conversation]) -> None:
        """The abusive comments: hidden automatically by the insult rule, half of them
        confirmed by the lead later (the decisions are evidence: written once, as ingest and
        the moderation queue would)."""
        rule = ModerationRule.objects.filter(name="Hide insults and hate").first()
        moderator = self.users[MODERATOR]
        decisions = []
        for plan, conversation in zip(plans, conversations, strict=True):
            if not plan.abusive:
                continue
            message = self._by_conversation[conversation.pk][0]
            scores = plan.classification.as_scores()
            decisions.append(
                decision_for(
                    message=message,
                    action=DecisionAction.HIDE,
                    automatic=True,
                    now=plan.start + timedelta(seconds=30),
                    rule=rule,
                    scores=scores,
                    guideline=rule.guideline_section if rule else "",
                    contact=plan.contact,
                    channel=plan.channel,
                )
            )
            if self.rng.random() < 0.5:
                assert plan.closed_at is not None
                decisions.append(
                    decision_for(
                        message=message,
                        action=DecisionAction.CONFIRM_HIDE,
                        automatic=False,
                        now=plan.closed_at,
                        actor=moderator,
                        scores=scores,
                        contact=plan.contact,
                        channel=plan.channel,
                    )
                )
        recorded = record_decisions(decisions)
        # record_decisions wrote each decision's MODERATED event "now": move it to the decision.
        when = {decision.pk: decision.created_at for decision in recorded}
        events = list(
            ConversationEvent.objects.filter(
                kind=EventKind.MODERATED,
                conversation_id__in={d.conversation_id_at for d in recorded},
            )
        )
        for event in events:
            event.created_at = when.get(event.data.get("decision_id"), event.created_at)
        ConversationEvent.objects.bulk_update(events, ["created_at"], batch_size=BATCH)


# Helpers.


def _create_events(events: list[tuple[ConversationEvent, datetime]]) -> None:
    rows = [event for event, _at in events]
    ConversationEvent.objects.bulk_create(rows, batch_size=BATCH)
    _backdate(rows, [at for _event, at in events])


def _backdate(rows: Sequence[models.Model], times: Sequence[datetime]) -> None:
    """Set `created_at` of freshly inserted rows: an auto_now_add field takes "now" on every
    insert, bulk ones included, so the history's times go in with a second statement."""
    if not rows:
        return
    for row, at in zip(rows, times, strict=True):
        row.created_at = at  # type: ignore[attr-defined]
    type(rows[0])._default_manager.bulk_update(rows, ["created_at"], batch_size=BATCH)


def _fill(text: str, name: str, rng: random.Random) -> str:
    """A generator's template with its order number and the customer's name."""
    order = str(rng.randint(100000, 999999))
    return text.replace("{order}", order).replace("{name}", name)


def _lognormal(rng: random.Random, median_hours: float, sigma: float) -> timedelta:
    return timedelta(hours=median_hours * math.exp(rng.gauss(0.0, sigma)))


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: the means here are a few items an hour)."""
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
