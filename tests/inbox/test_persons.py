"""The person: identities, conversations, notes, tags, flags, merge and undo, assign-all."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from channels_integrations.models import Platform
from inbox import persons
from inbox.access import AccessDenied
from inbox.actions import ActionRefused
from inbox.models import (
    Contact,
    ConversationEvent,
    EventKind,
    Person,
    PersonMerge,
    PersonNote,
    Tag,
)
from tests import factories
from tests.inbox.person_factories import (
    add_conversation,
    make_channel,
    make_contact,
    make_person,
)

pytestmark = pytest.mark.django_db

HOSTILE = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


@pytest.fixture
def mastodon(department):
    return factories.make_mastodon_channel(department=department, name="Mastodon @brand")


@pytest.fixture
def facebook(department):
    return make_channel(Platform.FACEBOOK, department=department, name="Facebook page")


@pytest.fixture
def email(department):
    return make_channel(Platform.EMAIL, department=department, name="Support mailbox")


@pytest.fixture
def hidden_channel(other_department):
    """A channel only the outsider's department sees (the agent does not)."""
    return make_channel(Platform.X, department=other_department, name="X @sales")


def htmx(**headers):
    return {"HTTP_HX_REQUEST": "true", **headers}


# Visibility


def test_a_person_is_visible_through_a_conversation_the_user_may_see(
    agent, outsider, admin_user, mastodon
):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    lonely = make_person("Nobody writes")

    assert list(persons.visible_persons(agent)) == [jane]
    assert list(persons.visible_persons(outsider)) == []
    assert set(persons.visible_persons(admin_user)) == {jane, lonely}


@pytest.mark.parametrize(
    ("method", "name", "extra"),
    [
        ("get", "inbox:person", {}),
        ("get", "inbox:person_panel", {}),
        ("get", "inbox:person_merge_candidates", {}),
        ("post", "inbox:person_note", {}),
        ("post", "inbox:person_tag_add", {}),
        ("post", "inbox:person_tag_remove", {}),
        ("post", "inbox:person_flags", {}),
        ("post", "inbox:person_assign_open", {}),
        ("post", "inbox:person_merge", {}),
        ("post", "inbox:person_merge_undo", {"merge_pk": True}),
    ],
)
def test_an_outsider_gets_404_on_every_person_url_and_changes_nothing(
    client, outsider, mastodon, method, name, extra
):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    other = make_person("Other Jane")
    add_conversation(mastodon, other)
    merge = PersonMerge.objects.create(kept=jane, merged=make_person("Old"))
    kwargs = {"pk": jane.pk}
    if extra:
        kwargs["merge_pk"] = merge.pk
    client.force_login(outsider)
    data = {"text": "note", "name": "tag", "vip": "on", "into": other.pk, "q": "Jane"}

    response = getattr(client, method)(reverse(name, kwargs=kwargs), data, **htmx())

    assert response.status_code == 404
    jane.refresh_from_db()
    assert not jane.vip and not jane.notes.exists() and not jane.tags.exists()
    assert jane.merged_into_id is None and PersonMerge.objects.get().undone_at is None


def test_anonymous_users_are_sent_to_the_login_page(client, mastodon):
    jane = make_person("Jane")
    response = client.get(reverse("inbox:person", args=[jane.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_person_lists_only_conversations_on_channels_the_viewer_may_see(
    client, agent, mastodon, hidden_channel
):
    jane = make_person("Jane")
    add_conversation(mastodon, jane, preview="seen by the agent")
    add_conversation(hidden_channel, jane, preview="sales only")
    client.force_login(agent)

    html = client.get(reverse("inbox:person", args=[jane.pk])).content.decode()

    assert "seen by the agent" in html
    assert "sales only" not in html
    # Every identity is shown, though: they are the same human.
    assert html.count('class="identity"') == 2


# The panel


def test_the_panel_shows_identities_other_open_conversations_and_one_assign_action(
    client, agent, mastodon, facebook, email
):
    jane = make_person("Jane")
    current = add_conversation(mastodon, jane)
    add_conversation(facebook, jane, status="open")
    add_conversation(email, jane, status="pending")
    add_conversation(email, jane, status="resolved", preview="old and done")
    make_contact(
        jane, Platform.INSTAGRAM, handle="jane.insta", profile_url="https://insta.example/j"
    )
    client.force_login(agent)

    url = reverse("inbox:person_panel", args=[jane.pk]) + f"?conversation={current.pk}"
    html = client.get(url, **htmx()).content.decode()

    assert 'id="person-panel"' in html
    assert "Also waiting on Facebook, E-mail" in html
    assert "Assign all open conversations of this person to me" in html
    assert "@jane.insta" in html and 'href="https://insta.example/j"' in html
    # Each conversation came through its own contact, plus the Instagram one.
    assert html.count('class="identity"') == 5


def test_the_panel_reads_a_bounded_number_of_queries(
    client, agent, mastodon, facebook, django_assert_max_num_queries
):
    jane = make_person("Jane")
    for _ in range(15):
        add_conversation(facebook, jane, status="open")
        PersonNote.objects.create(person=jane, author=agent, text="again")
    jane.tags.add(Tag.objects.create(name="press"), Tag.objects.create(name="billing"))
    current = add_conversation(mastodon, jane)
    client.force_login(agent)
    url = reverse("inbox:person_panel", args=[jane.pk]) + f"?conversation={current.pk}"

    with django_assert_max_num_queries(14):
        assert client.get(url, **htmx()).status_code == 200


def test_the_included_panel_renders_from_the_conversation_and_loads_the_rest(
    agent, mastodon, django_assert_max_num_queries
):
    jane = make_person("Jane", vip=True, blocked=True)
    conversation = add_conversation(mastodon, jane)
    request = RequestFactory().get("/")
    request.user = agent

    with django_assert_max_num_queries(2):
        html = render_to_string(
            "inbox/person/_context_panel.html", {"conversation": conversation}, request=request
        )

    assert 'id="person-panel"' in html
    assert f'hx-get="{reverse("inbox:person_panel", args=[jane.pk])}?conversation=' in html
    assert 'data-person-blocked="true"' in html and "VIP" in html and "Blocked" in html


def test_a_hostile_display_name_is_shown_as_text_in_the_panel_and_the_page(client, agent, mastodon):
    jane = make_person(HOSTILE)
    make_contact(jane, handle=HOSTILE, display_name=HOSTILE, profile_url="javascript:alert(3)")
    conversation = add_conversation(mastodon, jane)
    PersonNote.objects.create(person=jane, author=agent, text=HOSTILE)
    jane.tags.add(Tag.objects.create(name=HOSTILE[:60]))
    searcher = make_person("Searcher")
    add_conversation(mastodon, searcher)
    client.force_login(agent)
    request = RequestFactory().get("/")
    request.user = agent

    pages = [
        render_to_string(
            "inbox/person/_context_panel.html", {"conversation": conversation}, request=request
        ),
        client.get(reverse("inbox:person_panel", args=[jane.pk]), **htmx()).content.decode(),
        client.get(reverse("inbox:person", args=[jane.pk])).content.decode(),
        client.get(
            reverse("inbox:person_merge_candidates", args=[searcher.pk]), {"q": "img"}, **htmx()
        ).content.decode(),
    ]
    for html in pages:
        assert "<img src=x" not in html and "<script>alert" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "javascript:" not in html


# Notes, tags, flags


def test_an_agent_adds_a_note_and_sees_it_with_author_and_time(client, agent, mastodon):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    client.force_login(agent)

    response = client.post(
        reverse("inbox:person_note", args=[jane.pk]),
        {"text": "Called the hotline twice about billing"},
        **htmx(),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="person-panel"' in html
    assert "Called the hotline twice about billing" in html and "kim" in html
    note = PersonNote.objects.get()
    assert note.person == jane and note.author == agent
    assert "kim · <time datetime=" in html


def test_an_empty_note_is_refused_with_a_reason(agent, mastodon):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    with pytest.raises(ActionRefused, match="empty"):
        persons.add_person_note(user=agent, person=jane, text="   ")


def test_tags_are_added_by_name_ignoring_case_and_created_when_new(client, agent, mastodon):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    billing = Tag.objects.create(name="Billing")
    client.force_login(agent)

    client.post(reverse("inbox:person_tag_add", args=[jane.pk]), {"name": "billing"}, **htmx())
    client.post(reverse("inbox:person_tag_add", args=[jane.pk]), {"name": " press  team "})
    assert set(jane.tags.values_list("name", flat=True)) == {"Billing", "press team"}
    assert Tag.objects.filter(name__iexact="billing").get() == billing

    client.post(reverse("inbox:person_tag_remove", args=[jane.pk]), {"name": "BILLING"})
    assert list(jane.tags.values_list("name", flat=True)) == ["press team"]
    assert Tag.objects.filter(pk=billing.pk).exists()  # other persons may still use it

    tags = persons.set_person_tags(user=agent, person=jane, names=["VIP list", "PRESS TEAM"])
    assert [t.name for t in tags] == ["press team", "VIP list"]
    assert set(jane.tags.values_list("name", flat=True)) == {"press team", "VIP list"}


def test_flags_set_vip_stance_and_block_with_a_clear_label(client, agent, mastodon):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    client.force_login(agent)

    response = client.post(
        reverse("inbox:person_flags", args=[jane.pk]),
        {"vip": "on", "blocked": "on", "stance": "critic"},
        **htmx(),
    )

    jane.refresh_from_db()
    assert (jane.vip, jane.blocked, jane.stance) == (True, True, "critic")
    html = response.content.decode()
    assert 'data-person-blocked="true"' in html
    assert "Blocked: their new conversations arrive as ignored." in html
    assert "Critic" in html

    client.post(reverse("inbox:person_flags", args=[jane.pk]), {"stance": ""})
    jane.refresh_from_db()
    assert (jane.vip, jane.blocked, jane.stance) == (False, False, "")


def test_an_unknown_stance_is_refused(client, agent, mastodon):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    with pytest.raises(ActionRefused):
        persons.set_person_flags(user=agent, person=jane, stance="troll")
    client.force_login(agent)
    response = client.post(reverse("inbox:person_flags", args=[jane.pk]), {"stance": "troll"})
    assert response.status_code == 422


# Assign all


def test_assign_all_takes_the_visible_open_conversations_and_records_and_publishes_it(
    agent,
    admin_user,
    mastodon,
    facebook,
    hidden_channel,
    live_events,
    django_capture_on_commit_callbacks,
):
    jane = make_person("Jane")
    new = add_conversation(mastodon, jane, status="new")
    pending = add_conversation(facebook, jane, status="pending")
    pending.assignee = admin_user
    pending.save()
    done = add_conversation(facebook, jane, status="resolved")
    elsewhere = add_conversation(hidden_channel, jane, status="open")

    with django_capture_on_commit_callbacks(execute=True):
        changed = persons.assign_person_conversations(user=agent, person=jane, assignee=agent)

    assert sorted(changed) == sorted([new.pk, pending.pk])
    for conversation in (new, pending, done, elsewhere):
        conversation.refresh_from_db()
    assert new.assignee == agent and pending.assignee == agent
    assert done.assignee is None and elsewhere.assignee is None
    events = {
        e.conversation_id: (e.data["before"]["assignee"], e.data["after"]["assignee"])
        for e in ConversationEvent.objects.filter(kind=EventKind.ASSIGNED)
    }
    assert events == {new.pk: (None, agent.pk), pending.pk: (admin_user.pk, agent.pk)}
    changed_live = {
        p["conversation_id"] for _, p in live_events if p["type"] == "conversation.changed"
    }
    assert changed_live == {new.pk, pending.pk}

    # Again: nothing left to do, nothing recorded twice.
    assert persons.assign_person_conversations(user=agent, person=jane, assignee=agent) == []
    assert ConversationEvent.objects.filter(kind=EventKind.ASSIGNED).count() == 2


def test_assign_all_from_the_panel_says_what_it_did(client, agent, mastodon, facebook):
    jane = make_person("Jane")
    add_conversation(mastodon, jane)
    add_conversation(facebook, jane, status="open")
    client.force_login(agent)

    response = client.post(reverse("inbox:person_assign_open", args=[jane.pk]), **htmx())

    html = response.content.decode()
    assert "Assigned 2 open conversations to you." in html
    assert "Assign all open conversations of this person to me" not in html


# Merge and undo


def _state(*people):
    """Everything a merge may change, to compare before and after an undo."""
    rows = {}
    for person in people:
        person.refresh_from_db()
        rows[person.pk] = {
            "contacts": sorted(Contact.objects.filter(person=person).values_list("pk", flat=True)),
            "notes": sorted(PersonNote.objects.filter(person=person).values_list("pk", flat=True)),
            "tags": sorted(person.tags.values_list("pk", flat=True)),
            "flags": (person.vip, person.banned, person.blocked, person.stance),
            "merged_into": person.merged_into_id,
        }
    return rows


def test_a_merge_moves_everything_and_its_undo_puts_back_exactly_that(agent, mastodon, facebook):
    kept = make_person("Jane Doe", stance="")
    merged = make_person("jane_d", vip=True, blocked=True, stance="critic")
    kept_conversation = add_conversation(mastodon, kept)
    merged_conversation = add_conversation(facebook, merged)
    extra_contact = make_contact(merged, Platform.EMAIL)
    shared, only_merged, only_kept = (Tag.objects.create(name=n) for n in ("a", "b", "c"))
    kept.tags.add(shared, only_kept)
    merged.tags.add(shared, only_merged)
    kept_note = PersonNote.objects.create(person=kept, author=agent, text="kept's")
    merged_note = PersonNote.objects.create(person=merged, author=agent, text="merged's")
    before = _state(kept, merged)

    merge = persons.merge_persons(user=agent, kept=kept, merged=merged)

    assert merge.contact_ids == sorted([merged_conversation.contact_id, extra_contact.pk])
    assert merge.note_ids == [merged_note.pk]
    assert merge.tag_ids == [only_merged.pk]
    assert merge.flags_before == {"vip": False, "blocked": False, "stance": ""}
    after = _state(kept, merged)
    assert after[kept.pk]["contacts"] == sorted(
        [kept_conversation.contact_id, merged_conversation.contact_id, extra_contact.pk]
    )
    assert after[kept.pk]["notes"] == sorted([kept_note.pk, merged_note.pk])
    assert after[kept.pk]["tags"] == sorted([shared.pk, only_merged.pk, only_kept.pk])
    assert after[kept.pk]["flags"] == (True, False, True, "critic")
    assert after[merged.pk]["merged_into"] == kept.pk
    # One case: both conversations are now the kept person's.
    assert set(persons.person_conversations(agent, kept)) == {
        kept_conversation,
        merged_conversation,
    }
    # A note written after the merge stays with the kept person on undo.
    later_note = PersonNote.objects.create(person=kept, author=agent, text="after the merge")

    persons.undo_merge(user=agent, merge=merge)

    restored = _state(kept, merged)
    assert restored[merged.pk] == before[merged.pk]
    assert restored[kept.pk] == {
        **before[kept.pk],
        "notes": sorted([kept_note.pk, later_note.pk]),
    }
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == agent


def test_merging_into_a_person_that_was_itself_merged_is_refused(agent, admin_user, mastodon):
    a, b, c = (make_person(n) for n in "ABC")
    for person in (a, b, c):
        add_conversation(mastodon, person)
    persons.merge_persons(user=agent, kept=b, merged=a)

    # a has no contacts left, so for an agent it is gone; an admin still sees its row.
    with pytest.raises((ActionRefused, AccessDenied)):
        persons.merge_persons(user=agent, kept=a, merged=c)
    a.refresh_from_db()
    with pytest.raises(ActionRefused, match="merged into another person"):
        persons.merge_persons(user=admin_user, kept=a, merged=c)
    with pytest.raises(ActionRefused, match="already merged"):
        persons.merge_persons(user=admin_user, kept=c, merged=a)
    with pytest.raises(ActionRefused, match="themselves"):
        persons.merge_persons(user=agent, kept=c, merged=c)
    assert PersonMerge.objects.count() == 1


def test_an_agent_cannot_merge_a_person_they_cannot_see(agent, mastodon, hidden_channel):
    mine = make_person("Mine")
    add_conversation(mastodon, mine)
    theirs = make_person("Theirs")
    add_conversation(hidden_channel, theirs)

    with pytest.raises(AccessDenied):
        persons.merge_persons(user=agent, kept=mine, merged=theirs)
    with pytest.raises(AccessDenied):
        persons.merge_persons(user=agent, kept=theirs, merged=mine)
    assert not PersonMerge.objects.exists()


def test_an_old_merge_cannot_be_undone_while_a_later_one_is_in_force(agent, mastodon):
    a, b, c = (make_person(n) for n in ("Anna", "Berta", "Carla"))
    for person in (a, b, c):
        add_conversation(mastodon, person)
    first = persons.merge_persons(user=agent, kept=b, merged=a)
    second = persons.merge_persons(user=agent, kept=c, merged=b)

    with pytest.raises(ActionRefused, match=r"later merge \(Berta into Carla\).*Undo that merge"):
        persons.undo_merge(user=agent, merge=first)

    persons.undo_merge(user=agent, merge=second)
    persons.undo_merge(user=agent, merge=first)
    assert Contact.objects.filter(person=a).count() == 1
    assert Contact.objects.filter(person=b).count() == 1
    assert Contact.objects.filter(person=c).count() == 1
    with pytest.raises(ActionRefused, match="already undone"):
        persons.undo_merge(user=agent, merge=first)


def test_an_agent_finds_a_merge_candidate_merges_and_undoes_from_the_pages(
    client, agent, mastodon, facebook, hidden_channel
):
    current = make_person("Jane from Mastodon")
    add_conversation(mastodon, current)
    target = make_person("J. Doe")
    make_contact(target, Platform.FACEBOOK, handle="jane.doe.fb")
    add_conversation(facebook, target)
    invisible = make_person("Jane Invisible")
    add_conversation(hidden_channel, invisible)
    client.force_login(agent)

    html = client.get(
        reverse("inbox:person_merge_candidates", args=[current.pk]), {"q": "jane"}, **htmx()
    ).content.decode()
    assert "J. Doe" in html and "@jane.doe.fb" in html  # found by handle
    assert "Jane Invisible" not in html
    assert f'name="into" value="{current.pk}"' not in html  # not itself
    assert "Merge into this person" in html and "hx-confirm=" in html

    response = client.post(
        reverse("inbox:person_merge", args=[current.pk]), {"into": target.pk}, **htmx()
    )
    merge = PersonMerge.objects.get()
    assert response["HX-Redirect"] == (
        reverse("inbox:person", args=[target.pk]) + f"?merge={merge.pk}"
    )
    page = client.get(response["HX-Redirect"]).content.decode()
    assert "Undo merge" in page
    assert reverse("inbox:person_merge_undo", args=[target.pk, merge.pk]) in page

    response = client.post(reverse("inbox:person_merge_undo", args=[target.pk, merge.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:person", args=[current.pk]) + (
        f"?undone={merge.pk}"
    )
    current.refresh_from_db()
    assert current.merged_into is None and current.contacts.count() == 1
    page = client.get(reverse("inbox:person", args=[target.pk])).content.decode()
    assert "Jane from Mastodon into J. Doe" in page and "undone by kim" in page


def test_a_refused_undo_shows_the_reason_on_the_page(client, agent, mastodon):
    a, b, c = (make_person(n) for n in ("Anna", "Berta", "Carla"))
    for person in (a, b, c):
        add_conversation(mastodon, person)
    first = persons.merge_persons(user=agent, kept=b, merged=a)
    persons.merge_persons(user=agent, kept=c, merged=b)
    client.force_login(agent)

    # Berta was merged into Carla, so for the agent only Carla's page is left.
    response = client.post(reverse("inbox:person_merge_undo", args=[b.pk, first.pk]))
    assert response.status_code == 404
    admin = factories.make_user("root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    response = client.post(reverse("inbox:person_merge_undo", args=[b.pk, first.pk]))
    assert response.status_code == 409
    assert "Undo that merge first" in response.content.decode()
    assert PersonMerge.objects.filter(undone_at__isnull=True).count() == 2


def test_a_merged_person_is_not_a_merge_candidate(client, agent, mastodon):
    a, b, c = (make_person(n) for n in ("Jane A", "Jane B", "Jane C"))
    for person in (a, b, c):
        add_conversation(mastodon, person)
    persons.merge_persons(user=agent, kept=b, merged=a)
    admin = factories.make_user("root", is_superuser=True, is_staff=True)
    client.force_login(admin)

    html = client.get(
        reverse("inbox:person_merge_candidates", args=[c.pk]), {"q": "Jane"}, **htmx()
    ).content.decode()

    assert "Jane B" in html and "Jane A" not in html


def test_person_is_not_changed_through_a_merged_row(mastodon, admin_user):
    a, b = make_person("A"), make_person("B")
    add_conversation(mastodon, a)
    add_conversation(mastodon, b)
    persons.merge_persons(user=admin_user, kept=b, merged=a)
    a.refresh_from_db()
    with pytest.raises(ActionRefused, match="merged into another one"):
        persons.add_person_note(user=admin_user, person=a, text="lost?")
    assert Person.objects.get(pk=a.pk).notes.count() == 0
