"""The moderation queue: who sees and decides what, what reaches the outbox (and nothing is sent
from the web request), the evidence written, races between moderators, bulk, live rows, and
time to action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_integrations.models import Platform
from inbox.models import (
    Membership,
    MembershipRole,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
    PlatformState,
)
from moderation import actions
from moderation.models import (
    CaseState,
    DecisionAction,
    ListKind,
    ModerationCase,
    ModerationDecision,
    PersonListing,
)
from tests import factories
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import make_case

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert(1)</script> "onmouseover="alert(2)'


@pytest.fixture
def facebook(department):
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


def url(case, decision):
    return f"/moderation/cases/{case.pk}/{decision}/"


def unchanged(case):
    case.refresh_from_db()
    return (
        case.state == CaseState.PENDING
        and not ModerationDecision.objects.filter(action__in=[
            DecisionAction.APPROVE, DecisionAction.CONFIRM_HIDE, DecisionAction.DELETE,
            DecisionAction.BAN]).exists()
        and not OutboundAction.objects.filter(author__isnull=False).exists()
    )  # fmt: skip


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin_user", "lead", "agent"])
def test_it_shows_pending_items_with_their_reasons_and_buttons(client, request, persona, facebook):
    make_case(facebook, text="Du Idiot!", auto_action="hide")
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/moderation/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Du Idiot!" in body
    assert "Hide insults" in body
    assert "1 Respect: no insults" in body
    assert "Hidden automatically" in body
    assert "Confirm hide" in body and "Ban author" in body


def test_observers_see_the_queue_without_buttons(client, observer, facebook):
    make_case(facebook, text="Du Idiot!")
    client.force_login(observer)

    body = client.get("/moderation/").content.decode()

    assert "Du Idiot!" in body
    assert "/approve/" not in body and "/moderation/cases/bulk/" not in body


def test_outsiders_do_not_see_other_channels_items(client, outsider, facebook):
    make_case(facebook, text="Du Idiot!")
    client.force_login(outsider)

    body = client.get("/moderation/").content.decode()

    assert "Du Idiot!" not in body


def test_it_escapes_hostile_text_in_the_queue(client, lead, facebook):
    make_case(facebook, text=HOSTILE)
    client.force_login(lead)

    body = client.get("/moderation/").content.decode()

    assert "<script>alert(1)" not in body
    assert '"onmouseover="' not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_it_filters_by_automatic_action_and_orders_by_severity(client, lead, facebook):
    make_case(facebook, text="mild one", severity=0.3)
    make_case(facebook, text="worst one", severity=0.99, auto_action="hide")
    client.force_login(lead)

    hidden = client.get("/moderation/", {"auto": "hidden"}).content.decode()
    by_severity = client.get("/moderation/", {"sort": "severity"}).content.decode()

    assert "worst one" in hidden and "mild one" not in hidden
    assert by_severity.index("worst one") < by_severity.index("mild one")


def test_the_decided_tab_shows_who_decided_and_how_fast(client, lead, facebook):
    now = timezone.now()
    make_case(facebook, text="settled", state=CaseState.HIDDEN, flagged_at=now - timedelta(
        seconds=90), decided_at=now, decided_by=lead)  # fmt: skip
    client.force_login(lead)

    body = client.get("/moderation/", {"tab": "decided"}).content.decode()

    assert "settled" in body and "Lou Lead" in body and "after 90 s" in body


# --- deciding one item -----------------------------------------------------------------------


def test_approving_a_hidden_item_queues_an_unhide_and_sends_nothing(client, agent, facebook):
    case = make_case(facebook, auto_action="hide", platform_state=PlatformState.HIDDEN)
    client.force_login(agent)

    response = client.post(url(case, "approve"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    case.refresh_from_db()
    assert (case.state, case.decided_by_id) == (CaseState.APPROVED, agent.pk)
    unhide = OutboundAction.objects.get(target_message=case.message)
    assert (unhide.kind, unhide.state, unhide.author_id) == (
        OutboundKind.UNHIDE, OutboundState.QUEUED, agent.pk
    )  # fmt: skip
    case.message.refresh_from_db()
    assert case.message.platform_state == PlatformState.HIDDEN  # until the platform confirms
    decision = ModerationDecision.objects.get(action=DecisionAction.APPROVE)
    assert (decision.automatic, decision.actor_id, decision.text) == (False, agent.pk, "Du Idiot!")


def test_approving_withdraws_an_automatic_hide_that_has_not_left_yet(agent, facebook):
    case = make_case(facebook, auto_action="hide", platform_state=PlatformState.VISIBLE)
    hide = OutboundAction.objects.create(
        conversation_id=case.conversation_id, kind=OutboundKind.HIDE,
        target_message=case.message, target_external_id=case.message.external_id,
    )  # fmt: skip

    result = actions.approve_case(user=agent, case=case)

    hide.refresh_from_db()
    assert hide.state == OutboundState.REJECTED
    assert "withdrawn" in result.note
    assert not OutboundAction.objects.filter(kind=OutboundKind.UNHIDE).exists()


def test_approving_refuses_while_the_hide_is_being_sent(agent, facebook):
    case = make_case(facebook, auto_action="hide", platform_state=PlatformState.VISIBLE)
    OutboundAction.objects.create(
        conversation_id=case.conversation_id, kind=OutboundKind.HIDE, state=OutboundState.SENDING,
        target_message=case.message, target_external_id=case.message.external_id,
    )  # fmt: skip

    with pytest.raises(actions.ActionRefused):
        actions.approve_case(user=agent, case=case)

    assert unchanged(case)


def test_confirming_the_hide_of_a_visible_item_queues_a_hide(client, agent, facebook):
    case = make_case(facebook)
    client.force_login(agent)

    response = client.post(url(case, "confirm-hide"))

    assert response.status_code == 302
    hide = OutboundAction.objects.get(target_message=case.message)
    assert (hide.kind, hide.state) == (OutboundKind.HIDE, OutboundState.QUEUED)
    case.refresh_from_db()
    assert case.state == CaseState.HIDDEN


def test_confirming_an_item_already_hidden_queues_nothing(agent, facebook):
    case = make_case(facebook, auto_action="hide", platform_state=PlatformState.HIDDEN)

    actions.confirm_hide(user=agent, case=case)

    assert not OutboundAction.objects.exists()
    assert ModerationDecision.objects.get().action == DecisionAction.CONFIRM_HIDE


def test_deleting_queues_a_delete(client, lead, facebook):
    case = make_case(facebook)
    client.force_login(lead)

    client.post(url(case, "delete"), HTTP_HX_REQUEST="true")

    delete = OutboundAction.objects.get(target_message=case.message)
    assert (delete.kind, delete.target_external_id) == (
        OutboundKind.DELETE,
        case.message.external_id,
    )
    case.refresh_from_db()
    assert case.state == CaseState.DELETED


def test_a_platform_that_cannot_hide_refuses_and_nothing_is_written(client, agent, department):
    mastodon = factories.make_mastodon_channel(department=department)
    case = make_case(mastodon)
    client.force_login(agent)

    response = client.post(url(case, "confirm-hide"), HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    assert unchanged(case)


@pytest.mark.parametrize("decision", ["approve", "confirm-hide", "delete", "ban"])
def test_observers_cannot_decide(client, observer, facebook, decision):
    case = make_case(facebook)
    client.force_login(observer)

    response = client.post(url(case, decision), {"reason": "spam"})

    assert response.status_code == 403
    assert unchanged(case)


@pytest.mark.parametrize("decision", ["approve", "confirm-hide", "delete", "ban"])
def test_outsiders_get_not_found(client, outsider, facebook, decision):
    case = make_case(facebook)
    client.force_login(outsider)

    response = client.post(url(case, decision), {"reason": "spam"})

    assert response.status_code == 404
    assert unchanged(case)


def test_the_second_moderator_on_the_same_item_gets_a_conflict(client, agent, lead, facebook):
    case = make_case(facebook)
    actions.confirm_hide(user=lead, case=case)
    client.force_login(agent)

    response = client.post(url(case, "approve"), HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    assert "Lou Lead already decided" in response.content.decode()
    case.refresh_from_db()
    assert (case.state, case.decided_by_id) == (CaseState.HIDDEN, lead.pk)
    assert ModerationDecision.objects.filter(action=DecisionAction.APPROVE).count() == 0


# --- banning the author ----------------------------------------------------------------------


def test_a_lead_bans_the_author_and_the_item_is_hidden(client, lead, facebook):
    case = make_case(facebook)
    person = case.message.contact.person
    client.force_login(lead)

    response = client.post(url(case, "ban"), {"reason": "Repeated insults"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    person.refresh_from_db()
    assert person.banned
    listing = PersonListing.objects.get(person=person)
    assert (listing.kind, listing.reason, listing.created_by_id) == (
        ListKind.BAN, "Repeated insults", lead.pk
    )  # fmt: skip
    assert OutboundAction.objects.get(target_message=case.message).kind == OutboundKind.HIDE
    assert set(ModerationDecision.objects.values_list("action", flat=True)) == {
        DecisionAction.BAN, DecisionAction.CONFIRM_HIDE
    }  # fmt: skip


def test_agents_cannot_ban(client, agent, facebook):
    case = make_case(facebook)
    client.force_login(agent)

    response = client.post(url(case, "ban"), {"reason": "Repeated insults"})

    assert response.status_code == 403
    assert unchanged(case)
    assert not PersonListing.objects.exists()
    case.message.contact.person.refresh_from_db()
    assert not case.message.contact.person.banned


def test_a_ban_needs_a_reason(client, lead, facebook):
    case = make_case(facebook)
    client.force_login(lead)

    response = client.post(url(case, "ban"), {"reason": "  "})

    assert response.status_code == 422
    assert unchanged(case)


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_settles_what_the_user_may_and_reports_the_rest(client, agent, facebook, department):
    watched = factories.make_department("Watched")
    Membership.objects.create(user=agent, department=watched, role=MembershipRole.OBSERVER)
    instagram = make_channel(Platform.INSTAGRAM, department=watched, name="Instagram")
    mine = [make_case(facebook), make_case(facebook)]
    decided = make_case(facebook, state=CaseState.APPROVED, decided_at=timezone.now())
    read_only = make_case(instagram)
    client.force_login(agent)

    response = client.post(
        "/moderation/cases/bulk/",
        {"ids": ",".join(str(c.pk) for c in [*mine, decided, read_only]), "decision": "delete"},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Done: 2 items." in body and "Not done: 2" in body
    deleted = ModerationCase.objects.filter(state=CaseState.DELETED)
    assert set(deleted.values_list("pk", flat=True)) == {c.pk for c in mine}
    read_only.refresh_from_db()
    assert read_only.state == CaseState.PENDING
    assert OutboundAction.objects.filter(kind=OutboundKind.DELETE).count() == 2


def test_bulk_by_an_observer_is_refused(client, observer, facebook):
    case = make_case(facebook)
    client.force_login(observer)

    response = client.post("/moderation/cases/bulk/", {"ids": str(case.pk), "decision": "approve"})

    assert response.status_code == 403
    assert unchanged(case)


# --- live ------------------------------------------------------------------------------------


def test_a_decision_sends_the_decided_row_to_the_channel(
    agent, facebook, live_events, django_capture_on_commit_callbacks
):
    case = make_case(facebook, text=HOSTILE)

    with django_capture_on_commit_callbacks(execute=True):
        actions.confirm_hide(user=agent, case=case)

    [event] = [p for _, p in live_events if p.get("type") == "moderation.case"]
    assert (event["case_id"], event["state"], event["channel"]) == (case.pk, "hidden", facebook.pk)
    assert "<script>alert(1)" not in event["decided_html"]
    groups = {g for g, p in live_events if p.get("type") == "moderation.case"}
    assert groups == {f"channel.{facebook.pk}"}


def test_bulk_ban_hides_every_item_of_an_author_and_bans_once(lead, facebook):
    troll = Person.objects.create(display_name="Troll")
    cases = [make_case(facebook, person=troll, text=f"Idiot {n}") for n in range(3)]

    result = actions.settle_cases(
        user=lead, case_ids=[c.pk for c in cases], decision="ban", reason="Insults"
    )

    assert result.done == 3 and not result.refused
    assert PersonListing.objects.filter(person=troll, kind=ListKind.BAN).count() == 1
    assert OutboundAction.objects.filter(kind=OutboundKind.HIDE).count() == 3


def test_bulk_publishes_once_after_commit(
    agent, facebook, monkeypatch, django_capture_on_commit_callbacks
):
    cases = [make_case(facebook) for _ in range(3)]
    calls = []
    monkeypatch.setattr(
        "moderation.queue_views.send_case_events", lambda case_ids: calls.append(sorted(case_ids))
    )

    with django_capture_on_commit_callbacks(execute=True):
        actions.settle_cases(user=agent, case_ids=[c.pk for c in cases], decision="approve")

    assert calls == [sorted(c.pk for c in cases)]


def test_a_new_case_from_ingest_sends_its_row(facebook, live_events):
    from moderation.queue_views import publish_queue_changed

    case = make_case(facebook, text="new insult")

    publish_queue_changed(channel_account_ids={facebook.pk}, message_ids=[case.message_id])

    [event] = [p for _, p in live_events if p.get("type") == "moderation.case"]
    assert event["state"] == "pending" and "new insult" in event["html"]


# --- time to action --------------------------------------------------------------------------


def test_time_to_action_gives_count_median_and_p90(facebook, lead):
    now = timezone.now()
    for seconds in (10, 20, 30, 40, 100):
        make_case(facebook, state=CaseState.HIDDEN, flagged_at=now - timedelta(seconds=seconds),
                  decided_at=now, decided_by=lead)  # fmt: skip
    make_case(facebook, state=CaseState.HIDDEN, flagged_at=now - timedelta(days=9, seconds=5),
              decided_at=now - timedelta(days=9), decided_by=lead)  # fmt: skip
    make_case(facebook)  # still pending

    figures = actions.time_to_action(since=now - timedelta(days=7))

    assert figures["count"] == 5
    assert figures["median"] == pytest.approx(30)
    assert figures["p90"] == pytest.approx(76)  # interpolated between 40 and 100
    assert actions.time_to_action(since=now - timedelta(days=7), channel_ids=[])["count"] == 0
