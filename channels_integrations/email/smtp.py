"""Sending over SMTP (submission) with the stdlib's smtplib, mapping failures to the taxonomy.

SMTP says how final a refusal is in its reply code (RFC 5321 section 4.2.1): 4xx is transient,
5xx permanent. A 535 at AUTH means the credentials are wrong or revoked.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType

from channels_integrations.email.imap import SECURITY_MODES, network_error
from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    PermissionDenied,
    Transient,
)


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    security: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"SmtpAccount({self.username!r} at {self.host}:{self.port}, {self.security})"


class SmtpSession:
    """One SMTP submission connection: connect, EHLO, STARTTLS as configured, AUTH.

    Use as a context manager; every method raises only ConnectorError subclasses.
    """

    def __init__(
        self,
        account: SmtpAccount,
        *,
        connect_timeout: float,
        read_timeout: float,
        local_hostname: str = "localhost",
    ) -> None:
        if account.security not in SECURITY_MODES:
            raise InvalidRequest(
                f"smtp_security must be one of {', '.join(SECURITY_MODES)}, "
                f"not {account.security!r}"
            )
        self.account = account
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # Passed explicitly: smtplib's default (socket.getfqdn()) can stall on a slow resolver.
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
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
    def smtp(self) -> smtplib.SMTP:
        if self._smtp is None:
            raise RuntimeError("the SMTP session is not open")
        return self._smtp

    def open(self) -> None:
        self.connect()
        self.login()

    def connect(self) -> None:
        """Connect and greet (EHLO), upgrading to TLS first when configured."""
        account = self.account
        with self._errors("connecting"):
            context = ssl.create_default_context()
            if account.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    account.host,
                    account.port,
                    local_hostname=self.local_hostname,
                    timeout=self.connect_timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    account.host,
                    account.port,
                    local_hostname=self.local_hostname,
                    timeout=self.connect_timeout,
                )
            self._smtp = smtp
            if smtp.sock is not None:
                smtp.sock.settimeout(self.read_timeout)
            smtp.ehlo()
            if account.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise PermissionDenied(
                        f"The SMTP server {account.host} does not offer STARTTLS: set the SMTP "
                        "security to ssl (usually port 465) or none."
                    )
                smtp.starttls(context=context)
                smtp.ehlo()

    def login(self) -> None:
        if not self.account.username:
            return  # a relay that trusts our network needs no AUTH
        with self._errors("logging in"):
            if not self.smtp.has_extn("auth"):
                raise PermissionDenied(
                    f"The SMTP server {self.account.host} offers no login (AUTH) on this "
                    "connection; it may require STARTTLS or ssl first."
                )
            self.smtp.login(self.account.username, self.account.password)

    def send(self, message: EmailMessage, *, sender: str, recipients: Sequence[str]) -> None:
        """Submit `message`. A failure after the DATA was sent is ambiguous: the server may
        have accepted the mail (the caller reconciles by the Message-ID)."""
        with self._errors("sending"):
            refused = self.smtp.send_message(message, from_addr=sender, to_addrs=list(recipients))
        if refused:
            # Some recipients were accepted, so the mail went out; the others are reported.
            details = "; ".join(
                f"{address}: {code} {_decode(text)}" for address, (code, text) in refused.items()
            )
            raise InvalidRequest(f"The SMTP server refused some recipients: {details}")

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        with suppress(Exception):
            smtp.quit()
        with suppress(Exception):
            smtp.close()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except ConnectorError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b"refused"))
            raise error_for_reply(code, _decode(reply), "checking the recipient") from None
        except smtplib.SMTPAuthenticationError as exc:
            text = _decode(exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise Transient(
                    f"The SMTP server cannot log in right now ({exc.smtp_code} {text})"
                ) from None
            if exc.smtp_code in {534, 538}:
                raise PermissionDenied(
                    f"The SMTP server requires another way of logging in ({exc.smtp_code} {text})"
                ) from None
            raise AuthExpired(
                f"The SMTP server refused the user name or password ({exc.smtp_code} {text})"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise error_for_reply(exc.smtp_code, _decode(exc.smtp_error), action) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise Transient(
                f"The SMTP server {self.account.host} closed the connection while {action} ({exc})"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermissionDenied(
                f"The SMTP server {self.account.host} does not support what {action} needs: {exc}"
            ) from None
        except smtplib.SMTPException as exc:
            # "No suitable authentication method found" and the like: configuration.
            raise PermissionDenied(f"SMTP failed while {action}: {exc}") from None
        except UnicodeEncodeError:
            raise InvalidRequest(
                f"SMTP cannot carry non-ASCII text here (while {action}): check the user name, "
                "password and addresses"
            ) from None
        except (OSError, EOFError) as exc:
            raise network_error("SMTP", self.account.host, self.account.port, exc) from None


def error_for_reply(code: int, text: str, action: str) -> ConnectorError:
    """An SMTP reply code as an error: 4xx transient, 535 credentials, other 5xx permanent."""
    if code == 535:
        return AuthExpired(f"The SMTP server refused the user name or password ({code} {text})")
    if 400 <= code < 500 or code < 0:
        return Transient(f"The SMTP server refused for now while {action} ({code} {text})")
    return InvalidRequest(f"The SMTP server refused the e-mail while {action}: {code} {text}")


def _decode(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]
