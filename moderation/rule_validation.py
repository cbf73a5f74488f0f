"""What a moderation rule's JSON may hold, and the checks that keep anything else out.

`clean_conditions` and `clean_actions` take what a form, the demo or a fixture wrote and answer
(clean, errors): the clean document holds only keys that are set, in their canonical form (empty
values are dropped, strings trimmed, lists de-duplicated in order), and `errors` says in plain
sentences what was refused: unknown keys, wrong types, numbers out of range, ids of rows that do
not exist, contradictions. moderation.rules re-exports them with CONDITION_KEYS and ACTION_KEYS.

`keyed_*` give the same errors by key, for the rule form to show them at its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import regex  # type: ignore[import-untyped]  # no stubs in the environment
from django.contrib.auth import get_user_model
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from channels_integrations.models import ChannelAccount, Platform
from inbox.actions import ActionRefused
from inbox.models import ConversationKind, ConversationStatus, Department, Priority, SavedReply
from inbox.persons import normalize_tag_name
from moderation.classifiers.base import SENTIMENTS, SPAM_SIGNALS, TOXICITY_CATEGORIES

CONDITION_KEYS: dict[str, str] = {
    "keywords_any": "Any of these words or phrases (whole words; case and umlauts ignored; "
    "`*` at either end matches the rest of the word).",
    "keywords_all": "Every one of these words or phrases occurs.",
    "regex": "A regular expression (case ignored) found in the text; searched with a time "
    "limit, a search that takes too long counts as no match.",
    "languages": "The detected language is one of these codes (de, en, …).",
    "sentiment": "The detected sentiment: negative, neutral or positive.",
    "sentiment_score_max": "The sentiment score (-1 very negative … 1 very positive) is at most "
    "this, e.g. -0.5.",
    "toxicity_min": "A toxicity score (0 … 1) is at least this.",
    "toxicity_categories": "The toxicity categories toxicity_min looks at (insult, threat, hate, "
    "profanity); empty: any.",
    "spam_min": "The spam score (0 … 1) is at least this.",
    "spam_signals": "Any of these spam signals was found (links, repeated_text, only_emojis, "
    "only_mentions, contact_data, spam_phrase).",
    "author": "Facts about the author that must all hold: banned, allowed, not_allowed, vip, "
    "not_vip, first_time.",
    "channel_ids": "The item arrived on one of these channels.",
    "platforms": "The item arrived on one of these platforms.",
    "kinds": "The item's conversation is of one of these kinds (comment, mention, …).",
    "hours": "inside or outside the working hours of the departments that own the channel "
    "(never matches on a channel without a calendar).",
}

ACTION_KEYS: dict[str, str] = {
    "hide": "Hide the item on the platform (where the platform can hide).",
    "delete": "Delete the item on the platform.",
    "queue": "Send the item to the moderation queue for a person to decide.",
    "tags": "Add these tags to the conversation (created when new).",
    "department_id": "Send the conversation to this department.",
    "assignee_id": "Assign the conversation to this person.",
    "priority": "Set the conversation's priority (0 low … 3 urgent).",
    "status": "Set the conversation's status.",
    "notify_user_ids": "Notify these people in the app.",
    "notify_leads": "Notify the team leads of the channel's departments.",
    "auto_reply_saved_reply_id": "Answer automatically with this saved reply (paused in storm "
    "mode).",
    "require_approval": "Every reply in this conversation needs a lead's approval.",
    "incident_level": "Raise an incident on the channel to this escalation level (1 … 3).",
}

# How the rule list says each fact (translated when it is shown).
AUTHOR_FACTS = {
    "banned": gettext_lazy("banned"),
    "allowed": gettext_lazy("allow-listed"),
    "not_allowed": gettext_lazy("not allow-listed"),
    "vip": gettext_lazy("VIP"),
    "not_vip": gettext_lazy("not a VIP"),
    "first_time": gettext_lazy("writing for the first time"),
}
HOURS = ("inside", "outside")
INCIDENT_LEVELS = (1, 2, 3)
MAX_KEYWORDS = 500
MAX_KEYWORD_LENGTH = 100
MAX_REGEX_LENGTH = 500
MAX_TAGS = 20
REGEX_FLAGS = regex.IGNORECASE | regex.UNICODE
# A status a rule may set: snoozing needs a time, which a rule does not have.
RULE_STATUSES = tuple(s for s in ConversationStatus.values if s != ConversationStatus.SNOOZED)

Errors = list[tuple[str, str]]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == () or value is False


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strings(value: Any) -> list[str] | None:
    """A list of strings, trimmed, blanks and repeats dropped; None when not a list of strings."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return None
    seen: list[str] = []
    for item in value:
        cleaned = " ".join(item.split())
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return seen


def _ids(value: Any) -> list[int] | None:
    if not isinstance(value, list | tuple):
        return None
    ids = [_integer(v) for v in value]
    if any(i is None or i <= 0 for i in ids):
        return None
    return list(dict.fromkeys(i for i in ids if i is not None))


def _choices(
    value: Any, allowed: Iterable[str], label: str | Promise, errors: Errors, key: str
) -> list[str]:
    items = _strings(value)
    if items is None:
        errors.append((key, gettext("%(label)s: expected a list of names.") % {"label": label}))
        return []
    allowed = tuple(allowed)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        errors.append(
            (
                key,
                gettext("%(label)s: unknown %(unknown)s (known: %(known)s).")
                % {"label": label, "unknown": ", ".join(unknown), "known": ", ".join(allowed)},
            )
        )
    return [item for item in items if item in allowed]


def _keywords(value: Any, label: str | Promise, errors: Errors, key: str) -> list[str]:
    items = _strings(value)
    if items is None:
        errors.append(
            (key, gettext("%(label)s: expected one word or phrase per line.") % {"label": label})
        )
        return []
    if len(items) > MAX_KEYWORDS:
        errors.append(
            (
                key,
                gettext("%(label)s: at most %(limit)d entries.")
                % {"label": label, "limit": MAX_KEYWORDS},
            )
        )
    for item in items:
        if not item.strip("*").strip():
            errors.append(
                (
                    key,
                    gettext("%(label)s: “%(keyword)s” has no letters to look for.")
                    % {"label": label, "keyword": item},
                )
            )
        elif len(item) > MAX_KEYWORD_LENGTH:
            errors.append(
                (
                    key,
                    gettext("%(label)s: “%(keyword)s…” is longer than %(limit)d characters.")
                    % {"label": label, "keyword": item[:30], "limit": MAX_KEYWORD_LENGTH},
                )
            )
    return items


def _score(
    value: Any, label: str | Promise, errors: Errors, key: str, *, low: float = 0.0
) -> float | None:
    number = _number(value)
    if number is None or not (low < number <= 1.0):
        errors.append(
            (
                key,
                gettext("%(label)s: a number above %(low)s and at most 1, e.g. 0.8.")
                % {"label": label, "low": f"{low:g}"},
            )
        )
        return None
    return number


def keyed_condition_errors(data: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """clean_conditions without the id checks, errors by key: what RuleSet.load uses on
    stored rules (no queries) and what the form shows at its fields."""
    errors: Errors = []
    clean: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        return {}, [("", gettext("Conditions must be a JSON object."))]
    for key, value in data.items():
        if key not in CONDITION_KEYS:
            errors.append((key, gettext("Unknown condition “%(key)s”.") % {"key": key}))
            continue
        if _empty(value):
            continue
        if key in ("keywords_any", "keywords_all"):
            label = (
                gettext("Any of the keywords")
                if key == "keywords_any"
                else gettext("All of the keywords")
            )
            clean[key] = _keywords(value, label, errors, key)
        elif key == "regex":
            if not isinstance(value, str) or len(value) > MAX_REGEX_LENGTH:
                errors.append(
                    (
                        key,
                        gettext("Regular expression: text of at most %(limit)d characters.")
                        % {"limit": MAX_REGEX_LENGTH},
                    )
                )
                continue
            try:
                regex.compile(value, REGEX_FLAGS)
            except (regex.error, ValueError, OverflowError) as exc:
                errors.append(
                    (key, gettext("Regular expression: not valid (%(error)s).") % {"error": exc})
                )
                continue
            clean[key] = value
        elif key == "languages":
            codes = _strings(value)
            bad = [c for c in codes or [] if not regex.fullmatch(r"[a-z]{2,3}", c.lower())]
            if codes is None or bad:
                errors.append((key, gettext("Languages: two-letter codes like de, en.")))
                continue
            clean[key] = list(dict.fromkeys(c.lower() for c in codes))
        elif key == "sentiment":
            if value not in SENTIMENTS:
                errors.append(
                    (
                        key,
                        gettext("Sentiment: one of %(values)s.")
                        % {"values": ", ".join(SENTIMENTS)},
                    )
                )
                continue
            clean[key] = value
        elif key == "sentiment_score_max":
            number = _number(value)
            if number is None or not (-1.0 <= number <= 1.0):
                errors.append(
                    (key, gettext("Sentiment score at most: a number from -1 to 1, e.g. -0.5."))
                )
                continue
            clean[key] = number
        elif key in ("toxicity_min", "spam_min"):
            label = (
                gettext("Toxicity at least")
                if key == "toxicity_min"
                else gettext("Spam score at least")
            )
            score = _score(value, label, errors, key)
            if score is not None:
                clean[key] = score
        elif key == "toxicity_categories":
            clean[key] = _choices(
                value, TOXICITY_CATEGORIES, gettext("Toxicity categories"), errors, key
            )
        elif key == "spam_signals":
            clean[key] = _choices(value, SPAM_SIGNALS, gettext("Spam signals"), errors, key)
        elif key == "author":
            facts = _choices(value, AUTHOR_FACTS, gettext("Author"), errors, key)
            for yes, no in (("allowed", "not_allowed"), ("vip", "not_vip")):
                if yes in facts and no in facts:
                    errors.append(
                        (
                            key,
                            gettext("Author: “%(fact)s” and “%(opposite)s” cannot both hold.")
                            % {"fact": AUTHOR_FACTS[yes], "opposite": AUTHOR_FACTS[no]},
                        )
                    )
            clean[key] = facts
        elif key == "channel_ids":
            ids = _ids(value)
            if ids is None:
                errors.append((key, gettext("Channels: expected a list of channel ids.")))
                continue
            clean[key] = ids
        elif key == "platforms":
            clean[key] = _choices(value, Platform.values, gettext("Platforms"), errors, key)
        elif key == "kinds":
            clean[key] = _choices(value, ConversationKind.values, gettext("Kinds"), errors, key)
        elif key == "hours":
            if value not in HOURS:
                errors.append((key, gettext("Working hours: inside or outside.")))
                continue
            clean[key] = value
    if "toxicity_categories" in clean and "toxicity_min" not in clean:
        errors.append(
            (
                "toxicity_min",
                gettext("Toxicity categories need a minimum toxicity score to compare with."),
            )
        )
    clean = {key: value for key, value in clean.items() if not _empty(value)}
    if not clean and not errors:
        errors.append(
            ("", gettext("A rule needs at least one condition (else it would match everything)."))
        )
    return clean, errors


def keyed_action_errors(data: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """clean_actions without the id checks, errors by key."""
    errors: Errors = []
    clean: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        return {}, [("", gettext("Actions must be a JSON object."))]
    for key, value in data.items():
        if key not in ACTION_KEYS:
            errors.append((key, gettext("Unknown action “%(key)s”.") % {"key": key}))
            continue
        if value is None or value == "" or value == [] or value is False:
            continue
        if key in ("hide", "delete", "queue", "notify_leads", "require_approval"):
            if value is not True:
                # The key is the JSON name the rule's author wrote; it stays as it is.
                errors.append((key, gettext("%(key)s: true or false.") % {"key": key}))
                continue
            clean[key] = True
        elif key == "tags":
            names = _strings(value)
            if names is None:
                errors.append((key, gettext("Tags: expected a list of tag names.")))
                continue
            tags: list[str] = []
            for name in names:
                try:
                    tag = normalize_tag_name(name)
                except ActionRefused as exc:
                    errors.append((key, gettext("Tags: %(error)s") % {"error": exc}))
                    continue
                if tag.lower() not in {t.lower() for t in tags}:
                    tags.append(tag)
            if len(tags) > MAX_TAGS:
                errors.append((key, gettext("Tags: at most %(limit)d.") % {"limit": MAX_TAGS}))
            clean[key] = tags
        elif key in ("department_id", "assignee_id", "auto_reply_saved_reply_id"):
            number = _integer(value)
            if number is None or number <= 0:
                errors.append(
                    (key, gettext("%(label)s: expected an id.") % {"label": _ID_LABELS[key]})
                )
                continue
            clean[key] = number
        elif key == "priority":
            number = _integer(value)
            if number is None or number not in Priority.values:
                errors.append(
                    (key, gettext("Priority: 0 (low), 1 (normal), 2 (high) or 3 (urgent)."))
                )
                continue
            clean[key] = number
        elif key == "status":
            if value not in RULE_STATUSES:
                errors.append(
                    (
                        key,
                        gettext("Status: one of %(values)s.")
                        % {"values": ", ".join(RULE_STATUSES)},
                    )
                )
                continue
            clean[key] = value
        elif key == "notify_user_ids":
            ids = _ids(value)
            if ids is None:
                errors.append((key, gettext("Notify: expected a list of user ids.")))
                continue
            clean[key] = ids
        elif key == "incident_level":
            number = _integer(value)
            if number not in INCIDENT_LEVELS:
                errors.append((key, gettext("Incident level: 1, 2 or 3.")))
                continue
            clean[key] = number
    if clean.get("hide") and clean.get("delete"):
        errors.append(
            (
                "delete",
                gettext(
                    "Hide and delete together: choose one (delete removes the item for good, "
                    "hide keeps it for the author and lets a moderator make it visible again)."
                ),
            )
        )
    clean = {key: value for key, value in clean.items() if value != []}
    return clean, errors


_ID_LABELS = {
    "department_id": gettext_lazy("Department"),
    "assignee_id": gettext_lazy("Assignee"),
    "auto_reply_saved_reply_id": gettext_lazy("Saved reply"),
    "notify_user_ids": gettext_lazy("Notify"),
    "channel_ids": gettext_lazy("Channels"),
}


def _existing(key: str, ids: set[int]) -> set[int]:
    """Which of these ids name rows an action or condition may refer to (one query)."""
    finders: dict[str, Callable[[set[int]], Iterable[int]]] = {
        "channel_ids": lambda i: ChannelAccount.objects.filter(pk__in=i).values_list(
            "pk", flat=True
        ),
        "department_id": lambda i: Department.objects.filter(pk__in=i).values_list("pk", flat=True),
        "assignee_id": lambda i: (
            get_user_model().objects.filter(pk__in=i, is_active=True).values_list("pk", flat=True)
        ),
        "notify_user_ids": lambda i: (
            get_user_model().objects.filter(pk__in=i, is_active=True).values_list("pk", flat=True)
        ),
        "auto_reply_saved_reply_id": lambda i: SavedReply.objects.filter(pk__in=i).values_list(
            "pk", flat=True
        ),
    }
    return set(finders[key](ids)) if ids else set()


_ID_KEYS = (
    "channel_ids",
    "department_id",
    "assignee_id",
    "notify_user_ids",
    "auto_reply_saved_reply_id",
)


def check_ids_many(documents: list[dict[str, Any]]) -> None:
    """check_ids for many rules' actions at once: one query per kind of id across all of them
    (loading the rule set), not one per rule."""
    for key in _ID_KEYS:
        wanted: set[int] = set()
        for clean in documents:
            if key in clean:
                value = clean[key]
                wanted.update(value if isinstance(value, list) else [value])
        if not wanted:
            continue
        found = _existing(key, wanted)
        for clean in documents:
            if key not in clean:
                continue
            value = clean[key]
            if isinstance(value, list):
                kept = [i for i in value if i in found]
                if kept:
                    clean[key] = kept
                else:
                    del clean[key]
            elif value not in found:
                del clean[key]


def check_ids(clean: dict[str, Any], errors: Errors | None = None) -> dict[str, Any]:
    """Drop the ids in `clean` that name no row (no active user, for people); with `errors`,
    say which. One query per kind of id present."""
    for key in _ID_KEYS:
        if key not in clean:
            continue
        value = clean[key]
        wanted = set(value) if isinstance(value, list) else {value}
        found = _existing(key, wanted)
        missing = sorted(wanted - found)
        if not missing:
            continue
        if errors is not None:
            message = (
                gettext("%(label)s: %(ids)s names no active user.")
                if key in ("assignee_id", "notify_user_ids")
                else gettext("%(label)s: %(ids)s names nothing.")
            )
            ids = ", ".join(f"#{i}" for i in missing)
            errors.append((key, message % {"label": _ID_LABELS[key], "ids": ids}))
        if isinstance(value, list):
            kept = [i for i in value if i in found]
            if kept:
                clean[key] = kept
            else:
                del clean[key]
        else:
            del clean[key]
    return clean


def clean_conditions(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A rule's conditions in canonical form, and what is wrong with them (empty: nothing).
    Reads the channels named in channel_ids (one query)."""
    clean, errors = keyed_condition_errors(data)
    check_ids(clean, errors)
    return clean, [message for _, message in errors]


def clean_actions(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A rule's actions in canonical form, and what is wrong with them (empty: nothing).
    Reads the departments, users and saved replies they name (a query per kind)."""
    clean, errors = keyed_action_errors(data)
    check_ids(clean, errors)
    return clean, [message for _, message in errors]
