"""The moderation rules engine: ordered rules whose conditions look at one inbound item (its
text, its classification, its author, where and when it arrived) and whose actions say what to
do with it (docs/moderation.md).

`RuleSet.load()` reads the enabled rules in order and compiles each once: keyword patterns (whole
words, case and umlaut folded, `*` wildcards: inbox.routing.fold and keyword_pattern), the
regular expression (the `regex` package, so a search can be given a time limit), sets for the
choices and the thresholds for both normal and storm mode. `evaluate(facts)` then runs in memory
without queries or compilation: the cheap conditions first (channel, author, scores), the text
last, and the words of a reason are only made for a rule that matched.

The engine is pure: it says which rules match and why. What is done about it (allow-listed
authors never removed automatically, suggest-only rules only queued, platforms that cannot hide)
is moderation.pipeline's business.

Storm mode makes every score threshold stricter: a minimum (toxicity_min, spam_min) is multiplied
by STORM_THRESHOLD_FACTOR; the sentiment maximum moves the same share closer to 1 (its
"matches everything" end), so -0.5 becomes -0.2.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import regex  # type: ignore[import-untyped]  # no stubs in the environment
from django.utils.translation import gettext

from channels_integrations.models import Platform
from inbox.models import ConversationKind, ConversationStatus, Priority, Sentiment
from inbox.routing import fold, keyword_pattern
from inbox.team_config import TeamConfigCache
from moderation.classifiers.base import Classification
from moderation.models import ModerationRule
from moderation.rule_validation import (
    ACTION_KEYS,
    AUTHOR_FACTS,
    CONDITION_KEYS,
    REGEX_FLAGS,
    check_ids_many,
    clean_actions,
    clean_conditions,
    keyed_action_errors,
    keyed_condition_errors,
)

__all__ = [
    "ACTION_KEYS",
    "CONDITION_KEYS",
    "REGEX_TIMEOUT_SECONDS",
    "STORM_THRESHOLD_FACTOR",
    "ItemFacts",
    "RuleMatch",
    "RuleSet",
    "clean_actions",
    "clean_conditions",
    "describe_rule",
    "regex_timeouts",
]

logger = logging.getLogger(__name__)

# In storm mode every score threshold is multiplied by this (a rule acts on milder items).
STORM_THRESHOLD_FACTOR = 0.8
# A regular expression that needs longer on one item counts as no match there: one bad
# pattern must not hold up a page of ingest (catastrophic backtracking on a long text).
REGEX_TIMEOUT_SECONDS = 0.01

# Searches that ran out of time, by rule id, since the process started (for the rule page and
# the logs); each rule's first timeout is logged, not every one.
_timeouts: Counter[int] = Counter()
_timeouts_lock = threading.Lock()


def regex_timeouts() -> dict[int, int]:
    """How many times each rule's regular expression ran out of time in this process."""
    with _timeouts_lock:
        return dict(_timeouts)


@dataclass(frozen=True)
class ItemFacts:
    """Everything a rule may ask about one inbound item; the caller reads it all beforehand."""

    text: str
    classification: Classification
    channel_account_id: int
    platform: str
    kind: str  # inbox.models.ConversationKind value of the item's conversation
    person_id: int | None
    banned: bool
    allowed: bool  # allow-listed person
    vip: bool
    first_time: bool
    in_working_hours: bool | None  # None when the channel's departments have no calendar
    storm: bool = False  # storm mode on this channel: thresholds are stricter


@dataclass(frozen=True)
class RuleMatch:
    """One rule that matched an item, with what it asks for and why it matched."""

    rule_id: int
    name: str
    suggest_only: bool
    stop_processing: bool
    actions: Mapping[str, Any]  # the rule's normalised actions (moderation.rule_validation)
    reasons: tuple[str, ...]  # for a person: "toxicity insult 0.91 ≥ 0.80", "keyword „idiot“"
    guideline_section: str


def _primary_language(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-")[0]


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return f"„{text if len(text) <= limit else text[: limit - 1] + '…'}“"


class _Compiled:
    """One rule, ready to match: sets, thresholds for both modes and compiled patterns."""

    __slots__ = (
        "author",
        "channel_ids",
        "hours",
        "keywords_all",
        "keywords_any",
        "keywords_any_each",
        "kinds",
        "languages",
        "platforms",
        "regex",
        "regex_source",
        "rule_id",
        "sentiment",
        "sentiment_max",
        "spam_min",
        "spam_signals",
        "static",
        "toxicity_categories",
        "toxicity_min",
        "uses_text",
    )

    def __init__(
        self, rule: ModerationRule, conditions: Mapping[str, Any], actions: dict[str, Any]
    ) -> None:
        self.rule_id = rule.pk or 0
        # The parts of every match of this rule that do not depend on the item.
        self.static = (
            self.rule_id,
            rule.name,
            rule.suggest_only,
            rule.stop_processing,
            MappingProxyType(actions),
            rule.guideline_section,
        )
        c = conditions
        self.channel_ids = frozenset(c.get("channel_ids", ())) or None
        self.platforms = frozenset(c.get("platforms", ())) or None
        self.kinds = frozenset(c.get("kinds", ())) or None
        self.languages = frozenset(c.get("languages", ())) or None
        self.author: tuple[str, ...] = tuple(c.get("author", ()))
        self.hours: bool | None = {"inside": True, "outside": False}.get(c.get("hours", ""))
        self.sentiment: str | None = c.get("sentiment")
        maximum = c.get("sentiment_score_max")
        self.sentiment_max: tuple[float, float] | None = (
            None if maximum is None else (maximum, 1.0 - (1.0 - maximum) * STORM_THRESHOLD_FACTOR)
        )
        self.toxicity_min = self._both(c.get("toxicity_min"))
        self.toxicity_categories: tuple[str, ...] = tuple(c.get("toxicity_categories", ()))
        self.spam_min = self._both(c.get("spam_min"))
        self.spam_signals = frozenset(c.get("spam_signals", ())) or None
        keywords = c.get("keywords_any", ())
        self.keywords_any = keyword_pattern("\n".join(keywords)) if keywords else None
        # Each keyword alone, only to say which one matched (after the rule matched).
        self.keywords_any_each = tuple((k, keyword_pattern(k)) for k in keywords)
        self.keywords_all = tuple(
            (k, pattern) for k in c.get("keywords_all", ()) if (pattern := keyword_pattern(k))
        )
        self.regex_source: str = c.get("regex", "")
        self.regex = regex.compile(self.regex_source, REGEX_FLAGS) if self.regex_source else None
        self.uses_text = bool(self.keywords_any or self.keywords_all)

    @staticmethod
    def _both(threshold: float | None) -> tuple[float, float] | None:
        if threshold is None:
            return None
        return threshold, threshold * STORM_THRESHOLD_FACTOR

    def _toxicity(self, classification: Classification) -> tuple[str, float]:
        scores = classification.toxicity
        if not self.toxicity_categories:
            return classification.toxic_category, classification.toxic_score
        best, category = -1.0, ""
        for name in self.toxicity_categories:
            score = scores.get(name, 0.0)
            if score > best:
                best, category = score, name
        return category, best

    def _author_holds(self, facts: ItemFacts) -> bool:
        for fact in self.author:
            if fact == "banned":
                ok = facts.banned
            elif fact == "allowed":
                ok = facts.allowed
            elif fact == "not_allowed":
                ok = not facts.allowed
            elif fact == "vip":
                ok = facts.vip
            elif fact == "not_vip":
                ok = not facts.vip
            elif fact == "first_time":
                ok = facts.first_time
            else:
                ok = False
            if not ok:
                return False
        return True

    def _search(self, text: str) -> regex.Match[str] | None:
        assert self.regex is not None
        try:
            return self.regex.search(text, timeout=REGEX_TIMEOUT_SECONDS)
        except TimeoutError:
            with _timeouts_lock:
                _timeouts[self.rule_id] += 1
                first = _timeouts[self.rule_id] == 1
            if first:
                logger.warning(
                    "moderation rule %s: regular expression ran out of time (%ss); counted as "
                    "no match",
                    self.rule_id,
                    REGEX_TIMEOUT_SECONDS,
                )
            return None

    def matches(self, facts: ItemFacts, folded: str) -> bool:
        """Whether every condition holds; no allocation beyond the regex search."""
        if self.channel_ids is not None and facts.channel_account_id not in self.channel_ids:
            return False
        if self.platforms is not None and facts.platform not in self.platforms:
            return False
        if self.kinds is not None and facts.kind not in self.kinds:
            return False
        if self.author and not self._author_holds(facts):
            return False
        if self.hours is not None and facts.in_working_hours is not self.hours:
            return False
        c = facts.classification
        if self.languages is not None and _primary_language(c.language) not in self.languages:
            return False
        if self.sentiment is not None and c.sentiment != self.sentiment:
            return False
        storm = 1 if facts.storm else 0
        if self.sentiment_max is not None and c.sentiment_score > self.sentiment_max[storm]:
            return False
        if self.toxicity_min is not None and self._toxicity(c)[1] < self.toxicity_min[storm]:
            return False
        if self.spam_min is not None and c.spam < self.spam_min[storm]:
            return False
        if self.spam_signals is not None and self.spam_signals.isdisjoint(c.spam_signals):
            return False
        if self.keywords_any is not None and self.keywords_any.search(folded) is None:
            return False
        for _, pattern in self.keywords_all:
            if pattern.search(folded) is None:
                return False
        return self.regex is None or self._search(facts.text) is not None

    def reasons(self, facts: ItemFacts, folded: str) -> tuple[str, ...]:
        """What matched, in words, for a rule that matched."""
        c = facts.classification
        storm = 1 if facts.storm else 0
        note = " (storm mode)" if facts.storm else ""
        said: list[str] = []
        if self.toxicity_min is not None:
            category, score = self._toxicity(c)
            said.append(
                f"toxicity {category or 'any'} {score:.2f} ≥ {self.toxicity_min[storm]:.2f}{note}"
            )
        if self.spam_min is not None:
            said.append(f"spam {c.spam:.2f} ≥ {self.spam_min[storm]:.2f}{note}")
        if self.spam_signals is not None:
            found = sorted(self.spam_signals.intersection(c.spam_signals))
            said.append(f"spam signal {', '.join(found)}")
        if self.sentiment is not None:
            said.append(f"sentiment {c.sentiment}")
        if self.sentiment_max is not None:
            said.append(
                f"sentiment score {c.sentiment_score:.2f} ≤ {self.sentiment_max[storm]:.2f}{note}"
            )
        if self.languages is not None:
            said.append(f"language {_primary_language(c.language)}")
        for keyword, pattern in self.keywords_any_each:
            if pattern is not None and pattern.search(folded):
                said.append(f"keyword {_quote(keyword)}")
                break
        if self.keywords_all:
            said.append("keywords " + ", ".join(_quote(k) for k, _ in self.keywords_all))
        if self.regex is not None:
            found_match = self._search(facts.text)
            said.append(
                f"pattern {_quote(self.regex_source)}"
                + (f" found {_quote(found_match.group(0))}" if found_match else "")
            )
        said.extend(f"author {AUTHOR_FACTS.get(fact, fact)}" for fact in self.author)
        if self.hours is not None:
            said.append("inside working hours" if self.hours else "outside working hours")
        if self.platforms is not None:
            said.append(f"platform {facts.platform}")
        if self.kinds is not None:
            said.append(f"kind {facts.kind}")
        if self.channel_ids is not None:
            said.append("channel")
        return tuple(said)


class RuleSet:
    """The enabled moderation rules in order, compiled: evaluating an item needs no query."""

    def __init__(self, compiled: list[_Compiled]) -> None:
        self._rules = compiled
        self.needs_text = any(rule.uses_text for rule in compiled)
        # Whether the pipeline must read the author's history (first_time) and the channel's
        # working hours for this set; both cost queries it can then skip.
        self.needs_person = any(rule.author for rule in compiled)
        self.needs_first_time = any("first_time" in rule.author for rule in compiled)
        self.needs_working_hours = any(rule.hours is not None for rule in compiled)

    @property
    def has_rules(self) -> bool:
        return bool(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    @classmethod
    def of(cls, rules: Iterable[ModerationRule], *, check_references: bool = False) -> RuleSet:
        """These rules, in the order given, whether enabled or not ("test this rule", tests).
        A rule whose stored conditions or actions are not valid is left out (and logged): it
        must never match more than it says. With `check_references`, actions naming rows that
        are gone (a deleted department, a deactivated user) are dropped, in a query per kind
        of id for all the rules together."""
        valid: list[tuple[ModerationRule, dict[str, Any], dict[str, Any]]] = []
        for rule in rules:
            conditions, condition_errors = keyed_condition_errors(rule.conditions or {})
            actions, action_errors = keyed_action_errors(rule.actions or {})
            if condition_errors or action_errors:
                logger.warning(
                    "moderation rule %s (%s) left out: %s",
                    rule.pk,
                    rule.name,
                    "; ".join(message for _, message in condition_errors + action_errors),
                )
                continue
            valid.append((rule, conditions, actions))
        if check_references:
            before = [dict(actions) for _, _, actions in valid]
            check_ids_many([actions for _, _, actions in valid])
            for (rule, _, actions), was in zip(valid, before, strict=True):
                if actions != was:
                    logger.warning(
                        "moderation rule %s (%s): actions naming rows that are gone dropped: %s",
                        rule.pk,
                        rule.name,
                        sorted(set(was) - set(actions)),
                    )
        compiled = [_Compiled(rule, conditions, actions) for rule, conditions, actions in valid]
        return cls(compiled)

    @classmethod
    def load(cls) -> RuleSet:
        """The enabled rules in position order, compiled: one query for the rules and one per
        kind of id their actions name."""
        rules = ModerationRule.objects.filter(enabled=True).order_by("position", "id")
        return cls.of(rules, check_references=True)

    @classmethod
    def cached(cls) -> RuleSet:
        """The process's copy of load(), read again after forget_team_config() (rule changes)
        or when older than inbox.team_config.TEAM_CONFIG_SECONDS."""
        return _CACHED.get()

    def evaluate(self, facts: ItemFacts) -> list[RuleMatch]:
        """The rules that match the item, in order; a matching rule with stop_processing ends
        the run. No queries."""
        if not self._rules:
            return []
        folded = fold(facts.text) if self.needs_text else ""
        matches: list[RuleMatch] = []
        for rule in self._rules:
            if not rule.matches(facts, folded):
                continue
            rule_id, name, suggest_only, stop, actions, section = rule.static
            matches.append(
                RuleMatch(
                    rule_id=rule_id,
                    name=name,
                    suggest_only=suggest_only,
                    stop_processing=stop,
                    actions=actions,
                    reasons=rule.reasons(facts, folded),
                    guideline_section=section,
                )
            )
            if stop:
                break
        return matches


_CACHED = TeamConfigCache(RuleSet.load)


# --- words for the rule list ------------------------------------------------------------------


def _listing(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in values)


def describe_conditions(conditions: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """One short phrase per condition, in the order a person reads a rule (in the active
    language)."""
    c = conditions
    said: list[str] = []
    either = gettext(" or ")
    if "toxicity_min" in c:
        categories = either.join(c.get("toxicity_categories", ())) or gettext("any kind")
        said.append(
            gettext("toxicity (%(categories)s) at least %(score)s")
            % {"categories": categories, "score": f"{c['toxicity_min']:.2f}"}
        )
    if "spam_min" in c:
        said.append(gettext("spam score at least %(score)s") % {"score": f"{c['spam_min']:.2f}"})
    if "spam_signals" in c:
        signals = either.join(c["spam_signals"])
        said.append(gettext("spam signals: %(signals)s") % {"signals": signals})
    if "sentiment" in c:
        sentiments = dict(Sentiment.choices)
        sentiment = str(sentiments.get(c["sentiment"], c["sentiment"])).lower()
        said.append(gettext("sentiment %(sentiment)s") % {"sentiment": sentiment})
    if "sentiment_score_max" in c:
        said.append(
            gettext("sentiment score at most %(score)s")
            % {"score": f"{c['sentiment_score_max']:.2f}"}
        )
    if "keywords_any" in c:
        words = _listing(_quote(k) for k in c["keywords_any"][:8])
        said.append(gettext("any of %(words)s") % {"words": words})
    if "keywords_all" in c:
        words = _listing(_quote(k) for k in c["keywords_all"][:8])
        said.append(gettext("all of %(words)s") % {"words": words})
    if "regex" in c:
        said.append(gettext("pattern %(pattern)s") % {"pattern": _quote(c["regex"])})
    if "languages" in c:
        said.append(gettext("language %(languages)s") % {"languages": either.join(c["languages"])})
    if "author" in c:
        facts = gettext(" and ").join(str(AUTHOR_FACTS.get(a, a)) for a in c["author"])
        said.append(gettext("author %(facts)s") % {"facts": facts})
    if "channel_ids" in c:
        channels = (names.get(f"channel:{pk}", f"#{pk}") for pk in c["channel_ids"])
        said.append(gettext("on %(where)s") % {"where": either.join(channels)})
    if "platforms" in c:
        platforms = dict(Platform.choices)
        where = either.join(str(platforms.get(p, p)) for p in c["platforms"])
        said.append(gettext("on %(where)s") % {"where": where})
    if "kinds" in c:
        plurals = {
            ConversationKind.COMMENT: gettext("comments"),
            ConversationKind.PRIVATE_MESSAGE: gettext("private messages"),
            ConversationKind.MENTION: gettext("mentions"),
            ConversationKind.EMAIL: gettext("e-mails"),
        }
        kinds = dict(ConversationKind.choices)
        said.append(either.join(plurals.get(k) or str(kinds.get(k, k)).lower() for k in c["kinds"]))
    if "hours" in c:
        said.append(gettext("%(hours)s working hours") % {"hours": c["hours"]})
    return said


def describe_actions(actions: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """One short phrase per action (in the active language)."""
    a = actions
    said: list[str] = []
    if a.get("delete"):
        said.append(gettext("delete on the platform"))
    if a.get("hide"):
        said.append(gettext("hide on the platform"))
    if a.get("queue"):
        said.append(gettext("send to the moderation queue"))
    if a.get("tags"):
        said.append(gettext("tag %(tags)s") % {"tags": _listing(a["tags"])})
    if "department_id" in a:
        where = names.get(f"department:{a['department_id']}") or gettext("a department")
        said.append(gettext("send to %(department)s") % {"department": where})
    if "assignee_id" in a:
        who = names.get(f"user:{a['assignee_id']}") or gettext("someone")
        said.append(gettext("assign to %(name)s") % {"name": who})
    if "priority" in a:
        priority = str(Priority(a["priority"]).label).lower()
        said.append(gettext("priority %(priority)s") % {"priority": priority})
    if "status" in a:
        status = str(ConversationStatus(a["status"]).label).lower()
        said.append(gettext("status %(status)s") % {"status": status})
    if a.get("notify_user_ids"):
        people = (names.get(f"user:{pk}", f"#{pk}") for pk in a["notify_user_ids"])
        said.append(gettext("notify %(people)s") % {"people": _listing(people)})
    if a.get("notify_leads"):
        said.append(gettext("notify the leads"))
    if "auto_reply_saved_reply_id" in a:
        key = f"saved_reply:{a['auto_reply_saved_reply_id']}"
        reply = names.get(key) or gettext("a saved reply")
        said.append(gettext("answer with “%(reply)s”") % {"reply": reply})
    if a.get("require_approval"):
        said.append(gettext("replies need approval"))
    if "incident_level" in a:
        said.append(
            gettext("raise an incident to level %(level)s") % {"level": a["incident_level"]}
        )
    return said


def describe_rule(rule: ModerationRule, names: Mapping[str, str] | None = None) -> list[str]:
    """Human sentences for the rule list: "When …", "then …", and a note when the stored rule
    is not valid (it is then never run). `names` ("department:3" -> "Support", see
    moderation.rule_views.reference_names) puts names in place of ids."""
    names = names or {}
    conditions, condition_errors = keyed_condition_errors(rule.conditions or {})
    actions, action_errors = keyed_action_errors(rule.actions or {})
    sentences: list[str] = []
    if condition_errors or action_errors:
        problems = " ".join(message for _key, message in condition_errors + action_errors)
        sentences.append(
            gettext("Not run, the stored rule is not valid: %(problems)s") % {"problems": problems}
        )
    when = describe_conditions(conditions, names)
    then = describe_actions(actions, names)
    if when:
        conditions_text = gettext(", and ").join(when)
        sentences.append(gettext("When %(conditions)s,") % {"conditions": conditions_text})
    else:
        sentences.append(gettext("When anything arrives,"))
    if not then:
        then = [gettext("skip the later rules")] if rule.stop_processing else [gettext("nothing")]
    if rule.suggest_only:
        sentences.append(
            gettext("then %(actions)s (suggested only: a moderator decides).")
            % {"actions": ", ".join(then)}
        )
    else:
        sentences.append(gettext("then %(actions)s.") % {"actions": ", ".join(then)})
    return sentences
