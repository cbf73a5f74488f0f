"""Consulting by e-mail: the link shows that one conversation and nothing else, to anyone who
holds it, until it expires or is answered; the answer comes back as an internal note."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inbox import consulting, notes
from inbox.access import AccessDenied
from inbox.models import (
    Consultation,
    ConversationEvent,
    EventKind,
    MembershipRole,
    Note,
    Notification,
    NotificationKind,
)
from tests import factories

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/consult/(?P<token>[\w-]+)/")


@pytest.fixture
def colleague(department):
    user = factories.make_user("jo", first_name="Jo", last_name="Colleague")
    factories.add_member(user, department)
    return user


@pytest.fixture
def conversation(channel, colleague):
    conversation = factories.make_conversation(
        channel,
        text="Ist der Tarif <b>kündbar</b>?",
        author="<script>alert(1)</script> Erika",
        post_text="Unser neuer Tarif ist da!",
    )
    conversation.assignee = colleague
    conversation.save(update_fields=["assignee"])
    return conversation


def ask(client, user, conversation, django_capture_on_commit_callbacks, **fields):
    """Ask for advice through the conversation's panel; returns the token from the e-mail."""
    client.force_login(user)
    data = {
        "expert_email": "anna@legal.example",
        "expert_name": "Anna Jurist",
        "question": "Dürfen wir das so sagen?",
        "valid_for_days": "7",
        **fields,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("inbox:consult_request", args=[conversation.pk]), data, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    return LINK.search(mail.outbox[-1].body)["token"]


def test_asking_mails_a_link_that_shows_exactly_this_conversation(
    client, agent, conversation, channel, live_events, django_capture_on_commit_callbacks
):
    factories.make_conversation(channel, text="Eine ganz andere Frage zur Rechnung")
    notes.add_note(user=agent, conversation=conversation, text="Intern: Kunde droht mit Anwalt")
    token = ask(client, agent, conversation, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert message.to == ["anna@legal.example"]
    assert "Dürfen wir das so sagen?" in message.body
    consultation = Consultation.objects.get()
    # Only the token's hash is stored.
    assert consultation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(Consultation.objects.values()))
    conversation.refresh_from_db()
    assert conversation.awaiting_internal_since is not None
    event = ConversationEvent.objects.get(kind=EventKind.CONSULT_REQUESTED)
    assert event.actor == agent and event.data["expert"] == "Anna Jurist <anna@legal.example>"
    assert any(p["conversation_id"] == conversation.pk for _, p in live_events)
    page = client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "Ask for advice" in page and "Waiting for internal answer" in page
    panel = client.get(
        reverse("inbox:consultations", args=[conversation.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Anna Jurist &lt;anna@legal.example&gt;" in panel and "Open until" in panel

    expert = Client()  # no session: the expert has no account
    response = expert.get(reverse("consult:answer", args=[token]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dürfen wir das so sagen?" in page
    assert "Unser neuer Tarif ist da!" in page
    assert "Ist der Tarif &lt;b&gt;kündbar&lt;/b&gt;?" in page
    assert "Eine ganz andere Frage" not in page  # another conversation
    assert "Kunde droht mit Anwalt" not in page  # an internal note
    assert conversation.contact.handle not in page  # the contact's other data
    assert "/inbox/" not in page  # no links into the app
    # Never a Referer to another site ("no-referrer" would make browsers send `Origin: null`
    # with the answer, which the CSRF check refuses).
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]


def test_platform_text_on_the_experts_page_is_escaped(
    client, agent, conversation, django_capture_on_commit_callbacks
):
    token = ask(client, agent, conversation, django_capture_on_commit_callbacks)
    page = Client().get(reverse("consult:answer", args=[token])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Erika" in page


def test_the_answer_comes_back_as_a_note_once_and_clears_the_waiting_mark(
    client, agent, colleague, conversation, live_events, django_capture_on_commit_callbacks
):
    token = ask(client, agent, conversation, django_capture_on_commit_callbacks)
    expert = Client(enforce_csrf_checks=True)
    url = reverse("consult:answer", args=[token])
    expert.get(url)  # sets the CSRF cookie for a visitor without a session
    csrf = expert.cookies["csrftoken"].value

    assert expert.post(url, {"text": "Ja, aber ohne Preisangabe."}).status_code == 403  # no token
    with django_capture_on_commit_callbacks(execute=True):
        response = expert.post(
            url,
            {"text": "Ja, aber ohne Preisangabe.", "csrfmiddlewaretoken": csrf},
            HTTP_ORIGIN="http://testserver",  # what a browser sends under "same-origin"
        )
    assert response.status_code == 200 and "Thank you" in response.content.decode()

    note = Note.objects.get(external_author="Anna Jurist <anna@legal.example>")
    assert note.author is None and note.text == "Ja, aber ohne Preisangabe."
    assert note.conversation == conversation
    consultation = Consultation.objects.get()
    assert consultation.answered_at is not None and consultation.answer_note == note
    conversation.refresh_from_db()
    assert conversation.awaiting_internal_since is None
    event = ConversationEvent.objects.get(kind=EventKind.CONSULT_ANSWERED)
    assert event.data["note_id"] == note.pk
    told = Notification.objects.filter(kind=NotificationKind.CONSULT_ANSWERED)
    assert {n.user for n in told} == {agent, colleague}
    assert any(p["type"] == "note.changed" and p["note_id"] == note.pk for _, p in live_events)

    again = expert.post(url, {"text": "Noch etwas", "csrfmiddlewaretoken": csrf})
    assert again.status_code == 410
    assert Note.objects.filter(external_author__startswith="Anna").count() == 1
    gone = expert.get(url)
    assert gone.status_code == 410 and "Ist der Tarif" not in gone.content.decode()


def test_the_waiting_mark_stays_while_another_consultation_is_open(
    client, agent, conversation, django_capture_on_commit_callbacks
):
    first = ask(client, agent, conversation, django_capture_on_commit_callbacks)
    ask(
        client,
        agent,
        conversation,
        django_capture_on_commit_callbacks,
        expert_email="ben@product.example",
    )
    consulting.answer_advice(token=first, text="Von mir aus ja.")
    conversation.refresh_from_db()
    assert conversation.awaiting_internal_since is not None


def test_an_expired_link_is_gone_and_the_waiting_mark_is_cleared(
    client, agent, conversation, django_capture_on_commit_callbacks
):
    token = ask(client, agent, conversation, django_capture_on_commit_callbacks, valid_for_days="1")
    url = reverse("consult:answer", args=[token])
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = Client().get(url)
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert "Ist der Tarif" not in response.content.decode()
        assert response["Referrer-Policy"] == "same-origin"
        with pytest.raises(consulting.ConsultationClosed):
            consulting.answer_advice(token=token, text="Zu spät")
        assert consulting.expire_consultations() == 1
    conversation.refresh_from_db()
    assert conversation.awaiting_internal_since is None
    assert not Note.objects.exists()


def test_a_wrong_token_is_not_found(
    client, agent, conversation, django_capture_on_commit_callbacks
):
    token = ask(client, agent, conversation, django_capture_on_commit_callbacks)
    wrong = token[:-1] + ("B" if token.endswith("A") else "A")
    response = Client().get(reverse("consult:answer", args=[wrong]))
    assert response.status_code == 404
    assert "Ist der Tarif" not in response.content.decode()


def test_a_withdrawn_link_is_gone(client, agent, conversation, django_capture_on_commit_callbacks):
    token = ask(client, agent, conversation, django_capture_on_commit_callbacks)
    consultation = Consultation.objects.get()
    response = client.post(
        reverse("inbox:consult_withdraw", args=[consultation.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Withdrawn" in response.content.decode()
    assert Client().get(reverse("consult:answer", args=[token])).status_code == 410
    conversation.refresh_from_db()
    assert conversation.awaiting_internal_since is None
    withdrawn = conversation.events.get(kind="consult_withdrawn")
    assert withdrawn.actor == agent and withdrawn.data["consultation_id"] == consultation.pk


def test_observers_may_not_ask_and_outsiders_do_not_see_the_conversation(
    client, department, outsider, conversation
):
    observer = factories.make_user("olga")
    factories.add_member(observer, department, role=MembershipRole.OBSERVER)
    data = {"expert_email": "x@example.com", "question": "?", "valid_for_days": "7"}
    url = reverse("inbox:consult_request", args=[conversation.pk])
    client.force_login(observer)
    assert client.post(url, data).status_code == 403
    client.force_login(outsider)
    assert client.post(url, data).status_code == 404
    assert client.get(reverse("inbox:consultations", args=[conversation.pk])).status_code == 404
    with pytest.raises(AccessDenied):
        consulting.request_advice(
            user=outsider,
            conversation=conversation,
            expert_email="x@example.com",
            expert_name="",
            question="?",
            base_url="http://testserver/",
        )
    assert not Consultation.objects.exists() and mail.outbox == []


def test_a_departments_contact_person_is_asked_when_no_address_is_given(
    client, agent, conversation, other_department, django_capture_on_commit_callbacks
):
    contact = factories.make_user("lea", email="lea@sales.example", first_name="Lea")
    other_department.contact_person = contact
    other_department.save()
    ask(
        client,
        agent,
        conversation,
        django_capture_on_commit_callbacks,
        expert_email="",
        expert_name="",
        department=str(other_department.pk),
    )
    assert mail.outbox[-1].to == ["lea@sales.example"]
    consultation = Consultation.objects.get()
    assert consultation.department == other_department and consultation.expert_name == "Lea"
