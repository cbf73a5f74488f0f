"""Spam signals of the lexicon classifier: links, repeated text, only emojis, only mentions,
contact data and known spam phrases (base.SPAM_SIGNALS), each a weight combined as independent
evidence (lexicon_text.combine)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from moderation.classifiers.base import SPAM_SIGNALS
from moderation.classifiers.lexicon_requirements import (
    Requirements,
    could_match,
    literal_requirements,
)
from moderation.classifiers.lexicon_shared import words
from moderation.classifiers.lexicon_text import combine

SpamPhrase = tuple[re.Pattern[str], float, str, "frozenset[str] | None"]


class KnownWord(Protocol):
    # Whether the word is a function word of a language ("und", "the").
    function: bool


# Links with a call to action are promotion ("sign up here: …", "code INBOX20").
_CALL_TO_ACTION_RE = re.compile(
    r"\b(?:registrier\w*|sign up|signup|anmelden|confirm|verify|bestaetig\w*|entsperr\w*|login"
    r"|log in|code|gratis|free|kostenlos\w*|rabatt|discount|guenstig\w*|cheap|shop|visit|besucht?"
    r"|vorbei|check out|subscribe|abonnier\w*|prozent|percent|off|teilen|share|gewinn\w*|win)\b"
)
EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0f\u200d\u20e3"
    "\U0001f1e6-\U0001f1ff]"
)
_IGNORABLE_RE = re.compile(r"[\s\W_]+")
# A character that is neither an emoji nor ignorable (_IGNORABLE_RE): a text without one is
# only emojis, and the search usually stops at its first letter.
_NOT_EMOJI_RE = re.compile("(?!" + EMOJI_RE.pattern + r")[^\W_]")
_MENTION_TEXT_RE = re.compile(r"^(?:\s*@[\w.]+[\s,;:!.]*)+$")
_LINK_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|de|io|ly|me|co"
    r"|info|biz|xyz|shop|store|online|site|link|club|top|app|gl|gd|cc|tk|ru|cn|ee|at|ch|eu|uk"
    r"|us|to|gg|tv|live|vip|win|click|bid|loan)\b(?:/\S*)?",
    re.IGNORECASE,
)
# Every link has a dot glued to a letter or "www"/"://"; most texts have neither. Spelled out
# instead of re.IGNORECASE (which matches these four extra letters too), so the search can skip
# quickly to the few characters a link starts with.
_LINK_HINT_RE = re.compile(
    "[.:wW](?:(?<=\\.)[A-Za-z\u0130\u0131\u017f\u212a]|(?<=:)//|(?<=[wW])[wW][wW])"
)
_DIGIT_RE = re.compile(r"\d")
_SHORTENER_RE = re.compile(
    r"\b(?:bit\.ly|tinyurl\.com|t\.co|goo\.gl|ow\.ly|is\.gd|cutt\.ly|linktr\.ee|shorturl\.at"
    r"|rb\.gy|t\.me|wa\.me|buff\.ly|tiny\.cc|s\.id|rebrand\.ly)/",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]*[a-z]{2,}\b", re.IGNORECASE)
# What every e-mail address contains ("@host."): found from the few "@" of a text.
_EMAIL_HINT_RE = re.compile(r"@[\w-]+\.")
_PHONE_RE = re.compile(r"(?<![\w#])(?:\+|00)?\d[\d \t/().-]{6,}\d")
_ORDER_CONTEXT_RE = re.compile(
    r"(?:bestell|auftrag|order|rechnung|invoice|kunden|customer|tracking|sendung|paket|ticket"
    r"|artikel|nr|no|number|nummer|iban|plz|#)\W{0,3}$",
    re.IGNORECASE,
)
_MESSENGER = r"(?:whats ?app|telegram|signal|snapchat|snap|kik|wickr|viber|wechat|threema|line id)"
_MESSENGER_RE = re.compile(
    r"\b(?:schreib|schreibt|schreiben|melde|meldet|kontaktier\w*|add|contact|message|text|dm"
    r"|hit me up|reach|ping|write|chat|kontakt)\b(?: \w+){0,4} "
    + _MESSENGER
    + r"\b|\b"
    + _MESSENGER
    + r"(?: (?:me|mir|uns|us|nummer|number|id|handle|kontakt|contact))?"
    r" (?:\w+ )?(?:\d{5,}|at \w+)"
)
_MESSENGER_PREFIXES = words("what tele sign snap kik wick vibe wech thre line")
_MESSENGER_HANDLE_RE = re.compile(_MESSENGER + r"\W{0,3}[@+]\w", re.IGNORECASE)
_MESSENGER_REQUIREMENTS = literal_requirements(_MESSENGER_RE)
_HANDLE_MARK_RE = re.compile(r"[@+]\w")
# Longer than any messenger name ("whats app") and the three characters before "@".
_HANDLE_REACH = 20


def _messenger_handle(text: str) -> bool:
    """Whether _MESSENGER_HANDLE_RE matches text. Every match ends in "@" or "+" and a word
    character and starts at most _HANDLE_REACH characters before, so it is searched for only
    around the few such places instead of from every letter of the text."""
    for match in _HANDLE_MARK_RE.finditer(text):
        at = match.start()
        if _MESSENGER_HANDLE_RE.search(text, max(0, at - _HANDLE_REACH), at + 2):
            return True
    return False


def spam_signals(
    text: str,
    tokens: list[str],
    entries: Sequence[KnownWord | None],
    joined: str,
    emojis: list[str],
    prefixes: set[str],
    unique: set[str],
    phrases: list[tuple[SpamPhrase, Requirements]],
) -> tuple[float, list[str], list[tuple[float, str]]]:
    """Spam score, the signals that make it (in base.SPAM_SIGNALS order) and evidence.

    tokens are the folded words of text, joined those words with single spaces, prefixes the
    first four letters of each, unique the set of them, entries what
    the tables know of each word (repeated text ignores function words: "sehr sehr sehr gut"),
    phrases the spam phrases worth trying, each with what it cannot match without (an empty
    requirement: always searched)."""
    weights: dict[str, float] = {}
    evidence: list[tuple[float, str]] = []

    def signal(name: str, weight: float, label: str) -> None:
        weights[name] = max(weights.get(name, 0.0), weight)
        evidence.append((weight, f"spam: {label}"))

    links = _LINK_RE.findall(text) if _LINK_HINT_RE.search(text) else []
    emails = _EMAIL_RE.findall(text) if "@" in text and _EMAIL_HINT_RE.search(text) else []
    if emails:
        links = [link for link in links if not any(link in email for email in emails)]
    if links:
        weight = 0.4 if len(links) == 1 else 0.65 if len(links) == 2 else 0.8
        if _SHORTENER_RE.search(text):
            weight = combine([weight, 0.35])
        if _CALL_TO_ACTION_RE.search(joined):
            weight = combine([weight, 0.4])
        signal("links", weight, "link" if len(links) == 1 else f"{len(links)} links")
    contact: list[float] = []
    if emails:
        contact.append(0.5)
        evidence.append((0.5, "spam: e-mail address"))
    # A phone number has digits; most texts have none.
    for match in _PHONE_RE.finditer(text) if _DIGIT_RE.search(text) else ():
        digits = sum(ch.isdigit() for ch in match.group())
        context = text[max(0, match.start() - 30) : match.start()]
        if 8 <= digits <= 15 and not _ORDER_CONTEXT_RE.search(context):
            contact.append(0.5)
            evidence.append((0.5, "spam: phone number"))
            break
    if not _MESSENGER_PREFIXES.isdisjoint(prefixes) and (
        (could_match(_MESSENGER_REQUIREMENTS, joined, unique) and _MESSENGER_RE.search(joined))
        # A handle is written with "@" or "+".
        or (("@" in text or "+" in text) and _messenger_handle(text))
    ):
        contact.append(0.6)
        evidence.append((0.6, "spam: messenger contact"))
    if contact:
        weights["contact_data"] = combine(contact)

    if len(tokens) >= 4:
        _repeated_text(tokens, entries, signal)
    if emojis and not _NOT_EMOJI_RE.search(text):
        count = len([e for e in emojis if e not in ("\ufe0f", "\u200d")])
        weight = 0.6 if count >= 8 else 0.4 if count >= 4 else 0.2
        signal("only_emojis", weight, "only emojis")
    if _MENTION_TEXT_RE.match(text):
        count = text.count("@")
        weight = 0.6 if count >= 3 else 0.45 if count == 2 else 0.3
        signal("only_mentions", weight, "only mentions")
    phrase_weights = []
    for (pattern, weight, label, _), requirements in phrases:
        if could_match(requirements, joined, unique) and pattern.search(joined):
            phrase_weights.append(weight)
            evidence.append((weight, f"spam: {label}"))
    if phrase_weights:
        weights["spam_phrase"] = combine(phrase_weights)
    signals = [name for name in SPAM_SIGNALS if name in weights]
    return combine(weights.values()), signals, sorted(evidence, key=lambda pair: -pair[0])


def _repeated_text(
    tokens: list[str],
    entries: Sequence[KnownWord | None],
    signal: Callable[[str, float, str], None],
) -> None:
    """Signals repeated_text for a word said often ("buy buy buy buy") or a phrase said three
    times; counting is skipped whenever the counts cannot reach the thresholds."""
    content = [t for t, e in zip(tokens, entries, strict=True) if e is None or not e.function]
    # Both checks need a content word said three times: two repeats at least.
    if len(content) - len(set(content)) < 2:
        return
    counts = Counter(content)
    word, count = counts.most_common(1)[0]
    if count >= 4 and count / len(tokens) >= 0.3:
        signal("repeated_text", 0.6, f"repeated '{word[:20]}'")
        return
    # A phrase said three times has a word said three times.
    if len(tokens) < 6 or count < 3:
        return
    # No phrase is said more often than its most frequent word: skip sizes it cannot fill.
    most = max(Counter(tokens).values())
    for size in (2, 3, 4):
        if most * size / len(tokens) < 0.4:
            continue
        grams = Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))
        gram, count = grams.most_common(1)[0]
        if count >= 3 and count * size / len(tokens) >= 0.4:
            signal("repeated_text", 0.6, f"repeated '{' '.join(gram)[:20]}'")
            return
