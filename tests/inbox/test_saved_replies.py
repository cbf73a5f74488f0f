"""Saved replies: who sees them, the variant chosen for a conversation, placeholders, the `/`
search endpoint, and their management by admins and department leads."""

import pytest
from django.urls import reverse

from inbox import composer
from inbox.models import MembershipRole, SavedReply, SavedReplyVariant
from tests import factories
from tests.inbox.composer_factories import make_saved_reply

pytestmark = pytest.mark.django_db


def variant(language: str, tone: str) -> SavedReplyVariant:
    return SavedReplyVariant(language=language, tone=tone, text=f"{language}/{tone}")


def chosen(variants, *, tone, language) -> str:
    picked = composer.choose_variant(variants, tone=tone, language=language)
    return picked.text if picked else ""


def test_it_shows_unscoped_replies_to_everyone_and_scoped_ones_only_to_members_and_admins(
    agent, outsider, admin_user, department, other_department
):
    everyone = make_saved_reply("thanks")
    community = make_saved_reply("community-only", departments=[department])
    sales = make_saved_reply("sales-only", departments=[other_department])

    assert set(composer.saved_replies_for(agent)) == {everyone, community}
    assert set(composer.saved_replies_for(outsider)) == {everyone, sales}
    assert set(composer.saved_replies_for(admin_user)) == {everyone, community, sales}


def test_it_chooses_the_channel_tone_in_the_conversation_language_with_sensible_fallbacks():
    full = [variant("de", "du"), variant("de", "sie"), variant("en", ""), variant("fr", "")]
    assert chosen(full, tone="sie", language="de") == "de/sie"
    assert chosen(full, tone="du", language="de-AT") == "de/du"
    # Same language in another tone before English.
    assert chosen([variant("de", "sie"), variant("en", "")], tone="du", language="de") == "de/sie"
    # No wording in the language: English, then anything.
    assert chosen(full, tone="du", language="it") == "en/"
    assert chosen([variant("fr", "du")], tone="sie", language="it") == "fr/du"
    # No channel tone: the neutral wording, then the formal one.
    assert chosen([variant("de", "du"), variant("de", "sie")], tone="", language="de") == "de/sie"
    assert chosen([], tone="du", language="de") == ""


def test_it_fills_the_placeholders_and_leaves_any_other_braces_alone():
    values = {"author": "Jane", "agent": "Kim", "channel": "Brand", "date": "1.2.2025"}
    text = "Hallo {author}, {agent} von {channel} am {date}. {author.__class__} {unknown} {"
    assert composer.render_placeholders(text, values) == (
        "Hallo Jane, Kim von Brand am 1.2.2025. {author.__class__} {unknown} {"
    )


def test_the_picker_gets_matching_replies_rendered_for_the_conversation(client, agent, channel):
    agent.first_name = "Kim"
    agent.save()
    channel.default_tone = "du"
    channel.default_language = "de"
    channel.save()
    conversation = factories.make_conversation(channel, author="Jane Doe")
    make_saved_reply(
        "danke",
        title="Thanks for the feedback",
        variants=[
            ("de", "du", "Hallo {author}, danke dir! {agent} von {channel}"),
            ("de", "sie", "Guten Tag {author}, danke Ihnen!"),
            ("en", "", "Hi {author}, thanks!"),
        ],
    )
    make_saved_reply("outage", title="Known outage (danke für Geduld)")
    make_saved_reply("unrelated", title="Something else")
    client.force_login(agent)

    url = reverse("inbox:saved_reply_search", args=[conversation.pk])
    results = client.get(url, {"q": "dan"}).json()["results"]

    assert [r["shortcut"] for r in results] == ["danke", "outage"]
    assert results[0]["text"] == "Hallo Jane Doe, danke dir! Kim von Mastodon @brand"
    assert results[0]["title"] == "Thanks for the feedback"
    assert (results[0]["language"], results[0]["tone"]) == ("de", "du")

    conversation.language = "en"
    conversation.save()
    english = client.get(url, {"q": "danke"}).json()["results"][0]
    assert english["text"] == "Hi Jane Doe, thanks!"


def test_the_picker_hides_other_departments_replies_and_other_departments_conversations(
    client, agent, outsider, channel, other_department
):
    conversation = factories.make_conversation(channel)
    make_saved_reply("sales-offer", departments=[other_department])
    make_saved_reply("thanks")
    client.force_login(agent)
    url = reverse("inbox:saved_reply_search", args=[conversation.pk])
    assert [r["shortcut"] for r in client.get(url).json()["results"]] == ["thanks"]

    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_an_admin_creates_a_saved_reply_with_variants_for_everyone(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("inbox:saved_reply_create"),
        {
            "title": "Please DM us",
            "shortcut": "dm",
            "variants-TOTAL_FORMS": "3",
            "variants-INITIAL_FORMS": "0",
            "variants-0-language": "de",
            "variants-0-tone": "du",
            "variants-0-text": "Schreib uns bitte eine DM, {author}.",
            "variants-1-language": "en",
            "variants-1-tone": "",
            "variants-1-text": "Please send us a DM, {author}.",
            "variants-2-language": "fr",
            "variants-2-tone": "",
            "variants-2-text": "",
        },
    )
    assert response.status_code == 302
    reply = SavedReply.objects.get(shortcut="dm")
    assert not reply.departments.exists()
    assert sorted((v.language, v.tone) for v in reply.variants.all()) == [("de", "du"), ("en", "")]


def test_a_lead_manages_only_replies_scoped_to_departments_they_lead(
    client, department, other_department
):
    lead = factories.make_user("lena")
    factories.add_member(lead, department, role=MembershipRole.LEAD)
    own = make_saved_reply("own", departments=[department])
    foreign = make_saved_reply("foreign", departments=[other_department])
    unscoped = make_saved_reply("everyone")
    client.force_login(lead)

    page = client.get(reverse("inbox:saved_replies")).content.decode()
    assert "/own" in page and "/foreign" not in page and "/everyone" not in page
    assert client.get(reverse("inbox:saved_reply_edit", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("inbox:saved_reply_edit", args=[unscoped.pk])).status_code == 404
    client.post(reverse("inbox:saved_reply_delete", args=[foreign.pk]))
    assert SavedReply.objects.filter(pk=foreign.pk).exists()

    # A lead's new reply must be scoped to a department they lead.
    form = {
        "title": "Lead reply",
        "shortcut": "lead",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-0-language": "en",
        "variants-0-tone": "",
        "variants-0-text": "Hello",
    }
    refused = client.post(reverse("inbox:saved_reply_create"), form)
    assert refused.status_code == 200 and not SavedReply.objects.filter(shortcut="lead").exists()
    form["departments"] = [str(other_department.pk)]
    client.post(reverse("inbox:saved_reply_create"), form)
    assert not SavedReply.objects.filter(shortcut="lead").exists()
    form["departments"] = [str(department.pk)]
    assert client.post(reverse("inbox:saved_reply_create"), form).status_code == 302
    assert list(SavedReply.objects.get(shortcut="lead").departments.all()) == [department]

    assert client.post(reverse("inbox:saved_reply_delete", args=[own.pk])).status_code == 302
    assert not SavedReply.objects.filter(pk=own.pk).exists()


def test_agents_do_not_get_the_management_pages(client, agent):
    client.force_login(agent)
    assert client.get(reverse("inbox:saved_replies")).status_code == 404
    assert client.get(reverse("inbox:saved_reply_create")).status_code == 404


def test_a_taken_shortcut_is_refused_with_a_clear_message(admin_user):
    make_saved_reply("thanks")
    with pytest.raises(composer.ActionRefused, match="/thanks is taken"):
        composer.save_saved_reply(
            user=admin_user,
            saved_reply=None,
            title="Other thanks",
            shortcut="Thanks",
            department_ids=[],
            variants=[composer.VariantText("en", "", "Thanks!")],
        )


def test_the_demo_saved_replies_are_seeded_once_in_german_and_english():
    first = composer.seed_demo_saved_replies()
    again = composer.seed_demo_saved_replies()
    assert len(first) >= 4 and [r.pk for r in first] == [r.pk for r in again]
    for reply in first:
        kinds = {(v.language, v.tone) for v in reply.variants.all()}
        assert {("de", "du"), ("de", "sie"), ("en", "")} <= kinds


def test_the_navigation_tag_tells_who_may_manage_saved_replies(agent, admin_user, department):
    from django.template import Context, Template

    template = Template("{% load composer_tags %}{% manages_saved_replies as ok %}{{ ok }}")
    lead = factories.make_user("lena")
    factories.add_member(lead, department, role=MembershipRole.LEAD)
    assert [template.render(Context({"user": u})) for u in (agent, lead, admin_user)] == [
        "False",
        "True",
        "True",
    ]
