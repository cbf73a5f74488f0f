"""Benchmark moderation per inbound item: classification, the rules, and both, against a bare
baseline, with the target of issue 6 (classification and rules at most 1 ms per item at the
median).

Usage (from the project root):
    .venv/bin/python bench/moderation_speed.py [--items 5000] [--seed 6]

What it does: builds a stream of German and English items the way a brand's accounts see them
(questions, complaints, praise, factual criticism, insults, threats, profanity, spam with links
and phone numbers, emoji-only and mention-only comments; one line to several paragraphs), and a
rule set of 16 rules like a real team's (thresholds with categories, keywords with wildcards,
keywords_all, regular expressions, author, platform, kind and working-hours conditions; a few
suggest-only, one stop-processing). Then, one item at a time and timed with perf_counter_ns:
(a) the configured classifier's classify(), (b) RuleSet.evaluate() on the stored
classification, (c) both, as ingest runs them, and the baseline, a bare str.lower() and one
precompiled re.search over the same text. It prints median, p95 and p99 per item for each and
the ratio of (c) to the baseline, then PASS or FAIL on "median of (c) ≤ 1 ms" (exit code 1 on
FAIL, 2 when the classifier cannot be loaded). The rules are compiled in memory with
RuleSet.of: no database is needed or touched.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TARGET_MEDIAN_NS = 1_000_000  # 1 ms
WARM_UP = 300

SENTENCES = {
    "de": {
        "question": [
            "Hallo @brand, wann kommt meine Bestellung 48213 endlich an?",
            "Gibt es die Jacke auch in Größe XL?",
            "Kann ich die Rücksendung auch in der Filiale abgeben?",
            "Wie lange dauert eine Erstattung normalerweise?",
            "Gilt das Angebot auch im Onlineshop?",
        ],
        "praise": [
            "Danke für die schnelle Hilfe gestern, hat alles geklappt! 👍",
            "Großartiger Service, gerne wieder! 😍",
            "Die neue Kollektion ist wirklich schön geworden.",
        ],
        "criticism": [
            "Seit drei Wochen warte ich auf meine Erstattung, das ist inakzeptabel.",
            "Eure Hotline ist dauerbesetzt, so geht man nicht mit Kunden um.",
            "Nach zwei Wäschen ist die Farbe völlig ausgeblichen, ich bin enttäuscht.",
            "Ich überlege ernsthaft, meinen Vertrag zu kündigen, wenn das so weitergeht.",
            "Die Preiserhöhung ist eine Frechheit, das sage ich ganz offen.",
        ],
        "insult": [
            "Ihr seid doch alle komplette Vollidioten!",
            "Was für ein Saftladen, ihr Deppen.",
            "Halt die Klappe, du Idiot.",
        ],
        "threat": [
            "Ich weiß, wo euer Laden ist, ich komme vorbei und dann knallt es.",
            "Pass bloß auf, sonst passiert was.",
        ],
        "profanity": ["Scheiße, schon wieder kaputt.", "Verdammte Scheiße, was soll der Mist?"],
        "spam": [
            "Verdiene 5000€ pro Woche von zu Hause!!! Klick hier: https://bit.ly/geld-jetzt",
            "Gratis iPhone gewinnen 👉 www.gewinn-jetzt.example schreib mir per WhatsApp "
            "+49 151 23456789",
        ],
        "legal": ["Mein Anwalt wird sich bei euch melden, die Klage ist vorbereitet."],
    },
    "en": {
        "question": [
            "Hey @brand, my order never arrived, can you check?",
            "Do you ship to Ireland?",
            "Is the jacket waterproof or just water resistant?",
            "When is the sale starting? 👀",
        ],
        "praise": [
            "Love the new collection, the colours are amazing! 😍",
            "Great customer service, thanks Sarah!",
        ],
        "criticism": [
            "Still waiting for my refund, it's been two weeks. Not acceptable.",
            "The size chart is completely off, I had to return everything.",
            "Your prices went up again and the quality went down.",
        ],
        "insult": ["You are a bunch of idiots.", "What a pathetic excuse for a company, morons."],
        "threat": ["I know where your office is, you'd better watch out."],
        "profanity": ["This is fucking ridiculous.", "Damn this shit app."],
        "spam": [
            "Make $$$ fast!!! DM me or visit http://cheap-followers.example now",
            "Buy followers cheap, contact me at seller@example.com",
        ],
        "legal": ["My lawyer will be in touch, I am going to sue you."],
    },
}
# How often each kind of item arrives (most are harmless).
MIX = {
    "question": 30,
    "praise": 15,
    "criticism": 25,
    "insult": 8,
    "threat": 2,
    "profanity": 6,
    "spam": 8,
    "legal": 2,
    "emoji": 2,
    "mentions": 2,
}
EMOJI = ["👍", "🙏", "😂", "❤️", "🔥", "😡", "🤔", "🎉"]


def make_text(rng: random.Random, language: str, kind: str) -> str:
    """One item: usually one to three sentences, now and then a long paragraph."""
    if kind == "emoji":
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 6)))
    if kind == "mentions":
        return " ".join(f"@user{rng.randint(1, 999)}" for _ in range(rng.randint(1, 4)))
    pools = SENTENCES[language]
    parts = [rng.choice(pools[kind])]
    roll = rng.random()
    extra = 0 if roll < 0.5 else rng.randint(1, 3) if roll < 0.93 else rng.randint(6, 20)
    for _ in range(extra):
        parts.append(rng.choice(pools[rng.choice(["question", "criticism", "praise"])]))
    rng.shuffle(parts)
    return " ".join(parts)


def make_items(n: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(text, language, author and channel facts) for n items: 60% German."""
    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
    items = []
    for _ in range(n):
        language = "de" if rng.random() < 0.6 else "en"
        context = {
            "channel_account_id": rng.randint(1, 6),
            "platform": rng.choice(["facebook", "instagram", "youtube", "mastodon", "x"]),
            "kind": rng.choice(["comment", "comment", "comment", "mention", "private_message"]),
            "person_id": rng.randint(1, n // 4 + 1),
            "banned": rng.random() < 0.01,
            "allowed": rng.random() < 0.02,
            "vip": rng.random() < 0.03,
            "first_time": rng.random() < 0.3,
            "in_working_hours": rng.choice([True, False, None]),
            "storm": rng.random() < 0.05,
        }
        items.append((make_text(rng, language, rng.choice(kinds)), language, context))
    return items


RULES: list[dict[str, Any]] = [
    {
        "name": "Threats",
        "conditions": {"toxicity_min": 0.7, "toxicity_categories": ["threat"]},
        "actions": {"hide": True, "queue": True, "notify_leads": True, "incident_level": 2},
        "stop_processing": True,
    },
    {
        "name": "Insults and hate",
        "conditions": {"toxicity_min": 0.8, "toxicity_categories": ["insult", "hate"]},
        "actions": {"hide": True, "queue": True, "tags": ["moderated"]},
    },
    {
        "name": "Profanity",
        "conditions": {"toxicity_min": 0.6, "toxicity_categories": ["profanity"]},
        "actions": {"hide": True},
        "suggest_only": True,
    },
    {
        "name": "Spam score",
        "conditions": {"spam_min": 0.7},
        "actions": {"queue": True, "tags": ["spam"]},
    },
    {
        "name": "Spam links from new authors",
        "conditions": {
            "spam_signals": ["links", "contact_data"],
            "author": ["first_time", "not_allowed"],
        },
        "actions": {"hide": True, "queue": True},
    },
    {
        "name": "Legal words",
        "conditions": {
            "keywords_any": [
                "Anwalt",
                "lawyer",
                "Klage*",
                "sue",
                "Verbraucherzentrale",
                "Abmahnung",
            ]
        },
        "actions": {"priority": 3, "notify_leads": True, "tags": ["legal"]},
    },
    {
        "name": "Cancellations",
        "conditions": {"keywords_any": ["kündig*", "Vertrag beenden", "cancel*", "unsubscribe"]},
        "actions": {"tags": ["churn"], "priority": 2},
    },
    {
        "name": "Press",
        "conditions": {"keywords_any": ["Presse", "Journalist*", "press", "Redaktion"]},
        "actions": {"notify_leads": True, "tags": ["press"]},
    },
    {
        "name": "Refund complaints",
        "conditions": {"keywords_all": ["Erstattung", "warte*"]},
        "actions": {"tags": ["refund"]},
    },
    {
        "name": "Phone numbers",
        "conditions": {"regex": r"\+?\d[\d ()/-]{7,}\d"},
        "actions": {"queue": True},
        "suggest_only": True,
    },
    {
        "name": "Shortened links",
        "conditions": {"regex": r"\b(?:bit\.ly|tinyurl\.com|t\.co)/\w+"},
        "actions": {"hide": True, "queue": True},
    },
    {
        "name": "Very negative VIPs",
        "conditions": {"author": ["vip"], "sentiment_score_max": -0.4},
        "actions": {"priority": 3, "notify_leads": True},
    },
    {
        "name": "Negative after hours",
        "conditions": {"sentiment": "negative", "hours": "outside"},
        "actions": {"tags": ["after-hours"]},
    },
    {
        "name": "German private messages",
        "conditions": {"languages": ["de"], "kinds": ["private_message"]},
        "actions": {"tags": ["dm-de"]},
    },
    {
        "name": "YouTube toxicity",
        "conditions": {"platforms": ["youtube"], "toxicity_min": 0.5},
        "actions": {"queue": True},
    },
    {
        "name": "Banned authors to the queue",
        "conditions": {"author": ["banned"]},
        "actions": {"queue": True, "tags": ["banned"]},
    },
]


def percentiles(samples: Sequence[int]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1000

    return statistics.median(ordered) / 1000, at(0.95), at(0.99)


def timed(items: Sequence[Any], work: Callable[[Any], Any]) -> list[int]:
    """Nanoseconds per item, after a warm-up over the first items."""
    for item in items[:WARM_UP]:
        work(item)
    gc.collect()
    samples = []
    clock = time.perf_counter_ns
    for item in items:
        started = clock()
        work(item)
        samples.append(clock() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()

    import django

    django.setup()
    from moderation.classifiers.base import get_classifier
    from moderation.models import ModerationRule
    from moderation.rules import ItemFacts, RuleSet

    try:
        classifier = get_classifier()
    except (ImportError, AttributeError) as exc:
        print(
            f"FAIL: the configured classifier cannot be loaded ({exc}). The lexicon backend "
            "(moderation.classifiers.lexicon) must exist before this benchmark can run.",
            file=sys.stderr,
        )
        sys.exit(2)
    rules = RuleSet.of(
        [ModerationRule(pk=n, position=n, **rule) for n, rule in enumerate(RULES, start=1)]
    )
    if len(rules) != len(RULES):
        print("FAIL: a benchmark rule is not valid (see the log)", file=sys.stderr)
        sys.exit(1)
    items = make_items(args.items, args.seed)
    lengths = sorted(len(text) for text, _, _ in items)

    classifications = [classifier.classify(text, language_hint=lang) for text, lang, _ in items]
    facts = [
        ItemFacts(text=text, classification=classification, **context)
        for (text, _, context), classification in zip(items, classifications, strict=True)
    ]

    def both(item: tuple[str, str, dict[str, Any]]) -> None:
        text, language, context = item
        classification = classifier.classify(text, language_hint=language)
        rules.evaluate(ItemFacts(text=text, classification=classification, **context))

    baseline_pattern = re.compile(r"\b(?:idiot|anwalt|lawyer|kündig\w*)\b")
    texts = [text for text, _, _ in items]
    results = {
        "(a) classification": timed(items, lambda i: classifier.classify(i[0], language_hint=i[1])),
        "(b) rules": timed(facts, rules.evaluate),
        "(c) classification + rules": timed(items, both),
        "baseline lower()+re.search": timed(texts, lambda t: baseline_pattern.search(t.lower())),
    }
    matched = [len(rules.evaluate(f)) for f in facts]

    german = sum(1 for _, language, _ in items if language == "de")
    print(f"items                        {len(items)} ({german} German)")
    print(
        f"text length (chars)          median {statistics.median(lengths):.0f}, "
        f"p99 {lengths[int(0.99 * len(lengths))]}, longest {lengths[-1]}"
    )
    print(f"classifier                   {getattr(classifier, 'name', type(classifier).__name__)}")
    print(
        f"rules                        {len(rules)}; items matching at least one: "
        f"{sum(1 for m in matched if m)}, matches in all: {sum(matched)}"
    )
    print(f"{'per item (µs)':<28} {'median':>9} {'p95':>9} {'p99':>9}")
    for label, samples in results.items():
        median, p95, p99 = percentiles(samples)
        print(f"{label:<28} {median:>9.1f} {p95:>9.1f} {p99:>9.1f}")
    combined = statistics.median(results["(c) classification + rules"])
    baseline = statistics.median(results["baseline lower()+re.search"])
    print(f"ratio (c) / baseline         {combined / max(baseline, 1):.1f}x at the median")
    ok = combined <= TARGET_MEDIAN_NS
    print(
        f"{'PASS' if ok else 'FAIL'}: median of classification + rules {combined / 1000:.1f} µs "
        f"per item (target ≤ {TARGET_MEDIAN_NS / 1000:.0f} µs)"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
