"""The conversation list: queues, filters, search, sort orders and keyset pagination.

One `Criteria` describes which conversations a list shows. The same criteria become a database
filter here (`Criteria.q`) and a JSON object for the browser (`Criteria.as_live`), where
static/js/live.js evaluates it on every live event: that is how a list knows whether a
conversation that just changed belongs in it, and how the navigation's counts move without
any browser asking the server again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.postgres.search import SearchQuery
from django.db import connection, models
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from channels_integrations.models import ChannelAccount, Platform
from inbox.access import AnyUser
from inbox.models import (
    ACTING_ROLES,
    OPEN_WORK,
    Contact,
    Conversation,
    ConversationStatus,
    Department,
    Membership,
    MembershipRole,
    Message,
    Note,
    Priority,
    SavedView,
    Sentiment,
    Tag,
)

PAGE_SIZE = 50

# The languages the filter offers (classifiers and platforms report ISO 639-1 codes).
LANGUAGES = [
    ("de", gettext_lazy("German")),
    ("en", gettext_lazy("English")),
    ("fr", gettext_lazy("French")),
    ("it", gettext_lazy("Italian")),
    ("es", gettext_lazy("Spanish")),
    ("nl", gettext_lazy("Dutch")),
    ("pl", gettext_lazy("Polish")),
    ("tr", gettext_lazy("Turkish")),
]


@dataclass(frozen=True)
class Criteria:
    """Which conversations a list shows. Empty fields do not filter."""

    statuses: tuple[str, ...] = OPEN_WORK
    assignees: tuple[int, ...] = ()
    unassigned: bool = False
    # A department's work: conversations routed to it, and the unrouted ones on its channels.
    departments: tuple[int, ...] = ()
    mentioned: int | None = None
    # Four-eyes: a reply in the conversation waits for a lead's approval.
    awaiting_approval: bool = False
    channels: tuple[int, ...] = ()
    platforms: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    languages: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    tags: tuple[int, ...] = ()
    post: tuple[int, str] | None = None
    text: str = ""
    since: date | None = None
    until: date | None = None

    def q(self, department_channels: Mapping[int, Iterable[int]]) -> Q:
        condition = Q()
        if self.statuses:
            condition &= Q(status__in=self.statuses)
        if self.unassigned:
            condition &= Q(assignee__isnull=True)
        elif self.assignees:
            condition &= Q(assignee_id__in=self.assignees)
        if self.departments:
            routed = Q(department_id__in=self.departments)
            unrouted_channels = {
                channel for pk in self.departments for channel in department_channels.get(pk, ())
            }
            unrouted = Q(department__isnull=True, channel_account_id__in=unrouted_channels)
            condition &= routed | unrouted
        if self.mentioned is not None:
            condition &= Q(
                id__in=Note.mentions.through.objects.filter(user_id=self.mentioned).values(
                    "note__conversation_id"
                )
            )
        if self.awaiting_approval:
            condition &= Q(awaiting_approval=True)
        if self.channels:
            condition &= Q(channel_account_id__in=self.channels)
        if self.platforms:
            condition &= Q(channel_account__platform__in=self.platforms)
        if self.priorities:
            condition &= Q(priority__in=self.priorities)
        if self.languages:
            condition &= Q(language__in=self.languages)
        if self.sentiments:
            condition &= Q(sentiment__in=self.sentiments)
        if self.tags:
            condition &= Q(
                id__in=Conversation.tags.through.objects.filter(tag_id__in=self.tags).values(
                    "conversation_id"
                )
            )
        if self.post is not None:
            condition &= Q(channel_account_id=self.post[0], post_external_id=self.post[1])
        if self.since is not None:
            condition &= Q(last_message_at__gte=datetime.combine(self.since, time.min, UTC))
        if self.until is not None:
            end = datetime.combine(self.until + timedelta(days=1), time.min, UTC)
            condition &= Q(last_message_at__lt=end)
        if self.text:
            condition &= text_search(self.text)
        return condition

    @property
    def live(self) -> bool:
        """Whether a browser can tell membership from a live event alone (no search, no dates)."""
        return not self.text and self.since is None and self.until is None

    def as_live(self) -> dict[str, Any]:
        """The criteria for static/js/live.js's matcher (see `snapshot` for the other side)."""
        return {
            "live": self.live,
            "status": list(self.statuses),
            "assignee": list(self.assignees),
            "unassigned": self.unassigned,
            "department": list(self.departments),
            "mentioned": self.mentioned,
            "awaiting_approval": self.awaiting_approval,
            "channel": list(self.channels),
            "platform": list(self.platforms),
            "priority": list(self.priorities),
            "language": list(self.languages),
            "sentiment": list(self.sentiments),
            "tag": list(self.tags),
            "post": list(self.post) if self.post else None,
        }


def text_search(text: str) -> Q:
    """Message text by German and English stems, and author names and handles by substring.

    On PostgreSQL the message side is full-text search over the trigger-kept search_vector
    (migration 0005), with both configurations, so "Rechnungen" finds "Rechnung" and "invoices"
    finds "invoice". The embedded SQLite mode has no full-text search: substring matching.

    Matches are probed first (at most MAX_LISTED_MATCHES + 1 rows through the GIN index): a rare
    word becomes an id list, a common one a correlated EXISTS that the list walks in its own
    order and leaves at the end of the page. Either way no statement builds every match of a
    common word (an `id IN (subquery) OR ...` did: seconds on a million messages). The authors
    are looked up the same way (trigram indexes) and OR-ed in as ids.
    """
    text = text.strip()[:200]
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config="german", search_type="websearch") | SearchQuery(
            text, config="english", search_type="websearch"
        )
        messages = Message.objects.filter(search_vector=query)
    else:
        messages = Message.objects.filter(text__icontains=text)
    # A rare word (the usual search for a case): its few conversations, by id. A common one: a
    # correlated EXISTS, which the list walks in its own order and leaves at the page's end.
    # Which one it is, the planner's statistics say (a probe would read every match first).
    in_messages = Q(Exists(messages.filter(conversation_id=OuterRef("pk"))))
    if estimated_rows(messages) <= MAX_PROBED_ESTIMATE:
        found = list(messages.values_list("conversation_id", flat=True)[: MAX_LISTED_MATCHES + 1])
        if len(found) <= MAX_LISTED_MATCHES:
            in_messages = Q(id__in=set(found))
    authors = list(
        Contact.objects.filter(
            Q(display_name__icontains=text) | Q(handle__icontains=text)
        ).values_list("pk", flat=True)[:MAX_AUTHOR_MATCHES]
    )
    return in_messages | Q(contact_id__in=authors) if authors else in_messages


def estimated_rows(queryset: QuerySet[Any]) -> int:
    """How many rows PostgreSQL expects the query to return (0 elsewhere: no statistics)."""
    if connection.vendor != "postgresql":
        return 0
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # a driver that does not decode json
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


# A search that names more authors than this is a search for words, not for a person.
MAX_AUTHOR_MATCHES = 500
# Up to this many matching messages, the search is an id list; beyond, a correlated EXISTS.
MAX_LISTED_MATCHES = 2000
# Words the statistics expect more often than this are not probed at all. A word missing from the
# statistics is estimated at about 1% of the messages, so this stays well above that.
MAX_PROBED_ESTIMATE = 50_000


# --- Sort orders and keyset pagination --------------------------------------------------------


@dataclass(frozen=True)
class SortOrder:
    key: str
    label: str | Promise
    column: str
    descending: bool

    def order_by(self) -> list[Any]:
        if self.descending:
            return [F(self.column).desc(), F("id").desc()]
        return [F(self.column).asc(nulls_last=True), F("id").asc()]

    def after(self, value: datetime | None, pk: int) -> Q:
        """Rows after (value, pk) in this order; NULLs come last in the ascending orders."""
        if self.descending:
            assert value is not None  # the newest order's column is never NULL
            # The redundant bound is what PostgreSQL can seek the index to; the OR alone is
            # a filter, and a page 100,000 rows deep would read them all first.
            return Q(**{f"{self.column}__lte": value}) & (
                Q(**{f"{self.column}__lt": value}) | Q(**{self.column: value, "id__lt": pk})
            )
        if value is None:
            return Q(**{f"{self.column}__isnull": True, "id__gt": pk})
        return (
            Q(**{f"{self.column}__gt": value})
            | Q(**{self.column: value, "id__gt": pk})
            | Q(**{f"{self.column}__isnull": True})
        )


SORTS = {
    order.key: order
    for order in (
        SortOrder("newest", gettext_lazy("Newest"), "last_message_at", True),
        SortOrder("waiting", gettext_lazy("Longest waiting"), "waiting_since", False),
        SortOrder("sla", gettext_lazy("SLA due first"), "sla_due_at", False),
    )
}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp rounds at this magnitude)."""
    return (value - EPOCH) // MICROSECOND


def encode_cursor(order: SortOrder, row: models.Model) -> str:
    """Where a keyset page ends: the row's sort value (microseconds) and its id."""
    value = getattr(row, order.column)
    stamp = "null" if value is None else str(micros(value))
    return f"{stamp}_{row.pk}"


def decode_cursor(cursor: str) -> tuple[datetime | None, int] | None:
    """(value, pk) from a cursor, or None for a mangled one (the first page is shown then)."""
    stamp, _, pk = cursor.partition("_")
    try:
        value = None if stamp == "null" else datetime.fromtimestamp(int(stamp) / 1_000_000, tz=UTC)
        return value, int(pk)
    except (ValueError, OverflowError, OSError):
        return None


def sort_value(order: SortOrder, conversation: Conversation) -> str:
    """The row's position for live.js: a number that sorts rows the way the server does."""
    value = getattr(conversation, order.column)
    if value is None:
        return ""
    return str(micros(value))


# --- Queues ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    criteria: Criteria
    # The ordering a queue opens with when the URL names none.
    sort: str = "newest"
    saved_view: SavedView | None = None
    count: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Workspace:
    """What one user's navigation offers, and the facts both filters and counts need."""

    user_id: int
    may_see_all: bool
    departments: tuple[Department, ...]
    department_channels: dict[int, tuple[int, ...]]
    channel_ids: frozenset[int] | None
    # The channels whose replies this user reviews (leads); None: every channel (admins).
    led_channel_ids: frozenset[int] | None = frozenset()
    # Leads or agents somewhere (admins too): an observer everywhere changes nothing.
    may_act: bool = False

    @classmethod
    def for_user(cls, user: AnyUser) -> Workspace:
        """Two queries: the user's departments (with their role) and those departments'
        channels, which are also what the user may see (the rule of inbox.access)."""
        user_pk = int(user.pk or 0)
        superuser = bool(getattr(user, "is_superuser", False))
        leads = acts = superuser
        led: set[int] = set()
        if superuser:
            departments = list(Department.objects.all())
        else:
            memberships = list(
                Membership.objects.filter(user_id=user_pk)
                .select_related("department")
                .order_by("department__name")
            )
            departments = [m.department for m in memberships]
            led = {m.department_id for m in memberships if m.role == MembershipRole.LEAD}
            leads = bool(led)
            acts = any(m.role in ACTING_ROLES for m in memberships)
        links = Department.channel_accounts.through.objects.filter(
            department_id__in=[d.pk for d in departments]
        ).values_list("department_id", "channelaccount_id")
        department_channels: dict[int, list[int]] = {d.pk: [] for d in departments}
        for department_id, channel_id in links:
            department_channels[department_id].append(channel_id)
        # The same answer as inbox.access.visible_channel_ids (a test holds them together),
        # from the rows read here instead of one more query.
        channel_ids: frozenset[int] | None = None
        led_channel_ids: frozenset[int] | None = None
        if not (user.is_authenticated and user.is_active):
            channel_ids = led_channel_ids = frozenset()
        elif not superuser:
            channel_ids = frozenset(pk for pks in department_channels.values() for pk in pks)
            led_channel_ids = frozenset(
                pk for department_id in led for pk in department_channels[department_id]
            )
        return cls(
            user_id=user_pk,
            may_see_all=bool(leads),
            departments=tuple(departments),
            department_channels={k: tuple(v) for k, v in department_channels.items()},
            channel_ids=channel_ids,
            led_channel_ids=led_channel_ids,
            may_act=acts and bool(user.is_authenticated and user.is_active),
        )

    def queues(self, saved_views: Iterable[SavedView] = ()) -> list[Queue]:
        queues = [
            Queue("mine", gettext("Mine"), Criteria(assignees=(self.user_id,))),
            Queue("unassigned", gettext("Unassigned"), Criteria(unassigned=True), sort="waiting"),
            Queue("mentions", gettext("Mentions of me"), Criteria(mentioned=self.user_id)),
        ]
        queues += [
            Queue(f"department-{d.pk}", d.name, Criteria(departments=(d.pk,)), sort="waiting")
            for d in self.departments
        ]
        if self.may_see_all:
            queues.append(Queue("all", gettext("All"), Criteria()))
        if self.led_channel_ids is None or self.led_channel_ids:
            # Leads review the replies of their departments' channels; admins every channel.
            channels = tuple(sorted(self.led_channel_ids or ()))
            queues.append(
                Queue(
                    "approval",
                    gettext("Awaiting approval"),
                    Criteria(statuses=(), awaiting_approval=True, channels=channels),
                    sort="waiting",
                )
            )
        for view in saved_views:
            params = QueryDict(view.query)
            base = self.queue(params.get("queue", ""), ())
            form = ListFilterForm(params, workspace=self)
            criteria = form.criteria(base.criteria) if form.is_valid() else base.criteria
            queues.append(
                Queue(
                    f"view-{view.pk}",
                    view.name,
                    criteria,
                    sort=params.get("sort", base.sort),
                    saved_view=view,
                )
            )
        return queues

    def queue(self, key: str, saved_views: Iterable[SavedView]) -> Queue:
        """The queue a URL names; an unknown or forbidden one falls back to the first."""
        queues = {queue.key: queue for queue in self.queues(saved_views)}
        return queues.get(key) or queues[self.default_queue]

    @property
    def default_queue(self) -> str:
        """Where the inbox opens: everything for leads, else the team's work, else one's own."""
        if self.may_see_all:
            return "all"
        if self.departments:
            return f"department-{self.departments[0].pk}"
        return "mine"

    @cached_property
    def channel_choices(self) -> list[tuple[str, str]]:
        channels = ChannelAccount.objects.order_by("name")
        if self.channel_ids is not None:
            channels = channels.filter(pk__in=self.channel_ids)
        return [(str(pk), name) for pk, name in channels.values_list("pk", "name")]

    @cached_property
    def tag_choices(self) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")[:1000]]

    def colleagues(self) -> QuerySet[Any]:
        """Whom bulk actions offer to assign to: members of the user's departments (lazy)."""
        from django.contrib.auth import get_user_model

        return (
            get_user_model()
            .objects.filter(
                is_active=True, memberships__department__in=[d.pk for d in self.departments]
            )
            .distinct()
            .order_by("first_name", "username")
        )

    def as_live(self) -> dict[str, Any]:
        return {
            "user": self.user_id,
            "departments": {str(k): list(v) for k, v in self.department_channels.items()},
        }


def count_queues(user: AnyUser, workspace: Workspace, queues: list[Queue]) -> list[Queue]:
    """Every queue's count in one query (conditional aggregates over what the user may see)."""
    aggregates = {
        f"q{index}": Count("id", filter=queue.criteria.q(workspace.department_channels))
        for index, queue in enumerate(queues)
    }
    conversations = Conversation.objects.visible_to(user)
    if all(
        (queue.criteria.statuses and set(queue.criteria.statuses) <= set(OPEN_WORK))
        or queue.criteria.awaiting_approval
        for queue in queues
    ):
        # Every queue counts open work (or replies awaiting approval) only: read just those
        # rows, which partial indexes hold.
        conversations = conversations.filter(Q(status__in=OPEN_WORK) | Q(awaiting_approval=True))
    counts = conversations.aggregate(**aggregates)
    return [replace(queue, count=counts[f"q{index}"]) for index, queue in enumerate(queues)]


# --- Filters from the URL --------------------------------------------------------------------

ANY_STATUS = "any"


def _is_row_id(value: str) -> bool:
    """A primary key the database can compare (a bigint), not just any run of digits."""
    return value.isascii() and value.isdigit() and 0 < int(value) < 2**63


class ListFilterForm(forms.Form):
    """The list's filters from the query string; a wrong value is reported, never a 500."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=200, strip=True)
    status = forms.MultipleChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[*ConversationStatus.choices, (ANY_STATUS, gettext_lazy("Any status"))],
    )
    channel = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Channel"), required=False, coerce=int
    )
    platform = forms.MultipleChoiceField(
        label=gettext_lazy("Platform"), required=False, choices=Platform.choices
    )
    priority = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Priority"),
        required=False,
        coerce=int,
        choices=[(str(v), label) for v, label in Priority.choices],
    )
    assignee = forms.CharField(label=gettext_lazy("Assignee"), required=False, max_length=20)
    department = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Department"), required=False, coerce=int
    )
    tag = forms.TypedMultipleChoiceField(label=gettext_lazy("Tag"), required=False, coerce=int)
    language = forms.MultipleChoiceField(
        label=gettext_lazy("Language"), required=False, choices=LANGUAGES
    )
    sentiment = forms.MultipleChoiceField(
        label=gettext_lazy("Sentiment"),
        required=False,
        choices=[c for c in Sentiment.choices if c[0]],
    )
    since = forms.DateField(required=False, label=gettext_lazy("Active from"))
    until = forms.DateField(required=False, label=gettext_lazy("Active until"))
    post = forms.CharField(label=gettext_lazy("Post"), required=False, max_length=260)
    sort = forms.ChoiceField(
        label=gettext_lazy("Order"),
        required=False,
        choices=[(order.key, order.label) for order in SORTS.values()],
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Callables: read only when a value has to be checked or the filter form is shown, not
        # for every "load more" of the list.
        self.fields["channel"].choices = lambda: workspace.channel_choices  # type: ignore[attr-defined]
        self.fields["department"].choices = [  # type: ignore[attr-defined]
            (str(d.pk), d.name) for d in workspace.departments
        ]
        self.fields["tag"].choices = lambda: workspace.tag_choices  # type: ignore[attr-defined]

    def clean_assignee(self) -> str:
        value: str = self.cleaned_data["assignee"]
        if value not in {"", "none", "me"} and not _is_row_id(value):
            raise forms.ValidationError(gettext("Choose a person, 'me' or 'none'."))
        return value

    def clean_post(self) -> tuple[int, str] | None:
        value: str = self.cleaned_data["post"]
        if not value:
            return None
        channel, _, external_id = value.partition(":")
        if not _is_row_id(channel) or not external_id:
            raise forms.ValidationError(gettext("Not a post reference."))
        return int(channel), external_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", gettext("The end of the date range is before its start."))
        return data

    def criteria(self, base: Criteria, *, user_id: int | None = None) -> Criteria:
        """`base` (the queue) with the filters applied; a filter replaces the queue's own."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        statuses = data.get("status") or []
        if ANY_STATUS in statuses:
            changes["statuses"] = ()
        elif statuses:
            changes["statuses"] = tuple(statuses)
        assignee = data.get("assignee") or ""
        if assignee == "none":
            changes.update(unassigned=True, assignees=())
        elif assignee == "me" and user_id is not None:
            changes.update(unassigned=False, assignees=(user_id,))
        elif _is_row_id(assignee):
            changes.update(unassigned=False, assignees=(int(assignee),))
        for name, attribute in (
            ("channel", "channels"),
            ("platform", "platforms"),
            ("priority", "priorities"),
            ("department", "departments"),
            ("tag", "tags"),
            ("language", "languages"),
            ("sentiment", "sentiments"),
        ):
            if data.get(name):
                changes[attribute] = tuple(data[name])
        for name in ("since", "until", "post"):
            if data.get(name):
                changes[name] = data[name]
        if data.get("q"):
            changes["text"] = data["q"]
        return replace(base, **changes)


# --- The page ---------------------------------------------------------------------------------


@dataclass
class ListPage:
    queue: Queue
    criteria: Criteria
    order: SortOrder
    rows: list[Conversation]
    next_cursor: str
    form: ListFilterForm
    params: str  # the query string without the cursor (for "load more" and saving the view)
    workspace: Workspace
    saved_views: list[SavedView]

    @property
    def filtered(self) -> bool:
        """Whether filters beyond the queue, search and sort are set (the filter panel opens)."""
        data = self.form.data
        return any(data.get(name) for name in self.form.fields if name not in {"q", "sort", "post"})


def list_page(user: AnyUser, params: QueryDict, saved_views: list[SavedView]) -> ListPage:
    """One page of the list this URL asks for; the number of queries does not grow with it."""
    workspace = Workspace.for_user(user)
    queue = workspace.queue(params.get("queue", ""), saved_views)
    form = ListFilterForm(params, workspace=workspace)
    if form.is_valid():
        criteria = form.criteria(queue.criteria, user_id=workspace.user_id)
        sort_key = form.cleaned_data.get("sort") or queue.sort
    else:
        criteria = queue.criteria
        sort_key = queue.sort
    order = SORTS[sort_key]
    queryset = conversations_for_list(user).filter(criteria.q(workspace.department_channels))
    queryset = queryset.order_by(*order.order_by())
    cursor = decode_cursor(params.get("after", ""))
    if cursor is not None:
        queryset = queryset.filter(order.after(*cursor))
    rows = list(queryset[: PAGE_SIZE + 1])
    next_cursor = ""
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_cursor = encode_cursor(order, rows[-1])
    kept = [(k, v) for k, values in params.lists() for v in values if k not in {"after", "partial"}]
    return ListPage(
        queue=queue,
        criteria=criteria,
        order=order,
        rows=rows,
        next_cursor=next_cursor,
        form=form,
        params=urlencode(kept),
        workspace=workspace,
        saved_views=saved_views,
    )


def conversations_for_list(user: AnyUser) -> QuerySet[Conversation]:
    """What a list row shows (inbox.rows), read in a fixed number of queries whatever the page
    size, and nothing more: fewer joins and columns to plan, fetch and turn into objects."""
    return (
        Conversation.objects.visible_to(user)
        .select_related("channel_account", "contact", "assignee")
        .only(*ROW_FIELDS)
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name", "color")))
    )


# The columns inbox.rows.row_for reads (a deferred one would cost a query per row).
ROW_FIELDS = (
    "id",
    "awaiting_approval",
    "awaiting_internal_since",
    "kind",
    "status",
    "priority",
    "sentiment",
    "assignee_id",
    "department_id",
    "channel_account_id",
    "contact_id",
    "last_message_at",
    "last_message_preview",
    "last_message_direction",
    "waiting_since",
    "sla_due_at",
    "updated_at",
    "channel_account__platform",
    "channel_account__name",
    "contact__display_name",
    "contact__handle",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


def snapshot(conversation: Conversation, mentioned: Iterable[int] = ()) -> dict[str, Any]:
    """The facts live.js matches criteria against (see Criteria.as_live)."""
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "assignee": conversation.assignee_id,
        "department": conversation.department_id,
        "channel": conversation.channel_account_id,
        "platform": conversation.channel_account.platform,
        "priority": conversation.priority,
        "language": conversation.language,
        "sentiment": conversation.sentiment,
        "tag": sorted(tag.pk for tag in conversation.tags.all()),
        "mentioned": sorted(set(mentioned)),
        "awaiting_approval": conversation.awaiting_approval,
        "post": [conversation.channel_account_id, conversation.post_external_id],
    }


def mentioned_user_ids(conversation_ids: Iterable[int]) -> dict[int, list[int]]:
    """Who is @mentioned in each conversation's notes (one query)."""
    result: dict[int, list[int]] = {}
    rows = Note.mentions.through.objects.filter(
        note__conversation_id__in=list(conversation_ids)
    ).values_list("note__conversation_id", "user_id")
    for conversation_id, user_id in rows:
        result.setdefault(conversation_id, []).append(user_id)
    return result
