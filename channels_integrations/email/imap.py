"""A small IMAP client over the stdlib's imaplib, mapping its failures to the error taxonomy.

Everything the connector does on the mailbox goes through `ImapSession`: one connection, with
timeouts always set, a login, and the handful of commands polling and filing replies need
(EXAMINE, UID SEARCH, UID FETCH, LIST, CREATE, APPEND). imaplib reports failures three ways
(a NO status it returns, `IMAP4.error` for BAD and failed logins, `IMAP4.abort` and socket
errors for broken connections); this module turns all of them into one `ConnectorError`.
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from types import TracebackType

from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Transient,
)

SECURITY_MODES = ("ssl", "starttls", "none")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# RFC 5530 response codes. A NO carrying one of these means the same command can work later.
_TRANSIENT_CODES = {"UNAVAILABLE", "INUSE", "SERVERBUG", "LIMIT", "EXPUNGEISSUED"}
_AUTH_CODES = {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED"}
_CODE_RE = re.compile(r"^\[(?P<code>[A-Z0-9-]+)[^\]]*\]\s*")
# Mailbox names of the Sent folder when the server does not mark it with \Sent (RFC 6154).
SENT_NAMES = (
    "sent",
    "sent items",
    "sent messages",
    "sent mail",
    "gesendet",
    "gesendete objekte",
    "gesendete elemente",
)


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    security: str
    username: str
    password: str

    def __repr__(self) -> str:
        # Never show the password, not even in a traceback's locals.
        return f"ImapAccount({self.username!r} at {self.host}:{self.port}, {self.security})"


@dataclass(frozen=True)
class MailboxStatus:
    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True)
class MailboxInfo:
    name: str
    flags: frozenset[str]
    delimiter: str


@dataclass(frozen=True)
class FetchedMail:
    """One message of a UID FETCH answer; `body` is the section fetched (None if absent)."""

    uid: int
    flags: tuple[str, ...] = ()
    internaldate: datetime | None = None
    size: int | None = None
    body: bytes | None = None


class ImapSession:
    """One logged-in IMAP connection. Use as a context manager; every method raises only
    ConnectorError subclasses."""

    def __init__(
        self, account: ImapAccount, *, connect_timeout: float, read_timeout: float
    ) -> None:
        if account.security not in SECURITY_MODES:
            raise InvalidRequest(
                f"imap_security must be one of {', '.join(SECURITY_MODES)}, "
                f"not {account.security!r}"
            )
        self.account = account
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> ImapSession:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def imap(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise RuntimeError("the IMAP session is not open")
        return self._imap

    def open(self) -> None:
        """Connect (with TLS as configured) and log in."""
        self.connect()
        self.login()

    def connect(self) -> None:
        account = self.account
        with self._errors("connecting"):
            context = ssl.create_default_context()
            if account.security == "ssl":
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    account.host, account.port, ssl_context=context, timeout=self.connect_timeout
                )
            else:
                imap = imaplib.IMAP4(account.host, account.port, timeout=self.connect_timeout)
            self._imap = imap
            imap.sock.settimeout(self.read_timeout)
            if account.security == "starttls":
                if "STARTTLS" not in imap.capabilities:
                    raise PermissionDenied(
                        f"The IMAP server {account.host} does not offer STARTTLS: set the IMAP "
                        "security to ssl (usually port 993) or none."
                    )
                imap.starttls(ssl_context=context)
                imap.sock.settimeout(self.read_timeout)

    def login(self) -> None:
        imap = self.imap
        if "LOGINDISABLED" in imap.capabilities:
            raise PermissionDenied(
                f"The IMAP server {self.account.host} refuses logins without encryption: set "
                "the IMAP security to ssl or starttls."
            )
        try:
            imap.login(self.account.username, self.account.password)
        except imaplib.IMAP4.abort as exc:
            raise Transient(
                f"The IMAP server closed the connection at login: {_text(exc)}"
            ) from None
        except imaplib.IMAP4.error as exc:
            text = _text(exc)
            code = _response_code(text)
            if code in _TRANSIENT_CODES:
                raise Transient(f"The IMAP server cannot log in right now: {text}") from None
            if code == "PRIVACYREQUIRED":
                raise PermissionDenied(
                    f"The IMAP server requires an encrypted connection for logins: {text}"
                ) from None
            raise AuthExpired(
                f"The IMAP server refused the user name or password: {text}"
            ) from None
        except UnicodeEncodeError:
            raise InvalidRequest(
                "The IMAP user name or password contains characters other than ASCII, which "
                "the IMAP LOGIN command cannot carry."
            ) from None
        except (OSError, EOFError) as exc:
            raise network_error("IMAP", self.account.host, self.account.port, exc) from None

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        # LOGOUT is a courtesy; a connection that already broke is simply dropped.
        with suppress(Exception):
            imap.logout()
        with suppress(Exception):
            imap.shutdown()

    def examine(self, mailbox: str) -> MailboxStatus:
        """Open `mailbox` read-only (EXAMINE): polling never changes flags."""
        with self._errors(f"opening mailbox {mailbox!r}"):
            typ, data = self.imap.select(quote(encode_mailbox(mailbox)), readonly=True)
            if typ != "OK":
                text = _data_text(data)
                if _response_code(text) in _TRANSIENT_CODES:
                    raise Transient(f"The IMAP server cannot open {mailbox!r} right now: {text}")
                raise NotFound(f"The IMAP server cannot open the mailbox {mailbox!r}: {text}")
            validity = _first_int(self.imap.response("UIDVALIDITY")[1])
            if validity is None:
                raise Transient(f"The IMAP server sent no UIDVALIDITY for {mailbox!r}")
            return MailboxStatus(
                name=mailbox,
                uidvalidity=validity,
                uidnext=_first_int(self.imap.response("UIDNEXT")[1]),
                exists=_first_int(data) or 0,
            )

    def search(self, *criteria: str) -> list[int]:
        """UID SEARCH in the selected mailbox: the matching UIDs, ascending."""
        with self._errors("searching"):
            typ, data = self.imap.uid("SEARCH", *criteria)
            self._check(typ, data, "searching")
        uids: set[int] = set()
        for line in data:
            if isinstance(line, bytes):
                uids.update(int(token) for token in line.split() if token.isdigit())
        return sorted(uids)

    def highest_uid(self) -> int:
        """The UID of the last message of the selected mailbox, 0 when it is empty."""
        with self._errors("reading the last UID"):
            typ, data = self.imap.uid("FETCH", "*", "(UID)")
            self._check(typ, data, "reading the last UID")
        return max((mail.uid for mail in parse_fetch(data)), default=0)

    def fetch(self, uids: Sequence[int], items: str) -> list[FetchedMail]:
        """UID FETCH of `items` (e.g. "(UID FLAGS INTERNALDATE BODY.PEEK[])") for `uids`.

        UIDs expunged in the meantime are simply missing from the answer.
        """
        if not uids:
            return []
        with self._errors("fetching messages"):
            typ, data = self.imap.uid("FETCH", uid_set(uids), items)
            self._check(typ, data, "fetching messages")
        wanted = set(uids)
        return [mail for mail in parse_fetch(data) if mail.uid in wanted]

    def list_mailboxes(self) -> list[MailboxInfo]:
        with self._errors("listing mailboxes"):
            typ, data = self.imap.list('""', '"*"')
            self._check(typ, data, "listing mailboxes")
        return [info for info in (parse_list_line(line) for line in data) if info is not None]

    def create(self, mailbox: str) -> None:
        with self._errors(f"creating mailbox {mailbox!r}"):
            typ, data = self.imap.create(quote(encode_mailbox(mailbox)))
            self._check(typ, data, f"creating mailbox {mailbox!r}")

    def append(
        self, mailbox: str, message: bytes, *, flags: str = "", when: datetime | None = None
    ) -> None:
        with self._errors(f"filing a message in {mailbox!r}"):
            typ, data = self.imap.append(
                quote(encode_mailbox(mailbox)),
                flags or None,
                imaplib.Time2Internaldate(when) if when is not None else None,
                message,
            )
            self._check(typ, data, f"filing a message in {mailbox!r}")

    def sent_mailbox(self, *, create: bool) -> str | None:
        """The Sent folder: marked \\Sent (RFC 6154), else by its usual names; created as
        "Sent" when missing and `create` is set, as mail clients do."""
        mailboxes = self.list_mailboxes()
        for info in mailboxes:
            if "\\sent" in info.flags and "\\noselect" not in info.flags:
                return info.name
        by_name = {
            _leaf(info).lower(): info.name for info in mailboxes if "\\noselect" not in info.flags
        }
        for name in SENT_NAMES:
            if name in by_name:
                return by_name[name]
        if not create:
            return None
        try:
            self.create("Sent")
            return "Sent"
        except ConnectorError:
            # Servers whose personal namespace lives under INBOX (Courier, old Cyrus).
            inbox = next((info for info in mailboxes if info.name.upper() == "INBOX"), None)
            if inbox is None or not inbox.delimiter:
                raise
            name = f"INBOX{inbox.delimiter}Sent"
            self.create(name)
            return name

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except ConnectorError:
            raise
        except imaplib.IMAP4.abort as exc:
            raise Transient(
                f"The IMAP server closed the connection while {action}: {_text(exc)}"
            ) from None
        except imaplib.IMAP4.error as exc:
            raise ConnectorError(
                f"The IMAP server rejected the command while {action}: {_text(exc)}"
            ) from None
        except UnicodeEncodeError:
            raise InvalidRequest(f"Non-ASCII text cannot be sent to IMAP while {action}") from None
        except (OSError, EOFError) as exc:
            raise network_error("IMAP", self.account.host, self.account.port, exc) from None

    def _check(self, typ: str, data: Sequence[object], action: str) -> None:
        if typ == "OK":
            return
        text = _data_text(data)
        code = _response_code(text)
        if code in _AUTH_CODES:
            raise AuthExpired(f"The IMAP server refused access while {action}: {text}")
        if code in {"NONEXISTENT", "TRYCREATE"}:
            raise NotFound(f"The IMAP server has no such mailbox ({action}): {text}")
        if code == "NOPERM":
            raise PermissionDenied(f"The IMAP server does not allow {action}: {text}")
        if code in {"OVERQUOTA", "TOOBIG", "CANNOT", "ALREADYEXISTS", "CLIENTBUG"}:
            raise InvalidRequest(f"The IMAP server refused {action}: {text}")
        raise Transient(f"The IMAP server failed while {action}: {text}")


def network_error(protocol: str, host: str, port: int, exc: BaseException) -> ConnectorError:
    """A socket-level failure (refused, unreachable, timed out, TLS) as a ConnectorError."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectorError(
            f"The certificate of the {protocol} server {host} could not be verified: "
            f"{exc.verify_message or exc}"
        )
    if isinstance(exc, socket.timeout | TimeoutError):
        return Transient(f"The {protocol} server {host}:{port} did not answer in time")
    if isinstance(exc, socket.gaierror):
        return Transient(f"The {protocol} server name {host!r} could not be resolved")
    if isinstance(exc, EOFError):
        return Transient(f"The {protocol} server {host}:{port} closed the connection")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return Transient(f"Could not talk to the {protocol} server {host}:{port}: {reason}")


# Protocol helpers.


def quote(value: str) -> str:
    """An IMAP quoted string. CR and LF cannot be quoted: they would end the command."""
    if "\r" in value or "\n" in value:
        raise InvalidRequest("IMAP strings cannot contain line breaks")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_mailbox(name: str) -> str:
    """Modified UTF-7 (RFC 3501 section 5.1.3), the wire form of mailbox names."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_mailbox(name: str) -> str:
    def decode(match: re.Match[str]) -> str:
        chunk = match.group(1)
        if not chunk:
            return "&"
        padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
        return base64.b64decode(padded).decode("utf-16-be")

    try:
        return re.sub(r"&([^-]*)-", decode, name)
    except (ValueError, UnicodeDecodeError):
        return name


def imap_date(day: date) -> str:
    """The date form of SEARCH SINCE: 21-Nov-2026 (English month names, whatever the locale)."""
    return f"{day.day}-{MONTHS[day.month - 1]}-{day.year}"


def uid_set(uids: Sequence[int]) -> str:
    """A compact UID set: 3,5:9,12."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = previous = ordered[0]
    for uid in ordered[1:]:
        if uid == previous + 1:
            previous = uid
            continue
        parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)


_FETCH_START = re.compile(rb"^\d+ \(")
_SECTION_BEFORE_LITERAL = re.compile(
    rb"(BODY\[[^\]]*\](?:<\d+>)?|RFC822(?:\.HEADER|\.TEXT)?)\s*\{\d+\+?\}\s*$", re.IGNORECASE
)
_UID_RE = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_FLAGS_RE = re.compile(rb"\bFLAGS \(([^)]*)\)", re.IGNORECASE)
_SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.IGNORECASE)
_INTERNALDATE_RE = re.compile(rb'\bINTERNALDATE "([^"]+)"', re.IGNORECASE)
_DATE_TIME_RE = re.compile(
    r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$"
)


def parse_fetch(data: Sequence[object]) -> list[FetchedMail]:
    """imaplib's FETCH data: for each message, tuples (prefix, literal) for each literal, then
    the rest of the line as bytes; a message without literals is one bytes line."""
    groups: list[tuple[bytes, dict[bytes, bytes]]] = []
    current: tuple[list[bytes], dict[bytes, bytes]] | None = None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            prefix, literal = item
            if not isinstance(prefix, bytes):
                continue
            if _FETCH_START.match(prefix) or current is None:
                if current is not None:
                    groups.append((b"".join(current[0]), current[1]))
                current = ([], {})
            current[0].append(prefix)
            section = _SECTION_BEFORE_LITERAL.search(prefix)
            if section is not None and isinstance(literal, bytes):
                current[1][_section_name(section.group(1))] = literal
        elif isinstance(item, bytes):
            if _FETCH_START.match(item):
                if current is not None:
                    groups.append((b"".join(current[0]), current[1]))
                groups.append((item, {}))
                current = None
            elif current is not None:
                current[0].append(item)
                groups.append((b"".join(current[0]), current[1]))
                current = None
    if current is not None:
        groups.append((b"".join(current[0]), current[1]))

    mails: list[FetchedMail] = []
    for meta, sections in groups:
        uid = _UID_RE.search(meta)
        if uid is None:
            continue  # an unsolicited flag update for a message we did not ask about
        flags = _FLAGS_RE.search(meta)
        size = _SIZE_RE.search(meta)
        internaldate = _INTERNALDATE_RE.search(meta)
        body = next(iter(sections.values()), None)
        mails.append(
            FetchedMail(
                uid=int(uid.group(1)),
                flags=tuple(flags.group(1).decode("ascii", "replace").split()) if flags else (),
                internaldate=(
                    parse_internaldate(internaldate.group(1).decode("ascii", "replace"))
                    if internaldate
                    else None
                ),
                size=int(size.group(1)) if size else None,
                body=body,
            )
        )
    return mails


def _section_name(raw: bytes) -> bytes:
    # BODY.PEEK[] is answered as BODY[]; one body section per request is all we ask for.
    return raw.upper().replace(b".PEEK", b"")


def parse_internaldate(value: str) -> datetime | None:
    match = _DATE_TIME_RE.match(value)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    if month.title() not in MONTHS:
        return None
    offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes))
    try:
        return datetime(
            int(year),
            MONTHS.index(month.title()) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == "-" else offset),
        ).astimezone(UTC)
    except ValueError:
        return None


_LIST_RE = re.compile(
    rb'^\((?P<flags>[^)]*)\) (?P<delimiter>NIL|"(?:[^"\\]|\\.)*") ?(?P<name>.*)$', re.IGNORECASE
)


def parse_list_line(line: object) -> MailboxInfo | None:
    literal_name: bytes | None = None
    if isinstance(line, tuple) and len(line) == 2:
        line, literal_name = line
    if not isinstance(line, bytes):
        return None
    match = _LIST_RE.match(line.strip())
    if match is None:
        return None
    raw_delimiter = match.group("delimiter")
    delimiter = "" if raw_delimiter.upper() == b"NIL" else _unquote(raw_delimiter)
    if literal_name is not None:
        raw_name = literal_name.decode("utf-8", "replace")
    else:
        name_bytes = match.group("name").strip()
        raw_name = (
            _unquote(name_bytes)
            if name_bytes.startswith(b'"')
            else name_bytes.decode("utf-8", "replace")
        )
    raw_flags = match.group("flags").decode("ascii", "replace")
    flags = frozenset(flag.lower() for flag in raw_flags.split())
    return MailboxInfo(name=decode_mailbox(raw_name), flags=flags, delimiter=delimiter)


def _unquote(value: bytes) -> str:
    text = value.decode("utf-8", "replace")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _leaf(info: MailboxInfo) -> str:
    return info.name.rsplit(info.delimiter, 1)[-1] if info.delimiter else info.name


def _first_int(data: Sequence[object] | None) -> int | None:
    for item in data or ():
        if isinstance(item, bytes) and item.strip().isdigit():
            return int(item.strip())
    return None


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else str(exc)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:300]


def _data_text(data: Sequence[object]) -> str:
    for item in reversed(data):
        if isinstance(item, bytes):
            return item.decode("utf-8", "replace")[:300]
        if isinstance(item, str):
            return item[:300]
    return "no details"


def _response_code(text: str) -> str:
    match = _CODE_RE.match(text)
    return match.group("code").upper() if match else ""
