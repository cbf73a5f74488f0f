"""Sign-in throttling: password guessing is slowed down per username and per client address.

- After `LOGIN_THROTTLE_USERNAME_FAILURES` failed sign-ins for one username (from any number of
  addresses), or `LOGIN_THROTTLE_ADDRESS_FAILURES` from one address (for any usernames), every
  further sign-in for that username or from that address is refused with HTTP 429, even with
  the right password, until `LOGIN_THROTTLE_WINDOW_SECONDS` have passed since the first failure
  the count holds.
- A successful sign-in clears its username's count, not the address's: an attacker who holds
  one account must not reset the count of the address they guess other accounts from.
- The counts live in the shared cache (Redis in the services mode), so every web process sees
  the same counts. The keys hold a hash of the username, never the username itself.
- The refusal is the same whether the username exists or not, and says nothing about the
  password; a failure is logged (username, address, count) without the password.
- When the cache cannot be reached, sign-ins are let through to the password check (and the
  outage is logged): the throttle slows guessing down, it must not lock everybody out.
- The client's address is REMOTE_ADDR. Behind proxies that append to X-Forwarded-For, set
  `LOGIN_THROTTLE_TRUSTED_PROXIES` to their number: the address the outermost trusted proxy saw
  is then used. Daphne's `--proxy-headers` (docker-compose.yml) already puts the client's
  address in REMOTE_ADDR, so the default of 0 is right there.

Both the app's sign-in page and the Django admin's go through `throttled`; failures and
successes are counted from Django's own `user_login_failed` and `user_logged_in` signals, so
they count whichever form authenticated.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import ngettext

logger = logging.getLogger("inbox.login")

_PREFIX = "login-failures"


def client_address(request: HttpRequest) -> str:
    """The address the throttle counts for: REMOTE_ADDR, or the address the outermost trusted
    proxy put in X-Forwarded-For when `LOGIN_THROTTLE_TRUSTED_PROXIES` says there are proxies.

    Only entries our own proxies appended are believed: anything further left was sent by the
    client and may be forged to dodge the count.
    """
    proxies = settings.LOGIN_THROTTLE_TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))


def _username_key(username: str) -> str:
    # The name the form authenticates with: stripped and NFKC-normalized (Django's
    # UsernameField), so "\uff41dmin" (a full-width a) counts against "admin", whose password it
    # tries. Case stays as it is: the default backend compares usernames exactly.
    digest = hashlib.sha256(unicodedata.normalize("NFKC", username.strip()).encode()).hexdigest()
    return f"{_PREFIX}:user:{digest}"


def _address_key(address: str) -> str:
    return f"{_PREFIX}:addr:{hashlib.sha256(address.encode()).hexdigest()}"


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def _add_failure(key: str) -> int:
    # `add` starts the window with the first failure and never extends it; `incr` is atomic in
    # Redis, so concurrent failures on several web processes are all counted.
    cache.add(key, 0, timeout=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this failure opens a new window.
        cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
        return 1


def is_refused(username: str, address: str) -> bool:
    """Whether a sign-in for `username` from `address` is refused now."""
    try:
        return (
            _count(_username_key(username)) >= settings.LOGIN_THROTTLE_USERNAME_FAILURES
            or _count(_address_key(address)) >= settings.LOGIN_THROTTLE_ADDRESS_FAILURES
        )
    except Exception:
        logger.exception("sign-in throttle: the cache cannot be read; not throttling")
        return False


def record_failure(username: str, address: str) -> None:
    """Counts one failed sign-in for the username and for the address, and logs it."""
    try:
        for_username = _add_failure(_username_key(username))
        from_address = _add_failure(_address_key(address))
    except Exception:
        logger.exception("sign-in throttle: the cache cannot be written; failure not counted")
        for_username = from_address = 0
    logger.warning(
        "Sign-in failed for username %r from %s (%d failures for the username, %d from the "
        "address in the window)",
        username,
        address,
        for_username,
        from_address,
    )


def forget_failures(username: str) -> None:
    """Clears the username's count after a successful sign-in."""
    try:
        cache.delete(_username_key(username))
    except Exception:
        logger.exception("sign-in throttle: the cache cannot be written; count not cleared")


def refusal(request: HttpRequest) -> HttpResponse:
    """The 429 answer: the sign-in page with a message that says how long to wait and nothing
    about the account."""
    minutes = max(1, -(-settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60))
    message = ngettext(
        "Too many failed sign-in attempts. Please try again in %(minutes)d minute.",
        "Too many failed sign-in attempts. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    response = render(
        request,
        "registration/login.html",
        {"throttled": message, "next": request.POST.get("next", "")},
        status=429,
    )
    response.headers["Retry-After"] = str(settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    return response


def throttled(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wraps a sign-in view: a refused POST is answered with `refusal` before any password is
    checked, so even the right password gets no answer about the account."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            username = str(request.POST.get("username", ""))
            address = client_address(request)
            if is_refused(username, address):
                logger.warning(
                    "Sign-in refused for username %r from %s: too many failures",
                    username,
                    address,
                )
                return refusal(request)
        return view(request, *args, **kwargs)

    return wrapper


@receiver(user_login_failed, dispatch_uid="config.login.count_failure")
def _count_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Authentication outside a request (a management command, a test) has no address to count.
    if request is None:
        return
    record_failure(str(credentials.get("username", "")), client_address(request))


@receiver(user_logged_in, dispatch_uid="config.login.forget_failures")
def _forget_failures(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    forget_failures(user.get_username())
