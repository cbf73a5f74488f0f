"""Evidence: every moderation decision is kept with the item's text as it was, cannot be changed
or deleted, and can be exported per item, person or period with digests that verify."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from channels_integrations.models import Platform
from inbox.models import AuditEntry, ConversationEvent, EventKind, Message
from moderation.evidence import (
    EVIDENCE_FIELDS,
    decision_for,
    digest_of,
    evidence_digest,
    evidence_rows,
    record_decisions,
)
from moderation.models import DecisionAction, ImmutableEvidence, ModerationDecision
from tests import factories
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import make_decision, make_item

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert(1)</script> "onmouseover="alert(2)'


@pytest.fixture
def facebook(department):
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


def test_it_copies_the_item_author_and_channel_into_the_decision(facebook, lead):
    message = make_item(facebook, text="Du Idiot!", author="Troll")
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    decision = record_decisions(
        [decision_for(message=message, action=DecisionAction.HIDE, automatic=False, now=now,
                      actor=lead, reason="insult")]
    )[0]  # fmt: skip

    decision.refresh_from_db()
    assert decision.text == "Du Idiot!"
    assert decision.external_id == message.external_id
    assert decision.permalink == message.permalink
    assert decision.sent_at == message.sent_at
    assert decision.conversation_id_at == message.conversation_id
    assert decision.author_name == "Troll"
    assert decision.author_external_id == message.contact.external_id
    assert decision.person_id_at == message.contact.person_id
    assert (decision.channel_name, decision.platform) == ("Facebook page", "facebook")
    assert decision.actor_name == "Lou Lead"
    assert decision.sha256 == evidence_digest(decision)


def test_it_writes_many_decisions_and_their_timeline_events_in_two_queries(facebook):
    messages = [make_item(facebook) for _ in range(5)]
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    decisions = [
        decision_for(message=m, action=DecisionAction.HIDE, automatic=True, now=now,
                     contact=m.contact, channel=facebook)
        for m in messages
    ]  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        record_decisions(decisions)

    assert len(queries) == 2
    events = ConversationEvent.objects.filter(kind=EventKind.MODERATED)
    assert events.count() == 5
    assert {e.data["decision_id"] for e in events} == {d.pk for d in decisions}
    assert all(e.data["automatic"] is True and e.data["action"] == "hide" for e in events)


def test_the_decision_keeps_the_text_as_it_was_after_an_edit_and_a_deletion(facebook):
    message = make_item(facebook, text="Original insult")
    decision = make_decision(message)

    Message.objects.filter(pk=message.pk).update(text="Edited to look harmless")
    decision.refresh_from_db()
    assert decision.text == "Original insult"

    message.conversation.delete()  # the message and its conversation are gone from the inbox
    decision.refresh_from_db()
    assert decision.message_id is None
    assert decision.text == "Original insult"
    assert decision.sha256 == evidence_digest(decision)


def test_the_database_refuses_to_change_a_decision(facebook):
    decision = make_decision(make_item(facebook))

    with pytest.raises(IntegrityError), transaction.atomic():
        ModerationDecision.objects.filter(pk=decision.pk).update(text="rewritten")

    decision.refresh_from_db()
    assert decision.text == "Du Idiot!"


def test_the_database_refuses_to_delete_a_decision(facebook):
    decision = make_decision(make_item(facebook))

    with pytest.raises(IntegrityError), transaction.atomic():
        ModerationDecision.objects.filter(pk=decision.pk).delete()

    assert ModerationDecision.objects.filter(pk=decision.pk).exists()


def test_the_model_refuses_to_save_or_delete_a_recorded_decision(facebook):
    decision = make_decision(make_item(facebook))

    decision.reason = "changed"
    with pytest.raises(ImmutableEvidence):
        decision.save()
    with pytest.raises(ImmutableEvidence):
        decision.delete()


def test_it_finds_decisions_by_item_even_after_the_item_is_deleted(facebook):
    message = make_item(facebook)
    other = make_item(facebook)
    mine = make_decision(message)
    make_decision(other)
    external_id, permalink = message.external_id, message.permalink

    assert list(evidence_rows(message_id=message.pk)) == [mine]
    message.conversation.delete()
    assert list(evidence_rows(external_id=external_id)) == [mine]
    assert list(evidence_rows(permalink=permalink)) == [mine]


def test_it_finds_decisions_by_person_and_by_period(facebook):
    first = make_item(facebook, author="Troll")
    person = first.contact.person
    second = make_item(facebook, person=person)
    stranger = make_item(facebook)
    day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    a = make_decision(first, now=day)
    b = make_decision(second, now=day + timedelta(days=2))
    c = make_decision(stranger, now=day + timedelta(days=1))

    assert list(evidence_rows(person_id=person.pk)) == [a, b]
    assert list(evidence_rows(since=day + timedelta(hours=1), until=day + timedelta(days=2))) == [c]


def test_the_admin_exports_json_whose_digests_verify(client, admin_user, facebook):
    message = make_item(facebook, text="Ümlaut-Beleidigung, du Idiot")
    decision = make_decision(message, reason="insult")
    client.force_login(admin_user)

    response = client.get("/moderation/evidence/", {"item": str(message.pk), "format": "json"})

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["canonical_fields"] == list(EVIDENCE_FIELDS)
    assert "SHA-256" in document["verification"]
    [row] = document["decisions"]
    assert row["text"] == "Ümlaut-Beleidigung, du Idiot"
    assert row["sha256"] == decision.sha256 == digest_of(row)
    assert row["digest_matches"] is True


def test_a_tampered_export_row_no_longer_verifies(client, admin_user, facebook):
    make_decision(make_item(facebook, text="Original"))
    client.force_login(admin_user)

    document = json.loads(
        client.get("/moderation/evidence/", {"since": "2000-01-01", "format": "json"}).content
    )

    row = document["decisions"][0]
    row["text"] = "Something else"
    assert digest_of(row) != row["sha256"]


def test_the_admin_exports_csv_by_person_with_formulas_defused(client, admin_user, facebook):
    message = make_item(facebook, text='=HYPERLINK("http://evil")')
    make_decision(message)
    make_decision(make_item(facebook))  # someone else
    client.force_login(admin_user)

    response = client.get(
        "/moderation/evidence/", {"person": message.contact.person_id, "format": "csv"}
    )

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["digest_matches"] == "yes"


def test_an_export_is_written_to_the_audit_log(client, admin_user, facebook):
    make_decision(make_item(facebook))
    client.force_login(admin_user)

    client.get("/moderation/evidence/", {"since": "2000-01-01", "format": "csv"})

    entry = AuditEntry.objects.get(object_type="evidence_export")
    assert entry.actor_id == admin_user.pk
    assert entry.after["format"] == "csv"
    assert entry.after["decisions"] == 1


@pytest.mark.parametrize("persona", ["lead", "agent", "observer", "outsider"])
def test_only_admins_can_export_evidence(client, request, persona, facebook):
    make_decision(make_item(facebook))
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/moderation/evidence/", {"since": "2000-01-01", "format": "json"})

    assert response.status_code == 404
    assert not AuditEntry.objects.filter(object_type="evidence_export").exists()


def test_the_export_form_escapes_what_was_typed(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/moderation/evidence/", {"item": HOSTILE, "format": "xml"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;" in body


def test_an_export_without_a_filter_asks_for_one(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/moderation/evidence/", {"format": "json"})

    assert response.status_code == 200
    assert "Choose an item, a person or a period." in response.content.decode()


def test_a_decision_without_an_item_copies_the_person(facebook):
    person = factories.Person.objects.create(display_name="Never wrote")

    decision = record_decisions(
        [decision_for(message=None, action=DecisionAction.BAN, automatic=False,
                      now=datetime(2026, 11, 20, tzinfo=UTC), person=person)]
    )[0]  # fmt: skip

    assert (decision.person_id_at, decision.author_name, decision.text) == (
        person.pk, "Never wrote", ""
    )  # fmt: skip
    assert not ConversationEvent.objects.exists()
