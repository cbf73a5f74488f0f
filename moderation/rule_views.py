"""The moderation rule screens (list, create and edit, delete, move, switch on and off, "test this
rule") and the community guideline screens, with the writes behind them.

Admins only, like the team screens (inbox.administration_views.admin_required: anonymous visitors
go to the login page, everyone else gets 403 before anything is looked up). Every write runs in
one transaction with the changed rows locked, records its audit entry (inbox.audit) in that same
transaction, and makes this process read rules and guidelines again (inbox.team_config).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Min
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_integrations.models import ChannelAccount
from inbox.access import AnyUser
from inbox.actions import ActionRefused
from inbox.administration import check_can_administer, delete_audited, locked, save_audited
from inbox.administration_views import admin_required
from inbox.audit import AuditAction, record, snapshot
from inbox.business_hours import is_open
from inbox.models import Conversation, Department, Direction, Message, SavedReply
from inbox.sla import SlaBook
from inbox.team_config import forget_team_config
from moderation.classifiers.base import Classification, get_classifier
from moderation.models import CommunityGuideline, ModerationRule
from moderation.rule_forms import ACTION_FIELDS, CONDITION_FIELDS, GuidelineForm, ModerationRuleForm
from moderation.rules import ItemFacts, RuleSet, describe_rule, regex_timeouts

RULE_FIELDS = (
    "name",
    "position",
    "enabled",
    "suggest_only",
    "stop_processing",
    "conditions",
    "actions",
    "guideline_section",
)
GUIDELINE_FIELDS = ("channel_account", "title", "summary", "text", "url")
# "Test this rule" runs against this many of the newest inbound items.
TRIAL_ITEMS = 1000


def _forget() -> None:
    # Now, for this request's own reads, and after the commit, so that a copy another thread
    # read in between (the rows before the change) does not live on.
    forget_team_config()
    transaction.on_commit(forget_team_config)


# --- writes -----------------------------------------------------------------------------------


def save_moderation_rule(
    *, user: AnyUser, rule: ModerationRule | None, values: Mapping[str, Any]
) -> ModerationRule:
    """Create (rule None, placed last) or change a moderation rule with `values` (the fields of
    RULE_FIELDS but position; conditions and actions already clean). Admins only; one
    transaction with the rule locked; one audit entry (none when nothing changed)."""
    check_can_administer(user)
    with transaction.atomic():
        if rule is None:
            highest = ModerationRule.objects.aggregate(highest=Max("position"))["highest"]
            current = ModerationRule(position=(highest or 0) + 1, created_by_id=user.pk)
            before: dict[str, Any] = {}
        else:
            current = locked(ModerationRule.objects.all(), rule.pk)
            before = snapshot(current, RULE_FIELDS)
        for column, value in values.items():
            if column != "position":
                setattr(current, column, value)
        current.save()
        record(
            actor=user,
            action=AuditAction.CREATED if rule is None else AuditAction.CHANGED,
            instance_or_type=current,
            before=before,
            after=snapshot(current, RULE_FIELDS),
        )
        _forget()
    return current


def move_moderation_rule(*, user: AnyUser, rule: ModerationRule, direction: str) -> None:
    """Swap the rule with its neighbour above ("up") or below and number the list 1..n again.
    Every rule is locked in id order (two admins reordering take turns); an audit entry for
    each rule whose position changed."""
    check_can_administer(user)
    with transaction.atomic():
        rows = list(ModerationRule.objects.select_for_update().order_by("pk"))
        ordered = sorted(rows, key=lambda row: (row.position, row.pk))
        index = next((i for i, row in enumerate(ordered) if row.pk == rule.pk), None)
        if index is None:
            raise ActionRefused(_("This rule was deleted in the meantime."))
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ordered):
            ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, row in enumerate(ordered, start=1):
            if row.position != position:
                save_audited(user=user, row=row, values={"position": position}, audited=RULE_FIELDS)
        _forget()


def set_moderation_rule_enabled(*, user: AnyUser, rule: ModerationRule, enabled: bool) -> None:
    """Switch a rule on or off, row locked; one audit entry (none if it already was)."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(ModerationRule.objects.all(), rule.pk)
        save_audited(user=user, row=current, values={"enabled": enabled}, audited=("enabled",))
        _forget()


def delete_moderation_rule(*, user: AnyUser, rule: ModerationRule) -> None:
    """Delete a rule, row locked, with an audit entry of its last values. Decisions it made
    keep its name (moderation evidence copies it)."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(ModerationRule.objects.all(), rule.pk)
        before = snapshot(current, RULE_FIELDS)
        delete_audited(user=user, row=current, before=before, object_repr=str(current))
        _forget()


def save_guideline(
    *, user: AnyUser, channel: ChannelAccount | None, values: Mapping[str, str]
) -> CommunityGuideline:
    """Create or change the guideline of `channel` (None: the workspace default) with
    `values` (title, summary, text, url). Admins only; one transaction with the row locked;
    one audit entry."""
    check_can_administer(user)
    with transaction.atomic():
        found = (
            CommunityGuideline.objects.select_for_update().filter(channel_account=channel).first()
        )
        current = found or CommunityGuideline(channel_account=channel)
        before = snapshot(current, GUIDELINE_FIELDS) if found else {}
        for column, value in values.items():
            setattr(current, column, value)
        current.save()
        record(
            actor=user,
            action=AuditAction.CHANGED if found else AuditAction.CREATED,
            instance_or_type=current,
            before=before,
            after=snapshot(current, GUIDELINE_FIELDS),
        )
        _forget()
    return current


def delete_guideline(*, user: AnyUser, guideline: CommunityGuideline) -> None:
    """Remove a channel's own guideline (the channel then has the default); audited."""
    check_can_administer(user)
    with transaction.atomic():
        current = locked(CommunityGuideline.objects.all(), guideline.pk)
        before = snapshot(current, GUIDELINE_FIELDS)
        delete_audited(user=user, row=current, before=before, object_repr=str(current))
        _forget()


# --- reading ----------------------------------------------------------------------------------


def reference_names(rules: Iterable[ModerationRule]) -> dict[str, str]:
    """Names of the channels, departments, users and saved replies the rules name, keyed
    "department:3" for describe_rule: one query per kind."""
    wanted: dict[str, set[int]] = {
        "channel": set(),
        "department": set(),
        "user": set(),
        "saved_reply": set(),
    }
    for rule in rules:
        c = rule.conditions if isinstance(rule.conditions, dict) else {}
        a = rule.actions if isinstance(rule.actions, dict) else {}
        wanted["channel"].update(i for i in c.get("channel_ids", []) if isinstance(i, int))
        for key, kind in (
            ("department_id", "department"),
            ("assignee_id", "user"),
            ("auto_reply_saved_reply_id", "saved_reply"),
        ):
            if isinstance(a.get(key), int):
                wanted[kind].add(a[key])
        wanted["user"].update(i for i in a.get("notify_user_ids", []) if isinstance(i, int))
    names: dict[str, str] = {}
    if wanted["channel"]:
        for channel in ChannelAccount.objects.filter(pk__in=wanted["channel"]):
            names[f"channel:{channel.pk}"] = channel.name
    if wanted["department"]:
        for pk, name in Department.objects.filter(pk__in=wanted["department"]).values_list(
            "pk", "name"
        ):
            names[f"department:{pk}"] = name
    if wanted["user"]:
        for user in get_user_model().objects.filter(pk__in=wanted["user"]):
            names[f"user:{user.pk}"] = user.get_full_name() or user.get_username()
    if wanted["saved_reply"]:
        for pk, title in SavedReply.objects.filter(pk__in=wanted["saved_reply"]).values_list(
            "pk", "title"
        ):
            names[f"saved_reply:{pk}"] = title
    return names


@dataclass(frozen=True)
class TrialMatch:
    """One earlier item a rule would have matched."""

    message: Message
    reasons: tuple[str, ...]


@dataclass
class RuleTrial:
    """What one rule would have matched among the newest inbound items."""

    examined: int = 0
    matches: list[TrialMatch] = field(default_factory=list)
    seconds: float = 0.0
    # Items without stored scores, classified now (or left neutral when no classifier runs).
    classified_now: int = 0
    classifier_missing: str = ""


def try_rule(rule: ModerationRule, *, storm: bool = False, limit: int = TRIAL_ITEMS) -> RuleTrial:
    """Run `rule` alone (saved or not, enabled or not) against the newest `limit` inbound
    items, newest first: their stored classification (else one made now), their authors'
    current ban, allow-list and VIP facts, whether each was its person's first conversation,
    and the opening hours of the channel's department at the time it was written. Reads only;
    a fixed number of queries."""
    started = time.perf_counter()
    trial = RuleTrial()
    rules = RuleSet.of([rule])
    items = list(
        Message.objects.filter(direction=Direction.INBOUND)
        .select_related("conversation", "contact", "channel_account")
        .only(
            "text",
            "classifier_scores",
            "language",
            "sent_at",
            "channel_account_id",
            "conversation_id",
            "contact_id",
            "conversation__kind",
            "conversation__department_id",
            "conversation__channel_account_id",
            "contact__display_name",
            "contact__handle",
            "contact__person_id",
            "channel_account__name",
            "channel_account__platform",
        )
        .order_by("-id")[:limit]
    )
    trial.examined = len(items)
    if not rules.has_rules or not items:
        trial.seconds = time.perf_counter() - started
        return trial
    from moderation.pipeline import author_facts

    authors = author_facts({m.contact for m in items if m.contact is not None}, with_history=False)
    first_conversations: set[int] = set()
    if rules.needs_first_time:
        persons = {a.person_id for a in authors.values() if a.person_id}
        first_conversations = set(
            Conversation.objects.filter(contact__person_id__in=persons)
            .values("contact__person_id")
            .annotate(first=Min("id"))
            .values_list("first", flat=True)
        )
    book = SlaBook.load() if rules.needs_working_hours else None
    classifier: Any = None
    for message in items:
        classification = Classification.from_scores(message.classifier_scores)
        if classification is None:
            classification, classifier = _classify_now(message, classifier, trial)
        author = authors.get(message.contact_id) if message.contact_id else None
        conversation = message.conversation
        facts = ItemFacts(
            text=message.text,
            classification=classification,
            channel_account_id=message.channel_account_id,
            platform=message.channel_account.platform,
            kind=conversation.kind,
            person_id=author.person_id if author else None,
            banned=bool(author and author.banned),
            allowed=bool(author and author.allowed),
            vip=bool(author and author.vip),
            first_time=conversation.pk in first_conversations,
            in_working_hours=_open_then(book, conversation, message.sent_at),
            storm=storm,
        )
        for match in rules.evaluate(facts):
            trial.matches.append(TrialMatch(message=message, reasons=match.reasons))
    trial.seconds = time.perf_counter() - started
    return trial


def _classify_now(message: Message, classifier: Any, trial: RuleTrial) -> tuple[Any, Any]:
    if classifier is None and not trial.classifier_missing:
        try:
            classifier = get_classifier()
        except (ImportError, AttributeError) as exc:
            trial.classifier_missing = _("No classifier could be loaded (%(error)s).") % {
                "error": exc
            }
    if classifier is None:
        return Classification(language=message.language), None
    trial.classified_now += 1
    return classifier.classify(message.text, language_hint=message.language), classifier


def _open_then(book: SlaBook | None, conversation: Conversation, at: datetime) -> bool | None:
    if book is None:
        return None
    department_id = book.department_of(conversation)
    calendar = book.calendars.get(department_id) if department_id else None
    return None if calendar is None else is_open(at, calendar)


# --- rule screens -----------------------------------------------------------------------------


# What the team screens' ordered table (administration/_ordered_table.html, which the rule table
# extends) needs: the element id htmx swaps, the prefix of the row ids (rule-3, rule-3-enabled)
# and the URL names of the switch and the order buttons.
RULE_TABLE: dict[str, Any] = {
    "list_id": "moderation-rules",
    "item_name": "rule",
    "urls": {"enabled": "moderation_rules:enabled", "move": "moderation_rules:move"},
}


def _rows() -> list[dict[str, Any]]:
    rules = list(ModerationRule.objects.order_by("position", "id"))
    names = reference_names(rules)
    timeouts = regex_timeouts()
    return [
        {
            "item": rule,
            "sentences": describe_rule(rule, names),
            "timeouts": timeouts.get(rule.pk, 0),
        }
        for rule in rules
    ]


def _table_context() -> dict[str, Any]:
    return {"screens": RULE_TABLE, "rows": _rows()}


def _attempt(request: HttpRequest, write: Callable[[], object], *, success: str = "") -> None:
    # A refused write is shown as an error message on the page the view answers with.
    try:
        write()
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        if success:
            messages.success(request, success)


def _list_changed(request: HttpRequest) -> HttpResponse:
    # htmx swaps only the table; a plain form post goes back to the whole page.
    if getattr(request, "htmx", False):
        return render(request, "moderation/rules/_rule_table.html", _table_context())
    return redirect("moderation_rules:list")


@admin_required
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    return render(request, "moderation/rules/list.html", {"section": "rules", **_table_context()})


def _form_page(
    request: HttpRequest, form: ModerationRuleForm, rule: ModerationRule | None, status: int
) -> HttpResponse:
    return render(
        request,
        "moderation/rules/form.html",
        {
            "section": "rules",
            "form": form,
            "rule": rule,
            "condition_fields": [form[name] for name in CONDITION_FIELDS],
            "action_fields": [form[name] for name in ACTION_FIELDS],
        },
        status=status,
    )


def _values(form: ModerationRuleForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "enabled": data["enabled"],
        "suggest_only": data["suggest_only"],
        "stop_processing": data["stop_processing"],
        "guideline_section": data["guideline_section"],
        "conditions": form.conditions,
        "actions": form.actions,
    }


@admin_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no pk) or change a moderation rule."""
    rule = get_object_or_404(ModerationRule, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = ModerationRuleForm(request.POST)
        if form.is_valid():
            try:
                saved = save_moderation_rule(user=request.user, rule=rule, values=_values(form))
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("Moderation rule “%(name)s” saved.") % {"name": saved.name}
                )
                return redirect(reverse("moderation_rules:list") + f"#rule-{saved.pk}")
        return _form_page(request, form, rule, 422)
    return _form_page(request, ModerationRuleForm(rule=rule), rule, 200)


@admin_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ModerationRule, pk=pk)
    done = _("Moderation rule “%(name)s” deleted.") % {"name": rule.name}
    _attempt(request, lambda: delete_moderation_rule(user=request.user, rule=rule), success=done)
    return redirect("moderation_rules:list")


@admin_required
@require_POST
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ModerationRule, pk=pk)
    direction = "up" if request.POST.get("direction") == "up" else "down"
    _attempt(
        request, lambda: move_moderation_rule(user=request.user, rule=rule, direction=direction)
    )
    return _list_changed(request)


@admin_required
@require_POST
def rule_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ModerationRule, pk=pk)
    enabled = request.POST.get("enabled", "") in ("1", "true", "on", "yes")
    _attempt(
        request, lambda: set_moderation_rule_enabled(user=request.user, rule=rule, enabled=enabled)
    )
    return _list_changed(request)


def _trial_page(
    request: HttpRequest, rule: ModerationRule, *, saved: bool, storm: bool
) -> HttpResponse:
    trial = try_rule(rule, storm=storm)
    return render(
        request,
        "moderation/rules/test.html",
        {
            "section": "rules",
            "rule": rule,
            "saved": saved,
            "storm": storm,
            "trial": trial,
            "milliseconds": round(trial.seconds * 1000),
            "sentences": describe_rule(rule, reference_names([rule])),
        },
    )


@admin_required
@require_GET
def rule_test(request: HttpRequest, pk: int) -> HttpResponse:
    """What the stored rule would have matched among the newest inbound items."""
    rule = get_object_or_404(ModerationRule, pk=pk)
    return _trial_page(request, rule, saved=True, storm=request.GET.get("storm") == "1")


@admin_required
@require_POST
def rule_test_unsaved(request: HttpRequest) -> HttpResponse:
    """The same for the rule as the edit form holds it now (its "Test" button), unsaved."""
    pk = request.POST.get("rule_id", "")
    rule = get_object_or_404(ModerationRule, pk=int(pk)) if pk.isdigit() else None
    form = ModerationRuleForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, rule, 422)
    return _trial_page(
        request, form.unsaved_rule(rule), saved=False, storm=request.POST.get("storm") == "1"
    )


# --- guideline screens ------------------------------------------------------------------------


@admin_required
@require_GET
def guideline_list(request: HttpRequest) -> HttpResponse:
    """The workspace default and every channel with the guideline that applies there."""
    guidelines = {g.channel_account_id: g for g in CommunityGuideline.objects.all()}
    channels = [
        {"channel": channel, "own": guidelines.get(channel.pk)}
        for channel in ChannelAccount.objects.order_by("name")
    ]
    return render(
        request,
        "moderation/guidelines/list.html",
        {"section": "guidelines", "default": guidelines.get(None), "channels": channels},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def guideline_edit(request: HttpRequest, channel_id: int | None = None) -> HttpResponse:
    """The default guideline (no channel_id) or one channel's own."""
    channel = get_object_or_404(ChannelAccount, pk=channel_id) if channel_id is not None else None
    current = CommunityGuideline.objects.filter(channel_account=channel).first()
    form = GuidelineForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in ("title", "summary", "text", "url")}
        save_guideline(user=request.user, channel=channel, values=values)
        messages.success(request, _("Community guidelines saved."))
        return redirect("moderation_rules:guidelines")
    return render(
        request,
        "moderation/guidelines/form.html",
        {"section": "guidelines", "form": form, "channel": channel, "guideline": current},
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def guideline_delete(request: HttpRequest, channel_id: int) -> HttpResponse:
    guideline = get_object_or_404(CommunityGuideline, channel_account_id=channel_id)
    done = _("The channel now follows the default guidelines.")
    _attempt(
        request, lambda: delete_guideline(user=request.user, guideline=guideline), success=done
    )
    return redirect("moderation_rules:guidelines")
