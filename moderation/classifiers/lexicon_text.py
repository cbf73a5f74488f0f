"""Reading text for the lexicon classifier: folding, light de-obfuscation, and the word
triggers that let it skip phrases a text cannot match.

Shared by moderation.classifiers.lexicon (words and phrases) and lexicon_spam (spam signals).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence

from moderation.classifiers import lexicon_de as de
from moderation.classifiers import lexicon_en as en
from moderation.classifiers.lexicon_shared import words

FOLD = str.maketrans(
    {
        "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "à": "a", "á": "a", "â": "a", "ã": "a",
        "å": "a", "ç": "c", "è": "e", "é": "e", "ê": "e", "ë": "e", "ì": "i", "í": "i",
        "î": "i", "ï": "i", "ñ": "n", "ò": "o", "ó": "o", "ô": "o", "õ": "o", "ø": "o",
        "ù": "u", "ú": "u", "û": "u", "ý": "y", "ÿ": "y", "'": "", "\u2019": "", "\u2018": "",
        "`": "", "\u00b4": "", "\u00ad": "", "\u200b": "", "\u200c": "", "€": " euro ",
    }
)  # fmt: skip
LEET = str.maketrans("013578$", "oiestbs")
# A run of letters, digits and "$" with a digit or "$" in it: only runs that start a run match
# (the lookbehind), which finds the same runs as "[a-z0-9$]*[0-9$][a-z0-9$]*" without trying
# every position inside a long word.
LEET_RE = re.compile(r"(?<![a-z0-9$])[a-z]*[0-9$][a-z0-9$]*")
_LEET_HINT_RE = re.compile(r"[0-9$]")
# A letter next to a digit or "$": without one, every run with a digit is a number that
# _unleet leaves alone ("48213"), and only "$" is left to spell out.
_LEET_MIXED_RE = re.compile(r"[0-9$](?:(?<=[a-z][0-9$])|(?=[a-z]))")
# The same as FOLD, as a pattern: most texts have few such characters, and a search that
# replaces them one by one is several times faster than translate() over every character.
_FOLD_MAP = {chr(key): value for key, value in FOLD.items()}
_FOLD_RE = re.compile("[" + re.escape("".join(_FOLD_MAP)) + "]")
_DOTTED_RE = re.compile(r"\b[a-z](?:[.\-_*·+|] ?[a-z]){2,}\b")
# What every dotted or spaced word contains ("i.d.i", " d i "): most texts have neither, and
# these searches skip quickly to the few places worth a closer look.
_DOTTED_HINT_RE = re.compile(r"[.\-_*·+|] ?[a-z][.\-_*·+|]")
_SPACED_RE = re.compile(r"\b[a-z](?: [a-z]){3,}\b")
_SPACED_HINT_RE = re.compile(r" [a-z] [a-z] ")
_MASKED_RE = re.compile(r"\b[a-z]+\*+[a-z]*")
# "@" between letters; written to start with "@" so the search skips to the few there are.
_INNER_AT_RE = re.compile(r"@(?<=[a-z]@)(?=[a-z])")
RUN_RE = re.compile(r"([a-z])\1{2,}")
_NON_LETTER_RE = re.compile(r"[^a-z]+")
TOKEN_RE = re.compile(r"[a-z0-9]+")
SENTENCE_END_RE = re.compile(r"[.!?;]+(?:\s|$)")


def _fold_char(match: re.Match[str]) -> str:
    return _FOLD_MAP[match.group()]


def _undot(match: re.Match[str]) -> str:
    return _NON_LETTER_RE.sub("", match.group())


def _unspace(match: re.Match[str]) -> str:
    return match.group().replace(" ", "")


def fold(text: str, unmask: Callable[[re.Match[str]], str]) -> str:
    """Lower case, umlauts and accents folded (ä→ae, ß→ss), apostrophes dropped, light
    obfuscation undone (i.d.i.o.t, i d i o t, 1diot, a$$hole, Ausl@nder; masked words such as
    f*ck are handed to unmask), "$" spelled out; the one form every table is written in.

    Each step runs only when the text has what it undoes (a cheap search first)."""
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    folded = _FOLD_RE.sub(_fold_char, text.casefold())
    if "@" in folded:
        folded = _INNER_AT_RE.sub("a", folded)
    if "*" in folded:
        folded = _MASKED_RE.sub(unmask, folded)
    if _DOTTED_HINT_RE.search(folded):
        folded = _DOTTED_RE.sub(_undot, folded)
    if _SPACED_HINT_RE.search(folded):
        folded = _SPACED_RE.sub(_unspace, folded)
    if _LEET_HINT_RE.search(folded):
        if _LEET_MIXED_RE.search(folded):
            folded = LEET_RE.sub(_unleet, folded)
        if "$" in folded:
            folded = folded.replace("$", " dollar ")
    return folded


def tokenize(folded: str) -> list[str]:
    """The words of a folded text."""
    return TOKEN_RE.findall(folded)


def sentence_numbers(folded: str) -> list[int] | None:
    """Which sentence each word of a folded text is in (None: all in one). A sentence ends
    at ".", "!", "?" or ";" before a space or the end."""
    ends = [match.start() for match in SENTENCE_END_RE.finditer(folded)]
    if not ends:
        return None
    return [bisect_right(ends, match.start()) for match in TOKEN_RE.finditer(folded)]


def _unleet(match: re.Match[str]) -> str:
    token = match.group()
    letters = sum(ch.isalpha() for ch in token)
    # Only words that mix letters with digits ("1diot", "sh1t"), not numbers or "mp3".
    if letters < 2 or len(token) - letters > letters:
        return token
    return token.translate(LEET)


def masked_pattern(token: str) -> re.Pattern[str] | None:
    """The words a masked word ("f*ck", "a**hole", "sch***e") can stand for, as a pattern."""
    stars = token.count("*")
    if stars > 4 or (len(token) - stars < 2 and not token.endswith("*")):
        return None
    head, _, _ = token.partition("*")
    tail = token.rstrip("*").rsplit("*", 1)[-1] if not token.endswith("*") else ""
    return re.compile(re.escape(head) + f"[a-z]{{{stars},{stars + 2}}}" + re.escape(tail) + r"\Z")


Phrase = tuple[re.Pattern[str], float, str, bool, "frozenset[str] | None"]
_ESCAPE_RE = re.compile(r"\\[a-zA-Z]")
_LITERAL_RE = re.compile(r"[a-z0-9]{2,}")
# Words too common to be worth a look-up: a phrase is tried for its rarer words.
_COMMON_WORDS = de.STOPWORDS | en.STOPWORDS | words("ich du you your ur ill im ya")


def _top_level_alternatives(source: str) -> list[str]:
    parts, depth, start, escaped = [], 0, 0, False
    for position, char in enumerate(source):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(source[start:position])
            start = position + 1
    parts.append(source[start:])
    return parts


def _segments(alternative: str) -> list[tuple[str, bool, bool]]:
    """The top-level pieces of one branch of a pattern: (text, optional, part of a longer
    word). A piece is part of a word when it follows a letter, a group ending in one, or
    \\w ("(?:ge)?kauft", "i(?:ll| will)"), or when a short word goes on in a group ("wo\\w*")."""
    pieces: list[tuple[str, bool, bool]] = []
    position, size = 0, len(alternative)
    previous_wordy = False
    while position < size:
        char = alternative[position]
        if char == "\\":
            end = position + 2
        elif char == "(":
            depth, end = 1, position + 1
            while end < size and depth:
                if alternative[end] == "\\":
                    end += 1
                elif alternative[end] == "(":
                    depth += 1
                elif alternative[end] == ")":
                    depth -= 1
                end += 1
        elif char == "[":
            end = alternative.index("]", position) + 1
        elif char.isalnum():
            end = position
            while end < size and alternative[end].isalnum():
                end += 1
        else:
            end = position + 1
        piece = alternative[position:end]
        optional = False
        if end < size and alternative[end] in "?*":
            optional, end = True, end + 1
        elif end < size and alternative[end] == "{":
            close = alternative.index("}", end)
            optional, end = alternative[end + 1] == "0", close + 1
        elif end < size and alternative[end] == "+":
            end += 1
        if end < size and alternative[end] == "?":
            end += 1
        glued = previous_wordy
        goes_on = end < size and alternative[end] in "(\\["
        if piece[:1].isalnum() and goes_on and len(piece) < 4:
            glued = True
        pieces.append((piece, optional, glued))
        previous_wordy = (
            piece[:1].isalnum()
            or piece in ("\\w", "\\d")
            or (
                piece.startswith("(")
                and len(piece) > 1
                and (piece[-2].isalnum() or piece[-2] == ")")
            )
        )
        position = end
    return pieces


def _required(alternative: str) -> frozenset[str] | None:
    """Words of which every match of this branch contains one (the rarest such choice)."""
    best: frozenset[str] | None = None
    best_cost = (1_000, 1_000)
    for piece, optional, glued in _segments(alternative):
        if optional or glued:
            continue
        candidate: frozenset[str] | None = None
        if piece.startswith("(?:"):
            choices: set[str] = set()
            for inner in _top_level_alternatives(piece[3:-1]):
                required = _required(inner)
                if required is None:
                    choices = set()
                    break
                choices |= required
            candidate = frozenset(choices) or None
        elif piece[:1].isalnum():
            candidate = frozenset([piece])
        if candidate is None:
            continue
        cost = (sum(word in _COMMON_WORDS for word in candidate), len(candidate))
        if cost < best_cost:
            best, best_cost = candidate, cost
    return best


def phrase_triggers(source: str) -> frozenset[str] | None:
    """First four letters of the words a phrase cannot match without (any one of them), or
    None when that cannot be told and the phrase is always tried.

    A text that contains none of them skips the regular expression, which keeps
    classification fast; per branch the rarest required choice of words is taken."""
    prefixes: set[str] = set()
    for alternative in _top_level_alternatives(source):
        required = _required(alternative)
        if required is None:
            return None
        prefixes.update(word[:4] for word in required)
    return frozenset(prefixes)


def combine(weights: Iterable[float]) -> float:
    """Independent evidence: two hits of 0.5 make 0.75, never more than 1."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - min(max(weight, 0.0), 1.0)
    return 1.0 - remaining


class PhraseIndex:
    """Which phrases a text may match, found by the first four letters of its words
    (phrase_triggers), so a text pays only for the few phrases that share a word with it."""

    def __init__(self, triggers: Sequence[frozenset[str] | None]) -> None:
        self._size = len(triggers)
        self._always = [index for index, found in enumerate(triggers) if found is None]
        self._by_prefix: dict[str, list[int]] = {}
        for index, found in enumerate(triggers):
            for prefix in found or ():
                self._by_prefix.setdefault(prefix, []).append(index)
        self._prefixes = frozenset(self._by_prefix)

    def candidates(self, prefixes: Iterable[str], *, use_triggers: bool = True) -> list[int]:
        """Indexes of the phrases to try, in their order."""
        if not use_triggers:
            return list(range(self._size))
        # One set operation finds the few prefixes that trigger anything.
        shared = self._prefixes.intersection(prefixes)
        if not shared:
            return list(self._always)
        found = set(self._always)
        for prefix in shared:
            found.update(self._by_prefix[prefix])
        return sorted(found)
