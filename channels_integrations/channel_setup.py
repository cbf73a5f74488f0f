"""Writes of the channel setup screens: connect, configure, pause, resume, backfill, test.

Every function here is for admins (`can_manage_channels`) and raises AccessDenied for anyone else.
Changes by people are written with the channel's row lock held and only to the fields they own,
so a poll that finishes at the same moment neither loses its own result nor undoes the change.
Credentials go in encrypted (`ChannelAccount.set_credentials`) and are never logged: log lines
name the channel and the user, nothing else.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_integrations.base import ConnectionCheck, ConnectionSettings
from channels_integrations.crypto import CredentialsUnreadable
from channels_integrations.errors import ConnectorError
from channels_integrations.http import platform_session
from channels_integrations.models import (
    ChannelAccount,
    ChannelStatus,
    ConnectionTest,
)
from channels_integrations.registry import (
    connector_class,
    connector_for,
    record_connector_usage,
)
from inbox.access import AccessDenied, AnyUser, can_manage_channels
from inbox.models import Department

logger = logging.getLogger(__name__)

NEW_CHANNEL_REASON = "New channel: test the connection, then start polling"
MIN_POLL_INTERVAL_SECONDS = 2
MAX_POLL_INTERVAL_SECONDS = 24 * 60 * 60
MAX_BACKFILL_DAYS = 365


def _check_admin(user: AnyUser) -> None:
    if not can_manage_channels(user):
        raise AccessDenied(_("only admins may set up channels"))


def _check_interval(seconds: int) -> None:
    if not MIN_POLL_INTERVAL_SECONDS <= seconds <= MAX_POLL_INTERVAL_SECONDS:
        raise ValueError(f"poll interval out of range: {seconds}")


def _backfill_start(days: int) -> datetime:
    if not 0 < days <= MAX_BACKFILL_DAYS:
        raise ValueError(f"backfill days out of range: {days}")
    return timezone.now() - timedelta(days=days)


def create_channel(
    *,
    user: AnyUser,
    platform: str,
    name: str,
    settings: Mapping[str, Any],
    credentials: Mapping[str, Any],
    poll_interval_seconds: int,
    departments: Iterable[Department] = (),
    backfill_days: int = 0,
    reply_defaults: Mapping[str, str] | None = None,
) -> ChannelAccount:
    """Connect a new channel, paused until an admin has tested it and starts polling.

    One transaction: the row, its owning departments and its first cursor (from the connector's
    `initial_cursor`, with history back `backfill_days` days, or only new items for 0) commit
    together. Raises LookupError/ImportError when the platform's connector is not available.
    """
    _check_admin(user)
    _check_interval(poll_interval_seconds)
    connector_class(platform)  # fail before writing anything when the platform is unavailable
    backfill_since = _backfill_start(backfill_days) if backfill_days else None
    with transaction.atomic():
        account = ChannelAccount(
            platform=platform,
            name=name,
            settings=dict(settings),
            poll_interval_seconds=poll_interval_seconds,
            status=ChannelStatus.PAUSED,
            status_reason=NEW_CHANNEL_REASON,
            backfill_since=backfill_since,
            **_reply_defaults(reply_defaults),
        )
        account.set_credentials(dict(credentials))
        account.save()
        account.departments.set(departments)
        connector = connector_for(account)
        try:
            account.cursor = connector.initial_cursor(backfill_since=backfill_since)
        finally:
            connector.session.close()
        account.save(update_fields=["cursor"])
    logger.info("channel %s (%s) created by user %s", account.pk, platform, user.pk)
    return account


def update_channel(
    *,
    user: AnyUser,
    channel: ChannelAccount,
    name: str,
    settings: Mapping[str, Any],
    new_credentials: Mapping[str, Any],
    poll_interval_seconds: int,
    departments: Iterable[Department],
    reply_defaults: Mapping[str, str] | None = None,
) -> ChannelAccount:
    """Change a channel's name, settings, poll interval and owners; replace the secrets given.

    Secrets are write-only: `new_credentials` holds only the ones the admin typed in; every other
    stored secret is kept. Status, cursor and the poll bookkeeping are left to their owners.
    """
    _check_admin(user)
    _check_interval(poll_interval_seconds)
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=channel.pk)
        account.name = name
        account.settings = {**account.settings, **settings}
        account.poll_interval_seconds = poll_interval_seconds
        fields = ["name", "settings", "poll_interval_seconds"]
        for name, value in _reply_defaults(reply_defaults).items():
            setattr(account, name, value)
            fields.append(name)
        if new_credentials:
            try:
                stored = account.get_credentials()
            except CredentialsUnreadable:
                stored = {}  # unreadable with today's key: what is typed now replaces it
            account.set_credentials({**stored, **new_credentials})
            fields.append("credentials_encrypted")
        account.save(update_fields=fields)
        account.departments.set(departments)
    logger.info(
        "channel %s updated by user %s (secrets replaced: %s)",
        account.pk,
        user.pk,
        ", ".join(sorted(new_credentials)) or "none",
    )
    return account


def _reply_defaults(values: Mapping[str, str] | None) -> dict[str, str]:
    """The composer's defaults for the channel (tone "du"/"sie"/"" and a language code)."""
    if values is None:
        return {}
    tone = values.get("default_tone", "")
    if tone not in {"", "du", "sie"}:
        raise ValueError(f"unknown reply tone: {tone!r}")
    return {"default_tone": tone, "default_language": values.get("default_language", "")[:12]}


def pause_channel(*, user: AnyUser, channel: ChannelAccount, reason: str = "") -> ChannelAccount:
    """Stop polling a channel until someone resumes it. Polls never undo a pause."""
    _check_admin(user)
    reason = reason.strip() or f"Paused by {user.get_username()}"
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=channel.pk)
        account.status = ChannelStatus.PAUSED
        account.status_reason = reason[:300]
        account.save(update_fields=["status", "status_reason"])
    logger.info("channel %s paused by user %s", account.pk, user.pk)
    return account


def resume_channel(*, user: AnyUser, channel: ChannelAccount) -> ChannelAccount:
    """Start (or restart) polling a paused channel or one that waited for re-authorization.

    The channel becomes active and due now; the next poll shows whether the credentials work.
    Active and failing channels are polled already and stay as they are.
    """
    _check_admin(user)
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=channel.pk)
        if account.status not in (ChannelStatus.PAUSED, ChannelStatus.NEEDS_REAUTH):
            return account
        previous = account.status
        account.status = ChannelStatus.ACTIVE
        account.status_reason = ""
        account.next_poll_at = timezone.now()
        account.save(update_fields=["status", "status_reason", "next_poll_at"])
    logger.info("channel %s resumed (was %s) by user %s", account.pk, previous, user.pk)
    return account


def start_backfill(*, user: AnyUser, channel: ChannelAccount, days: int) -> ChannelAccount:
    """Read the channel's history again, back `days` days (1 to 365), from the next poll on.

    Safe to repeat: ingestion ignores items the channel already has, so a backfill only adds what
    is missing. A poll running right now notices the moved cursor and stops without writing.
    """
    _check_admin(user)
    since = _backfill_start(days)
    # The starting cursor needs the settings only: no credentials are decrypted for it, so a
    # channel whose stored credentials cannot be read still gets its backfill.
    connector = connector_class(channel.platform)(
        ConnectionSettings(settings=dict(channel.settings), credentials={}), platform_session()
    )
    try:
        cursor = connector.initial_cursor(backfill_since=since)
    finally:
        connector.session.close()
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().get(pk=channel.pk)
        account.backfill_since = since
        account.backfill_completed_at = None
        account.cursor = cursor
        account.save(update_fields=["backfill_since", "backfill_completed_at", "cursor"])
    logger.info("channel %s backfill from %s started by user %s", account.pk, since, user.pk)
    return account


def request_connection_test(*, user: AnyUser, channel: ChannelAccount) -> ConnectionTest:
    """Record a connection test and hand it to a worker after commit.

    The web request never calls the platform; the page polls the row until the worker has
    filled in the checks. A lost hand-off (broker down) leaves the row unfinished, which the
    page reports after a while.
    """
    _check_admin(user)
    test = ConnectionTest.objects.create(channel=channel, requested_by_id=user.pk)

    def enqueue() -> None:
        from channels_integrations.tasks import run_connection_test

        try:
            run_connection_test.delay(test.pk)
        except Exception:
            logger.exception("could not enqueue connection test %s", test.pk)

    transaction.on_commit(enqueue, robust=True)
    logger.info(
        "connection test %s of channel %s requested by user %s", test.pk, channel.pk, user.pk
    )
    return test


def run_connection_test(*, test_id: int) -> ConnectionTest | None:
    """Carry out one connection test (worker side) and store what works and what is missing.

    Idempotent: a finished test is not run again. The connector's report is stored as it is,
    with any stored secret that shows up in it masked; an unexpected exception becomes a failed
    check "Internal error (<type>)" and is logged by type and stack only, never by its message,
    which may carry a URL with a token in it.
    """
    test = ConnectionTest.objects.select_related("channel").filter(pk=test_id).first()
    if test is None or test.finished_at is not None:
        return test
    channel = test.channel
    from inbox.notifications import languages_of  # inbox imports this app's models

    # The report is stored, then read by the admin who asked: written in their language.
    language = (
        languages_of([test.requested_by_id])[test.requested_by_id]
        if test.requested_by_id is not None
        else settings.LANGUAGE_CODE
    )
    with translation.override(language):
        checks, error, secrets = _connection_checks(test, channel)
    test.checks = [
        {
            "name": _mask(check.name, secrets),
            "ok": bool(check.ok),
            "detail": _mask(check.detail, secrets),
        }
        for check in checks
    ]
    test.error = error[:300]
    test.finished_at = timezone.now()
    test.save(update_fields=["checks", "error", "finished_at"])
    logger.info(
        "connection test %s of channel %s finished: %s",
        test.pk,
        channel.pk,
        "ok" if test.ok else "failed",
    )
    return test


def _connection_checks(
    test: ConnectionTest, channel: ChannelAccount
) -> tuple[list[ConnectionCheck], str, list[str]]:
    """The connector's checks of `channel`, the error to store, and the secrets to mask."""
    secrets: list[str] = []
    error = ""
    try:
        try:
            secrets = [v for v in channel.get_credentials().values() if isinstance(v, str)]
        except CredentialsUnreadable:
            checks = [
                ConnectionCheck(
                    _("Credentials"),
                    False,
                    _(
                        "The stored credentials cannot be decrypted with this server's key: "
                        "enter them again."
                    ),
                )
            ]
            error = "credentials unreadable"
        else:
            connector = connector_for(channel)
            try:
                checks = list(connector.test_connection())
            finally:
                connector.session.close()
                # Quota the test spent, and a token it refreshed (a rotated refresh token
                # that is not stored would lock the channel out).
                record_connector_usage(channel.pk, connector)
    except (ImportError, LookupError):
        checks = [ConnectionCheck(_("Connector"), False, _("This platform is not available yet."))]
        error = "connector not available"
    except ConnectorError as exc:
        checks = [ConnectionCheck(_("Connection"), False, exc.message)]
        error = type(exc).__name__
    except Exception as exc:
        kind = type(exc).__name__
        checks = [
            ConnectionCheck(
                _("Internal error (%(kind)s)") % {"kind": kind},
                False,
                _("The test stopped unexpectedly; see the logs."),
            )
        ]
        error = f"Internal error ({kind})"
        logger.error(
            "connection test %s of channel %s crashed with %s:\n%s",
            test.pk,
            channel.pk,
            kind,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
    return checks, error, secrets


def _mask(text: str, secrets: list[str]) -> str:
    # Short values ("1", "yes") would mask ordinary words; real secrets are long.
    for secret in secrets:
        if len(secret) >= 6:
            text = text.replace(secret, "•••")
    return text
