"""Each user's language: the picker on the preferences page, the browser's default, and
notifications and e-mails written in their recipient's language."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation

from channels_integrations.polling import poll_channel
from config.asgi import application
from inbox import live, notifications
from inbox.consumers import handshake_language
from inbox.models import AgentPreferences, Notification
from moderation.incidents import open_incident
from moderation.models import EscalationLevel
from tests import factories
from tests.inbox.socket_helpers import receive_until, session_cookie

pytestmark = pytest.mark.django_db

PREFERENCES = {
    "in_app_kinds": ["assigned", "mentioned", "send_failed", "incident"],
    "desktop_kinds": [],
    "quiet_from": "",
    "quiet_until": "",
    "working_days": [],
    "working_from": "",
    "working_until": "",
    "time_zone": "Europe/Berlin",
}


def speaks(user: Any, language: str) -> None:
    AgentPreferences.objects.update_or_create(user=user, defaults={"language": language})


@pytest.fixture
def conversation(channel: Any) -> Any:
    return factories.make_conversation(channel, text="Wo bleibt meine Bestellung?", author="Jonas")


# The picker.


def test_it_offers_browser_default_english_and_german(client, agent):
    client.force_login(agent)
    page = client.get(reverse("inbox:notification_preferences")).content.decode()
    assert '<select name="language"' in page
    assert '<option value="" selected>' in page
    assert '<option value="en">English</option>' in page
    assert '<option value="de">Deutsch</option>' in page


def test_it_saves_the_language_and_remembers_it_in_the_cookie(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("inbox:notification_preferences"), {**PREFERENCES, "language": "de"}
    )
    assert response.status_code == 302
    assert AgentPreferences.objects.get(user=agent).language == "de"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    page = client.get(response["Location"])
    assert page["Content-Language"] == "de"
    assert '<option value="de" selected>' in page.content.decode()


def test_browser_default_forgets_the_choice_and_the_cookie(client, agent):
    speaks(agent, "de")
    client.force_login(agent)
    response = client.post(
        reverse("inbox:notification_preferences"), {**PREFERENCES, "language": ""}
    )
    assert AgentPreferences.objects.get(user=agent).language == ""
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""  # expired
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "en"


def test_it_refuses_a_language_it_does_not_speak(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("inbox:notification_preferences"), {**PREFERENCES, "language": "fr"}
    )
    assert response.status_code == 422
    assert AgentPreferences.objects.filter(user=agent, language="fr").exists() is False


def test_the_page_comes_back_in_the_chosen_language(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("inbox:notification_preferences"), {**PREFERENCES, "language": "de"}
    )
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sprache" in page and "Browser-Standard" in page


# The browser's default.


def test_without_a_choice_the_browser_language_is_spoken(client, agent):
    client.force_login(agent)
    page = client.get(reverse("inbox:notification_preferences"), HTTP_ACCEPT_LANGUAGE="de")
    assert page["Content-Language"] == "de"


def test_the_users_choice_beats_the_browser(client, agent):
    speaks(agent, "en")
    client.force_login(agent)
    page = client.get(reverse("inbox:notification_preferences"), HTTP_ACCEPT_LANGUAGE="de")
    assert page["Content-Language"] == "en"


def test_a_german_browser_gets_german_pages(client, agent):
    client.force_login(agent)
    page = client.get(reverse("inbox:notification_preferences"), HTTP_ACCEPT_LANGUAGE="de")
    assert "Browser-Standard" in page.content.decode()


# Notifications and e-mails in their recipient's language.


def test_each_recipient_gets_the_text_rendered_in_their_own_language(
    channel, agent, lead, conversation
):
    speaks(agent, "de")  # the lead chose nothing: the site's language
    with translation.override("de"):  # whoever caused it speaks something else
        notifications.notify(
            users=[agent, lead],
            kind="assigned",
            conversation=conversation,
            actor=None,
            text=notifications.Localized("%(lang)s", lang=translation.get_language),
        )
    told = dict(Notification.objects.values_list("user__username", "text"))
    assert told == {agent.username: "de", lead.username: settings.LANGUAGE_CODE}


def test_one_text_is_rendered_once_per_language(channel, agent, lead, conversation):
    renderings: list[str | None] = []

    def render() -> str:
        renderings.append(translation.get_language())
        return "x"

    others = [factories.make_user(f"de{n}") for n in range(3)]
    for user in [agent, *others]:
        speaks(user, "de")
    notifications.notify(
        users=[agent, lead, *others],
        kind="incident",
        conversation=None,
        actor=None,
        text=notifications.Localized("%(x)s", x=render),
    )
    assert sorted(str(r) for r in renderings) == ["de", "en"]
    assert Notification.objects.count() == 5


def test_the_live_event_speaks_the_recipients_language(
    agent, conversation, live_events, django_capture_on_commit_callbacks
):
    speaks(agent, "de")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify(
            users=[agent],
            kind="assigned",
            conversation=conversation,
            actor=None,
            text=notifications.Localized("%(lang)s", lang=translation.get_language),
        )
    [event] = [e for _group, e in live_events if e["type"] == "notification"]
    assert event["body"] == "de"


def test_an_assignment_notice_is_in_the_assignees_language(agent, lead, conversation):
    speaks(agent, "de")
    notifications.notify_assigned(conversation=conversation, assignee=agent, actor=lead)
    notifications.notify_assigned(conversation=conversation, assignee=lead, actor=agent)
    told = dict(Notification.objects.values_list("user__username", "text"))
    assert told[agent.username] == "Lou Lead hat Ihnen zugewiesen: Jonas auf Mastodon @brand"
    assert told[lead.username] == "kim assigned you: Jonas on Mastodon @brand"


def test_admins_get_the_reauthorization_mail_once_per_language(channel):
    from channels_integrations.actions import notify_admins_needs_reauth

    german = factories.make_user("greta", is_superuser=True, email="greta@example.com")
    english = factories.make_user("eddie", is_superuser=True, email="eddie@example.com")
    also_german = factories.make_user("gabi", is_superuser=True, email="gabi@example.com")
    speaks(german, "de")
    speaks(also_german, "de")
    speaks(english, "en")
    notify_admins_needs_reauth(channel.pk, error="token revoked")
    assert sorted(sorted(m.to) for m in mail.outbox) == [
        ["eddie@example.com"],
        ["gabi@example.com", "greta@example.com"],
    ]


def test_an_incident_mail_is_in_each_responsibles_language(
    channel, django_capture_on_commit_callbacks
):
    german = factories.make_user("greta", email="greta@example.com")
    english = factories.make_user("eddie", email="eddie@example.com")
    speaks(german, "de")
    level = EscalationLevel.objects.create(number=1, name="Watch", notify_by_email=True)
    level.responsibles.add(german, english)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(
            channel_account_id=channel.pk,
            level=1,
            title="Shitstorm",
            now=timezone.now(),
            automatic=True,
        )
    assert incident is not None
    mails = {m.to[0]: m for m in mail.outbox}
    assert mails["greta@example.com"].subject == "[Watch (Stufe 1)] Shitstorm"
    assert "Vorfall öffnen:" in mails["greta@example.com"].body
    assert mails["eddie@example.com"].subject == "[Watch (level 1)] Shitstorm"
    assert "Open the incident:" in mails["eddie@example.com"].body


# Live fragments in each browser's language.


@pytest.fixture
def no_languages_noted() -> Any:
    """No language noted by an earlier test's sockets (the cache outlives a test)."""
    keys = [f"live.language.{code}" for code, _name in settings.LANGUAGES]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.mark.parametrize(
    ("chosen", "headers", "expected"),
    [
        ("", [(b"accept-language", b"de-DE,de;q=0.9,en;q=0.5")], "de"),
        ("", [(b"accept-language", b"fr")], "en"),
        ("", [], "en"),
        ("en", [(b"accept-language", b"de")], "en"),
        ("de", [(b"accept-language", b"en")], "de"),
    ],
)
def test_a_socket_reads_the_users_choice_else_the_browsers_language(chosen, headers, expected):
    assert handshake_language({"path": "/ws/live/", "headers": headers}, chosen) == expected


def test_the_language_cookie_counts_like_on_pages():
    scope = {"headers": [(b"accept-language", b"en")], "cookies": {"django_language": "de"}}
    assert handshake_language(scope, "") == "de"


def test_only_the_languages_of_connected_browsers_are_rendered(no_languages_noted):
    assert live.languages_in_use() == ["en"]
    live.register_language("en")  # the site's own: always rendered, nothing to note
    live.register_language("de")
    assert live.languages_in_use() == ["en", "de"]


def test_fragments_are_rendered_once_per_language_in_use(no_languages_noted):
    rendered: list[str | None] = []

    def render() -> dict[str, str]:
        rendered.append(translation.get_language())
        return {"html": f"<p>{translation.get_language()}</p>"}

    assert live.in_languages(render) == {"html": "<p>en</p>"}
    live.register_language("de")
    assert live.in_languages(render) == {"html": "<p>en</p>", "i18n": {"de": {"html": "<p>de</p>"}}}
    assert rendered == ["en", "en", "de"]


def _socket(cookie: bytes, accept_language: bytes) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", cookie),
        (b"accept-language", accept_language),
    ]
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


def _changed(message: dict[str, Any]) -> bool:
    return message["type"] == "conversation.changed"


@pytest.mark.django_db(transaction=True)
def test_a_german_and_an_english_agent_get_the_same_row_each_in_their_language(
    channel, fake_mastodon, agent, lead, no_languages_noted
):
    speaks(agent, "de")  # the lead's browser asks for English
    channel.cursor = {"min_id": "0"}
    channel.save()
    cookies = {"de": session_cookie(agent), "en": session_cookie(lead)}

    async def scenario() -> dict[str, dict[str, Any]]:
        sockets = {
            "de": _socket(cookies["de"], b"en"),  # the choice beats the browser
            "en": _socket(cookies["en"], b"en-US,en;q=0.8"),
        }
        for communicator in sockets.values():
            connected, _ = await communicator.connect()
            assert connected
            await receive_until(communicator, lambda m: m["type"] == "hello")
        fake_mastodon.add_mention("Ist der Shop heute offen?", username="jonas")
        await database_sync_to_async(poll_channel)(channel.pk)
        events = {code: await receive_until(s, _changed) for code, s in sockets.items()}
        for communicator in sockets.values():
            await communicator.disconnect()
        return events

    events = async_to_sync(scenario)()
    # One event for everyone (rendered once per language, not per browser) ...
    assert events["de"] == events["en"]
    event = events["en"]
    # ... with the site's language at the top and German beside it, for live.js to pick.
    assert set(event["i18n"]) == {"de"}
    assert "Ist der Shop heute offen?" in event["html"]
    assert "Ist der Shop heute offen?" in event["i18n"]["de"]["html"]
    assert event["i18n"]["de"]["html"] != event["html"]
