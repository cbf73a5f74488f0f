"""Routing rules: every new conversation runs through the enabled rules in order, and the rules
it matches set its department, assignee, priority and tags (docs/routing.md).

Three steps, all inside ingest's transaction:
- `RuleBook.load()` reads the enabled rules with their channels, tags and the facts their
  actions need in a fixed number of queries, and compiles each rule's keywords once;
- `book.route(conversations, first_texts, persons)` decides in memory, before the new
  conversations are inserted, so each is written once with its department, assignee and
  priority; `route_new_conversations` does this and the departments' auto-assignment
  (inbox.assignment) in one call;
- `plan.after_insert()`, once they have ids, links the tags (one insert), notifies the
  assignees, and returns the timeline events (ROUTED, ASSIGNED) for ingest to insert with its
  own.

Keywords match whole words or phrases, ignoring case and umlaut spelling ("Kündigung",
"KUENDIGUNG" and "kuendigung" are the same word), so "kündigen" does not match "unkündbar" or
"gekündigt". A `*` at either end of a keyword matches the rest of the word: "kündig*" matches
"Kündigung", "*kündigung" matches "Vertragskündigung".
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from channels_integrations.models import ChannelAccount
from inbox.access import acting_channel_ids
from inbox.assignment import auto_assign, strategy_reason, with_subjects
from inbox.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Department,
    EventKind,
    Priority,
    RoutingRule,
    Stance,
)
from inbox.models.teams import AuthorCondition
from inbox.notifications import notify_assigned
from inbox.team_config import TeamConfigCache

# Umlauts as Germans type them without the keys; casefold() already makes ß (and ẞ) "ss".
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def fold(text: str) -> str:
    """Text as keywords compare it: case folded, umlauts spelled out (ä → ae, ß → ss), other
    accents dropped (é → e), so every way of writing a word reads the same."""
    folded = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    return "".join(
        char for char in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(char)
    )


def keyword_pattern(keywords: str) -> re.Pattern[str] | None:
    """One pattern for a rule's keywords (one keyword or phrase per line, any of them), to be
    searched in folded text; None when there are none. Whole words: a keyword never matches
    inside a longer word unless it starts or ends with `*`."""
    alternatives = []
    for line in keywords.splitlines():
        keyword = fold(line).strip()
        prefix = keyword.startswith("*")
        suffix = keyword.endswith("*")
        words = keyword.strip("*").split()
        if not words:
            continue
        # Any run of spaces or line breaks between the words of a phrase.
        body = r"\s+".join(re.escape(word) for word in words)
        alternatives.append((r"\w*" if prefix else "") + body + (r"\w*" if suffix else ""))
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


@dataclass(frozen=True)
class PersonFacts:
    """What author conditions ask about the person behind a new conversation's contact."""

    person_id: int
    vip: bool
    critic: bool
    # No conversation of this person existed before the page being ingested.
    first_time: bool


def person_facts(contact_ids: Iterable[int]) -> dict[int, PersonFacts]:
    """PersonFacts by contact id, in one query. Call it before the new conversations are
    inserted: a person whose only conversations are the new ones writes for the first time."""
    ids = set(contact_ids)
    if not ids:
        return {}
    earlier = Conversation.objects.filter(contact__person_id=OuterRef("person_id"))
    rows = (
        Contact.objects.filter(pk__in=ids)
        .annotate(known=Exists(earlier))
        .values_list("pk", "person_id", "person__vip", "person__stance", "known")
    )
    return {
        contact_id: PersonFacts(
            person_id=person_id,
            vip=bool(vip),
            critic=stance == Stance.CRITIC,
            first_time=not known,
        )
        for contact_id, person_id, vip, stance, known in rows
    }


@dataclass(frozen=True)
class _CompiledRule:
    """A rule with its many-to-many values and compiled keywords: matching needs no query."""

    rule: RoutingRule
    channel_ids: frozenset[int]
    platforms: frozenset[str]
    kinds: frozenset[str]
    languages: frozenset[str]
    keywords: re.Pattern[str] | None
    tags: tuple[tuple[int, str], ...]

    def matches(
        self,
        conversation: Conversation,
        *,
        platform: str,
        text: str,
        person: PersonFacts | None,
    ) -> bool:
        if self.channel_ids and conversation.channel_account_id not in self.channel_ids:
            return False
        if self.platforms and platform not in self.platforms:
            return False
        if self.kinds and conversation.kind not in self.kinds:
            return False
        if self.languages and _primary_language(conversation.language) not in self.languages:
            return False
        if self.rule.author and not _author_matches(self.rule.author, person):
            return False
        return self.keywords is None or self.keywords.search(text) is not None


def _primary_language(code: str) -> str:
    """ "de-AT" and "DE" are German to a rule that asks for "de"."""
    return code.strip().lower().replace("_", "-").split("-")[0]


def _author_matches(condition: str, person: PersonFacts | None) -> bool:
    if person is None:  # no known author (a conversation without a contact)
        return False
    if condition == AuthorCondition.VIP:
        return person.vip
    if condition == AuthorCondition.CRITIC:
        return person.critic
    if condition == AuthorCondition.FIRST_TIME:
        return person.first_time
    return False  # a condition this code does not know matches nothing, rather than everything


@dataclass
class RoutedConversation:
    """What routing and auto-assignment did to one new conversation."""

    conversation: Conversation
    # As built by ingest, before any rule: the "before" of the ASSIGNED event.
    assignee_before: int | None
    department_before: int | None
    rules: list[str] = field(default_factory=list)
    # What the rules set, by name, for the ROUTED event: department, assignee, priority, tags.
    applied: dict[str, Any] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)
    # Actions a rule asked for and that were not done, with the reason.
    skipped: list[str] = field(default_factory=list)
    assignee: Any | None = None
    # Who chose the assignee: "rule <name>", "round-robin", "least-loaded".
    assign_reason: str = ""


@dataclass
class RoutingPlan:
    """The decisions for one page's new conversations; `after_insert` writes the rest."""

    routed: list[RoutedConversation] = field(default_factory=list)

    def record_auto_assignments(self, assignments: Iterable[tuple[Conversation, Any]]) -> None:
        """Note the assignments inbox.assignment.auto_assign made to these conversations."""
        entries = {id(entry.conversation): entry for entry in self.routed}
        for conversation, assignee in assignments:
            entry = entries.get(id(conversation))
            if entry is None:
                continue
            entry.assignee = assignee
            department = conversation.department
            entry.assign_reason = strategy_reason(
                department.assignment_strategy if department is not None else ""
            )

    def after_insert(self) -> list[ConversationEvent]:
        """Once the conversations are inserted (they have ids): link the tags in one insert,
        notify each assignee (actor None: nobody did it by hand), and return the ROUTED and
        ASSIGNED events for the caller to insert with its own. Runs in the caller's
        transaction; notifications are pushed after its commit."""
        # The notifications name the contact and the channel: two queries for all of them.
        with_subjects([entry.conversation for entry in self.routed if entry.assignee is not None])
        links = [
            Conversation.tags.through(conversation_id=entry.conversation.pk, tag_id=tag_id)
            for entry in self.routed
            for tag_id in entry.tags
        ]
        if links:
            Conversation.tags.through.objects.bulk_create(links, ignore_conflicts=True)
        events: list[ConversationEvent] = []
        for entry in self.routed:
            conversation = entry.conversation
            if entry.rules:
                data: dict[str, Any] = {"rules": entry.rules, **entry.applied}
                if entry.tags:
                    data["tags"] = sorted(entry.tags.values())
                if entry.skipped:
                    data["skipped"] = entry.skipped
                events.append(
                    ConversationEvent(
                        conversation_id=conversation.pk, kind=EventKind.ROUTED, data=data
                    )
                )
            if entry.assignee is None:
                continue
            department = conversation.department
            events.append(
                ConversationEvent(
                    conversation_id=conversation.pk,
                    kind=EventKind.ASSIGNED,
                    data={
                        "before": {
                            "assignee": entry.assignee_before,
                            "department": entry.department_before,
                        },
                        "after": {
                            "assignee": conversation.assignee_id,
                            "department": conversation.department_id,
                        },
                        "assignee_name": _name(entry.assignee),
                        "department_name": department.name if department is not None else "",
                        "reason": entry.assign_reason,
                    },
                )
            )
            notify_assigned(conversation=conversation, assignee=entry.assignee, actor=None)
        return events


class RuleBook:
    """The enabled routing rules in order, ready to match without queries."""

    def __init__(
        self,
        rules: list[_CompiledRule],
        *,
        department_channels: Mapping[int, frozenset[int]],
        channel_platforms: Mapping[int, str],
        acting_channels: Mapping[int, frozenset[int] | None],
    ) -> None:
        self.rules = rules
        self.department_channels = department_channels
        self.channel_platforms = channel_platforms
        # Rule assignees: the channels they may act on (None: every channel, an admin).
        self.acting_channels = acting_channels

    @classmethod
    def load(cls) -> RuleBook:
        """The enabled rules, read in at most five queries plus one per distinct rule
        assignee (their channels, by inbox.access), however many conversations follow. Ingest
        uses a per-process cached copy (inbox.team_config), read again after changes."""
        rules = list(
            RoutingRule.objects.filter(enabled=True)
            .select_related("set_department", "set_assignee")
            .order_by("position", "id")
        )
        if not rules:
            return cls([], department_channels={}, channel_platforms={}, acting_channels={})
        ids = [rule.pk for rule in rules]
        channels: dict[int, set[int]] = defaultdict(set)
        for rule_id, channel_id in RoutingRule.channel_accounts.through.objects.filter(
            routingrule_id__in=ids
        ).values_list("routingrule_id", "channelaccount_id"):
            channels[rule_id].add(channel_id)
        tags: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for rule_id, tag_id, name in (
            RoutingRule.add_tags.through.objects.filter(routingrule_id__in=ids)
            .order_by("tag__name")
            .values_list("routingrule_id", "tag_id", "tag__name")
        ):
            tags[rule_id].append((tag_id, name))
        departments = {rule.set_department_id for rule in rules if rule.set_department_id}
        department_channels: dict[int, set[int]] = defaultdict(set)
        if departments:
            for department_id, channel_id in Department.channel_accounts.through.objects.filter(
                department_id__in=departments
            ).values_list("department_id", "channelaccount_id"):
                department_channels[department_id].add(channel_id)
        platforms: dict[int, str] = {}
        if any(rule.platforms for rule in rules):
            platforms = dict(ChannelAccount.objects.values_list("id", "platform"))
        acting: dict[int, frozenset[int] | None] = {}
        for rule in rules:
            user = rule.set_assignee
            if user is not None and user.pk not in acting:
                # The one access helper decides; inactive users act nowhere.
                found = acting_channel_ids(user)
                acting[user.pk] = None if found is None else frozenset(found)
        compiled = [
            _CompiledRule(
                rule=rule,
                channel_ids=frozenset(channels.get(rule.pk, ())),
                platforms=frozenset(str(value) for value in rule.platforms or []),
                kinds=frozenset(str(value) for value in rule.kinds or []),
                languages=frozenset(_primary_language(str(v)) for v in rule.languages or []),
                keywords=keyword_pattern(rule.keywords),
                tags=tuple(tags.get(rule.pk, ())),
            )
            for rule in rules
        ]
        return cls(
            compiled,
            department_channels={k: frozenset(v) for k, v in department_channels.items()},
            channel_platforms=platforms,
            acting_channels=acting,
        )

    @property
    def needs_person_facts(self) -> bool:
        """Whether any rule asks about the author (else person_facts need not be read)."""
        return any(compiled.rule.author for compiled in self.rules)

    def route(
        self,
        conversations: list[Conversation],
        first_texts: Mapping[str, str],
        persons: Mapping[int, PersonFacts],
    ) -> RoutingPlan:
        """Run every conversation through the rules, in memory, no queries.

        `first_texts`: the first customer message of each conversation, by thread key (the
        keywords' text). `persons`: person_facts of their contacts. The conversations are in
        arrival order: of two new conversations of one person in a page, only the first is a
        first-time writer.

        Rules run in position order; each matching rule applies what it sets, so a later match
        overrides an earlier one's department, assignee or priority and adds its tags; a match
        of a rule with `stop_processing` ends the run. A department is set only if it owns the
        conversation's channel, an assignee only if they may act on it (inbox.access) and the
        conversation is not ignored; otherwise the ROUTED event says why it was skipped.
        """
        plan = RoutingPlan()
        seen_persons: set[int] = set()
        for conversation in conversations:
            entry = RoutedConversation(
                conversation=conversation,
                assignee_before=conversation.assignee_id,
                department_before=conversation.department_id,
            )
            plan.routed.append(entry)
            person = persons.get(conversation.contact_id) if conversation.contact_id else None
            if person is not None:
                if person.person_id in seen_persons and person.first_time:
                    person = PersonFacts(
                        person_id=person.person_id,
                        vip=person.vip,
                        critic=person.critic,
                        first_time=False,
                    )
                seen_persons.add(person.person_id)
            if not self.rules:
                continue
            text = fold(first_texts.get(conversation.thread_key, ""))
            platform = self.channel_platforms.get(conversation.channel_account_id, "")
            for compiled in self.rules:
                if not compiled.matches(conversation, platform=platform, text=text, person=person):
                    continue
                self._apply(compiled, entry)
                if compiled.rule.stop_processing:
                    break
        return plan

    def _apply(self, compiled: _CompiledRule, entry: RoutedConversation) -> None:
        rule, conversation = compiled.rule, entry.conversation
        entry.rules.append(rule.name)
        channel_id = conversation.channel_account_id
        department = rule.set_department
        if department is not None:
            if channel_id in self.department_channels.get(department.pk, frozenset()):
                conversation.department = department
                entry.applied["department"] = department.pk
                entry.applied["department_name"] = department.name
            else:
                entry.skipped.append(
                    f"department {department.name}: it does not own this channel (rule {rule.name})"
                )
        assignee = rule.set_assignee
        if assignee is not None:
            channels = self.acting_channels.get(assignee.pk, frozenset())
            if conversation.status == ConversationStatus.IGNORED:
                entry.skipped.append(
                    f"assignee {_name(assignee)}: the conversation is ignored (rule {rule.name})"
                )
            elif channels is not None and channel_id not in channels:
                entry.skipped.append(
                    f"assignee {_name(assignee)}: cannot act on this channel (rule {rule.name})"
                )
            else:
                conversation.assignee = assignee
                entry.assignee = assignee
                entry.assign_reason = f"rule {rule.name}"
                entry.applied["assignee"] = assignee.pk
                entry.applied["assignee_name"] = _name(assignee)
        if rule.set_priority is not None and rule.set_priority in Priority.values:
            conversation.priority = rule.set_priority
            entry.applied["priority"] = rule.set_priority
        entry.tags.update(compiled.tags)


def route_new_conversations(
    conversations: list[Conversation], *, first_texts: Mapping[str, str], now: datetime
) -> RoutingPlan:
    """Routing rules, then auto-assignment, for a page's new conversations before their insert.

    Must run inside the caller's transaction: auto-assignment locks the departments it hands
    out work for (in id order) until the commit, so concurrent pages cannot overfill an agent
    or break the round-robin turn. A fixed number of queries per page, plus one per rule
    assignee and a few per auto-assigning department. Call `after_insert()` on the result once
    the conversations have ids.
    """
    book = _CACHED_RULES.get()
    persons: dict[int, PersonFacts] = {}
    if book.needs_person_facts:
        persons = person_facts(c.contact_id for c in conversations if c.contact_id is not None)
    plan = book.route(conversations, first_texts, persons)
    plan.record_auto_assignments(auto_assign(conversations, now=now))
    return plan


# Loaded once per process and read again after any change of rules or memberships.
_CACHED_RULES = TeamConfigCache(RuleBook.load)


def _name(user: Any | None) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())
