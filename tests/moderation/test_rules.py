"""The moderation rules engine: each condition matches what it says and nothing else, storm mode
is stricter, the order and stop-processing hold, a runaway regular expression cannot stall
ingest, and validation refuses what would not work."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from inbox.models import SavedReply
from moderation.classifiers.base import Classification
from moderation.models import ModerationRule
from moderation.rules import (
    ACTION_KEYS,
    CONDITION_KEYS,
    STORM_THRESHOLD_FACTOR,
    ItemFacts,
    RuleSet,
    clean_actions,
    clean_conditions,
    describe_rule,
    regex_timeouts,
)
from tests import factories
from tests.inbox.person_factories import make_channel

NEUTRAL = Classification(language="de", sentiment="neutral")


def rule(conditions: dict[str, Any], actions: dict[str, Any] | None = None, **fields: Any):
    fields.setdefault("name", "Rule")
    return ModerationRule(
        conditions=conditions, actions=actions if actions is not None else {"queue": True}, **fields
    )


def facts(text: str = "Hallo", classification: Classification = NEUTRAL, **fields: Any):
    values: dict[str, Any] = {
        "text": text,
        "classification": classification,
        "channel_account_id": 1,
        "platform": "facebook",
        "kind": "comment",
        "person_id": 7,
        "banned": False,
        "allowed": False,
        "vip": False,
        "first_time": False,
        "in_working_hours": None,
    }
    values.update(fields)
    return ItemFacts(**values)


def matches(conditions: dict[str, Any], item: ItemFacts) -> bool:
    return bool(RuleSet.of([rule(conditions)]).evaluate(item))


def toxic(**scores: float) -> Classification:
    return Classification(language="de", sentiment="negative", toxicity=scores)


# --- keywords ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Ich will die Kündigung!", "KUENDIGUNG jetzt", "kündigung."])
def test_it_matches_keywords_whatever_the_case_and_umlaut_spelling(text):
    assert matches({"keywords_any": ["Kündigung"]}, facts(text))
    assert matches({"keywords_any": ["KUENDIGUNG"]}, facts(text))


def test_it_matches_keywords_as_whole_words_only():
    assert not matches({"keywords_any": ["kündigen"]}, facts("Das ist unkündbar und gekündigt"))
    assert not matches({"keywords_any": ["idiot"]}, facts("Idiotensicher erklärt, danke!"))


def test_it_matches_a_wildcard_at_either_end_of_a_keyword():
    assert matches({"keywords_any": ["kündig*"]}, facts("Die Kündigungsfrist?"))
    assert matches({"keywords_any": ["*kündigung"]}, facts("Meine Vertragskündigung"))
    assert not matches({"keywords_any": ["kündig*"]}, facts("Vertragskündigung"))


def test_it_needs_every_keyword_of_keywords_all():
    condition = {"keywords_all": ["Anwalt", "Klage"]}
    assert matches(condition, facts("Mein Anwalt bereitet die Klage vor"))
    assert not matches(condition, facts("Mein Anwalt meldet sich"))


def test_it_says_which_keyword_matched():
    [match] = RuleSet.of([rule({"keywords_any": ["Depp", "Idiot"]})]).evaluate(facts("Du Idiot"))
    assert match.reasons == ("keyword „Idiot“",)


# --- regular expressions -----------------------------------------------------------------------


def test_it_matches_a_regular_expression_ignoring_case():
    condition = {"regex": r"\bbit\.ly/\w+"}
    assert matches(condition, facts("Gratis iPhone: BIT.LY/abc123"))
    assert not matches(condition, facts("Kein Link hier"))


def test_a_runaway_regular_expression_counts_as_no_match_and_stays_fast():
    catastrophic = rule({"regex": r"^(\w+\s?)*$"}, pk=991)
    rules = RuleSet.of([catastrophic])
    text = "a" * 5000 + "!"

    started = time.perf_counter()
    found = rules.evaluate(facts(text))
    took = time.perf_counter() - started

    assert found == []
    assert took < 0.05
    assert regex_timeouts().get(991, 0) >= 1


# --- classification thresholds -----------------------------------------------------------------


def test_it_matches_toxicity_at_or_above_the_minimum_in_the_chosen_categories():
    condition = {"toxicity_min": 0.8, "toxicity_categories": ["insult", "hate"]}
    assert matches(condition, facts(classification=toxic(insult=0.91)))
    assert not matches(condition, facts(classification=toxic(insult=0.79)))
    assert not matches(condition, facts(classification=toxic(threat=0.99)))


def test_it_matches_toxicity_of_any_category_when_none_is_chosen():
    assert matches({"toxicity_min": 0.7}, facts(classification=toxic(threat=0.7)))
    assert not matches({"toxicity_min": 0.7}, facts(classification=toxic(profanity=0.2)))


def test_it_explains_a_toxicity_match_with_score_and_threshold():
    [match] = RuleSet.of([rule({"toxicity_min": 0.8})]).evaluate(
        facts(classification=toxic(insult=0.91, hate=0.1))
    )
    assert match.reasons == ("toxicity insult 0.91 ≥ 0.80",)


def test_storm_mode_makes_a_milder_item_match_a_strict_rule():
    strict = RuleSet.of([rule({"toxicity_min": 0.9})])
    item = facts(classification=toxic(insult=0.75))

    assert strict.evaluate(item) == []
    [match] = strict.evaluate(replace(item, storm=True))
    assert STORM_THRESHOLD_FACTOR == 0.8
    assert match.reasons == ("toxicity insult 0.75 ≥ 0.72 (storm mode)",)


def test_storm_mode_makes_spam_and_sentiment_thresholds_stricter():
    spam = facts(classification=Classification(spam=0.6))
    assert not matches({"spam_min": 0.7}, spam)
    assert matches({"spam_min": 0.7}, replace(spam, storm=True))
    grumpy = facts(classification=Classification(sentiment="negative", sentiment_score=-0.3))
    assert not matches({"sentiment_score_max": -0.5}, grumpy)
    assert matches({"sentiment_score_max": -0.5}, replace(grumpy, storm=True))


def test_it_matches_spam_score_and_spam_signals():
    item = facts(classification=Classification(spam=0.85, spam_signals=("links", "spam_phrase")))
    assert matches({"spam_min": 0.8}, item)
    assert not matches({"spam_min": 0.9}, item)
    assert matches({"spam_signals": ["contact_data", "links"]}, item)
    assert not matches({"spam_signals": ["only_emojis"]}, item)


def test_it_matches_sentiment_and_sentiment_score():
    item = facts(classification=Classification(sentiment="negative", sentiment_score=-0.62))
    assert matches({"sentiment": "negative"}, item)
    assert not matches({"sentiment": "positive"}, item)
    assert matches({"sentiment_score_max": -0.5}, item)
    assert not matches({"sentiment_score_max": -0.7}, item)


def test_it_matches_the_detected_language():
    assert matches({"languages": ["de"]}, facts(classification=Classification(language="de")))
    assert not matches({"languages": ["en"]}, facts(classification=Classification(language="de")))
    assert not matches({"languages": ["de"]}, facts(classification=Classification(language="")))


# --- author, channel, platform, kind, hours ----------------------------------------------------


@pytest.mark.parametrize(
    ("fact", "holds", "fails"),
    [
        ("banned", {"banned": True}, {"banned": False}),
        ("allowed", {"allowed": True}, {"allowed": False}),
        ("not_allowed", {"allowed": False}, {"allowed": True}),
        ("vip", {"vip": True}, {"vip": False}),
        ("not_vip", {"vip": False}, {"vip": True}),
        ("first_time", {"first_time": True}, {"first_time": False}),
    ],
)
def test_it_matches_author_facts(fact, holds, fails):
    assert matches({"author": [fact]}, facts(**holds))
    assert not matches({"author": [fact]}, facts(**fails))


def test_it_needs_every_author_fact_listed():
    condition = {"author": ["first_time", "not_vip"]}
    assert matches(condition, facts(first_time=True))
    assert not matches(condition, facts(first_time=True, vip=True))


def test_it_matches_channel_platform_and_kind():
    assert matches({"channel_ids": [1, 2]}, facts())
    assert not matches({"channel_ids": [2]}, facts())
    assert matches({"platforms": ["facebook"]}, facts())
    assert not matches({"platforms": ["youtube"]}, facts())
    assert matches({"kinds": ["comment"]}, facts())
    assert not matches({"kinds": ["private_message"]}, facts())


def test_it_matches_working_hours_only_when_the_channel_has_a_calendar():
    assert matches({"hours": "outside"}, facts(in_working_hours=False))
    assert not matches({"hours": "outside"}, facts(in_working_hours=True))
    assert matches({"hours": "inside"}, facts(in_working_hours=True))
    assert not matches({"hours": "inside"}, facts(in_working_hours=None))
    assert not matches({"hours": "outside"}, facts(in_working_hours=None))


def test_it_needs_every_condition_of_a_rule():
    condition = {"keywords_any": ["Idiot"], "toxicity_min": 0.5, "platforms": ["facebook"]}
    assert matches(condition, facts("Idiot", toxic(insult=0.9)))
    assert not matches(condition, facts("Idiot", toxic(insult=0.1)))
    assert not matches(condition, facts("Idiot", toxic(insult=0.9), platform="x"))


# --- order, stop, suggest-only, loading --------------------------------------------------------


def test_it_returns_matches_in_order_and_stops_at_a_stop_processing_rule():
    rules = RuleSet.of(
        [
            rule({"toxicity_min": 0.5}, name="first", pk=1),
            rule({"toxicity_min": 0.5}, name="stopper", pk=2, stop_processing=True),
            rule({"toxicity_min": 0.5}, name="never", pk=3),
        ]
    )
    found = rules.evaluate(facts(classification=toxic(insult=0.9)))
    assert [m.name for m in found] == ["first", "stopper"]
    assert found[1].stop_processing


def test_a_stop_processing_rule_that_does_not_match_stops_nothing():
    rules = RuleSet.of(
        [
            rule({"spam_min": 0.5}, name="spam", stop_processing=True),
            rule({"toxicity_min": 0.5}, name="toxic"),
        ]
    )
    assert [m.name for m in rules.evaluate(facts(classification=toxic(hate=0.8)))] == ["toxic"]


def test_it_carries_suggest_only_actions_and_guideline_section():
    [match] = RuleSet.of(
        [
            rule(
                {"toxicity_min": 0.5},
                {"hide": True, "tags": ["moderated"], "priority": 0},
                pk=5,
                name="Profanity",
                suggest_only=True,
                guideline_section="1 Respect",
            )
        ]
    ).evaluate(facts(classification=toxic(profanity=0.8)))
    assert match.rule_id == 5
    assert match.suggest_only
    assert dict(match.actions) == {"hide": True, "tags": ["moderated"], "priority": 0}
    assert match.guideline_section == "1 Respect"


def test_a_stored_rule_that_is_not_valid_never_matches():
    broken = rule({"regex": "(unclosed", "toxicity_min": 0.1})
    assert RuleSet.of([broken]).evaluate(facts(classification=toxic(insult=0.9))) == []


@pytest.mark.django_db
def test_load_skips_disabled_rules_and_keeps_the_order():
    ModerationRule.objects.create(name="b", position=2, conditions={"toxicity_min": 0.5})
    ModerationRule.objects.create(
        name="off", position=0, enabled=False, conditions={"toxicity_min": 0.5}
    )
    ModerationRule.objects.create(
        name="a",
        position=1,
        conditions={"toxicity_min": 0.5},
        actions={"department_id": 999999, "hide": True},
    )

    rules = RuleSet.load()

    found = rules.evaluate(facts(classification=toxic(insult=0.9)))
    assert [m.name for m in found] == ["a", "b"]
    # The department is gone: the rule still hides, without sending anywhere.
    assert dict(found[0].actions) == {"hide": True}


@pytest.mark.django_db
def test_the_cached_rule_set_is_read_again_after_a_change():
    from inbox.team_config import forget_team_config

    assert not RuleSet.cached().has_rules
    ModerationRule.objects.create(name="new", conditions={"spam_min": 0.5})
    forget_team_config()
    assert RuleSet.cached().has_rules


def test_it_says_what_the_pipeline_must_read():
    plain = RuleSet.of([rule({"toxicity_min": 0.5})])
    assert not plain.needs_person and not plain.needs_working_hours
    asking = RuleSet.of([rule({"author": ["first_time"], "hours": "outside"})])
    assert asking.needs_person and asking.needs_first_time and asking.needs_working_hours


# --- validation --------------------------------------------------------------------------------


def test_every_key_is_documented():
    assert "keywords_any" in CONDITION_KEYS and "hours" in CONDITION_KEYS
    assert "hide" in ACTION_KEYS and "incident_level" in ACTION_KEYS


def test_validation_keeps_set_keys_in_canonical_form():
    clean, errors = clean_conditions(
        {
            "keywords_any": [" Kündigung ", "", "Kündigung", "sue"],
            "toxicity_min": 1,
            "languages": ["DE", "en"],
            "regex": "",
            "sentiment": "",
        }
    )
    assert errors == []
    assert clean == {
        "keywords_any": ["Kündigung", "sue"],
        "toxicity_min": 1.0,
        "languages": ["de", "en"],
    }


@pytest.mark.parametrize(
    ("conditions", "complaint"),
    [
        ({"colour": "red"}, "Unknown condition"),
        ({"toxicity_min": 1.5}, "Toxicity at least"),
        ({"toxicity_min": "high"}, "Toxicity at least"),
        ({"toxicity_min": True}, "Toxicity at least"),
        ({"spam_min": -0.1}, "Spam score"),
        ({"sentiment_score_max": -2}, "Sentiment score"),
        ({"sentiment": "angry"}, "Sentiment"),
        ({"regex": "(unclosed"}, "Regular expression: not valid"),
        ({"keywords_any": "*"}, "no letters"),
        ({"keywords_all": [1, 2]}, "one word or phrase per line"),
        ({"toxicity_categories": ["rude"], "toxicity_min": 0.5}, "unknown rude"),
        ({"toxicity_categories": ["insult"]}, "need a minimum"),
        ({"spam_signals": ["viagra"]}, "unknown viagra"),
        ({"author": ["vip", "not_vip"]}, "cannot both hold"),
        ({"platforms": ["myspace"]}, "unknown myspace"),
        ({"kinds": ["tweet"]}, "unknown tweet"),
        ({"hours": "lunch"}, "inside or outside"),
        ({"languages": ["german"]}, "two-letter"),
        ({"channel_ids": ["one"]}, "channel ids"),
        ({}, "at least one condition"),
    ],
)
def test_validation_refuses_bad_conditions(conditions, complaint):
    _, errors = clean_conditions(conditions)
    assert any(complaint in error for error in errors), errors


@pytest.mark.parametrize(
    ("actions", "complaint"),
    [
        ({"explode": True}, "Unknown action"),
        ({"hide": "yes"}, "true or false"),
        ({"hide": True, "delete": True}, "choose one"),
        ({"priority": 9}, "Priority"),
        ({"status": "snoozed"}, "Status"),
        ({"incident_level": 4}, "Incident level"),
        ({"department_id": "sales"}, "expected an id"),
        ({"notify_user_ids": [True]}, "user ids"),
        ({"tags": ["x" * 100]}, "Tags"),
    ],
)
def test_validation_refuses_bad_actions(actions, complaint):
    _, errors = clean_actions(actions)
    assert any(complaint in error for error in errors), errors


@pytest.mark.django_db
def test_validation_refuses_ids_of_rows_that_do_not_exist():
    department = factories.make_department("Legal")
    user = factories.make_user("rita")
    retired = factories.make_user("ret", is_active=False)
    reply = SavedReply.objects.create(title="Netiquette", shortcut="netiquette")
    channel = make_channel()

    clean, errors = clean_actions(
        {
            "department_id": department.pk,
            "assignee_id": user.pk,
            "notify_user_ids": [user.pk, retired.pk],
            "auto_reply_saved_reply_id": reply.pk,
        }
    )
    assert errors == [f"Notify: #{retired.pk} names no active user."]
    assert clean["notify_user_ids"] == [user.pk]

    _, errors = clean_actions(
        {"department_id": department.pk + 100, "auto_reply_saved_reply_id": reply.pk + 100}
    )
    assert len(errors) == 2
    _, errors = clean_conditions({"channel_ids": [channel.pk, channel.pk + 100]})
    assert errors == [f"Channels: #{channel.pk + 100} names nothing."]


def test_describe_rule_reads_like_sentences():
    described = describe_rule(
        rule(
            {"toxicity_min": 0.8, "toxicity_categories": ["insult", "hate"], "kinds": ["comment"]},
            {"hide": True, "queue": True, "tags": ["moderated"]},
            suggest_only=True,
        )
    )
    assert described == [
        "When toxicity (insult or hate) at least 0.80, and comments,",
        "then hide on the platform, send to the moderation queue, tag moderated "
        "(suggested only: a moderator decides).",
    ]
