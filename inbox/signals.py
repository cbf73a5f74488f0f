from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from inbox.live import end_live_session
from inbox.models import (
    Department,
    DepartmentHoliday,
    DepartmentHours,
    Membership,
    RoutingRule,
    SlaPolicy,
)
from inbox.presence import refresh_live_groups
from inbox.team_config import forget_team_config


@receiver(user_logged_out)
def close_live_connections_on_logout(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    # Sent before the session is flushed, so its key still names the tabs to close.
    if user is not None and request is not None and request.session.session_key:
        end_live_session(user.pk, request.session.session_key)


# Who sees which channel changed: open live sockets re-join their groups at once (the consumer
# recomputes them), instead of keeping the old ones until the page reconnects.
@receiver([post_save, post_delete], sender=Membership)
def membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    refresh_live_groups([instance.user_id])


@receiver(m2m_changed, sender=Department.channel_accounts.through)
def department_channels_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    members = Membership.objects.all()
    if isinstance(instance, Department):
        members = members.filter(department=instance)
    refresh_live_groups(set(members.values_list("user_id", flat=True)))


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def user_changed(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # Superuser and active flags decide visibility too; a login's last_login save does not.
    if not created and set(kwargs.get("update_fields") or ()) != {"last_login"}:
        refresh_live_groups([instance.pk])


# What ingest's cached routing rules and SLA book are made of (inbox.team_config).
_TEAM_CONFIG = (Department, DepartmentHours, DepartmentHoliday, Membership, RoutingRule, SlaPolicy)
# Moderation's rules, guidelines and storm mode are cached the same way (moderation.rules,
# moderation.guidelines, moderation.incidents), by label: the moderation app builds on this one.
_MODERATION_CONFIG = {
    "moderation.moderationrule",
    "moderation.communityguideline",
    "moderation.incident",
    "moderation.personlisting",
}
_TEAM_LINKS = (
    Department.channel_accounts.through,
    RoutingRule.channel_accounts.through,
    RoutingRule.add_tags.through,
    SlaPolicy.channel_accounts.through,
    SlaPolicy.departments.through,
)


@receiver([post_save, post_delete])
def team_config_changed(sender: Any, **kwargs: Any) -> None:
    # Users too: an assignee deactivated or made admin changes what a rule may do.
    label = sender._meta.label
    if (
        sender in _TEAM_CONFIG
        or label == settings.AUTH_USER_MODEL
        or label.lower() in _MODERATION_CONFIG
    ):
        _forget_now_and_on_commit()


@receiver(post_save, sender="inbox.Person")
def person_flags_changed(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # Ingest's moderation caches who is banned and VIP (moderation.pipeline). A new person
    # (ingest makes many, in bulk and without signals) matters only when born flagged.
    if not created or instance.banned or instance.vip:
        _forget_now_and_on_commit()


@receiver(m2m_changed)
def team_links_changed(sender: Any, action: str, **kwargs: Any) -> None:
    if sender in _TEAM_LINKS and action.startswith("post_"):
        _forget_now_and_on_commit()


def _forget_now_and_on_commit() -> None:
    # Now, for this transaction's own reads; and after the commit, so that a copy another
    # thread read in between (the rows before the change) does not live on for 30 seconds.
    forget_team_config()
    transaction.on_commit(forget_team_config)
