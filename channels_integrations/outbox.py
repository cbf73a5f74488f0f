"""Delivery of one outbox row to its platform.

Guarantees:
- the claim (a conditional UPDATE queued → sending) makes delivery happen at most once per claim;
- a reply whose earlier attempt ended without an answer (a timeout after the request went out,
  a worker killed mid-call: `outcome_unknown`) is never posted blindly again. Inside the
  platform's idempotency window the same key is sent (the platform returns the first post);
  otherwise the connector looks for our reply on the platform first (find_sent_reply), and a
  platform that cannot tell fails the action with "it may have been posted";
- hide, unhide, like and ban are idempotent on the platforms (doing them twice leaves the same
  state), and a delete of an item that is already gone is done;
- a permanent refusal fails the action with the platform's reason, shown to the agent;
- a refused token never fails a reply: the reply is held (queued, the reason shown) while the
  channel needs re-authorization, no platform call is made for it meanwhile, and the first poll
  that goes through again (the token works) sends the channel's held and waiting replies;
- a reply whose attempts ended in platform errors inside the platform's idempotency window is
  retried (with back-off) past OUTBOX_MAX_ATTEMPTS until the window closes: a 5xx outage of
  minutes does not turn a reply the platform never took into "it may have been posted".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from channels_integrations.actions import record_poll_needs_reauth
from channels_integrations.base import CannotReconcile, Connector, ReplyTarget, SentItem
from channels_integrations.errors import AuthExpired, ConnectorError, NotFound, RateLimited
from channels_integrations.models import ChannelAccount, ChannelStatus
from channels_integrations.registry import connector_for, record_connector_usage
from inbox import actions
from inbox.models import Message, OutboundAction, OutboundKind

logger = logging.getLogger(__name__)

# Platforms stamp posts with their own clock: look for our reply a little before we asked.
RECONCILE_SLACK = timedelta(minutes=2)

# Shown beside a reply held while its channel's token is refused (it is not lost, not failed).
HELD_FOR_REAUTH = "The channel needs to be re-authorized; this is held and goes out once it is."


def deliver(action_id: int) -> datetime | None:
    """Send one action. Returns when to try again (the task schedules it), or None when done."""
    if _hold_while_channel_needs_reauth(action_id):
        return None
    action = actions.claim_outbound_action(action_id)
    if action is None:
        return None
    account = action.conversation.channel_account
    connector: Connector | None = None
    try:
        target_message = (
            Message.objects.select_related("contact", "conversation", "channel_account")
            .filter(channel_account=account, external_id=action.target_external_id)
            .first()
        )
        if target_message is None:
            raise ConnectorError("The message this action is about is no longer in the inbox.")
        target = actions.action_target(target_message)
        connector = connector_for(account)
        result = _carry_out(connector, action, target)
    except RateLimited as exc:
        record_connector_usage(account.pk, connector)
        actions.schedule_outbound_retry(action, at=exc.retry_at, reason=exc.message)
        return exc.retry_at
    except AuthExpired as exc:
        record_connector_usage(account.pk, connector)
        record_poll_needs_reauth(account.pk, error=exc.message)
        status = ChannelAccount.objects.values_list("status", flat=True).get(pk=account.pk)
        if status != ChannelStatus.NEEDS_REAUTH:
            # A paused channel is not polled, so nothing would ever release a held action.
            actions.mark_outbound_failed(
                action, reason=f"The channel needs to be re-authorized: {exc.message}"
            )
            return None
        # The platform refused the token, so it did not take the action: hold it (no retry is
        # scheduled; the first poll that works again releases it, see release_waiting_deliveries).
        actions.schedule_outbound_retry(
            action, at=timezone.now(), reason=f"{HELD_FOR_REAUTH} ({exc.message})"
        )
        return None
    except NotFound as exc:
        record_connector_usage(account.pk, connector)
        if action.kind == OutboundKind.DELETE:
            # Already gone from the platform: what the agent wanted.
            actions.mark_outbound_sent(action)
            return None
        actions.mark_target_deleted(action)
        actions.mark_outbound_failed(
            action, reason=f"The item is no longer on the platform: {exc.message}"
        )
        return None
    except CannotReconcile:
        record_connector_usage(account.pk, connector)
        actions.mark_outbound_failed(action, reason=actions.MAYBE_POSTED)
        return None
    except ConnectorError as exc:
        record_connector_usage(account.pk, connector)
        if exc.permanent:
            actions.mark_outbound_failed(action, reason=exc.message)
            return None
        ambiguous = action.kind in actions.REPLY_KINDS
        # Inside the idempotency window a retry cannot post twice, so an outage longer than
        # OUTBOX_MAX_ATTEMPTS back-offs does not give the reply up.
        retry_is_safe = (
            ambiguous and connector is not None and _inside_idempotency_window(connector, action)
        )
        if action.attempts < settings.OUTBOX_MAX_ATTEMPTS or retry_is_safe:
            retry_at = timezone.now() + timedelta(seconds=min(10 * 3 ** (action.attempts - 1), 900))
            actions.schedule_outbound_retry(
                action, at=retry_at, reason=exc.message, outcome_unknown=ambiguous
            )
            return retry_at
        suffix = f" {actions.MAYBE_POSTED}" if ambiguous else ""
        actions.mark_outbound_failed(action, reason=f"{exc.message}.{suffix}")
        return None
    except Exception as exc:
        logger.exception("outbound action %s crashed", action_id)
        record_connector_usage(account.pk, connector)
        reason = f"Internal error ({type(exc).__name__})."
        if action.kind in actions.REPLY_KINDS and connector is not None:
            # It may have crashed after the platform took the reply (reading the answer).
            reason = f"{reason} {actions.MAYBE_POSTED}"
        actions.mark_outbound_failed(action, reason=reason)
        return None
    record_connector_usage(account.pk, connector)
    sent, reconciled = result
    actions.mark_outbound_sent(
        action,
        external_id=sent.external_id if sent else "",
        permalink=sent.permalink if sent else "",
        reconciled=reconciled,
    )
    return None


def _carry_out(
    connector: Connector, action: OutboundAction, target: ReplyTarget
) -> tuple[SentItem | None, bool]:
    """Do the action on the platform; returns (the posted item for replies, reconciled?)."""
    kind = action.kind
    if kind in actions.REPLY_KINDS:
        if action.outcome_unknown and not _inside_idempotency_window(connector, action):
            found = connector.find_sent_reply(
                target=target, text=action.text, not_before=action.created_at - RECONCILE_SLACK
            )
            if found is not None:
                logger.info("outbound action %s: reply found on the platform", action.pk)
                return found, True
        send = connector.private_reply if kind == OutboundKind.PRIVATE_REPLY else connector.reply
        return send(
            target=target, text=action.text, idempotency_key=str(action.idempotency_key)
        ), False
    if kind in (OutboundKind.HIDE, OutboundKind.UNHIDE):
        connector.set_hidden(target=target, hidden=kind == OutboundKind.HIDE)
    elif kind == OutboundKind.DELETE:
        connector.delete(target=target)
    elif kind == OutboundKind.LIKE:
        connector.like(target=target)
    elif kind == OutboundKind.BAN:
        connector.ban(target=target)
    else:
        raise ConnectorError(f"Unknown action {kind!r}.")
    return None, False


def _inside_idempotency_window(connector: Connector, action: OutboundAction) -> bool:
    """The platform itself deduplicates by our key (Mastodon for an hour after the first try)."""
    window = connector.idempotency_window
    return window is not None and timezone.now() < action.created_at + window


def _hold_while_channel_needs_reauth(action_id: int) -> bool:
    """True when the action's channel waits for re-authorization: nothing is sent with a token
    the platform refused. The row stays queued and says why; requeue_stalled_actions and
    release_waiting_deliveries bring it back."""
    account = (
        ChannelAccount.objects.filter(conversations__outbound_actions__pk=action_id)
        .values_list("pk", "status")
        .first()
    )
    if account is None or account[1] != ChannelStatus.NEEDS_REAUTH:
        return False
    if actions.hold_outbound_action(action_id, reason=HELD_FOR_REAUTH):
        logger.info(
            "outbound action %s held: channel %s needs re-authorization", action_id, account[0]
        )
    return True


def release_waiting_deliveries(account_id: int) -> list[int]:
    """The channel answers again (a poll went through after an error, or after re-authorization):
    its queued actions go now instead of at their back-off time. A duplicate of a task that is
    still scheduled is harmless: only one claim succeeds."""
    return actions.release_queued_actions(channel_account_id=account_id)
