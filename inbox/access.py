"""The one access helper: which channels a user may see, and what they may do there.

Pages, actions, the live-update consumer and (later) the API all ask here; nothing else decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

if TYPE_CHECKING:
    from inbox.models import Conversation

AnyUser = AbstractBaseUser | AnonymousUser


class AccessDenied(Exception):
    """The user may not do this; callers answer 404 (views) or refuse (consumers)."""


def visible_channel_ids(user: AnyUser) -> set[int] | None:
    """Channel ids the user may see, or None for every channel (admins)."""
    from inbox.models import Department

    if not user.is_authenticated or not user.is_active:
        return set()
    if getattr(user, "is_superuser", False):
        return None
    return set(
        Department.channel_accounts.through.objects.filter(
            department__memberships__user_id=user.pk
        ).values_list("channelaccount_id", flat=True)
    )


def visible_channel_ids_by_user(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """visible_channel_ids for many members in one query (superusers: decided by the caller,
    they see every channel; inactive users: by the caller too)."""
    from inbox.models import Department

    visible: dict[int, set[int]] = defaultdict(set)
    ids = set(user_ids)
    if ids:
        for user_id, channel_id in Department.channel_accounts.through.objects.filter(
            department__memberships__user_id__in=ids
        ).values_list("department__memberships__user_id", "channelaccount_id"):
            visible[user_id].add(channel_id)
    return visible


def visible_channels_subquery(user: AnyUser) -> QuerySet[Any] | None:
    """The same rule as visible_channel_ids, as a subquery (None: every channel)."""
    from inbox.models import Department

    if not user.is_authenticated or not user.is_active:
        return Department.channel_accounts.through.objects.none().values("channelaccount_id")
    if getattr(user, "is_superuser", False):
        return None
    return Department.channel_accounts.through.objects.filter(
        department__memberships__user_id=user.pk
    ).values("channelaccount_id")


def can_view_channel(user: AnyUser, channel_account_id: int) -> bool:
    ids = visible_channel_ids(user)
    return ids is None or channel_account_id in ids


def check_can_reply(user: AnyUser, conversation: Conversation) -> None:
    if not can_view_channel(user, conversation.channel_account_id):
        raise AccessDenied("not allowed to reply in this conversation")


def can_manage_channels(user: AnyUser) -> bool:
    """Connecting, configuring, pausing and testing channels is for admins only."""
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))
