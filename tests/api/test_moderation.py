"""Moderation through the API: the thread's hide/unhide/delete and the queue's decisions go
through the same actions as the pages (queued in the outbox, evidence written)."""

from __future__ import annotations

import pytest

from channels_integrations.models import Platform
from inbox.models import OutboundAction, OutboundKind, OutboundState, Person
from moderation.models import CaseState, DecisionAction, ModerationDecision
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def facebook(department):
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


def test_hiding_an_item_queues_it_and_a_second_hide_is_refused(api_for, facebook, agent):
    case = make_case(facebook, text="Du Idiot!")
    client = api_for(agent)

    response = client.post(f"/api/v1/messages/{case.message_id}/hide/")

    assert response.status_code == 202, response.content
    action = OutboundAction.objects.get(pk=response.json()["id"])
    assert action.kind == OutboundKind.HIDE and action.state == OutboundState.QUEUED
    again = client.post(f"/api/v1/messages/{case.message_id}/hide/")
    assert again.status_code == 409 and "on its way" in again.json()["detail"]
    assert client.post(f"/api/v1/messages/{case.message_id}/explode/").status_code == 404


def test_an_outsider_cannot_see_or_act_on_the_item(api_for, facebook, outsider):
    case = make_case(facebook)
    client = api_for(outsider)
    assert client.post(f"/api/v1/messages/{case.message_id}/delete/").status_code == 404
    assert client.get("/api/v1/moderation/cases/").json()["results"] == []
    assert client.post(f"/api/v1/moderation/cases/{case.pk}/approve/").status_code == 404
    assert not OutboundAction.objects.exists()


def test_the_queue_lists_pending_cases_and_a_decision_settles_them(api_for, facebook, agent):
    case = make_case(facebook, text="Spam spam", auto_action="hide")
    decided = make_case(facebook, state=CaseState.APPROVED)
    client = api_for(agent)

    listed = client.get("/api/v1/moderation/cases/").json()["results"]
    assert [c["id"] for c in listed] == [case.pk]
    assert listed[0]["message"]["text"] == "Spam spam"
    assert decided.pk in [
        c["id"] for c in client.get("/api/v1/moderation/cases/", {"state": "any"}).json()["results"]
    ]

    response = client.post(f"/api/v1/moderation/cases/{case.pk}/confirm-hide/")

    assert response.status_code == 200, response.content
    assert response.json()["case"]["state"] == CaseState.HIDDEN
    assert ModerationDecision.objects.filter(action=DecisionAction.CONFIRM_HIDE).exists()
    again = client.post(f"/api/v1/moderation/cases/{case.pk}/approve/")
    assert again.status_code == 409 and "already decided" in again.json()["detail"]


def test_only_leads_ban_and_a_ban_needs_a_reason(api_for, facebook, agent, lead):
    person = Person.objects.create(display_name="Troll")
    case = make_case(facebook, person=person)
    url = f"/api/v1/moderation/cases/{case.pk}/ban/"

    assert api_for(lead).post(url, {}, format="json").status_code == 409
    refused = api_for(agent).post(url, {"reason": "Beleidigungen"}, format="json")
    assert refused.status_code == 403
    done = api_for(lead).post(url, {"reason": "Beleidigungen"}, format="json")
    assert done.status_code == 200, done.content
    person.refresh_from_db()
    assert person.banned


def test_an_observer_gets_a_403_on_decisions(api_for, facebook, observer):
    case = make_case(facebook)
    response = api_for(observer).post(f"/api/v1/moderation/cases/{case.pk}/delete/")
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.PENDING
