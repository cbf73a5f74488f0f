"""The agent's pages: who sees what, the reply form, escaping, pagination."""

import pytest
from django.urls import reverse

from inbox.models import OutboundAction, OutboundState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "name", "kwargs"),
    [
        ("get", "inbox:list", {}),
        ("get", "inbox:conversation", {"pk": 1}),
        ("post", "inbox:reply", {"pk": 1}),
        ("post", "inbox:retry", {"pk": 1}),
        ("get", "channels:list", {}),
    ],
)
def test_anonymous_users_are_sent_to_the_login_page(client, method, name, kwargs):
    response = getattr(client, method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_agent_sees_the_conversations_of_their_channels_newest_first(client, agent, department):
    channel = factories.make_mastodon_channel(department=department, name="Brand DE")
    older = factories.make_conversation(channel, text="older question", author="Anna")
    newer = factories.make_conversation(channel, text="newer question", author="Ben")
    newer.last_message_at = older.last_message_at.replace(year=older.last_message_at.year + 1)
    newer.save()
    client.force_login(agent)
    html = client.get(reverse("inbox:list"), {"sort": "newest"}).content.decode()
    assert html.index("newer question") < html.index("older question")
    assert "Brand DE" in html and "Anna" in html


def test_an_outsider_neither_lists_nor_opens_nor_answers_another_departments_conversation(
    client, outsider, department
):
    channel = factories.make_mastodon_channel(department=department)
    conversation = factories.make_conversation(channel, text="secret complaint", author="Carla")
    client.force_login(outsider)

    assert "secret complaint" not in client.get(reverse("inbox:list")).content.decode()
    assert client.get(reverse("inbox:conversation", args=[conversation.pk])).status_code == 404
    response = client.post(reverse("inbox:reply", args=[conversation.pk]), {"text": "hi"})
    assert response.status_code == 404
    assert not OutboundAction.objects.exists()
    assert "secret complaint" not in client.get(reverse("channels:list")).content.decode()


def test_platform_text_is_escaped_everywhere_it_is_shown(client, agent, department):
    channel = factories.make_mastodon_channel(department=department)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    conversation = factories.make_conversation(
        channel, text=hostile, author='"><svg onload=alert(2)>'
    )
    client.force_login(agent)
    for url in (reverse("inbox:list"), reverse("inbox:conversation", args=[conversation.pk])):
        html = client.get(url).content.decode()
        assert (
            "<script>alert" not in html and "<img src=x" not in html and "<svg onload" not in html
        )
        assert "&lt;script&gt;alert" in html


def test_pages_forbid_inline_scripts_and_framing(client, agent):
    client.force_login(agent)
    response = client.get(reverse("inbox:list"))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_replying_queues_an_outbound_message_shown_as_sending(client, agent, department):
    channel = factories.make_mastodon_channel(department=department)
    conversation = factories.make_conversation(channel)
    client.force_login(agent)
    response = client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "Danke für den Hinweis!"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Danke für den Hinweis!" in html and "Sending…" in html
    action = OutboundAction.objects.get()
    assert action.state == OutboundState.QUEUED and action.author == agent


def test_an_empty_or_too_long_reply_gets_a_clear_error(client, agent, department):
    channel = factories.make_mastodon_channel(department=department)
    conversation = factories.make_conversation(channel)
    client.force_login(agent)
    url = reverse("inbox:reply", args=[conversation.pk])
    too_long = client.post(url, {"text": "x" * 600}, HTTP_HX_REQUEST="true")
    assert too_long.status_code == 422 and "this platform allows 500" in too_long.content.decode()
    empty = client.post(url, {"text": "   "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 422 and "required" in empty.content.decode()
    assert not OutboundAction.objects.exists()


def test_the_list_pages_by_keyset(client, agent, department):
    channel = factories.make_mastodon_channel(department=department)
    for n in range(55):
        factories.make_conversation(channel, text=f"question {n:02d}")
    client.force_login(agent)
    first = client.get(reverse("inbox:list")).content.decode()
    assert first.count('class="conv-row') == 50
    next_url = first.split('class="load-more" hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert "after=" in next_url and "offset" not in next_url
    html = client.get(next_url, HTTP_HX_REQUEST="true").content.decode()
    assert html.count('class="conv-row') == 5
    assert "load-more" not in html
