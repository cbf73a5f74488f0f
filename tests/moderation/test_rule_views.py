"""The moderation rule screens: admins only, a real form that round-trips every condition and
action, every change audited, and "test this rule" finding exactly the items it would have
matched, with their text escaped."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from inbox.models import AuditEntry, Direction, Message
from moderation.classifiers.base import Classification
from moderation.models import CommunityGuideline, ModerationRule
from tests import factories
from tests.inbox.person_factories import make_channel

pytestmark = pytest.mark.django_db

LIST = reverse("moderation_rules:list")
CREATE = reverse("moderation_rules:create")


def scores(**toxicity: float) -> dict[str, Any]:
    return Classification(
        language="de", sentiment="negative" if toxicity else "neutral", toxicity=toxicity
    ).as_scores()


def inbound(channel: Any, text: str, classification: dict[str, Any] | None = None) -> Message:
    conversation = factories.make_conversation(channel, text=text)
    message = Message.objects.get(conversation=conversation)
    if classification is not None:
        message.classifier_scores = classification
        message.save(update_fields=["classifier_scores"])
    return message


def make_rule(**fields: Any) -> ModerationRule:
    values: dict[str, Any] = {
        "name": "Hide insults",
        "conditions": {"toxicity_min": 0.8, "toxicity_categories": ["insult"]},
        "actions": {"hide": True, "queue": True},
        "position": ModerationRule.objects.count() + 1,
    }
    values.update(fields)
    return ModerationRule.objects.create(**values)


FORM = {
    "name": "Legal threats to the leads",
    "enabled": "on",
    "guideline_section": "2 No threats",
    "keywords_any": "Anwalt\nlawyer\n  Klage  ",
    "keywords_all": "",
    "regex": r"\bverklag\w*",
    "languages": "de, en",
    "sentiment": "negative",
    "sentiment_score_max": "-0.3",
    "toxicity_min": "0.6",
    "toxicity_categories": ["threat", "insult"],
    "spam_min": "",
    "spam_signals": ["links"],
    "author": ["not_allowed", "first_time"],
    "platforms": ["facebook"],
    "kinds": ["comment"],
    "hours": "outside",
    "removal": "hide",
    "queue": "on",
    "tags": "legal, Threat",
    "priority": "3",
    "status": "open",
    "notify_leads": "on",
    "require_approval": "on",
    "incident_level": "2",
}


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["lead", "agent", "observer", "outsider"])
def test_it_refuses_everyone_but_admins(client, persona, request):
    rule = make_rule()
    client.force_login(request.getfixturevalue(persona))

    for url in (
        LIST,
        CREATE,
        reverse("moderation_rules:edit", args=[rule.pk]),
        reverse("moderation_rules:test", args=[rule.pk]),
        reverse("moderation_rules:guidelines"),
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        reverse("moderation_rules:delete", args=[rule.pk]),
        reverse("moderation_rules:enabled", args=[rule.pk]),
        reverse("moderation_rules:test_unsaved"),
        CREATE,
    ):
        assert client.post(url, FORM).status_code == 403, url
    assert ModerationRule.objects.get().enabled
    assert ModerationRule.objects.count() == 1


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- list, form round trip, audit --------------------------------------------------------------


def test_it_lists_rules_in_order_with_badges_and_a_description(client, admin_user):
    make_rule(name="Second", position=2, suggest_only=True)
    make_rule(name="First", position=1, stop_processing=True)
    client.force_login(admin_user)

    page = client.get(LIST).content.decode()

    assert page.index("First") < page.index("Second")
    assert "suggest only" in page
    assert "When toxicity (insult) at least 0.80," in page
    assert "then hide on the platform, send to the moderation queue" in page


def test_it_creates_a_rule_from_the_form_and_audits_it(client, admin_user, department):
    channel = make_channel(department=department)
    client.force_login(admin_user)

    response = client.post(
        CREATE,
        {
            **FORM,
            "channel_ids": [str(channel.pk)],
            "department_id": str(department.pk),
            "notify_user_ids": [str(admin_user.pk)],
        },
    )

    assert response.status_code == 302
    rule = ModerationRule.objects.get()
    assert rule.conditions == {
        "keywords_any": ["Anwalt", "lawyer", "Klage"],
        "regex": r"\bverklag\w*",
        "languages": ["de", "en"],
        "sentiment": "negative",
        "sentiment_score_max": -0.3,
        "toxicity_min": 0.6,
        "toxicity_categories": ["threat", "insult"],
        "spam_signals": ["links"],
        "author": ["not_allowed", "first_time"],
        "channel_ids": [channel.pk],
        "platforms": ["facebook"],
        "kinds": ["comment"],
        "hours": "outside",
    }
    assert rule.actions == {
        "hide": True,
        "queue": True,
        "tags": ["legal", "Threat"],
        "department_id": department.pk,
        "priority": 3,
        "status": "open",
        "notify_user_ids": [admin_user.pk],
        "notify_leads": True,
        "require_approval": True,
        "incident_level": 2,
    }
    assert rule.guideline_section == "2 No threats"
    entry = AuditEntry.objects.get(action="created")
    assert entry.actor_id == admin_user.pk
    assert entry.after["name"] == "Legal threats to the leads"
    assert entry.after["conditions"]["toxicity_min"] == 0.6


def test_the_edit_form_shows_what_the_rule_holds_and_saves_it_back_unchanged(client, admin_user):
    client.force_login(admin_user)
    client.post(CREATE, FORM)
    rule = ModerationRule.objects.get()
    stored = (rule.conditions, rule.actions)

    form = client.get(reverse("moderation_rules:edit", args=[rule.pk])).context["form"]
    data = {name: value for name, value in form.initial.items() if value not in (None, False)}
    data = {
        k: ("on" if v is True else [str(i) for i in v] if isinstance(v, list) else str(v))
        for k, v in data.items()
    }
    response = client.post(reverse("moderation_rules:edit", args=[rule.pk]), data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.conditions, rule.actions) == stored
    # Nothing changed: no "changed" entry.
    assert not AuditEntry.objects.filter(action="changed").exists()


def test_it_shows_errors_at_the_fields_and_saves_nothing(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        CREATE,
        {"name": "Broken", "regex": "(unclosed", "toxicity_categories": ["hate"], "queue": "on"},
    )

    assert response.status_code == 422
    form = response.context["form"]
    assert "not valid" in form.errors["regex"][0]
    assert "minimum toxicity" in form.errors["toxicity_min"][0]
    assert not ModerationRule.objects.exists()


def test_it_refuses_a_rule_that_does_nothing(client, admin_user):
    client.force_login(admin_user)
    response = client.post(CREATE, {"name": "Idle", "toxicity_min": "0.5"})
    assert response.status_code == 422
    assert "does nothing" in response.content.decode()


def test_it_moves_switches_and_deletes_rules_with_audit_entries(client, admin_user):
    first, second = make_rule(name="First", position=1), make_rule(name="Second", position=2)
    client.force_login(admin_user)

    client.post(reverse("moderation_rules:move", args=[second.pk]), {"direction": "up"})
    assert list(ModerationRule.objects.values_list("name", flat=True)) == ["Second", "First"]

    client.post(reverse("moderation_rules:enabled", args=[first.pk]), {"enabled": "0"})
    first.refresh_from_db()
    assert not first.enabled

    client.post(reverse("moderation_rules:delete", args=[second.pk]))
    assert list(ModerationRule.objects.values_list("name", flat=True)) == ["First"]

    entries = AuditEntry.objects.order_by("id")
    assert [e.action for e in entries] == ["changed", "changed", "changed", "deleted"]
    assert entries.last().before["name"] == "Second"


def test_moving_with_htmx_returns_the_table_only(client, admin_user):
    rule = make_rule(name="Only")
    make_rule(name="Other")
    client.force_login(admin_user)
    response = client.post(
        reverse("moderation_rules:move", args=[rule.pk]),
        {"direction": "down"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert 'id="moderation-rules"' in response.content.decode()
    assert "<html" not in response.content.decode()


# --- test this rule ----------------------------------------------------------------------------


@pytest.fixture
def history(department: Any) -> dict[str, Message]:
    channel = make_channel(department=department, name="Facebook page")
    return {
        "insult": inbound(channel, "Du bist ein Idiot", scores(insult=0.93)),
        "mild": inbound(channel, "Ihr seid echt doof", scores(insult=0.5)),
        "criticism": inbound(channel, "Die Lieferung ist seit Wochen überfällig", scores()),
        "hostile": inbound(
            channel, '<script>alert("x")</script> du Vollidiot', scores(insult=0.95, hate=0.2)
        ),
    }


def test_test_this_rule_finds_exactly_the_matching_items(client, admin_user, history):
    rule = make_rule()
    client.force_login(admin_user)

    response = client.get(reverse("moderation_rules:test", args=[rule.pk]))

    trial = response.context["trial"]
    assert trial.examined == 4
    assert {m.message.pk for m in trial.matches} == {history["insult"].pk, history["hostile"].pk}
    page = response.content.decode()
    assert f'id="trial-message-{history["insult"].pk}"' in page
    assert f'id="trial-message-{history["criticism"].pk}"' not in page
    assert "toxicity insult 0.93 ≥ 0.80" in page


def test_test_this_rule_escapes_hostile_text(client, admin_user, history):
    rule = make_rule()
    client.force_login(admin_user)
    page = client.get(reverse("moderation_rules:test", args=[rule.pk])).content.decode()
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_test_this_rule_in_storm_mode_finds_milder_items_too(client, admin_user, history):
    rule = make_rule(conditions={"toxicity_min": 0.6})
    client.force_login(admin_user)
    url = reverse("moderation_rules:test", args=[rule.pk])

    normal = client.get(url).context["trial"]
    storm = client.get(url + "?storm=1").context["trial"]

    assert len(normal.matches) == 2
    assert history["mild"].pk in {m.message.pk for m in storm.matches}


def test_test_this_rule_runs_the_unsaved_form(client, admin_user, history):
    client.force_login(admin_user)

    response = client.post(
        reverse("moderation_rules:test_unsaved"),
        {"name": "Keyword try", "keywords_any": "idiot", "queue": "on"},
    )

    assert response.status_code == 200
    assert {m.message.pk for m in response.context["trial"].matches} == {history["insult"].pk}
    assert "not saved" in response.content.decode()
    assert not ModerationRule.objects.exists()


def test_test_this_rule_judges_first_time_authors_by_their_first_conversation(
    client, admin_user, department
):
    channel = make_channel(department=department)
    first = inbound(channel, "Hallo zum ersten Mal", scores())
    person = first.contact.person
    again = factories.make_conversation(channel, text="Hallo nochmal")
    Message.objects.filter(conversation=again).update(contact=first.contact)
    again.contact = first.contact
    again.save(update_fields=["contact"])
    rule = make_rule(conditions={"author": ["first_time"]}, actions={"queue": True})
    client.force_login(admin_user)

    trial = client.get(reverse("moderation_rules:test", args=[rule.pk])).context["trial"]

    assert person.pk
    assert [m.message.pk for m in trial.matches] == [first.pk]


def test_test_this_rule_takes_well_under_two_seconds_on_a_thousand_items(
    client, admin_user, department
):
    channel = make_channel(department=department)
    conversation = factories.make_conversation(channel, text="start")
    contact = conversation.contact
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            channel_account=channel,
            external_id=f"bulk-{n}",
            direction=Direction.INBOUND,
            contact=contact,
            text=f"Kommentar Nummer {n} über die Lieferung, du Idiot"
            if n % 10 == 0
            else f"Kommentar Nummer {n} über die Lieferung",
            classifier_scores=scores(insult=0.9) if n % 10 == 0 else scores(),
            sent_at=conversation.last_message_at,
        )
        for n in range(1000)
    )
    rule = make_rule(
        conditions={"keywords_any": ["idiot"], "toxicity_min": 0.5, "author": ["not_vip"]}
    )
    client.force_login(admin_user)

    trial = client.get(reverse("moderation_rules:test", args=[rule.pk])).context["trial"]

    assert trial.examined == 1000
    assert len(trial.matches) == 100
    assert trial.seconds < 1.0


# --- guidelines --------------------------------------------------------------------------------


def test_admins_write_the_default_and_a_channel_guideline(client, admin_user, department):
    channel = make_channel(department=department, name="Instagram")
    client.force_login(admin_user)

    client.post(
        reverse("moderation_rules:guideline_default"),
        {
            "title": "Netiquette",
            "summary": "Be kind.",
            "text": "1 Respect",
            "url": "https://example.com/rules",
        },
    )
    client.post(
        reverse("moderation_rules:guideline_channel", args=[channel.pk]),
        {"title": "Insta rules", "summary": "No spam.", "text": "", "url": ""},
    )

    assert CommunityGuideline.objects.get(channel_account=None).summary == "Be kind."
    assert CommunityGuideline.objects.get(channel_account=channel).title == "Insta rules"
    page = client.get(reverse("moderation_rules:guidelines")).content.decode()
    assert "Netiquette" in page and "Insta rules" in page
    assert AuditEntry.objects.filter(action="created").count() == 2
    edit = client.get(reverse("moderation_rules:guideline_channel", args=[channel.pk]))
    assert "Insta rules" in edit.content.decode()

    client.post(reverse("moderation_rules:guideline_delete", args=[channel.pk]))
    assert not CommunityGuideline.objects.filter(channel_account=channel).exists()


def test_the_guideline_page_escapes_what_admins_typed(client, admin_user):
    CommunityGuideline.objects.create(title="<b>Rules</b>", summary="<img src=x onerror=1>")
    client.force_login(admin_user)
    page = client.get(reverse("moderation_rules:guidelines")).content.decode()
    assert "<img src=x" not in page
    assert "&lt;b&gt;Rules&lt;/b&gt;" in page
