"""Sentiment of the lexicon classifier: word scores (-3..3) with negation before and, German
style, after the word ("funktioniert nicht"), intensifiers, "but" weighting, multi-word
phrases, emojis and exclamation marks, normalised to -1..1."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from moderation.classifiers import lexicon_shared as shared
from moderation.classifiers.lexicon_shared import words

CONTRAST = words("but aber however jedoch allerdings trotzdem")
_POST_NEGATORS = frozenset(["nicht", "nie", "kein"])
# Multi-word phrases by their first word: "vielen" → [(["vielen", "dank"], 2.0)].
PhraseStarts = dict[str, list[tuple[list[str], float]]]


class ScoredWord(Protocol):
    negator: bool
    intensifier: float
    sent_de: float | None
    sent_en: float | None


def sentiment_score(
    text: str,
    tokens: list[str],
    entries: Sequence[ScoredWord | None],
    language: str,
    emojis: list[str],
    toxicity: dict[str, float],
    sentences: list[int] | None,
    phrase_starts: PhraseStarts,
) -> float:
    """The sentiment of a text from -1 to 1 (VADER-style normalisation of the summed scores).

    tokens are its folded words, entries what the tables know of each, sentences which
    sentence each word is in (None: one sentence), phrase_starts the multi-word phrases of
    its language by first word, toxicity its scores (attacks make a text negative)."""
    attribute = {"de": "sent_de", "en": "sent_en"}.get(language)
    total = 0.0
    last_negation = -10
    last_word_index = -10
    last_word_value = 0.0
    for index, entry in enumerate(entries):
        if entry is None:
            continue
        if entry.negator:
            # German negates after the verb: "funktioniert nicht", "gefällt mir nicht".
            if (
                tokens[index] in _POST_NEGATORS
                and index - last_word_index <= 2
                and (sentences is None or sentences[index] == sentences[last_word_index])
            ):
                total -= last_word_value * 1.74
                last_word_index = -10
            last_negation = index
            continue
        if tokens[index] in CONTRAST:
            total *= 0.5
            continue
        if attribute is not None:
            value = getattr(entry, attribute)
        else:
            value = entry.sent_en if entry.sent_de is None else entry.sent_de
            if entry.sent_en is not None and entry.sent_de is not None:
                value = (entry.sent_de + entry.sent_en) / 2
        if value is None:
            continue
        if index > 0:
            previous = entries[index - 1]
            if previous is not None and previous.intensifier:
                value *= previous.intensifier
        if index - last_negation <= 3 and (
            sentences is None or sentences[index] == sentences[last_negation]
        ):
            # A negation turns the next opinion word only: "nicht schlecht, danke".
            value *= -0.74
            last_negation = -10
        total += value
        last_word_index, last_word_value = index, value
    # Most texts hold no phrase's first word: one set test, not a look-up per word.
    if not phrase_starts.keys().isdisjoint(tokens):
        for index, token in enumerate(tokens):
            for phrase, score in phrase_starts.get(token, ()):
                if tokens[index : index + len(phrase)] == phrase:
                    total += score
    for emoji in emojis:
        total += shared.EMOJI_SENTIMENT.get(emoji, 0.0)
    # Swearing says little about the mood ("Holy shit, what a finale"); attacks do.
    total -= 2.5 * sum(v for category, v in toxicity.items() if category != "profanity")
    if total:
        exclamations = min(text.count("!"), 4)
        total += math.copysign(0.29 * exclamations, total)
    return total / math.sqrt(total * total + 15.0)
