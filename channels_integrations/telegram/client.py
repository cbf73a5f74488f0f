"""Thin HTTP client for the Telegram Bot API, mapping its errors to the normalized taxonomy.

The bot token is part of every URL (`/bot<token>/<method>`), so nothing built from a URL may
leave this module: error messages name the method only, `requests` exceptions are dropped
without being chained (their text contains the URL), and urllib3's debug log line of the request
path is redacted by a logging filter.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.http import PlatformSession

# Telegram's flood control nearly always says how long to wait; when it does not, wait this long.
DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=30)
# "<bot id>:<secret>" as @BotFather hands it out. Anything else could change the URL's path.
TOKEN_RE = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{1,200}$")
_TOKEN_IN_PATH_RE = re.compile(r"/bot[0-9]{1,20}:[A-Za-z0-9_-]+")
_WEBHOOK_CONFLICT = "webhook is active"


class _RedactBotTokens(logging.Filter):
    """urllib3 logs each request line at DEBUG, path (and so the bot token) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_PATH_RE.sub("/bot<redacted>", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_PATH_RE.sub("/bot<redacted>", record.msg)
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactBotTokens) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_RedactBotTokens())


def bot_id_from_token(token: str) -> str:
    """The bot's own user id: the number before the colon of its token ("" if malformed)."""
    return token.split(":", 1)[0] if TOKEN_RE.match(token) else ""


class TelegramClient:
    def __init__(self, base_url: str, token: str, session: PlatformSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self._token = token

    def get_updates(
        self, *, offset: int | None, limit: int, timeout: int, allowed_updates: list[str]
    ) -> list[Any]:
        params: dict[str, Any] = {
            "limit": limit,
            "timeout": timeout,
            "allowed_updates": allowed_updates,
        }
        if offset is not None:
            params["offset"] = offset
        # The long poll holds the request open for `timeout` seconds: the read timeout must
        # outlast it, or every quiet poll would end as a timeout.
        result = self._call("getUpdates", params, action="the poll", read_timeout=timeout + 10)
        if not isinstance(result, list):
            raise Transient("Telegram answered getUpdates without a list of updates.")
        return result

    def get_me(self) -> dict[str, Any]:
        result = self._call("getMe", {}, action="the token check")
        if not isinstance(result, dict):
            raise Transient("Telegram answered getMe without a user object.")
        return result

    def get_webhook_info(self) -> dict[str, Any]:
        result = self._call("getWebhookInfo", {}, action="the webhook check")
        if not isinstance(result, dict):
            raise Transient("Telegram answered getWebhookInfo without a WebhookInfo object.")
        return result

    def send_message(
        self,
        *,
        chat_id: int,
        text: str,
        reply_to_message_id: int | None,
        message_thread_id: int | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_to_message_id is not None:
            # The reply still goes out if the message was deleted meanwhile: the answer matters
            # more than the quote.
            params["reply_parameters"] = {
                "message_id": reply_to_message_id,
                "allow_sending_without_reply": True,
            }
        if message_thread_id is not None:
            params["message_thread_id"] = message_thread_id
        result = self._call("sendMessage", params, action="the reply")
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise Transient("Telegram answered sendMessage without the sent message.")
        return result

    def delete_message(self, *, chat_id: int, message_id: int) -> None:
        self._call(
            "deleteMessage",
            {"chat_id": chat_id, "message_id": message_id},
            action="to delete the message",
        )

    def set_reaction(self, *, chat_id: int, message_id: int, emoji: str) -> None:
        self._call(
            "setMessageReaction",
            {
                "chat_id": chat_id,
                "message_id": message_id,
                "reaction": [{"type": "emoji", "emoji": emoji}],
            },
            action=f"the {emoji} reaction",
        )

    def _call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        action: str,
        read_timeout: float | None = None,
    ) -> Any:
        if not TOKEN_RE.match(self._token):
            raise AuthExpired(
                "The bot token is missing or not in Telegram's format (<bot id>:<secret>); "
                "paste the token @BotFather gave you."
            )
        timeout = self.session.timeout
        if read_timeout is not None:
            timeout = (timeout[0], read_timeout)
        failure = ""
        try:
            response = self.session.post(
                f"{self.base_url}/bot{self._token}/{method}", json=params, timeout=timeout
            )
        except requests.Timeout:
            failure = "Telegram did not answer in time"
        except requests.RequestException as exc:
            failure = f"Telegram could not be reached ({type(exc).__name__})"
        if failure:
            # Raised outside the except block on purpose: a chained requests exception would carry
            # the URL, and with it the bot token, into tracebacks and logs.
            raise Transient(f"{method}: {failure}.")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code >= 500 or response.status_code < 400:
                raise Transient(
                    f"{method}: Telegram answered HTTP {response.status_code} without JSON."
                )
            raise error_for(response.status_code, {}, action=action, headers=response.headers)
        if body.get("ok") is True and response.status_code < 400:
            return body.get("result")
        status = body.get("error_code")
        if not isinstance(status, int) or isinstance(status, bool):
            status = response.status_code
        raise error_for(status, body, action=action, headers=response.headers)


def error_for(
    status: int,
    body: dict[str, Any],
    *,
    action: str,
    headers: Any = None,
) -> ConnectorError:
    """The taxonomy error for one failed Bot API call, with a sentence an agent can act on.

    `action` names what failed ("the reply", "to delete the message"), for messages like
    "Telegram refused the reply: …".
    """
    description = body.get("description")
    detail = description[:300] if isinstance(description, str) and description else f"{status}"
    parameters = body.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    lowered = detail.lower()

    if status == 429:
        retry_at = retry_at_from(parameters, headers)
        wait = max(0, round((retry_at - datetime.now(UTC)).total_seconds()))
        return RateLimited(
            f"Telegram's flood control stopped {action}; it can go again in about {wait} s "
            f"({detail}).",
            retry_at=retry_at,
        )
    if status == 401:
        return AuthExpired(
            "Telegram rejected the bot token (401 Unauthorized): it was revoked or is wrong; "
            "paste the current token from @BotFather."
        )
    if status == 404:
        # The Bot API answers 404 only for a URL it does not know: a malformed token or a wrong
        # base URL. Either way a person has to fix the channel's setup.
        return AuthExpired(
            "Telegram does not know this bot API address (404 Not Found): check the bot token "
            "and the base URL."
        )
    if status == 409:
        if _WEBHOOK_CONFLICT in lowered:
            return ConnectorError(
                "Telegram refuses getUpdates while a webhook is set for this bot: remove the "
                f"webhook (deleteWebhook) or use a bot without one ({detail}).",
                permanent=True,
            )
        # Two pollers on one token. The poll engine never polls one channel twice at once, so
        # another program (or another channel with the same token) is polling this bot.
        return Transient(
            "Telegram ended the poll because another getUpdates request for this bot is running; "
            f"only one program may poll a bot token ({detail})."
        )
    if status == 403:
        if "blocked by the user" in lowered:
            reason = "the user has blocked the bot, so it cannot message them any more"
        elif "kicked" in lowered or "not a member" in lowered:
            reason = "the bot is no longer a member of this chat"
        elif "deactivated" in lowered:
            reason = "the user deleted their Telegram account"
        else:
            reason = "the bot is not allowed to do this in this chat"
        return PermissionDenied(f"Telegram refused {action}: {reason} ({detail}).")
    if status == 400:
        migrated_to = parameters.get("migrate_to_chat_id")
        if isinstance(migrated_to, int) and not isinstance(migrated_to, bool):
            return InvalidRequest(
                f"Telegram refused {action}: the group was upgraded to a supergroup, which has "
                f"the new chat id {migrated_to}; new messages arrive from that chat ({detail})."
            )
        if "not found" in lowered:
            return NotFound(f"Telegram refused {action}: {_not_found_reason(lowered)} ({detail}).")
        if "can't be deleted" in lowered:
            return InvalidRequest(
                f"Telegram refused {action}: bots can delete messages only within 48 hours of "
                "sending, and other people's messages in groups only as an admin allowed to "
                f"delete messages ({detail})."
            )
        if "too long" in lowered:
            return InvalidRequest(
                f"Telegram refused {action}: a message can have at most 4096 characters ({detail})."
            )
        if "text is empty" in lowered:
            return InvalidRequest(f"Telegram refused {action}: the text is empty ({detail}).")
        if "reaction_invalid" in lowered:
            return InvalidRequest(
                f"Telegram refused {action}: reactions with this emoji are not allowed in this "
                f"chat ({detail})."
            )
        return InvalidRequest(f"Telegram refused {action}: {detail}.")
    if status >= 500:
        return Transient(f"Telegram is unavailable (HTTP {status}): {detail}.")
    return ConnectorError(f"Telegram refused {action} with error {status}: {detail}.")


def retry_at_from(parameters: dict[str, Any], headers: Any = None) -> datetime:
    """When flood control lifts: `parameters.retry_after` seconds, else Retry-After, else 30 s."""
    now = datetime.now(UTC)
    retry_after = parameters.get("retry_after")
    if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
        return now + timedelta(seconds=max(1.0, float(retry_after)))
    header = headers.get("Retry-After", "") if headers is not None else ""
    if isinstance(header, str) and header.strip().isdigit():
        return now + timedelta(seconds=max(1, int(header.strip())))
    return now + DEFAULT_RATE_LIMIT_WAIT


def _not_found_reason(lowered: str) -> str:
    if "chat not found" in lowered:
        return "the bot cannot see this chat any more"
    if "to delete" in lowered or "to react" in lowered or "to edit" in lowered:
        return "the message no longer exists"
    if "replied" in lowered:
        return "the message to answer no longer exists"
    if "thread" in lowered or "topic" in lowered:
        return "the topic no longer exists"
    return "it does not exist"
