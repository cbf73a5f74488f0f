"""Measure the moderation classifier against the labelled evaluation set (issue 6).

Usage (from the project root):
    .venv/bin/python bench/moderation_eval.py [--set PATH] [--threshold 0.5] [--backend DOTTED.PATH]
        [--hints] [--examples 15]

Classifies every item of moderation/evaluation/eval_set.jsonl with the configured backend
(settings.MODERATION_CLASSIFIER, or --backend), then prints support, precision, recall and F1 per
class (toxic overall, each toxicity category, spam, negative and positive sentiment, German and
English), the share of factual criticism flagged toxic, a PASS/FAIL line per target of issue 6
(toxicity precision >= 0.9 at recall >= 0.7, at most 2% of criticism flagged), and the items to
tune with: criticism flagged, other false positives, worst misses. Exit code 1 when a target fails.
No database: classification reads text only. The metric code is moderation.classifiers.evaluation,
which the test suite runs too.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    import django

    django.setup()
    from django.utils.module_loading import import_string

    from moderation.classifiers.base import Classifier, get_classifier
    from moderation.classifiers.evaluation import (
        DEFAULT_SET,
        DEFAULT_THRESHOLD,
        evaluate,
        format_report,
        load_items,
    )

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="JSON-lines evaluation set")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--backend", default="", help="dotted path of a classifier class")
    parser.add_argument(
        "--hints", action="store_true", help="pass each item's language as the platform's hint"
    )
    parser.add_argument("--examples", type=int, default=15, help="examples per list")
    args = parser.parse_args()
    if not args.set.exists():
        print(f"no evaluation set at {args.set}", file=sys.stderr)
        sys.exit(2)
    classifier: Classifier = import_string(args.backend)() if args.backend else get_classifier()
    items = load_items(args.set)
    report = evaluate(classifier, items, threshold=args.threshold, language_hints=args.hints)
    print(f"{len(items)} items from {args.set}, backend {classifier.name}")
    print(format_report(report, examples=args.examples))
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
