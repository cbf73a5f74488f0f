"""The composer: modes, signature on send (and in the length limit), the collision guard,
private replies, and the signatures page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox import composer
from inbox.models import (
    AgentSignature,
    ConversationEvent,
    ConversationPresence,
    EventKind,
    Note,
    OutboundAction,
    OutboundKind,
)
from tests import factories
from tests.inbox.composer_factories import make_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(channel):
    return factories.make_conversation(channel, text="Where is my parcel?", author="Jane")


@pytest.fixture
def colleague(department):
    user = factories.make_user("lee", first_name="Lee", last_name="Park")
    factories.add_member(user, department)
    return user


def reply_url(conversation) -> str:
    return reverse("inbox:reply", args=[conversation.pk])


def test_the_composer_offers_reply_and_note_and_shows_the_signature_escaped(
    client, agent, conversation
):
    make_signature(agent, "<b>Kim</b> from the team")
    client.force_login(agent)
    html = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()

    assert f'id="reply-text-{conversation.pk}"' in html
    assert 'name="mode" value="reply" checked' in html and 'name="mode" value="note"' in html
    # Mastodon has no private replies: the mode is not offered.
    assert 'value="private"' not in html
    assert 'name="take_over"' in html
    assert "Signature:" in html and "&lt;b&gt;Kim&lt;/b&gt; from the team" in html
    assert "<b>Kim</b>" not in html
    assert f'data-signature-length="{len("<b>Kim</b> from the team") + 2}"' in html
    assert f'data-note-url="{reverse("inbox:note", args=[conversation.pk])}"' in html


def test_a_reply_is_sent_with_the_channels_signature_else_the_default_one(
    client, agent, conversation, channel
):
    make_signature(agent, "Kim (default)")
    client.force_login(agent)
    client.post(reply_url(conversation), {"text": "Danke!"}, HTTP_HX_REQUEST="true")
    make_signature(agent, "Kim, Team Brand", channel=channel)
    client.post(reply_url(conversation), {"text": "Gern!"}, HTTP_HX_REQUEST="true")

    texts = list(OutboundAction.objects.order_by("pk").values_list("text", flat=True))
    assert texts == ["Danke!\n\nKim (default)", "Gern!\n\nKim, Team Brand"]


def test_a_reply_without_a_signature_goes_out_as_written(client, agent, conversation):
    client.force_login(agent)
    response = client.post(reply_url(conversation), {"text": "Hi!"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert OutboundAction.objects.get().text == "Hi!"


def test_the_signature_counts_against_the_platform_limit(client, agent, conversation):
    make_signature(agent, "Kim")  # 2 separator characters + 3
    client.force_login(agent)
    refused = client.post(reply_url(conversation), {"text": "x" * 496}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    assert "501 characters long; this platform allows 500" in refused.content.decode()
    ok = client.post(reply_url(conversation), {"text": "x" * 495}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200


def test_a_reply_over_a_colleagues_is_refused_until_taken_over(
    client, agent, colleague, conversation
):
    now = timezone.now()
    ConversationPresence.objects.create(
        connection="lee-tab",
        user=colleague,
        conversation=conversation,
        composing=True,
        composing_since=now - timedelta(seconds=5),
        seen_at=now,
    )
    client.force_login(agent)

    refused = client.post(reply_url(conversation), {"text": "Mine!"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 409
    assert "Lee Park is replying" in refused.content.decode()
    assert not OutboundAction.objects.exists()

    taken = client.post(
        reply_url(conversation), {"text": "Mine!", "take_over": "1"}, HTTP_HX_REQUEST="true"
    )
    assert taken.status_code == 200
    assert OutboundAction.objects.get().text == "Mine!"
    event = ConversationEvent.objects.get(kind=EventKind.REPLY_TAKEN_OVER)
    assert event.actor == agent


def test_a_refused_reply_does_not_take_over(client, agent, colleague, conversation):
    now = timezone.now()
    ConversationPresence.objects.create(
        connection="lee-tab",
        user=colleague,
        conversation=conversation,
        composing=True,
        composing_since=now,
        seen_at=now,
    )
    client.force_login(agent)
    response = client.post(
        reply_url(conversation), {"text": "x" * 600, "take_over": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert not ConversationEvent.objects.filter(kind=EventKind.REPLY_TAKEN_OVER).exists()
    assert ConversationPresence.objects.get(connection="lee-tab").composing


def test_private_mode_sends_a_private_reply(agent, conversation, monkeypatch):
    asked = {}

    def queue_reply(**kwargs):
        asked.update(kwargs)
        return OutboundAction(kind=OutboundKind.PRIVATE_REPLY, message_id=1)

    monkeypatch.setattr(composer, "queue_reply", queue_reply)
    from django.test import Client

    client = Client()
    client.force_login(agent)
    client.post(reply_url(conversation), {"text": "Per DM", "mode": "private"})
    assert asked["private"] is True and asked["text"] == "Per DM"


def test_note_mode_on_the_reply_address_adds_a_note_without_javascript(client, agent, conversation):
    client.force_login(agent)
    response = client.post(reply_url(conversation), {"text": "Check the order", "mode": "note"})
    assert response.status_code == 302
    assert Note.objects.get().text == "Check the order"
    assert not OutboundAction.objects.exists()


def test_the_signatures_page_saves_a_default_and_per_channel_signatures_for_visible_channels(
    client, agent, channel, other_department
):
    hidden = factories.make_mastodon_channel(department=other_department, name="Sales secret")
    client.force_login(agent)
    page = client.get(reverse("inbox:signatures")).content.decode()
    assert "Mastodon @brand" in page and "Sales secret" not in page

    response = client.post(
        reverse("inbox:signatures"),
        {
            "default": " Kim ",
            f"channel_{channel.pk}": "Kim, Team Brand",
            f"channel_{hidden.pk}": "x",
        },
    )
    assert response.status_code == 302
    assert dict(
        AgentSignature.objects.filter(user=agent).values_list("channel_account_id", "text")
    ) == {None: "Kim", channel.pk: "Kim, Team Brand"}

    client.post(reverse("inbox:signatures"), {"default": "", f"channel_{channel.pk}": "Kim K."})
    assert dict(
        AgentSignature.objects.filter(user=agent).values_list("channel_account_id", "text")
    ) == {channel.pk: "Kim K."}


def test_a_signature_cannot_be_set_for_a_channel_the_user_may_not_see(outsider, channel):
    with pytest.raises(composer.AccessDenied):
        composer.set_signature(user=outsider, channel_account_id=channel.pk, text="Sam")


@pytest.fixture
def chromium(monkeypatch):
    import shutil

    # Playwright's sync API keeps an event loop on this thread; the ORM calls between browser
    # steps are plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_inserts_a_saved_reply_with_the_keyboard_and_sends_it_then_adds_a_note(
    chromium, live_server, agent, colleague, channel
):
    from playwright.sync_api import expect

    from tests.inbox.composer_factories import make_saved_reply

    agent.first_name = "Kim"
    agent.save()
    channel.default_tone = "sie"
    channel.save()
    conversation = factories.make_conversation(channel, author="Erika Müller")
    make_saved_reply(
        "danke",
        title="Thanks for the feedback",
        variants=[
            ("de", "du", "danke dir, {author}!"),
            ("de", "sie", "vielen Dank, {author}! {agent}"),
            ("en", "", "thanks, {author}!"),
        ],
    )
    make_saved_reply("dm", title="Please <b>DM</b> us", variants=[("en", "", "Please DM us.")])
    make_signature(agent, "Team Brand")
    conversation.language = "de"
    conversation.save()

    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", agent.username)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server.url + reverse("inbox:conversation", args=[conversation.pk]))

    textarea = page.locator(f"#reply-text-{conversation.pk}")
    picker = page.locator(".saved-reply-picker")
    counter = page.locator("[data-counter]")
    textarea.click()
    textarea.type("Hallo, /")
    expect(picker).to_be_visible()
    # Titles are shown as text, never as HTML.
    expect(picker.locator(".saved-reply-title")).to_have_text(
        ["Please <b>DM</b> us", "Thanks for the feedback"]
    )
    textarea.type("dan")
    expect(picker.locator(".saved-reply-option")).to_have_count(1)
    expect(picker).to_contain_text("/danke")
    expect(picker).to_contain_text("vielen Dank, Erika Müller! Kim")
    textarea.press("Escape")
    expect(picker).to_be_hidden()
    textarea.type("k")  # the picker opens again while the "/word" is typed
    expect(picker.locator(".saved-reply-option")).to_have_count(1)
    textarea.press("Enter")
    expect(picker).to_be_hidden()
    expected = "Hallo, vielen Dank, Erika Müller! Kim"
    expect(textarea).to_have_value(expected)
    # The counter includes the signature ("\n\n" + "Team Brand").
    expect(counter).to_have_text(f"{len(expected) + 12} / 500")
    expect(page.locator("[data-signature]")).to_contain_text("Signature: Team Brand")

    textarea.press("Control+Enter")
    sent = page.locator(f"#thread-{conversation.pk} .msg-outbound")
    expect(sent).to_contain_text("vielen Dank, Erika Müller! Kim")
    expect(sent).to_contain_text("Team Brand")
    expect(textarea).to_have_value("")
    assert OutboundAction.objects.get().text == f"{expected}\n\nTeam Brand"

    # Note mode: the "internal" look, no signature, posts a note, mentions a colleague.
    page.evaluate("window.inboxComposer.focus('note')")
    expect(page.locator("form.composer")).to_have_class("composer composer-note")
    expect(page.locator("[data-signature]")).to_be_hidden()
    textarea.type("@lee bitte Rückruf")
    textarea.press("Control+Enter")
    note = page.locator(f"#thread-{conversation.pk} .note")
    expect(note).to_contain_text("bitte Rückruf")
    expect(note.locator(".mention")).to_have_text("@lee")
    assert list(Note.objects.get().mentions.all()) == [colleague]
