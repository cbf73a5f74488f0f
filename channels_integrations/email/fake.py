"""A small in-process mail server for the demo: IMAP in, SMTP out, and an admin page.

`make run` must work without Dovecot, so `fake_imap` speaks just enough IMAP4rev1 (RFC 3501)
for imaplib and the e-mail connector: CAPABILITY, LOGIN, SELECT/EXAMINE (with UIDVALIDITY and
UIDNEXT), UID SEARCH (UID sets, ALL, SINCE, BEFORE, HEADER, FROM, SUBJECT), UID FETCH (UID,
FLAGS, INTERNALDATE, RFC822.SIZE, BODY[]/BODY.PEEK[] with HEADER and TEXT), APPEND, CREATE,
DELETE, LIST, NOOP, CLOSE/UNSELECT and LOGOUT. SMTP (`fake_smtp`) is aiosmtpd; like Gmail or
Outlook.com, the fake files every mail it accepts in the account's Sent folder, and shows it on
the admin page. The real protocol tests run against Dovecot (tests/channels_integrations/email).

This module holds the state (mailboxes, sent mail, faults, the command log) behind one lock,
and the admin side: a PlatformFake served by FakeServer like every fake, with GET /__admin/ to
write an incoming mail and see what was sent, POST /__admin/seed (JSON), and the shared
/__admin/fail-next, /__admin/calls and /__admin/reset. Faults address a protocol by
`path_prefix` ("imap" or "smtp") and a command by `method` ("LOGIN", "FETCH", "DATA", ...).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from werkzeug.wrappers import Request, Response

from channels_integrations.email.fake_imap import ImapServer
from channels_integrations.email.fake_smtp import LoopbackController, SmtpHandler
from channels_integrations.fake_server import (
    AdminField,
    AdminForm,
    AdminTable,
    PlatformFake,
    admin_page,
    json_response,
)
from channels_integrations.text import html_to_text, preview

Clock = Callable[[], datetime]
Json = dict[str, Any]

DEMO_ADDRESS = "support@brand.example"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the fake's published demo login
IMAP_DEFAULTS = {
    401: "NO [AUTHENTICATIONFAILED] Authentication failed.",
    403: "NO [NOPERM] Permission denied",
    404: "NO [NONEXISTENT] Mailbox doesn't exist",
    500: "NO [SERVERBUG] Internal error occurred. Refer to server log for more information.",
    503: "BYE Server shutting down.",
}
SMTP_DEFAULTS = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.1 Mailbox busy, try again later",
    451: "4.3.0 Temporary server error, please try again later",
    452: "4.3.1 Insufficient system storage",
    535: "5.7.8 Authentication credentials invalid",
    550: "5.1.1 Recipient address rejected: User unknown",
    552: "5.3.4 Message size exceeds fixed limit",
    554: "5.7.1 Message rejected as spam",
}
MAIL_FORM = AdminForm(
    "Write to the support address",
    action="mail",
    submit="Deliver",
    fields=(
        AdminField("from_address", "From address", placeholder="jana@example.de", required=True),
        AdminField("from_name", "From name", placeholder="Jana Köhler"),
        AdminField("subject", "Subject", placeholder="Wo bleibt meine Bestellung?"),
        AdminField("text", "Text", rows=5, required=True),
        AdminField("in_reply_to", "In reply to", placeholder="<message-id> (optional)"),
    ),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoredMail:
    uid: int
    raw: bytes
    internaldate: datetime
    flags: set[str] = field(default_factory=set)

    def header(self, name: str) -> str:
        message = BytesParser(policy=policy.default).parsebytes(self.raw, headersonly=True)
        try:
            return " ".join(str(message.get(name, "")).split())
        except Exception:
            return ""


@dataclass
class Mailbox:
    name: str
    uidvalidity: int
    special_use: str = ""
    next_uid: int = 1
    mails: list[StoredMail] = field(default_factory=list)


@dataclass
class MailFault:
    protocol: str | None  # "imap", "smtp" or None for either
    command: str | None
    reply: str
    times: int = 1
    stall_seconds: float = 0.0


class FakeMailServer(PlatformFake):
    """One mail account (the support address) with IMAP and SMTP on loopback ports.

    Public methods take `_lock` themselves; protocol handlers run in their own threads and take
    it around every state change, as do admin views.
    """

    def __init__(
        self,
        accounts: dict[str, str] | None = None,
        *,
        address: str = DEMO_ADDRESS,
        clock: Clock = _utcnow,
    ) -> None:
        super().__init__(
            admin_routes=[
                ("GET", "/__admin/", self._admin_page),
                ("POST", "/__admin/mail", self._admin_mail),
                ("POST", "/__admin/seed", self._admin_seed),
                ("GET", "/__admin/sent", lambda _: json_response(self.sent_mails())),
                ("GET", "/__admin/mailboxes", lambda _: json_response(self.mailbox_summary())),
            ],
        )
        self.address = address
        self._clock = clock
        self._accounts = dict(accounts if accounts is not None else {address: DEMO_PASSWORD})
        self._mailboxes: dict[str, Mailbox] = {}
        self._next_validity = int(clock().timestamp())
        self._sent: list[Json] = []
        self._mail_faults: list[MailFault] = []
        self._log: list[Json] = []
        self._imap: ImapServer | None = None
        self._smtp: LoopbackController | None = None
        self._create_mailbox("INBOX")
        self._create_mailbox("Sent", special_use="\\Sent")

    # Running the protocol servers.

    def start(
        self, host: str = "127.0.0.1", *, imap_port: int = 0, smtp_port: int = 0
    ) -> FakeMailServer:
        if self._imap is not None:
            raise RuntimeError("the fake mail server is already running")
        self._imap = ImapServer((host, imap_port), self)
        threading.Thread(
            target=self._imap.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeIMAP:{self.imap_port}",
            daemon=True,
        ).start()
        handler = SmtpHandler(self)
        self._smtp = LoopbackController(
            handler,
            hostname=host,
            port=smtp_port,
            server_hostname="smtp.brand.example",
            authenticator=handler.authenticate,
            auth_required=True,
            auth_require_tls=False,
            decode_data=False,
        )
        # aiosmtpd logs every SMTP command at INFO; the fake keeps its own command log.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self._smtp.start()
        return self

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._imap is not None:
            self._imap.shutdown()
            self._imap.close_clients()
            self._imap.server_close()
            self._imap = None

    @property
    def imap_port(self) -> int:
        if self._imap is None:
            raise RuntimeError("the fake mail server is not running")
        port: int = self._imap.server_address[1]
        return port

    @property
    def smtp_port(self) -> int:
        if self._smtp is None:
            raise RuntimeError("the fake mail server is not running")
        return int(self._smtp.port)

    # Python API: for tests, the demo and /__admin/.

    def add_mail(
        self,
        text: str,
        *,
        from_address: str = "kunde@example.de",
        from_name: str = "",
        subject: str = "Frage zu meiner Bestellung",
        html: str | None = None,
        message_id: str | None = None,
        in_reply_to: str | None = None,
        references: Iterable[str] = (),
        date: datetime | None = None,
        attachments: Iterable[tuple[str, str, bytes]] = (),
        to: str | None = None,
        mailbox: str = "INBOX",
    ) -> str:
        """A customer writes to the support address; returns the new mail's Message-ID."""
        when = date or self._clock()
        message = EmailMessage()
        message["From"] = f"{from_name} <{from_address}>" if from_name else from_address
        message["To"] = to or self.address
        message["Subject"] = subject
        message["Date"] = format_datetime(when.astimezone(UTC))
        message_id = message_id or make_msgid(domain=from_address.rpartition("@")[2] or None)
        message["Message-ID"] = message_id
        chain = list(references)
        if in_reply_to:
            message["In-Reply-To"] = in_reply_to
            chain = chain or [in_reply_to]
        if chain:
            message["References"] = " ".join(chain)
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        for name, content_type, content in attachments:
            maintype, _, subtype = content_type.partition("/")
            message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        self.add_raw_mail(message.as_bytes(policy=policy.SMTP), mailbox=mailbox, when=when)
        return message_id

    def add_raw_mail(
        self, raw: bytes, *, mailbox: str = "INBOX", when: datetime | None = None
    ) -> int:
        """Deliver raw RFC 5322 bytes (broken ones too); returns the UID."""
        with self._lock:
            box = self._mailbox(mailbox)
            return self._store(box, raw, when or self._clock(), set())

    def set_flags(self, mailbox: str, uid: int, *flags: str) -> None:
        """Another mail client (a colleague's Thunderbird) sets flags, e.g. \\Deleted."""
        with self._lock:
            for mail in self._mailbox(mailbox).mails:
                if mail.uid == uid:
                    mail.flags.update(flags)

    def recreate_mailbox(self, name: str) -> int:
        """DELETE and CREATE: the mailbox starts over with a new UIDVALIDITY (returned)."""
        with self._lock:
            old = self._mailbox(name)
            del self._mailboxes[name.upper() if name.upper() == "INBOX" else name]
            return self._create_mailbox(name, special_use=old.special_use).uidvalidity

    def set_password(self, username: str, password: str) -> None:
        """Change or revoke (any new value) an account's password."""
        with self._lock:
            self._accounts[username] = password

    def sent_mails(self) -> list[Json]:
        """Mails accepted over SMTP, oldest first."""
        with self._lock:
            return copy.deepcopy(self._sent)

    def mailbox_messages(self, name: str = "INBOX") -> list[Json]:
        with self._lock:
            mails = list(self._mailbox(name).mails)
        return [
            {
                "uid": mail.uid,
                "message_id": mail.header("Message-ID"),
                "from": mail.header("From"),
                "subject": mail.header("Subject"),
                "in_reply_to": mail.header("In-Reply-To"),
                "flags": sorted(mail.flags),
                "internaldate": mail.internaldate.isoformat(),
                "size": len(mail.raw),
            }
            for mail in mails
        ]

    def raw_messages(self, name: str = "INBOX") -> list[bytes]:
        with self._lock:
            return [mail.raw for mail in self._mailbox(name).mails]

    def mailbox_summary(self) -> list[Json]:
        with self._lock:
            return [
                {
                    "name": box.name,
                    "uidvalidity": box.uidvalidity,
                    "uidnext": box.next_uid,
                    "messages": len(box.mails),
                }
                for box in self._mailboxes.values()
            ]

    # PlatformFake: faults, calls, reset.

    def answer(self, request: Request) -> Response:
        return json_response(
            {"error": "This is a mail server: use IMAP and SMTP; the admin page is /__admin/."},
            404,
        )

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        imap = IMAP_DEFAULTS.get(status, "NO [UNAVAILABLE] Temporary failure, try again later")
        smtp = f"{status} {SMTP_DEFAULTS.get(status, 'Requested action not taken')}"
        return {"imap": imap, "smtp": smtp}, {}

    def fail_next(
        self,
        status: int,
        *,
        body: object | str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        path_prefix: str | None = None,
        method: str | None = None,
        stall_seconds: float = 0.0,
    ) -> None:
        """The next `times` commands of `path_prefix` ("imap", "smtp" or either) named
        `method` (any if None) fail: SMTP with reply code `status`, IMAP with the response
        for `status` (401 login refused, 404 no such mailbox, 500 server bug, 503 BYE)."""
        protocol = (path_prefix or "").strip("/").lower() or None
        if protocol not in {None, "imap", "smtp"}:
            raise ValueError('path_prefix must be "imap" or "smtp"')
        defaults, _ = self.fault_defaults(status)
        assert isinstance(defaults, dict)
        if isinstance(body, str) and body:
            reply = {"imap": body, "smtp": body if body[:3].isdigit() else f"{status} {body}"}
        else:
            reply = defaults
        with self._lock:
            for proto in [protocol] if protocol else ["imap", "smtp"]:
                self._mail_faults.append(
                    MailFault(
                        proto,
                        method.upper() if method else None,
                        reply[proto],
                        times,
                        stall_seconds,
                    )
                )

    def accept_then_stall(
        self,
        seconds: float,
        *,
        times: int = 1,
        path_prefix: str | None = "smtp",
        method: str | None = "DATA",
    ) -> None:
        """The next matching command is carried out, but answered `seconds` late."""
        protocol = (path_prefix or "").strip("/").lower() or None
        with self._lock:
            self._mail_faults.append(
                MailFault(protocol, method.upper() if method else None, "", times, seconds)
            )

    def calls(self) -> list[Json]:
        """IMAP and SMTP commands received (passwords masked), oldest first."""
        with self._lock:
            return copy.deepcopy(self._log)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._mail_faults.clear()
            self._log.clear()

    # Internals; called with `_lock` held.

    def _create_mailbox(self, name: str, *, special_use: str = "") -> Mailbox:
        key = "INBOX" if name.upper() == "INBOX" else name
        self._next_validity += 1
        box = Mailbox(key, self._next_validity, special_use)
        self._mailboxes[key] = box
        return box

    def _mailbox(self, name: str) -> Mailbox:
        box = self._mailboxes.get("INBOX" if name.upper() == "INBOX" else name)
        if box is None:
            raise KeyError(f"no mailbox {name!r}")
        return box

    def _find_mailbox(self, name: str) -> Mailbox | None:
        return self._mailboxes.get("INBOX" if name.upper() == "INBOX" else name)

    def _store(self, box: Mailbox, raw: bytes, when: datetime, flags: set[str]) -> int:
        uid = box.next_uid
        box.next_uid += 1
        box.mails.append(StoredMail(uid, raw, when.astimezone(UTC).replace(microsecond=0), flags))
        return uid

    def _take_fault(self, protocol: str, command: str) -> MailFault | None:
        for fault in self._mail_faults:
            if fault.protocol in (None, protocol) and fault.command in (None, command):
                fault.times -= 1
                if fault.times <= 0:
                    self._mail_faults.remove(fault)
                return fault
        return None

    def _record(self, protocol: str, command: str, args: str, status: str) -> None:
        self._log.append(
            {
                "at": self._clock().isoformat(),
                "protocol": protocol,
                "command": command,
                "args": args[:200],
                "status": status,
            }
        )
        del self._log[:-500]  # a long demo must not grow without bound

    def _accept_smtp(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> None:
        message = BytesParser(policy=policy.default).parsebytes(data)

        def header(name: str) -> str:
            return " ".join(str(message.get(name, "")).split())

        body = message.get_body(preferencelist=("plain", "html"))
        text = ""
        if body is not None:
            content = body.get_content()
            text = html_to_text(content) if body.get_content_type() == "text/html" else content
        now = self._clock()
        self._sent.append(
            {
                "at": now.isoformat(),
                "mail_from": mail_from,
                "rcpt_tos": list(rcpt_tos),
                "from": header("From"),
                "to": header("To"),
                "subject": header("Subject"),
                "message_id": header("Message-ID"),
                "in_reply_to": header("In-Reply-To"),
                "references": header("References"),
                "text": text.strip(),
            }
        )
        self._store(self._sent_box(), data, now, {"\\Seen"})
        if any(parseaddr(rcpt)[1].lower() == self.address.lower() for rcpt in rcpt_tos):
            self._store(self._mailbox("INBOX"), data, now, set())

    def _sent_box(self) -> Mailbox:
        for box in self._mailboxes.values():
            if box.special_use == "\\Sent":
                return box
        return self._create_mailbox("Sent", special_use="\\Sent")

    # Admin views.

    def _admin_page(self, request: Request) -> Response:
        inbox = self.mailbox_messages("INBOX")
        with self._lock:
            texts = {mail.uid: _preview(mail.raw) for mail in self._mailbox("INBOX").mails}
            log = self._log[-30:]
        sent = self.sent_mails()
        running = self._imap is not None and self._smtp is not None
        return admin_page(
            "Fake mail server",
            notes=[
                f"IMAP on port {self.imap_port}" if running else "IMAP not running",
                f"SMTP on port {self.smtp_port}" if running else "SMTP not running",
                f"account {self.address}",
                "faults: path prefix imap or smtp, method a command (LOGIN, FETCH, DATA)",
            ],
            form=MAIL_FORM,
            tables=[
                AdminTable(
                    "Inbox",
                    ("UID", "Received", "From", "Subject", "Text", "Flags"),
                    [
                        (
                            mail["uid"],
                            mail["internaldate"],
                            mail["from"],
                            mail["subject"],
                            texts.get(mail["uid"], ""),
                            " ".join(mail["flags"]),
                        )
                        for mail in reversed(inbox)
                    ],
                ),
                AdminTable(
                    "Replies sent over SMTP",
                    ("Sent", "To", "Subject", "In reply to", "Text"),
                    [
                        (m["at"], m["to"], m["subject"], m["in_reply_to"], preview(m["text"], 200))
                        for m in reversed(sent)
                    ],
                ),
                AdminTable(
                    "Recent IMAP and SMTP commands",
                    ("At", "Protocol", "Command", "Arguments", "Status"),
                    [
                        (e["at"], e["protocol"], e["command"], e["args"], e["status"])
                        for e in reversed(log)
                    ],
                ),
            ],
        )

    def _admin_mail(self, request: Request) -> Response:
        form = request.form
        address = form.get("from_address", "").strip()
        text = form.get("text", "").strip()
        if "@" not in address or not text:
            return json_response({"error": "from_address and text are required"}, 400)
        self.add_mail(
            text,
            from_address=address,
            from_name=form.get("from_name", "").strip(),
            subject=form.get("subject", "").strip() or "(no subject)",
            in_reply_to=form.get("in_reply_to", "").strip() or None,
        )
        return Response("", 303, {"Location": request.script_root + "/__admin/"})

    def _admin_seed(self, request: Request) -> Response:
        """JSON: one object or a list, each {"from", "name", "subject", "text", "html",
        "message_id", "in_reply_to", "references", "date", "mailbox"} or {"raw", "mailbox"}."""
        payload = request.get_json(silent=True)
        entries = payload if isinstance(payload, list) else [payload]
        created: list[Json] = []
        for entry in entries:
            if not isinstance(entry, dict):
                return json_response({"error": "expected an object or a list of objects"}, 400)
            mailbox = str(entry.get("mailbox") or "INBOX")
            try:
                when = datetime.fromisoformat(entry["date"]) if entry.get("date") else None
                if isinstance(entry.get("raw"), str):
                    uid = self.add_raw_mail(
                        entry["raw"].encode("utf-8"), mailbox=mailbox, when=when
                    )
                    created.append({"uid": uid})
                    continue
                if not isinstance(entry.get("text"), str) or "@" not in str(entry.get("from")):
                    raise ValueError("each mail needs a text and a from address")
                references = entry.get("references") or []
                message_id = self.add_mail(
                    entry["text"],
                    from_address=str(entry["from"]),
                    from_name=str(entry.get("name") or ""),
                    subject=str(entry.get("subject") or "(no subject)"),
                    html=entry.get("html") if isinstance(entry.get("html"), str) else None,
                    message_id=entry.get("message_id") or None,
                    in_reply_to=entry.get("in_reply_to") or None,
                    references=[str(r) for r in references] if isinstance(references, list) else (),
                    date=when,
                    mailbox=mailbox,
                )
                created.append({"message_id": message_id})
            except (KeyError, ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response({"created": created}, 201)


def _preview(raw: bytes) -> str:
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        body = message.get_body(preferencelist=("plain", "html"))
        content = body.get_content() if body is not None else ""
        if body is not None and body.get_content_type() == "text/html":
            content = html_to_text(content)
        return preview(str(content), 200)
    except Exception:
        return "(unreadable)"
