"""Security headers on every kind of answer (pages, the sign-in page, the API, static files,
404/403/500 errors): a Content-Security-Policy whose scripts are our own files only (no
'unsafe-inline', no 'unsafe-eval'), no framing by other sites (frame-ancestors 'none' and
X-Frame-Options DENY), nosniff and a Referrer-Policy; and, with the production settings (in a
separate interpreter), HSTS on HTTPS answers and a redirect from plain HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from inbox.api import tokens
from tests import factories
from tests.security.access_helpers import production_probe


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = [word.lower() for word in words[1:]]
    return parsed


def assert_document_headers(response: Any) -> None:
    """The headers a browser needs on anything it may render as a document."""
    policy = directives(response.headers["Content-Security-Policy"])
    # The source scripts fall back to is default-src when script-src is absent.
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts == ["'self'"], scripts
    for directive in ("default-src", "script-src"):
        for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
            assert unsafe not in policy.get(directive, []), (directive, unsafe)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert_transport_headers(response)


def assert_transport_headers(response: Any) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.fixture
def agent_client(db: None) -> Client:
    department = factories.make_department("Community")
    user: Any = factories.make_user("kim")
    factories.add_member(user, department)
    client = Client()
    client.force_login(user)
    return client


def test_pages_carry_the_policy(agent_client: Client) -> None:
    for path in ("/inbox/", "/channels/", "/moderation/", "/api/tokens/"):
        response = agent_client.get(path)
        assert response.status_code == 200, path
        assert_document_headers(response)


def test_the_sign_in_page_carries_the_policy_and_its_refusal_too(db: None) -> None:
    client = Client()
    assert_document_headers(client.get("/accounts/login/"))
    assert_document_headers(client.get("/admin/login/"))


def test_error_pages_carry_the_policy(agent_client: Client, monkeypatch: Any) -> None:
    not_found = agent_client.get("/no/such/page/")
    assert not_found.status_code == 404
    assert_document_headers(not_found)
    forbidden = agent_client.get("/team/")
    assert forbidden.status_code == 403
    assert_document_headers(forbidden)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("django.contrib.auth.views.LoginView.get_context_data", broken)
    server_error = Client(raise_request_exception=False).get("/accounts/login/")
    assert server_error.status_code == 500
    assert_document_headers(server_error)
    # Our own page, in the reader's language, not Django's bare "Server Error (500)".
    assert "The inbox is briefly unavailable." in server_error.content.decode()
    german = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="de")
    assert (
        "Der Posteingang ist kurz nicht erreichbar."
        in german.get("/accounts/login/").content.decode()
    )


def test_api_answers_carry_the_policy(db: None) -> None:
    user = factories.make_user("kim")
    clear = tokens.create_token(user=user, name="headers")[1]
    ok = Client(HTTP_AUTHORIZATION=f"Bearer {clear}").get("/api/v1/me/")
    assert ok.status_code == 200
    assert_document_headers(ok)
    refused = Client().get("/api/v1/me/")
    assert refused.status_code == 401
    assert_document_headers(refused)
    assert_document_headers(Client().get("/api/docs/"))


def test_static_files_are_not_sniffed(db: None) -> None:
    response = Client().get("/static/js/live.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert_transport_headers(response)


def test_production_answers_https_with_hsts_and_redirects_plain_http() -> None:
    probe = production_probe()
    assert probe["settings"]["DEBUG"] is False
    assert probe["settings"]["SECURE_HSTS_SECONDS"] >= 31536000
    assert probe["settings"]["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    https = probe["https"]
    assert https["status"] == 200
    assert https["headers"]["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains")
    assert "frame-ancestors 'none'" in https["headers"]["Content-Security-Policy"]
    http = probe["http"]
    assert http["status"] == 301
    assert http["headers"]["Location"] == "https://inbox.example.com/jsi18n/"
    # HSTS only over HTTPS: a browser ignores it on plain HTTP, a proxy may cache it wrongly.
    assert "Strict-Transport-Security" not in http["headers"]
