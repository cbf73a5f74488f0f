"""The one write path for people's moderation decisions: settling queue cases, and banning and
allow-listing persons (docs/moderation.md).

Every case action checks access (the user must be able to act on the case's channel: observers
get ReadOnly, users who cannot see it AccessDenied), locks the case row, refuses a case that is
already decided (CaseAlreadyDecided, views answer 409), queues what has to happen on the
platform through the outbox (inbox.actions.queue_message_action: nothing is sent from the web
request), writes the decision as evidence (moderation.evidence.record_decisions), and publishes
the queue's live update after commit.

Who may ban and allow-list: admins, and team leads of a department that owns one of the
person's channels. Agents moderate items (approve, hide, delete) but do not ban people: a ban
acts on every network the person writes from, beyond the agent's own channels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from inbox.access import (
    AccessDenied,
    AnyUser,
    ReadOnly,
    can_act_on_channel,
    can_view_channel,
    is_admin,
    led_department_ids,
)
from inbox.actions import ActionRefused, queue_message_action
from inbox.models import (
    Conversation,
    ConversationEvent,
    Direction,
    EventKind,
    Message,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
    PlatformState,
)
from inbox.percentiles import Percentile, Seconds, interpolated
from moderation.evidence import decision_for, record_decisions
from moderation.models import (
    CaseState,
    DecisionAction,
    ListKind,
    ModerationCase,
    ModerationDecision,
    PersonListing,
)

READ_ONLY_CASE = gettext_lazy("You can read this moderation queue but not decide its items.")
LISTING_NOT_ALLOWED = gettext_lazy(
    "Only admins and team leads of a department that owns one of this person's channels can "
    "ban or allow-list people."
)
_PENDING = (OutboundState.QUEUED, OutboundState.SENDING)

# What a person may settle a case with, by the name views and the bulk form use.
CASE_DECISIONS = ("approve", "confirm_hide", "delete", "ban")


class CaseAlreadyDecided(ActionRefused):
    """Someone settled this case first; the message says who, what and when (views: 409)."""


@dataclass
class CaseResult:
    """What a case action did: the case as it is now, the decisions written, the outbox row
    queued (if any), and a note for the person when the platform could not do everything."""

    case: ModerationCase
    decisions: list[ModerationDecision] = field(default_factory=list)
    outbound: OutboundAction | None = None
    note: str = ""


@dataclass
class SettleResult:
    done: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _name(user: AnyUser | None) -> str:
    if user is None:
        return "someone"
    full: str = getattr(user, "get_full_name", lambda: "")()
    return full or user.get_username()


def check_can_decide(user: AnyUser, case: ModerationCase) -> None:
    """AccessDenied (404) unless the user sees the case's channel; ReadOnly (403) unless they
    may act there."""
    if not can_act_on_channel(user, case.channel_account_id):
        if can_view_channel(user, case.channel_account_id):
            raise ReadOnly(str(READ_ONLY_CASE))
        raise AccessDenied(gettext("not allowed to see this case"))


def _lock(case: ModerationCase) -> ModerationCase:
    locked = (
        ModerationCase.objects.select_for_update(of=("self",))
        .select_related("decided_by")
        .get(pk=case.pk)
    )
    if locked.state != CaseState.PENDING:
        when = (
            timezone.localtime(locked.decided_at).strftime("%Y-%m-%d %H:%M")
            if (locked.decided_at)
            else ""
        )
        raise CaseAlreadyDecided(
            f"{_name(locked.decided_by)} already decided this item "
            f"({locked.get_state_display().lower()}{', ' + when if when else ''})."
        )
    return locked


def _message(case: ModerationCase) -> Message:
    # Read afresh with what the platform rules and the evidence need: its state may have moved
    # since the page was rendered (a hide confirmed by the platform).
    return Message.objects.select_related("conversation", "channel_account", "contact").get(
        pk=case.message_id
    )


def _pending_action(message: Message, kinds: Iterable[str]) -> OutboundAction | None:
    return (
        OutboundAction.objects.filter(
            target_message=message, kind__in=list(kinds), state__in=_PENDING
        )
        .order_by("-id")
        .first()
    )


# The state a person's decision leaves the case in.
_CASE_STATE_AFTER = {
    DecisionAction.APPROVE: CaseState.APPROVED,
    DecisionAction.CONFIRM_HIDE: CaseState.HIDDEN,
    DecisionAction.DELETE: CaseState.DELETED,
}


def _decide(
    result: CaseResult,
    *,
    user: AnyUser,
    message: Message,
    action: DecisionAction,
    now: datetime,
    reason: str = "",
) -> None:
    # Every decision on a case: the case is settled and the decision joins the result.
    case = result.case
    case.state = _CASE_STATE_AFTER[action]
    case.decided_at = now
    case.decided_by_id = user.pk
    case.save(update_fields=["state", "decided_at", "decided_by"])
    guideline = next((r.get("guideline") for r in case.reasons or () if r.get("guideline")), "")
    decision = decision_for(
        message=message,
        action=action,
        automatic=False,
        now=now,
        actor=user,
        scores=case.scores,
        guideline=guideline or "",
        reason=reason,
        channel=message.channel_account,
    )
    rules = [r for r in case.reasons or () if r.get("rule")]
    if rules:
        decision.rule_id = next((r["rule_id"] for r in rules if r.get("rule_id")), None)
        decision.rule_name = ", ".join(str(r["rule"]) for r in rules)[:200]
    result.decisions.append(decision)


def _approve(user: AnyUser, case: ModerationCase, now: datetime) -> CaseResult:
    message = _message(case)
    result = CaseResult(case=case)
    hide = _pending_action(message, [OutboundKind.HIDE])
    if hide is not None:
        if hide.state == OutboundState.SENDING:
            raise ActionRefused(
                gettext(
                    "The hide is being sent to the platform right now; approve again in a moment."
                )
            )
        # Withdrawn only while no worker has claimed it: the claim is the same conditional
        # update from "queued", so exactly one of the two wins.
        withdrawn = OutboundAction.objects.filter(pk=hide.pk, state=OutboundState.QUEUED).update(
            state=OutboundState.REJECTED,
            last_error="Withdrawn: approved in the moderation queue.",
            reviewed_at=now,
            updated_at=now,
        )
        if not withdrawn:
            raise ActionRefused(
                gettext(
                    "The hide is being sent to the platform right now; approve again in a moment."
                )
            )
        ConversationEvent.objects.create(
            conversation_id=message.conversation_id,
            actor_id=user.pk,
            kind=EventKind.ACTION_FAILED,
            data={"action_id": hide.pk, "kind": hide.kind, "reason": "withdrawn: approved"},
        )
        result.note = gettext("The automatic hide was withdrawn before it reached the platform.")
    elif message.platform_state == PlatformState.HIDDEN:
        try:
            result.outbound = queue_message_action(
                user=user, message=message, kind=OutboundKind.UNHIDE
            )
            result.note = gettext("Queued to be made visible again on the platform.")
        except ActionRefused as exc:
            result.note = gettext("Approved, but the platform cannot show it again: %(reason)s") % {
                "reason": exc
            }
    _decide(result, user=user, message=message, action=DecisionAction.APPROVE, now=now)
    return result


def _hide(user: AnyUser, case: ModerationCase, now: datetime, reason: str = "") -> CaseResult:
    message = _message(case)
    result = CaseResult(case=case)
    if message.platform_state == PlatformState.DELETED:
        result.note = gettext("The item is already deleted on the platform.")
    elif message.platform_state != PlatformState.HIDDEN and not _pending_action(
        message, [OutboundKind.HIDE]
    ):
        # A platform that cannot hide refuses here, before anything is written.
        result.outbound = queue_message_action(user=user, message=message, kind=OutboundKind.HIDE)
    _decide(
        result,
        user=user,
        message=message,
        action=DecisionAction.CONFIRM_HIDE,
        now=now,
        reason=reason,
    )
    return result


def _delete(user: AnyUser, case: ModerationCase, now: datetime) -> CaseResult:
    message = _message(case)
    result = CaseResult(case=case)
    if message.platform_state == PlatformState.DELETED:
        result.note = gettext("The item is already deleted on the platform.")
    elif not _pending_action(message, [OutboundKind.DELETE]):
        result.outbound = queue_message_action(user=user, message=message, kind=OutboundKind.DELETE)
    _decide(result, user=user, message=message, action=DecisionAction.DELETE, now=now)
    return result


def _ban(user: AnyUser, case: ModerationCase, now: datetime, reason: str) -> CaseResult:
    message = _message(case)
    if message.contact is None:
        raise ActionRefused(gettext("This item has no author to ban."))
    person = message.contact.person
    if _active(_locked_person(person), ListKind.BAN, now) is None:
        _ban_person(user=user, person=person, reason=reason, expires_at=None, now=now)
    else:
        # Already banned (another of their items in the same bulk, or an earlier ban): this
        # item is still hidden and decided; the ban is not made twice.
        check_can_list_person(user, person)
    try:
        result = _hide(user, case, now, reason=reason)
    except ActionRefused as exc:
        # The ban stands (it acts on every network); the item stays in the queue for a
        # decision the platform allows (delete, or approve).
        result = CaseResult(case=case, note=f"Banned. This item cannot be hidden: {exc}")
    ban = decision_for(
        message=message,
        action=DecisionAction.BAN,
        automatic=False,
        now=now,
        actor=user,
        reason=reason,
        channel=message.channel_account,
    )
    result.decisions.insert(0, ban)
    return result


_CASE_ACTIONS: dict[str, Any] = {
    "approve": _approve,
    "confirm_hide": _hide,
    "delete": _delete,
}


def _settle(*, user: AnyUser, case: ModerationCase, decision: str, reason: str = "") -> CaseResult:
    """One case, in the caller's transaction: check, lock, act, write the evidence."""
    if decision not in CASE_DECISIONS:
        raise ActionRefused(gettext("Unknown moderation decision."))
    check_can_decide(user, case)
    if decision == "ban":
        reason = reason.strip()
        if not reason:
            raise ActionRefused(gettext("Say why the author is banned."))
    locked = _lock(case)
    now = timezone.now()
    if decision == "ban":
        result = _ban(user, locked, now, reason)
    else:
        result = _CASE_ACTIONS[decision](user, locked, now)
    result.decisions = record_decisions(result.decisions)
    return result


def _decide_one(
    *, user: AnyUser, case: ModerationCase, decision: str, reason: str = ""
) -> CaseResult:
    with transaction.atomic():
        result = _settle(user=user, case=case, decision=decision, reason=reason)
        publish_cases_on_commit([result.case.pk])
    return result


def approve_case(*, user: AnyUser, case: ModerationCase) -> CaseResult:
    """Approve the item: it stays visible, or is made visible again. A hide still waiting in the
    outbox is withdrawn (atomically, only if no worker has claimed it); a hidden item gets an
    unhide queued, and when the platform cannot unhide the result's note says so. One
    transaction, the case row locked; refused when already decided."""
    return _decide_one(user=user, case=case, decision="approve")


def confirm_hide(*, user: AnyUser, case: ModerationCase) -> CaseResult:
    """Confirm that the item stays hidden: a hide is queued unless the item is hidden already
    or a hide is on its way. Refused (nothing written) when the platform cannot hide it."""
    return _decide_one(user=user, case=case, decision="confirm_hide")


def delete_item(*, user: AnyUser, case: ModerationCase) -> CaseResult:
    """Delete the item on the platform (queued for the outbox). Refused (nothing written) when
    the platform cannot delete it; the item's state changes when the platform confirms."""
    return _decide_one(user=user, case=case, decision="delete")


def ban_author(*, user: AnyUser, case: ModerationCase, reason: str) -> CaseResult:
    """Ban the item's author across networks (ban_person, leads and admins only) and confirm
    the hide of this item, in one transaction: a refusal of either writes nothing."""
    return _decide_one(user=user, case=case, decision="ban", reason=reason)


def settle_cases(
    *, user: AnyUser, case_ids: Iterable[int], decision: str, reason: str = ""
) -> SettleResult:
    """The same decision on many cases. Each case is settled in its own savepoint, so a refused
    one (already decided, read-only, the platform cannot) leaves the others done; the refusals
    come back with their reasons. One live publish for all of them, after commit."""
    result = SettleResult()
    done_ids: list[int] = []
    cases = {c.pk: c for c in ModerationCase.objects.filter(pk__in=list(case_ids))}
    with transaction.atomic():
        for case_id in sorted(cases):
            try:
                with transaction.atomic():
                    outcome = _settle(
                        user=user, case=cases[case_id], decision=decision, reason=reason
                    )
            except ReadOnly as exc:
                result.refused.append((case_id, str(exc)))
            except AccessDenied:
                result.refused.append((case_id, gettext("You cannot see this item.")))
            except ActionRefused as exc:
                result.refused.append((case_id, str(exc)))
            else:
                result.done += 1
                done_ids.append(case_id)
                if outcome.note:
                    result.notes.append(outcome.note)
        if done_ids:
            publish_cases_on_commit(done_ids)
    return result


def publish_cases_on_commit(case_ids: Iterable[int]) -> None:
    """After commit, send these cases' queue rows to the browsers watching their channels."""
    from moderation.queue_views import send_case_events

    ids = sorted(set(case_ids))
    if ids:
        transaction.on_commit(lambda: send_case_events(case_ids=ids), robust=True)


# --- persons: bans and allow-lists -----------------------------------------------------------


def check_can_list_person(user: AnyUser, person: Person) -> None:
    """AccessDenied (404) unless the user sees the person; ReadOnly (403) unless they are an
    admin or lead a department that owns one of the person's channels."""
    from inbox.persons import check_can_see_person

    check_can_see_person(user, person)
    if is_admin(user):
        return
    led = led_department_ids(user)
    if (
        not led
        or not Conversation.objects.filter(
            contact__person=person, channel_account__departments__in=led
        ).exists()
    ):
        raise ReadOnly(str(LISTING_NOT_ALLOWED))


def may_list_person(user: AnyUser, person: Person) -> bool:
    try:
        check_can_list_person(user, person)
    except AccessDenied:
        return False
    return True


def active_listings() -> Any:
    """Listings in force now: not lifted, not expired."""
    return PersonListing.objects.filter(lifted_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def latest_item(person: Person) -> Message | None:
    """The person's latest inbound item, the one a ban or allow-listing decision is about."""
    return (
        Message.objects.filter(contact__person=person, direction=Direction.INBOUND)
        .select_related("contact", "channel_account")
        .order_by("-sent_at", "-id")
        .first()
    )


def _record_listing(user: AnyUser, person: Person, action: str, reason: str, now: datetime) -> None:
    """The decision about a ban or allow-listing, about the person's latest item if any."""
    item = latest_item(person)
    channel = item.channel_account if item is not None else None
    decision = decision_for(
        message=item, action=action, automatic=False, now=now, actor=user, reason=reason,
        person=person, channel=channel,
    )  # fmt: skip
    record_decisions([decision])


def _locked_person(person: Person) -> Person:
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if locked.merged_into_id is not None:
        raise ActionRefused(
            gettext("This person was merged into another one; ban or allow-list the merged person.")
        )
    return locked


def _active(person: Person, kind: str, now: datetime) -> PersonListing | None:
    """The listing of this kind in force, after closing one that expired (so a new one can be
    added: the database allows one unlifted listing per kind)."""
    listing = (
        PersonListing.objects.select_for_update()
        .filter(person=person, kind=kind, lifted_at__isnull=True)
        .first()
    )
    if listing is not None and listing.expires_at is not None and listing.expires_at <= now:
        listing.lifted_at = listing.expires_at
        listing.save(update_fields=["lifted_at"])
        return None
    return listing


def _ban_person(
    *,
    user: AnyUser,
    person: Person,
    reason: str,
    expires_at: datetime | None,
    now: datetime,
) -> PersonListing:
    check_can_list_person(user, person)
    locked = _locked_person(person)
    if _active(locked, ListKind.ALLOW, now) is not None:
        raise ActionRefused(
            gettext("%(name)s is allow-listed; lift the allow-listing first.")
            % {"name": locked.display_name}
        )
    if _active(locked, ListKind.BAN, now) is not None:
        raise ActionRefused(gettext("%(name)s is already banned.") % {"name": locked.display_name})
    if expires_at is not None and expires_at <= now:
        raise ActionRefused(gettext("The ban would end before it starts."))
    listing = PersonListing.objects.create(
        person=locked,
        kind=ListKind.BAN,
        reason=reason,
        created_by_id=user.pk,
        expires_at=expires_at,
    )
    Person.objects.filter(pk=locked.pk).update(banned=True, updated_at=now)
    person.banned = True
    return listing


def ban_person(
    *, user: AnyUser, person: Person, reason: str, expires_at: datetime | None = None
) -> PersonListing:
    """Ban a person across networks: their new items are hidden on arrival wherever the platform
    can hide (moderation.pipeline reads Person.banned). Admins and leads only; refused when
    already banned or allow-listed. The person row is locked; the listing, Person.banned and a
    BAN decision about their latest item are written in one transaction."""
    reason = reason.strip()
    if not reason:
        raise ActionRefused(gettext("Say why this person is banned."))
    now = timezone.now()
    with transaction.atomic():
        listing = _ban_person(
            user=user, person=person, reason=reason, expires_at=expires_at, now=now
        )
        _record_listing(user, person, DecisionAction.BAN, reason, now)
    return listing


def lift_ban(*, user: AnyUser, person: Person, reason: str = "") -> Person:
    """Lift a person's ban (the listing row stays, marked lifted) and clear Person.banned, with
    an UNBAN decision. Admins and leads only; refused when the person is not banned."""
    now = timezone.now()
    with transaction.atomic():
        check_can_list_person(user, person)
        locked = _locked_person(person)
        listing = _active(locked, ListKind.BAN, now)
        if listing is None and not locked.banned:
            raise ActionRefused(gettext("%(name)s is not banned.") % {"name": locked.display_name})
        if listing is not None:
            listing.lifted_at = now
            listing.lifted_by_id = user.pk
            listing.save(update_fields=["lifted_at", "lifted_by"])
        Person.objects.filter(pk=locked.pk).update(banned=False, updated_at=now)
        person.banned = False
        _record_listing(user, locked, DecisionAction.UNBAN, reason, now)
    return person


def allow_person(*, user: AnyUser, person: Person, reason: str) -> PersonListing:
    """Allow-list a person: automatic moderation never hides or deletes their items (rules can
    still send them to the queue). Admins and leads only; refused when already allow-listed or
    banned. One transaction with an ALLOW decision."""
    reason = reason.strip()
    if not reason:
        raise ActionRefused(gettext("Say why this person is allow-listed."))
    now = timezone.now()
    with transaction.atomic():
        check_can_list_person(user, person)
        locked = _locked_person(person)
        if locked.banned or _active(locked, ListKind.BAN, now) is not None:
            raise ActionRefused(
                gettext("%(name)s is banned; lift the ban first.") % {"name": locked.display_name}
            )
        if _active(locked, ListKind.ALLOW, now) is not None:
            raise ActionRefused(
                gettext("%(name)s is already allow-listed.") % {"name": locked.display_name}
            )
        listing = PersonListing.objects.create(
            person=locked, kind=ListKind.ALLOW, reason=reason, created_by_id=user.pk
        )
        _record_listing(user, locked, DecisionAction.ALLOW, reason, now)
    return listing


def lift_allow(*, user: AnyUser, person: Person, reason: str = "") -> Person:
    """End a person's allow-listing (the row stays, marked lifted), with a DISALLOW decision.
    Admins and leads only; refused when the person is not allow-listed."""
    now = timezone.now()
    with transaction.atomic():
        check_can_list_person(user, person)
        locked = _locked_person(person)
        listing = _active(locked, ListKind.ALLOW, now)
        if listing is None:
            raise ActionRefused(
                gettext("%(name)s is not allow-listed.") % {"name": locked.display_name}
            )
        listing.lifted_at = now
        listing.lifted_by_id = user.pk
        listing.save(update_fields=["lifted_at", "lifted_by"])
        _record_listing(user, locked, DecisionAction.DISALLOW, reason, now)
    return person


def expire_listings(*, now: datetime | None = None) -> int:
    """Close listings whose time is up and clear Person.banned of persons whose ban expired
    (for a periodic task). Idempotent; returns how many listings were closed."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            PersonListing.objects.select_for_update()
            .filter(lifted_at__isnull=True, expires_at__lte=now)
            .values_list("pk", "person_id", "kind")
        )
        if not expired:
            return 0
        PersonListing.objects.filter(pk__in=[pk for pk, _, _ in expired]).update(
            lifted_at=F("expires_at")
        )
        unbanned = {person_id for _, person_id, kind in expired if kind == ListKind.BAN}
        Person.objects.filter(pk__in=unbanned).update(banned=False, updated_at=now)
    return len(expired)


# --- measuring ------------------------------------------------------------------------------


def time_to_action(*, since: datetime, channel_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """Cases decided since `since` (on `channel_ids`, or all): how many, and the median and
    90th percentile of seconds from flagged to decided (None when there are none). One query,
    the percentiles computed by PostgreSQL (continuous, interpolated)."""
    cases = ModerationCase.objects.filter(decided_at__gte=since)
    if channel_ids is not None:
        cases = cases.filter(channel_account_id__in=list(channel_ids))
    if connection.vendor != "postgresql":
        # The embedded SQLite mode: the same continuous percentiles, computed here.
        spans = sorted(
            (decided - flagged).total_seconds()
            for flagged, decided in cases.values_list("flagged_at", "decided_at")
            if decided is not None
        )
        return {
            "count": len(spans),
            "median": interpolated(spans, 0.5),
            "p90": interpolated(spans, 0.9),
        }
    seconds = Seconds(F("decided_at") - F("flagged_at"))
    figures = cases.aggregate(
        count=Count("id"),
        median=Percentile(seconds, fraction=0.5),
        p90=Percentile(seconds, fraction=0.9),
    )
    return {
        "count": int(figures["count"] or 0),
        "median": figures["median"],
        "p90": figures["p90"],
    }
