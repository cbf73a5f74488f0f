"""The channel alarm banner under the top bar: a failing channel is visible on every page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from channels_integrations.models import ChannelAccount, ChannelStatus, Platform
from inbox.access import AnyUser, can_manage_channels

# Needs a person first, then broken, then only slowed down.
_RANK: dict[str, int] = {
    ChannelStatus.NEEDS_REAUTH: 0,
    ChannelStatus.FAILING: 1,
    ChannelStatus.ACTIVE: 2,
}


@dataclass(frozen=True)
class ChannelAlert:
    channel_id: int
    name: str
    platform_label: str
    status: str
    consecutive_failures: int
    rate_limited_until: datetime | None
    url: str


def channel_alerts(request: HttpRequest) -> dict[str, Any]:
    """`channel_alerts`: the channels this user can see that need re-authorization, are failing
    or are rate-limited. Paused channels are a decision, not an alarm: they are left out.

    Lazy: the one query runs only when a template shows the banner, so fragments that never
    mention `channel_alerts` cost nothing.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"channel_alerts": SimpleLazyObject(lambda: alerts_for(user))}


def alerts_for(user: AnyUser) -> list[ChannelAlert]:
    if not user.is_active:
        return []
    now = timezone.now()
    channels = ChannelAccount.objects.filter(
        Q(status__in=(ChannelStatus.NEEDS_REAUTH, ChannelStatus.FAILING))
        | Q(status=ChannelStatus.ACTIVE, rate_limited_until__gt=now)
    )
    if not getattr(user, "is_superuser", False):
        # The same rule as inbox.access.visible_channel_ids, as a subquery to stay one query.
        from inbox.models import Department

        owned = Department.channel_accounts.through.objects.filter(
            department__memberships__user_id=user.pk
        ).values("channelaccount_id")
        channels = channels.filter(pk__in=owned)
    rows = channels.values(
        "id", "name", "platform", "status", "consecutive_failures", "rate_limited_until"
    )
    admin = can_manage_channels(user)
    labels = dict(Platform.choices)
    alerts = [
        ChannelAlert(
            channel_id=row["id"],
            name=row["name"],
            platform_label=_platform_prefix(row["name"], str(labels.get(row["platform"], ""))),
            status=row["status"],
            consecutive_failures=row["consecutive_failures"],
            rate_limited_until=row["rate_limited_until"],
            url=reverse("channels:detail", args=[row["id"]])
            if admin
            else f"{reverse('channels:list')}#channel-{row['id']}",
        )
        for row in rows
    ]
    alerts.sort(key=lambda alert: (_RANK.get(alert.status, 3), alert.name.lower()))
    return alerts


def _platform_prefix(name: str, label: str) -> str:
    # "Facebook Brand page", but not "Mastodon Mastodon @brand".
    return "" if name.lower().startswith(label.lower()) else label
