"""The moderation queue page: pending cases with their reasons and scores, the decisions of the
last days, one-click and bulk decisions, and the rows' live updates.

Thin: moderation.actions decides and writes. The page shows cases on the channels the user may
see; observers get it without buttons, and the actions refuse them anyway (403).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from channels_integrations.models import ChannelAccount
from inbox.access import AccessDenied, ReadOnly, acting_channel_ids, visible_channel_ids
from inbox.actions import ActionRefused, unavailable_reason
from inbox.models import OutboundKind, OutboundState, PlatformState
from moderation import actions
from moderation.classifiers.base import TOXICITY_CATEGORIES, TOXICITY_LABELS
from moderation.models import CaseState, ModerationCase, ModerationRule

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
BULK_LIMIT = 200
DECIDED_DAYS = 7
# Long texts are clamped in the row (CSS shows three lines; the rest is one click away).
TEXT_LIMIT = 1200
AUTO_FILTERS = {
    "hidden": gettext_lazy("Hidden automatically"),
    "deleted": gettext_lazy("Deleted automatically"),
    "queued": gettext_lazy("Only queued"),
    "suggested": gettext_lazy("Suggested by a rule"),
}
SORTS = {"newest": gettext_lazy("Newest first"), "severity": gettext_lazy("Most severe first")}
DECISION_SLUGS = {
    "approve": "approve",
    "confirm-hide": "confirm_hide",
    "delete": "delete",
    "ban": "ban",
}
_PENDING_OUTBOX = (OutboundState.QUEUED, OutboundState.SENDING)
_BUILTIN_REASONS = (gettext_noop("Author banned"), gettext_noop("Platform"))


def visible_cases(user: Any) -> QuerySet[ModerationCase]:
    """Cases on the channels the user may see (all for admins)."""
    ids = visible_channel_ids(user)
    cases = ModerationCase.objects.all()
    return cases if ids is None else cases.filter(channel_account_id__in=ids)


def _with_row_facts(cases: QuerySet[ModerationCase]) -> QuerySet[ModerationCase]:
    return cases.select_related(
        "message__contact__person", "channel_account", "conversation", "decided_by"
    ).prefetch_related("message__actions_on")


@dataclass
class Bar:
    label: str | Promise
    value: float
    kind: str

    @property
    def percent(self) -> int:
        return max(0, min(100, round(abs(self.value) * 100)))


@dataclass
class CaseRow:
    """What one row of the queue shows, computed once for the page and the live event alike."""

    case: ModerationCase
    bars: list[Bar] = field(default_factory=list)
    suggested_only: bool = False
    pending_action: Any = None
    last_action: Any = None
    hide_refusal: str | Promise = ""
    delete_refusal: str | Promise = ""
    text: str = ""
    clamped: bool = False
    may_act: bool = True

    @property
    def message(self) -> Any:
        return self.case.message

    @property
    def conversation_url(self) -> str:
        return reverse("inbox:conversation", args=[self.case.conversation_id])

    @property
    def version(self) -> str:
        moment = self.case.decided_at or self.case.flagged_at
        return f"{moment.timestamp():017.6f}"


def _refusal(message: Any, kind: str) -> str | Promise:
    """Why the platform refuses this action ("" when it allows it), worded in the language the
    row is rendered in: a live row is computed once and rendered once per language."""
    if not unavailable_reason(message, kind):
        return ""
    return lazy(unavailable_reason, str)(message, kind)


def case_row(case: ModerationCase) -> CaseRow:
    message = case.message
    # The message's own conversation and channel are already loaded with the case.
    message.conversation = case.conversation
    message.channel_account = case.channel_account
    scores = case.scores or {}
    toxicity = scores.get("toxicity") or {}
    bars = [
        Bar(TOXICITY_LABELS[category], float(toxicity.get(category) or 0.0), "toxicity")
        for category in TOXICITY_CATEGORIES
    ]
    bars.append(Bar(gettext_lazy("Spam"), float(scores.get("spam") or 0.0), "spam"))
    sentiment = float(scores.get("sentiment_score") or 0.0)
    bars.append(
        Bar(gettext_lazy("Sentiment"), sentiment, "negative" if sentiment < 0 else "positive")
    )
    removals = [
        a for a in message.actions_on.all() if a.kind in (OutboundKind.HIDE, OutboundKind.UNHIDE,
                                                          OutboundKind.DELETE)
    ]  # fmt: skip
    removals.sort(key=lambda a: a.pk)
    row = CaseRow(
        case=case,
        bars=bars,
        suggested_only=bool(case.reasons) and all(r.get("suggest_only") for r in case.reasons),
        pending_action=next((a for a in reversed(removals) if a.state in _PENDING_OUTBOX), None),
        last_action=removals[-1] if removals else None,
        text=message.text[:TEXT_LIMIT],
        clamped=len(message.text) > TEXT_LIMIT,
    )
    if case.state == CaseState.PENDING:
        try:
            if message.platform_state == PlatformState.VISIBLE:
                row.hide_refusal = _refusal(message, OutboundKind.HIDE)
            if message.platform_state != PlatformState.DELETED:
                row.delete_refusal = _refusal(message, OutboundKind.DELETE)
        except Exception:  # an unknown platform shows the buttons; the action refuses
            logger.exception("could not tell what platform allows for case %s", case.pk)
    return row


class QueueFilter(forms.Form):
    channel = forms.TypedChoiceField(
        label=gettext_lazy("Channel"), coerce=int, required=False, empty_value=None
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=200)
    auto = forms.ChoiceField(
        label=gettext_lazy("Automatic action"),
        choices=[("", pgettext_lazy("automatic action", "Any")), *AUTO_FILTERS.items()],
        required=False,
    )
    sort = forms.ChoiceField(
        label=gettext_lazy("Order"), choices=list(SORTS.items()), required=False
    )

    def __init__(self, *args: Any, channels: Iterable[ChannelAccount], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", gettext_lazy("All channels")), *((c.pk, c.name) for c in channels)]


def filter_cases(cases: QuerySet[ModerationCase], data: dict[str, Any]) -> QuerySet[ModerationCase]:
    if data.get("channel"):
        cases = cases.filter(channel_account_id=data["channel"])
    if data.get("reason"):
        cases = cases.filter(reasons__contains=[{"rule": data["reason"]}])
    auto = data.get("auto")
    if auto == "hidden":
        cases = cases.filter(auto_action="hide")
    elif auto == "deleted":
        cases = cases.filter(auto_action="delete")
    elif auto == "queued":
        cases = cases.filter(auto_action="").exclude(
            Q(reasons__contains=[{"suggest_only": True}])
            & ~Q(reasons__contains=[{"suggest_only": False}])
        )
    elif auto == "suggested":
        cases = cases.filter(reasons__contains=[{"suggest_only": True}])
    if data.get("sort") == "severity":
        return cases.order_by("-severity", "-flagged_at", "-id")
    return cases.order_by("-flagged_at", "-id")


def _channels(user: Any) -> QuerySet[ChannelAccount]:
    ids = visible_channel_ids(user)
    channels = ChannelAccount.objects.order_by("name")
    return channels if ids is None else channels.filter(pk__in=ids)


def _acting(user: Any) -> list[int] | None:
    ids = acting_channel_ids(user)
    return None if ids is None else sorted(ids)


def _may_act(acting: list[int] | None, channel_id: int) -> bool:
    return acting is None or channel_id in acting


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The queue: pending cases (or, with tab=decided, the last days' decisions)."""
    user = request.user
    channels = list(_channels(user))
    form = QueueFilter(request.GET or None, channels=channels)
    data = form.cleaned_data if form.is_valid() else {}
    tab = "decided" if request.GET.get("tab") == "decided" else "pending"
    visible = visible_cases(user)
    now = timezone.now()
    since = now - timedelta(days=DECIDED_DAYS)
    if tab == "decided":
        cases = filter_cases(
            visible.exclude(state=CaseState.PENDING).filter(decided_at__gte=since), data
        ).order_by("-decided_at", "-id")
    else:
        cases = filter_cases(visible.filter(state=CaseState.PENDING), data)
    page = Paginator(_with_row_facts(cases), PAGE_SIZE).get_page(request.GET.get("page"))
    acting = _acting(user)
    ids = visible_channel_ids(user)
    rows = [case_row(case) for case in page.object_list]
    for row in rows:
        row.may_act = _may_act(acting, row.case.channel_account_id)
    context = {
        "tab": tab,
        "form": form,
        "page": page,
        "rows": rows,
        "pending_count": visible.filter(state=CaseState.PENDING).count(),
        "figures": actions.time_to_action(since=since, channel_ids=ids),
        "acting": acting,
        "may_act": acting is None or bool(acting),
        # (value, label): the built-in reasons are stored in English and shown translated;
        # rule names are the admins' own words.
        "reasons": [
            *((reason, gettext(reason)) for reason in _BUILTIN_REASONS),
            *(
                (name, name)
                for name in ModerationRule.objects.order_by("position", "id").values_list(
                    "name", flat=True
                )
            ),
        ],
        "filters_json": {
            "channel": data.get("channel"),
            "reason": data.get("reason") or "",
            "auto": data.get("auto") or "",
            "tab": tab,
            "acting": acting,
        },
        "decided_days": DECIDED_DAYS,
    }
    template = "moderation/queue/_rows.html" if request.GET.get("partial") else None
    return render(request, template or "moderation/queue/queue.html", context)


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "moderation/queue/_error.html", {"error": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain")


@login_required
@require_POST
def decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Approve, confirm the hide, delete, or ban the author of one case."""
    action = DECISION_SLUGS.get(decision)
    if action is None:
        return HttpResponse(status=404)
    case = get_object_or_404(visible_cases(request.user), pk=pk)
    reason = request.POST.get("reason", "").strip()[:2000]
    if action == "ban" and not reason:
        return _refused(request, gettext("Say why the author is banned."), 422)
    try:
        if action == "ban":
            result = actions.ban_author(user=request.user, case=case, reason=reason)
        else:
            act = {
                "approve": actions.approve_case,
                "confirm_hide": actions.confirm_hide,
                "delete": actions.delete_item,
            }[action]
            result = act(user=request.user, case=case)
    except ReadOnly as exc:
        return _refused(request, str(exc), 403)
    except AccessDenied:
        return HttpResponse(status=404)
    except ActionRefused as exc:  # CaseAlreadyDecided included
        return _refused(request, str(exc), 409)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("moderation:queue")
    case = _with_row_facts(ModerationCase.objects.filter(pk=case.pk)).get()
    row = case_row(case)
    template = "moderation/queue/_case_row.html"
    if case.state != CaseState.PENDING:
        template = "moderation/queue/_decided_row.html"
    return render(
        request,
        template,
        {"row": row, "note": result.note, "may_act": _may_act(_acting(request.user),
                                                               case.channel_account_id)},
    )  # fmt: skip


class BulkForm(forms.Form):
    ids = forms.CharField(label=gettext_lazy("Items"), max_length=4000)
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"), choices=[(d, d) for d in actions.CASE_DECISIONS]
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=2000)

    def clean_ids(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["ids"].split(",") if part.strip()]
        if not raw or not all(part.isdigit() for part in raw):
            raise forms.ValidationError(gettext("Select at least one item."))
        ids = sorted({int(part) for part in raw})
        if len(ids) > BULK_LIMIT:
            raise forms.ValidationError(
                gettext("Select at most %(limit)s items.") % {"limit": BULK_LIMIT}
            )
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "ban" and not (data.get("reason") or "").strip():
            raise forms.ValidationError(gettext("Say why the authors are banned."))
        return data


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """One decision on many cases; each is settled or refused on its own (see settle_cases)."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return _refused(request, errors, 422)
    ids = visible_cases(request.user).filter(pk__in=form.cleaned_data["ids"])
    visible_ids = list(ids.values_list("pk", flat=True))
    if not visible_ids:
        return HttpResponse(status=404)
    acting = _acting(request.user)
    if acting is not None and not ids.filter(channel_account_id__in=acting).exists():
        return _refused(request, str(actions.READ_ONLY_CASE), 403)
    outcome = actions.settle_cases(
        user=request.user,
        case_ids=visible_ids,
        decision=form.cleaned_data["decision"],
        reason=form.cleaned_data.get("reason") or "",
    )
    refused_ids = {case_id for case_id, _ in outcome.refused}
    done_ids = [pk for pk in visible_ids if pk not in refused_ids]
    message = ngettext("Done: %(count)d item.", "Done: %(count)d items.", outcome.done) % {
        "count": outcome.done
    }
    if outcome.refused:
        reasons = sorted({reason for _, reason in outcome.refused})
        message += " " + gettext("Not done: %(count)d (%(reasons)s).") % {
            "count": len(outcome.refused),
            "reasons": "; ".join(reasons[:3]),
        }
    if outcome.notes:
        message += " " + " ".join(sorted(set(outcome.notes))[:3])
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("moderation:queue")
    return render(
        request, "moderation/queue/_bulk_result.html", {"message": message, "done_ids": done_ids}
    )


# --- live -----------------------------------------------------------------------------------


def case_event(
    row: CaseRow,
    *,
    row_template: Any,
    decided_template: Any,
    languages: list[str] | None = None,
) -> dict[str, Any]:
    """The live event of one case, its fragments in each language in use (see inbox.live)."""
    from inbox.live import in_languages

    case = row.case
    pending = case.state == CaseState.PENDING
    context = {"row": row, "may_act": True}
    return {
        "type": "moderation.case",
        "case_id": case.pk,
        "state": case.state,
        "channel": case.channel_account_id,
        "facts": {
            "reasons": [str(r.get("rule", "")) for r in case.reasons or ()],
            "auto": case.auto_action,
            "suggested": row.suggested_only,
            "severity": case.severity,
        },
        "version": row.version,
        **in_languages(
            lambda: {
                "html": row_template.render(context) if pending else "",
                "decided_html": "" if pending else decided_template.render(context),
            },
            languages,
        ),
    }


def send_case_events(*, case_ids: Iterable[int]) -> None:
    """Render these cases once and send each to its channel's live group: every browser on the
    queue page that may see the channel upserts or removes the row, with no request back. The
    rows carry their buttons; the page strips them where the viewer may only read. Never
    raises: the database is the truth, a reload shows it."""
    from inbox.live import channel_group, channels_with_listeners, languages_in_use, send_events

    try:
        cases = list(_with_row_facts(ModerationCase.objects.filter(pk__in=list(case_ids))))
        heard = channels_with_listeners({case.channel_account_id for case in cases})
        row_template = get_template("moderation/queue/_case_row.html")
        decided_template = get_template("moderation/queue/_decided_row.html")
        languages = languages_in_use() if heard else []
        send_events(
            [
                (
                    channel_group(case.channel_account_id),
                    case_event(
                        case_row(case),
                        row_template=row_template,
                        decided_template=decided_template,
                        languages=languages,
                    ),
                )
                for case in cases
                if case.channel_account_id in heard
            ]
        )
    except Exception:
        logger.exception("live update of moderation cases %s failed", sorted(case_ids))


def publish_queue_changed(
    *, channel_account_ids: Iterable[int], message_ids: Iterable[int] | None = None
) -> None:
    """New cases from ingest (call after commit). With the messages' ids, their rows are sent;
    without, each listening channel gets a short "queue changed" event and the page offers to
    show the new items (one click, not one request per browser per event)."""
    from inbox.live import channel_group, channels_with_listeners, send_events

    if message_ids is not None:
        ids = list(
            ModerationCase.objects.filter(message_id__in=list(message_ids)).values_list(
                "pk", flat=True
            )
        )
        send_case_events(case_ids=ids)
        return
    try:
        heard = channels_with_listeners(set(channel_account_ids))
        send_events(
            [
                (channel_group(pk), {"type": "moderation.queue_changed", "channel": pk})
                for pk in sorted(heard)
            ]
        )
    except Exception:
        logger.exception("live update of the moderation queue failed")
