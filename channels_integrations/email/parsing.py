"""E-mail parsing: RFC 5322 bytes → InboundItem, with the stdlib's email package.

Mail is hostile input: headers in RFC 2047 words or raw 8-bit bytes, charsets Python does not
know, Message-IDs without brackets or longer than the database allows. Everything here degrades
to something readable instead of raising; an e-mail that cannot be read at all raises, and the
connector skips it with its UID.

Threading follows RFC 5322 section 3.6.4: the thread is the first Message-ID of References
(the root of the conversation), the parent is In-Reply-To.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime

from channels_integrations.base import InboundAuthor, InboundItem, ItemState
from channels_integrations.email.imap import FetchedMail
from channels_integrations.errors import MalformedPayload
from channels_integrations.text import html_to_text
from inbox.models import ConversationKind

MAX_ATTACHMENTS = 50
MAX_HEADER_CHARS = 4000
# Message.external_id is 200 characters; longer Message-IDs are hashed (see message_key).
MAX_ID_CHARS = 200
KEPT_HEADERS = ("Message-ID", "In-Reply-To", "References", "Subject", "From", "To", "Date")
MESSAGE_ID_RE = re.compile(r"<([^<>]+)>")


def normalize_mail(
    mail: FetchedMail,
    *,
    own_address: str,
    mailbox: str,
    uidvalidity: int,
    header_only: bool = False,
) -> InboundItem:
    """One fetched e-mail as an item; raises MalformedPayload (or the parser's own errors) for
    an e-mail that cannot be read at all."""
    if mail.body is None:
        raise MalformedPayload("the server sent no message body")
    message = BytesParser(policy=policy.default).parsebytes(mail.body, headersonly=header_only)
    if not message.keys():
        raise MalformedPayload("the e-mail has no header fields")
    headers = {name: value for name in KEPT_HEADERS if (value := header_text(message, name))}
    reply_to = header_text(message, "Reply-To")
    if reply_to:
        headers["Reply-To"] = reply_to
    sender = first_address(message, "From")
    if sender is None:
        raise MalformedPayload("the e-mail has no readable sender (From) address")
    address, display_name = sender

    own_ids = message_ids(headers.get("Message-ID", ""))
    external_id = message_key(own_ids[0]) if own_ids else _content_key(message, mail.body)
    references = [message_key(mid) for mid in message_ids(headers.get("References", ""))]
    in_reply_to = [message_key(mid) for mid in message_ids(headers.get("In-Reply-To", ""))]
    parent = in_reply_to[0] if in_reply_to else (references[-1] if references else "")
    thread_key = references[0] if references else (parent or external_id)

    created_at = mail.internaldate or _date_header(headers.get("Date", ""))
    if created_at is None:
        raise MalformedPayload("the e-mail has neither an arrival time nor a readable Date")

    if header_only:
        megabytes = (mail.size or 0) / (1024 * 1024)
        text = (
            f"(This e-mail is {megabytes:.1f} MB, too large to show here: open it in the mailbox.)"
        )
        attachments: list[dict[str, str]] = []
    else:
        text, attachments = body_and_attachments(message)

    flags = {flag.lower() for flag in mail.flags}
    return InboundItem(
        external_id=external_id,
        thread_key=thread_key[:MAX_ID_CHARS],
        kind=ConversationKind.EMAIL,
        author=InboundAuthor(
            external_id=address.lower()[:MAX_ID_CHARS],
            handle=address.lower(),
            display_name=display_name,
        ),
        text=text,
        created_at=created_at,
        parent_external_id=parent if parent != external_id else "",
        language=header_text(message, "Content-Language").split(",")[0].strip()[:12],
        post_text=headers.get("Subject", ""),
        state=ItemState.DELETED if "\\deleted" in flags else ItemState.VISIBLE,
        from_self=address.lower() == own_address.lower(),
        attachments=tuple(attachments),
        raw={
            "uid": mail.uid,
            "uidvalidity": uidvalidity,
            "mailbox": mailbox,
            "flags": list(mail.flags),
            "size": mail.size,
            "headers": headers,
            **({"truncated": True} if header_only else {}),
        },
    )


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a header value, each as <id>. Tolerates ids without brackets."""
    found = ["<" + "".join(mid.split()) + ">" for mid in MESSAGE_ID_RE.findall(value)]
    if not found:
        # Broken clients write "In-Reply-To: abc@host"; comments in parentheses are not ids.
        bare = re.sub(r"\([^)]*\)", " ", value)
        found = [f"<{token}>" for token in bare.split() if "@" in token and "<" not in token]
    return [mid for mid in found if len(mid) > 2]


def message_key(message_id: str) -> str:
    """The external id of a Message-ID: itself, or a hash when it is too long to store."""
    if len(message_id) <= MAX_ID_CHARS:
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()
    return f"<{digest}@long-message-id.invalid>"


def _content_key(message: Message, raw: bytes) -> str:
    """For e-mails without a Message-ID: stable across re-deliveries of the same bytes."""
    _, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    digest = hashlib.sha256()
    for name in ("From", "Date", "Subject"):
        digest.update(header_text(message, name).encode("utf-8", "replace") + b"\0")
    digest.update(body)
    return f"<{digest.hexdigest()[:40]}@no-message-id.invalid>"


def header_text(message: Message, name: str) -> str:
    """A header decoded to text (RFC 2047 words, odd charsets), unfolded, never raising."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:
        # The stdlib raises on some malformed headers; fall back to the raw value.
        text = next((str(v) for k, v in message.raw_items() if k.lower() == name.lower()), "")
    return " ".join(clean_text(text).split())[:MAX_HEADER_CHARS]


def first_address(message: Message, name: str) -> tuple[str, str] | None:
    """(address, display name) of the first mailbox in an address header."""
    try:
        header = message.get(name)
        for address in getattr(header, "addresses", ()):
            if "@" in address.addr_spec:
                return clean_text(address.addr_spec), clean_text(address.display_name)
    except Exception:  # noqa: S110 - the plain parser below gets its chance
        pass
    display_name, address = parseaddr(header_text(message, name))
    if "@" in address and " " not in address:
        return clean_text(address), clean_text(display_name)
    return None


def body_and_attachments(message: Message) -> tuple[str, list[dict[str, str]]]:
    """text/plain if there is one, else text/html as text; attachments by name only."""
    body: Message | None
    try:
        body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    except Exception:
        body = None
    text = ""
    if body is not None:
        content = part_text(body)
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()
    attachments: list[dict[str, str]] = []
    _collect_attachments(message, body, attachments)
    return text, attachments


def part_text(part: Message) -> str:
    """A text part's content; an unknown or lying charset falls back instead of raising."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return clean_text(content)
    except Exception:  # noqa: S110 - decode the raw payload below
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def _collect_attachments(part: Message, body: Message | None, out: list[dict[str, str]]) -> None:
    if len(out) >= MAX_ATTACHMENTS or part is body:
        return
    content_type = part.get_content_type()
    try:
        filename = clean_text(part.get_filename() or "")
    except Exception:
        filename = ""
    if content_type == "message/rfc822":
        out.append({"name": filename or "forwarded-message.eml", "url": "", "type": content_type})
        return
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _collect_attachments(sub, body, out)
        return
    disposition = part.get_content_disposition()
    if filename or disposition == "attachment" or part.get_content_maintype() != "text":
        name = filename or f"attachment.{part.get_content_subtype()}"
        out.append({"name": name[:300], "url": "", "type": content_type})


def clean_text(value: str) -> str:
    """Undecodable bytes survive parsing as lone surrogates, which PostgreSQL cannot store."""
    if not any("\udc80" <= char <= "\udcff" for char in value):
        return value.replace("\x00", "")
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8").replace("\x00", "")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace").replace("\x00", "")


def _date_header(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
