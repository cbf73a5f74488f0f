"""Channels through the API: admins only, writes through channel_setup, and credentials never
in an answer."""

from __future__ import annotations

import pytest

from channels_integrations.models import ChannelAccount, ChannelStatus
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-token-value"


@pytest.mark.parametrize("persona", ["lead", "agent", "observer", "outsider"])
def test_only_admins_reach_the_channels(api_for, request, persona, channel):
    client = api_for(request.getfixturevalue(persona))
    assert client.get("/api/v1/channels/").status_code == 403
    assert client.get(f"/api/v1/channels/{channel.pk}/").status_code == 403
    assert client.post(f"/api/v1/channels/{channel.pk}/pause/").status_code == 403
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ACTIVE


def test_an_admin_connects_configures_pauses_and_resumes_without_seeing_secrets(
    api_for, admin_user, department
):
    client = api_for(admin_user)
    created = client.post(
        "/api/v1/channels/",
        {
            "platform": "mastodon",
            "name": "Mastodon @brand",
            "settings": {"base_url": "https://social.example"},
            "credentials": {"access_token": SECRET},
            "department_ids": [department.pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    channel = ChannelAccount.objects.get(pk=body["id"])
    assert channel.get_credentials()["access_token"] == SECRET
    assert body["status"] == ChannelStatus.PAUSED  # new channels wait for a connection test
    assert body["stored_secrets"] == ["access_token"]
    assert body["department_ids"] == [department.pk]

    renamed = client.patch(
        f"/api/v1/channels/{channel.pk}/", {"name": "Mastodon (Marke)"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content
    channel.refresh_from_db()
    assert channel.name == "Mastodon (Marke)"
    assert channel.get_credentials()["access_token"] == SECRET  # kept when not given
    assert channel.settings["base_url"] == "https://social.example"

    resumed = client.post(f"/api/v1/channels/{channel.pk}/resume/")
    assert resumed.json()["status"] == ChannelStatus.ACTIVE
    paused = client.post(f"/api/v1/channels/{channel.pk}/pause/", {"reason": "Kampagne"},
                         format="json")  # fmt: skip
    assert paused.json()["status"] == ChannelStatus.PAUSED
    assert paused.json()["status_reason"] == "Kampagne"

    every_answer = [created, renamed, resumed, paused, client.get("/api/v1/channels/")]
    for response in every_answer:
        text = response.content.decode()
        assert SECRET not in text
        assert "credentials_encrypted" not in text and channel.credentials_encrypted not in text


def test_invalid_setup_fields_are_a_400_naming_the_field(api_for, admin_user):
    response = api_for(admin_user).post(
        "/api/v1/channels/",
        {"platform": "mastodon", "name": "x", "settings": {"base_url": "not a url"}},
        format="json",
    )
    assert response.status_code == 400
    assert "base_url" in response.json()["errors"]
    assert not ChannelAccount.objects.exists()


def test_a_new_secret_replaces_only_that_secret(api_for, admin_user):
    channel = factories.make_mastodon_channel(token="old-token")
    response = api_for(admin_user).patch(
        f"/api/v1/channels/{channel.pk}/", {"credentials": {"access_token": "new"}}, format="json"
    )
    assert response.status_code == 200, response.content
    channel.refresh_from_db()
    assert channel.get_credentials()["access_token"] == "new"
    assert "new" not in response.json()["settings"].values()
