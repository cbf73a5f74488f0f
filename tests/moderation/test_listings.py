"""Bans and allow-lists at the person level: who may set and lift them, that they are kept in
sync with Person.banned and written as evidence, and the pages that show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from channels_integrations.models import Platform
from inbox.ingest import ingest_page
from inbox.models import Contact, OutboundAction, OutboundKind, Person
from moderation import actions
from moderation.classifiers.base import Classification
from moderation.evidence import decision_for, record_decisions
from moderation.models import DecisionAction, ListKind, ModerationDecision, PersonListing
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import make_item

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert(1)</script> "onmouseover="alert(2)'


@pytest.fixture
def facebook(department):
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


@pytest.fixture
def troll(facebook):
    return make_item(facebook, text="Du Idiot!", author="Troll").contact.person


class NeutralClassifier:
    """Finds nothing: what happens here is the ban's doing, not the text's."""

    name = "neutral"

    def classify(self, text: str, *, language_hint: str = "") -> Classification:
        return Classification(language=language_hint)


def ban_url(person, what="ban"):
    return f"/moderation/people/{person.pk}/{what}/"


def nothing_listed(person):
    person.refresh_from_db()
    return (
        not person.banned
        and not PersonListing.objects.exists()
        and not (ModerationDecision.objects.exists())
    )


@pytest.mark.parametrize("persona", ["admin_user", "lead"])
def test_admins_and_leads_ban_a_person_across_networks(client, request, persona, troll):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = client.post(ban_url(troll), {"reason": "Threats", "expires_in_days": "30"},
                           HTTP_HX_REQUEST="true")  # fmt: skip

    assert response.status_code == 200
    troll.refresh_from_db()
    assert troll.banned
    listing = PersonListing.objects.get(person=troll, kind=ListKind.BAN)
    assert listing.created_by_id == user.pk
    assert listing.expires_at is not None
    decision = ModerationDecision.objects.get(action=DecisionAction.BAN)
    assert (decision.person_id_at, decision.text, decision.reason) == (troll.pk, "Du Idiot!",
                                                                      "Threats")  # fmt: skip
    assert decision.actor_id == user.pk and decision.automatic is False


def test_agents_cannot_ban(client, agent, troll):
    client.force_login(agent)

    response = client.post(ban_url(troll), {"reason": "Threats"})

    assert response.status_code == 403
    assert nothing_listed(troll)


def test_observers_cannot_ban(client, observer, troll):
    client.force_login(observer)

    response = client.post(ban_url(troll), {"reason": "Threats"})

    assert response.status_code == 403
    assert nothing_listed(troll)


def test_outsiders_get_not_found(client, outsider, troll):
    client.force_login(outsider)

    response = client.post(ban_url(troll), {"reason": "Threats"})

    assert response.status_code == 404
    assert nothing_listed(troll)


def test_a_ban_needs_a_reason(lead, troll):
    with pytest.raises(actions.ActionRefused):
        actions.ban_person(user=lead, person=troll, reason=" ")

    assert nothing_listed(troll)


def test_lifting_a_ban_keeps_the_record(client, lead, troll):
    actions.ban_person(user=lead, person=troll, reason="Threats")
    client.force_login(lead)

    response = client.post(ban_url(troll, "lift-ban"), {"reason": "Apologised"})

    assert response.status_code == 302
    troll.refresh_from_db()
    assert not troll.banned
    listing = PersonListing.objects.get(person=troll)
    assert listing.lifted_at is not None and listing.lifted_by_id == lead.pk
    assert list(ModerationDecision.objects.values_list("action", flat=True)) == [
        DecisionAction.BAN, DecisionAction.UNBAN
    ]  # fmt: skip


def test_allow_listing_and_lifting_it(lead, troll):
    actions.allow_person(user=lead, person=troll, reason="Our brand ambassador")
    assert actions.active_listings().get().kind == ListKind.ALLOW

    actions.lift_allow(user=lead, person=troll)

    assert not actions.active_listings().exists()
    assert list(ModerationDecision.objects.values_list("action", flat=True)) == [
        DecisionAction.ALLOW, DecisionAction.DISALLOW
    ]  # fmt: skip


def test_a_banned_person_cannot_be_allow_listed_and_the_conflict_is_explained(client, lead, troll):
    actions.ban_person(user=lead, person=troll, reason="Threats")
    client.force_login(lead)

    response = client.post(ban_url(troll, "allow"), {"reason": "VIP"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    assert "lift the ban first" in response.content.decode()
    assert not PersonListing.objects.filter(kind=ListKind.ALLOW).exists()


def test_banning_twice_is_refused(lead, troll):
    actions.ban_person(user=lead, person=troll, reason="Threats")

    with pytest.raises(actions.ActionRefused, match="already banned"):
        actions.ban_person(user=lead, person=troll, reason="Again")

    assert PersonListing.objects.count() == 1


def test_an_expired_ban_ends_and_a_new_one_can_start(lead, troll):
    listing = actions.ban_person(
        user=lead, person=troll, reason="Cool down", expires_at=timezone.now() + timedelta(hours=1)
    )
    PersonListing.objects.filter(pk=listing.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert actions.expire_listings() == 1

    troll.refresh_from_db()
    assert not troll.banned
    actions.ban_person(user=lead, person=troll, reason="Again")
    assert actions.active_listings().count() == 1


def test_an_admin_bans_someone_who_never_wrote(admin_user):
    person = Person.objects.create(display_name="Silent")

    actions.ban_person(user=admin_user, person=person, reason="Known troll elsewhere")

    decision = ModerationDecision.objects.get()
    assert (decision.message_id, decision.person_id_at, decision.author_name) == (
        None, person.pk, "Silent"
    )  # fmt: skip


def test_a_banned_persons_new_comment_is_hidden_on_arrival(lead, troll, facebook, settings):
    settings.MODERATION_CLASSIFIER = f"{__name__}.NeutralClassifier"
    actions.ban_person(user=lead, person=troll, reason="Threats")
    contact = Contact.objects.get(person=troll)
    item = InboundItem(
        external_id="new-1",
        thread_key="new-1",
        kind="comment",
        author=InboundAuthor(external_id=contact.external_id, display_name="Troll"),
        text="Nice weather",
        created_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    facebook.refresh_from_db()
    # The contact was made with scope "test"; ingest looks authors up in the channel's scope.
    Contact.objects.filter(pk=contact.pk).update(scope="")

    ingest_page(
        channel_account_id=facebook.pk,
        expected_cursor=facebook.cursor,
        page=FetchedPage(items=[item], cursor={}, caught_up=True, updates=[]),
    )

    hide = OutboundAction.objects.get(target_message__external_id="new-1")
    assert hide.kind == OutboundKind.HIDE


# --- pages -----------------------------------------------------------------------------------


def test_the_people_page_lists_active_bans_escaped(client, lead, troll, facebook):
    actions.ban_person(user=lead, person=troll, reason=HOSTILE)
    lifted = make_item(facebook, author="Forgiven").contact.person
    actions.ban_person(user=lead, person=lifted, reason="old")
    actions.lift_ban(user=lead, person=lifted)
    client.force_login(lead)

    body = client.get("/moderation/people/").content.decode()

    assert "Troll" in body and "Forgiven" not in body
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    assert "Lift ban" in body


def test_agents_see_the_list_without_controls(client, agent, lead, troll):
    actions.ban_person(user=lead, person=troll, reason="Threats")
    client.force_login(agent)

    body = client.get("/moderation/people/").content.decode()

    assert "Troll" in body and "Lift ban" not in body


def test_outsiders_do_not_see_persons_of_other_channels(client, outsider, lead, troll):
    actions.ban_person(user=lead, person=troll, reason="Threats")
    client.force_login(outsider)

    assert "Troll" not in client.get("/moderation/people/").content.decode()
    assert client.get(f"/moderation/people/{troll.pk}/").status_code == 404
    assert "Troll" not in client.get("/moderation/people/search/", {"q": "Tro"}).content.decode()


def test_the_person_search_finds_by_name(client, lead, troll):
    client.force_login(lead)

    body = client.get("/moderation/people/search/", {"q": "trol"}).content.decode()

    assert "Troll" in body and f"person={troll.pk}" in body


def test_the_person_panel_shows_the_history_and_controls_for_leads(client, lead, troll):
    actions.ban_person(user=lead, person=troll, reason="Threats")
    client.force_login(lead)

    body = client.get(f"/moderation/people/{troll.pk}/").content.decode()

    assert "Banned" in body and "Threats" in body and "Lift ban" in body
    assert "Du Idiot!" in body  # the item the ban decision is about


def test_the_person_panel_hides_decisions_on_channels_the_user_does_not_see(
    client, lead, troll, other_department
):
    hidden_channel = make_channel(Platform.INSTAGRAM, department=other_department, name="Other")
    item = make_item(hidden_channel, text="Secret elsewhere", person=troll)
    record_decisions(
        [decision_for(message=item, action=DecisionAction.FLAG, automatic=True, now=timezone.now())]
    )
    actions.ban_person(user=lead, person=troll, reason="Threats")
    client.force_login(lead)

    body = client.get(f"/moderation/people/{troll.pk}/").content.decode()

    assert "Threats" in body
    assert "Secret elsewhere" not in body


def test_the_person_page_include_loads_the_panel(troll):
    request = RequestFactory().get("/")

    html = render_to_string(
        "moderation/listings/_person_moderation.html", {"person": troll}, request=request
    )

    assert f'hx-get="/moderation/people/{troll.pk}/"' in html
