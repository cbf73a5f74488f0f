"""Measure a classifier backend against the labelled evaluation set (issue 6 targets).

Used by bench/moderation_eval.py (the printed table) and by tests/moderation/test_classifiers.py
(the targets as a test), so both judge a backend by the same numbers. No database: a backend
classifies text only.

An item counts as flagged toxic when its highest toxicity score reaches the threshold (0.5, the
level the default rules hide at); a category when that category's score reaches it; spam when
the spam score reaches it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moderation.classifiers.base import TOXICITY_CATEGORIES, Classification, Classifier

DEFAULT_SET = Path(__file__).resolve().parent.parent / "evaluation" / "eval_set.jsonl"
DEFAULT_THRESHOLD = 0.5
TARGET_PRECISION = 0.9
TARGET_RECALL = 0.7
TARGET_CRITICISM_SHARE = 0.02


@dataclass(frozen=True)
class EvalItem:
    id: str
    language: str
    group: str
    text: str
    toxic: bool
    toxicity: tuple[str, ...]
    spam: bool
    sentiment: str


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        both = self.precision + self.recall
        return 2 * self.precision * self.recall / both if both else 0.0


@dataclass(frozen=True)
class Target:
    name: str
    passed: bool
    detail: str


@dataclass
class EvaluationReport:
    threshold: float
    classes: list[ClassMetrics]
    criticism_total: int
    # (item, classification) pairs, for a person to tune with.
    criticism_flagged: list[tuple[EvalItem, Classification]]
    false_positives: list[tuple[EvalItem, Classification]]
    misses: list[tuple[EvalItem, Classification]]
    median_ms: float
    targets: list[Target] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(target.passed for target in self.targets)

    def metrics(self, name: str) -> ClassMetrics:
        return next(metric for metric in self.classes if metric.name == name)

    @property
    def criticism_share(self) -> float:
        return len(self.criticism_flagged) / self.criticism_total if self.criticism_total else 0.0


def load_items(path: Path | str = DEFAULT_SET) -> list[EvalItem]:
    """The labelled items of a JSON-lines evaluation set (format: moderation/evaluation/README)."""
    items = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            raw = json.loads(line)
            items.append(
                EvalItem(
                    id=str(raw["id"]),
                    language=str(raw.get("language", "")),
                    group=str(raw.get("group", "")),
                    text=str(raw["text"]),
                    toxic=bool(raw.get("toxic", False)),
                    toxicity=tuple(raw.get("toxicity", ())),
                    spam=bool(raw.get("spam", False)),
                    sentiment=str(raw.get("sentiment", "neutral")),
                )
            )
    return items


def _metrics(
    name: str,
    pairs: Iterable[tuple[EvalItem, Classification]],
    truth: Callable[..., bool],
    predicted: Callable[..., bool],
) -> ClassMetrics:
    tp = fp = fn = 0
    for item, result in pairs:
        actual, guess = truth(item), predicted(result)
        tp += actual and guess
        fp += guess and not actual
        fn += actual and not guess
    return ClassMetrics(name, tp, fp, fn)


def evaluate(
    classifier: Classifier,
    items: Sequence[EvalItem],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    language_hints: bool = False,
) -> EvaluationReport:
    """Classify every item and compare with its labels. Without language_hints the backend
    detects the language itself, so the language rows measure it."""
    pairs: list[tuple[EvalItem, Classification]] = []
    durations: list[float] = []
    for item in items:
        started = time.perf_counter()
        result = classifier.classify(
            item.text, language_hint=item.language if language_hints else ""
        )
        durations.append(time.perf_counter() - started)
        pairs.append((item, result))

    def toxic(result: Classification) -> bool:
        return result.toxic_score >= threshold

    classes = [_metrics("toxic", pairs, lambda i: i.toxic, toxic)]
    for category in TOXICITY_CATEGORIES:
        classes.append(
            _metrics(
                category,
                pairs,
                lambda i, c=category: c in i.toxicity,
                lambda r, c=category: r.toxicity.get(c, 0.0) >= threshold,
            )
        )
    classes.append(_metrics("spam", pairs, lambda i: i.spam, lambda r: r.spam >= threshold))
    for sentiment in ("negative", "positive"):
        classes.append(
            _metrics(
                f"sentiment {sentiment}",
                pairs,
                lambda i, s=sentiment: i.sentiment == s,
                lambda r, s=sentiment: r.sentiment == s,
            )
        )
    for language in ("de", "en"):
        classes.append(
            _metrics(
                f"language {language}",
                pairs,
                lambda i, lang=language: i.language == lang,
                lambda r, lang=language: r.language == lang,
            )
        )
    criticism = [(i, r) for i, r in pairs if i.group == "criticism"]
    report = EvaluationReport(
        threshold=threshold,
        classes=classes,
        criticism_total=len(criticism),
        criticism_flagged=[(i, r) for i, r in criticism if toxic(r)],
        false_positives=sorted(
            ((i, r) for i, r in pairs if toxic(r) and not i.toxic), key=lambda p: -p[1].toxic_score
        ),
        misses=sorted(
            ((i, r) for i, r in pairs if i.toxic and not toxic(r)), key=lambda p: p[1].toxic_score
        ),
        median_ms=statistics.median(durations) * 1000 if durations else 0.0,
    )
    overall = report.metrics("toxic")
    report.targets = [
        Target(
            "toxicity precision",
            overall.precision >= TARGET_PRECISION,
            f"{overall.precision:.3f} (target >= {TARGET_PRECISION})",
        ),
        Target(
            "toxicity recall",
            overall.recall >= TARGET_RECALL,
            f"{overall.recall:.3f} (target >= {TARGET_RECALL})",
        ),
        Target(
            "criticism flagged",
            report.criticism_share <= TARGET_CRITICISM_SHARE,
            f"{report.criticism_share:.1%} (target <= {TARGET_CRITICISM_SHARE:.0%})",
        ),
    ]
    return report


def _short(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_report(report: EvaluationReport, *, examples: int = 15) -> str:
    """The table, the criticism figure, the targets and examples to tune with, as text."""
    lines = [
        f"threshold {report.threshold}, median {report.median_ms:.3f} ms per item",
        "",
        f"{'class':<20} {'support':>7} {'precision':>9} {'recall':>7} {'F1':>6}",
    ]
    for metric in report.classes:
        lines.append(
            f"{metric.name:<20} {metric.support:>7} {metric.precision:>9.3f} "
            f"{metric.recall:>7.3f} {metric.f1:>6.3f}"
        )
    lines += [
        "",
        f"factual criticism wrongly flagged toxic: {len(report.criticism_flagged)} of "
        f"{report.criticism_total} ({report.criticism_share:.1%})",
    ]
    for target in report.targets:
        lines.append(f"{'PASS' if target.passed else 'FAIL'} {target.name}: {target.detail}")

    def describe(title: str, pairs: list[tuple[EvalItem, Classification]]) -> None:
        if not pairs:
            return
        lines.extend(["", f"{title} ({len(pairs)}):"])
        for item, result in pairs[:examples]:
            found = ", ".join(result.evidence[:3]) or "-"
            lines.append(
                f"  {item.id} [{item.group}] {result.toxic_category or '-'} "
                f"{result.toxic_score:.2f}  {_short(item.text)}  <{found}>"
            )

    describe("criticism flagged toxic", report.criticism_flagged)
    describe(
        "other false positives",
        [(i, r) for i, r in report.false_positives if i.group != "criticism"],
    )
    describe("worst misses (toxic, not flagged)", report.misses)
    return "\n".join(lines)
