"""Structured logs: one JSON object per line (or a plain line in development), tagged with the
request or Celery task it belongs to.

- `request_id`, `task_id` and `task_name` live in context variables: the request-id middleware
  (config.middleware) sets the first, Celery's task signals (config.celery) the others. Context
  variables follow a request into asgiref's threads and stay apart between the worker's threads.
- `ContextFilter` copies them onto every record, so both formatters (and a `%(request_id)s` in a
  plain format string) can use them.
- Both formatters scrub secrets from the message and the traceback: a log line is read by more
  people, and kept longer, than the credentials that slipped into it.

Settings: `LOGGING` in config/settings.py uses these classes; `LOG_FORMAT=json|plain` picks one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from django.utils.encoding import escape_uri_path

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)
task_name_var: ContextVar[str | None] = ContextVar("task_name", default=None)

# Fields a record may carry (set by ContextFilter or passed with `extra=`) that the JSON line
# includes. A whitelist: Django's own records carry the whole `request` object (headers,
# cookies) in `extra`, and none of that may reach a log line.
CONTEXT_FIELDS = (
    "request_id",
    "user_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "task_id",
    "task_name",
)

REDACTED = "[redacted]"
# Header-like ("Authorization: Bearer x", "Cookie: a=b") and parameter-like ("access_token=x",
# "'password': 'x'") secrets; the key is kept so the line still says what was there.
_SECRET_HEADER = re.compile(
    r"(?P<key>\b(?:proxy-)?authorization|\bcookie|\bset-cookie|\bx-api-key)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s'\"][^'\"\r\n,}]*)",
    re.IGNORECASE,
)
_SECRET_PARAMETER = re.compile(
    # The key's end only ("access_token" matches at "token"): a pattern that starts with a
    # character class would backtrack quadratically over long runs of word characters.
    r"(?P<key>(?:token|secret|password|passwd|api[_-]?key|sessionid|csrftoken)\b)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s'\"&,;}]+)",
    re.IGNORECASE,
)
# URL parameters that are secrets themselves (the consulted expert's link is its own key).
_SECRET_ROUTE_PARAMETER = re.compile(r"token|secret|key|signature", re.IGNORECASE)
_BEARER = re.compile(r"\b(?P<key>Bearer|Basic|Token)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})")


def redact(text: str) -> str:
    """`text` with the values of credentials, tokens and cookies replaced by "[redacted]"."""
    # Parameters first: a header's value runs to the end of the line and could swallow the
    # name of a parameter that follows it, leaving that parameter's value behind.
    text = _SECRET_PARAMETER.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    text = _SECRET_HEADER.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m['key']} {REDACTED}", text)


def loggable_path(request: HttpRequest) -> str:
    """The request's path as sent (percent-encoded: a "%0A" cannot start a forged line), with
    secret URL parameters (the consultation link's token) replaced."""
    path = escape_uri_path(request.path)
    match = request.resolver_match
    if match is not None:
        for name, value in match.kwargs.items():
            if _SECRET_ROUTE_PARAMETER.search(name) and str(value):
                path = path.replace(escape_uri_path(str(value)), REDACTED)
    return path


def safe_message(record: logging.LogRecord) -> str:
    """The record's message, redacted; Django's request records ("Not Found: /consult/<token>/")
    name the request's path, which gets its secret parameters replaced first."""
    message = record.getMessage()
    request = getattr(record, "request", None)
    if isinstance(request, HttpRequest) and request.path in message:
        message = message.replace(request.path, loggable_path(request))
    return redact(message)


@contextmanager
def log_context(var: ContextVar[str | None], value: str | None) -> Iterator[None]:
    """Set a context variable for the duration of a block (a request, a task)."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current request id and Celery task onto each record (never drops one).

    A value passed explicitly with `extra=` wins: the access line names its request even when it
    is written after the context was left.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (
            ("request_id", request_id_var),
            ("task_id", task_id_var),
            ("task_name", task_name_var),
        ):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, the context
    fields that are set, and the traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": safe_message(record),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        # default=str: a stray non-JSON value in `extra` must not cost the whole line.
        return json.dumps(line, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """The human-readable line of development, with the request or task it belongs to."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # Redacts the whole text: another handler may have cached the traceback unredacted.
        return redact(super().format(record))

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = safe_message(record)
        tags = [
            f"{name}={value}"
            for name in ("request_id", "task_name", "task_id")
            if (value := getattr(record, name, None)) is not None
        ]
        text = super().formatMessage(record)
        return f"{text} [{' '.join(tags)}]" if tags else text
