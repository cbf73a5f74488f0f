"""What every classifier backend answers about one text, and how a backend is chosen.

A backend is any class with a `name` and `classify(text, *, language_hint="")` returning a
`Classification`; settings.MODERATION_CLASSIFIER names it by dotted path, so a stronger model
can replace the default lexicon backend without touching rules or ingest. Scores are stored on
the message (`Message.classifier_scores`, `Classification.as_scores()`) and read back with
`Classification.from_scores()`, so rules can be tested against old items without classifying
them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy

TOXICITY_CATEGORIES = ("insult", "threat", "hate", "profanity")
SENTIMENTS = ("negative", "neutral", "positive")
SPAM_SIGNALS = (
    "links",
    "repeated_text",
    "only_emojis",
    "only_mentions",
    "contact_data",
    "spam_phrase",
)
# How forms and the queue name the categories and signals (the values above are stored).
TOXICITY_LABELS: dict[str, str | Promise] = {
    "insult": gettext_lazy("Insult"),
    "threat": gettext_lazy("Threat"),
    "hate": gettext_lazy("Hate"),
    "profanity": gettext_lazy("Profanity"),
}
SPAM_SIGNAL_LABELS: dict[str, str | Promise] = {
    "links": gettext_lazy("Links"),
    "repeated_text": gettext_lazy("Repeated text"),
    "only_emojis": gettext_lazy("Only emojis"),
    "only_mentions": gettext_lazy("Only mentions"),
    "contact_data": gettext_lazy("Contact data"),
    "spam_phrase": gettext_lazy("Spam phrase"),
}


@dataclass(frozen=True)
class Classification:
    # "de", "en", or "" when the text gives no clear answer.
    language: str = ""
    language_confidence: float = 0.0
    sentiment: str = "neutral"
    # From -1 (very negative) to 1 (very positive).
    sentiment_score: float = 0.0
    # Each TOXICITY_CATEGORIES entry, 0 to 1.
    toxicity: Mapping[str, float] = field(default_factory=dict)
    spam: float = 0.0
    spam_signals: tuple[str, ...] = ()
    # What the backend found, for the reason a moderator reads ("insult: idiot").
    evidence: tuple[str, ...] = ()
    backend: str = ""

    @property
    def toxic_score(self) -> float:
        return max(self.toxicity.values(), default=0.0)

    @property
    def toxic_category(self) -> str:
        """The category with the highest score ("" when none scores above 0)."""
        best = max(self.toxicity.items(), key=lambda pair: pair[1], default=("", 0.0))
        return best[0] if best[1] > 0 else ""

    def as_scores(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "language_confidence": round(self.language_confidence, 3),
            "sentiment": self.sentiment,
            "sentiment_score": round(self.sentiment_score, 3),
            "toxicity": {
                category: round(float(self.toxicity.get(category, 0.0)), 3)
                for category in TOXICITY_CATEGORIES
            },
            "spam": round(self.spam, 3),
            "spam_signals": list(self.spam_signals),
            "evidence": list(self.evidence)[:10],
            "backend": self.backend,
        }

    @classmethod
    def from_scores(cls, scores: Mapping[str, Any] | None) -> Classification | None:
        """The classification stored by as_scores(); None when there is none (or it is not one)."""
        if not scores or "toxicity" not in scores:
            return None
        try:
            toxicity = {
                category: float(scores["toxicity"].get(category, 0.0))
                for category in TOXICITY_CATEGORIES
            }
            return cls(
                language=str(scores.get("language", "")),
                language_confidence=float(scores.get("language_confidence", 0.0)),
                sentiment=str(scores.get("sentiment", "neutral")),
                sentiment_score=float(scores.get("sentiment_score", 0.0)),
                toxicity=toxicity,
                spam=float(scores.get("spam", 0.0)),
                spam_signals=tuple(str(s) for s in scores.get("spam_signals", ())),
                evidence=tuple(str(e) for e in scores.get("evidence", ())),
                backend=str(scores.get("backend", "")),
            )
        except (AttributeError, TypeError, ValueError):
            return None


class Classifier(Protocol):
    name: str

    def classify(self, text: str, *, language_hint: str = "") -> Classification: ...


@lru_cache(maxsize=4)
def _load(path: str) -> Classifier:
    backend: Classifier = import_string(path)()
    return backend


def get_classifier() -> Classifier:
    """The configured backend (settings.MODERATION_CLASSIFIER), one instance per process."""
    return _load(getattr(settings, "MODERATION_CLASSIFIER", DEFAULT_BACKEND))


DEFAULT_BACKEND = "moderation.classifiers.lexicon.LexiconClassifier"
