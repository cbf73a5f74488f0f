"""Project middleware: request ids and access lines (first in the chain), security headers."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from config.logging import log_context, loggable_path, request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from the proxy: short, and nothing that could forge a log line or a header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")

access_logger = logging.getLogger("access")


class RequestIdMiddleware:
    """Gives every request an id, and writes one access line per request.

    The id is the proxy's `X-Request-ID` when it is sane (at most 100 of `[A-Za-z0-9._-]`), else
    a new random one; it is echoed in the response's `X-Request-ID` and set in the logging
    context (config.logging), so every line the request logs carries it, and the proxy's log
    and ours can be joined on it.

    The access line (logger "access", INFO; the health check's at DEBUG, it comes every few
    seconds) has method, path, status, duration and the user's id. The path, never the query
    string: queries carry search terms and names. Path parameters that are secrets (the
    consultation link's token) are replaced by "[redacted]".
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        with log_context(request_id_var, request_id):
            response = self.get_response(request)
            response.headers[REQUEST_ID_HEADER] = request_id
            match = request.resolver_match
            path = loggable_path(request)
            access_logger.log(
                logging.DEBUG if match and match.url_name == "healthz" else logging.INFO,
                "%s %s %s",
                request.method,
                path,
                response.status_code,
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "user_id": _loaded_user_id(request),
                },
            )
        return response


def _loaded_user_id(request: HttpRequest) -> int | None:
    # Only a user the request already looked up: resolving the lazy `request.user` here would
    # cost a session and a user query on requests that never needed one (the health check).
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if user.is_authenticated else None


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy: scripts only from our own origin, never inline.

    Every script the pages run is a static file, so platform text that slips into the HTML can
    never execute; websockets go to our own host only.
    """

    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
        "object-src 'none'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
