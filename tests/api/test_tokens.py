"""Personal API tokens: their lifecycle, what is stored, and the token page."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from inbox.api import tokens
from inbox.audit import AuditEntry
from inbox.models import ApiToken
from tests import factories

ME = "/api/v1/me/"


def bearer(token: str, keyword: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token}")
    return client


@pytest.mark.django_db
def test_it_stores_only_the_digest_and_the_token_acts_as_its_user(agent):
    token, clear = tokens.create_token(user=agent, name="CRM sync")

    assert clear.startswith(f"inbox_{token.prefix}_")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(clear.encode()).hexdigest()
    assert clear not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    response = bearer(clear).get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == "kim"
    assert response.json()["token"]["name"] == "CRM sync"
    assert AuditEntry.objects.filter(object_type="api_token", object_id=str(token.pk)).exists()


@pytest.mark.django_db
def test_it_accepts_the_token_keyword_too(agent):
    _, clear = tokens.create_token(user=agent, name="legacy client")
    assert bearer(clear, keyword="Token").get(ME).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer inbox_00000000_unknown", "Bearer", "Bearer a b", "Basic dXNlcjpwdw=="],
)
def test_it_answers_401_with_a_json_reason_without_a_valid_token(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_an_expired_token_is_refused(agent):
    _, clear = tokens.create_token(
        user=agent, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert bearer(clear).get(ME).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = bearer(clear).get(ME)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.django_db
def test_a_revoked_token_is_refused_from_the_next_request_on(agent):
    token, clear = tokens.create_token(user=agent, name="revoked soon")
    assert bearer(clear).get(ME).status_code == 200
    tokens.revoke_token(user=agent, token=token)
    response = bearer(clear).get(ME)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


@pytest.mark.django_db
def test_a_deactivated_users_token_is_refused(agent):
    _, clear = tokens.create_token(user=agent, name="leaver")
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    assert bearer(clear).get(ME).status_code == 401


@pytest.mark.django_db
def test_it_refuses_an_expiry_in_the_past_and_a_blank_name(agent):
    from inbox.actions import ActionRefused

    with pytest.raises(ActionRefused):
        tokens.create_token(user=agent, name="  ")
    with pytest.raises(ActionRefused):
        tokens.create_token(user=agent, name="x", expires_at=timezone.now() - timedelta(days=1))


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(agent, django_assert_num_queries):
    token, clear = tokens.create_token(user=agent, name="busy")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        tokens.authenticate(clear)
        first = ApiToken.objects.get(pk=token.pk).last_used_at
        with django_assert_num_queries(1):  # the lookup only, no write
            tokens.authenticate(clear)
    assert first == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        tokens.authenticate(clear)
        assert ApiToken.objects.get(pk=token.pk).last_used_at == start + timedelta(seconds=61)


@pytest.mark.django_db
def test_only_the_owner_and_admins_may_revoke_a_token(agent, lead, admin_user):
    from inbox.access import AccessDenied

    token, _ = tokens.create_token(user=agent, name="mine")
    with pytest.raises(AccessDenied):
        tokens.revoke_token(user=lead, token=token)
    assert tokens.revoke_token(user=admin_user, token=token).revoked_at is not None


@pytest.mark.django_db
def test_the_token_page_shows_the_secret_once_and_lists_the_token(client, agent):
    client.force_login(agent)
    page = reverse("api:tokens")

    response = client.post(page, {"name": "Zapier", "expires_on": ""})

    assert response.status_code == 200
    token = ApiToken.objects.get(user=agent)
    secret = response.context["created"]["secret"]
    assert secret.startswith("inbox_") and secret in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    again = client.get(page).content.decode()
    assert "Zapier" in again and secret not in again and token.prefix in again
    assert bearer(secret).get(ME).status_code == 200


@pytest.mark.django_db
def test_the_token_page_revokes_and_hides_other_peoples_tokens(client, agent, lead, admin_user):
    theirs, _ = tokens.create_token(user=lead, name="lead's script")
    client.force_login(agent)
    assert "lead&#x27;s script" not in client.get(reverse("api:tokens")).content.decode()
    assert client.post(reverse("api:revoke_token", args=[theirs.pk])).status_code == 404

    client.force_login(admin_user)
    assert "lead&#x27;s script" in client.get(reverse("api:tokens")).content.decode()
    response = client.post(reverse("api:revoke_token", args=[theirs.pk]))
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None


@pytest.mark.django_db
def test_the_token_page_sets_the_expiry_at_the_end_of_the_chosen_day(client, agent):
    client.force_login(agent)
    day = (timezone.now() + timedelta(days=3)).date()
    client.post(reverse("api:tokens"), {"name": "temp", "expires_on": day.isoformat()})
    token = ApiToken.objects.get(user=agent)
    assert token.expires_at is not None and token.expires_at > timezone.now() + timedelta(days=2)


@pytest.mark.django_db
def test_the_token_page_needs_a_login(client):
    assert client.get(reverse("api:tokens")).status_code == 302


@pytest.mark.django_db
def test_an_outsiders_session_works_for_the_api_too(client, outsider):
    factories.make_user("unused")
    client.force_login(outsider)
    assert client.get(ME).json()["username"] == "sam"


@pytest.mark.django_db
def test_a_session_write_needs_the_csrf_token(agent, channel):
    conversation = factories.make_conversation(channel)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/note/", {"text": "x"}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not conversation.notes.exists()
