"""The person behind the contacts: notes, tags, flags, merges, and "handle them as one case".

Every write about a person goes through here. Each action checks that the user may see the
person (`visible_persons`, built on Conversation.objects.visible_to), writes in a transaction
with the person's row locked, and, where conversations change, records their timeline events
and publishes live updates after commit. A merge is recorded in its PersonMerge row (persons
have no timeline), which holds exactly what moved so that an undo puts back exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.access import AccessDenied, AnyUser, ReadOnly, visible_channel_ids
from inbox.actions import ActionRefused
from inbox.models import (
    OPEN_WORK,
    Contact,
    Conversation,
    Person,
    PersonMerge,
    PersonNote,
    Stance,
    Tag,
)

# The statuses that still need someone: "Also waiting on …" and "assign all open" use these.
NOTE_MAX_LENGTH = 5000
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length or 60
# The flags a merge carries over to the kept person (when the kept one lacks them).
MERGED_FLAGS = ("vip", "banned", "blocked")


def visible_persons(user: AnyUser) -> QuerySet[Person]:
    """Persons the user may see: admins all; others those with at least one conversation (of
    any of their contacts) that Conversation.objects.visible_to(user) lets them see."""
    if not user.is_authenticated:
        return Person.objects.none()
    if visible_channel_ids(user) is None:
        return Person.objects.all()
    conversations = Conversation.objects.visible_to(user).filter(contact__person=OuterRef("pk"))
    return Person.objects.filter(Exists(conversations))


def person_conversations(user: AnyUser, person: Person) -> QuerySet[Conversation]:
    """The person's conversations on every channel the user may see, newest first."""
    return (
        Conversation.objects.visible_to(user)
        .filter(contact__person=person)
        .select_related("channel_account", "contact", "assignee")
        .order_by("-last_message_at", "-id")
    )


def check_can_see_person(user: AnyUser, person: Person) -> None:
    """AccessDenied unless the user may see this person (views answer 404)."""
    if not visible_persons(user).filter(pk=person.pk).exists():
        raise AccessDenied(_("not allowed to see this person"))


def check_can_change_person(user: AnyUser, person: Person) -> None:
    """AccessDenied unless the user may change this person (notes, tags, flags, merges): they
    must be able to act on (not only read) one of the person's conversations."""
    check_can_see_person(user, person)
    if visible_channel_ids(user) is None:
        return
    if not Conversation.objects.workable_by(user).filter(contact__person=person).exists():
        raise ReadOnly(_("You can read this person but not change them."))


def _locked(person: Person) -> Person:
    return Person.objects.select_for_update().get(pk=person.pk)


def add_person_note(*, user: AnyUser, person: Person, text: str) -> PersonNote:
    """Add a note about the person, authored by `user`.

    Refused when empty or longer than NOTE_MAX_LENGTH. The person row is locked so a note is
    never attached to a person that a concurrent merge is moving notes away from.
    """
    check_can_change_person(user, person)
    text = text.strip()
    if not text:
        raise ActionRefused(_("The note is empty."))
    if len(text) > NOTE_MAX_LENGTH:
        raise ActionRefused(
            _("The note is %(length)d characters long; at most %(max)d are allowed.")
            % {"length": len(text), "max": NOTE_MAX_LENGTH}
        )
    with transaction.atomic():
        locked = _locked(person)
        _refuse_if_merged(locked)
        return PersonNote.objects.create(person=locked, author_id=user.pk, text=text)


def set_person_flags(
    *,
    user: AnyUser,
    person: Person,
    vip: bool | None = None,
    blocked: bool | None = None,
    stance: str | None = None,
) -> Person:
    """Set the given flags (None leaves a flag as it is) and return the updated person.

    `blocked`: their new conversations arrive as ignored (ingest reads Person.blocked); it does
    not touch conversations that already exist. Refused for an unknown stance.
    """
    check_can_change_person(user, person)
    if stance is not None and stance not in Stance.values:
        raise ActionRefused(_("Unknown stance."))
    with transaction.atomic():
        locked = _locked(person)
        _refuse_if_merged(locked)
        changed: list[str] = []
        for name, value in (("vip", vip), ("blocked", blocked), ("stance", stance)):
            if value is not None and getattr(locked, name) != value:
                setattr(locked, name, value)
                changed.append(name)
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
    return locked


def normalize_tag_name(name: str) -> str:
    """The stored form of a tag name: inner whitespace collapsed; refused if empty or too long."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ActionRefused(_("The tag name is empty."))
    if len(cleaned) > TAG_MAX_LENGTH:
        raise ActionRefused(
            _("A tag name has at most %(max)d characters.") % {"max": TAG_MAX_LENGTH}
        )
    return cleaned


def _tag_named(name: str) -> Tag | None:
    # Lower() on both sides: the same function as the unique index, so "Billing" finds "billing"
    # exactly when the database would call them duplicates.
    return Tag.objects.alias(lname=Lower("name")).filter(lname=Lower(Value(name))).first()


def tag_for_name(name: str) -> Tag:
    """The tag with this name ignoring case, created if there is none yet (race-safe)."""
    cleaned = normalize_tag_name(name)
    tag = _tag_named(cleaned)
    if tag is not None:
        return tag
    try:
        with transaction.atomic():
            return Tag.objects.create(name=cleaned)
    except IntegrityError:
        # Someone created it a moment ago: the unique index on lower(name) refused ours.
        tag = _tag_named(cleaned)
        if tag is None:
            raise
        return tag


def add_person_tag(*, user: AnyUser, person: Person, name: str) -> Tag:
    """Tag the person; the tag is found by name ignoring case, or created. Idempotent."""
    check_can_change_person(user, person)
    with transaction.atomic():
        locked = _locked(person)
        _refuse_if_merged(locked)
        tag = tag_for_name(name)
        locked.tags.add(tag)
        locked.save(update_fields=["updated_at"])
    return tag


def remove_person_tag(*, user: AnyUser, person: Person, name: str) -> bool:
    """Remove the tag of that name (ignoring case) from the person; False if they did not have it.

    The tag itself stays: other persons and conversations may use it.
    """
    check_can_change_person(user, person)
    with transaction.atomic():
        locked = _locked(person)
        _refuse_if_merged(locked)
        tag = _tag_named(" ".join(name.split()))
        if tag is None or not locked.tags.filter(pk=tag.pk).exists():
            return False
        locked.tags.remove(tag)
        locked.save(update_fields=["updated_at"])
    return True


def set_person_tags(*, user: AnyUser, person: Person, names: Iterable[str]) -> list[Tag]:
    """Make the person's tags exactly these names (matched ignoring case, new ones created)."""
    check_can_change_person(user, person)
    with transaction.atomic():
        locked = _locked(person)
        _refuse_if_merged(locked)
        tags = {tag.pk: tag for tag in (tag_for_name(name) for name in names)}
        locked.tags.set(list(tags.values()))
        locked.save(update_fields=["updated_at"])
    return sorted(tags.values(), key=lambda tag: tag.name.lower())


def _refuse_if_merged(person: Person) -> None:
    if person.merged_into_id is not None:
        raise ActionRefused(
            _("This person was merged into another one; change the merged person instead.")
        )


def merge_persons(*, user: AnyUser, kept: Person, merged: Person) -> PersonMerge:
    """Merge `merged` into `kept`: its contacts (and so their conversations) and notes move to
    `kept`, `kept` gains its tags and flags, and `merged` keeps its row with merged_into set.

    Both rows are locked (in id order, so two opposite merges cannot deadlock) and checked
    again under the lock. The PersonMerge row records exactly what moved or changed, which is
    what undo_merge puts back. Refused when both are the same person, when either was itself
    merged, or (AccessDenied) when the user may not see both.
    """
    if kept.pk == merged.pk:
        raise ActionRefused(_("A person cannot be merged with themselves."))
    check_can_change_person(user, kept)
    check_can_change_person(user, merged)
    with transaction.atomic():
        rows = {
            person.pk: person
            for person in Person.objects.select_for_update()
            .filter(pk__in=[kept.pk, merged.pk])
            .order_by("pk")
        }
        kept, merged = rows[kept.pk], rows[merged.pk]
        if kept.merged_into_id is not None:
            raise ActionRefused(
                _("%(name)s was merged into another person; merge into that one instead.")
                % {"name": kept.display_name}
            )
        if merged.merged_into_id is not None:
            raise ActionRefused(
                _("%(name)s was already merged into another person.")
                % {"name": merged.display_name}
            )

        contact_ids = sorted(Contact.objects.filter(person=merged).values_list("pk", flat=True))
        Contact.objects.filter(pk__in=contact_ids).update(person=kept)
        note_ids = sorted(PersonNote.objects.filter(person=merged).values_list("pk", flat=True))
        PersonNote.objects.filter(pk__in=note_ids).update(person=kept)
        kept_tag_ids = set(kept.tags.values_list("pk", flat=True))
        tag_ids = sorted(set(merged.tags.values_list("pk", flat=True)) - kept_tag_ids)
        kept.tags.add(*tag_ids)

        flags_before: dict[str, object] = {}
        for name in MERGED_FLAGS:
            if getattr(merged, name) and not getattr(kept, name):
                flags_before[name] = False
                setattr(kept, name, True)
        if merged.stance and not kept.stance:
            flags_before["stance"] = kept.stance
            kept.stance = merged.stance
        kept.save(update_fields=[*flags_before, "updated_at"])
        merged.merged_into = kept
        merged.save(update_fields=["merged_into", "updated_at"])

        return PersonMerge.objects.create(
            kept=kept,
            merged=merged,
            contact_ids=contact_ids,
            note_ids=note_ids,
            tag_ids=tag_ids,
            flags_before=flags_before,
            actor_id=user.pk,
        )


def blocking_merge(merge: PersonMerge) -> PersonMerge | None:
    """A later merge, still in force, that involves either person of `merge` (None if none):
    undoing `merge` first would pull its contacts or tags from under that one."""
    persons = [merge.kept_id, merge.merged_id]
    return (
        PersonMerge.objects.filter(pk__gt=merge.pk, undone_at__isnull=True)
        .filter(Q(kept_id__in=persons) | Q(merged_id__in=persons))
        .select_related("kept", "merged")
        .order_by("-pk")
        .first()
    )


def undo_merge(*, user: AnyUser, merge: PersonMerge) -> PersonMerge:
    """Undo a merge exactly: the recorded contacts and notes go back to the merged person, the
    tags the kept person gained are removed, the flags it gained are set back to what they were
    before, and the merged person stands on its own again (merged_into cleared).

    Locks the merge row and both persons. Refused when the merge was already undone, or while
    a later merge involving either person is still in force (undo that one first). The user
    must see (unless an admin) a conversation of the moved contacts, and the kept person.
    """
    with transaction.atomic():
        merge = PersonMerge.objects.select_for_update().get(pk=merge.pk)
        rows = {
            person.pk: person
            for person in Person.objects.select_for_update()
            .filter(pk__in=[merge.kept_id, merge.merged_id])
            .order_by("pk")
        }
        kept, merged = rows[merge.kept_id], rows[merge.merged_id]
        # The moved contacts are what the user merged (wherever a later merge took them since):
        # whoever may not see them may not learn more about this merge either.
        if visible_channel_ids(user) is not None and not (
            Conversation.objects.visible_to(user).filter(contact_id__in=merge.contact_ids).exists()
        ):
            raise AccessDenied(_("not allowed to see the merged person"))
        if merge.undone_at is not None:
            raise ActionRefused(_("This merge was already undone."))
        later = blocking_merge(merge)
        if later is not None:
            raise ActionRefused(
                _(
                    "This merge cannot be undone while a later merge (%(merged)s into "
                    "%(kept)s) is in force. Undo that merge first."
                )
                % {"merged": later.merged.display_name, "kept": later.kept.display_name}
            )
        # With no later merge in force, the kept person stands on its own contacts again.
        check_can_change_person(user, kept)

        Contact.objects.filter(pk__in=merge.contact_ids, person=kept).update(person=merged)
        PersonNote.objects.filter(pk__in=merge.note_ids, person=kept).update(person=merged)
        kept.tags.remove(*merge.tag_ids)
        fields = []
        for name, before in merge.flags_before.items():
            if name in (*MERGED_FLAGS, "stance"):
                setattr(kept, name, before)
                fields.append(name)
        kept.save(update_fields=[*fields, "updated_at"])
        merged.merged_into = None
        merged.save(update_fields=["merged_into", "updated_at"])

        merge.undone_at = timezone.now()
        merge.undone_by_id = user.pk
        merge.save(update_fields=["undone_at", "undone_by"])
    return merge


def assign_person_conversations(
    *, user: AnyUser, person: Person, assignee: AbstractBaseUser
) -> list[int]:
    """Assign every open (new, open, pending) conversation of the person that `user` may see
    to `assignee`; returns the ids of the conversations that changed.

    Only conversations the assignee may see too are assigned (nobody gets work they cannot
    open). The rows are locked and re-checked, so a conversation resolved a moment ago stays
    resolved; each change records an ASSIGNED event ({"before", "after", "via": "person"}) and
    the changed rows go out live after commit.
    """
    check_can_change_person(user, person)
    if not assignee.is_active:
        raise ActionRefused(_("This colleague's account is not active."))
    candidates = person_conversations(user, person).filter(status__in=OPEN_WORK)
    if assignee.pk != user.pk:
        candidates = candidates.filter(pk__in=Conversation.objects.visible_to(assignee))
    # The one assignment path (locks, re-checks, timeline, notification, live counts).
    from inbox.conversation_actions import assign_conversations

    with transaction.atomic():
        ids = list(
            candidates.filter(status__in=OPEN_WORK)
            .exclude(assignee_id=assignee.pk)
            .values_list("pk", flat=True)
        )
        changed = assign_conversations(
            user=user, conversation_ids=ids, assignee=assignee, open_only=True
        )
    return sorted(conversation.pk for conversation in changed)
