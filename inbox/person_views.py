"""The person: the context panel beside a conversation and the full person page.

Thin views over inbox.persons. Every view finds the person through visible_persons, so a person
the user may not see is a 404 on every URL. Writes from the panel (htmx) answer with the panel
re-rendered; writes from the page (plain forms) redirect back to the page, or show it again with
the reason when the action was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from channels_integrations.text import safe_http_url
from inbox import persons
from inbox.access import AccessDenied, ReadOnly, can_administer
from inbox.actions import ActionRefused
from inbox.models import OPEN_WORK, Contact, Conversation, Person, PersonMerge, Stance

# The panel is a 300px column: a handful of rows each, the page shows the rest.
PANEL_RECENT = 6
PANEL_OPEN = 20
PANEL_NOTES = 3
PAGE_CONVERSATIONS = 200
PAGE_NOTES = 100
PAGE_MERGES = 50
CANDIDATES = 10
MIN_QUERY = 2


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=persons.NOTE_MAX_LENGTH, strip=True
    )


class TagForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Tag"), max_length=200)


class FlagsForm(forms.Form):
    vip = forms.BooleanField(label=gettext_lazy("VIP"), required=False)
    blocked = forms.BooleanField(label=gettext_lazy("Blocked"), required=False)
    stance = forms.ChoiceField(label=gettext_lazy("Stance"), choices=Stance.choices, required=False)


class MergeForm(forms.Form):
    into = forms.IntegerField(label=gettext_lazy("Merge into"), min_value=1)


@dataclass(frozen=True)
class Identity:
    """A contact as the panel shows it; the profile link only if it is a plain http(s) URL."""

    contact: Contact
    profile_url: str


def _persons(request: HttpRequest) -> QuerySet[Person]:
    return persons.visible_persons(request.user).prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.order_by("platform", "pk")), "tags"
    )


def _person(request: HttpRequest, pk: int) -> Person:
    person: Person = get_object_or_404(_persons(request), pk=pk)
    return person


def _conversation_id(request: HttpRequest) -> int | None:
    """The conversation the panel sits beside (only used to leave it out of "also waiting")."""
    value = request.POST.get("conversation") or request.GET.get("conversation") or ""
    return int(value) if value.isdigit() else None


def _errors(form: forms.Form) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


def _common_context(request: HttpRequest, person: Person) -> dict[str, Any]:
    identities = [
        Identity(contact, safe_http_url(contact.profile_url)) for contact in person.contacts.all()
    ]
    return {
        "person": person,
        "identities": identities,
        "tags": list(person.tags.all()),
        "flags_form": FlagsForm(
            initial={"vip": person.vip, "blocked": person.blocked, "stance": person.stance}
        ),
        "stance_choices": Stance.choices,
        "can_handle_privacy": can_administer(request.user),
    }


def _waiting(
    request: HttpRequest, open_rows: list[Conversation], current: int | None
) -> dict[str, Any]:
    """The open conversations of the person other than the one on screen: one case, not three."""
    others = [c for c in open_rows if c.pk != current]
    platforms: list[str] = []
    for conversation in others:
        label = conversation.channel_account.get_platform_display()
        if label not in platforms:
            platforms.append(label)
    return {
        "open_conversations": open_rows,
        "waiting_elsewhere": others,
        "waiting_platforms": platforms,
        "can_assign_all": any(c.assignee_id != request.user.pk for c in open_rows),
    }


def panel_context(
    request: HttpRequest,
    person: Person,
    *,
    current: int | None,
    error: str = "",
    notice: str = "",
) -> dict[str, Any]:
    """Everything the compact panel shows, in a bounded number of queries."""
    conversations = persons.person_conversations(request.user, person)
    open_rows = list(conversations.filter(status__in=OPEN_WORK)[:PANEL_OPEN])
    notes = list(person.notes.select_related("author")[: PANEL_NOTES + 1])
    return {
        **_common_context(request, person),
        **_waiting(request, open_rows, current),
        "recent_conversations": list(conversations[:PANEL_RECENT]),
        "notes": notes[:PANEL_NOTES],
        "more_notes": len(notes) > PANEL_NOTES,
        "current_conversation": current,
        "note_form": NoteForm(),
        "panel": True,
        "error": error,
        "notice": notice,
    }


def _page_context(
    request: HttpRequest, person: Person, *, error: str = "", notice: str = ""
) -> dict[str, Any]:
    conversations = persons.person_conversations(request.user, person)
    all_rows = list(conversations[:PAGE_CONVERSATIONS])
    open_rows = [c for c in all_rows if c.status in OPEN_WORK]
    merges = list(
        PersonMerge.objects.filter(Q(kept=person) | Q(merged=person)).select_related(
            "kept", "merged", "actor", "undone_by"
        )[:PAGE_MERGES]
    )
    just_merged = _int(request.GET.get("merge"))
    query = request.GET.get("q", "").strip()
    return {
        **_common_context(request, person),
        **_waiting(request, open_rows, None),
        "conversations": all_rows,
        "notes": list(person.notes.select_related("author")[:PAGE_NOTES]),
        "merges": merges,
        "just_merged": next(
            (m for m in merges if m.pk == just_merged and m.kept_id == person.pk), None
        ),
        "just_undone": _int(request.GET.get("undone")),
        "merged_into": person.merged_into,
        "note_form": NoteForm(),
        "query": query,
        "candidates": _candidates(request, person, query) if query else None,
        "panel": False,
        "error": error,
        "notice": notice,
    }


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _candidates(request: HttpRequest, person: Person, query: str) -> list[Person]:
    """Persons the user may see whose name, or a contact's handle or name, contains `query`."""
    if len(query) < MIN_QUERY:
        return []
    matches = (
        persons.visible_persons(request.user)
        .filter(merged_into__isnull=True)
        .exclude(pk=person.pk)
        .filter(
            Q(display_name__icontains=query)
            | Q(contacts__handle__icontains=query)
            | Q(contacts__display_name__icontains=query)
        )
        .distinct()
        .order_by("display_name", "pk")
        .prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by("platform", "pk")))
    )
    return list(matches[:CANDIDATES])


def _render_panel(
    request: HttpRequest, pk: int, *, error: str = "", notice: str = ""
) -> HttpResponse:
    person = _person(request, pk)
    context = panel_context(
        request, person, current=_conversation_id(request), error=error, notice=notice
    )
    return render(request, "inbox/person/_panel.html", context)


def _render_page(
    request: HttpRequest, pk: int, *, error: str = "", notice: str = "", status: int = 200
) -> HttpResponse:
    person = _person(request, pk)
    context = _page_context(request, person, error=error, notice=notice)
    return render(request, "inbox/person/person_detail.html", context, status=status)


def _after_write(
    request: HttpRequest, pk: int, *, error: str = "", notice: str = "", status: int = 409
) -> HttpResponse:
    """The panel again (htmx), or back to the page; a refusal is shown where it happened."""
    if request.htmx:  # type: ignore[attr-defined]
        # 200 even for a refusal: the panel swaps in with the reason shown in place.
        return _render_panel(request, pk, error=error, notice=notice)
    if error:
        return _render_page(request, pk, error=error, status=status)
    return redirect("inbox:person", pk=pk)


def _person_url(pk: int, **params: int) -> str:
    url = reverse("inbox:person", kwargs={"pk": pk})
    return f"{url}?{urlencode(params)}" if params else url


def _go(request: HttpRequest, url: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(url)
    return redirect(url)


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_page(request, pk)


@login_required
@require_GET
def person_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The compact panel beside a conversation (`?conversation=<id>`), loaded by htmx."""
    return _render_panel(request, pk)


@login_required
@require_POST
def add_note(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_write(
        request,
        pk,
        NoteForm,
        lambda person, data: persons.add_person_note(
            user=request.user, person=person, text=data["text"]
        ),
    )


@login_required
@require_POST
def add_tag(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_write(
        request,
        pk,
        TagForm,
        lambda person, data: persons.add_person_tag(
            user=request.user, person=person, name=data["name"]
        ),
    )


@login_required
@require_POST
def remove_tag(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_write(
        request,
        pk,
        TagForm,
        lambda person, data: persons.remove_person_tag(
            user=request.user, person=person, name=data["name"]
        ),
    )


@login_required
@require_POST
def set_flags(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_write(
        request,
        pk,
        FlagsForm,
        lambda person, data: persons.set_person_flags(
            user=request.user,
            person=person,
            vip=data["vip"],
            blocked=data["blocked"],
            stance=data["stance"],
        ),
    )


def _form_write(
    request: HttpRequest,
    pk: int,
    form_class: type[forms.Form],
    act: Callable[[Person, dict[str, Any]], object],
) -> HttpResponse:
    """Validate the posted form, run the action on the (visible) person, answer with the panel
    or page again, showing a refusal or a form error in place."""
    person = _person(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return _after_write(request, pk, error=_errors(form), status=422)
    try:
        act(person, form.cleaned_data)
    except ActionRefused as exc:
        return _after_write(request, pk, error=str(exc))
    except ReadOnly as exc:
        return _after_write(request, pk, error=str(exc), status=403)
    return _after_write(request, pk)


@login_required
@require_POST
def assign_open_to_me(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Assign all open conversations of this person to me"."""
    person = _person(request, pk)
    assert isinstance(request.user, AbstractBaseUser)  # login_required
    try:
        changed = persons.assign_person_conversations(
            user=request.user, person=person, assignee=request.user
        )
    except ActionRefused as exc:
        return _after_write(request, pk, error=str(exc))
    except ReadOnly as exc:
        return _after_write(request, pk, error=str(exc), status=403)
    if not changed:
        notice = _("Nothing to assign: their open conversations are already yours.")
    else:
        notice = ngettext(
            "Assigned %(count)d open conversation to you.",
            "Assigned %(count)d open conversations to you.",
            len(changed),
        ) % {"count": len(changed)}
    if request.htmx:  # type: ignore[attr-defined]
        return _render_panel(request, pk, notice=notice)
    return redirect("inbox:person", pk=pk)


@login_required
@require_GET
def merge_candidates(request: HttpRequest, pk: int) -> HttpResponse:
    """Persons to merge this one into, by name or handle (`?q=`), as a list fragment."""
    person = _person(request, pk)
    query = request.GET.get("q", "").strip()
    return render(
        request,
        "inbox/person/_merge_candidates.html",
        {
            "person": person,
            "query": query,
            "candidates": _candidates(request, person, query),
            "min_query": MIN_QUERY,
        },
    )


@login_required
@require_POST
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this person into the one chosen (`into`); then show the kept person, with Undo."""
    merged = _person(request, pk)
    form = MergeForm(request.POST)
    if not form.is_valid():
        return _merge_refused(request, merged, _errors(form), status=422)
    kept = _person(request, form.cleaned_data["into"])
    try:
        done = persons.merge_persons(user=request.user, kept=kept, merged=merged)
    except ActionRefused as exc:
        return _merge_refused(request, merged, str(exc))
    except ReadOnly as exc:
        return _merge_refused(request, merged, str(exc), status=403)
    return _go(request, _person_url(kept.pk, merge=done.pk))


def _merge_refused(
    request: HttpRequest, person: Person, error: str, status: int = 409
) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        # Shown in place of the candidate list the button was in.
        return render(
            request,
            "inbox/person/_merge_candidates.html",
            {"person": person, "candidates": [], "error": error, "min_query": MIN_QUERY},
        )
    return _render_page(request, person.pk, error=error, status=status)


@login_required
@require_POST
def undo_merge(request: HttpRequest, pk: int, merge_pk: int) -> HttpResponse:
    """Undo one merge of this person; then show the person that stands on its own again."""
    person = _person(request, pk)
    record = get_object_or_404(
        PersonMerge.objects.filter(Q(kept=person) | Q(merged=person)), pk=merge_pk
    )
    try:
        persons.undo_merge(user=request.user, merge=record)
    except ActionRefused as exc:
        return _render_page(request, pk, error=str(exc), status=409)
    except ReadOnly as exc:
        return _render_page(request, pk, error=str(exc), status=403)
    except AccessDenied:
        return HttpResponse(status=404)
    return _go(request, _person_url(record.merged_id, undone=record.pk))
