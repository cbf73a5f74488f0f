"""Structured logs: one JSON object per record, each tagged with its request or Celery task, one
access line per request, tracebacks kept, credentials never written."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from config.logging import ContextFilter, JsonFormatter, PlainFormatter, redact
from inbox.heartbeat import WORKER_HEARTBEAT_TASK, worker_heartbeat

MIDDLEWARE = "config.middleware.RequestIdMiddleware"
SECRET = "s3cr3t-Vh7Jq2LmXo9"
view_logger = logging.getLogger("tests.views")


def logging_view(request: HttpRequest) -> HttpResponse:
    view_logger.info("looking at %s", request.path)
    if request.user.is_authenticated:
        view_logger.info("user %s", request.user.pk)
    return HttpResponse("ok")


def headers_view(request: HttpRequest) -> HttpResponse:
    # What careless code does: the whole header dict into a log line.
    view_logger.warning("request headers: %s", dict(request.headers))
    return HttpResponse("ok")


def failing_view(request: HttpRequest) -> HttpResponse:
    raise ValueError(f"the platform refused access_token={SECRET}")


urlpatterns = [
    path("log/", logging_view),
    path("headers/", headers_view),
    path("boom/", failing_view),
    path("", include("config.urls")),
]

pytestmark = pytest.mark.urls("tests.test_logging")


@pytest.fixture(autouse=True)
def request_ids(settings: Any) -> None:
    """The request-id middleware first in the chain, as config/settings.py has it."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [MIDDLEWARE, *settings.MIDDLEWARE]


@contextmanager
def capture(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """Every record, through the filter and formatter of config/settings.py's LOGGING."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The records logged so far, as the JSON objects of their lines (every line must parse)."""
    with capture(JsonFormatter()) as stream:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def plain_text() -> Iterator[Callable[[], str]]:
    with capture(PlainFormatter()) as stream:
        yield stream.getvalue


def of_logger(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == name]


def test_a_request_writes_one_json_access_line_with_the_id_the_response_carries(json_lines):
    response = Client().get("/log/?q=Maria+Mustermann")

    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [access] = of_logger(json_lines(), "access")
    assert access["request_id"] == request_id
    assert access["level"] == "INFO"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/log/", 200)
    assert access["duration_ms"] >= 0
    assert access["time"].endswith("+00:00")  # ISO 8601, UTC
    # The query string can name people: it is never logged.
    assert "Mustermann" not in json.dumps(json_lines())


def test_lines_logged_during_a_request_carry_its_id(json_lines):
    response = Client().get("/log/")
    [line] = of_logger(json_lines(), "tests.views")
    assert line["message"] == "looking at /log/"
    assert line["request_id"] == response["X-Request-ID"]


def test_the_access_line_names_the_signed_in_user(agent, json_lines):
    client = Client()
    client.force_login(agent)
    client.get("/log/")
    [access] = of_logger(json_lines(), "access")
    assert access["user_id"] == agent.pk


@pytest.mark.parametrize("incoming", ["abc-123.X_y", "a" * 100])
def test_it_keeps_the_proxy_request_id_when_it_is_sane(incoming, json_lines):
    response = Client().get("/log/", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] == incoming
    assert of_logger(json_lines(), "access")[0]["request_id"] == incoming


@pytest.mark.parametrize("incoming", ["a" * 101, "two words", "id\nforged line", "<script>"])
def test_it_replaces_an_insane_proxy_request_id(incoming, json_lines):
    response = Client().get("/log/", HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert incoming not in "\n".join(json.dumps(line) for line in json_lines())


def test_a_path_cannot_forge_a_line_in_the_plain_log(plain_text):
    Client().get("/log/%0A2026-01-01 00:00:00,000 ERROR forged: line")
    lines = plain_text().splitlines()
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert any("GET /log/%0A2026-01-01" in line for line in lines)


def test_an_exception_is_logged_with_its_traceback_and_request_id(json_lines):
    response = Client(raise_request_exception=False).get("/boom/")

    assert response.status_code == 500
    [error] = of_logger(json_lines(), "django.request")
    assert error["level"] == "ERROR"
    assert error["request_id"] == response["X-Request-ID"]
    assert error["exception"].startswith("Traceback (most recent call last)")
    assert "ValueError: the platform refused access_token=[redacted]" in error["exception"]
    [access] = of_logger(json_lines(), "access")
    assert access["status"] == 500


def test_credentials_in_headers_never_reach_the_json_log(json_lines):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = SECRET
    headers = {"HTTP_AUTHORIZATION": f"Bearer {SECRET}", "HTTP_X_API_KEY": SECRET}
    client.get("/headers/", **headers)
    client.get("/boom/", **headers)  # Django's error record carries the whole request

    lines = json_lines()
    assert of_logger(lines, "tests.views") and of_logger(lines, "django.request")
    assert SECRET not in "\n".join(json.dumps(line) for line in lines)


def test_credentials_never_reach_the_plain_log_either(plain_text):
    Client(raise_request_exception=False).get("/boom/", HTTP_AUTHORIZATION=f"Token {SECRET}")
    Client().get("/headers/", HTTP_AUTHORIZATION=f"Basic {SECRET}")
    text = plain_text()
    assert "Traceback" in text and "request headers" in text
    assert SECRET not in text


@pytest.mark.django_db
def test_the_token_of_a_consultation_link_is_not_logged(json_lines):
    Client().get(f"/consult/{SECRET}/")
    [access] = of_logger(json_lines(), "access")
    assert access["path"] == "/consult/[redacted]/"
    assert SECRET not in json.dumps(json_lines())


@pytest.mark.django_db
def test_health_checks_log_at_debug_and_cost_no_user_lookup(json_lines, django_assert_num_queries):
    with django_assert_num_queries(1):  # the database check itself
        Client().get("/healthz")
    [access] = of_logger(json_lines(), "access")
    assert access["level"] == "DEBUG"
    assert "user_id" not in access


def test_a_celery_task_log_carries_the_task_id_and_name(json_lines):
    # A heartbeat that waited two minutes in the queue: the worker warns about it.
    result = worker_heartbeat.apply(kwargs={"sent_at": time.time() - 120})
    logging.getLogger("tests.after").info("after the task")

    lines = json_lines()
    [warning] = of_logger(lines, "inbox.heartbeat")
    assert warning["level"] == "WARNING"
    assert warning["task_id"] == result.id
    assert warning["task_name"] == WORKER_HEARTBEAT_TASK
    [after] = of_logger(lines, "tests.after")
    assert "task_id" not in after  # the task's context ends with the task


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {SECRET}",
        f"{{'Authorization': 'Basic {SECRET}', 'Accept': 'text/html'}}",
        f"GET /oauth?client_id=1&access_token={SECRET}&x=1",
        f'{{"password": "{SECRET}"}}',
        f"Cookie: sessionid={SECRET}; csrftoken=abc",
        f"Set-Cookie: sessionid={SECRET}",
        f"refresh_token={SECRET}",
        f"calling with Token {SECRET}",
        f'Authorization: Bearer abcdefghij client_secret: "{SECRET}"',
    ],
)
def test_redact_removes_the_secret_and_keeps_what_it_was(text):
    redacted = redact(text)
    assert SECRET not in redacted
    assert "[redacted]" in redacted


def test_redact_stays_fast_on_a_huge_line():
    # A payload dumped into a message: backtracking patterns would take minutes here.
    started = time.monotonic()
    redact("-token" * 40_000 + "x-" * 100_000)
    assert time.monotonic() - started < 3


def test_redact_leaves_ordinary_text_alone():
    text = "Polled 3 channels; 2 tokens refreshed; key moments of the day: Authorization pending"
    assert redact(text) == text
