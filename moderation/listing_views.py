"""Bans and allow-lists (/moderation/people/), the person page's moderation panel, and the
evidence export for legal requests (/moderation/evidence/, admins only).

Thin: moderation.actions writes, moderation.evidence reads and renders the export.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox.access import (
    AccessDenied,
    ReadOnly,
    can_administer,
    is_lead,
    visible_channel_ids,
)
from inbox.actions import ActionRefused
from inbox.models import Message, Person
from inbox.persons import visible_persons
from moderation import actions, evidence
from moderation.models import ListKind, ModerationDecision, PersonListing

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 20
HISTORY_LIMIT = 50


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "moderation/queue/_error.html", {"error": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain")


def _listings(user: Any) -> QuerySet[PersonListing]:
    """Listings in force of the persons the user may see."""
    return (
        actions.active_listings()
        .filter(person__in=visible_persons(user))
        .select_related("person", "created_by")
        .order_by("-created_at", "-id")
    )


@login_required
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    """Active bans and allow-list entries, with lift buttons and a form to add a person."""
    listings = list(_listings(request.user))
    return render(
        request,
        "moderation/listings/people.html",
        {
            "bans": [listing for listing in listings if listing.kind == ListKind.BAN],
            "allows": [listing for listing in listings if listing.kind == ListKind.ALLOW],
            # Leads and admins see the controls; the actions check each person again.
            "may_list": is_lead(request.user),
            "person_id": request.GET.get("person", ""),
        },
    )


@login_required
@require_GET
def person_search(request: HttpRequest) -> HttpResponse:
    """Persons the user may see whose name or handle contains the query (at most 20)."""
    query = request.GET.get("q", "").strip()[:100]
    found: list[Person] = []
    if len(query) >= 2:
        found = list(
            visible_persons(request.user)
            .filter(
                Q(display_name__icontains=query)
                | Q(contacts__handle__icontains=query)
                | Q(contacts__display_name__icontains=query)
            )
            .filter(merged_into__isnull=True)
            .distinct()
            .order_by("display_name", "id")[:SEARCH_LIMIT]
        )
    return render(
        request, "moderation/listings/_person_results.html", {"persons": found, "query": query}
    )


def _person(request: HttpRequest, pk: int) -> Person:
    person: Person = get_object_or_404(visible_persons(request.user), pk=pk)
    return person


def _panel(request: HttpRequest, person: Person, *, error: str = "", status: int = 200) -> Any:
    listings = {
        listing.kind: listing
        for listing in actions.active_listings().filter(person=person).select_related("created_by")
    }
    decisions = ModerationDecision.objects.filter(
        Q(person_id_at=person.pk) | Q(person_id=person.pk)
    )
    visible = visible_channel_ids(request.user)  # None: every channel (admins)
    if visible is not None:
        # The person may also write on channels this user does not see: not those items.
        decisions = decisions.filter(channel_account_id__in=visible)
    history = decisions.order_by("-created_at", "-id")[:HISTORY_LIMIT]
    return render(
        request,
        "moderation/listings/_person_panel.html",
        {
            "person": person,
            "ban": listings.get(ListKind.BAN),
            "allow": listings.get(ListKind.ALLOW),
            "history": list(history),
            "may_list": actions.may_list_person(request.user, person),
            "error": error,
        },
        status=status,
    )


@login_required
@require_GET
def person_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The person page's moderation panel: ban and allow-list state, controls, history."""
    return _panel(request, _person(request, pk))


class ListingForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=2000)
    expires_in_days = forms.IntegerField(
        label=gettext_lazy("Expires after (days)"), required=False, min_value=1, max_value=3650
    )


def _listing_write(request: HttpRequest, pk: int, act: str) -> HttpResponse:
    person = _person(request, pk)
    form = ListingForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return _after(request, person, error=errors, status=422)
    reason = form.cleaned_data.get("reason") or ""
    days = form.cleaned_data.get("expires_in_days")
    try:
        if act == "ban":
            expires = timezone.now() + timedelta(days=days) if days else None
            actions.ban_person(user=request.user, person=person, reason=reason, expires_at=expires)
        elif act == "lift_ban":
            actions.lift_ban(user=request.user, person=person, reason=reason)
        elif act == "allow":
            actions.allow_person(user=request.user, person=person, reason=reason)
        else:
            actions.lift_allow(user=request.user, person=person, reason=reason)
    except ReadOnly as exc:
        return _after(request, person, error=str(exc), status=403)
    except AccessDenied:
        return HttpResponse(status=404)
    except ActionRefused as exc:
        return _after(request, person, error=str(exc), status=409)
    person.refresh_from_db()
    return _after(request, person)


def _after(request: HttpRequest, person: Person, *, error: str = "", status: int = 200) -> Any:
    if request.htmx:  # type: ignore[attr-defined]
        return _panel(request, person, error=error, status=status)
    if error:
        return HttpResponse(error, status=status, content_type="text/plain")
    return redirect("moderation:people")


@login_required
@require_POST
def ban(request: HttpRequest, pk: int) -> HttpResponse:
    return _listing_write(request, pk, "ban")


@login_required
@require_POST
def lift_ban(request: HttpRequest, pk: int) -> HttpResponse:
    return _listing_write(request, pk, "lift_ban")


@login_required
@require_POST
def allow(request: HttpRequest, pk: int) -> HttpResponse:
    return _listing_write(request, pk, "allow")


@login_required
@require_POST
def lift_allow(request: HttpRequest, pk: int) -> HttpResponse:
    return _listing_write(request, pk, "lift_allow")


# --- evidence export --------------------------------------------------------------------------


class EvidenceForm(forms.Form):
    item = forms.CharField(
        required=False,
        max_length=1000,
        label=gettext_lazy("Item"),
        help_text=gettext_lazy("A message id, the item's id on the platform, or its permalink."),
    )
    person = forms.IntegerField(required=False, min_value=1, label=gettext_lazy("Person id"))
    since = forms.DateField(required=False, label=gettext_lazy("From (day)"))
    until = forms.DateField(required=False, label=gettext_lazy("Until (day, inclusive)"))
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[("csv", "CSV"), ("json", "JSON")], initial="json"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("item") or data.get("person") or data.get("since") or data.get("until")):
            raise forms.ValidationError(_("Choose an item, a person or a period."))
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data

    def filters(self) -> dict[str, Any]:
        """evidence_rows keyword arguments for what was asked."""
        data = self.cleaned_data
        found: dict[str, Any] = {}
        item = (data.get("item") or "").strip()
        if item.isdigit() and Message.objects.filter(pk=int(item)).exists():
            found["message_id"] = int(item)
        elif item.startswith(("http://", "https://")):
            found["permalink"] = item
        elif item:
            found["external_id"] = item
        if data.get("person"):
            found["person_id"] = data["person"]
        zone = timezone.get_current_timezone()
        if data.get("since"):
            found["since"] = datetime.combine(data["since"], time.min, tzinfo=zone)
        if data.get("until"):
            found["until"] = datetime.combine(data["until"] + timedelta(days=1), time.min, zone)
        return found


@login_required
@require_http_methods(["GET"])
def evidence_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The export form; with a valid query, the file. Admins only (404 for everyone else, as
    the page does not exist for them). Every export is written to the audit log."""
    if not can_administer(request.user):
        return HttpResponse(status=404)
    form = EvidenceForm(request.GET) if request.GET else EvidenceForm()
    if not request.GET or not form.is_valid():
        return render(request, "moderation/evidence/export.html", {"form": form})
    filters = form.filters()
    rows = evidence.evidence_rows(**filters)
    fmt = form.cleaned_data["format"]
    now = timezone.now()
    _log_export(request, filters=filters, fmt=fmt, count=rows.count())
    stamp = now.strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        stream = StreamingHttpResponse(
            evidence.evidence_csv_lines(rows), content_type="text/csv; charset=utf-8"
        )
        stream["Content-Disposition"] = f'attachment; filename="evidence-{stamp}.csv"'
        return stream
    shown = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in filters.items()}
    response = HttpResponse(
        evidence.evidence_json(rows, filters=shown, now=now),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="evidence-{stamp}.json"'
    return response


def _log_export(request: HttpRequest, *, filters: dict[str, Any], fmt: str, count: int) -> None:
    from inbox.audit import AuditAction, record

    after = {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in filters.items()
    }
    after.update({"format": fmt, "decisions": count})
    # The audit log records admin changes; an export changes nothing but hands evidence out,
    # so it is kept there too, as an "evidence export" entry created by the admin.
    record(
        actor=request.user,
        action=AuditAction.CREATED,
        instance_or_type="evidence_export",
        before={},
        after=after,
        object_repr=f"Evidence export ({fmt}, {count} decisions)",
    )
    logger.info("evidence export by user %s: %s", request.user.pk, after)
