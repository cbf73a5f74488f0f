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
- a permanent refusal fails the action with the platform's reason, shown to the agent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from channels_integrations.actions import record_poll_needs_reauth
from channels_integrations.base import CannotReconcile, Connector, ReplyTarget, SentItem
from channels_integrations.errors import AuthExpired, ConnectorError, NotFound, RateLimited
from channels_integrations.registry import connector_for, record_connector_usage
from inbox import actions
from inbox.models import Message, OutboundAction, OutboundKind

logger = logging.getLogger(__name__)

# Platforms stamp posts with their own clock: look for our reply a little before we asked.
RECONCILE_SLACK = timedelta(minutes=2)


def deliver(action_id: int) -> datetime | None:
    """Send one action. Returns when to try again (the task schedules it), or None when done."""
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
        actions.mark_outbound_failed(
            action, reason=f"The channel needs to be re-authorized: {exc.message}"
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
        if action.attempts < settings.OUTBOX_MAX_ATTEMPTS:
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
