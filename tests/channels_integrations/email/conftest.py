"""Real mail servers for the e-mail connector: Dovecot (IMAP) and aiosmtpd (SMTP) on loopback.

Dovecot comes from the Debian package dovecot-imapd (which pulls in dovecot-core). Without it
these tests are skipped, or fail when INBOX_REQUIRE_DOVECOT=1 (or INBOX_REQUIRE_BROWSER=1, the
flag of a full CI run) says the machine must have it.
"""

from __future__ import annotations

import asyncio
import grp
import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from channels_integrations.base import ConnectionSettings
from channels_integrations.email.connector import EmailConnector
from channels_integrations.email.demo import demo_channel
from channels_integrations.email.fake import FakeMailServer
from channels_integrations.http import platform_session

DOVECOT_PACKAGE = "dovecot-imapd"
DOMAIN = "shop.example"
STARTUP_DEADLINE = 15.0
_users = itertools.count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: Callable[[], Any], *, timeout: float = 5.0, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


# Dovecot.


@dataclass
class MailUser:
    """One mailbox on the test Dovecot, reached with plain imaplib (the test's own client)."""

    server: DovecotServer
    username: str
    password: str

    @property
    def address(self) -> str:
        return self.username

    def imap(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.server.host, self.server.port, timeout=5)
        client.login(self.username, self.password)
        return client

    def deliver(self, raw: bytes, mailbox: str = "INBOX", *, when: datetime | None = None) -> None:
        """Put a mail into `mailbox`, as an MTA's delivery would (IMAP APPEND)."""
        client = self.imap()
        try:
            date_time = imaplib.Time2Internaldate(when) if when is not None else None
            typ, data = client.append(f'"{mailbox}"', None, date_time, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def create(self, mailbox: str) -> None:
        self._simple("create", f'"{mailbox}"')

    def delete(self, mailbox: str) -> None:
        self._simple("delete", f'"{mailbox}"')

    def mailboxes(self) -> list[str]:
        client = self.imap()
        try:
            _, data = client.list()
        finally:
            client.logout()
        return [
            line.decode().rsplit(" ", 1)[-1].strip('"') for line in data if isinstance(line, bytes)
        ]

    def messages(self, mailbox: str = "INBOX") -> list[bytes]:
        """The raw messages in `mailbox`, oldest first."""
        client = self.imap()
        try:
            typ, _ = client.select(f'"{mailbox}"', readonly=True)
            if typ != "OK":
                return []
            _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        finally:
            client.logout()
        return [item[1] for item in data if isinstance(item, tuple)]

    def _simple(self, command: str, *args: str) -> None:
        client = self.imap()
        try:
            typ, data = getattr(client, command)(*args)
            assert typ == "OK", data
        finally:
            client.logout()


@dataclass
class DovecotServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"
    passwd_mtime: int = 0

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def add_user(self, password: str = "correct-horse") -> MailUser:
        """A new, empty mailbox: each test gets its own, so one Dovecot serves them all.

        Each user has a passwd file of its own: Dovecot reads a passwd file at most once a
        second, so users added to one shared file within a second would stay unknown.
        """
        username = f"support{next(_users)}@{DOMAIN}"
        self._write_passwd(username, password)
        return MailUser(self, username, password)

    def set_password(self, user: MailUser, password: str) -> None:
        """Change (revoke) a password, as an admin would, and wait until Dovecot uses it."""
        self._write_passwd(user.username, password)
        user.password = password

        def accepted() -> bool:
            try:
                user.imap().logout()
            except imaplib.IMAP4.error:
                return False
            return True

        wait_until(accepted, timeout=5, what="Dovecot to re-read the passwd file")

    def _write_passwd(self, username: str, password: str) -> None:
        path = self.root / "users" / username
        path.write_text(f"{username}:{{PLAIN}}{password}::::::\n")
        # A new second for every write, as Dovecot compares whole-second mtimes.
        self.passwd_mtime = max(int(time.time()), self.passwd_mtime + 1)
        os.utime(path, (self.passwd_mtime, self.passwd_mtime))


def dovecot_binary() -> str:
    """The dovecot executable, or skip (fail when the environment requires it)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    message = (
        f"Dovecot is not installed: install the Debian package {DOVECOT_PACKAGE} "
        "(apt-get install dovecot-imapd) to run the e-mail connector tests"
    )
    if (
        os.environ.get("INBOX_REQUIRE_DOVECOT") == "1"
        or os.environ.get("INBOX_REQUIRE_BROWSER") == "1"
    ):
        pytest.fail(message)
    pytest.skip(message)


def dovecot_config(root: Path, port: int) -> str:
    """A minimal Dovecot 2.3 configuration: IMAP only, on loopback, everything under `root`.

    Dovecot never gives mail access to root, so as root (CI) mail is owned by `nobody` and the
    login processes keep Dovecot's own users; as a normal user everything runs as that user
    (the "rootless" setup of Dovecot's documentation).
    """
    if os.geteuid() == 0:
        mail_user = pwd.getpwnam("nobody")
        users = ""
    else:
        mail_user = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(mail_user.pw_gid).gr_name
        users = (
            f"default_internal_user = {mail_user.pw_name}\n"
            f"default_login_user = {mail_user.pw_name}\n"
            f"default_internal_group = {group}\n"
        )
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {mail_user.pw_uid}
mail_gid = {mail_user.pw_gid}
mail_location = maildir:~/Maildir
# Test mail is disposable: no fsync, much faster APPENDs.
mail_fsync = never
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
  default_fields = home={root}/mail/%u
}}
service anvil {{
  chroot =
  # No growing delays after failed logins: the tests fail logins on purpose.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
# Reuse processes instead of forking one per login: the tests log in a few hundred times.
service imap {{
  service_count = 0
  process_min_avail = 2
}}
service imap-login {{
  chroot =
  service_count = 0
  process_min_avail = 1
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """One Dovecot for the whole run, on a free loopback port, with its files in a temp dir."""
    binary = dovecot_binary()
    root = Path(tempfile.mkdtemp(prefix="inbox-dovecot-"))
    # The mail processes (nobody when run as root) must reach the mail directory.
    root.chmod(0o711)
    mail = root / "mail"
    mail.mkdir()
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(mail, nobody.pw_uid, nobody.pw_gid)
    (root / "users").mkdir()
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(dovecot_config(root, port))
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    server = DovecotServer(root=root, port=port, process=process)
    try:
        _wait_for_greeting(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_greeting(server: DovecotServer) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = (
                server.process.stdout.read().decode(errors="replace")
                if server.process.stdout
                else ""
            )
            pytest.fail(f"Dovecot exited at startup:\n{output}\n{server.log}")
        try:
            with socket.create_connection((server.host, server.port), timeout=0.5) as probe:
                probe.settimeout(2)
                if probe.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(
        f"Dovecot did not greet on port {server.port} within {STARTUP_DEADLINE}s:\n{server.log}"
    )


@pytest.fixture
def mail_user(dovecot_server: DovecotServer) -> MailUser:
    return dovecot_server.add_user()


# SMTP: aiosmtpd, recording what it accepts.


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler: AUTH against one login, records accepted mail, injects faults.

    `file_in_sent` makes it behave like a provider that files submitted mail in the sender's
    Sent folder itself (Gmail, Outlook.com); `stall_seconds` accepts a mail but answers late.
    """

    username: str
    password: str
    received: list[ReceivedMail] = field(default_factory=list)
    stall_seconds: float = 0.0
    file_in_sent: Callable[[bytes], None] | None = None
    faults: list[tuple[str, str]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, command: str, reply: str) -> None:
        """The next `command` ("MAIL", "RCPT", "DATA") is answered with `reply`."""
        with self.lock:
            self.faults.append((command.upper(), reply))

    def mails(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.received)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        # handled=False: aiosmtpd itself answers 535 on failure.
        return AuthResult(success=ok, handled=False)

    def _fault(self, command: str) -> str | None:
        with self.lock:
            for index, (name, reply) in enumerate(self.faults):
                if name == command:
                    del self.faults[index]
                    return reply
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        fault = self._fault("MAIL")
        if fault:
            return fault
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        fault = self._fault("RCPT")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self._fault("DATA")
        if fault:
            return fault
        data = envelope.original_content or b""
        with self.lock:
            self.received.append(
                ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), data)
            )
        if self.file_in_sent is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.file_in_sent, data)
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds)
        return "250 2.0.0 Ok: queued"


class LoopbackController(Controller):
    """aiosmtpd's Controller on an ephemeral port (it only knows fixed ports)."""

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns that AUTH without TLS is unsafe, per connection: loopback only.
            warnings.simplefilter("ignore")
            return SMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


@pytest.fixture
def smtp_server(mail_user: MailUser) -> Iterator[SmtpRecorder]:
    """aiosmtpd on a free loopback port, accepting the mail user's login."""
    recorder = SmtpRecorder(username=mail_user.username, password=mail_user.password)
    controller = LoopbackController(
        recorder,
        hostname="127.0.0.1",
        port=0,
        server_hostname="smtp.shop.example",
        authenticator=recorder,
        auth_required=True,
        auth_require_tls=False,
        decode_data=False,
    )
    controller.start()
    recorder.port = controller.port
    try:
        yield recorder
    finally:
        controller.stop()


# The in-project fake (the demo's mail server).


@pytest.fixture
def fake_mail() -> Iterator[FakeMailServer]:
    """The demo's fake mail server: IMAP and SMTP on free loopback ports."""
    fake = FakeMailServer().start()
    try:
        yield fake
    finally:
        fake.stop()


def fake_connector(fake: FakeMailServer, **credentials: str) -> EmailConnector:
    settings, secrets = demo_channel(fake.imap_port, fake.smtp_port)
    secrets.update(credentials)
    return EmailConnector(
        ConnectionSettings(settings=settings, credentials=secrets), platform_session()
    )


# The connector, aimed at both.


def channel_settings(
    user: MailUser, smtp: SmtpRecorder | None = None, *, mailbox: str = "INBOX"
) -> tuple[dict[str, Any], dict[str, Any]]:
    settings = {
        "imap_host": user.server.host,
        "imap_port": user.server.port,
        "imap_security": "none",
        "mailbox": mailbox,
        "smtp_host": smtp.host if smtp else "127.0.0.1",
        "smtp_port": smtp.port if smtp else 9,
        "smtp_security": "none",
        "address": user.address,
        "display_name": "Shop Support",
    }
    return settings, {"username": user.username, "password": user.password}


def make_connector(
    user: MailUser, smtp: SmtpRecorder | None = None, *, mailbox: str = "INBOX", **credentials: str
) -> EmailConnector:
    settings, secrets = channel_settings(user, smtp, mailbox=mailbox)
    secrets.update(credentials)
    return EmailConnector(
        ConnectionSettings(settings=settings, credentials=secrets), platform_session()
    )
