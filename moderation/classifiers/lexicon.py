"""The default classifier backend: German and English word lists and phrases, compiled once.

Why a lexicon and not a model: it works offline with nothing to download, a moderator can read
why it flagged an item (the evidence names the words), and it takes about 0.2 ms for a
200-character comment, so ingest keeps its pace. The vocabulary lives in lexicon_de, lexicon_en
and lexicon_shared; lexicon_text folds text and indexes phrases by their words, lexicon_spam
scores spam; this module reads a text with them:

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
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable

from moderation.classifiers import lexicon_de as de
from moderation.classifiers import lexicon_en as en
from moderation.classifiers import lexicon_shared as shared
from moderation.classifiers.base import Classification
from moderation.classifiers.lexicon_sentiment import CONTRAST, PhraseStarts, sentiment_score
from moderation.classifiers.lexicon_shared import words
from moderation.classifiers.lexicon_spam import EMOJI_RE, spam_signals
from moderation.classifiers.lexicon_text import (
    RUN_RE,
    SENTENCE_END_RE,
    TOKEN_RE,
    Phrase,
    PhraseIndex,
    combine,
    fold,
    masked_pattern,
    phrase_triggers,
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


class _Word:
    """What the tables know about one folded word form."""

    __slots__ = (
        "copula",
        "copula3",
        "de",
        "dehuman",
        "en",
        "group",
        "intensifier",
        "negator",
        "person",
        "second",
        "sent_de",
        "sent_en",
        "targeted",
        "toxic",
        "toxicity_relevant",
    )

    def __init__(self) -> None:
        self.de = 0.0
        self.en = 0.0
        self.sent_de: float | None = None
        self.sent_en: float | None = None
        self.negator = False
        self.intensifier = 0.0
        self.second = False
        self.copula = False
        self.copula3 = False
        self.person = False
        self.group = False
        self.dehuman = False
        # (category, weight, label): hits whoever the word is about.
        self.toxic: list[tuple[str, float, str]] = []
        # (weight, label): an insult only when said of the reader ("du bist dumm").
        self.targeted: tuple[float, str] | None = None
        # Whether the toxicity pass has anything to do with this word (set once compiled).
        self.toxicity_relevant = True


# Derived forms that are other words: "sau"+"er" is "sauer" (angry), "rat"+"es" is "rates".
_NOT_DERIVED = words(
    "sauer saue sauen packen packe packer packt packs packen mister misten rates rated hacks "
    "tools horsten kuhen assed dicks arme armen bade baden giften"
)
_SIBILANT_ENDINGS = ("s", "sh", "ch", "x", "z")


def _forms(word: str, suffixes: Iterable[str]) -> list[str]:
    forms = [word]
    for suffix in suffixes:
        if not suffix or (
            suffix == "es" and suffixes is _EN_SUFFIXES and not word.endswith(_SIBILANT_ENDINGS)
        ):
            continue
        if word + suffix not in _NOT_DERIVED:
            forms.append(word + suffix)
    return forms


_DE_SUFFIXES = ("", "e", "en", "n", "er", "es", "s", "em", "ern", "ens", "innen", "in")
_EN_SUFFIXES = ("", "s", "es")
_BOOSTERS = words(
    "absolute absoluter absolutes absoluten total totaler totale totales totalen complete "
    "utter such riesen komplett kompletter kompletten bloody fucking verdammter verdammte "
    "elender elende mieser miese"
)


class LexiconClassifier:
    """German and English lexicons and phrases; see the module docstring for how it reads."""

    name = "lexicon"
    # Off only to check that skipping phrases by their words changes no result.
    use_triggers = True

    def __init__(self) -> None:
        self._words: dict[str, _Word] = {}
        self._build_words()
        self._build_phrases()

    # --- compiling the tables ----------------------------------------------------------------

    def _word(self, form: str) -> _Word:
        word = self._words.get(form)
        if word is None:
            word = self._words[form] = _Word()
        return word

    def _add_toxic(self, table: dict[str, float], category: str, suffixes: Iterable[str]) -> None:
        for base, weight in table.items():
            if " " in base:
                self._multiword_toxic.append((base, category, weight))
                continue
            for form in _forms(base, suffixes):
                word = self._word(form)
                if not any(c == category and w >= weight for c, w, _ in word.toxic):
                    word.toxic = [hit for hit in word.toxic if hit[0] != category]
                    word.toxic.append((category, weight, f"{category}: {base}"))

    def _build_words(self) -> None:
        self._multiword_toxic: list[tuple[str, str, float]] = []
        for lang, module, suffixes in (("de", de, _DE_SUFFIXES), ("en", en, _EN_SUFFIXES)):
            for form in module.STOPWORDS:
                setattr(self._word(form), lang, 1.0)
            for form in module.NEGATORS:
                self._word(form).negator = True
            for form, factor in module.INTENSIFIERS.items():
                self._word(form).intensifier = factor
            for form in module.SECOND_PERSON:
                self._word(form).second = True
            for form in module.COPULAS:
                self._word(form).copula = True
            for form in module.GROUPS:
                self._word(form).group = True
            for form in module.DEHUMANISING:
                self._word(form).dehuman = True
            for form in module.PERSON_NOUNS:
                self._word(form).person = True
            for form in module.THIRD_PERSON_COPULAS:
                self._word(form).copula3 = True
            self._add_toxic(module.INSULT_NOUNS, "insult", suffixes)
            self._add_toxic(module.PROFANITY, "profanity", suffixes)
            self._add_toxic(module.HATE_SLURS, "hate", suffixes)
            for base, weight in module.TARGETED_EVALUATIVES.items():
                if " " in base:
                    continue
                for form in _forms(base, suffixes):
                    word = self._word(form)
                    if word.targeted is None or word.targeted[0] < weight:
                        word.targeted = (weight, f"insult: {base}")
            attribute = f"sent_{lang}"
            multiword: dict[str, float] = {}
            for base, score in module.SENTIMENT.items():
                if " " in base:
                    multiword[base] = score
                    continue
                for form in _forms(base, suffixes):
                    word = self._word(form)
                    # The base form wins over a derived form of another entry.
                    if getattr(word, attribute) is None or form == base:
                        setattr(word, attribute, score)
            for form in module.ACCUSATIONS:
                # "Betrüger", "scam": criticism of a company, negative and never toxic.
                if getattr(self._word(form), attribute) is None:
                    setattr(self._word(form), attribute, -2.2)
            setattr(self, f"_sentiment_phrases_{lang}", multiword)
        # Words of both languages ("in", "so", "was") say nothing about which one a text is in.
        for form in de.STOPWORDS & en.STOPWORDS:
            self._word(form).de = self._word(form).en = 0.0
        # Content words of one language only are weaker evidence than function words.
        content = {
            lang: {
                base
                for table in (
                    module.SENTIMENT,
                    module.INSULT_NOUNS,
                    module.PROFANITY,
                    module.TARGETED_EVALUATIVES,
                    module.PERSON_NOUNS,
                )
                for base in table
                if " " not in base
            }
            for lang, module in (("de", de), ("en", en))
        }
        for lang, other in (("de", "en"), ("en", "de")):
            for base in content[lang] - content[other]:
                known = self._words.get(base)
                if known is not None and not known.de and not known.en:
                    setattr(known, lang, 0.5)
        for form in ("xpositive", "xnegative"):
            word = self._word(form)
            word.sent_de = word.sent_en = 1.6 if form == "xpositive" else -1.6
        for word in self._words.values():
            word.toxicity_relevant = bool(word.toxic or word.targeted or word.group or word.dehuman)
        # Masked swearing is mostly English: "f*ck" reads "fuck" before "fick".
        self._english = {
            form
            for table in (en.INSULT_NOUNS, en.PROFANITY, en.HATE_SLURS, en.GROUPS)
            for base in table
            for form in _forms(base, _EN_SUFFIXES)
        }
        self._masked_candidates: dict[str, list[str]] = {}
        for form, word in sorted(
            self._words.items(), key=lambda pair: -max((w for _, w, _ in pair[1].toxic), default=0)
        ):
            # Groups too: "M*slims out" is hate whatever the stars hide.
            if (word.toxic or word.group) and len(form) >= 3:
                self._masked_candidates.setdefault(form[0], []).append(form)

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
                for phrase, score in getattr(self, f"_sentiment_phrases_{lang}").items():
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

    def _resolve_runs(self, tokens: list[str]) -> None:
        for index, token in enumerate(tokens):
            if RUN_RE.search(token):
                double = RUN_RE.sub(r"\1\1", token)
                single = RUN_RE.sub(r"\1", token)
                tokens[index] = (
                    single if single in self._words and double not in self._words else double
                )

    def classify(self, text: str, *, language_hint: str = "") -> Classification:
        folded = fold(text, self._unmask)
        matches = list(TOKEN_RE.finditer(folded))
        tokens = [match.group() for match in matches]
        replaced = 0
        present = {token[:4] for token in tokens}
        for candidate in self._benign_index.candidates(present, use_triggers=self.use_triggers):
            pattern, marker, _ = self._benign[candidate]
            folded, count = pattern.subn(marker, folded)
            replaced += count
        if replaced:
            matches = list(TOKEN_RE.finditer(folded))
            tokens = [match.group() for match in matches]
        # Which sentence each word is in: a negation does not reach past a full stop.
        ends = [match.start() for match in SENTENCE_END_RE.finditer(folded)]
        sentences = [bisect_right(ends, match.start()) for match in matches] if ends else None
        if RUN_RE.search(folded):
            self._resolve_runs(tokens)
        joined = " ".join(tokens)
        words = self._words
        entries = [words.get(token) for token in tokens]

        language, confidence = self._language(text, entries, language_hint)
        prefixes = {token[:4] for token in tokens}
        toxicity, evidence = self._toxicity(tokens, entries, joined, prefixes)
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
            [e is not None and bool(e.de or e.en) for e in entries],
            joined,
            emojis,
            prefixes,
            [
                self._spam_phrases[candidate]
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

    @staticmethod
    def _language(text: str, entries: list[_Word | None], hint: str) -> tuple[str, float]:
        german = english = 0.0
        for entry in entries:
            if entry is not None:
                german += entry.de
                english += entry.en
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
        self, tokens: list[str], entries: list[_Word | None], joined: str, prefixes: set[str]
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

        for index, entry in enumerate(entries):
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
        if self._group_phrases.search(joined):
            groups += [
                joined.count(" ", 0, m.start()) for m in self._group_phrases.finditer(joined)
            ]
        if groups:
            # A group said to be something, or to belong somewhere else: "Typisch X", "X raus".
            for match in self._hate_predicates.finditer(joined):
                at = joined.count(" ", 0, match.start())
                near = [g for g in groups if abs(g - at) <= 7 and g != at]
                if near:
                    found["hate"].append(0.8)
                    evidence.append((0.8, f"hate: {tokens[near[0]]} … {match.group()}"))
                    break

        for match in self._compound_re.finditer(joined):
            whole = match.group()
            if whole in self._words and self._words[whole].toxic:
                continue
            prefix, head = match.group(1), match.group(2)
            if head not in de.INSULT_HEADS and not self._abusive_prefix(prefix):
                continue
            index = joined.count(" ", 0, match.start())
            weight = damp(index, self._heads[head])
            found["insult"].append(weight)
            evidence.append((weight, f"insult: {whole}"))
        for match in self._profane_prefix_re.finditer(joined):
            whole = match.group()
            if whole in self._words and self._words[whole].toxic:
                continue
            weight = de.PROFANE_PREFIXES[match.group(1)]
            found["profanity"].append(weight)
            evidence.append((weight, f"profanity: {whole}"))

        for candidate in self._toxic_index.candidates(prefixes, use_triggers=self.use_triggers):
            pattern, weight, category, negated_phrase, _ = self._toxic_phrases[candidate]
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

    @staticmethod
    def _abusive_prefix(prefix: str) -> bool:
        candidates = (prefix, prefix[:-1] if prefix.endswith(("s", "e", "n")) else prefix)
        return any(c in de.ABUSIVE_PREFIXES for c in candidates) or prefix.endswith(
            ("dreck", "drecks", "scheiss", "kack")
        )

    @staticmethod
    def _addressed(entries: list[_Word | None], index: int, tokens: list[str]) -> bool:
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
    def _about_person(entries: list[_Word | None], index: int) -> bool:
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
