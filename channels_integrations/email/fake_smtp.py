"""The fake mail server's SMTP side: aiosmtpd with a handler that files accepted mail
(see channels_integrations.email.fake)."""

from __future__ import annotations

import asyncio
import re
import warnings
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

if TYPE_CHECKING:
    from channels_integrations.email.fake import FakeMailServer, MailFault


class LoopbackController(Controller):
    """aiosmtpd's Controller on an ephemeral port when asked for port 0."""

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without TLS on every connection: loopback only here.
            warnings.simplefilter("ignore")
            return SMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        # AbstractServer is typed without `sockets`; asyncio's Server has them.
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


class SmtpHandler:
    def __init__(self, fake: FakeMailServer) -> None:
        self.fake = fake

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = False
        login = ""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            with self.fake._lock:
                ok = self.fake._accounts.get(login) == password
        with self.fake._lock:
            self.fake._record("smtp", "AUTH", f"{mechanism} {login} ***", "235" if ok else "535")
        # handled=False: aiosmtpd itself answers 535 on failure.
        return AuthResult(success=ok, handled=False)

    async def _fault(self, command: str, args: str) -> MailFault | None:
        with self.fake._lock:
            fault = self.fake._take_fault("smtp", command)
            status = fault.reply[:3] if fault is not None and fault.reply else "250"
            self.fake._record("smtp", command, args, status)
        return fault

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        fault = await self._fault("MAIL", address)
        if fault is not None and fault.reply:
            return fault.reply
        if address.lower() != self.fake.address.lower():
            # Providers only let an account send as its own address.
            return (
                f"553 5.7.1 <{address}>: Sender address rejected: not owned by user "
                f"{self.fake.address}"
            )
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        fault = await self._fault("RCPT", address)
        if fault is not None and fault.reply:
            return fault.reply
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
            return "553 5.1.3 Bad recipient address syntax"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        fault = await self._fault("DATA", f"{len(data)} bytes")
        if fault is not None and fault.reply:
            return fault.reply
        with self.fake._lock:
            self.fake._accept_smtp(str(envelope.mail_from), list(envelope.rcpt_tos), data)
        if fault is not None and fault.stall_seconds:
            await asyncio.sleep(fault.stall_seconds)
        return "250 2.0.0 Ok: queued"
