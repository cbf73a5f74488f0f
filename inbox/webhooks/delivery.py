"""Sending the webhook outbox: claims, the HTTP request, retries, the attempt log.

A due row (pending, next attempt reached, subscription active) is claimed in one transaction
with SELECT ... FOR UPDATE SKIP LOCKED and set to "sending" with a claim time; only the worker
holding that exact claim may record the outcome, so a slow worker whose claim was swept and
handed to another one cannot overwrite the newer result. SQLite (the single-process `make run`)
has no row locks: there the conditional update on the state decides who claimed a row.

Outcomes of one attempt:
- 2xx: delivered;
- 408, 429, 5xx, a timeout or a connection error: retried after RETRY_DELAYS (with up to 20 %
  jitter, so receivers coming back are not hit by every delivery at once; a longer Retry-After
  is honored), failed once they are used up;
- 410 Gone: failed, and the subscription is switched off (the receiver says it is gone);
- any other answer (3xx: redirects are not followed; 4xx): failed, the receiver refuses it;
- a destination that is not allowed (a private address in production): failed.
Test events ("Send test event") get one attempt: the admin waits for the answer.

At least once: a worker that dies mid-request leaves the row "sending"; the sweep puts it back
after STALL, and the receiver may see the event twice (same X-Inbox-Delivery id: receivers
deduplicate on it).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter

from channels_integrations.crypto import CredentialsUnreadable
from inbox import audit
from inbox.models.integrations import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookSubscription,
)
from inbox.webhooks.signing import decrypt_secret, signature

logger = logging.getLogger(__name__)

# The waits after the 1st, 2nd, ... failed attempt; after the last one the delivery fails.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2
# A Retry-After longer than this is not believed.
MAX_RETRY_AFTER = timedelta(hours=24)
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# A claim's clock starts again when a worker begins sending (`deliver`), and a request takes at
# most the connect timeout plus about the read timeout (the answer's body is read against a
# deadline): a claim this old lost its worker. Only a receiver that trickles its response headers
# a byte at a time for longer could outlast it (and get the event twice).
STALL = timedelta(minutes=10)
BODY_KEPT = 2048
CLAIM_BATCH = 100
USER_AGENT = "SocialInbox-Webhooks/1"

RETRYABLE_STATUSES = frozenset({408, 429})


class DestinationRefused(Exception):
    """The URL may not be called (scheme, or an address inside our network)."""


# --- destinations -----------------------------------------------------------------------------


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", not settings.PRODUCTION))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> None:
    """DestinationRefused unless `url` is an http(s) URL with a host and no credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(_("Only http:// and https:// addresses can receive webhooks."))
    if not parts.hostname:
        raise DestinationRefused(_("The address has no host name."))
    if parts.username or parts.password:
        raise DestinationRefused(
            _("Put no user name or password in the address; verify the signature instead.")
        )


def _addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_destination(url: str) -> str | None:
    """DestinationRefused unless the URL may be called now: check_url, and (unless
    WEBHOOK_ALLOW_PRIVATE_URLS) every address its host resolves to is a public one, so a
    webhook cannot reach the database, the metadata service or anything else inside our
    network (SSRF). Resolved at send time: a name may point elsewhere tomorrow.

    Returns the checked address to connect to (None when private addresses are allowed): the
    request goes there, not to a second lookup that a rebinding DNS server could answer with
    an internal address."""
    check_url(url)
    if _allow_private():
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = _addresses(host, parts.port or 443)
    except (OSError, UnicodeError):
        message = _("The host name %(host)s cannot be resolved.") % {"host": host}
        raise DestinationRefused(message) from None
    if not addresses or not all(_public(address) for address in addresses):
        message = _(
            "%(host)s is a private, loopback or link-local address; "
            "webhooks go to public addresses only."
        ) % {"host": host}
        raise DestinationRefused(message)
    return addresses[0]


class _PinnedAdapter(HTTPAdapter):
    """Connects to an address checked beforehand while TLS still verifies the certificate
    for (and sends SNI of) the URL's host name."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


@dataclass(frozen=True)
class Answer:
    status_code: int
    retry_after: str | None
    body: str


def _send(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once, to the checked address when there is one (see check_destination), and read
    the first BODY_KEPT bytes of the answer. Raises DestinationRefused and requests' errors."""
    pinned = check_destination(url)
    target = url
    with requests.Session() as session:
        if pinned is not None:
            # No proxy or .netrc from the environment: the request goes where it was checked.
            session.trust_env = False
            parts = urlsplit(url)
            hostname = parts.hostname or ""
            address = f"[{pinned}]" if ":" in pinned else pinned
            port = "" if parts.port is None else f":{parts.port}"
            target = urlunsplit(parts._replace(netloc=address + port))
            headers = {**headers, "Host": hostname + port}
            session.mount(f"{parts.scheme}://", _PinnedAdapter(hostname))
        response = session.post(
            target,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        retry_after = response.headers.get("Retry-After")
        return Answer(response.status_code, retry_after, _body_text(response))


# --- claiming ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    claimed_at: datetime


def claim_due(*, limit: int = CLAIM_BATCH, now: datetime | None = None) -> list[Claim]:
    """Claim up to `limit` due deliveries (oldest first) for sending; each is claimed once."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=WebhookDeliveryState.PENDING)
            # A paused subscription keeps its events until it is switched on again; a test
            # event is the admin asking now.
            .filter(Q(subscription__active=True) | Q(is_test=True))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        WebhookDelivery.objects.filter(pk__in=ids, state=WebhookDeliveryState.PENDING).update(
            state=WebhookDeliveryState.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        claimed = WebhookDelivery.objects.filter(
            pk__in=ids, state=WebhookDeliveryState.SENDING, claimed_at=now
        ).values_list("pk", flat=True)
        return [Claim(pk, now) for pk in sorted(claimed)]


def requeue_stalled(*, now: datetime | None = None) -> int:
    """Claims older than STALL lost their worker: back to pending (their attempt counts), or
    failed when it was the last one."""
    now = now or timezone.now()
    cutoff = now - STALL
    with transaction.atomic():
        stalled = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
            state=WebhookDeliveryState.SENDING, claimed_at__lt=cutoff
        )
        claimed = dict(stalled.values_list("pk", "claimed_at"))
        ids = list(claimed)
        lost = _("The worker stopped while sending.")
        # The lost attempt goes into the log too, so its numbers match the attempts made.
        logged = dict(
            WebhookAttempt.objects.filter(delivery_id__in=ids)
            .values("delivery_id")
            .annotate(n=Count("id"))
            .values_list("delivery_id", "n")
        )
        WebhookAttempt.objects.bulk_create(
            WebhookAttempt(
                delivery_id=pk,
                number=logged.get(pk, 0) + 1,
                started_at=claimed_at or now,
                error=lost,
            )
            for pk, claimed_at in claimed.items()
        )
        failed = WebhookDelivery.objects.filter(pk__in=ids).filter(
            Q(attempts__gte=MAX_ATTEMPTS) | Q(is_test=True)
        )
        failed.update(state=WebhookDeliveryState.FAILED, last_error=lost, updated_at=now)
        WebhookDelivery.objects.filter(pk__in=ids, state=WebhookDeliveryState.SENDING).update(
            state=WebhookDeliveryState.PENDING,
            next_attempt_at=now,
            claimed_at=None,
            last_error=lost,
            updated_at=now,
        )
        return len(ids)


def _still_claimed(claim: Claim) -> Q:
    return Q(pk=claim.delivery_id, state=WebhookDeliveryState.SENDING, claimed_at=claim.claimed_at)


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    body: str
    error: str
    retry_after: timedelta | None
    duration_ms: int
    # Trying again cannot help (a refused destination, an unreadable secret).
    permanent: bool = False


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    # Receivers write what they like here: "²" is a digit to str.isdigit, 10**20 seconds is no
    # timedelta. Anything odd is ignored, never a crash that leaves the delivery half recorded.
    if value.isascii() and value.isdigit():
        return timedelta(seconds=min(int(value), MAX_RETRY_AFTER.total_seconds()))
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            return None
        return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)
    except (TypeError, ValueError, OverflowError):
        return None


def _body_text(response: requests.Response) -> str:
    """The first BODY_KEPT bytes of the answer as text (never more is read)."""
    chunk = b""
    # READ_TIMEOUT bounds each read, not the whole body: a deadline stops a receiver that
    # trickles its answer a byte at a time.
    deadline = time.monotonic() + READ_TIMEOUT
    try:
        for part in response.iter_content(chunk_size=256):
            chunk += part
            if len(chunk) >= BODY_KEPT or time.monotonic() > deadline:
                break
    except requests.RequestException:
        pass
    finally:
        response.close()
    return chunk[:BODY_KEPT].decode(response.encoding or "utf-8", errors="replace")


def post(delivery: WebhookDelivery, secret: str) -> Outcome:
    """POST the delivery's payload once, signed; never raises for network trouble."""
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Inbox-Event": delivery.event,
        "X-Inbox-Delivery": str(delivery.event_id),
        "X-Inbox-Timestamp": str(timestamp),
        "X-Inbox-Signature": signature(secret, timestamp, body),
    }
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        answer = _send(delivery.subscription.url, body=body, headers=headers)
    except DestinationRefused as exc:
        return Outcome(None, "", str(exc), None, took(), permanent=True)
    except requests.Timeout:
        return Outcome(None, "", _("The receiver did not answer in time."), None, took())
    except requests.RequestException as exc:
        reason = type(exc).__name__
        return Outcome(
            None, "", _("Could not connect: %(reason)s") % {"reason": reason}, None, took()
        )
    return Outcome(
        answer.status_code,
        answer.body,
        "",
        _retry_after(answer.retry_after, timezone.now()),
        took(),
    )


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt, plus up to JITTER of it."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * (1 + random.uniform(0, JITTER))  # noqa: S311 -- spreading, not security


def deliver(claim: Claim) -> str | None:
    """Send one claimed delivery and record the attempt; returns the state it is left in, or
    None when the claim was lost (swept) before the outcome could be recorded."""
    # The stall clock starts now, not when the claim was queued: a backlog of queued sends
    # must not be swept as stalled before a worker even took them.
    started = timezone.now()
    if not WebhookDelivery.objects.filter(_still_claimed(claim)).update(claimed_at=started):
        return None
    claim = Claim(claim.delivery_id, started)
    delivery = (
        WebhookDelivery.objects.select_related("subscription").filter(_still_claimed(claim)).first()
    )
    if delivery is None:
        return None
    try:
        secret = decrypt_secret(delivery.subscription.secret_encrypted)
    except CredentialsUnreadable:
        error = _("The signing secret cannot be decrypted.")
        outcome = Outcome(None, "", error, None, 0, permanent=True)
    else:
        outcome = post(delivery, secret)
    return record_outcome(claim, delivery, outcome)


def record_outcome(claim: Claim, delivery: WebhookDelivery, outcome: Outcome) -> str | None:
    """Write the attempt and the delivery's next state, if the claim still holds."""
    now = timezone.now()
    status = outcome.status_code
    update: dict[str, object] = {
        "claimed_at": None,
        "last_status_code": status,
        "updated_at": now,
    }
    gone = status == 410
    if status is not None and 200 <= status < 300:
        update |= {"state": WebhookDeliveryState.DELIVERED, "delivered_at": now, "last_error": ""}
    else:
        update["last_error"] = outcome.error or _("The receiver answered %(status)s.") % {
            "status": status
        }
        retry = (
            not outcome.permanent
            and not delivery.is_test
            and delivery.attempts < MAX_ATTEMPTS
            and (status is None or status in RETRYABLE_STATUSES or status >= 500)
        )
        if retry:
            wait = backoff(delivery.attempts)
            if outcome.retry_after is not None:
                wait = max(wait, outcome.retry_after)
            update |= {"state": WebhookDeliveryState.PENDING, "next_attempt_at": now + wait}
        else:
            update["state"] = WebhookDeliveryState.FAILED
    with transaction.atomic():
        if not WebhookDelivery.objects.filter(_still_claimed(claim)).update(**update):
            logger.warning("webhook delivery %s: claim lost before the outcome", claim.delivery_id)
            return None
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            number=WebhookAttempt.objects.filter(delivery_id=delivery.pk).count() + 1,
            started_at=claim.claimed_at,
            duration_ms=outcome.duration_ms,
            status_code=status,
            response_body=outcome.body,
            error=outcome.error,
        )
        if gone and not delivery.is_test:
            _switch_off(delivery.subscription, now)
    return str(update["state"])


def _switch_off(subscription: WebhookSubscription, now: datetime) -> None:
    """The receiver answered 410 Gone: stop sending there (an admin can switch it on again)."""
    changed = WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, updated_at=now
    )
    if changed:
        audit.record(
            actor=None,
            action=audit.AuditAction.CHANGED,
            instance_or_type="webhook",
            object_id=str(subscription.pk),
            object_repr=subscription.name,
            before={"active": True},
            after={"active": False},
        )


# --- housekeeping -----------------------------------------------------------------------------

PRUNE_BATCH = 5_000


def prune_deliveries(*, now: datetime | None = None) -> int:
    """Delete settled deliveries (delivered or failed) last changed more than
    WEBHOOK_LOG_DAYS days ago, with their attempts, in batches; pending ones are never
    deleted. Returns how many deliveries went."""
    now = now or timezone.now()
    days = int(getattr(settings, "WEBHOOK_LOG_DAYS", 30))
    settled = WebhookDelivery.objects.filter(
        state__in=[WebhookDeliveryState.DELIVERED, WebhookDeliveryState.FAILED],
        updated_at__lt=now - timedelta(days=days),
    )
    deleted = 0
    while True:
        ids = list(settled.order_by("id").values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted
        WebhookDelivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
