"""Shared fixtures: personas (admin, lead, agent, observer, outsider), a live fake Mastodon,
live events."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from channels_integrations.fake_server import FakeServer
from channels_integrations.mastodon.fake import FakeMastodon
from tests import factories


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    """A test database per test run: two runs on one machine (CI and a developer, or several
    checkouts) must not drop each other's database halfway through."""
    from django.conf import settings

    name = os.environ.get("INBOX_TEST_DATABASE") or f"test_inbox_{os.getpid()}"
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name


class ServedMastodon(FakeMastodon):
    """A fake Mastodon that knows the base URL it is served on."""

    url = ""


@pytest.fixture(autouse=True)
def site_language() -> Iterator[None]:
    """Every test starts and ends in the site language: a German request or override in one
    test must not leak into the next one's thread."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def fresh_team_config() -> None:
    """Ingest's cached rules and SLA book (inbox.team_config) start empty in every test: a
    copy read in an earlier test may hold rows its rollback removed."""
    from inbox.team_config import forget_team_config

    forget_team_config()


@pytest.fixture
def fake_mastodon() -> Iterator[ServedMastodon]:
    """A fake Mastodon on a free loopback port; `fake_mastodon.url` is its base URL."""
    fake = ServedMastodon(tokens={"demo-token", "other-token"})
    server = FakeServer(fake.wsgi_app)
    server.start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()


@pytest.fixture
def department(db: None) -> Any:
    return factories.make_department("Community")


@pytest.fixture
def other_department(db: None) -> Any:
    return factories.make_department("Sales")


@pytest.fixture
def channel(department: Any, fake_mastodon: ServedMastodon) -> Any:
    """A Mastodon channel owned by `department`, pointing at the fake server."""
    return factories.make_mastodon_channel(
        fake_mastodon.url,
        department=department,
        name="Mastodon @brand",
    )


@pytest.fixture
def admin_user(db: None) -> Any:
    return factories.make_user("alex", is_staff=True, is_superuser=True)


@pytest.fixture
def agent(department: Any) -> Any:
    user = factories.make_user("kim")
    factories.add_member(user, department)
    return user


@pytest.fixture
def lead(department: Any) -> Any:
    """The team lead of `department`: routes, assigns within it, approves replies."""
    user = factories.make_user("lou", first_name="Lou", last_name="Lead")
    factories.add_member(user, department, role="lead")
    return user


@pytest.fixture
def observer(department: Any) -> Any:
    """Reads `department`'s conversations (management, analysts) and changes nothing."""
    user = factories.make_user("oli", first_name="Oli", last_name="Observer")
    factories.add_member(user, department, role="observer")
    return user


@pytest.fixture
def outsider(other_department: Any) -> Any:
    """A colleague whose department owns none of the channels in the test."""
    user = factories.make_user("sam")
    factories.add_member(user, other_department)
    return user


@pytest.fixture
def live_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Live events that would be sent (group, payload), captured instead of sent."""
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr("inbox.live.send_events", lambda events: sent.extend(events))
    # As if a browser listened on every channel: no socket is open in these tests.
    monkeypatch.setattr("inbox.live.channels_with_listeners", lambda ids: set(ids))
    return sent
