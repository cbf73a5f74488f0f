"""The incident pages: who sees and steers what, escaping of what people and detection wrote,
CSRF-protected controls, the escalation levels page and the banner."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from moderation import crisis
from moderation.context_processors import incidents as incidents_context
from moderation.incidents import ensure_default_levels
from moderation.models import EscalationLevel, Incident, IncidentEventKind, IncidentStatus
from tests import factories

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def brand(department: Any) -> Any:
    return factories.make_mastodon_channel(department=department, name="Mastodon @brand")


@pytest.fixture
def incident(brand: Any) -> Incident:
    ensure_default_levels()
    found = crisis.raise_incident(channel_account_id=brand.pk, level=2, reason="Threats")
    assert found is not None
    return found


def signed_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_it_hides_a_channels_incident_from_outsiders(incident: Incident, outsider: Any) -> None:
    client = signed_in(outsider)
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 404
    listing = client.get(reverse("incidents:list"))
    assert listing.status_code == 200
    assert incident.title not in listing.content.decode()
    storm = client.post(reverse("incidents:storm", args=[incident.pk]), {"on": "1"})
    assert storm.status_code == 404


def test_it_shows_observers_the_incident_without_controls(
    incident: Incident, observer: Any
) -> None:
    client = signed_in(observer)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert incident.title in page
    assert "<svg" in page and "Timeline" in page
    assert reverse("incidents:storm", args=[incident.pk]) not in page
    refused = client.post(reverse("incidents:storm", args=[incident.pk]), {"on": "1"})
    assert refused.status_code == 403
    assert (
        client.post(reverse("incidents:note", args=[incident.pk]), {"text": "hi"}).status_code
        == 403
    )
    incident.refresh_from_db()
    assert not incident.storm_mode


def test_it_refuses_storm_mode_to_agents_and_lets_the_channels_lead_switch_it(
    incident: Incident, agent: Any, lead: Any
) -> None:
    url = reverse("incidents:storm", args=[incident.pk])
    assert signed_in(agent).post(url, {"on": "1"}).status_code == 403
    answer = signed_in(lead).post(url, {"on": "1"})
    assert answer.status_code == 302
    incident.refresh_from_db()
    assert incident.storm_mode
    assert crisis.in_storm(incident.channel_account_id or 0)
    page = signed_in(lead).get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Switch storm mode off" in page and "Auto-replies are paused" in page


def test_it_escapes_titles_and_notes(brand: Any, lead: Any) -> None:
    ensure_default_levels()
    incident = crisis.declare_incident(user=lead, channel_account=brand, level=2, title=EVIL)
    crisis.add_incident_note(user=lead, incident=incident, text=f"Note {EVIL}")
    client = signed_in(lead)
    for url in (reverse("incidents:detail", args=[incident.pk]), reverse("incidents:list")):
        page = client.get(url).content.decode()
        assert EVIL not in page
        assert "&lt;script&gt;" in page
    banner = render_to_string("moderation/incidents/_banner.html", {"open_incidents": [incident]})
    assert EVIL not in banner and "&lt;script&gt;" in banner


def test_it_accepts_csrf_protected_posts_with_the_token_only(incident: Incident, lead: Any) -> None:
    client = signed_in(lead, enforce_csrf_checks=True)
    note_url = reverse("incidents:note", args=[incident.pk])
    assert client.post(note_url, {"text": "no token"}).status_code == 403
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match is not None
    token = match.group(1)
    assert (
        client.post(
            note_url, {"text": "Statement is out", "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    lead_url = reverse("incidents:lead", args=[incident.pk])
    assert client.post(lead_url, {"lead": "me", "csrfmiddlewaretoken": token}).status_code == 302
    level_url = reverse("incidents:level", args=[incident.pk])
    assert client.post(level_url, {"level": "3", "csrfmiddlewaretoken": token}).status_code == 302
    resolve_url = reverse("incidents:resolve", args=[incident.pk])
    answer = client.post(resolve_url, {"note": "Calm again", "csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.lead == lead and incident.peak_level == 3
    assert [e.kind for e in incident.events.filter(actor=lead)] == [
        IncidentEventKind.NOTE,
        IncidentEventKind.LEAD_SET,
        IncidentEventKind.LEVEL_RAISED,
        IncidentEventKind.RESOLVED,
    ]
    again = client.post(note_url, {"text": "", "csrfmiddlewaretoken": token})
    assert again.status_code == 422


def test_it_lets_a_lead_declare_an_incident_on_their_channel(brand: Any, lead: Any) -> None:
    ensure_default_levels()
    answer = signed_in(lead).post(
        reverse("incidents:declare"),
        {"channel_account": brand.pk, "level": "1", "title": "Recall announced"},
    )
    assert answer.status_code == 302
    incident = Incident.objects.get()
    assert not incident.automatic and incident.lead == lead
    twice = signed_in(lead).post(
        reverse("incidents:declare"),
        {"channel_account": brand.pk, "level": "1", "title": "Again"},
    )
    assert twice.status_code == 422


def test_it_shows_the_escalation_levels_to_admins_only(
    admin_user: Any, lead: Any, agent: Any
) -> None:
    url = reverse("incidents:levels")
    assert signed_in(lead).get(url).status_code == 404
    page = signed_in(admin_user).get(url)
    assert page.status_code == 200
    assert list(EscalationLevel.objects.values_list("name", flat=True)) == [
        "Watch",
        "Alert",
        "Crisis",
    ]
    data: dict[str, Any] = {
        "form-TOTAL_FORMS": "3",
        "form-INITIAL_FORMS": "3",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, level in enumerate(EscalationLevel.objects.order_by("number")):
        data.update(
            {
                f"form-{index}-id": str(level.pk),
                f"form-{index}-number": str(level.number),
                f"form-{index}-name": level.name,
                f"form-{index}-min_items": str(level.min_items),
                f"form-{index}-volume_ratio": str(level.volume_ratio or ""),
                f"form-{index}-items_per_hour": str(level.items_per_hour or ""),
                f"form-{index}-negative_share": str(level.negative_share or ""),
                f"form-{index}-toxic_share": str(level.toxic_share or ""),
                f"form-{index}-notify_by_email": "on",
            }
        )
    data["form-1-volume_ratio"] = "5"
    data["form-1-responsibles"] = [str(agent.pk)]
    saved = signed_in(admin_user).post(url, data)
    assert saved.status_code == 302, saved.content.decode()
    alert = EscalationLevel.objects.get(number=2)
    assert alert.volume_ratio == 5
    assert list(alert.responsibles.all()) == [agent]

    data["form-2-toxic_share"] = "1.5"
    refused = signed_in(admin_user).post(url, data)
    assert refused.status_code == 200
    assert "A share between 0 and 1" in refused.content.decode()


def test_it_offers_the_banner_to_those_who_may_see_the_incident(
    incident: Incident, lead: Any, outsider: Any
) -> None:
    request = RequestFactory().get("/")
    request.user = lead
    shown = incidents_context(request)["open_incidents"]
    assert [i.pk for i in shown] == [incident.pk]
    request.user = outsider
    assert not incidents_context(request)["open_incidents"]
