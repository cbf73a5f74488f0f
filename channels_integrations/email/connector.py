"""E-mail: one IMAP mailbox in, replies out over SMTP (platform-apis.md section 7).

Cursor: {"uidvalidity": n, "last_uid": n, "last_date": "YYYY-MM-DD"}. UIDs only mean something
together with the mailbox's UIDVALIDITY; when it changes (the mailbox was rebuilt or restored),
every stored UID is void and the connector re-reads the mailbox from a few days before
`last_date` (the newest arrival it has seen). That re-read adds no duplicates because an
e-mail's external id is its Message-ID, not its UID. A new channel starts with the last day of
mail, or from `backfill_since` ({"since": "YYYY-MM-DD"}, see `initial_cursor`).

Parsing and threading live in `parsing`, composing replies in `replies`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any, ClassVar

from django.conf import settings as django_settings
from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext

from channels_integrations.base import (
    CannotReconcile,
    Capability,
    ConnectionCheck,
    Connector,
    FetchedPage,
    InboundItem,
    ReplyTarget,
    SentItem,
    SetupField,
    SkippedPayload,
)
from channels_integrations.email.imap import (
    SECURITY_MODES,
    FetchedMail,
    ImapAccount,
    ImapSession,
    imap_date,
    quote,
)
from channels_integrations.email.parsing import message_ids, message_key, normalize_mail
from channels_integrations.email.replies import (
    NO_REPLY_RE,
    build_reply,
    reply_recipients,
    target_headers,
)
from channels_integrations.email.smtp import SmtpAccount, SmtpSession
from channels_integrations.errors import ConnectorError, InvalidRequest, NotFound

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# A page holds at most this much mail, so 50 messages with big attachments cannot exhaust a
# worker's memory; a larger single message still goes through, alone.
PAGE_BYTES = 20 * 1024 * 1024
# Beyond this, only the header is fetched and the text says where to read the rest.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
FIRST_POLL_WINDOW = timedelta(days=1)
# A re-read after a UIDVALIDITY change starts this long before the newest arrival we saw:
# SEARCH SINCE counts whole days in the server's time zone.
RESYNC_MARGIN = timedelta(days=2)
# Our own copy in Sent may have been filed a little before the outbox's clock said it started.
RECONCILE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class MailSettings:
    imap: ImapAccount
    smtp: SmtpAccount
    mailbox: str
    address: str
    display_name: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower() or "localhost"


class EmailConnector(Connector):
    platform = "email"
    # E-mail has no hide, like or delete that the sender would notice: only replies.
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REPLY})
    max_reply_length = 100_000
    setup_fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "imap_host",
            gettext_lazy("IMAP server"),
            help_text=gettext_lazy("e.g. imap.example.com"),
        ),
        SetupField(
            "imap_port",
            gettext_lazy("IMAP port"),
            initial="993",
            input_type="int",
            help_text=gettext_lazy("993 for ssl"),
        ),
        SetupField(
            "imap_security",
            gettext_lazy("IMAP security"),
            initial="ssl",
            help_text=gettext_lazy("ssl (implicit TLS), starttls or none"),
            choices=("ssl", "starttls", "none"),
        ),
        SetupField(
            "mailbox",
            gettext_lazy("Mailbox to poll"),
            required=False,
            initial="INBOX",
            help_text=gettext_lazy("The IMAP folder the support mail arrives in."),
        ),
        SetupField(
            "smtp_host",
            gettext_lazy("SMTP server"),
            help_text=gettext_lazy("e.g. smtp.example.com"),
        ),
        SetupField(
            "smtp_port",
            gettext_lazy("SMTP port"),
            initial="587",
            input_type="int",
            help_text=gettext_lazy("587 for starttls, 465 for ssl"),
        ),
        SetupField(
            "smtp_security",
            gettext_lazy("SMTP security"),
            initial="starttls",
            help_text=gettext_lazy("ssl (implicit TLS), starttls or none"),
            choices=("ssl", "starttls", "none"),
        ),
        SetupField(
            "address",
            gettext_lazy("Support address"),
            help_text=gettext_lazy("Replies are sent from this address."),
        ),
        SetupField(
            "display_name",
            gettext_lazy("Sender name"),
            required=False,
            help_text=gettext_lazy("Shown as the sender of replies, e.g. “Brand Support”."),
        ),
        SetupField("username", gettext_lazy("IMAP user name"), secret=True),
        SetupField("password", gettext_lazy("IMAP password"), secret=True),
        SetupField(
            "smtp_username",
            gettext_lazy("SMTP user name"),
            secret=True,
            required=False,
            help_text=gettext_lazy("Only if it differs from the IMAP user name."),
        ),
        SetupField(
            "smtp_password",
            gettext_lazy("SMTP password"),
            secret=True,
            required=False,
            help_text=gettext_lazy("Only if it differs from the IMAP password."),
        ),
    )
    backfill_note = gettext_noop(
        "E-mail can go back as far as the mailbox keeps mail: the first poll reads everything "
        "that arrived since the chosen date (without a date, the last day)."
    )

    @property
    def config(self) -> MailSettings:
        return mail_settings(self.connection.settings, self.connection.credentials)

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        if backfill_since is None:
            return {}
        return {"since": backfill_since.astimezone(UTC).date().isoformat()}

    # Polling.

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        config = self.config
        with self._imap_session(config) as imap:
            status = imap.examine(config.mailbox)
            last_uid = cursor.get("last_uid")
            if (
                cursor.get("uidvalidity") != status.uidvalidity
                or not isinstance(last_uid, int)
                or isinstance(last_uid, bool)
            ):
                last_uid = self._uid_floor(imap, status.uidnext, _resync_since(cursor))
            candidates = [uid for uid in imap.search("UID", f"{last_uid + 1}:*") if uid > last_uid]
            new_cursor: dict[str, Any] = {"uidvalidity": status.uidvalidity, "last_uid": last_uid}
            if isinstance(cursor.get("last_date"), str):
                new_cursor["last_date"] = cursor["last_date"]
            if not candidates:
                return FetchedPage(items=[], cursor=new_cursor, caught_up=True)

            sizes = {
                mail.uid: mail.size or 0
                for mail in imap.fetch(candidates[:PAGE_SIZE], "(UID RFC822.SIZE)")
            }
            chosen = _within_budget(candidates[:PAGE_SIZE], sizes)
            whole = [uid for uid in chosen if sizes.get(uid, 0) <= MAX_MESSAGE_BYTES]
            large = [uid for uid in chosen if sizes.get(uid, 0) > MAX_MESSAGE_BYTES]
            mails = imap.fetch(whole, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
            mails += imap.fetch(large, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER])")

        items: list[InboundItem] = []
        skipped: list[SkippedPayload] = []
        for mail in sorted(mails, key=lambda m: m.uid):
            try:
                items.append(
                    normalize_mail(
                        mail,
                        own_address=config.address,
                        mailbox=config.mailbox,
                        uidvalidity=status.uidvalidity,
                        header_only=mail.uid in large,
                    )
                )
            except Exception as exc:
                # The stdlib's mail parser raises an open-ended set of errors on hostile input;
                # one unreadable e-mail must not stop the mailbox.
                skipped.append(_skipped(mail, status.uidvalidity, config.mailbox, exc))
        new_cursor["last_uid"] = max(chosen)
        # The server's arrival time, not the sender's Date header: a forged Date in 2099 must
        # not move the re-read window of a later UIDVALIDITY change.
        arrivals = [mail.internaldate for mail in mails if mail.internaldate is not None]
        if arrivals:
            newest = min(max(arrivals).astimezone(UTC).date(), datetime.now(UTC).date())
            new_cursor["last_date"] = max(newest.isoformat(), new_cursor.get("last_date", ""))
        return FetchedPage(
            items=items,
            cursor=new_cursor,
            caught_up=len(chosen) == len(candidates),
            skipped=skipped,
        )

    def _uid_floor(self, imap: ImapSession, uidnext: int | None, since: date) -> int:
        """The UID to page on from: just below the first message that arrived on `since` or
        later, or the current end of the mailbox when nothing did."""
        arrived = imap.search("SINCE", imap_date(since))
        if arrived:
            return arrived[0] - 1
        if uidnext is not None:
            return max(uidnext - 1, 0)
        return imap.highest_uid()

    # Connection test.

    def test_connection(self) -> list[ConnectionCheck]:
        try:
            config = self.config
        except ConnectorError as exc:
            return [ConnectionCheck(gettext("Settings"), False, exc.message)]
        checks = [
            ConnectionCheck(
                gettext("Settings"),
                True,
                gettext("Replies are sent from %(address)s.") % {"address": config.address},
            )
        ]
        imap = self._imap_session(config)
        step = gettext("IMAP server")
        try:
            imap.connect()
            checks.append(
                ConnectionCheck(
                    step,
                    True,
                    _connected(config.imap.host, config.imap.port, config.imap.security),
                )
            )
            step = gettext("IMAP login")
            imap.login()
            checks.append(
                ConnectionCheck(step, True, gettext("The IMAP server accepted the login."))
            )
            step = gettext("Mailbox")
            status = imap.examine(config.mailbox)
            checks.append(
                ConnectionCheck(
                    step,
                    True,
                    ngettext(
                        "%(mailbox)s can be read (%(count)d message).",
                        "%(mailbox)s can be read (%(count)d messages).",
                        status.exists,
                    )
                    % {"mailbox": config.mailbox, "count": status.exists},
                )
            )
            step = gettext("Sent folder")
            sent = imap.sent_mailbox(create=False)
            detail = (
                gettext("Copies of replies are filed in %(folder)s.") % {"folder": sent}
                if sent
                else gettext(
                    "There is no Sent folder yet; one named Sent is created with the first reply."
                )
            )
            checks.append(ConnectionCheck(step, True, detail))
        except ConnectorError as exc:
            checks.append(ConnectionCheck(step, False, exc.message))
        finally:
            imap.close()

        smtp = self._smtp_session(config)
        step = gettext("SMTP server")
        try:
            smtp.connect()
            checks.append(
                ConnectionCheck(
                    step,
                    True,
                    _connected(config.smtp.host, config.smtp.port, config.smtp.security),
                )
            )
            step = gettext("SMTP login")
            smtp.login()
            checks.append(
                ConnectionCheck(step, True, gettext("The SMTP server accepted the login."))
            )
        except ConnectorError as exc:
            checks.append(ConnectionCheck(step, False, exc.message))
        finally:
            smtp.close()
        return checks

    # Replies.

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        headers = target_headers(target)
        recipients = reply_recipients(headers, outbound=target.direction == "outbound")
        if not recipients:
            return gettext("The e-mail has no address a reply could go to.")
        if all(NO_REPLY_RE.match(address.partition("@")[0]) for address in recipients):
            return gettext(
                "%(address)s does not take replies (an automatic sender or a delivery report)."
            ) % {"address": recipients[0]}
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        """Send the reply by SMTP and file a copy in the Sent folder.

        The Message-ID is derived from the idempotency key, so a retry after an ambiguous
        failure first looks for that id in Sent and sends nothing if it is already there
        (providers such as Gmail file submitted mail in Sent themselves).
        """
        config = self.config
        if not text.strip():
            raise InvalidRequest("The reply is empty.")
        if len(text) > self.max_reply_length:
            raise InvalidRequest(
                f"The reply is {len(text)} characters long; e-mail replies are limited to "
                f"{self.max_reply_length}."
            )
        reason = self.unavailable_reason(Capability.REPLY, target)
        if reason:
            raise InvalidRequest(f"Cannot reply by e-mail: {reason}")
        message = build_reply(
            target=target,
            text=text,
            idempotency_key=idempotency_key,
            address=config.address,
            display_name=config.display_name,
        )
        message_id = str(message["Message-ID"])
        sent = SentItem(external_id=message_key(message_id))
        recipients = [address for _, address in getaddresses([str(message["To"])])]

        imap = self._imap_session(config)
        try:
            sent_folder = _open_sent_folder(imap)
            if sent_folder is not None and _already_filed(imap, sent_folder, message_id):
                return sent
            with self._smtp_session(config) as smtp:
                smtp.send(message, sender=config.address, recipients=recipients)
            if sent_folder is not None and not _already_filed(imap, sent_folder, message_id):
                _file_copy(imap, sent_folder, message)
        finally:
            imap.close()
        return sent

    def find_sent_reply(
        self, *, target: ReplyTarget, text: str, not_before: datetime
    ) -> SentItem | None:
        """Our reply to `target` in the Sent folder or the polled mailbox: In-Reply-To the
        target's Message-ID, from our address, the same text, filed at `not_before` or later."""
        config = self.config
        parent_ids = message_ids(target_headers(target).get("Message-ID", ""))
        if not parent_ids:
            raise CannotReconcile(
                "The e-mail replied to has no Message-ID, so replies to it cannot be found."
            )
        parent_id = parent_ids[0]
        since = (not_before.astimezone(UTC) - timedelta(days=1)).date()
        with self._imap_session(config) as imap:
            folders = [imap.sent_mailbox(create=False), config.mailbox]
            for folder in dict.fromkeys(name for name in folders if name):
                try:
                    status = imap.examine(folder)
                except NotFound:
                    continue
                uids = imap.search(
                    "SINCE", imap_date(since), "HEADER", "In-Reply-To", quote(parent_id)
                )
                mails = imap.fetch(uids[-20:], "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
                for mail in mails:
                    try:
                        item = normalize_mail(
                            mail,
                            own_address=config.address,
                            mailbox=folder,
                            uidvalidity=status.uidvalidity,
                        )
                    except Exception:  # noqa: S112 - an unreadable mail is not our reply
                        continue
                    if (
                        item.from_self
                        and item.parent_external_id == message_key(parent_id)
                        and _same_text(item.text, text)
                        and item.created_at >= not_before - RECONCILE_SKEW
                    ):
                        return SentItem(external_id=item.external_id)
        return None

    # Sessions.

    def _imap_session(self, config: MailSettings) -> ImapSession:
        connect_timeout, read_timeout = _timeouts()
        return ImapSession(config.imap, connect_timeout=connect_timeout, read_timeout=read_timeout)

    def _smtp_session(self, config: MailSettings) -> SmtpSession:
        connect_timeout, read_timeout = _timeouts()
        return SmtpSession(
            config.smtp,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            local_hostname=config.domain,
        )


def _connected(host: str, port: int, security: str) -> str:
    return gettext("Connected to %(host)s:%(port)s (%(security)s).") % {
        "host": host,
        "port": port,
        "security": security,
    }


def mail_settings(settings: dict[str, Any], credentials: dict[str, Any]) -> MailSettings:
    """The channel's settings, checked: raises InvalidRequest naming what is missing or wrong."""

    def text(name: str, default: str = "") -> str:
        value = settings.get(name)
        return str(value).strip() if value not in (None, "") else default

    def required(name: str) -> str:
        value = text(name)
        if not value:
            raise InvalidRequest(f"The channel setting {name} is missing.")
        return value

    def security(name: str, default: str) -> str:
        value = text(name, default).lower()
        if value not in SECURITY_MODES:
            raise InvalidRequest(
                f"The channel setting {name} must be one of {', '.join(SECURITY_MODES)}."
            )
        return value

    def port(name: str, default: int) -> int:
        value = text(name)
        if not value:
            return default
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise InvalidRequest(f"The channel setting {name} must be a port number.")
        return int(value)

    imap_security = security("imap_security", "ssl")
    smtp_security = security("smtp_security", "starttls")
    address = required("address")
    _, parsed = parseaddr(address)
    if "@" not in parsed or parsed != address:
        raise InvalidRequest(f"The support address {address!r} is not an e-mail address.")
    username = str(credentials.get("username") or "")
    password = str(credentials.get("password") or "")
    if not username or not password:
        raise InvalidRequest("The channel has no IMAP user name and password.")
    return MailSettings(
        imap=ImapAccount(
            host=required("imap_host"),
            port=port("imap_port", 993 if imap_security == "ssl" else 143),
            security=imap_security,
            username=username,
            password=password,
        ),
        smtp=SmtpAccount(
            host=required("smtp_host"),
            port=port("smtp_port", 465 if smtp_security == "ssl" else 587),
            security=smtp_security,
            username=str(credentials.get("smtp_username") or username),
            password=str(credentials.get("smtp_password") or password),
        ),
        mailbox=text("mailbox", "INBOX"),
        address=address,
        display_name=text("display_name"),
    )


def _timeouts() -> tuple[float, float]:
    # Read on every call, so a test (or an operator) can change them without a restart.
    return (
        float(django_settings.PLATFORM_CONNECT_TIMEOUT),
        float(django_settings.PLATFORM_READ_TIMEOUT),
    )


def _resync_since(cursor: dict[str, Any]) -> date:
    today = datetime.now(UTC).date()
    for key, margin in (("since", timedelta(0)), ("last_date", RESYNC_MARGIN)):
        value = cursor.get(key)
        if isinstance(value, str):
            try:
                return min(date.fromisoformat(value) - margin, today)
            except ValueError:
                pass
    return today - FIRST_POLL_WINDOW


def _within_budget(uids: list[int], sizes: dict[int, int]) -> list[int]:
    chosen: list[int] = []
    total = 0
    for uid in uids:
        size = min(sizes.get(uid, 0), MAX_MESSAGE_BYTES)
        if chosen and total + size > PAGE_BYTES:
            break
        chosen.append(uid)
        total += size
    return chosen


def _open_sent_folder(imap: ImapSession) -> str | None:
    """Log in and find (or create) the Sent folder; None when IMAP does not work right now:
    filing the copy is a courtesy, the reply itself only needs SMTP."""
    try:
        imap.open()
        return imap.sent_mailbox(create=True)
    except ConnectorError as exc:
        logger.warning("e-mail reply: the Sent folder cannot be used: %s", exc.message)
        imap.close()
        return None


def _already_filed(imap: ImapSession, mailbox: str, message_id: str) -> bool:
    """Whether `mailbox` holds our Message-ID: an earlier attempt got through (or the
    provider files submitted mail itself, as Gmail does)."""
    try:
        imap.examine(mailbox)
        return bool(imap.search("HEADER", "Message-ID", quote(message_id)))
    except ConnectorError as exc:
        logger.warning("e-mail reply: cannot search %s: %s", mailbox, exc.message)
        return False


def _file_copy(imap: ImapSession, mailbox: str, message: EmailMessage) -> None:
    try:
        imap.append(mailbox, message.as_bytes(), flags="(\\Seen)", when=datetime.now(UTC))
    except ConnectorError as exc:
        # The mail is out: raising now would make the outbox send it a second time.
        logger.warning("e-mail reply sent, but not filed in %s: %s", mailbox, exc.message)


def _skipped(mail: FetchedMail, uidvalidity: int, mailbox: str, exc: Exception) -> SkippedPayload:
    reason = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
    head = (mail.body or b"")[:2000].decode("utf-8", "replace")
    return SkippedPayload(
        external_id=f"{mailbox}:{uidvalidity}:{mail.uid}",
        reason=f"unreadable e-mail (UID {mail.uid}): {reason}"[:500],
        payload={"uid": mail.uid, "uidvalidity": uidvalidity, "size": mail.size, "head": head},
    )


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())
