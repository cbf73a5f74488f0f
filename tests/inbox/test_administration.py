"""The team administration screens: who may use them, departments with their week and
holidays, members and roles, users, routing rules, SLA policies, approval settings, and the
parsing of what admins type (hours, durations, languages)."""

from datetime import date, time

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from channels_integrations.models import ChannelAccount
from inbox.administration_parsing import (
    format_minutes,
    parse_day_hours,
    parse_duration_minutes,
    parse_languages,
)
from inbox.models import (
    AuditEntry,
    Department,
    DepartmentHoliday,
    DepartmentHours,
    Membership,
    MembershipRole,
    RoutingRule,
    SlaPolicy,
    Tag,
)
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def lead(department):
    user = factories.make_user("lee", first_name="Lee", last_name="Lead")
    factories.add_member(user, department, role=MembershipRole.LEAD)
    return user


@pytest.fixture
def observer(department):
    user = factories.make_user("obi", first_name="Obi", last_name="Observer")
    factories.add_member(user, department, role=MembershipRole.OBSERVER)
    return user


@pytest.fixture
def brand(department):
    return factories.make_mastodon_channel(department=department, name="Brand DE")


@pytest.fixture
def team(department, brand, agent):
    """One of everything the screens manage, for the tours through every URL."""
    membership = Membership.objects.get(user=agent, department=department)
    holiday = DepartmentHoliday.objects.create(department=department, date=date(2031, 12, 24))
    rule = RoutingRule.objects.create(name="Press", position=1, set_department=department)
    policy = SlaPolicy.objects.create(name="VIP", position=1)
    return {
        "department": department,
        "membership": membership,
        "holiday": holiday,
        "rule": rule,
        "policy": policy,
        "channel": brand,
        "user": agent,
    }


def every_url(team):
    """(url, POST data that would change something if it were accepted) for every screen."""
    d, m, h = team["department"].pk, team["membership"].pk, team["holiday"].pk
    r, p, c, u = team["rule"].pk, team["policy"].pk, team["channel"].pk, team["user"].pk
    department_form = {
        "name": "Taken over",
        "time_zone": "Europe/Berlin",
        "assignment_strategy": "manual",
        "default_capacity": "5",
    }
    return [
        (reverse("team:overview"), {}),
        (reverse("team:department_create"), department_form),
        (reverse("team:department", args=[d]), department_form),
        (reverse("team:department_delete", args=[d]), {}),
        (reverse("team:holiday_add", args=[d]), {"holiday-date": "2031-01-01"}),
        (reverse("team:holiday_remove", args=[h]), {}),
        (reverse("team:member_add", args=[d]), {"add-member": u, "add-role": "lead"}),
        (reverse("team:member_change", args=[m]), {f"m{m}-role": "lead"}),
        (reverse("team:member_remove", args=[m]), {}),
        (
            reverse("team:user_create"),
            {"username": "mallory", "password": "a-long-enough-passphrase", "is_admin": "on"},
        ),
        (reverse("team:user_active", args=[u]), {"active": "0"}),
        (reverse("team:user_admin", args=[u]), {"admin": "1"}),
        (reverse("team:routing_rules"), {}),
        (reverse("team:routing_rule_create"), {"name": "Mine", "stop_processing": "on"}),
        (reverse("team:routing_rule_edit", args=[r]), {"name": "Mine", "stop_processing": "on"}),
        (reverse("team:routing_rule_delete", args=[r]), {}),
        (reverse("team:routing_rule_move", args=[r]), {"direction": "down"}),
        (reverse("team:routing_rule_enabled", args=[r]), {"enabled": "0"}),
        (reverse("team:sla_policies"), {}),
        (reverse("team:sla_policy_create"), {"name": "Mine", "first_response": "1h"}),
        (reverse("team:sla_policy_edit", args=[p]), {"name": "Mine", "first_response": "1h"}),
        (reverse("team:sla_policy_delete", args=[p]), {}),
        (reverse("team:sla_policy_move", args=[p]), {"direction": "down"}),
        (reverse("team:sla_policy_enabled", args=[p]), {"enabled": "0"}),
        (reverse("team:approval"), {}),
        (reverse("team:channel_approval", args=[c]), {"required": "1"}),
        (reverse("team:audit"), {}),
        (reverse("team:audit_export"), {}),
    ]


def state_of_everything():
    """What a forbidden request must leave exactly as it was."""
    user_model = get_user_model()
    return {
        "departments": list(Department.objects.order_by("pk").values()),
        "memberships": list(Membership.objects.order_by("pk").values()),
        "holidays": list(DepartmentHoliday.objects.order_by("pk").values()),
        "hours": DepartmentHours.objects.count(),
        "rules": list(RoutingRule.objects.order_by("pk").values()),
        "policies": list(SlaPolicy.objects.order_by("pk").values()),
        "users": list(
            user_model.objects.order_by("pk").values("username", "is_active", "is_superuser")
        ),
        "approval": list(
            ChannelAccount.objects.order_by("pk").values_list("pk", "requires_approval")
        ),
        "audit": AuditEntry.objects.count(),
    }


# --- who may use the screens ------------------------------------------------------------------


def test_every_screen_renders_for_an_admin(client, admin_user, team):
    client.force_login(admin_user)
    for url, _ in every_url(team):
        # Only the pages (GET); the POST-only URLs answer 405 to a GET.
        response = client.get(url)
        assert response.status_code in (200, 405), url
        if response.status_code == 200 and not url.endswith(".csv"):
            assert b"Audit log" in response.content, url  # the team tabs are there


@pytest.mark.parametrize("persona", ["lead", "agent", "observer"])
def test_every_url_is_forbidden_to_everyone_but_admins_and_changes_nothing(
    client, team, persona, request
):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    before = state_of_everything()
    for url, data in every_url(team):
        assert client.get(url).status_code == 403, url
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, data, **HTMX).status_code == 403, url
    assert state_of_everything() == before


def test_anonymous_visitors_are_sent_to_the_login_page(client, team):
    before = state_of_everything()
    for url, data in every_url(team):
        for response in (client.get(url), client.post(url, data)):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("login") + "?next="), url
    assert state_of_everything() == before


def test_a_deactivated_admin_is_locked_out(client, admin_user, team):
    client.force_login(admin_user)
    get_user_model().objects.filter(pk=admin_user.pk).update(is_active=False)
    response = client.get(reverse("team:overview"))
    assert response.status_code == 302


# --- departments ------------------------------------------------------------------------------


def department_post(**overrides):
    data = {
        "name": "Support",
        "time_zone": "Europe/Vienna",
        "assignment_strategy": "round_robin",
        "default_capacity": "7",
        "hours_1": "09:00-12:30, 13:30-17:00",
        "hours_2": "9-17",
        "hours_5": "08:00\u201314:00",  # an en dash, as calendars write it
        "hours_6": "closed",
    }
    data.update(overrides)
    return data


def test_creating_a_department_with_channels_and_a_working_week(client, admin_user, brand):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:department_create"),
        department_post(channel_accounts=[brand.pk], requires_approval="on"),
    )
    support = Department.objects.get(name="Support")
    assert response.status_code == 302
    assert response["Location"] == reverse("team:department", args=[support.pk])
    assert support.slug == "support" and support.time_zone == "Europe/Vienna"
    assert support.assignment_strategy == "round_robin" and support.default_capacity == 7
    assert support.requires_approval is True
    assert list(support.channel_accounts.all()) == [brand]
    assert list(support.hours.values_list("weekday", "opens", "closes")) == [
        (1, time(9), time(12, 30)),
        (1, time(13, 30), time(17)),
        (2, time(9), time(17)),
        (5, time(8), time(14)),
    ]
    page = client.get(response["Location"]).content.decode()
    assert 'value="09:00-12:30, 13:30-17:00"' in page  # the week is shown as it was typed
    overview = client.get(reverse("team:overview")).content.decode()
    assert "Mon 09:00-12:30, 13:30-17:00" in overview and "Fri 08:00-14:00" in overview


def test_editing_a_department_replaces_its_week_and_sets_a_member_as_contact(
    client, admin_user, department, agent
):
    DepartmentHours.objects.create(department=department, weekday=3, opens=time(7), closes=time(9))
    client.force_login(admin_user)
    url = reverse("team:department", args=[department.pk])
    response = client.post(
        url, department_post(name="Community care", contact_person=agent.pk, hours_2="")
    )
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.name == "Community care"
    assert department.slug == "community"  # the slug stays: other places may key on it
    assert department.contact_person == agent
    assert sorted(department.hours.values_list("weekday", flat=True)) == [1, 1, 5]


def test_the_contact_person_must_be_a_member(client, admin_user, department, outsider):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:department", args=[department.pk]),
        department_post(contact_person=outsider.pk),
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    department.refresh_from_db()
    assert department.contact_person is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hours_1", "9-25", "is not a time of day"),
        ("hours_1", "17:00-09:00", "ends before it starts"),
        ("hours_1", "09:00-13:00, 12:00-17:00", "overlap"),
        ("hours_1", "from nine to five", "is not an interval like 09:00-17:00"),
        ("hours_7", "18:00-24:00", "a day ends at 23:59"),
        ("time_zone", "Europe/Atlantis", "is not a time zone this server knows"),
        ("default_capacity", "-1", "greater than or equal to 0"),
        ("name", "", "This field is required"),
    ],
)
def test_bad_department_values_show_clear_errors_and_save_nothing(
    client, admin_user, field, value, message
):
    client.force_login(admin_user)
    response = client.post(reverse("team:department_create"), department_post(**{field: value}))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Department.objects.exists() and not AuditEntry.objects.exists()


def test_a_department_name_is_unique_ignoring_case(client, admin_user, department):
    client.force_login(admin_user)
    response = client.post(reverse("team:department_create"), department_post(name="COMMUNITY"))
    assert response.status_code == 422
    assert "There is already a department named COMMUNITY" in response.content.decode()


def test_holidays_are_added_once_and_removed(client, admin_user, department):
    client.force_login(admin_user)
    url = reverse("team:holiday_add", args=[department.pk])
    data = {"holiday-date": "2031-12-24", "holiday-name": "Christmas Eve"}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data)
    assert again.status_code == 422
    assert "is already a holiday of Community" in again.content.decode()
    holiday = DepartmentHoliday.objects.get(department=department)
    assert holiday.name == "Christmas Eve" and holiday.date == date(2031, 12, 24)
    page = client.get(reverse("team:department", args=[department.pk])).content.decode()
    assert "Christmas Eve" in page

    assert client.post(reverse("team:holiday_remove", args=[holiday.pk])).status_code == 302
    assert not DepartmentHoliday.objects.exists()


def test_a_holiday_needs_a_date(client, admin_user, department):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:holiday_add", args=[department.pk]), {"holiday-date": "24.12."}
    )
    assert response.status_code == 422
    assert "Enter a valid date" in response.content.decode()


def test_a_department_that_rules_still_send_work_to_is_not_deleted(client, admin_user, department):
    RoutingRule.objects.create(name="Complaints", set_department=department)
    client.force_login(admin_user)
    url = reverse("team:department_delete", args=[department.pk])
    page = client.get(url).content.decode()
    assert "Routing rule “Complaints” sends conversations to this department." in page
    assert client.post(url).status_code == 409
    assert Department.objects.filter(pk=department.pk).exists()

    RoutingRule.objects.all().delete()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("team:overview")
    assert not Department.objects.filter(pk=department.pk).exists()


# --- members and users ------------------------------------------------------------------------


def test_adding_a_member_changing_their_role_and_removing_them(
    client, admin_user, department, outsider
):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:member_add", args=[department.pk]),
        {"add-member": outsider.pk, "add-role": "observer", "add-capacity": ""},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=outsider, department=department)
    assert membership.role == "observer" and membership.capacity is None

    response = client.post(
        reverse("team:member_change", args=[membership.pk]),
        {
            f"m{membership.pk}-role": "lead",
            f"m{membership.pk}-capacity": "3",
            f"m{membership.pk}-requires_approval": "on",
        },
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.capacity, membership.requires_approval) == (
        "lead",
        3,
        True,
    )
    entry = AuditEntry.objects.filter(object_type="membership", action="changed").get()
    assert entry.before == {"role": "observer", "capacity": None, "requires_approval": False}
    assert entry.after == {"role": "lead", "capacity": 3, "requires_approval": True}

    department.contact_person = outsider
    department.save()
    assert client.post(reverse("team:member_remove", args=[membership.pk])).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    department.refresh_from_db()
    assert department.contact_person is None  # no longer a member, so no longer the contact


def test_a_member_row_with_a_bad_value_shows_the_error_on_that_row(
    client, admin_user, department, agent
):
    membership = Membership.objects.get(user=agent)
    client.force_login(admin_user)
    response = client.post(
        reverse("team:member_change", args=[membership.pk]),
        {f"m{membership.pk}-role": "boss", f"m{membership.pk}-capacity": "lots"},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Select a valid choice. boss is not one of the available choices." in page
    assert "Enter a whole number." in page
    membership.refresh_from_db()
    assert membership.role == "agent"


def test_adding_someone_twice_is_refused(client, admin_user, department, agent):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:member_add", args=[department.pk]),
        {"add-member": agent.pk, "add-role": "lead"},
    )
    assert response.status_code == 422  # already a member: not offered, so not a valid choice
    assert Membership.objects.get(user=agent).role == "agent"


def test_creating_a_user_who_can_sign_in(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:user_create"),
        {
            "username": "nora",
            "first_name": "Nora",
            "last_name": "Neu",
            "email": "nora@example.com",
            "password": "Tr1cky-Kangaroo-Lamp",
            "is_admin": "on",
        },
    )
    assert response.status_code == 302
    nora = get_user_model().objects.get(username="nora")
    assert nora.is_superuser and nora.is_staff and nora.get_full_name() == "Nora Neu"
    assert nora.check_password("Tr1cky-Kangaroo-Lamp")


def test_a_weak_password_or_a_taken_username_is_refused(client, admin_user, agent):
    client.force_login(admin_user)
    response = client.post(reverse("team:user_create"), {"username": "KIM", "password": "123"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "The username KIM is taken." in page
    assert "This password is too short." in page
    assert get_user_model().objects.count() == 2


def test_an_admin_can_deactivate_and_promote_others_but_not_themselves(client, admin_user, agent):
    client.force_login(admin_user)
    assert client.post(reverse("team:user_admin", args=[agent.pk]), {"admin": "1"}).status_code
    agent.refresh_from_db()
    assert agent.is_superuser
    client.post(reverse("team:user_active", args=[agent.pk]), {"active": "0"})
    agent.refresh_from_db()
    assert not agent.is_active

    for name, data in (("team:user_admin", {"admin": "0"}), ("team:user_active", {"active": "0"})):
        response = client.post(reverse(name, args=[admin_user.pk]), data, follow=True)
        assert "You cannot deactivate yourself or revoke your own admin rights." in (
            response.content.decode()
        )
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.is_superuser


# --- routing rules ----------------------------------------------------------------------------


def rule_post(**overrides):
    data = {"name": "Cancellations", "enabled": "on", "stop_processing": "on"}
    data.update(overrides)
    return data


def test_creating_a_routing_rule_with_every_condition_and_action(
    client, admin_user, department, agent, brand
):
    Tag.objects.create(name="Billing")
    client.force_login(admin_user)
    response = client.post(
        reverse("team:routing_rule_create"),
        rule_post(
            channel_accounts=[brand.pk],
            platforms=["mastodon", "email"],
            kinds=["private_message"],
            languages="DE, en ,de",
            keywords="Kündigung\n  cancel   my account \n\n",
            author="critic",
            set_department=department.pk,
            set_assignee=agent.pk,
            set_priority="3",
            add_tags="billing, Churn risk",
        ),
    )
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.position == 1 and rule.enabled and rule.stop_processing
    assert list(rule.channel_accounts.all()) == [brand]
    assert rule.platforms == ["mastodon", "email"] and rule.kinds == ["private_message"]
    assert rule.languages == ["de", "en"]
    assert rule.keywords == "Kündigung\ncancel my account"
    assert rule.author == "critic"
    assert (rule.set_department, rule.set_assignee, rule.set_priority) == (department, agent, 3)
    # An existing tag is found ignoring case, a new one is created.
    assert sorted(rule.add_tags.values_list("name", flat=True)) == ["Billing", "Churn risk"]
    assert Tag.objects.count() == 2

    listing = client.get(reverse("team:routing_rules")).content.decode()
    assert "mentions “Kündigung” or “cancel my account”" in listing
    assert "priority urgent" in listing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"languages": "german"}, "is not a language code"),
        ({"stop_processing": ""}, "This rule does nothing"),
        ({"set_priority": "9"}, "Select a valid choice"),
        ({"platforms": ["myspace"]}, "Select a valid choice"),
        ({"add_tags": "x" * 61}, "A tag name has at most 60 characters."),
    ],
)
def test_bad_routing_rule_values_show_clear_errors(client, admin_user, overrides, message):
    client.force_login(admin_user)
    response = client.post(reverse("team:routing_rule_create"), rule_post(**overrides))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_a_rule_cannot_assign_someone_outside_its_department(
    client, admin_user, department, outsider
):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:routing_rule_create"),
        rule_post(set_department=department.pk, set_assignee=outsider.pk),
    )
    assert response.status_code == 422
    assert "sam is not a lead or agent of Community." in response.content.decode()


def test_rules_move_up_and_down_and_positions_are_renumbered(client, admin_user):
    first = RoutingRule.objects.create(name="First", position=5, stop_processing=True)
    second = RoutingRule.objects.create(name="Second", position=9, stop_processing=True)
    third = RoutingRule.objects.create(name="Third", position=9, stop_processing=True)
    client.force_login(admin_user)

    response = client.post(
        reverse("team:routing_rule_move", args=[third.pk]), {"direction": "up"}, **HTMX
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="routing-rules"')  # only the list, for the swap
    assert page.index("Third") < page.index("Second")
    order = list(RoutingRule.objects.order_by("position").values_list("name", "position"))
    assert order == [("First", 1), ("Third", 2), ("Second", 3)]

    response = client.post(
        reverse("team:routing_rule_move", args=[first.pk]), {"direction": "down"}
    )
    assert response.status_code == 302  # without htmx: back to the page
    order = list(RoutingRule.objects.order_by("position").values_list("name", flat=True))
    assert order == ["Third", "First", "Second"]

    # The top rule cannot move further up; nothing changes and nothing is logged.
    logged = AuditEntry.objects.count()
    client.post(reverse("team:routing_rule_move", args=[third.pk]), {"direction": "up"})
    assert AuditEntry.objects.count() == logged
    assert RoutingRule.objects.get(pk=second.pk).position == 3


def test_a_rule_is_switched_off_and_deleted(client, admin_user):
    rule = RoutingRule.objects.create(name="Old", position=1, stop_processing=True)
    client.force_login(admin_user)
    response = client.post(
        reverse("team:routing_rule_enabled", args=[rule.pk]), {"enabled": "0"}, **HTMX
    )
    assert response.status_code == 200 and 'aria-checked="false"' in response.content.decode()
    rule.refresh_from_db()
    assert not rule.enabled
    assert client.post(reverse("team:routing_rule_delete", args=[rule.pk])).status_code == 302
    assert not RoutingRule.objects.exists()


def test_editing_a_rule_shows_what_it_has(client, admin_user, department):
    rule = RoutingRule.objects.create(
        name="Press", languages=["de", "en"], set_department=department, stop_processing=True
    )
    rule.add_tags.add(Tag.objects.create(name="press"))
    client.force_login(admin_user)
    page = client.get(reverse("team:routing_rule_edit", args=[rule.pk])).content.decode()
    assert 'value="de, en"' in page and 'value="press"' in page


# --- SLA policies -----------------------------------------------------------------------------


def test_a_new_policy_starts_with_the_24_hour_first_response(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("team:sla_policy_create")).content.decode()
    assert 'name="first_response" value="24h"' in page
    assert 'name="warn_before" value="1h"' in page


def test_creating_an_sla_policy_with_targets_in_hours_and_minutes(
    client, admin_user, department, brand
):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:sla_policy_create"),
        {
            "name": "Urgent",
            "enabled": "on",
            "channel_accounts": [brand.pk],
            "departments": [department.pk],
            "priorities": ["2", "3"],
            "first_response": "1h30m",
            "next_response": "45m",
            "resolution": "2d",
            "business_hours": "on",
            "pause_when_pending": "on",
            "warn_before": "15m",
        },
    )
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert policy.first_response_minutes == 90
    assert policy.next_response_minutes == 45
    assert policy.resolution_minutes == 2 * 24 * 60
    assert policy.warn_before_minutes == 15
    assert policy.priorities == [2, 3]
    assert policy.business_hours and policy.pause_when_pending and not policy.pause_when_snoozed
    assert list(policy.departments.all()) == [department]
    listing = client.get(reverse("team:sla_policies")).content.decode()
    assert "first response 1h30m" in listing and "resolution 2d" in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_response": "90"}, "is not a duration"),
        ({"first_response": "soon"}, "is not a duration"),
        ({"first_response": "0m"}, "A target must be longer than zero"),
        ({"first_response": ""}, "Set at least one target."),
        ({"first_response": "1h", "warn_before": ""}, "This field is required"),
        ({"first_response": "400d"}, "At most 365 days."),
    ],
)
def test_bad_sla_targets_show_clear_errors(client, admin_user, data, message):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:sla_policy_create"), {"name": "X", "warn_before": "1h", **data}
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not SlaPolicy.objects.exists()


def test_policies_are_reordered_switched_and_deleted(client, admin_user):
    first = SlaPolicy.objects.create(name="First", position=1)
    second = SlaPolicy.objects.create(name="Second", position=2)
    client.force_login(admin_user)
    response = client.post(
        reverse("team:sla_policy_move", args=[second.pk]), {"direction": "up"}, **HTMX
    )
    assert response.status_code == 200
    assert list(SlaPolicy.objects.order_by("position").values_list("pk", flat=True)) == [
        second.pk,
        first.pk,
    ]
    client.post(reverse("team:sla_policy_enabled", args=[first.pk]), {"enabled": "0"})
    first.refresh_from_db()
    assert not first.enabled
    client.post(reverse("team:sla_policy_delete", args=[first.pk]))
    assert list(SlaPolicy.objects.all()) == [second]


# --- approval settings ------------------------------------------------------------------------


def test_approval_is_switched_per_channel_department_and_member(
    client, admin_user, department, agent, brand
):
    client.force_login(admin_user)
    response = client.post(
        reverse("team:channel_approval", args=[brand.pk]), {"required": "1"}, **HTMX
    )
    assert response.status_code == 200
    assert 'aria-checked="true"' in response.content.decode()
    brand.refresh_from_db()
    assert brand.requires_approval

    client.post(
        reverse("team:department", args=[department.pk]),
        department_post(name="Community", requires_approval="on"),
    )
    department.refresh_from_db()
    assert department.requires_approval

    membership = Membership.objects.get(user=agent)
    client.post(
        reverse("team:member_change", args=[membership.pk]),
        {f"m{membership.pk}-role": "agent", f"m{membership.pk}-requires_approval": "on"},
    )
    membership.refresh_from_db()
    assert membership.requires_approval

    page = client.get(reverse("team:approval")).content.decode()
    assert "every reply" in page and f"#member-{membership.pk}" in page

    client.post(reverse("team:channel_approval", args=[brand.pk]), {"required": "0"})
    brand.refresh_from_db()
    assert not brand.requires_approval


# --- escaping ---------------------------------------------------------------------------------


def test_names_from_platforms_and_admins_are_escaped_everywhere(client, admin_user, department):
    evil = "<script>alert(1)</script>"
    channel = factories.make_mastodon_channel(department=department, name=evil)
    department.name = f"<b>{evil}</b>"
    department.save()
    member = factories.make_user("eve", first_name=evil)
    factories.add_member(member, department)
    rule = RoutingRule.objects.create(name=evil, keywords=evil, stop_processing=True)
    rule.channel_accounts.add(channel)
    policy = SlaPolicy.objects.create(name=evil)
    policy.channel_accounts.add(channel)
    client.force_login(admin_user)
    client.post(reverse("team:channel_approval", args=[channel.pk]), {"required": "1"})
    for url in (
        reverse("team:overview"),
        reverse("team:department", args=[department.pk]),
        reverse("team:department_delete", args=[department.pk]),
        reverse("team:routing_rules"),
        reverse("team:routing_rule_edit", args=[rule.pk]),
        reverse("team:sla_policies"),
        reverse("team:sla_policy_edit", args=[policy.pk]),
        reverse("team:approval"),
        reverse("team:audit"),
    ):
        page = client.get(url).content.decode()
        assert "<script>alert" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


# --- parsing what admins type -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("closed", []),
        ("09:00-17:00", [(time(9), time(17))]),
        ("9-17", [(time(9), time(17))]),
        ("9.30 - 12, 13:00\u201317:30", [(time(9, 30), time(12)), (time(13), time(17, 30))]),
        ("13:30-17:00; 09:00-12:30", [(time(9), time(12, 30)), (time(13, 30), time(17))]),
        ("00:00-23:59", [(time(0), time(23, 59))]),
    ],
)
def test_it_reads_working_hours(text, expected):
    assert parse_day_hours(text) == expected


@pytest.mark.parametrize("text", ["9", "9-", "25:00-26:00", "10-09", "9-12, 11-13", "nine-five"])
def test_it_refuses_hours_it_cannot_read(text):
    with pytest.raises(ValidationError):
        parse_day_hours(text)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("24h", 1440), ("1h30m", 90), ("1h 30m", 90), ("90m", 90), ("90min", 90), ("2d 4h", 3120)],
)
def test_it_reads_durations_and_writes_them_back(text, minutes):
    assert parse_duration_minutes(text) == minutes
    assert parse_duration_minutes(format_minutes(minutes)) == minutes


@pytest.mark.parametrize("text", ["", "90", "1.5h", "h", "30m1h", "-1h"])
def test_it_refuses_durations_without_units(text):
    with pytest.raises(ValidationError):
        parse_duration_minutes(text)


def test_it_reads_language_codes():
    assert parse_languages("DE, en pt-BR;de") == ("de", "en", "pt-br")
    with pytest.raises(ValidationError, match="“deutsch” is not a language code"):
        parse_languages("deutsch")
