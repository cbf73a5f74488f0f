"""Incident pages: the list, one incident (timeline, metrics, chart, controls), declaring one,
and the escalation levels (admins). Thin views over moderation.incidents.

Answers: 404 for an incident the user may not see, 403 for a control they may not use (an
observer's storm-mode toggle), 422 for a refused action (a resolved incident, an empty note).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from channels_integrations.models import ChannelAccount
from inbox.access import AccessDenied, is_admin, led_department_ids
from moderation import incidents as actions
from moderation.incident_forms import (
    DeclareIncidentForm,
    EscalationLevelFormSet,
    LeadForm,
    LevelChoiceForm,
    NoteForm,
    ResolveForm,
)
from moderation.models import EscalationLevel, Incident, IncidentStatus, TrafficBucket

RECENT_RESOLVED = 30


def _visible(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(
        actions.visible_incidents(request.user).select_related("channel_account", "lead"), pk=pk
    )


def _declarable_channels(request: HttpRequest) -> Any:
    user = request.user
    if is_admin(user) or actions.is_responsible(user):
        return ChannelAccount.objects.order_by("name")
    return (
        ChannelAccount.objects.filter(departments__id__in=led_department_ids(user))
        .distinct()
        .order_by("name")
    )


def _may_declare_anywhere(request: HttpRequest) -> bool:
    return (
        is_admin(request.user)
        or actions.is_responsible(request.user)
        or bool(led_department_ids(request.user))
    )


@login_required
@require_http_methods(["GET"])
def incident_list(request: HttpRequest) -> HttpResponse:
    """Open incidents (highest level first), then the recently resolved ones."""
    visible = actions.visible_incidents(request.user).select_related("channel_account", "lead")
    open_incidents = list(
        visible.filter(status=IncidentStatus.OPEN).order_by("-level", "-opened_at")
    )
    resolved = list(
        visible.filter(status=IncidentStatus.RESOLVED).order_by("-resolved_at")[:RECENT_RESOLVED]
    )
    levels = list(EscalationLevel.objects.order_by("number"))
    names = {lvl.number: lvl.name for lvl in levels}
    for incident in (*open_incidents, *resolved):
        incident.level_label = names.get(incident.level, "")  # type: ignore[attr-defined]
    form = None
    if _may_declare_anywhere(request) and levels:
        form = DeclareIncidentForm(channels=_declarable_channels(request), levels=levels)
    return render(
        request,
        "moderation/incidents/list.html",
        {
            "open_list": open_incidents,
            "resolved": resolved,
            "declare_form": form,
            "may_configure": is_admin(request.user),
        },
    )


@login_required
@require_POST
def declare(request: HttpRequest) -> HttpResponse:
    levels = list(EscalationLevel.objects.order_by("number"))
    form = DeclareIncidentForm(request.POST, channels=_declarable_channels(request), levels=levels)
    if not form.is_valid():
        if not _may_declare_anywhere(request):
            return _refusal(_("You may not declare incidents."), 403)
        return _refusal(_("Choose a channel, a level and a title."), 422)
    try:
        incident = actions.declare_incident(
            user=request.user,
            channel_account=form.cleaned_data["channel_account"],
            level=form.cleaned_data["level"],
            title=form.cleaned_data["title"],
        )
    except AccessDenied as exc:
        return _refusal(str(exc), 403)
    except actions.IncidentRefused as exc:
        return _refusal(str(exc), 422)
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_http_methods(["GET"])
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible(request, pk)
    user = request.user
    levels = list(EscalationLevel.objects.order_by("number"))
    may_steer = actions.may_steer(user, incident)
    is_open = incident.status == IncidentStatus.OPEN
    events = list(incident.events.select_related("actor"))
    # Newest first on the page: during a crisis the latest turn matters most.
    events.reverse()
    names = {lvl.number: lvl.name for lvl in levels}
    return render(
        request,
        "moderation/incidents/detail.html",
        {
            "incident": incident,
            "is_open": is_open,
            "events": events,
            "level_name": names.get(incident.level, ""),
            "metrics": incident.metrics,
            "metrics_line": actions.describe_metrics(incident.metrics),
            "chart": traffic_chart(incident),
            "storm_effects": actions.STORM_EFFECTS,
            "may_steer": may_steer and is_open,
            "may_note": actions.may_note(user, incident),
            "level_form": LevelChoiceForm(levels=levels, initial={"level": incident.level}),
            "lead_choices": lead_choices(incident) if may_steer and is_open else [],
            "note_form": NoteForm(),
            "resolve_form": ResolveForm(),
        },
    )


def _refusal(reason: str, status: int) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


def _act(request: HttpRequest, pk: int, run: Any) -> HttpResponse:
    """Run one action on a visible incident; back to its page, or the refusal's status."""
    incident = _visible(request, pk)
    try:
        run(incident)
    except AccessDenied as exc:
        return _refusal(str(exc), 403)
    except actions.IncidentRefused as exc:
        return _refusal(str(exc), 422)
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_POST
def storm(request: HttpRequest, pk: int) -> HttpResponse:
    on = request.POST.get("on") == "1"
    return _act(
        request,
        pk,
        lambda incident: actions.set_storm_mode(user=request.user, incident=incident, on=on),
    )


@login_required
@require_POST
def lead(request: HttpRequest, pk: int) -> HttpResponse:
    form = LeadForm(request.POST)
    form.is_valid()
    value = form.cleaned_data.get("lead", "")
    chosen: Any = None
    if value == "me":
        chosen = request.user
    elif value:
        if not value.isdigit():
            return _refusal(_("Choose a person."), 422)
        chosen = get_user_model().objects.filter(pk=int(value), is_active=True).first()
        if chosen is None:
            return _refusal(_("Choose a person."), 422)
    return _act(
        request,
        pk,
        lambda incident: actions.set_incident_lead(
            user=request.user, incident=incident, lead=chosen
        ),
    )


@login_required
@require_POST
def level(request: HttpRequest, pk: int) -> HttpResponse:
    form = LevelChoiceForm(request.POST, levels=list(EscalationLevel.objects.all()))
    if not form.is_valid():
        _visible(request, pk)
        return _refusal(_("There is no such escalation level."), 422)
    return _act(
        request,
        pk,
        lambda incident: actions.change_incident_level(
            user=request.user, incident=incident, level=form.cleaned_data["level"]
        ),
    )


def _act_with_text(
    request: HttpRequest,
    pk: int,
    form_class: type[forms.Form],
    field: str,
    run: Callable[..., object],
) -> HttpResponse:
    """_act for an action that takes one text: the form's `field`, passed to `run` under the
    same keyword. An invalid form gives "", and the action decides whether empty text is
    refused (a note) or fine (a resolution)."""
    form = form_class(request.POST)
    text = form.cleaned_data[field] if form.is_valid() else ""
    return _act(
        request, pk, lambda incident: run(user=request.user, incident=incident, **{field: text})
    )


@login_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    return _act_with_text(request, pk, NoteForm, "text", actions.add_incident_note)


@login_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act_with_text(request, pk, ResolveForm, "note", actions.resolve_incident)


@login_required
@require_http_methods(["GET", "POST"])
def escalation_levels(request: HttpRequest) -> HttpResponse:
    """Admins edit the levels: thresholds, responsibles, e-mail. The three default levels are
    created the first time the page is opened."""
    if not is_admin(request.user):
        raise Http404("admins only")
    actions.ensure_default_levels()
    queryset = EscalationLevel.objects.prefetch_related("responsibles").order_by(
        Case(When(number__gt=0, then=Value(0)), default=Value(1), output_field=IntegerField()),
        "number",
    )
    if request.method == "POST":
        formset = EscalationLevelFormSet(request.POST, queryset=queryset)
        if formset.is_valid():
            formset.save()
            messages.success(request, _("Escalation levels saved."))
            return redirect("incidents:levels")
    else:
        formset = EscalationLevelFormSet(queryset=queryset)
    return render(request, "moderation/incidents/levels.html", {"formset": formset})


# The detail page's parts.


def lead_choices(incident: Incident) -> list[Any]:
    """Active users who may see the incident (the lead picker): the rule of
    moderation.incidents.may_view, as one query."""
    may_see = Q(is_superuser=True) | Q(
        pk__in=EscalationLevel.responsibles.through.objects.values("user_id")
    )
    if incident.channel_account_id is None:
        may_see |= Q(memberships__isnull=False)
    else:
        may_see |= Q(memberships__department__channel_accounts__id=incident.channel_account_id)
    return list(actions.responsible_choices().filter(may_see).distinct())


def traffic_chart(
    incident: Incident, *, now: datetime | None = None, hours: int = 6
) -> dict[str, Any]:
    """The channel's (or every channel's) five-minute buckets over the `hours` before now (or
    before the incident was resolved), as bars for a server-rendered SVG, with the baseline
    per slot from the incident's metrics."""
    end = incident.resolved_at or now or timezone.now()
    slot = timedelta(minutes=5)
    first = _floor(end - timedelta(hours=hours))
    buckets = TrafficBucket.objects.filter(start__gte=first, start__lte=end)
    if incident.channel_account_id is not None:
        buckets = buckets.filter(channel_account_id=incident.channel_account_id)
    counts: dict[datetime, list[int]] = {}
    for start, inbound, negative, toxic in buckets.values_list(
        "start", "inbound", "negative", "toxic"
    ):
        row = counts.setdefault(start, [0, 0, 0])
        row[0] += inbound
        row[1] += negative
        row[2] += toxic
    slots = [first + i * slot for i in range(int((end - first) / slot) + 1)]
    baseline = float(incident.metrics.get("baseline_per_hour", 0) or 0) / 12
    peak = max([baseline, 1.0, *(counts.get(s, [0])[0] for s in slots)])
    width, height, bar = 720, 160, 720 / len(slots)
    bars = []
    for index, start in enumerate(slots):
        inbound, negative, toxic = counts.get(start, [0, 0, 0])
        h = height * inbound / peak
        bars.append(
            {
                "x": round(index * bar, 2),
                "w": round(max(bar - 1, 1), 2),
                "y": round(height - h, 2),
                "h": round(h, 2),
                "neg_y": round(height - height * negative / peak, 2),
                "neg_h": round(height * negative / peak, 2),
                "tox_y": round(height - height * toxic / peak, 2),
                "tox_h": round(height * toxic / peak, 2),
                "label": _("%(time)s: %(items)s items, %(negative)s negative, %(toxic)s toxic")
                % {
                    "time": formats.time_format(timezone.localtime(start), "TIME_FORMAT"),
                    "items": inbound,
                    "negative": negative,
                    "toxic": toxic,
                },
            }
        )
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "baseline_y": round(height - height * baseline / peak, 2),
        "baseline": round(baseline, 1),
        "peak": round(peak),
        "first": timezone.localtime(first),
        "end": timezone.localtime(end),
        "total": sum(row[0] for row in counts.values()),
    }


def _floor(moment: datetime) -> datetime:
    return moment - timedelta(
        minutes=moment.minute % 5, seconds=moment.second, microseconds=moment.microsecond
    )
