"""The default classifier backend: German and English word lists and phrases, compiled once.

Why a lexicon and not a model: it works offline with nothing to download, a moderator can read
why it flagged an item (the evidence names the words), and it takes about 0.1 ms for a
200-character comment, so ingest keeps its pace. The vocabulary lives in lexicon_de, lexicon_en
and lexicon_shared, compiled into word tables by lexicon_tables; lexicon_text folds text and
indexes phrases by their words, lexicon_spam scores spam; this module reads a text with them:

1. Fold the text: NFKC, case folding, ä→ae ö→oe ü→ue ß→ss, accents and apostrophes dropped;
   undo light obfuscation (i.d.i.o.t, i d i o t, 1diot, a$$hole, f*ck, idiooot).
2. Split into words; look every word up once (inflected forms are in the tables already).
3. Language from function words and umlauts (the platform's hint decides short texts).
4. Toxicity per category: person nouns insult whoever they are about; evaluative words
   ("dumm", "trash") insult only when said of "du/ihr/you" or of a person ("die Moderatorin
   ist dumm", "stupid people"), never of a thing ("die App ist Mist"); German compounds are
   split ("Oberidiot", "Dummkopf", "Scheißladen"); phrases catch threats and abuse; hate is a
   slur, or a group named with a dehumanising or exclusion word ("X raus", "X are vermin"); a
   negation or a report ("he called me an idiot") halves a hit. Accusations of fraud are
   criticism: they make the sentiment negative, never the text toxic.
5. Sentiment: word scores with negation (before and, German style, after the word),
   intensifiers, "but" weighting, emojis and exclamation marks, normalised to -1..1.
6. Spam: links, repeated text, only emojis, only mentions, contact data, known spam phrases,
   each a weight combined as independent evidence.

Speed (ingest classifies every new item inside its transaction): a phrase is searched only when
the text has one of its words (PhraseIndex) and every literal piece it cannot match without
(literal_requirements); per-word analyses (compounds, profane prefixes) are remembered per word
form; each folding step runs only when the text has what it undoes. None of this changes a
result: it only skips work that cannot find anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from itertools import repeat

from moderation.classifiers import lexicon_de as de
from moderation.classifiers import lexicon_en as en
from moderation.classifiers import lexicon_shared as shared
from moderation.classifiers.base import Classification
from moderation.classifiers.lexicon_requirements import (
    Requirements,
    could_match,
    literal_requirements,
)
from moderation.classifiers.lexicon_sentiment import CONTRAST, PhraseStarts, sentiment_score
from moderation.classifiers.lexicon_shared import words
from moderation.classifiers.lexicon_spam import EMOJI_RE, spam_signals
from moderation.classifiers.lexicon_tables import Word, WordTables
from moderation.classifiers.lexicon_text import (
    RUN_RE,
    Phrase,
    PhraseIndex,
    combine,
    fold,
    masked_pattern,
    phrase_triggers,
    sentence_numbers,
    tokenize,
)

SENTIMENT_THRESHOLD = 0.2
MAX_EVIDENCE = 10

_UMLAUT_RE = re.compile(r"[äöüÄÖÜß]")
_EVIDENCE_LEN = 40

_REPORTING = words(
    "called calls calling call nannte nennt nennen genannt beschimpft beschimpfte said sagte "
    "gesagt meinte schrieb wrote told bezeichnet bezeichnete bezeichneten"
)
_NEGATION_IN_PATTERN = re.compile(r"nicht|never|dont|shouldnt|wont|cant|\\bno\\b")
_BOOSTERS = words(
    "absolute absoluter absolutes absoluten total totaler totale totales totalen complete "
    "utter such riesen komplett kompletter kompletten bloody fucking verdammter verdammte "
    "elender elende mieser miese"
)
# Per-word analyses remembered, up to this many word forms (then forgotten and begun again).
_WORD_CACHE_SIZE = 100_000
# What a word form's own letters say: (insult weight, label) as a compound ("dummkopf"),
# (profanity weight, label) with a profane prefix ("scheissladen"); None for nothing.
WordParts = tuple["tuple[float, str] | None", "tuple[float, str] | None"]


class LexiconClassifier:
    """German and English lexicons and phrases; see the module docstring for how it reads."""

    name = "lexicon"
    # Off only to check that skipping phrases by their words changes no result.
    use_triggers = True

    def __init__(self) -> None:
        tables = WordTables()
        self._words: dict[str, Word] = tables.words
        self._multiword_toxic = tables.multiword_toxic
        self._sentiment_phrases = tables.sentiment_phrases
        self._english = tables.english
        self._masked_candidates = tables.masked_candidates
        # Weights of the words that tell a language, the negations, and the words the
        # toxicity pass looks at: most texts have few, found with one set operation each.
        self._german = {form: w.de for form, w in self._words.items() if w.de}
        self._english_weights = {form: w.en for form, w in self._words.items() if w.en}
        self._negators = frozenset(form for form, w in self._words.items() if w.negator)
        self._toxicity_words = frozenset(
            form for form, w in self._words.items() if w.toxicity_relevant
        )
        # Word forms without compound or profane-prefix parts, and those with (WordParts).
        self._plain_words: set[str] = set()
        # Word forms without a letter three times in a row.
        self._runless_words: set[str] = set()
        self._word_parts: dict[str, WordParts] = {}
        self._build_phrases()

    # --- compiling the tables ----------------------------------------------------------------

    def _build_phrases(self) -> None:
        def compile_all(items: Iterable[tuple[str, float]], category: str) -> list[Phrase]:
            return [
                (
                    re.compile(pattern),
                    weight,
                    category,
                    bool(_NEGATION_IN_PATTERN.search(pattern)),
                    phrase_triggers(pattern),
                )
                for pattern, weight in items
            ]

        self._threats = compile_all([*de.THREAT_PHRASES, *en.THREAT_PHRASES], "threat")
        self._insult_phrases = compile_all([*de.INSULT_PHRASES, *en.INSULT_PHRASES], "insult")
        self._profanity_phrases = compile_all(
            [*de.PROFANITY_PHRASES, *en.PROFANITY_PHRASES], "profanity"
        )
        self._group_phrases = re.compile(
            "|".join(f"(?:{p})" for p in [*de.HATE_GROUP_PHRASES, *en.HATE_GROUP_PHRASES])
        )
        self._hate_predicates = re.compile(
            r"\b(?:"
            + "|".join(f"(?:{p})" for p in [*de.HATE_PREDICATES, *en.HATE_PREDICATES])
            + r")\b"
        )
        self._hate_phrases = compile_all([*de.HATE_PHRASES, *en.HATE_PHRASES], "hate")
        multiword: list[Phrase] = [
            (
                re.compile(r"\b" + re.escape(phrase) + r"\b"),
                weight,
                category,
                False,
                phrase_triggers(phrase),
            )
            for phrase, category, weight in self._multiword_toxic
        ]
        self._toxic_phrases = (
            self._threats
            + self._insult_phrases
            + self._hate_phrases
            + self._profanity_phrases
            + multiword
        )
        self._spam_phrases = [
            (re.compile(pattern), weight, label, phrase_triggers(pattern))
            for pattern, weight, label in shared.SPAM_PHRASES
        ]
        self._toxic_index = PhraseIndex([phrase[4] for phrase in self._toxic_phrases])
        self._spam_index = PhraseIndex([phrase[3] for phrase in self._spam_phrases])
        self._benign = [
            (re.compile(p), f" {marker} ", phrase_triggers(p))
            for p, marker in shared.BENIGN_PHRASES
        ]
        self._benign_index = PhraseIndex([phrase[2] for phrase in self._benign])
        self._toxic_requirements = [literal_requirements(p[0]) for p in self._toxic_phrases]
        self._spam_requirements = [literal_requirements(p[0]) for p in self._spam_phrases]
        self._benign_requirements = [literal_requirements(p[0]) for p in self._benign]
        self._group_requirements = literal_requirements(self._group_phrases)
        self._predicate_requirements = literal_requirements(self._hate_predicates)
        heads = {**de.INSULT_HEADS, **de.RESTRICTED_HEADS}
        self._heads = heads
        self._compound_re = re.compile(
            r"\b([a-z]{2,}?)("
            + "|".join(sorted(heads, key=len, reverse=True))
            + r")(?:e|en|n|s|es|er|ern|innen|in)?\b"
        )
        self._profane_prefix_re = re.compile(
            r"\b(" + "|".join(de.PROFANE_PREFIXES) + r")([a-z]{3,})\b"
        )
        # Phrases by their first word, per language ("" for both).
        self._sentiment_starts: dict[str, PhraseStarts] = {}
        for key, langs in (("de", ("de",)), ("en", ("en",)), ("", ("de", "en"))):
            starts: PhraseStarts = {}
            for lang in langs:
                for phrase, score in self._sentiment_phrases[lang].items():
                    words = phrase.split()
                    starts.setdefault(words[0], []).append((words, score))
            self._sentiment_starts[key] = starts

    # --- reading a text ----------------------------------------------------------------------

    def _unmask(self, match: re.Match[str]) -> str:
        """The toxic word a masked word stands for ("f*ck" → "fuck"), or the word unchanged."""
        token = match.group()
        pattern = masked_pattern(token)
        if pattern is None:
            return token
        matches = [c for c in self._masked_candidates.get(token[:1], ()) if pattern.match(c)]
        # One letter a star is the likeliest reading: "f*ck" is "fuck", not "fick".
        matches.sort(
            key=lambda candidate: (abs(len(candidate) - len(token)), candidate not in self._english)
        )
        return matches[0] if matches else token

    def _requirements(self, requirements: Requirements) -> Requirements:
        # With use_triggers off every phrase is searched, literal pieces or not.
        return requirements if self.use_triggers else ()

    def _has_runs(self, unique: set[str]) -> bool:
        """Whether a word has a letter three times in a row ("sooo"). The letters of a folded
        text are all in its words, so this is RUN_RE over the text, one new word at a time."""
        runless = self._runless_words
        found = False
        for token in unique - runless:
            if RUN_RE.search(token):
                found = True
            else:
                if len(runless) >= _WORD_CACHE_SIZE:
                    runless.clear()
                runless.add(token)
        return found

    def _resolve_runs(self, tokens: list[str]) -> None:
        for index, token in enumerate(tokens):
            if RUN_RE.search(token):
                double = RUN_RE.sub(r"\1\1", token)
                single = RUN_RE.sub(r"\1", token)
                tokens[index] = (
                    single if single in self._words and double not in self._words else double
                )

    def classify(self, text: str, *, language_hint: str = "") -> Classification:
        """Reads text (language_hint: the platform's language code, "" if none) and returns
        its Classification; the same text and hint always give the same result."""
        folded = fold(text, self._unmask)
        tokens = tokenize(folded)
        replaced = 0
        present = {token[:4] for token in tokens}
        unique: set[str] | None = set(tokens)
        for candidate in self._benign_index.candidates(present, use_triggers=self.use_triggers):
            pattern, marker, _ = self._benign[candidate]
            requirements = self._requirements(self._benign_requirements[candidate])
            if not could_match(requirements, folded, unique):
                continue
            folded, count = pattern.subn(marker, folded)
            if count:
                # The words changed: later phrases are tested against the text itself.
                replaced += count
                unique = None
        if replaced:
            tokens = tokenize(folded)
            unique = set(tokens)
        assert unique is not None
        prefixes = present
        if self._has_runs(unique):
            self._resolve_runs(tokens)
            unique = set(tokens)
            prefixes = {token[:4] for token in tokens}
        elif replaced:
            prefixes = {token[:4] for token in tokens}
        joined = " ".join(tokens)
        words = self._words
        entries = [words.get(token) for token in tokens]
        # Which sentence each word is in: a negation does not reach past a full stop. Only a
        # negation asks, so texts without one skip this.
        sentences = None if self._negators.isdisjoint(unique) else sentence_numbers(folded)

        language, confidence = self._language(text, tokens, language_hint)
        toxicity, evidence = self._toxicity(tokens, entries, joined, unique, prefixes)
        emojis = EMOJI_RE.findall(text)
        for emoji in emojis:
            hit = shared.EMOJI_TOXICITY.get(emoji)
            if hit:
                toxicity[hit[0]].append(hit[1])
                evidence.append((hit[1], f"{hit[0]}: {emoji}"))
        scores = {category: round(combine(weights), 3) for category, weights in toxicity.items()}
        starts = self._sentiment_starts.get(language) or self._sentiment_starts[""]
        score = sentiment_score(text, tokens, entries, language, emojis, scores, sentences, starts)
        spam, signals, spam_evidence = spam_signals(
            text,
            tokens,
            entries,
            joined,
            emojis,
            prefixes,
            unique,
            [
                (
                    self._spam_phrases[candidate],
                    self._requirements(self._spam_requirements[candidate]),
                )
                for candidate in self._spam_index.candidates(
                    prefixes, use_triggers=self.use_triggers
                )
            ],
        )
        evidence.sort(key=lambda pair: -pair[0])
        labels: list[str] = []
        for _, label in evidence + spam_evidence:
            if label not in labels:
                labels.append(label)
        if score >= SENTIMENT_THRESHOLD:
            sentiment = "positive"
        elif score <= -SENTIMENT_THRESHOLD:
            sentiment = "negative"
        else:
            sentiment = "neutral"
        return Classification(
            language=language,
            language_confidence=round(confidence, 3),
            sentiment=sentiment,
            sentiment_score=round(score, 3),
            toxicity=scores,
            spam=round(spam, 3),
            spam_signals=tuple(signals),
            evidence=tuple(labels[:MAX_EVIDENCE]),
            backend=self.name,
        )

    # --- signals -----------------------------------------------------------------------------

    def _language(self, text: str, tokens: list[str], hint: str) -> tuple[str, float]:
        # Summed in C over the words with a weight (halves and wholes: exact in any order).
        zeros = repeat(0.0)
        german = float(sum(map(self._german.get, tokens, zeros)))
        english = float(sum(map(self._english_weights.get, tokens, zeros)))
        if not text.isascii():
            german += min(len(_UMLAUT_RE.findall(text)), 3)
        hint = hint[:2].lower()
        hint = hint if hint in ("de", "en") else ""
        total = german + english
        if total == 0:
            return hint, 0.5 if hint else 0.0
        language = "de" if german > english else "en" if english > german else ""
        margin = abs(german - english) / total
        confidence = margin * (1.0 - math.exp(-total / 2.0))
        if hint and (confidence < 0.5 or not language):
            # Too little text to overrule the platform: it knows the account and the post.
            if hint == language:
                return hint, max(confidence, 0.6)
            return hint, 0.5
        return language, confidence

    def _toxicity(
        self,
        tokens: list[str],
        entries: list[Word | None],
        joined: str,
        unique: set[str],
        prefixes: set[str],
    ) -> tuple[dict[str, list[float]], list[tuple[float, str]]]:
        found: dict[str, list[float]] = {"insult": [], "threat": [], "hate": [], "profanity": []}
        evidence: list[tuple[float, str]] = []
        groups: list[int] = []
        dehuman: list[int] = []

        def damp(index: int, weight: float) -> float:
            window = entries[max(0, index - 4) : index]
            if any(e is not None and e.negator for e in window):
                return weight * 0.5
            # Reported, not said: "called me an idiot", "einen Idioten genannt".
            if any(t in _REPORTING for t in tokens[max(0, index - 4) : index + 4]):
                return weight * 0.5
            return weight

        relevant = not self._toxicity_words.isdisjoint(unique)
        for index, entry in enumerate(entries if relevant else ()):
            if entry is None or not entry.toxicity_relevant:
                continue
            if entry.group:
                groups.append(index)
            if entry.dehuman:
                dehuman.append(index)
            for category, weight, label in entry.toxic:
                if category == "insult":
                    if self._addressed(entries, index, tokens) or (
                        index and tokens[index - 1] in _BOOSTERS
                    ):
                        weight = min(0.98, weight + 0.1)
                    weight = damp(index, weight)
                found[category].append(weight)
                evidence.append((weight, label))
            if entry.targeted is not None and (
                self._addressed(entries, index, tokens) or self._about_person(entries, index)
            ):
                weight = damp(index, entry.targeted[0])
                found["insult"].append(weight)
                evidence.append((weight, entry.targeted[1]))
        for g in groups:
            if any(abs(g - d) <= 6 for d in dehuman):
                found["hate"].append(0.85)
                evidence.append((0.85, f"hate: {tokens[g]} dehumanised"))
                break
        if could_match(self._requirements(self._group_requirements), joined, unique) and (
            self._group_phrases.search(joined)
        ):
            groups += [
                joined.count(" ", 0, m.start()) for m in self._group_phrases.finditer(joined)
            ]
        if groups and could_match(self._requirements(self._predicate_requirements), joined, unique):
            # A group said to be something, or to belong somewhere else: "Typisch X", "X raus".
            for match in self._hate_predicates.finditer(joined):
                at = joined.count(" ", 0, match.start())
                near = [g for g in groups if abs(g - at) <= 7 and g != at]
                if near:
                    found["hate"].append(0.8)
                    evidence.append((0.8, f"hate: {tokens[near[0]]} … {match.group()}"))
                    break

        # Compounds ("oberidiot") first, then profane prefixes ("scheissladen"), each in text order.
        parted = self._parted_words(unique)
        if parted:
            for index, token in enumerate(tokens):
                compound = parted.get(token, (None, None))[0]
                if compound is not None:
                    weight = damp(index, compound[0])
                    found["insult"].append(weight)
                    evidence.append((weight, compound[1]))
            for token in tokens:
                profane = parted.get(token, (None, None))[1]
                if profane is not None:
                    found["profanity"].append(profane[0])
                    evidence.append(profane)

        for candidate in self._toxic_index.candidates(prefixes, use_triggers=self.use_triggers):
            pattern, weight, category, negated_phrase, _ = self._toxic_phrases[candidate]
            requirements = self._requirements(self._toxic_requirements[candidate])
            if not could_match(requirements, joined, unique):
                continue
            hit = pattern.search(joined)
            if hit is None:
                continue
            if category in ("threat", "insult"):
                index = joined.count(" ", 0, hit.start())
                end = index + hit.group().count(" ") + 1
                # A negation said by the phrase itself ("nicht allein") is its meaning.
                span = entries[max(0, index - 1) : end] if not negated_phrase else []
                if any(e is not None and e.negator for e in span):
                    weight *= 0.4
                elif category == "insult" and any(
                    t in _REPORTING for t in tokens[max(0, index - 5) : end + 3]
                ):
                    weight *= 0.5
            found[category].append(weight)
            evidence.append((weight, f"{category}: {hit.group()[:_EVIDENCE_LEN]}"))
        return found, evidence

    def _parted_words(self, unique: set[str]) -> dict[str, WordParts]:
        """The words of tokens that are compounds or have a profane prefix, with their parts.

        Each word form is analysed once and remembered: most words of a text were seen
        before, and one set difference leaves only the new ones and those with parts."""
        parted: dict[str, WordParts] = {}
        plain = self._plain_words
        for token in unique - plain:
            parts = self._word_parts.get(token)
            if parts is None:
                parts = self._analyse_parts(token)
                if parts == (None, None):
                    if len(plain) >= _WORD_CACHE_SIZE:
                        plain.clear()
                    plain.add(token)
                    continue
                if len(self._word_parts) >= _WORD_CACHE_SIZE:
                    self._word_parts.clear()
                self._word_parts[token] = parts
            parted[token] = parts
        return parted

    def _analyse_parts(self, token: str) -> WordParts:
        """A word form's compound and profane-prefix hits. A match of either pattern over the
        joined words lies within one all-letter word, from its start to its end, so matching
        each word alone finds the same hits with the same parts."""
        known = self._words.get(token)
        if known is not None and known.toxic:
            return (None, None)
        compound: tuple[float, str] | None = None
        match = self._compound_re.match(token)
        if match is not None:
            prefix, head = match.group(1), match.group(2)
            if head in de.INSULT_HEADS or self._abusive_prefix(prefix):
                compound = (self._heads[head], f"insult: {token}")
        profane: tuple[float, str] | None = None
        match = self._profane_prefix_re.match(token)
        if match is not None:
            profane = (de.PROFANE_PREFIXES[match.group(1)], f"profanity: {token}")
        return (compound, profane)

    @staticmethod
    def _abusive_prefix(prefix: str) -> bool:
        candidates = (prefix, prefix[:-1] if prefix.endswith(("s", "e", "n")) else prefix)
        return any(c in de.ABUSIVE_PREFIXES for c in candidates) or prefix.endswith(
            ("dreck", "drecks", "scheiss", "kack")
        )

    @staticmethod
    def _addressed(entries: list[Word | None], index: int, tokens: list[str]) -> bool:
        """Whether the word at index is said of the reader: "du Idiot", "you are so stupid",
        "ihr seid doch alle bescheuert", "bist du blöd", "what a pathetic worm you are"."""
        if index:
            before = entries[index - 1]
            if (before is not None and before.second) or tokens[index - 1] == "ur":
                return True
        start = max(0, index - 6)
        for position in range(index - 1, start - 1, -1):
            # "I'm not saying you're an idiot, but this was dumb": "dumb" is said of "this".
            if tokens[position] in CONTRAST:
                start = position + 1
                break
        for window in (entries[start:index], entries[index + 1 : index + 4]):
            second = copula = False
            for entry in window:
                if entry is not None:
                    second = second or entry.second
                    copula = copula or entry.copula
            if second and copula:
                return True
        return False

    @staticmethod
    def _about_person(entries: list[Word | None], index: int) -> bool:
        """Whether an evaluative word describes a person rather than a thing: "stupid people",
        "die dümmste Moderatorin", "the presenter is an ugly hack"."""
        for offset in (1, 2):
            after = entries[index + offset] if index + offset < len(entries) else None
            if after is not None and after.person:
                between = entries[index + 1] if offset == 2 else None
                if offset == 1 or (
                    between is not None and (between.targeted or between.intensifier)
                ):
                    return True
        person_at = -1
        for position in range(max(0, index - 6), index):
            entry = entries[position]
            if entry is None:
                continue
            if entry.person:
                person_at = position
            elif entry.copula3 and person_at >= 0:
                return True
        return False
