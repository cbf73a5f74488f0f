"""Data protection: a person's export holds everything about them and nothing of others; an
erasure scrubs every field that identifies them or holds their words, keeps what reports
count, is audited without personal data, and the same author writing again is a new person."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels_integrations.base import FetchedPage, InboundAuthor, InboundItem
from channels_integrations.models import Platform
from inbox import audit
from inbox.data_protection.erasure import ERASED_PREFIX, erase_person
from inbox.ingest import ingest_page
from inbox.models import (
    AuditEntry,
    Contact,
    Conversation,
    Direction,
    Message,
    Note,
    Notification,
    NotificationKind,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
    PersonMerge,
    PersonNote,
    Tag,
)
from moderation.models import CaseState, ListKind, ModerationCase, ModerationDecision, PersonListing
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import INSULT_SCORES, make_decision

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Words only Jane wrote: none of them may survive an erasure, in texts or in the search index.
JANE_WORDS = ("Zebrafantenrechnung", "jane.doe@example.org", "Doe")
BOB_TEXT = "Bobs Hamsterkrawatte is mine"


def _message(
    conversation: Conversation, contact: Contact | None, text: str, **fields: Any
) -> Message:
    return Message.objects.create(
        conversation=conversation,
        channel_account=conversation.channel_account,
        direction=Direction.INBOUND if contact else Direction.OUTBOUND,
        contact=contact,
        text=text,
        sent_at=fields.pop("sent_at", T0),
        **fields,
    )


@pytest.fixture
def world(department: Any, agent: Any) -> dict[str, Any]:
    """Jane (two identities, a merged duplicate, notes, tags, a ban, her own chat with our
    reply, a note, a draft, a notification, a moderation case and decision, and a reply in
    Bob's thread that is its newest message) and Bob (his own thread)."""
    facebook = make_channel(Platform.FACEBOOK, department=department, name="Facebook page")
    instagram = make_channel(Platform.INSTAGRAM, department=department, name="Instagram")
    jane = Person.objects.create(display_name="Jane Doe", vip=True, stance="critic")
    jane.tags.add(Tag.objects.create(name="press"))
    PersonNote.objects.create(person=jane, author=agent, text="Jane Doe works at the Zeitung")
    duplicate = Person.objects.create(display_name="J. Doe", merged_into=jane)
    PersonMerge.objects.create(kept=jane, merged=duplicate, contact_ids=[], actor=agent)
    PersonListing.objects.create(person=jane, kind=ListKind.BAN, reason="insults")
    jane_fb = Contact.objects.create(
        platform=Platform.FACEBOOK,
        external_id="fb-jane",
        handle="jane.doe",
        display_name="Jane Doe",
        avatar_url="https://cdn.example/jane.png",
        profile_url="https://facebook.example/jane.doe",
        person=jane,
    )
    jane_ig = Contact.objects.create(
        platform=Platform.INSTAGRAM, external_id="ig-jane", handle="janedoe_ig", person=jane
    )
    bob = Person.objects.create(display_name="Bob Other")
    bob_fb = Contact.objects.create(
        platform=Platform.FACEBOOK, external_id="fb-bob", handle="bob.other", person=bob
    )

    chat = Conversation.objects.create(
        channel_account=facebook,
        kind="private_message",
        thread_key="t_fb-jane",
        contact=jane_fb,
        post_text="Jane Doe's own words",
        last_message_at=T0 + timedelta(minutes=5),
        last_message_preview="Meine Zebrafantenrechnung",
        message_count=2,
        status="resolved",
        first_response_at=T0 + timedelta(minutes=5),
    )
    chat.tags.add(Tag.objects.create(name="billing"))
    janes = _message(
        chat,
        jane_fb,
        "Meine Zebrafantenrechnung, schreiben Sie an jane.doe@example.org",
        external_id="m-jane-1",
        attachments=[{"type": "image", "url": "https://cdn.example/invoice.png"}],
        raw={"from": {"name": "Jane Doe", "id": "fb-jane"}},
        edit_history=[{"text": "Zebrafantenrechnung v1", "replaced_at": T0.isoformat()}],
        permalink="https://facebook.example/m/1",
        classifier_scores=INSULT_SCORES,
    )
    reply = _message(
        chat,
        None,
        "Hallo Jane Doe, wir prüfen die Zebrafantenrechnung",
        external_id="m-our-1",
        author=agent,
        sent_at=T0 + timedelta(minutes=5),
    )
    OutboundAction.objects.create(
        conversation=chat,
        message=reply,
        kind=OutboundKind.REPLY,
        target_message=janes,
        target_external_id="m-jane-1",
        text=reply.text,
        original_text="Hallo Jane Doe",
        state=OutboundState.SENT,
        sent_at=T0 + timedelta(minutes=5),
        author=agent,
    )
    Note.objects.create(conversation=chat, author=agent, text="Jane Doe called about it")
    Notification.objects.create(
        user=agent, kind=NotificationKind.NEW_ITEM, conversation=chat, text="Jane Doe wrote"
    )
    ModerationCase.objects.create(
        message=janes,
        conversation=chat,
        channel_account=facebook,
        state=CaseState.HIDDEN,
        scores=INSULT_SCORES,
        flagged_at=T0,
    )
    decision = make_decision(janes)

    thread = Conversation.objects.create(
        channel_account=facebook,
        kind="comment",
        thread_key="c-bob",
        contact=bob_fb,
        post_text="Our winter collection",
        last_message_at=T0 + timedelta(minutes=10),
        last_message_preview="Doe: Zebrafantenrechnung too",
        message_count=2,
    )
    _message(thread, bob_fb, BOB_TEXT, external_id="c-bob-1")
    _message(
        thread,
        jane_ig,
        "Zebrafantenrechnung too",
        external_id="c-jane-2",
        sent_at=T0 + timedelta(minutes=10),
    )
    bobs_chat = Conversation.objects.create(
        channel_account=instagram,
        kind="private_message",
        thread_key="t_bob",
        contact=bob_fb,
        last_message_at=T0,
        last_message_preview=BOB_TEXT,
        message_count=1,
    )
    _message(bobs_chat, bob_fb, BOB_TEXT, external_id="bob-dm-1")
    return {
        "jane": jane,
        "duplicate": duplicate,
        "bob": bob,
        "chat": chat,
        "thread": thread,
        "bobs_chat": bobs_chat,
        "decision": decision,
        "janes": janes,
    }


def _export(client: Any, person: Person) -> dict[str, Any]:
    response = client.get(reverse("data_protection:person_export", args=[person.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return json.loads(b"".join(response.streaming_content))


def test_export_and_erasure_reach_persons_merged_through_a_chain(client, admin_user, world):
    # "J. D." was merged into the duplicate before the duplicate was merged into Jane.
    older = Person.objects.create(display_name="J. D. (older)", merged_into=world["duplicate"])
    client.force_login(admin_user)

    document = _export(client, world["jane"])
    assert older.pk in {row["id"] for row in document["persons"]}

    erase_person(user=admin_user, person=world["jane"])
    older.refresh_from_db()
    assert older.display_name != "J. D. (older)" and older.erased_at is not None


def test_it_exports_every_kind_of_row_about_the_person(client, admin_user, world):
    client.force_login(admin_user)
    document = _export(client, world["jane"])

    persons = {row["id"]: row for row in document["persons"]}
    assert set(persons) == {world["jane"].pk, world["duplicate"].pk}
    assert persons[world["jane"].pk]["stance"] == "critic"
    assert persons[world["jane"].pk]["tags"] == ["press"]
    assert persons[world["jane"].pk]["notes"][0]["text"] == "Jane Doe works at the Zeitung"
    assert {row["handle"] for row in document["contacts"]} == {"jane.doe", "janedoe_ig"}
    assert [row["merged_id"] for row in document["merges"]] == [world["duplicate"].pk]
    assert [row["id"] for row in document["conversations"]] == [world["chat"].pk]
    assert document["conversations"][0]["tags"] == ["billing"]
    assert [row["text"] for row in document["conversation_notes"]] == ["Jane Doe called about it"]
    assert document["conversation_events"]  # the decision's timeline event
    assert [row["id"] for row in document["other_conversations"]] == [world["thread"].pk]
    messages = {row["external_id"]: row for row in document["messages"]}
    assert set(messages) == {"m-jane-1", "m-our-1", "c-jane-2"}
    assert messages["m-jane-1"]["raw"] == {"from": {"name": "Jane Doe", "id": "fb-jane"}}
    assert messages["m-jane-1"]["attachments"][0]["url"] == "https://cdn.example/invoice.png"
    assert messages["m-jane-1"]["edit_history"][0]["text"] == "Zebrafantenrechnung v1"
    assert [row["id"] for row in document["moderation_decisions"]] == [world["decision"].pk]
    assert document["moderation_decisions"][0]["digest_matches"] is True
    assert len(document["moderation_cases"]) == 1
    assert [row["kind"] for row in document["listings"]] == ["ban"]


def test_the_export_holds_nothing_of_other_persons(client, admin_user, world):
    client.force_login(admin_user)
    Note.objects.create(
        conversation=world["chat"], external_author="Anna Legal <anna@legal.example>", text="ok"
    )
    text = json.dumps(_export(client, world["jane"]))
    for other in ("Hamsterkrawatte", "bob.other", "Bob Other", "fb-bob", "Our winter", "Anna"):
        assert other not in text
    # Bob's thread is listed by its facts only: its preview is about Jane but is not hers.
    assert "Doe: Zebrafantenrechnung too" not in text


def test_an_export_is_audited_with_counts_and_no_personal_data(client, admin_user, world):
    client.force_login(admin_user)
    _export(client, world["jane"])
    entry = AuditEntry.objects.get(object_type="person_export")
    assert entry.actor_id == admin_user.pk
    assert entry.object_id == str(world["jane"].pk)
    assert entry.after["messages"] == 3
    assert entry.after["contacts"] == 2
    assert "Jane" not in json.dumps([entry.object_repr, entry.before, entry.after])


def _search_text(message: Message) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector::text FROM inbox_message WHERE id = %s", [message.pk])
        return str(cursor.fetchone()[0])


def test_erasing_scrubs_every_field_that_holds_their_words_or_identity(world, admin_user):
    chat, thread = world["chat"], world["thread"]
    assert "zebrafantenrechnung" in _search_text(world["janes"])  # the index had it

    erase_person(user=admin_user, person=world["jane"])

    for message in Message.objects.filter(external_id__in=["m-jane-1", "m-our-1", "c-jane-2"]):
        assert message.text == "[erased]"
        assert message.attachments == []
        assert message.raw is None
        assert message.edit_history == []
        assert message.permalink == ""
        assert "evidence" not in message.classifier_scores
        assert "zebrafant" not in _search_text(message)
    assert Message.objects.get(external_id="m-jane-1").classifier_scores["toxicity"]["insult"]
    for contact in Contact.objects.filter(person=world["jane"]):
        assert contact.external_id.startswith(ERASED_PREFIX)
        assert (contact.handle, contact.display_name, contact.avatar_url, contact.profile_url) == (
            "",
            "",
            "",
            "",
        )
    for person in Person.objects.filter(pk__in=[world["jane"].pk, world["duplicate"].pk]):
        assert person.display_name == "Erased person"
        assert person.erased_at is not None
        assert person.stance == "" and not person.vip
        assert not person.tags.exists() and not person.notes.exists()
    chat.refresh_from_db()
    assert chat.last_message_preview == "[erased]"
    assert chat.post_text == ""
    assert chat.thread_key.startswith(ERASED_PREFIX)
    assert chat.anonymized_at is not None
    assert Note.objects.get(conversation=chat).text == "[erased]"
    action = OutboundAction.objects.get(conversation=chat)
    assert (action.text, action.original_text) == ("[erased]", "")
    assert Notification.objects.get(conversation=chat).text == "[erased]"
    assert "evidence" not in ModerationCase.objects.get(message=world["janes"]).scores
    thread.refresh_from_db()
    assert thread.last_message_preview == "[erased]"
    assert thread.post_text == "Our winter collection"  # our post, not hers
    dump = json.dumps(
        [
            list(Message.objects.filter(contact__person=world["jane"]).values()),
            list(Conversation.objects.filter(pk=chat.pk).values()),
            list(Contact.objects.filter(person=world["jane"]).values()),
            list(Person.objects.filter(pk=world["jane"].pk).values()),
        ],
        default=str,
    )
    for word in JANE_WORDS:
        assert word not in dump


def test_erasing_keeps_what_reports_count(world, admin_user):
    chat = world["chat"]
    before = Conversation.objects.filter(pk=chat.pk).values(
        "message_count", "first_response_at", "status", "last_message_at"
    )[0]
    rows_before = Message.objects.count()

    erase_person(user=admin_user, person=world["jane"])

    assert Conversation.objects.filter(pk=chat.pk).values(*before)[0] == before
    assert Message.objects.count() == rows_before
    assert list(Conversation.objects.get(pk=chat.pk).tags.values_list("name", flat=True)) == [
        "billing"
    ]


def test_erasing_leaves_other_persons_and_the_evidence_alone(world, admin_user):
    decision = world["decision"]
    erase_person(user=admin_user, person=world["jane"])

    assert Message.objects.filter(text=BOB_TEXT).count() == 2
    assert Contact.objects.get(external_id="fb-bob").handle == "bob.other"
    assert Person.objects.get(pk=world["bob"].pk).display_name == "Bob Other"
    bobs_chat = Conversation.objects.get(pk=world["bobs_chat"].pk)
    assert (bobs_chat.anonymized_at, bobs_chat.last_message_preview) == (None, BOB_TEXT)
    assert Conversation.objects.get(pk=world["thread"].pk).anonymized_at is None
    # Kept under Art. 17(3)(e): the decision is unchanged, its digest still verifies.
    kept = ModerationDecision.objects.get(pk=decision.pk)
    assert (kept.text, kept.sha256, kept.message_id) == (
        decision.text,
        decision.sha256,
        world["janes"].pk,
    )


def test_an_erasure_is_audited_with_counts_only(world, admin_user):
    erase_person(user=admin_user, person=world["jane"])

    entry = AuditEntry.objects.get(object_type="person_erasure")
    assert entry.actor_id == admin_user.pk
    assert entry.after["messages"] == 3
    assert entry.after["contacts"] == 2
    assert entry.after["persons"] == 2
    assert entry.after["conversations_anonymized"] == 1
    assert entry.after["moderation_decisions_kept"] == 1
    logged = json.dumps([entry.object_repr, entry.before, entry.after])
    for word in (*JANE_WORDS, "Jane", "jane"):
        assert word not in logged


def test_an_erasure_publishes_the_changed_conversations(
    world, admin_user, live_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        erase_person(user=admin_user, person=world["jane"])

    sent = json.dumps([payload for _, payload in live_events], default=str)
    assert str(world["chat"].pk) in sent
    assert "Zebrafantenrechnung" not in sent


def test_the_confirm_page_explains_and_a_wrong_confirmation_erases_nothing(
    client, admin_user, world
):
    client.force_login(admin_user)
    url = reverse("data_protection:person_erase", args=[world["jane"].pk])

    page = client.get(url)
    assert page.status_code == 200
    assert b"Art. 17(3)(e)" in page.content
    assert client.post(url, {"confirmation": "Jane"}).status_code == 400
    assert Person.objects.get(pk=world["jane"].pk).erased_at is None

    response = client.post(url, {"confirmation": "Jane Doe"})
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:person", args=[world["jane"].pk])
    assert Person.objects.get(pk=world["jane"].pk).erased_at is not None


def test_a_person_merged_into_another_is_not_erased_on_its_own(client, admin_user, world):
    client.force_login(admin_user)
    url = reverse("data_protection:person_erase", args=[world["duplicate"].pk])
    response = client.post(url, {"confirmation": "ERASE"})
    assert response.status_code == 400
    assert Person.objects.get(pk=world["duplicate"].pk).erased_at is None


def _ingest(channel: Any, external_id: str, text: str, author: str) -> None:
    channel.refresh_from_db()
    item = InboundItem(
        external_id=external_id,
        thread_key=f"t_{author}",
        kind="private_message",
        author=InboundAuthor(external_id=author, handle="jane.doe", display_name="Jane Doe"),
        text=text,
        created_at=timezone.now(),
    )
    ingest_page(
        channel_account_id=channel.pk,
        expected_cursor=channel.cursor,
        page=FetchedPage(items=[item], cursor=dict(channel.cursor), caught_up=True),
    )


def test_the_same_author_writing_again_is_a_new_person(department, admin_user):
    channel = make_channel(Platform.FACEBOOK, department=department)
    _ingest(channel, "dm-1", "Zebrafantenrechnung", "fb-42")
    erased = Contact.objects.get(external_id="fb-42").person
    erase_person(user=admin_user, person=erased)

    _ingest(channel, "dm-2", "Me again", "fb-42")

    new_contact = Contact.objects.get(external_id="fb-42")
    assert new_contact.person_id != erased.pk
    assert new_contact.person.erased_at is None
    assert new_contact.person.display_name == "Jane Doe"
    assert Contact.objects.filter(person=erased).count() == 1  # nothing re-linked
    # Their new message starts a new conversation: the erased chat's thread key is gone.
    new_message = Message.objects.get(external_id="dm-2")
    old_message = Message.objects.get(external_id="dm-1")
    assert new_message.conversation_id != old_message.conversation_id
    assert old_message.text == "[erased]"


def test_an_erased_item_seen_again_by_polling_stays_erased(department, admin_user):
    channel = make_channel(Platform.FACEBOOK, department=department)
    _ingest(channel, "dm-1", "Zebrafantenrechnung", "fb-42")
    erase_person(user=admin_user, person=Contact.objects.get(external_id="fb-42").person)

    _ingest(channel, "dm-1", "Zebrafantenrechnung", "fb-42")  # the same page polled again

    message = Message.objects.get(external_id="dm-1")
    assert message.text == "[erased]"
    assert "Zebrafantenrechnung" not in json.dumps(message.edit_history)


def _every_url(world: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    jane = world["jane"].pk
    channel = world["chat"].channel_account_id
    return [
        (reverse("data_protection:person_export", args=[jane]), {}),
        (reverse("data_protection:person_erase", args=[jane]), {"confirmation": "ERASE"}),
        (reverse("data_protection:retention"), {}),
        (
            reverse("data_protection:retention_save", args=[channel]),
            {f"channel-{channel}-days": "1", f"channel-{channel}-action": "delete"},
        ),
        (reverse("data_protection:audit_export_json"), {}),
    ]


def _state(world: dict[str, Any]) -> tuple[Any, ...]:
    return (
        Person.objects.filter(erased_at__isnull=False).count(),
        AuditEntry.objects.count(),
        list(Message.objects.order_by("pk").values_list("text", flat=True)),
        list(Conversation.objects.order_by("pk").values_list("pk", "anonymized_at")),
        world["chat"]
        .channel_account.__class__.objects.filter(retention_policy__isnull=False)
        .count(),
    )


@pytest.mark.parametrize("persona", ["lead", "agent", "observer", "outsider"])
def test_every_url_is_forbidden_to_everyone_but_admins(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    before = _state(world)
    for url, data in _every_url(world):
        assert client.get(url).status_code == 403, url
        assert client.post(url, data).status_code == 403, url
    assert _state(world) == before


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    before = _state(world)
    for url, data in _every_url(world):
        for response in (client.get(url), client.post(url, data)):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login") + "?next="), url
    assert _state(world) == before


def test_the_audit_log_exports_as_json_and_the_export_is_audited(client, admin_user, world):
    client.force_login(admin_user)
    erase_person(user=admin_user, person=world["jane"])

    response = client.get(reverse("data_protection:audit_export_json"))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    entries = json.loads(b"".join(response.streaming_content))
    assert {entry["object_type"] for entry in entries} >= {"person_erasure"}
    erasure = next(entry for entry in entries if entry["object_type"] == "person_erasure")
    assert erasure["after"]["messages"] == 3
    assert AuditEntry.objects.filter(object_type="audit_export").count() == 1


def test_the_audit_json_export_follows_the_filter(client, admin_user, world):
    client.force_login(admin_user)
    erase_person(user=admin_user, person=world["jane"])
    audit.record(
        actor=None, action="created", instance_or_type="retention_run", before={}, after={}
    )

    response = client.get(reverse("data_protection:audit_export_json"), {"actor": admin_user.pk})

    entries = json.loads(b"".join(response.streaming_content))
    assert "person_erasure" in {entry["object_type"] for entry in entries}
    assert {entry["actor_id"] for entry in entries} == {admin_user.pk}


def test_the_export_reads_a_fixed_number_of_queries_whatever_the_message_count(
    client, admin_user, world
):
    """Rows are streamed from cursors in chunks: ten times the messages, not ten times the
    queries (and never all of them in memory at once)."""
    client.force_login(admin_user)

    def queries_of_one_export() -> int:
        with CaptureQueriesContext(connection) as queries:
            _export(client, world["jane"])
        return len(queries)

    few = queries_of_one_export()
    contact = Contact.objects.get(external_id="fb-jane")
    Message.objects.bulk_create(
        Message(
            conversation=world["chat"],
            channel_account=world["chat"].channel_account,
            external_id=f"bulk-{n}",
            direction=Direction.INBOUND,
            contact=contact,
            text=f"message {n}",
            sent_at=T0,
        )
        for n in range(200)
    )
    assert queries_of_one_export() == few
