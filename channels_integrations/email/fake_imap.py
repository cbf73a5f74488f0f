"""The fake mail server's IMAP side: a threaded TCP server speaking the IMAP4rev1 subset that
imaplib and the e-mail connector use (see channels_integrations.email.fake)."""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from channels_integrations.email.imap import MONTHS, parse_internaldate

if TYPE_CHECKING:
    from channels_integrations.email.fake import FakeMailServer, Mailbox, StoredMail

CAPABILITIES = "IMAP4rev1 LITERAL+ UIDPLUS SPECIAL-USE UNSELECT"
FLAGS = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
IDLE_TIMEOUT = 300.0
MAX_LINE = 65536
MAX_LITERAL = 50 * 1024 * 1024


def internaldate(moment: datetime) -> str:
    """IMAP's date-time: "21-Nov-2026 11:17:27 +0000"."""
    moment = moment.astimezone(UTC)
    return f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{moment:%Y %H:%M:%S} +0000"


class ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeMailServer) -> None:
        self.fake = fake
        self.clients: set[socket.socket] = set()
        self.clients_lock = threading.Lock()
        super().__init__(address, _ImapHandler)

    def close_clients(self) -> None:
        """Drop open connections, so their threads end with the server."""
        with self.clients_lock:
            for client in list(self.clients):
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)


class _Literal(bytes):
    """A literal argument ({n} then n bytes), as opposed to an atom or a quoted string."""


Token = str | bytes | list["Token"]


class CommandError(Exception):
    """Answer BAD: the command could not be parsed."""


class _ImapHandler(socketserver.StreamRequestHandler):
    server: ImapServer

    def setup(self) -> None:
        super().setup()
        self.request.settimeout(IDLE_TIMEOUT)
        with self.server.clients_lock:
            self.server.clients.add(self.request)
        self.fake = self.server.fake
        self.user: str | None = None
        self.selected: str | None = None
        self.readonly = True
        self.selected_validity = 0

    def finish(self) -> None:
        with self.server.clients_lock:
            self.server.clients.discard(self.request)
        super().finish()

    def send(self, data: bytes | str) -> None:
        self.wfile.write(data.encode("utf-8") if isinstance(data, str) else data)
        self.wfile.flush()

    def handle(self) -> None:
        try:
            self.send(f"* OK [CAPABILITY {CAPABILITIES}] Fake IMAP ready.\r\n")
            while True:
                command = self.read_command()
                if command is None:
                    return
                if not self.dispatch(*command):
                    return
        except (OSError, ValueError):
            return  # the client went away or the server is stopping

    def read_command(self) -> tuple[str, list[bytes]] | None:
        line = self.rfile.readline(MAX_LINE)
        if not line:
            return None
        parts: list[bytes] = []
        literals: list[bytes] = []
        while True:
            match = re.search(rb"\{(\d+)(\+?)\}\r?\n$", line)
            if match is None:
                parts.append(line.rstrip(b"\r\n"))
                break
            size = int(match.group(1))
            if size > MAX_LITERAL:
                raise ValueError("literal too large")
            parts.append(line[: match.start()] + b"\x00%d\x00" % len(literals))
            if not match.group(2):
                self.send("+ Ready for literal data\r\n")
            literals.append(self.rfile.read(size))
            line = self.rfile.readline(MAX_LINE)
        return b"".join(parts).decode("utf-8", "surrogateescape"), literals

    def dispatch(self, line: str, literals: list[bytes]) -> bool:
        """Handle one command; False ends the connection."""
        tag, _, rest = line.partition(" ")
        try:
            tokens = tokenize(rest, literals)
        except CommandError as exc:
            self.send(f"{tag or '*'} BAD {exc}\r\n")
            return True
        if not tag or not tokens or not isinstance(tokens[0], str):
            self.send(f"{tag or '*'} BAD Missing command\r\n")
            return True
        name = tokens[0].upper()
        args = tokens[1:]
        if name == "UID" and args and isinstance(args[0], str):
            name = f"UID {args[0].upper()}"
            args = args[1:]
        shown = "***" if name == "LOGIN" else " ".join(_shown(arg) for arg in args)
        if name == "LOGIN" and args:
            shown = f"{_shown(args[0])} ***"
        with self.fake._lock:
            fault = self.fake._take_fault("imap", name.removeprefix("UID "))
        if fault is not None and fault.reply:
            with self.fake._lock:
                self.fake._record("imap", name, shown, fault.reply.split(" ")[0])
            if fault.reply.startswith("BYE"):
                self.send(f"* {fault.reply}\r\n")
                return False
            self.send(f"{tag} {fault.reply}\r\n")
            return True
        try:
            untagged, status, keep_open = self.run(name, args)
        except CommandError as exc:
            untagged, status, keep_open = [], f"BAD {exc}", True
        with self.fake._lock:
            self.fake._record("imap", name, shown, status.split(" ")[0])
        if fault is not None and fault.stall_seconds:
            time.sleep(fault.stall_seconds)
        self.send(b"".join(untagged) + f"{tag} {status}\r\n".encode())
        return keep_open

    def run(self, name: str, args: list[Token]) -> tuple[list[bytes], str, bool]:
        """(untagged responses, tagged status text, keep the connection open)."""
        if name == "CAPABILITY":
            return [f"* CAPABILITY {CAPABILITIES}\r\n".encode()], "OK CAPABILITY completed", True
        if name == "NOOP":
            return [], "OK NOOP completed", True
        if name == "LOGOUT":
            return [b"* BYE Logging out\r\n"], "OK LOGOUT completed", False
        if name == "LOGIN":
            user, password = _strings(args, 2, "LOGIN user password")
            with self.fake._lock:
                accepted = self.fake._accounts.get(user) == password
            if not accepted:
                return [], "NO [AUTHENTICATIONFAILED] Authentication failed.", True
            self.user = user
            return [], f"OK [CAPABILITY {CAPABILITIES}] Logged in", True
        if self.user is None:
            return [], "BAD Log in first", True
        if name in {"SELECT", "EXAMINE"}:
            return self.select(_strings(args, 1, f"{name} mailbox")[0], readonly=name == "EXAMINE")
        if name in {"CLOSE", "UNSELECT"}:
            self.selected = None
            return [], f"OK {name} completed", True
        if name == "CREATE":
            return self.create(_strings(args, 1, "CREATE mailbox")[0])
        if name == "DELETE":
            return self.delete(_strings(args, 1, "DELETE mailbox")[0])
        if name in {"LIST", "LSUB"}:
            reference, pattern = _strings(args, 2, f"{name} reference pattern")
            return self.list_mailboxes(reference, pattern, name=name)
        if name == "APPEND":
            return self.append(args)
        if name in {"UID SEARCH", "UID FETCH"}:
            if self.selected is None:
                return [], "BAD No mailbox selected", True
            if name == "UID SEARCH":
                return self.search(args)
            return self.fetch(args)
        return [], f"BAD Unknown command {name}", True

    def select(self, name: str, *, readonly: bool) -> tuple[list[bytes], str, bool]:
        with self.fake._lock:
            box = self.fake._find_mailbox(name)
            if box is None:
                self.selected = None
                return [], f"NO [NONEXISTENT] Mailbox doesn't exist: {name}", True
            self.selected, self.readonly = box.name, readonly
            self.selected_validity = box.uidvalidity
            lines = [
                f"* FLAGS ({FLAGS})\r\n",
                f"* OK [PERMANENTFLAGS ({FLAGS} \\*)] Flags permitted.\r\n",
                f"* {len(box.mails)} EXISTS\r\n",
                "* 0 RECENT\r\n",
                f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid\r\n",
                f"* OK [UIDNEXT {box.next_uid}] Predicted next UID\r\n",
            ]
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        return [line.encode() for line in lines], f"OK [{mode}] Select completed.", True

    def create(self, name: str) -> tuple[list[bytes], str, bool]:
        with self.fake._lock:
            if self.fake._find_mailbox(name) is not None:
                return [], "NO [ALREADYEXISTS] Mailbox already exists", True
            special = "\\Sent" if name.lower() == "sent" else ""
            self.fake._create_mailbox(name, special_use=special)
        return [], "OK Create completed.", True

    def delete(self, name: str) -> tuple[list[bytes], str, bool]:
        with self.fake._lock:
            box = self.fake._find_mailbox(name)
            if box is None:
                return [], f"NO [NONEXISTENT] Mailbox doesn't exist: {name}", True
            if box.name == "INBOX":
                return [], "NO [CANNOT] INBOX can't be deleted.", True
            del self.fake._mailboxes[box.name]
            if self.selected == box.name:
                self.selected = None
        return [], "OK Delete completed.", True

    def list_mailboxes(
        self, reference: str, pattern: str, *, name: str
    ) -> tuple[list[bytes], str, bool]:
        regex = re.compile(
            "^" + re.escape(reference + pattern).replace(r"\*", ".*").replace("%", "[^/]*") + "$",
            re.IGNORECASE,
        )
        with self.fake._lock:
            boxes = [(box.name, box.special_use) for box in self.fake._mailboxes.values()]
        lines = []
        for box_name, special in boxes:
            if pattern and regex.match(box_name):
                attributes = " ".join(filter(None, ["\\HasNoChildren", special]))
                lines.append(f'* {name} ({attributes}) "/" {_quote(box_name)}\r\n'.encode())
        if not pattern:
            lines.append(f'* {name} (\\Noselect) "/" ""\r\n'.encode())
        return lines, f"OK {name} completed.", True

    def append(self, args: list[Token]) -> tuple[list[bytes], str, bool]:
        if len(args) < 2 or not isinstance(args[-1], _Literal):
            raise CommandError("APPEND mailbox [(flags)] [date-time] {literal}")
        name = args[0]
        if not isinstance(name, str):
            raise CommandError("APPEND needs a mailbox name")
        flags: set[str] = set()
        when = None
        for arg in args[1:-1]:
            if isinstance(arg, list):
                flags = {str(flag) for flag in arg if isinstance(flag, str)}
            elif isinstance(arg, str):
                when = parse_internaldate(arg)
                if when is None:
                    raise CommandError(f"Invalid date-time {arg!r}")
        with self.fake._lock:
            box = self.fake._find_mailbox(name)
            if box is None:
                return [], f"NO [TRYCREATE] Mailbox doesn't exist: {name}", True
            uid = self.fake._store(box, bytes(args[-1]), when or self.fake._clock(), flags)
            validity = box.uidvalidity
        return [], f"OK [APPENDUID {validity} {uid}] Append completed.", True

    def _box(self) -> Mailbox:
        box = self.fake._find_mailbox(self.selected or "")
        if box is None or box.uidvalidity != self.selected_validity:
            raise CommandError("The selected mailbox was deleted")
        return box

    def search(self, args: list[Token]) -> tuple[list[bytes], str, bool]:
        if len(args) >= 2 and isinstance(args[0], str) and args[0].upper() == "CHARSET":
            args = args[2:]
        with self.fake._lock:
            box = self._box()
            mails = list(box.mails)
        matched = [mail.uid for mail in mails if _matches(mail, args, mails)]
        line = "* SEARCH" + "".join(f" {uid}" for uid in matched) + "\r\n"
        return [line.encode()], "OK Search completed.", True

    def fetch(self, args: list[Token]) -> tuple[list[bytes], str, bool]:
        if len(args) != 2 or not isinstance(args[0], str):
            raise CommandError("UID FETCH sequence-set items")
        items = args[1] if isinstance(args[1], list) else [args[1]]
        names = [str(item).upper() for item in items if isinstance(item, str)]
        with self.fake._lock:
            box = self._box()
            wanted = _uid_set(args[0], box.mails)
            out: list[bytes] = []
            for seq, mail in enumerate(box.mails, start=1):
                if mail.uid not in wanted:
                    continue
                if not self.readonly and any(n.startswith("BODY[") or n == "RFC822" for n in names):
                    mail.flags.add("\\Seen")
                out.append(_fetch_response(seq, mail, names))
        return out, "OK Fetch completed.", True


def tokenize(text: str, literals: list[bytes]) -> list[Token]:
    """Arguments of one command: atoms and quoted strings (str), literals, (lists)."""
    stack: list[list[Token]] = [[]]
    i = 0
    while i < len(text):
        char = text[i]
        if char == " ":
            i += 1
        elif char == "(":
            stack.append([])
            i += 1
        elif char == ")":
            if len(stack) == 1:
                raise CommandError("Unbalanced parenthesis")
            done = stack.pop()
            stack[-1].append(done)
            i += 1
        elif char == '"':
            value, i = _read_quoted(text, i + 1)
            stack[-1].append(value)
        elif char == "\x00":
            end = text.index("\x00", i + 1)
            stack[-1].append(_Literal(literals[int(text[i + 1 : end])]))
            i = end + 1
        else:
            start = i
            depth = 0
            while i < len(text) and (depth or text[i] not in ' ()"\x00'):
                if text[i] == "[":
                    depth += 1
                elif text[i] == "]":
                    depth = max(0, depth - 1)
                i += 1
            stack[-1].append(text[start:i])
    if len(stack) != 1:
        raise CommandError("Unbalanced parenthesis")
    return stack[0]


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise CommandError("Unterminated quoted string")


def _strings(args: list[Token], count: int, usage: str) -> list[str]:
    values = [
        arg.decode("utf-8", "replace") if isinstance(arg, bytes) else arg
        for arg in args[:count]
        if not isinstance(arg, list)
    ]
    if len(values) != count or len(args) != count:
        raise CommandError(usage)
    return values


def _shown(arg: Token) -> str:
    if isinstance(arg, _Literal):
        return f"{{{len(arg)} bytes}}"
    if isinstance(arg, list):
        return "(" + " ".join(_shown(item) for item in arg) + ")"
    return str(arg)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uid_set(text: str, mails: list[StoredMail]) -> set[int]:
    highest = mails[-1].uid if mails else 0
    uids = {mail.uid for mail in mails}
    wanted: set[int] = set()
    for part in text.split(","):
        low_text, _, high_text = part.partition(":")
        try:
            low = highest if low_text == "*" else int(low_text)
            high = low if not high_text else highest if high_text == "*" else int(high_text)
        except ValueError:
            raise CommandError(f"Invalid sequence set {text!r}") from None
        low, high = min(low, high), max(low, high)
        # n:* always includes the last message, even when n is above every UID (RFC 3501).
        wanted.update(uid for uid in uids if low <= uid <= high)
    return wanted


def _search_date(value: Token) -> datetime:
    match = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", str(value))
    if match is None or match.group(2).title() not in MONTHS:
        raise CommandError(f"Invalid search date {value!r}")
    month = MONTHS.index(match.group(2).title()) + 1
    return datetime(int(match.group(3)), month, int(match.group(1)), tzinfo=UTC)


def _matches(mail: StoredMail, keys: list[Token], mails: list[StoredMail]) -> bool:
    """All search keys hold (IMAP ANDs them)."""
    i = 0
    while i < len(keys):
        key = keys[i]
        if isinstance(key, list):
            if not _matches(mail, key, mails):
                return False
            i += 1
            continue
        name = str(key).upper()
        arg = keys[i + 1] if i + 1 < len(keys) else None
        if name == "ALL":
            i += 1
            continue
        if arg is None:
            raise CommandError(f"Search key {name} needs an argument")
        if name == "UID":
            ok = mail.uid in _uid_set(str(arg), mails)
        elif name == "SINCE":
            ok = mail.internaldate.date() >= _search_date(arg).date()
        elif name == "BEFORE":
            ok = mail.internaldate.date() < _search_date(arg).date()
        elif name in {"FROM", "SUBJECT", "TO"}:
            ok = str(arg).lower() in mail.header(name.title()).lower()
        elif name == "HEADER":
            if i + 2 >= len(keys):
                raise CommandError("HEADER field-name string")
            ok = str(keys[i + 2]).lower() in mail.header(str(arg)).lower()
            i += 1
        else:
            raise CommandError(f"Unknown search key {name}")
        if not ok:
            return False
        i += 2
    return True


def _fetch_response(seq: int, mail: StoredMail, names: list[str]) -> bytes:
    parts: list[bytes] = [f"UID {mail.uid}".encode()]
    header, _, _ = mail.raw.partition(b"\r\n\r\n")
    for name in names:
        section = name.replace(".PEEK", "")
        if name == "UID":
            continue
        if name == "FLAGS":
            parts.append(f"FLAGS ({' '.join(sorted(mail.flags))})".encode())
        elif name == "INTERNALDATE":
            parts.append(f'INTERNALDATE "{internaldate(mail.internaldate)}"'.encode())
        elif name == "RFC822.SIZE":
            parts.append(f"RFC822.SIZE {len(mail.raw)}".encode())
        elif section in {"BODY[]", "RFC822"}:
            parts.append(section.encode() + b" {%d}\r\n" % len(mail.raw) + mail.raw)
        elif section in {"BODY[HEADER]", "RFC822.HEADER"}:
            content = header + b"\r\n\r\n"
            parts.append(section.encode() + b" {%d}\r\n" % len(content) + content)
        elif section == "BODY[TEXT]":
            content = mail.raw[len(header) + 4 :]
            parts.append(section.encode() + b" {%d}\r\n" % len(content) + content)
        else:
            raise CommandError(f"Unsupported fetch item {name}")
    return b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n"
