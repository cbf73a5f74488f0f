"""Delivery of one outbox row to its platform.

The claim (a conditional UPDATE queued → sending) makes delivery happen at most once per claim;
every call carries the row's idempotency key, so a retry after an ambiguous failure (timeout, 5xx,
a worker killed mid-call) cannot post the same reply twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from channels_integrations.actions import record_poll_needs_reauth
from channels_integrations.base import ReplyTarget
from channels_integrations.errors import AuthExpired, ConnectorError, RateLimited
from channels_integrations.registry import connector_for
from inbox import actions
from inbox.models import Message, OutboundKind

logger = logging.getLogger(__name__)


def deliver(action_id: int) -> datetime | None:
    """Send one action. Returns when to try again (the task schedules it), or None when done."""
    action = actions.claim_outbound_action(action_id)
    if action is None:
        return None
    account = action.conversation.channel_account
    try:
        if action.kind != OutboundKind.REPLY:
            raise ConnectorError(f"{action.get_kind_display()} is not supported yet")
        target = (
            Message.objects.select_related("contact")
            .filter(channel_account=account, external_id=action.target_external_id)
            .first()
        )
        if target is None:
            raise ConnectorError("the message this replies to is no longer in the inbox")
        connector = connector_for(account)
        sent = connector.reply(
            target=ReplyTarget(
                external_id=action.target_external_id,
                author_handle=target.contact.handle if target.contact else "",
                raw=target.raw if isinstance(target.raw, dict) else {},
            ),
            text=action.text,
            idempotency_key=str(action.idempotency_key),
        )
    except RateLimited as exc:
        actions.schedule_outbound_retry(action, at=exc.retry_at, reason=exc.message)
        return exc.retry_at
    except AuthExpired as exc:
        record_poll_needs_reauth(account.pk, error=exc.message)
        actions.mark_outbound_failed(
            action, reason=f"The channel needs to be re-authorized: {exc.message}"
        )
        return None
    except ConnectorError as exc:
        if exc.permanent:
            actions.mark_outbound_failed(action, reason=exc.message)
            return None
        if action.attempts < settings.OUTBOX_MAX_ATTEMPTS:
            # Same idempotency key on the next attempt: a post that did get through is returned,
            # not repeated.
            retry_at = timezone.now() + timedelta(seconds=min(10 * 3 ** (action.attempts - 1), 900))
            actions.schedule_outbound_retry(action, at=retry_at, reason=exc.message)
            return retry_at
        actions.mark_outbound_failed(action, reason=f"{exc.message}. {actions.MAYBE_POSTED}")
        return None
    except Exception as exc:
        logger.exception("outbound action %s crashed", action_id)
        actions.mark_outbound_failed(action, reason=f"Internal error ({type(exc).__name__}).")
        return None
    actions.mark_outbound_sent(action, external_id=sent.external_id, permalink=sent.permalink)
    return None
