"""What text a phrase pattern cannot match without: a cheap and exact test that lets the
lexicon classifier skip most regular-expression searches.

A pattern's parse tree (re._parser, the standard library's own parser) says which literal text
every match contains: "\\bkill (?:yourself|urself)\\b" cannot match a text without "kill " and
one of "yourself", "urself". Where the pattern puts a word boundary or a space on both sides of
a word, that word is a whole word of the text, and the test is one set operation against the
text's words; otherwise it is a substring test. Either way a text the test rules out is one the
pattern cannot match, so skipping the search never changes a result.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# A literal piece of a pattern and the whole word it guarantees in the text (None: none).
_Needle = tuple[str, "str | None"]
_WORD_RE = re.compile(r"[a-z0-9]+")
_BOUNDARIES = ("AT_BOUNDARY", "AT_BEGINNING", "AT_BEGINNING_STRING", "AT_END", "AT_END_STRING")


@dataclass(frozen=True)
class Clause:
    """One of strings occurs in every match; when words is set, one of words is a whole
    word of the text (the cheaper test when the text's words are known)."""

    strings: tuple[str, ...]
    words: frozenset[str] | None


# Per top-level alternative, its clauses, strongest first; the pattern can match only where
# all clauses of one alternative hold. () when nothing is known: the pattern is always tried.
Requirements = tuple[tuple[Clause, ...], ...]


def _whole_word(text: str, left: bool, right: bool) -> str | None:
    """The longest word of a literal piece that is a whole word wherever it matches: between
    spaces inside the piece, or at its edge where the pattern has a boundary or space."""
    parts = text.split(" ")
    best: str | None = None
    for index, part in enumerate(parts):
        whole_left = index > 0 or left
        whole_right = index < len(parts) - 1 or right
        longer = best is None or len(part) > len(best)
        if whole_left and whole_right and longer and _WORD_RE.fullmatch(part):
            best = part
    return best


def _is_boundary(item: tuple[Any, Any] | None, inherited: bool) -> bool:
    """Whether item (the neighbour of a piece; None: the sequence's edge) guarantees that no
    word character touches the piece on that side."""
    if item is None:
        return inherited
    op, argument = item
    if str(op) == "AT":
        return str(argument) in _BOUNDARIES
    if str(op) == "LITERAL":
        return chr(argument) == " "
    return False


def _sequence_needles(
    items: Sequence[tuple[Any, Any]], left: bool, right: bool
) -> list[tuple[_Needle, ...]]:
    """Clauses (as needles: one of them occurs in the match) every match of a parsed sequence
    satisfies. left/right: whether the sequence is bounded by a non-word character."""
    clauses: list[tuple[_Needle, ...]] = []
    index, size = 0, len(items)
    while index < size:
        op, argument = items[index]
        name = str(op)
        previous = items[index - 1] if index else None
        if name == "LITERAL":
            end = index
            while end < size and str(items[end][0]) == "LITERAL":
                end += 1
            text = "".join(chr(code) for _, code in items[index:end])
            following = items[end] if end < size else None
            word = _whole_word(
                text,
                _is_boundary(previous, left),
                _is_boundary(following, right),
            )
            clauses.append(((text, word),))
            index = end
            continue
        following = items[index + 1] if index + 1 < size else None
        inner_left = _is_boundary(previous, left)
        inner_right = _is_boundary(following, right)
        if name == "SUBPATTERN":
            _, add_flags, _, body = argument
            if not add_flags & re.IGNORECASE:
                clauses += _sequence_needles(body.data, inner_left, inner_right)
        elif name == "ATOMIC_GROUP":
            clauses += _sequence_needles(argument.data, inner_left, inner_right)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = argument
            if low >= 1:
                # Repeated, a piece may touch itself: only a single pass keeps its edges.
                single = high == 1
                clauses += _sequence_needles(
                    body.data, inner_left and single, inner_right and single
                )
        elif name == "BRANCH":
            _, alternatives = argument
            union: set[_Needle] = set()
            for alternative in alternatives:
                inner = _sequence_needles(alternative.data, inner_left, inner_right)
                if not inner:
                    union.clear()
                    break
                union.update(max(inner, key=_strength))
            if union:
                clauses.append(tuple(sorted(union, key=lambda needle: -len(needle[0]))))
        # Anything else (assertions, classes, \w, backreferences) requires no literal text.
        index += 1
    return clauses


def _strength(clause: Iterable[_Needle]) -> tuple[int, int, int]:
    # Whole words are tested with one set operation; long strings rarely occur by chance.
    needles = list(clause)
    return (
        all(word is not None for _, word in needles),
        min(len(text) for text, _ in needles),
        -len(needles),
    )


def _clauses(needle_clauses: Iterable[tuple[_Needle, ...]]) -> tuple[Clause, ...]:
    found: dict[tuple[_Needle, ...], Clause] = {}
    for needles in needle_clauses:
        if not needles or not all(text for text, _ in needles):
            continue
        words = [word for _, word in needles]
        found[needles] = Clause(
            strings=tuple(text for text, _ in needles),
            words=frozenset(w for w in words if w) if all(words) else None,
        )
    return tuple(found[key] for key in sorted(found, key=_strength, reverse=True))


def literal_requirements(pattern: re.Pattern[str]) -> Requirements:
    """What text pattern cannot match without, per top-level alternative (see Requirements)."""
    if pattern.flags & (re.IGNORECASE | re.VERBOSE):
        return ()
    # The parser `re` itself uses (private, and typed differently by typeshed versions).
    _parser = importlib.import_module("re._parser")

    items = list(_parser.parse(pattern.pattern, pattern.flags).data)
    # Word boundaries around one alternation: r"\ba|\bb" parses as r"\b(?:a|b)".
    core = [index for index, item in enumerate(items) if str(item[0]) != "AT"]
    if len(core) == 1 and str(items[core[0]][0]) == "BRANCH":
        at = core[0]
        left = _is_boundary(items[at - 1] if at else None, False)
        right = _is_boundary(items[at + 1] if at + 1 < len(items) else None, False)
        alternatives = [
            _clauses(_sequence_needles(alternative.data, left, right))
            for alternative in items[at][1][1]
        ]
    else:
        alternatives = [_clauses(_sequence_needles(items, False, False))]
    if not all(alternatives):
        return ()
    return tuple(alternatives)


def could_match(requirements: Requirements, text: str, words: set[str] | None = None) -> bool:
    """False only when, for every alternative, one of its clauses fails: none of its strings
    is in text (or, when words, the words of text, is given: none of its words is among them).
    True when nothing is known."""
    if not requirements:
        return True
    for clauses in requirements:
        for clause in clauses:
            if words is not None and clause.words is not None:
                if clause.words.isdisjoint(words):
                    break
                continue
            for part in clause.strings:
                if part in text:
                    break
            else:
                break
        else:
            return True
    return False
