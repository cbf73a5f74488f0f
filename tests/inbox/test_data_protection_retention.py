"""Retention policies: old conversations of one channel are deleted or anonymized in batches by
the scheduled task, newer ones and other channels are untouched, a second run does nothing,
reports keep their numbers, and admins set the policies on their page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_integrations.models import Platform
from inbox.data_protection import retention
from inbox.data_protection.erasure import ERASED_PREFIX
from inbox.data_protection.retention import apply_retention, apply_retention_policy
from inbox.data_protection.tasks import apply_retention as apply_retention_task
from inbox.models import (
    AuditEntry,
    Contact,
    Conversation,
    Direction,
    Message,
    Note,
    OutboundAction,
    OutboundKind,
    Person,
    RetentionAction,
    RetentionPolicy,
)
from moderation.models import ModerationCase, ModerationDecision
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import make_decision

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _conversation(
    channel: Any, *, days_old: int, text: str = "Meine Adresse ist Gartenweg 5", **fields: Any
) -> Conversation:
    """A conversation whose last message is `days_old` days old: the author's message and our
    reply (answered within 5 minutes), a note and the reply's outbox row."""
    when = NOW - timedelta(days=days_old)
    contact = fields.pop("contact", None) or Contact.objects.create(
        platform=channel.platform,
        external_id=f"author-{Contact.objects.count() + 1}",
        handle="gardener",
        display_name="Gerda Gärtner",
        person=Person.objects.create(display_name="Gerda Gärtner"),
    )
    conversation = Conversation.objects.create(
        channel_account=channel,
        kind="private_message",
        thread_key=f"thread-{Conversation.objects.count() + 1}",
        contact=contact,
        last_message_at=when,
        last_message_preview=text,
        message_count=2,
        status="resolved",
        first_response_at=when,
        **fields,
    )
    inbound = Message.objects.create(
        conversation=conversation,
        channel_account=channel,
        external_id=f"in-{conversation.pk}",
        direction=Direction.INBOUND,
        contact=contact,
        text=text,
        sent_at=when - timedelta(minutes=5),
        raw={"text": text},
        permalink="https://facebook.example/m",
        attachments=[{"url": "https://cdn.example/a.png"}],
    )
    reply = Message.objects.create(
        conversation=conversation,
        channel_account=channel,
        external_id=f"out-{conversation.pk}",
        direction=Direction.OUTBOUND,
        text="Danke, Gerda!",
        sent_at=when,
    )
    OutboundAction.objects.create(
        conversation=conversation,
        message=reply,
        kind=OutboundKind.REPLY,
        target_message=inbound,
        target_external_id=inbound.external_id or "",
        text=reply.text,
        state="sent",
        sent_at=when,
    )
    Note.objects.create(conversation=conversation, text="Gerda lives at Gartenweg 5")
    return conversation


@pytest.fixture
def facebook(department: Any) -> Any:
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


@pytest.fixture
def instagram(department: Any) -> Any:
    return make_channel(Platform.INSTAGRAM, department=department, name="Instagram")


def _policy(channel: Any, action: str, days: int = 30, **fields: Any) -> RetentionPolicy:
    return RetentionPolicy.objects.create(
        channel_account=channel, days=days, action=action, **fields
    )


def test_it_anonymizes_only_old_conversations_of_that_channel(facebook, instagram):
    old = _conversation(facebook, days_old=40)
    recent = _conversation(facebook, days_old=10)
    elsewhere = _conversation(instagram, days_old=400)
    policy = _policy(facebook, RetentionAction.ANONYMIZE)

    run = apply_retention_policy(policy.pk, now=NOW)

    assert run.conversations == 1
    old.refresh_from_db()
    assert old.anonymized_at == NOW
    assert old.last_message_preview == "[erased]"
    for message in Message.objects.filter(conversation=old):
        assert (message.text, message.raw, message.attachments, message.permalink) == (
            "[erased]",
            None,
            [],
            "",
        )
    assert Note.objects.get(conversation=old).text == "[erased]"
    assert OutboundAction.objects.get(conversation=old).text == "[erased]"
    for untouched in (recent, elsewhere):
        assert not Message.objects.filter(conversation=untouched, text="[erased]").exists()
        untouched.refresh_from_db()
        assert untouched.anonymized_at is None
        assert untouched.last_message_preview == "Meine Adresse ist Gartenweg 5"


def test_anonymizing_keeps_what_reports_count(facebook):
    old = _conversation(facebook, days_old=40)
    facts = ("message_count", "first_response_at", "status", "last_message_at", "created_at")
    before = Conversation.objects.filter(pk=old.pk).values(*facts)[0]

    apply_retention_policy(_policy(facebook, RetentionAction.ANONYMIZE).pk, now=NOW)

    assert Conversation.objects.filter(pk=old.pk).values(*facts)[0] == before
    assert Message.objects.filter(conversation=old).count() == 2


def test_an_author_with_nothing_left_loses_their_identity_one_still_writing_keeps_it(facebook):
    gone = _conversation(facebook, days_old=40)
    staying = _conversation(facebook, days_old=50)
    _conversation(facebook, days_old=1, contact=staying.contact)

    apply_retention_policy(_policy(facebook, RetentionAction.ANONYMIZE).pk, now=NOW)

    gone_contact = Contact.objects.get(pk=gone.contact_id)
    assert gone_contact.external_id.startswith(ERASED_PREFIX)
    assert (gone_contact.handle, gone_contact.display_name) == ("", "")
    assert gone_contact.person.display_name == "Erased person"
    assert gone_contact.person.erased_at == NOW
    kept = Contact.objects.get(pk=staying.contact_id)
    assert (kept.handle, kept.person.display_name) == ("gardener", "Gerda Gärtner")


def test_it_deletes_old_conversations_and_keeps_the_evidence(facebook, instagram):
    old = _conversation(facebook, days_old=40)
    recent = _conversation(facebook, days_old=10)
    elsewhere = _conversation(instagram, days_old=400)
    inbound = Message.objects.get(conversation=old, direction=Direction.INBOUND)
    ModerationCase.objects.create(
        message=inbound, conversation=old, channel_account=facebook, flagged_at=NOW
    )
    decision = make_decision(inbound)

    run = apply_retention_policy(_policy(facebook, RetentionAction.DELETE).pk, now=NOW)

    assert run.conversations == 1
    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert not OutboundAction.objects.filter(conversation_id=old.pk).exists()
    assert not ModerationCase.objects.filter(conversation_id=old.pk).exists()
    # The database trigger lets the reference go and nothing else: the copy stays whole.
    kept = ModerationDecision.objects.get(pk=decision.pk)
    assert kept.message_id is None
    assert (kept.text, kept.sha256) == (decision.text, decision.sha256)
    assert set(Conversation.objects.values_list("pk", flat=True)) == {recent.pk, elsewhere.pk}
    assert Contact.objects.get(pk=old.contact_id).external_id.startswith(ERASED_PREFIX)


@pytest.mark.parametrize("action", [RetentionAction.ANONYMIZE, RetentionAction.DELETE])
def test_a_second_run_does_nothing(facebook, action):
    for days in (40, 41, 42):
        _conversation(facebook, days_old=days)
    policy = _policy(facebook, action)

    assert apply_retention_policy(policy.pk, now=NOW).conversations == 3
    texts = list(Message.objects.order_by("pk").values_list("pk", "text", "updated_at"))
    assert apply_retention_policy(policy.pk, now=NOW + timedelta(hours=1)).conversations == 0

    assert list(Message.objects.order_by("pk").values_list("pk", "text", "updated_at")) == texts
    policy.refresh_from_db()
    assert (policy.last_run_at, policy.last_run_count) == (NOW + timedelta(hours=1), 0)
    assert AuditEntry.objects.filter(object_type="retention_run").count() == 1


def test_a_conversation_that_came_back_to_life_is_anonymized_again_once_old(facebook):
    old = _conversation(facebook, days_old=40)
    policy = _policy(facebook, RetentionAction.ANONYMIZE)
    apply_retention_policy(policy.pk, now=NOW)
    later = NOW + timedelta(days=1)
    Message.objects.create(
        conversation=old,
        channel_account=facebook,
        external_id="in-again",
        direction=Direction.INBOUND,
        contact=old.contact,
        text="Neue Adresse: Rosenweg 7",
        sent_at=later,
    )
    Conversation.objects.filter(pk=old.pk).update(last_message_at=later)

    assert apply_retention_policy(policy.pk, now=later + timedelta(days=10)).conversations == 0
    assert apply_retention_policy(policy.pk, now=later + timedelta(days=31)).conversations == 1
    assert Message.objects.get(external_id="in-again").text == "[erased]"


def test_it_works_in_batches_of_one_transaction_each(facebook, monkeypatch):
    for days in range(40, 45):
        _conversation(facebook, days_old=days)
    batches: list[int] = []
    apply_batch = retention._apply_batch

    def counting(policy: RetentionPolicy, *, now: Any, batch_size: int) -> int:
        handled = apply_batch(policy, now=now, batch_size=batch_size)
        batches.append(handled)
        return handled

    monkeypatch.setattr(retention, "_apply_batch", counting)

    run = apply_retention_policy(
        _policy(facebook, RetentionAction.ANONYMIZE).pk, now=NOW, batch_size=2
    )

    assert run.conversations == 5
    assert batches == [2, 2, 1]
    assert not Conversation.objects.filter(anonymized_at__isnull=True).exists()


def test_a_run_is_audited_once_per_channel_with_its_count(facebook, instagram):
    for days in (40, 50):
        _conversation(facebook, days_old=days)
    _conversation(instagram, days_old=400)
    _policy(facebook, RetentionAction.ANONYMIZE)
    _policy(instagram, RetentionAction.DELETE, days=365)
    _policy(make_channel(Platform.YOUTUBE), RetentionAction.DELETE)  # nothing due there

    runs = apply_retention(now=NOW)

    assert {(run.channel_account_id, run.conversations) for run in runs} >= {
        (facebook.pk, 2),
        (instagram.pk, 1),
    }
    entries = AuditEntry.objects.filter(object_type="retention_run").order_by("object_id")
    assert [(e.object_id, e.after["conversations"], e.actor_id) for e in entries] == sorted(
        [(str(facebook.pk), 2, None), (str(instagram.pk), 1, None)]
    )
    assert "Gerda" not in str([(e.before, e.after) for e in entries])


def test_disabled_policies_do_nothing(facebook):
    old = _conversation(facebook, days_old=40)
    _policy(facebook, RetentionAction.DELETE, enabled=False)

    assert apply_retention_task() == {}
    assert Conversation.objects.filter(pk=old.pk).exists()


def test_the_task_applies_every_enabled_policy(facebook):
    _conversation(facebook, days_old=40)
    _policy(facebook, RetentionAction.DELETE)

    assert apply_retention_task() == {str(facebook.pk): 1}
    assert not Conversation.objects.exists()


def test_the_retention_page_lists_channels_and_saves_a_policy(client, admin_user, facebook):
    client.force_login(admin_user)
    _policy(facebook, RetentionAction.ANONYMIZE, last_run_at=NOW, last_run_count=7)
    instagram = make_channel(Platform.INSTAGRAM, name="Insta <b>brand</b>")

    page = client.get(reverse("data_protection:retention"))
    assert page.status_code == 200
    assert b"Facebook page" in page.content
    assert b"Insta &lt;b&gt;brand&lt;/b&gt;" in page.content
    assert b"7 conversations" in page.content

    prefix = f"channel-{instagram.pk}"
    response = client.post(
        reverse("data_protection:retention_save", args=[instagram.pk]),
        {f"{prefix}-enabled": "on", f"{prefix}-days": "90", f"{prefix}-action": "delete"},
    )
    assert response.status_code == 302
    policy = RetentionPolicy.objects.get(channel_account=instagram)
    assert (policy.days, policy.action, policy.enabled) == (90, "delete", True)
    entry = AuditEntry.objects.get(object_type="retention_policy")
    assert entry.after["days"] == 90


def test_a_policy_needs_at_least_one_day(client, admin_user, facebook):
    client.force_login(admin_user)
    prefix = f"channel-{facebook.pk}"
    response = client.post(
        reverse("data_protection:retention_save", args=[facebook.pk]),
        {f"{prefix}-days": "0", f"{prefix}-action": "delete"},
    )
    assert response.status_code == 400
    assert not RetentionPolicy.objects.exists()


def test_the_retention_task_is_scheduled_hourly_and_known_to_the_worker(settings):
    from config.celery import app

    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["inbox.data_protection.tasks.apply_retention"] == 3600.0
    app.loader.import_default_modules()
    assert "inbox.data_protection.tasks.apply_retention" in app.tasks
