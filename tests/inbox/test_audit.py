"""The audit log of admin changes: one entry per change with who, before and after; none for a
save that changes nothing; never a secret; the log page and its CSV export."""

import csv
import io
import json
from datetime import date, time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from inbox import administration as admin_actions
from inbox import administration_rules as rule_actions
from inbox import audit
from inbox.actions import ActionRefused
from inbox.models import AuditEntry, Membership, MembershipRole, RoutingRule, SlaPolicy
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "tok-3f9a-very-secret"
PASSWORD = "Quiet-Harbour-Lantern-7"


def details_of(department, **changes):
    values = {
        "name": department.name,
        "channel_ids": frozenset(department.channel_accounts.values_list("pk", flat=True)),
        "contact_person_id": department.contact_person_id,
        "time_zone": department.time_zone,
        "assignment_strategy": department.assignment_strategy,
        "default_capacity": department.default_capacity,
        "requires_approval": department.requires_approval,
    }
    values.update(changes)
    return admin_actions.DepartmentDetails(**values)


def record_change(actor, instance, *, before, after):
    """A "changed" entry as the actions write it, for the tests of the log's pages."""
    return audit.record(
        actor=actor, action="changed", instance_or_type=instance, before=before, after=after
    )


def only_entry():
    entries = list(AuditEntry.objects.all())
    assert len(entries) == 1, [str(entry) for entry in entries]
    return entries[0]


def test_a_department_change_records_only_the_changed_keys(admin_user, department):
    admin_actions.save_department(
        user=admin_user,
        department=department,
        details=details_of(department, default_capacity=4, time_zone="Europe/Vienna"),
        hours={1: [(time(9), time(17))]},
    )
    entry = only_entry()
    assert entry.actor == admin_user and entry.actor_name == "alex"
    assert (entry.action, entry.object_type) == ("changed", "department")
    assert (entry.object_id, entry.object_repr) == (str(department.pk), "Community")
    assert entry.before == {"default_capacity": 10, "time_zone": "Europe/Berlin", "hours": []}
    assert entry.after == {
        "default_capacity": 4,
        "time_zone": "Europe/Vienna",
        "hours": ["Mon 09:00-17:00"],
    }


def test_a_save_without_a_change_writes_no_entry(admin_user, department, agent):
    admin_actions.save_department(
        user=admin_user, department=department, details=details_of(department), hours={}
    )
    membership = Membership.objects.get(user=agent)
    admin_actions.change_member(
        user=admin_user,
        membership=membership,
        role=membership.role,
        capacity=membership.capacity,
        requires_approval=membership.requires_approval,
    )
    rule = RoutingRule.objects.create(name="Rule", enabled=True)
    rule_actions.set_item_enabled(
        user=admin_user, items=rule_actions.ROUTING_RULES, item=rule, enabled=True
    )
    assert not AuditEntry.objects.exists()


def test_creating_and_deleting_keep_the_whole_row(admin_user, department, brand_channel):
    created = rule_actions.save_routing_rule(
        user=admin_user,
        rule=None,
        details=rule_actions.RoutingRuleDetails(
            name="Press",
            channel_ids=frozenset({brand_channel.pk}),
            languages=("de",),
            set_department_id=department.pk,
            tag_names=("press",),
        ),
    )
    entry = only_entry()
    assert (entry.action, entry.object_type, entry.before) == ("created", "routing_rule", {})
    assert entry.after["name"] == "Press" and entry.after["set_department"] == department.pk
    assert entry.after["channel_accounts"] == [brand_channel.pk]
    assert entry.after["add_tags"] == list(created.add_tags.values_list("pk", flat=True))

    AuditEntry.objects.all().delete()  # test set-up only: the app has no way to do this
    rule_actions.delete_item(user=admin_user, items=rule_actions.ROUTING_RULES, item=created)
    entry = only_entry()
    assert (entry.action, entry.object_id, entry.object_repr) == (
        "deleted",
        str(created.pk),
        "Press",
    )
    assert entry.before["languages"] == ["de"] and entry.after == {}


@pytest.fixture
def brand_channel(department):
    return factories.make_mastodon_channel(department=department, name="Brand", token=SECRET_TOKEN)


@pytest.mark.parametrize(
    ("change", "object_type", "before", "after"),
    [
        (
            lambda admin, d, m, c, u: admin_actions.change_member(
                user=admin, membership=m, role="lead", capacity=2, requires_approval=False
            ),
            "membership",
            {"role": "agent", "capacity": None},
            {"role": "lead", "capacity": 2},
        ),
        (
            lambda admin, d, m, c, u: admin_actions.set_account_admin(
                user=admin, account=u, admin=True
            ),
            "user",
            {"is_superuser": False, "is_staff": False},
            {"is_superuser": True, "is_staff": True},
        ),
        (
            lambda admin, d, m, c, u: admin_actions.set_account_active(
                user=admin, account=u, active=False
            ),
            "user",
            {"is_active": True},
            {"is_active": False},
        ),
        (
            lambda admin, d, m, c, u: admin_actions.set_channel_approval(
                user=admin, channel=c, requires_approval=True
            ),
            "channel",
            {"requires_approval": False},
            {"requires_approval": True},
        ),
        (
            lambda admin, d, m, c, u: admin_actions.add_holiday(
                user=admin, department=d, day=date(2031, 1, 1), name="NY"
            ),
            "holiday",
            {},
            {"date": "2031-01-01", "name": "NY"},
        ),
        (
            lambda admin, d, m, c, u: admin_actions.remove_member(user=admin, membership=m),
            "membership",
            {"role": "agent", "requires_approval": False},
            {},
        ),
        (
            lambda admin, d, m, c, u: rule_actions.save_sla_policy(
                user=admin,
                policy=None,
                details=rule_actions.SlaPolicyDetails(name="Fast", first_response_minutes=90),
            ),
            "sla_policy",
            {},
            {"name": "Fast", "first_response_minutes": 90, "position": 1},
        ),
    ],
)
def test_each_kind_of_change_writes_one_entry_with_actor_before_and_after(
    admin_user, department, agent, brand_channel, change, object_type, before, after
):
    membership = Membership.objects.get(user=agent)
    change(admin_user, department, membership, brand_channel, agent)
    entry = only_entry()
    assert entry.actor == admin_user and entry.object_type == object_type
    assert before.items() <= entry.before.items()
    assert after.items() <= entry.after.items()


def test_moving_a_rule_logs_the_position_of_each_rule_that_moved(admin_user):
    first = RoutingRule.objects.create(name="First", position=1)
    second = RoutingRule.objects.create(name="Second", position=2)
    rule_actions.move_item(
        user=admin_user, items=rule_actions.ROUTING_RULES, item=second, direction="up"
    )
    moves = {
        entry.object_repr: (entry.before, entry.after)
        for entry in AuditEntry.objects.filter(action="changed")
    }
    assert moves == {
        "Second": ({"position": 2}, {"position": 1}),
        "First": ({"position": 1}, {"position": 2}),
    }
    assert RoutingRule.objects.get(pk=first.pk).position == 2


def test_a_refused_change_leaves_no_entry(admin_user, department):
    RoutingRule.objects.create(name="Sends work there", set_department=department)
    with pytest.raises(ActionRefused):
        admin_actions.delete_department(user=admin_user, department=department)
    with pytest.raises(ActionRefused):
        admin_actions.set_account_active(user=admin_user, account=admin_user, active=False)
    assert not AuditEntry.objects.exists()


def test_only_admins_can_write_entries_through_the_actions(agent, department):
    with pytest.raises(admin_actions.AccessDenied):
        rule_actions.save_sla_policy(
            user=agent, policy=None, details=rule_actions.SlaPolicyDetails(name="Mine")
        )
    assert not AuditEntry.objects.exists() and not SlaPolicy.objects.exists()


def test_credentials_and_passwords_never_reach_the_log(client, admin_user, brand_channel):
    client.force_login(admin_user)
    client.post(
        reverse("team:user_create"),
        {"username": "nora", "password": PASSWORD, "email": "nora@example.com"},
    )
    client.post(reverse("team:channel_approval", args=[brand_channel.pk]), {"required": "1"})
    nora = get_user_model().objects.get(username="nora")
    admin_actions.set_account_admin(user=admin_user, account=nora, admin=True)
    assert AuditEntry.objects.count() == 3

    stored = json.dumps(list(AuditEntry.objects.values("before", "after", "object_repr")))
    export = b"".join(client.get(reverse("team:audit_export")).streaming_content).decode()
    page = client.get(reverse("team:audit")).content.decode()
    for text in (stored, export, page):
        assert PASSWORD not in text
        assert nora.password not in text  # the hash neither
        assert SECRET_TOKEN not in text
        assert brand_channel.credentials_encrypted not in text
        assert "credentials" not in text and "password" not in text


def test_snapshots_and_records_refuse_secret_fields(admin_user, brand_channel):
    with pytest.raises(ValueError, match="secret"):
        audit.snapshot(admin_user, ["username", "password"])
    with pytest.raises(ValueError, match="secret"):
        audit.snapshot(brand_channel, ["credentials_encrypted"])
    with pytest.raises(ValueError, match="secret"):
        audit.record(
            actor=admin_user,
            action="changed",
            instance_or_type=brand_channel,
            before={"credentials_encrypted": "a"},
            after={"credentials_encrypted": "b"},
        )
    assert not AuditEntry.objects.exists()


def test_the_log_page_shows_who_what_and_names_for_ids_newest_first(
    client, admin_user, department, agent
):
    membership = Membership.objects.get(user=agent)
    admin_actions.change_member(
        user=admin_user, membership=membership, role="lead", capacity=None, requires_approval=True
    )
    admin_actions.save_department(
        user=admin_user,
        department=department,
        details=details_of(department, contact_person_id=agent.pk),
    )
    client.force_login(admin_user)
    page = client.get(reverse("team:audit")).content.decode()
    assert page.index("Department") < page.index("Member")  # newest first
    assert "kim in Community" in page
    assert "agent</span>" in page and "lead</span>" in page
    # The contact person's id is shown as the person's name.
    assert '<span class="after">kim</span>' in page


def test_the_log_is_filtered_by_object_type_and_actor_and_paginated(client, admin_user, department):
    other_admin = factories.make_user("ada", is_superuser=True)
    for number in range(55):
        audit.record(
            actor=admin_user,
            action="created",
            instance_or_type="holiday",
            object_id=str(number),
            object_repr=f"Holiday {number}",
            before={},
            after={"name": f"Holiday {number}"},
        )
    record_change(other_admin, department, before={"name": "A"}, after={"name": "B"})
    client.force_login(admin_user)
    url = reverse("team:audit")

    first_page = client.get(url).content.decode()
    assert "Page 1 of 2" in first_page and "Holiday 54" in first_page
    assert "Holiday 4<" not in first_page

    mine = client.get(url, {"object_type": "department"}).content.decode()
    assert "Community" in mine and "Holiday 54" not in mine

    by_ada = client.get(url, {"actor": other_admin.pk}).content.decode()
    assert "Community" in by_ada and "Holiday 54" not in by_ada

    second = client.get(url, {"object_type": "holiday", "page": "2"}).content.decode()
    assert "Holiday 4<" in second and "object_type=holiday&amp;page=1" in second


def test_the_csv_export_has_the_filtered_log_and_defuses_formulas(client, admin_user, department):
    audit.record(
        actor=admin_user,
        action="created",
        instance_or_type="channel",
        object_id="7",
        object_repr='=HYPERLINK("http://evil")',
        before={},
        after={"requires_approval": True},
    )
    record_change(
        admin_user, department, before={"default_capacity": 10}, after={"default_capacity": 3}
    )
    client.force_login(admin_user)
    response = client.get(reverse("team:audit_export"), {"object_type": "department"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == audit.CSV_HEADER
    assert len(rows) == 2
    _when, actor, action, object_type, object_id, text, before, after = rows[1]
    assert (actor, action, object_type, object_id, text) == (
        "alex",
        "changed",
        "department",
        str(department.pk),
        "Community",
    )
    assert json.loads(before) == {"default_capacity": 10}
    assert json.loads(after) == {"default_capacity": 3}

    everything = b"".join(client.get(reverse("team:audit_export")).streaming_content).decode()
    assert "'=HYPERLINK" in everything  # a spreadsheet shows it as text, never runs it


def test_the_log_cannot_be_changed_through_its_pages(client, admin_user, department):
    record_change(admin_user, department, before={"name": "A"}, after={"name": "B"})
    client.force_login(admin_user)
    for url in (reverse("team:audit"), reverse("team:audit_export")):
        assert client.post(url).status_code == 405
        assert client.delete(url).status_code == 405
    assert AuditEntry.objects.get().after == {"name": "B"}


def test_an_observer_promoted_to_lead_is_recorded_with_the_admins_full_name(client, department):
    admin = factories.make_user("boss", is_superuser=True, first_name="Bo", last_name="Ss")
    watcher = factories.make_user("wat")
    factories.add_member(watcher, department, role=MembershipRole.OBSERVER)
    membership = Membership.objects.get(user=watcher)
    client.force_login(admin)
    client.post(
        reverse("team:member_change", args=[membership.pk]), {f"m{membership.pk}-role": "lead"}
    )
    entry = only_entry()
    assert entry.actor_name == "Bo Ss"
    assert entry.before == {"role": "observer"} and entry.after == {"role": "lead"}
