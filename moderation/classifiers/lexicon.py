"""The default classifier backend: German and English word lists and phrases, compiled once.

Why a lexicon and not a model: it works offline with nothing to download, a moderator can read
why it flagged an item (the evidence names the words), and it takes a few hundredths of a
millisecond per item, so ingest keeps its pace. The vocabulary lives in lexicon_de, lexicon_en
and lexicon_shared; this module only reads texts with it:

1. Fold the text: NFKC, case folding, ä→ae ö→oe ü→ue ß→ss, accents and apostrophes dropped;
   undo light obfuscation (i.d.i.o.t, i d i o t, 1diot, a$$hole, f*ck, idiooot).
2. Split into words; look every word up once (inflected forms are in the tables already).
3. Language from function words and umlauts (the platform's hint decides short texts).
4. Toxicity per category: person nouns insult whoever they are about; evaluative words
   ("dumm", "trash") insult only when said of "du/ihr/you"; German compounds are split
   ("Oberidiot", "Dummkopf", "Scheißladen"); phrases catch threats, hate and abuse; a negation
   or a report ("he called me an idiot") halves a hit. Accusations of fraud are criticism:
   they make the sentiment negative, never the text toxic.
5. Sentiment: word scores with negation (before and, German style, after the word),
   intensifiers, "but" weighting, emojis and exclamation marks, normalised to -1..1.
6. Spam: links, repeated text, only emojis, only mentions, contact data, known spam phrases,
   each a weight combined as independent evidence.
"""

from __future__ import annotations

import math
from bisect import bisect_right
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from moderation.classifiers import lexicon_de as de
from moderation.classifiers import lexicon_en as en
from moderation.classifiers import lexicon_shared as shared
from moderation.classifiers.base import SPAM_SIGNALS, Classification

SENTIMENT_THRESHOLD = 0.2
MAX_EVIDENCE = 10

_FOLD = str.maketrans(
    {
        "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "à": "a", "á": "a", "â": "a", "ã": "a",
        "å": "a", "ç": "c", "è": "e", "é": "e", "ê": "e", "ë": "e", "ì": "i", "í": "i",
        "î": "i", "ï": "i", "ñ": "n", "ò": "o", "ó": "o", "ô": "o", "õ": "o", "ø": "o",
        "ù": "u", "ú": "u", "û": "u", "ý": "y", "ÿ": "y", "'": "", "’": "", "‘": "", "`": "",
        "´": "", "\u00ad": "", "\u200b": "", "\u200c": "", "€": " euro ",
    }
)  # fmt: skip
_LEET = str.maketrans("013578$", "oiestbs")
_LEET_RE = re.compile(r"[a-z0-9$]*[0-9$][a-z0-9$]*")
# Links with a call to action are promotion ("sign up here: …", "code INBOX20").
_CALL_TO_ACTION_RE = re.compile(
    r"\b(?:registrier\w*|sign up|signup|anmelden|confirm|verify|bestaetig\w*|entsperr\w*|login"
    r"|log in|code|gratis|free|kostenlos\w*|rabatt|discount|guenstig\w*|cheap|shop|visit|besucht?"
    r"|vorbei|check out|subscribe|abonnier\w*|prozent|percent|off|teilen|share|gewinn\w*|win)\b"
)
_DOTTED_RE = re.compile(r"\b[a-z](?:[.\-_*·+|] ?[a-z]){2,}\b")
_SPACED_RE = re.compile(r"\b[a-z](?: [a-z]){3,}\b")
_MASKED_RE = re.compile(r"\b[a-z]+\*+[a-z]*")
_INNER_AT_RE = re.compile(r"(?<=[a-z])@(?=[a-z])")
_RUN_RE = re.compile(r"([a-z])\1{2,}")
_NON_LETTER_RE = re.compile(r"[^a-z]+")
_TOKEN_RE = re.compile(r"[a-z0-9]+")
_SENTENCE_END_RE = re.compile(r"[.!?;]+(?:\s|$)")
_UMLAUT_RE = re.compile(r"[äöüÄÖÜß]")
_EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0f\u200d\u20e3"
    "\U0001f1e6-\U0001f1ff]"
)
_IGNORABLE_RE = re.compile(r"[\s\W_]+")
_MENTION_TEXT_RE = re.compile(r"^(?:\s*@[\w.]+[\s,;:!.]*)+$")
_LINK_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|de|io|ly|me|co"
    r"|info|biz|xyz|shop|store|online|site|link|club|top|app|gl|gd|cc|tk|ru|cn|ee|at|ch|eu|uk"
    r"|us|to|gg|tv|live|vip|win|click|bid|loan)\b(?:/\S*)?",
    re.IGNORECASE,
)
_SHORTENER_RE = re.compile(
    r"\b(?:bit\.ly|tinyurl\.com|t\.co|goo\.gl|ow\.ly|is\.gd|cutt\.ly|linktr\.ee|shorturl\.at"
    r"|rb\.gy|t\.me|wa\.me|buff\.ly|tiny\.cc|s\.id|rebrand\.ly)/",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]*[a-z]{2,}\b", re.IGNORECASE)
_PHONE_RE = re.compile(r"(?<![\w#])(?:\+|00)?\d[\d \t/().-]{6,}\d")
_ORDER_CONTEXT_RE = re.compile(
    r"(?:bestell|auftrag|order|rechnung|invoice|kunden|customer|tracking|sendung|paket|ticket"
    r"|artikel|nr|no|number|nummer|iban|plz|#)\W{0,3}$",
    re.IGNORECASE,
)
_MESSENGER = r"(?:whats ?app|telegram|signal|snapchat|snap|kik|wickr|viber|wechat|threema|line id)"
_MESSENGER_RE = re.compile(
    r"\b(?:schreib|schreibt|schreiben|melde|meldet|kontaktier\w*|add|contact|message|text|dm"
    r"|hit me up|reach|ping|write|chat|kontakt)\b(?: \w+){0,4} " + _MESSENGER + r"\b|\b"
    + _MESSENGER + r"(?: (?:me|mir|uns|us|nummer|number|id|handle|kontakt|contact))?"
    r" (?:\w+ )?(?:\d{5,}|at \w+)"
)
_MESSENGER_HANDLE_RE = re.compile(_MESSENGER + r"\W{0,3}[@+]\w", re.IGNORECASE)
_EVIDENCE_LEN = 40

_REPORTING = frozenset(
    "called calls calling call nannte nennt nennen genannt beschimpft beschimpfte said sagte "
    "gesagt meinte schrieb wrote told bezeichnet bezeichnete bezeichneten".split()
)
_NEGATION_IN_PATTERN = re.compile(r"nicht|never|dont|shouldnt|wont|cant|\\bno\\b")
_CONTRAST = frozenset("but aber however jedoch allerdings trotzdem".split())
_POST_NEGATORS = frozenset(["nicht", "nie", "kein"])


class _Word:
    """What the tables know about one folded word form."""

    __slots__ = (
        "copula",
        "copula3",
        "dehuman",
        "de",
        "en",
        "group",
        "intensifier",
        "negator",
        "person",
        "second",
        "sent_de",
        "sent_en",
        "toxic",
        "targeted",
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


# Derived forms that are other words: "sau"+"er" is "sauer" (angry), "rat"+"es" is "rates".
_NOT_DERIVED = frozenset(
    "sauer saue sauen packen packe packer packt packs packen mister misten rates rated hacks "
    "tools horsten kuhen assed dicks arme armen bade baden giften".split()
)
_SIBILANT_ENDINGS = ("s", "sh", "ch", "x", "z")


def _forms(word: str, suffixes: Iterable[str]) -> list[str]:
    forms = [word]
    for suffix in suffixes:
        if not suffix or (suffix == "es" and suffixes is _EN_SUFFIXES and not word.endswith(_SIBILANT_ENDINGS)):
            continue
        if word + suffix not in _NOT_DERIVED:
            forms.append(word + suffix)
    return forms


_DE_SUFFIXES = ("", "e", "en", "n", "er", "es", "s", "em", "ern", "ens", "innen", "in")
_EN_SUFFIXES = ("", "s", "es")
_BOOSTERS = frozenset(
    "absolute absoluter absolutes absoluten total totaler totale totales totalen complete "
    "utter such riesen komplett kompletter kompletten bloody fucking verdammter verdammte "
    "elender elende mieser miese".split()
)


def _phrase_regex(phrases: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(phrases), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")\b")


def counts_all_max(tokens: list[str]) -> int:
    """How often the most frequent word occurs (a phrase said three times has one that does)."""
    return Counter(tokens).most_common(1)[0][1] if tokens else 0


_Phrase = tuple[re.Pattern[str], float, str, bool, frozenset[str]]
_ESCAPE_RE = re.compile(r"\\[a-zA-Z]")
_LITERAL_RE = re.compile(r"[a-z0-9]{2,}")
# Words too common to be worth a look-up: a phrase is tried for its rarer words.
_COMMON_WORDS = de.STOPWORDS | en.STOPWORDS | frozenset("ich du you your ur ill im ya".split())


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


def _triggers(source: str) -> frozenset[str]:
    """First four letters of the words a phrase cannot match without (any one of them).

    Every phrase starts its words at word boundaries, so a text can only match when one of its
    words begins like one of these; a text without any skips the regular expression, which
    keeps classification fast. Per top-level alternative the rarer words are taken, or all of
    its words when it has only common ones."""
    prefixes: set[str] = set()
    for alternative in _top_level_alternatives(source):
        words = _LITERAL_RE.findall(_ESCAPE_RE.sub(" ", alternative))
        rare = [word for word in words if word not in _COMMON_WORDS] or words
        prefixes.update(word[:4] for word in rare)
    return frozenset(prefixes)


def _combine(weights: Iterable[float]) -> float:
    """Independent evidence: two hits of 0.5 make 0.75, never more than 1."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - min(max(weight, 0.0), 1.0)
    return 1.0 - remaining


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
            setattr(self, f"_sentiment_phrases_{lang}", multiword)
        # Words of both languages ("in", "so", "was") say nothing about which one a text is in.
        for form in de.STOPWORDS & en.STOPWORDS:
            self._word(form).de = self._word(form).en = 0.0
        # Content words of one language only are weaker evidence than function words.
        content = {
            lang: {
                base
                for table in (module.SENTIMENT, module.INSULT_NOUNS, module.PROFANITY,
                              module.TARGETED_EVALUATIVES, module.PERSON_NOUNS)  # fmt: skip
                for base in table
                if " " not in base
            }
            for lang, module in (("de", de), ("en", en))
        }
        for lang, other in (("de", "en"), ("en", "de")):
            for base in content[lang] - content[other]:
                word = self._words.get(base)
                if word is not None and not word.de and not word.en:
                    setattr(word, lang, 0.5)
        for form in ("xpositive", "xnegative"):
            word = self._word(form)
            word.sent_de = word.sent_en = 1.6 if form == "xpositive" else -1.6
        # Derived forms that are other words ("arme", "bade") must not be read as sentiment.
        for form in ("bad", "hell", "gift", "kind", "fast", "rot", "also", "arm", "die"):
            word = self._words.get(form)
            if word is not None:
                word.sent_de = None if form in ("bad", "hell", "kind") else word.sent_de
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
        def compile_all(items: Iterable[tuple[str, float]], category: str) -> list[_Phrase]:
            return [
                (
                    re.compile(pattern),
                    weight,
                    category,
                    bool(_NEGATION_IN_PATTERN.search(pattern)),
                    _triggers(pattern),
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
            r"\b(?:" + "|".join(f"(?:{p})" for p in [*de.HATE_PREDICATES, *en.HATE_PREDICATES]) + r")\b"
        )
        self._hate_phrases = compile_all([*de.HATE_PHRASES, *en.HATE_PHRASES], "hate")
        multiword: list[_Phrase] = [
            (re.compile(r"\b" + re.escape(phrase) + r"\b"), weight, category, False, _triggers(phrase))
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
            (re.compile(pattern), weight, label, _triggers(pattern))
            for pattern, weight, label in shared.SPAM_PHRASES
        ]
        self._benign = [
            (re.compile(p), f" {marker} ", _triggers(p)) for p, marker in shared.BENIGN_PHRASES
        ]
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
        self._sentiment_re = {
            lang: _phrase_regex(getattr(self, f"_sentiment_phrases_{lang}"))
            for lang in ("de", "en")
        }

    # --- reading a text ----------------------------------------------------------------------

    def _fold(self, text: str) -> str:
        folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
        if "@" in folded:
            folded = _INNER_AT_RE.sub("a", folded)
        if "*" in folded:
            folded = _MASKED_RE.sub(self._unmask, folded)
        folded = _DOTTED_RE.sub(lambda m: _NON_LETTER_RE.sub("", m.group()), folded)
        folded = _SPACED_RE.sub(lambda m: m.group().replace(" ", ""), folded)
        folded = _LEET_RE.sub(self._unleet, folded)
        return folded.replace("$", " dollar ")

    @staticmethod
    def _unleet(match: re.Match[str]) -> str:
        token = match.group()
        letters = sum(ch.isalpha() for ch in token)
        # Only words that mix letters with digits ("1diot", "sh1t"), not numbers or "mp3".
        if letters < 2 or len(token) - letters > letters:
            return token
        return token.translate(_LEET)

    def _unmask(self, match: re.Match[str]) -> str:
        token = match.group()
        stars = token.count("*")
        if stars > 4 or len(token) - stars < 2 and not token.endswith("*"):
            return token
        head, _, _ = token.partition("*")
        tail = token.rstrip("*").rsplit("*", 1)[-1] if not token.endswith("*") else ""
        pattern = re.compile(
            re.escape(head) + f"[a-z]{{{stars},{stars + 2}}}" + re.escape(tail) + r"\Z"
        )
        matches = [c for c in self._masked_candidates.get(head[:1], ()) if pattern.match(c)]
        # One letter a star is the likeliest reading: "f*ck" is "fuck", not "fick".
        matches.sort(
            key=lambda candidate: (abs(len(candidate) - len(token)), candidate not in self._english)
        )
        return matches[0] if matches else token

    def _resolve_runs(self, tokens: list[str]) -> None:
        for index, token in enumerate(tokens):
            if _RUN_RE.search(token):
                double = _RUN_RE.sub(r"\1\1", token)
                single = _RUN_RE.sub(r"\1", token)
                tokens[index] = single if single in self._words and double not in self._words else double

    def classify(self, text: str, *, language_hint: str = "") -> Classification:
        folded = self._fold(text)
        present = {token[:4] for token in _TOKEN_RE.findall(folded)}
        for pattern, marker, triggers in self._benign:
            if not self.use_triggers or not triggers.isdisjoint(present):
                folded = pattern.sub(marker, folded)
        matches = list(_TOKEN_RE.finditer(folded))
        tokens = [match.group() for match in matches]
        # Which sentence each word is in: a negation does not reach past a full stop.
        ends = [match.start() for match in _SENTENCE_END_RE.finditer(folded)]
        sentences = [bisect_right(ends, match.start()) for match in matches] if ends else None
        if _RUN_RE.search(folded):
            self._resolve_runs(tokens)
        joined = " ".join(tokens)
        words = self._words
        entries = [words.get(token) for token in tokens]

        language, confidence = self._language(text, entries, language_hint)
        prefixes = {token[:4] for token in tokens}
        toxicity, evidence = self._toxicity(tokens, entries, joined, prefixes)
        emojis = _EMOJI_RE.findall(text)
        for emoji in emojis:
            hit = shared.EMOJI_TOXICITY.get(emoji)
            if hit:
                toxicity[hit[0]].append(hit[1])
                evidence.append((hit[1], f"{hit[0]}: {emoji}"))
        scores = {category: round(_combine(weights), 3) for category, weights in toxicity.items()}
        sentiment_score = self._sentiment(
            text, tokens, entries, joined, language, emojis, scores, sentences
        )
        spam, signals, spam_evidence = self._spam(text, tokens, entries, joined, emojis, prefixes)
        evidence.sort(key=lambda pair: -pair[0])
        labels: list[str] = []
        for _, label in evidence + spam_evidence:
            if label not in labels:
                labels.append(label)
        if sentiment_score >= SENTIMENT_THRESHOLD:
            sentiment = "positive"
        elif sentiment_score <= -SENTIMENT_THRESHOLD:
            sentiment = "negative"
        else:
            sentiment = "neutral"
        return Classification(
            language=language,
            language_confidence=round(confidence, 3),
            sentiment=sentiment,
            sentiment_score=round(sentiment_score, 3),
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
            window = entries[max(0, index - 3) : index]
            if any(e is not None and e.negator for e in window):
                return weight * 0.5
            # Reported, not said: "called me an idiot", "einen Idioten genannt".
            if any(t in _REPORTING for t in tokens[max(0, index - 4) : index + 4]):
                return weight * 0.5
            return weight

        for index, entry in enumerate(entries):
            if entry is None:
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
            groups += [joined.count(" ", 0, m.start()) for m in self._group_phrases.finditer(joined)]
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

        for pattern, weight, category, negated_phrase, triggers in self._toxic_phrases:
            if self.use_triggers and triggers.isdisjoint(prefixes):
                continue
            match = pattern.search(joined)
            if match is None:
                continue
            if category in ("threat", "insult"):
                index = joined.count(" ", 0, match.start())
                end = index + match.group().count(" ") + 1
                # A negation said by the phrase itself ("nicht allein") is its meaning.
                span = entries[max(0, index - 1) : end] if not negated_phrase else []
                if any(e is not None and e.negator for e in span):
                    weight *= 0.4
                elif category == "insult" and any(
                    t in _REPORTING for t in tokens[max(0, index - 5) : end + 3]
                ):
                    weight *= 0.5
            found[category].append(weight)
            evidence.append((weight, f"{category}: {match.group()[:_EVIDENCE_LEN]}"))
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
        for window in (entries[max(0, index - 6) : index], entries[index + 1 : index + 4]):
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
                if offset == 1 or (between is not None and (between.targeted or between.intensifier)):
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

    def _sentiment(
        self,
        text: str,
        tokens: list[str],
        entries: list[_Word | None],
        joined: str,
        language: str,
        emojis: list[str],
        toxicity: dict[str, float],
        sentences: list[int] | None,
    ) -> float:
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
            if tokens[index] in _CONTRAST:
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
                value *= -0.74
            total += value
            last_word_index, last_word_value = index, value
        languages = (language,) if language else ("de", "en")
        for lang in languages:
            pattern = self._sentiment_re[lang]
            if pattern is not None:
                table = getattr(self, f"_sentiment_phrases_{lang}")
                for match in pattern.finditer(joined):
                    total += table[match.group()]
        for emoji in emojis:
            total += shared.EMOJI_SENTIMENT.get(emoji, 0.0)
        # Swearing says little about the mood ("Holy shit, what a finale"); attacks do.
        total -= 2.5 * sum(v for category, v in toxicity.items() if category != "profanity")
        if total:
            exclamations = min(text.count("!"), 4)
            total += math.copysign(0.29 * exclamations, total)
        return total / math.sqrt(total * total + 15.0)

    def _spam(
        self,
        text: str,
        tokens: list[str],
        entries: list[_Word | None],
        joined: str,
        emojis: list[str],
        prefixes: set[str],
    ) -> tuple[float, list[str], list[tuple[float, str]]]:
        weights: dict[str, float] = {}
        evidence: list[tuple[float, str]] = []

        def signal(name: str, weight: float, label: str) -> None:
            weights[name] = max(weights.get(name, 0.0), weight)
            evidence.append((weight, f"spam: {label}"))

        links = _LINK_RE.findall(text)
        emails = _EMAIL_RE.findall(text)
        if emails:
            links = [link for link in links if not any(link in email for email in emails)]
        if links:
            weight = 0.4 if len(links) == 1 else 0.65 if len(links) == 2 else 0.8
            if _SHORTENER_RE.search(text):
                weight = _combine([weight, 0.35])
            if _CALL_TO_ACTION_RE.search(joined):
                weight = _combine([weight, 0.4])
            signal("links", weight, "link" if len(links) == 1 else f"{len(links)} links")
        contact: list[float] = []
        if emails:
            contact.append(0.5)
            evidence.append((0.5, "spam: e-mail address"))
        for match in _PHONE_RE.finditer(text):
            digits = sum(ch.isdigit() for ch in match.group())
            if 8 <= digits <= 15 and not _ORDER_CONTEXT_RE.search(text, 0, match.start()):
                contact.append(0.5)
                evidence.append((0.5, "spam: phone number"))
                break
        if _MESSENGER_RE.search(joined) or _MESSENGER_HANDLE_RE.search(text):
            contact.append(0.6)
            evidence.append((0.6, "spam: messenger contact"))
        if contact:
            weights["contact_data"] = _combine(contact)

        content = [t for t, e in zip(tokens, entries, strict=True) if e is None or not (e.de or e.en)]
        if len(tokens) >= 4:
            counts = Counter(content)
            if counts:
                word, count = counts.most_common(1)[0]
                if count >= 4 and count / len(tokens) >= 0.3:
                    signal("repeated_text", 0.6, f"repeated '{word[:20]}'")
            if "repeated_text" not in weights and len(tokens) >= 6 and counts_all_max(tokens) >= 3:
                for size in (2, 3, 4):
                    grams = Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))
                    gram, count = grams.most_common(1)[0]
                    if count >= 3 and count * size / len(tokens) >= 0.4:
                        signal("repeated_text", 0.6, f"repeated '{' '.join(gram)[:20]}'")
                        break
        if emojis and not _IGNORABLE_RE.sub("", _EMOJI_RE.sub("", text)):
            count = len([e for e in emojis if e not in ("\ufe0f", "\u200d")])
            weight = 0.6 if count >= 8 else 0.4 if count >= 4 else 0.2
            signal("only_emojis", weight, "only emojis")
        if _MENTION_TEXT_RE.match(text):
            count = text.count("@")
            weight = 0.6 if count >= 3 else 0.45 if count == 2 else 0.3
            signal("only_mentions", weight, "only mentions")
        phrase_weights = []
        for pattern, weight, label, triggers in self._spam_phrases:
            if self.use_triggers and triggers.isdisjoint(prefixes):
                continue
            if pattern.search(joined):
                phrase_weights.append(weight)
                evidence.append((weight, f"spam: {label}"))
        if phrase_weights:
            weights["spam_phrase"] = _combine(phrase_weights)
        signals = [name for name in _SIGNAL_ORDER if name in weights]
        return _combine(weights.values()), signals, sorted(evidence, key=lambda pair: -pair[0])


_SIGNAL_ORDER = SPAM_SIGNALS
