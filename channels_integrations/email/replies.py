"""Composing a reply: RFC 5322 threading headers, the recipient, a deterministic Message-ID."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from channels_integrations.base import ReplyTarget
from channels_integrations.email.parsing import MESSAGE_ID_RE, message_ids
from channels_integrations.errors import InvalidRequest

# Like mail clients, a long References chain keeps its root and its most recent ids.
MAX_REFERENCES = 20
REPLY_PREFIX_RE = re.compile(r"^\s*(re|aw|antw|sv|vs)\s*(\[\d+\])?\s*:", re.IGNORECASE)
NO_REPLY_RE = re.compile(r"^(mailer-daemon|no-?reply|do-?not-?reply)(\+.*)?$", re.IGNORECASE)


def build_reply(
    *, target: ReplyTarget, text: str, idempotency_key: str, address: str, display_name: str
) -> EmailMessage:
    """The reply as RFC 5322 message: threaded under the target by In-Reply-To/References."""
    headers = target_headers(target)
    recipients = reply_recipients(headers, outbound=target.direction == "outbound")
    if not recipients:
        raise InvalidRequest("Cannot reply: the e-mail has no address a reply could go to.")
    # Line length 998 (RFC 5322's limit): long References must be folded at spaces, never
    # encoded as words, which would break threading.
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    try:
        message["From"] = Address(display_name=display_name, addr_spec=address)
        message["To"] = ", ".join(
            str(Address(display_name=name, addr_spec=recipient))
            for name, recipient in _reply_recipient_names(headers, target.direction == "outbound")
        )
    except (ValueError, IndexError) as exc:
        raise InvalidRequest(f"Cannot reply: an address is not valid ({exc}).") from None
    message["Subject"] = reply_subject(headers.get("Subject", ""))
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = own_message_id(idempotency_key, address)
    parent_ids = message_ids(headers.get("Message-ID", ""))
    if parent_ids:
        parent = parent_ids[0]
        earlier = (
            message_ids(headers.get("References", ""))
            or message_ids(headers.get("In-Reply-To", ""))[:1]
        )
        chain = list(dict.fromkeys([*earlier, parent]))
        if len(chain) > MAX_REFERENCES:
            chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
        message["In-Reply-To"] = parent
        message["References"] = " ".join(chain)
    message.set_content(text)
    return message


def own_message_id(idempotency_key: str, address: str) -> str:
    """<key@domain of our address>: the same key always gives the same id (reconciliation)."""
    local = re.sub(r"[^A-Za-z0-9.\-_]", "", idempotency_key) or "reply"
    domain = address.rpartition("@")[2].lower() or "localhost"
    return f"<{local}@{domain}>"


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if REPLY_PREFIX_RE.match(subject):
        return subject
    return f"Re: {subject}".strip()


def target_headers(target: ReplyTarget) -> dict[str, str]:
    """The headers kept in the target's raw payload; without them, what the target itself
    says (its external id is its Message-ID, its author handle the sender's address)."""
    raw = target.raw if isinstance(target.raw, dict) else {}
    headers = raw.get("headers")
    if isinstance(headers, dict):
        return {str(key): str(value) for key, value in headers.items() if isinstance(value, str)}
    fallback: dict[str, str] = {}
    if "@" in target.author_handle and target.direction != "outbound":
        fallback["From"] = target.author_handle
    if MESSAGE_ID_RE.fullmatch(target.external_id) and not target.external_id.endswith(".invalid>"):
        fallback["Message-ID"] = target.external_id
    return fallback


def _reply_recipient_names(headers: dict[str, str], outbound: bool) -> list[tuple[str, str]]:
    # A follow-up to our own e-mail goes to its recipients, as mail clients do.
    if outbound:
        source = headers.get("To", "")
    else:
        source = headers.get("Reply-To") or headers.get("From", "")
    found: list[tuple[str, str]] = []
    for name, address in getaddresses([source]):
        if (
            "@" in address
            and " " not in address
            and address.lower() not in {a.lower() for _, a in found}
        ):
            found.append((name, address))
    return found


def reply_recipients(headers: dict[str, str], *, outbound: bool) -> list[str]:
    return [address for _, address in _reply_recipient_names(headers, outbound)]
