"""Channel pages: health for everyone who can see a channel, setup for admins.

Thin: reads here, writes through channels_integrations.channel_setup. Setup views answer 403 to
anyone who may not manage channels; the views that receive secrets hide the POST body from
Django's error reports. No view calls a platform: connection tests run in a worker.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_integrations import channel_setup
from channels_integrations.base import Connector
from channels_integrations.crypto import CredentialsUnreadable
from channels_integrations.forms import BackfillForm, ChannelForm, PauseForm
from channels_integrations.models import (
    POLLABLE_STATUSES,
    ChannelAccount,
    ChannelStatus,
    ConnectionTest,
    Platform,
)
from channels_integrations.registry import connector_class
from inbox.access import can_manage_channels, can_view_channel, visible_channel_ids
from inbox.models import Direction, Message

View = Callable[..., HttpResponse]

# A test nobody picked up in this time is reported as stuck (no worker?) and no longer polled.
CONNECTION_TEST_PATIENCE = timedelta(seconds=60)


def admin_required(view: View) -> View:
    """Logged-in admins only: anonymous users go to the login page, everyone else gets 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_manage_channels(request.user):
            raise PermissionDenied("only admins may set up channels")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def available_connector(platform: str) -> type[Connector] | None:
    """The platform's connector class, or None while its module is missing or incomplete."""
    try:
        return connector_class(platform)
    except (ImportError, LookupError, AttributeError):
        return None


# Health


@dataclass
class ChannelHealth:
    channel: ChannelAccount
    items_last_hour: int = 0
    items_last_day: int = 0
    skipped_count: int = 0
    connector_available: bool = True
    daily_quota: int | None = None
    quota_used_today: int = 0

    @property
    def rate_limited(self) -> bool:
        return self.channel.is_rate_limited

    @property
    def quota_exhausted(self) -> bool:
        return self.daily_quota is not None and self.quota_used_today >= self.daily_quota

    @property
    def quota_percent(self) -> int:
        if not self.daily_quota:
            return 0
        return min(100, round(100 * self.quota_used_today / self.daily_quota))

    @property
    def attention(self) -> str:
        """Why a person should look at this channel now ("" when nothing is wrong)."""
        status = self.channel.status
        if status == ChannelStatus.NEEDS_REAUTH:
            return "needs_reauth"
        if status == ChannelStatus.FAILING:
            return "failing"
        if status == ChannelStatus.PAUSED:
            return ""  # a decision, not an alarm
        if not self.connector_available:
            return "unavailable"
        if self.rate_limited:
            return "rate_limited"
        if self.quota_exhausted:
            return "quota"
        return ""

    @property
    def sort_key(self) -> tuple[int, str]:
        order = {"needs_reauth": 0, "failing": 1, "unavailable": 2, "rate_limited": 3, "quota": 4}
        rank = order.get(self.attention, 6 if self.channel.status == ChannelStatus.PAUSED else 5)
        return rank, self.channel.name.lower()

    @property
    def next_poll_due(self) -> bool:
        return self.channel.status in POLLABLE_STATUSES

    @property
    def polling_now(self) -> bool:
        """A worker holds the poll lease (next_poll_at is then the lease's end, not a plan)."""
        lease = self.channel.poll_lease_until
        return lease is not None and lease > timezone.now()


def _backfill_note(connector: type[Connector] | None) -> str:
    """The connector's backfill note in the request's language (marked with gettext_noop)."""
    if connector is None or not connector.backfill_note:
        return ""
    return _(connector.backfill_note)


def _quota(channel: ChannelAccount, connector: type[Connector] | None) -> tuple[int | None, int]:
    """(daily quota, units used on the platform's current quota day), (None, 0) without quota.

    A setup field named `daily_quota` (YouTube: the Cloud project's own quota) overrides the
    connector's default, as the connector itself does.
    """
    if connector is None or connector.daily_quota is None:
        return None, 0
    quota = connector.daily_quota
    if any(spec.name == "daily_quota" for spec in connector.setup_fields):
        with contextlib.suppress(TypeError, ValueError):
            quota = int(channel.settings.get("daily_quota") or 0) or quota
    today = connector.quota_day(timezone.now())
    return quota, channel.quota_used if channel.quota_day == today else 0


def channel_health(channels: list[ChannelAccount]) -> list[ChannelHealth]:
    """Health rows, needs-attention first; the message counts of all channels in one query."""
    now = timezone.now()
    ids = [channel.pk for channel in channels]
    recent = (
        Message.objects.filter(
            channel_account_id__in=ids,
            direction=Direction.INBOUND,
            created_at__gte=now - timedelta(days=1),
        )
        .values("channel_account_id")
        .annotate(
            day=Count("id"),
            hour=Count("id", filter=Q(created_at__gte=now - timedelta(hours=1))),
        )
    )
    counts: dict[int, tuple[int, int]] = {
        row["channel_account_id"]: (row["hour"], row["day"]) for row in recent
    }
    connectors: dict[str, type[Connector] | None] = {}
    rows = []
    for channel in channels:
        if channel.platform not in connectors:
            connectors[channel.platform] = available_connector(channel.platform)
        connector = connectors[channel.platform]
        hour, day = counts.get(channel.pk, (0, 0))
        quota, used = _quota(channel, connector)
        rows.append(
            ChannelHealth(
                channel=channel,
                items_last_hour=hour,
                items_last_day=day,
                skipped_count=getattr(channel, "skipped_count", 0),
                connector_available=connector is not None,
                daily_quota=quota,
                quota_used_today=used,
            )
        )
    rows.sort(key=lambda row: row.sort_key)
    return rows


def _visible_channels(request: HttpRequest) -> list[ChannelAccount]:
    channels = ChannelAccount.objects.annotate(skipped_count=Count("skipped_items")).order_by(
        "name"
    )
    ids = visible_channel_ids(request.user)
    if ids is not None:
        channels = channels.filter(pk__in=ids)
    return list(channels)


def _summary(rows: list[ChannelHealth]) -> dict[str, int]:
    summary = {
        "total": len(rows),
        "needs_reauth": 0,
        "failing": 0,
        "rate_limited": 0,
        "quota": 0,
        "unavailable": 0,
        "paused": 0,
    }
    for row in rows:
        if row.attention:
            summary[row.attention] += 1
        elif row.channel.status == ChannelStatus.PAUSED:
            summary["paused"] += 1
    summary["attention"] = sum(1 for row in rows if row.attention)
    return summary


@login_required
@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    """Channel health at a glance: what needs attention first, then everything else."""
    rows = channel_health(_visible_channels(request))
    return render(
        request,
        "channels_integrations/channel_list.html",
        {
            "rows": rows,
            "summary": _summary(rows),
            "can_manage": can_manage_channels(request.user),
        },
    )


@login_required
@require_GET
def skipped_items(request: HttpRequest, pk: int) -> HttpResponse:
    """The items of one channel that could not be understood, newest first, payload escaped."""
    if not can_view_channel(request.user, pk):
        raise Http404("no such channel")
    channel = get_object_or_404(ChannelAccount, pk=pk)
    page = Paginator(channel.skipped_items.order_by("-created_at", "-id"), 50).get_page(
        request.GET.get("page")
    )
    items = [
        (item, json.dumps(item.payload, indent=2, ensure_ascii=False, sort_keys=True))
        for item in page.object_list
    ]
    return render(
        request,
        "channels_integrations/skipped_items.html",
        {
            "channel": channel,
            "page": page,
            "items": items,
            "can_manage": can_manage_channels(request.user),
        },
    )


# Setup (admins)


@admin_required
@require_GET
def add_channel(request: HttpRequest) -> HttpResponse:
    """Step one: pick the platform. Platforms whose connector is not there yet are shown so."""
    platforms = [
        {
            "value": value,
            "label": label,
            "available": (connector := available_connector(value)) is not None,
            "note": _backfill_note(connector),
        }
        for value, label in Platform.choices
    ]
    return render(request, "channels_integrations/add_channel.html", {"platforms": platforms})


@sensitive_post_parameters()
@admin_required
@require_http_methods(["GET", "POST"])
def add_channel_form(request: HttpRequest, platform: str) -> HttpResponse:
    """Step two: the platform's own setup form. The new channel starts paused."""
    if platform not in Platform.values:
        raise Http404("no such platform")
    label = Platform(platform).label
    connector = available_connector(platform)
    if connector is None:
        return render(
            request,
            "channels_integrations/channel_form.html",
            {"platform": platform, "platform_label": label, "form": None, "is_new": True},
            status=404,
        )
    form = ChannelForm(
        request.POST if request.method == "POST" else None, setup_fields=connector.setup_fields
    )
    if request.method == "POST" and form.is_valid():
        channel = channel_setup.create_channel(
            user=request.user,
            platform=platform,
            name=form.cleaned_data["name"],
            settings=form.settings_data(),
            credentials=form.credentials_data(),
            poll_interval_seconds=form.cleaned_data["poll_interval_seconds"],
            departments=form.cleaned_data["departments"],
            backfill_days=form.cleaned_data["backfill_days"],
            reply_defaults=form.reply_defaults(),
        )
        messages.success(
            request, _("Channel added. It is paused: test the connection, then start polling.")
        )
        return redirect("channels:detail", pk=channel.pk)
    return render(
        request,
        "channels_integrations/channel_form.html",
        {
            "platform": platform,
            "platform_label": label,
            "connector_available": True,
            "backfill_note": _backfill_note(connector),
            "form": form,
            "is_new": True,
        },
        status=422 if form.is_bound else 200,
    )


def _secret_state(channel: ChannelAccount, connector: type[Connector] | None) -> dict[str, Any]:
    """Which secrets are stored (names only, never values), and whether they can be read."""
    try:
        stored = {name for name, value in channel.get_credentials().items() if value}
    except CredentialsUnreadable:
        return {"stored": set(), "unreadable": True, "secrets": []}
    fields = connector.setup_fields if connector is not None else ()
    return {
        "stored": stored,
        "unreadable": False,
        "secrets": [(spec.label, spec.name in stored) for spec in fields if spec.secret],
    }


def _latest_test(channel: ChannelAccount) -> ConnectionTest | None:
    return channel.connection_tests.select_related("requested_by").first()


def _test_context(channel: ChannelAccount, test: ConnectionTest | None) -> dict[str, Any]:
    stuck = (
        test is not None
        and test.finished_at is None
        and test.created_at < timezone.now() - CONNECTION_TEST_PATIENCE
    )
    return {"channel": channel, "test": test, "test_stuck": stuck}


def _backfill_context(channel: ChannelAccount) -> dict[str, Any]:
    progress = None
    if channel.backfill_since is not None:
        progress = Message.objects.filter(
            channel_account=channel, sent_at__gte=channel.backfill_since
        ).aggregate(count=Count("id"), oldest=Min("sent_at"))
    running = channel.backfill_since is not None and channel.backfill_completed_at is None
    return {
        "channel": channel,
        "backfill": progress,
        "backfill_running": running,
        # Progress moves only while the channel is polled; a paused backfill is not refreshed.
        "backfill_live": running and channel.status in POLLABLE_STATUSES,
    }


def _managed_channel(pk: int) -> ChannelAccount:
    return get_object_or_404(ChannelAccount.objects.prefetch_related("departments"), pk=pk)


@admin_required
@require_GET
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(
        ChannelAccount.objects.annotate(skipped_count=Count("skipped_items")).prefetch_related(
            "departments"
        ),
        pk=pk,
    )
    connector = available_connector(channel.platform)
    health = channel_health([channel])[0]
    settings_shown: list[tuple[str, Any]] = []
    if connector is not None:
        settings_shown = [
            (str(spec.label), channel.settings.get(spec.name, ""))
            for spec in connector.setup_fields
            if not spec.secret
        ]
    else:
        settings_shown = sorted(channel.settings.items())
    context = {
        "channel": channel,
        # Values, not the class: templates call callables, and a class is one.
        "connector_available": connector is not None,
        "backfill_note": _backfill_note(connector),
        "health": health,
        "settings_shown": settings_shown,
        "secret_state": _secret_state(channel, connector),
        "pause_form": PauseForm(),
        "backfill_form": BackfillForm(),
        "never_polled": channel.last_poll_at is None,
        **_test_context(channel, _latest_test(channel)),
        **_backfill_context(channel),
    }
    return render(request, "channels_integrations/channel_detail.html", context)


@sensitive_post_parameters()
@admin_required
@require_http_methods(["GET", "POST"])
def edit_channel(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(pk)
    connector = available_connector(channel.platform)
    context: dict[str, Any] = {
        "channel": channel,
        "platform": channel.platform,
        "platform_label": channel.get_platform_display(),
        "connector_available": connector is not None,
        "is_new": False,
        "form": None,
    }
    if connector is None:
        return render(request, "channels_integrations/channel_form.html", context)
    secret_state = _secret_state(channel, connector)
    form = ChannelForm(
        request.POST if request.method == "POST" else None,
        setup_fields=connector.setup_fields,
        channel=channel,
        stored_secrets=secret_state["stored"],
    )
    if request.method == "POST" and form.is_valid():
        new_credentials = form.credentials_data()
        channel_setup.update_channel(
            user=request.user,
            channel=channel,
            name=form.cleaned_data["name"],
            settings=form.settings_data(),
            new_credentials=new_credentials,
            poll_interval_seconds=form.cleaned_data["poll_interval_seconds"],
            departments=form.cleaned_data["departments"],
            reply_defaults=form.reply_defaults(),
        )
        note = _("Channel saved.")
        if new_credentials and channel.status == ChannelStatus.NEEDS_REAUTH:
            note += " " + _("New credentials stored: test the connection, then resume polling.")
        messages.success(request, note)
        return redirect("channels:detail", pk=channel.pk)
    context.update({"form": form, "secret_state": secret_state})
    return render(
        request,
        "channels_integrations/channel_form.html",
        context,
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
def pause_channel(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(pk)
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    channel_setup.pause_channel(user=request.user, channel=channel, reason=reason)
    messages.success(request, _("Channel paused: nothing is polled until you resume it."))
    return redirect("channels:detail", pk=pk)


@admin_required
@require_POST
def resume_channel(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(pk)
    was = channel.status
    channel_setup.resume_channel(user=request.user, channel=channel)
    if was in (ChannelStatus.PAUSED, ChannelStatus.NEEDS_REAUTH):
        messages.success(request, _("Polling started: the first poll is due now."))
    return redirect("channels:detail", pk=pk)


@admin_required
@require_POST
def start_backfill(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(pk)
    form = BackfillForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Backfill: enter a number of days from 1 to 365."))
        return redirect("channels:detail", pk=pk)
    if available_connector(channel.platform) is None:
        messages.error(request, _("This platform's connector is not available yet."))
        return redirect("channels:detail", pk=pk)
    channel_setup.start_backfill(user=request.user, channel=channel, days=form.cleaned_data["days"])
    messages.success(
        request,
        _("Backfill of the last %(days)s days starts with the next poll.")
        % {"days": form.cleaned_data["days"]},
    )
    return redirect(reverse("channels:detail", args=[pk]) + "#backfill")


@admin_required
@require_GET
def backfill_progress(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(pk)
    return render(
        request, "channels_integrations/_backfill_progress.html", _backfill_context(channel)
    )


@admin_required
@require_POST
def request_connection_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a connection test; the page then polls its result (the platform is not called
    from this request)."""
    channel = _managed_channel(pk)
    test = channel_setup.request_connection_test(user=request.user, channel=channel)
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request, "channels_integrations/_connection_test.html", _test_context(channel, test)
        )
    return redirect(reverse("channels:detail", args=[pk]) + "#connection-test")


@admin_required
@require_GET
def connection_test_result(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(pk)
    return render(
        request,
        "channels_integrations/_connection_test.html",
        _test_context(channel, _latest_test(channel)),
    )
