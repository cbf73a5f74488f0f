"""Persons and contacts (visible as on the person pages), /me/, and the rate limit."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.api.conftest import token_for

pytestmark = pytest.mark.django_db


def test_persons_and_contacts_are_visible_as_on_the_person_pages(
    api_for, channel, other_department, admin_user, agent, outsider
):
    ours = factories.make_conversation(channel, author="Erika Muster")
    hidden = factories.make_mastodon_channel(department=other_department)
    theirs = factories.make_conversation(hidden, author="Max Hidden")
    person, contact = ours.contact.person, ours.contact

    listed = api_for(agent).get("/api/v1/persons/").json()["results"]
    assert [p["id"] for p in listed] == [person.pk]
    assert listed[0]["contacts"][0]["handle"] == contact.handle
    assert api_for(agent).get(f"/api/v1/persons/{person.pk}/").status_code == 200
    assert api_for(agent).get(f"/api/v1/contacts/{contact.pk}/").json()["id"] == contact.pk
    assert api_for(agent).get(f"/api/v1/persons/{theirs.contact.person_id}/").status_code == 404
    assert api_for(agent).get(f"/api/v1/contacts/{theirs.contact_id}/").status_code == 404
    assert api_for(outsider).get(f"/api/v1/persons/{person.pk}/").status_code == 404
    everyone = api_for(admin_user).get("/api/v1/persons/", {"q": "Max"}).json()["results"]
    assert [p["id"] for p in everyone] == [theirs.contact.person_id]


def test_me_names_the_roles(api_for, lead, department):
    body = api_for(lead).get("/api/v1/me/").json()
    assert body["is_lead"] and not body["is_admin"]
    assert body["memberships"] == [
        {"department_id": department.pk, "department": department.name, "role": "lead"}
    ]


def test_the_rate_limit_is_per_token_and_answers_429_with_retry_after(settings, agent):
    rates = {"DEFAULT_THROTTLE_RATES": {"api": "3/min"}}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **rates}
    first, second = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(agent, 'one')}")
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(agent, 'two')}")

    answers = [first.get("/api/v1/me/").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    limited = first.get("/api/v1/me/")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["code"] == "throttled"
    assert second.get("/api/v1/me/").status_code == 200  # another token has its own count


def test_the_api_answers_unthrottled_while_the_cache_is_down(monkeypatch, agent):
    # Pages work without Redis; the API must not answer every call with 500 then.
    from django.core.cache.backends.redis import RedisCache

    from inbox.api.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "cache", RedisCache("redis://127.0.0.1:1/0", {}))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(agent, 'one')}")

    assert client.get("/api/v1/me/").status_code == 200


def test_reports_are_for_leads_and_admins_and_check_their_parameters(api_for, channel, lead, agent):
    factories.make_conversation(channel)
    report = api_for(lead).get("/api/v1/reports/", {"period": "7d"})
    assert report.status_code == 200, report.content
    assert report.json()["period"]["preset"] == "7d"
    assert api_for(agent).get("/api/v1/reports/").status_code == 403
    bad = api_for(lead).get("/api/v1/reports/", {"period": "forever"})
    assert bad.status_code == 400 and "period" in bad.json()["errors"]
