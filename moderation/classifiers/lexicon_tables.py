"""The word tables of the lexicon classifier, compiled once from lexicon_de, lexicon_en and
lexicon_shared: what every folded word form (inflected forms included) means to the classifier.

Split from moderation.classifiers.lexicon, which reads texts with these tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from moderation.classifiers import lexicon_de as de
from moderation.classifiers import lexicon_en as en
from moderation.classifiers.lexicon_shared import words


class Word:
    """What the tables know about one folded word form."""

    __slots__ = (
        "copula",
        "copula3",
        "de",
        "dehuman",
        "en",
        "function",
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
        # Whether it counts for the language (repeated text ignores these: "sehr sehr gut").
        self.function = False


# Derived forms that are other words: "sau"+"er" is "sauer" (angry), "rat"+"es" is "rates".
_NOT_DERIVED = words(
    "sauer saue sauen packen packe packer packt packs packen mister misten rates rated hacks "
    "tools horsten kuhen assed dicks arme armen bade baden giften"
)
_SIBILANT_ENDINGS = ("s", "sh", "ch", "x", "z")
DE_SUFFIXES = ("", "e", "en", "n", "er", "es", "s", "em", "ern", "ens", "innen", "in")
EN_SUFFIXES = ("", "s", "es")


def forms(word: str, suffixes: Iterable[str]) -> list[str]:
    """word and its inflected forms with suffixes (English "es" only after a sibilant)."""
    found = [word]
    for suffix in suffixes:
        if not suffix or (
            suffix == "es" and suffixes is EN_SUFFIXES and not word.endswith(_SIBILANT_ENDINGS)
        ):
            continue
        if word + suffix not in _NOT_DERIVED:
            found.append(word + suffix)
    return found


class WordTables:
    """Every word form of both languages with what it means, plus what the phrase pass needs:
    multi-word toxic entries and sentiment phrases (compiled as phrases by the classifier)."""

    def __init__(self) -> None:
        self.words: dict[str, Word] = {}
        # (phrase, category, weight) of toxic entries of more than one word.
        self.multiword_toxic: list[tuple[str, str, float]] = []
        # Sentiment phrases of more than one word per language: {"de": {"vielen dank": 2.0}}.
        self.sentiment_phrases: dict[str, dict[str, float]] = {}
        self._build()

    def _word(self, form: str) -> Word:
        word = self.words.get(form)
        if word is None:
            word = self.words[form] = Word()
        return word

    def _add_toxic(self, table: dict[str, float], category: str, suffixes: Iterable[str]) -> None:
        for base, weight in table.items():
            if " " in base:
                self.multiword_toxic.append((base, category, weight))
                continue
            for form in forms(base, suffixes):
                word = self._word(form)
                if not any(c == category and w >= weight for c, w, _ in word.toxic):
                    word.toxic = [hit for hit in word.toxic if hit[0] != category]
                    word.toxic.append((category, weight, f"{category}: {base}"))

    def _build(self) -> None:
        for lang, module, suffixes in (("de", de, DE_SUFFIXES), ("en", en, EN_SUFFIXES)):
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
                for form in forms(base, suffixes):
                    word = self._word(form)
                    if word.targeted is None or word.targeted[0] < weight:
                        word.targeted = (weight, f"insult: {base}")
            attribute = f"sent_{lang}"
            multiword: dict[str, float] = {}
            for base, score in module.SENTIMENT.items():
                if " " in base:
                    multiword[base] = score
                    continue
                for form in forms(base, suffixes):
                    word = self._word(form)
                    # The base form wins over a derived form of another entry.
                    if getattr(word, attribute) is None or form == base:
                        setattr(word, attribute, score)
            for form in module.ACCUSATIONS:
                # "Betrüger", "scam": criticism of a company, negative and never toxic.
                if getattr(self._word(form), attribute) is None:
                    setattr(self._word(form), attribute, -2.2)
            self.sentiment_phrases[lang] = multiword
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
                known = self.words.get(base)
                if known is not None and not known.de and not known.en:
                    setattr(known, lang, 0.5)
        for form in ("xpositive", "xnegative"):
            word = self._word(form)
            word.sent_de = word.sent_en = 1.6 if form == "xpositive" else -1.6
        for word in self.words.values():
            word.toxicity_relevant = bool(word.toxic or word.targeted or word.group or word.dehuman)
            word.function = bool(word.de or word.en)
        # Masked swearing is mostly English: "f*ck" reads "fuck" before "fick".
        self.english = {
            form
            for table in (en.INSULT_NOUNS, en.PROFANITY, en.HATE_SLURS, en.GROUPS)
            for base in table
            for form in forms(base, EN_SUFFIXES)
        }
        self.masked_candidates: dict[str, list[str]] = {}
        for form, word in sorted(
            self.words.items(), key=lambda pair: -max((w for _, w, _ in pair[1].toxic), default=0)
        ):
            # Groups too: "M*slims out" is hate whatever the stars hide.
            if (word.toxic or word.group) and len(form) >= 3:
                self.masked_candidates.setdefault(form[0], []).append(form)
