"""Moderation of every new inbound item, inside ingest's transaction (docs/moderation.md).

Two steps, so that a page stays a fixed number of queries and each row is written once:
- `PageModeration.decide(placed, contacts)`, before the page's new conversations and messages
  are inserted: classifies each item (the configured backend, moderation.classifiers), reads
  its author's ban, allow-list, VIP and first-time facts (one or two queries for the page),
  evaluates the moderation rules (moderation.rules, cached per process) and applies what rules
  do to conversations in memory (department, assignee, priority, status, approval);
- `PageModeration.after_insert(messages)`, when the messages have ids: the outbox rows that
  hide or delete on the platform (delivered by the worker after commit, like any action), the
  moderation-queue cases, the decisions kept as evidence, tags, notifications, auto-replies,
  incidents, and the traffic that crisis detection reads.

What happens automatically:
- a banned author's item is hidden wherever the platform can hide, whatever the rules say;
- an allow-listed author's item is never hidden or deleted automatically: a rule that would do
  so sends it to the moderation queue instead, with the reason;
- a rule in suggest-only mode only puts its suggestion in the queue;
- storm mode on the channel (moderation.crisis) pauses auto-replies and makes every threshold
  stricter (moderation.rules.STORM_THRESHOLD_FACTOR);
- a platform that cannot hide (e-mail, Telegram private chats, …) gets the item in the queue
  with the reason, never a pretended hide: the item's state changes only when the platform
  confirms (inbox.actions.mark_outbound_sent).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from channels_integrations.base import InboundItem
from channels_integrations.models import ChannelAccount
from inbox.actions import enqueue_delivery, unavailable_reason
from inbox.business_hours import is_open
from inbox.conversation_actions import tags_by_name
from inbox.models import (
    Contact,
    Conversation,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
)
from inbox.sla import SlaBook
from inbox.team_config import TeamConfigCache
from moderation.classifiers.base import Classification, get_classifier
from moderation.models import CaseState, DecisionAction, ListKind, ModerationCase, PersonListing

logger = logging.getLogger(__name__)

# A score at or above this counts the item as toxic in the traffic crisis detection reads.
TOXIC_TRAFFIC_SCORE = 0.5

# Conversation fields ingest's own update of the page's conversations writes.
_WRITTEN_BY_INGEST = {"sentiment", "language"}
_CONVERSATION_ACTIONS = ("department_id", "assignee_id", "priority", "status")


@dataclass
class AuthorFacts:
    person_id: int | None = None
    banned: bool = False
    allowed: bool = False
    vip: bool = False
    first_time: bool = False


@dataclass
class Verdict:
    """What moderation decided for one new inbound item."""

    item: InboundItem
    conversation: Conversation
    classification: Classification
    author: AuthorFacts
    matches: list[Any] = field(default_factory=list)
    # "hide", "delete" or "": what is done on the platform without waiting for a person.
    automatic: str = ""
    automatic_rule: Any = None
    # Why the item is in the moderation queue (empty: it is not).
    reasons: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    notify_user_ids: set[int] = field(default_factory=set)
    notify_leads: bool = False
    auto_reply_id: int | None = None
    incident_level: int = 0

    @property
    def flagged(self) -> bool:
        return bool(self.reasons) or bool(self.automatic)

    @property
    def severity(self) -> float:
        c = self.classification
        return round(max(c.toxic_score, c.spam, 1.0 if self.author.banned else 0.0), 3)


class PageModeration:
    def __init__(self, account: ChannelAccount, *, now: datetime, sla_book: SlaBook) -> None:
        self.account = account
        self.now = now
        self.sla_book = sla_book
        self.verdicts: dict[str, Verdict] = {}
        # Existing conversations a rule changed: their earlier list facts (inbox.live) and
        # the fields to write after ingest's own update.
        self.was: dict[int, dict[str, object]] = {}
        self.existing_changes: dict[int, dict[str, Any]] = {}

    # Before the insert.

    def decide(
        self, placed: Sequence[tuple[InboundItem, Conversation]], contacts: dict[str, Contact]
    ) -> None:
        from moderation.crisis import in_storm
        from moderation.rules import ItemFacts, RuleSet

        inbound = [(item, conv) for item, conv in placed if not item.from_self]
        if not inbound:
            return
        classifier = get_classifier()
        rules = RuleSet.cached()
        storm = in_storm(self.account.pk)
        authors = author_facts(
            {
                contacts[item.author.external_id]
                for item, _ in inbound
                if item.author.external_id in contacts
            },
            with_history=rules.needs_first_time,
        )
        for item, conversation in inbound:
            try:
                classification = classifier.classify(item.text, language_hint=item.language)
            except Exception:
                # A classifier failing on one text must not stop the page: the item arrives
                # unclassified and the rules see neutral scores.
                logger.exception("classifier failed on item %s", item.external_id)
                classification = Classification(language=item.language[:12])
            contact = contacts.get(item.author.external_id)
            author = authors.get(contact.pk, AuthorFacts()) if contact else AuthorFacts()
            verdict = Verdict(item, conversation, classification, author)
            self.verdicts[item.external_id] = verdict
            if rules.has_rules:
                facts = ItemFacts(
                    text=item.text,
                    classification=classification,
                    channel_account_id=self.account.pk,
                    platform=self.account.platform,
                    kind=conversation.kind,
                    person_id=author.person_id,
                    banned=author.banned,
                    allowed=author.allowed,
                    vip=author.vip,
                    first_time=author.first_time,
                    in_working_hours=(
                        self._in_working_hours(conversation) if rules.needs_working_hours else None
                    ),
                    storm=storm,
                )
                verdict.matches = rules.evaluate(facts)
            self._judge(verdict, storm=storm)
            # The conversation's mood is its latest item's.
            if classification.sentiment and conversation.sentiment != classification.sentiment:
                self._change(conversation, "sentiment", classification.sentiment)
            # A platform that does not say the language: the classifier's, so replies and saved
            # replies come in the author's language.
            if not conversation.language and not item.language and classification.language:
                self._change(conversation, "language", classification.language)

    def _in_working_hours(self, conversation: Conversation) -> bool | None:
        department_id = self.sla_book.department_of(conversation)
        calendar = self.sla_book.calendars.get(department_id) if department_id else None
        return None if calendar is None else is_open(self.now, calendar)

    def _judge(self, verdict: Verdict, *, storm: bool) -> None:
        author = verdict.author
        if author.banned and not author.allowed:
            verdict.automatic = "hide"
            verdict.reasons.append(
                {
                    "rule": "Author banned",
                    "rule_id": None,
                    "suggest_only": False,
                    "actions": ["hide"],
                    "why": ["the author is banned"],
                    "guideline": "",
                }
            )
        for match in verdict.matches:
            actions = match.actions
            reason = {
                "rule": match.name,
                "rule_id": match.rule_id,
                "suggest_only": match.suggest_only,
                "actions": sorted(key for key, value in actions.items() if value),
                "why": list(match.reasons),
                "guideline": _guideline(self.account.pk, match.guideline_section),
            }
            if match.suggest_only:
                verdict.reasons.append(reason)
                continue
            wants = "delete" if actions.get("delete") else "hide" if actions.get("hide") else ""
            if wants and author.allowed:
                reason["why"] = [*reason["why"], "allow-listed author: not removed automatically"]
                verdict.reasons.append(reason)
            elif wants:
                if verdict.automatic != "delete":
                    verdict.automatic = wants
                    verdict.automatic_rule = match
                verdict.reasons.append(reason)
            elif actions.get("queue"):
                verdict.reasons.append(reason)
            verdict.tags.extend(actions.get("tags") or ())
            verdict.notify_user_ids.update(actions.get("notify_user_ids") or ())
            verdict.notify_leads = verdict.notify_leads or bool(actions.get("notify_leads"))
            if actions.get("auto_reply_saved_reply_id") and not storm:
                verdict.auto_reply_id = (
                    verdict.auto_reply_id or actions["auto_reply_saved_reply_id"]
                )
            if actions.get("incident_level"):
                verdict.incident_level = max(verdict.incident_level, int(actions["incident_level"]))
            conversation = verdict.conversation
            for key in _CONVERSATION_ACTIONS:
                if actions.get(key) not in (None, ""):
                    self._change(conversation, key, actions[key])
            if actions.get("require_approval"):
                self._change(conversation, "requires_approval", True)

    def _change(self, conversation: Conversation, name: str, value: Any) -> None:
        before = getattr(conversation, name)
        if before == value:
            return
        setattr(conversation, name, value)
        if conversation.pk is not None:
            if name not in _WRITTEN_BY_INGEST:
                self.existing_changes.setdefault(conversation.pk, {})[name] = value
            live_name = {"department_id": "department", "assignee_id": "assignee"}.get(name, name)
            self.was.setdefault(conversation.pk, {}).setdefault(live_name, before)

    def message_fields(self, item: InboundItem) -> tuple[dict[str, Any], str]:
        """The classifier scores and the language to store on the item's message."""
        verdict = self.verdicts.get(item.external_id)
        if verdict is None:
            return {}, item.language[:12]
        language = item.language[:12] or verdict.classification.language
        return verdict.classification.as_scores(), language

    # After the insert.

    def after_insert(self, messages: Iterable[Message], contacts: dict[str, Contact]) -> None:
        from moderation.actions import publish_cases_on_commit
        from moderation.crisis import raise_incident, record_traffic
        from moderation.evidence import decision_for, record_decisions

        if not self.verdicts:
            return
        by_external = {m.external_id: m for m in messages if m.external_id in self.verdicts}
        self._write_existing_changes()
        traffic: list[tuple[int, datetime, bool, bool]] = []
        cases: list[ModerationCase] = []
        decisions = []
        removals: list[OutboundAction] = []
        tags: dict[int, set[str]] = defaultdict(set)
        for external_id, verdict in self.verdicts.items():
            message = by_external.get(external_id)
            if message is None:
                continue
            c = verdict.classification
            traffic.append(
                (
                    self.account.pk,
                    verdict.item.created_at,
                    c.sentiment == "negative",
                    c.toxic_score >= TOXIC_TRAFFIC_SCORE,
                )
            )
            if verdict.tags:
                tags[message.conversation_id].update(verdict.tags)
            if not verdict.flagged:
                continue
            contact = contacts.get(verdict.item.author.external_id)
            # What the platform rules and the evidence read, without a query per item.
            message.channel_account = self.account
            message.conversation = verdict.conversation
            message.contact = contact
            scores = c.as_scores()
            automatic = verdict.automatic
            if automatic:
                kind = OutboundKind.DELETE if automatic == "delete" else OutboundKind.HIDE
                refusal = unavailable_reason(message, kind)
                if refusal:
                    verdict.reasons.append(
                        {
                            "rule": "Platform",
                            "rule_id": None,
                            "suggest_only": False,
                            "actions": [],
                            "why": [f"could not {automatic} automatically: {refusal}"],
                            "guideline": "",
                        }
                    )
                    automatic = ""
                else:
                    removals.append(
                        OutboundAction(
                            conversation_id=message.conversation_id,
                            kind=kind,
                            target_message=message,
                            target_external_id=message.external_id or "",
                            state=OutboundState.QUEUED,
                        )
                    )
            cases.append(
                ModerationCase(
                    message=message,
                    conversation_id=message.conversation_id,
                    channel_account_id=self.account.pk,
                    state=CaseState.PENDING,
                    reasons=verdict.reasons,
                    scores=scores,
                    auto_action=automatic,
                    severity=verdict.severity,
                    flagged_at=self.now,
                )
            )
            rule_match = verdict.automatic_rule
            first = verdict.reasons[0] if verdict.reasons else {}
            decision = decision_for(
                message=message,
                action=(
                    DecisionAction.DELETE
                    if automatic == "delete"
                    else DecisionAction.HIDE
                    if automatic == "hide"
                    else DecisionAction.SUGGEST
                    if all(r["suggest_only"] for r in verdict.reasons)
                    else DecisionAction.FLAG
                ),
                automatic=True,
                now=self.now,
                rule=None,
                scores=scores,
                guideline=(first.get("guideline") or ""),
                reason="; ".join(f"{r['rule']}: {', '.join(r['why'])}" for r in verdict.reasons)[
                    :2000
                ],
                contact=contact,
                channel=self.account,
            )
            decision.rule_id = rule_match.rule_id if rule_match else first.get("rule_id")
            decision.rule_name = (rule_match.name if rule_match else first.get("rule", ""))[:200]
            decisions.append(decision)
        if removals:
            OutboundAction.objects.bulk_create(removals)
            for action in removals:
                enqueue_delivery(action.id)
        if cases:
            # New messages: no case can exist for them yet (the one-to-one backs this up).
            ModerationCase.objects.bulk_create(cases)
            publish_cases_on_commit(case.pk for case in cases)
        if decisions:
            record_decisions(decisions)
        if traffic:
            record_traffic(traffic)
        if tags:
            _link_tags(tags)
        self._notify(by_external)
        self._auto_reply(by_external)
        levels = [v.incident_level for v in self.verdicts.values() if v.incident_level]
        if levels:
            raise_incident(
                channel_account_id=self.account.pk,
                level=max(levels),
                reason="raised by a moderation rule",
                now=self.now,
            )

    def _write_existing_changes(self) -> None:
        for conversation_id, changes in self.existing_changes.items():
            Conversation.objects.filter(pk=conversation_id).update(**changes)

    def _notify(self, by_external: dict[str, Message]) -> None:
        from inbox.approval import channel_leads
        from inbox.models import NotificationKind
        from inbox.notifications import notify_each

        wanted = [
            v
            for v in self.verdicts.values()
            if (v.notify_user_ids or v.notify_leads) and v.item.external_id in by_external
        ]
        if not wanted:
            return
        users = {
            u.pk: u
            for u in get_user_model().objects.filter(
                pk__in={pk for v in wanted for pk in v.notify_user_ids}, is_active=True
            )
        }
        leads = channel_leads(self.account.pk) if any(v.notify_leads for v in wanted) else []
        notices = []
        for verdict in wanted:
            recipients: list[Any] = [users[pk] for pk in verdict.notify_user_ids if pk in users]
            if verdict.notify_leads:
                recipients += [lead for lead in leads if lead.pk not in verdict.notify_user_ids]
            rule = next((r["rule"] for r in verdict.reasons), "") or (
                verdict.matches[0].name if verdict.matches else ""
            )
            # The stored text, cleaned by ingest (a NUL from the platform cannot be stored).
            text = by_external[verdict.item.external_id].text
            notices.append((recipients, verdict.conversation, f"{rule}: {text[:200]}"))
        notify_each(notices, kind=NotificationKind.MODERATION, actor=None)

    def _auto_reply(self, by_external: dict[str, Message]) -> None:
        from moderation.auto_reply import queue_auto_replies

        wanted = [
            (v.conversation, by_external[v.item.external_id], v.auto_reply_id)
            for v in self.verdicts.values()
            if v.auto_reply_id and v.item.external_id in by_external and not v.automatic
        ]
        if wanted:
            queue_auto_replies(wanted, now=self.now)


@dataclass(frozen=True)
class PersonLists:
    """Who is banned, allow-listed and VIP, by person id: few people, read once per process
    (inbox.team_config; dropped on any change of a person's flags or listings in this process,
    re-read by other processes within TEAM_CONFIG_SECONDS)."""

    banned: frozenset[int]
    allowed: frozenset[int]
    vip: frozenset[int]

    @classmethod
    def load(cls) -> PersonLists:
        flagged = list(
            Person.objects.filter(Q(banned=True) | Q(vip=True)).values_list("pk", "banned", "vip")
        )
        allowed = PersonListing.objects.filter(kind=ListKind.ALLOW, lifted_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )
        return cls(
            banned=frozenset(pk for pk, banned, _ in flagged if banned),
            allowed=frozenset(allowed.values_list("person_id", flat=True)),
            vip=frozenset(pk for pk, _, vip in flagged if vip),
        )


_PERSON_LISTS: TeamConfigCache[PersonLists] = TeamConfigCache(PersonLists.load)


def author_facts(contacts: Iterable[Contact], *, with_history: bool) -> dict[int, AuthorFacts]:
    """Ban, allow-list, VIP and (when rules ask) first-time facts by contact id: no query
    (PersonLists is cached), one when `with_history`."""
    lists = _PERSON_LISTS.get()
    facts = {
        contact.pk: AuthorFacts(
            person_id=contact.person_id,
            banned=contact.person_id in lists.banned,
            allowed=contact.person_id in lists.allowed,
            vip=contact.person_id in lists.vip,
        )
        for contact in contacts
    }
    if with_history and facts:
        from inbox.routing import person_facts

        for contact_id, history in person_facts(facts).items():
            if contact_id in facts:
                facts[contact_id].first_time = history.first_time
    return facts


def _guideline(channel_account_id: int, section: str) -> str:
    from moderation.guidelines import guideline_reason

    try:
        return guideline_reason(channel_account_id, section)
    except Exception:  # a missing guideline never stops moderation
        logger.exception("could not read the guideline of channel %s", channel_account_id)
        return ""


def _link_tags(tags: dict[int, set[str]]) -> None:
    """Tags set by rules, by name (inbox.conversation_actions.tags_by_name), linked in one
    insert."""
    found = {
        tag.name.lower(): tag
        for tag in tags_by_name(sorted({name for group in tags.values() for name in group}))
    }
    through = Conversation.tags.through
    through.objects.bulk_create(
        [
            through(conversation_id=conversation_id, tag_id=found[key].pk)
            for conversation_id, group in tags.items()
            for key in {" ".join(name.split())[:60].lower() for name in group}
            if key in found
        ],
        ignore_conflicts=True,
    )
