"""CSRF: every form and every htmx write the pages offer is refused (403, nothing written)
when it comes without the CSRF token, and so is the API with the browser's session; the only
views exempt from Django's CSRF check are the ones listed here, with the reason.

The forms are found, not listed: an admin opens every page of the URL walk, and each
`<form method="post">` and each `hx-post`/`hx-put`/`hx-patch`/`hx-delete` element is replayed
with a client that enforces CSRF checks.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import transaction
from django.test import Client

from tests import factories
from tests.security.access_helpers import (
    Workspace,
    all_routes,
    build_workspace,
    fill,
    path_values,
)
from tests.security.test_access_matrix import API, PAGES, rows_written

HTMX_WRITES = ("hx-post", "hx-put", "hx-patch", "hx-delete")

# Views Django's CSRF middleware does not check, and why that is safe. Every DRF view is marked
# exempt by APIView.as_view(); DRF's SessionAuthentication then enforces the same check itself
# for a browser session (test_the_api_refuses_session_writes_without_the_token), and a request
# with a token carries no ambient credential a foreign page could borrow.
CSRF_EXEMPT = {
    name: "DRF: token auth, or SessionAuthentication's own CSRF check" for name in API
} | {
    "api:schema": "DRF, read only",
    "api:docs": "DRF, read only",
}


class Targets(HTMLParser):
    """Where a page's forms and htmx elements write to: (method, url, fields)."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.found: list[tuple[str, str, dict[str, str]]] = []
        self._form: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        for attribute in HTMX_WRITES:
            if attribute in attributes:
                url = urljoin(self.page_url, attributes[attribute] or self.page_url)
                self.found.append((attribute.removeprefix("hx-"), url, {}))
        if tag == "form" and attributes.get("method", "get").lower() == "post":
            action = urljoin(self.page_url, attributes.get("action") or self.page_url)
            self._form = (action, {})
        elif (
            tag in {"input", "textarea", "select"}
            and self._form
            and attributes.get("name")
            and (attributes.get("type") not in {"checkbox", "radio"} or "checked" in attributes)
        ):
            self._form[1][attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form:
            self.found.append(("post", *self._form))
            self._form = None


@pytest.fixture
def workspace(db: None) -> Workspace:
    return build_workspace()


def admin_pages(workspace: Workspace) -> list[str]:
    """Every page an admin can open: the matrix's GET rows, and the Django admin's change and
    add pages of the channels and users (the credentials live there)."""
    routes = {route.name: route for route in all_routes()}
    urls = [
        fill(routes[name], path_values(workspace, routes[name]))
        for name, row in PAGES.items()
        if row.get("get", (None,) * 6)[5] == 200
    ]
    channel, user = workspace.channel.pk, workspace.users["agent"].pk
    urls += [
        f"/admin/channels_integrations/channelaccount/{channel}/change/",
        "/admin/channels_integrations/channelaccount/add/",
        f"/admin/auth/user/{user}/change/",
        f"/admin/auth/user/{user}/password/",
        "/admin/password_change/",
    ]
    return urls


def write_targets(workspace: Workspace) -> dict[tuple[str, str], tuple[dict[str, str], str]]:
    """(method, path) -> (the form's fields, the page it was found on)."""
    client = workspace.client("admin")
    targets: dict[tuple[str, str], tuple[dict[str, str], str]] = {}
    for url in admin_pages(workspace):
        response = client.get(url)
        assert response.status_code == 200, url
        if "html" not in response.get("Content-Type", ""):
            continue
        parser = Targets(url)
        parser.feed(response.content.decode())
        for method, target, fields in parser.found:
            parts = urlsplit(target)
            if parts.netloc and parts.netloc != "testserver":
                continue
            fields.pop("csrfmiddlewaretoken", None)
            targets.setdefault((method, parts.path), (fields, url))
    return targets


def test_every_form_and_htmx_write_is_refused_without_the_csrf_token(
    workspace: Workspace,
) -> None:
    targets = write_targets(workspace)
    # The walk must find the forms, or this test shows nothing.
    assert len(targets) > 60, sorted(targets)
    assert ("post", "/accounts/logout/") in targets
    client = Client(enforce_csrf_checks=True)
    client.force_login(workspace.users["admin"])
    problems = []
    for (method, path), (fields, page) in sorted(targets.items()):
        with transaction.atomic():
            before = rows_written()
            if method == "post":
                response = client.post(path, fields)
            else:
                response = client.generic(method.upper(), path)
            written = rows_written() != before
            transaction.set_rollback(True)
        if response.status_code != 403:
            problems.append(f"{method} {path} (on {page}): {response.status_code}")
        if written:
            problems.append(f"{method} {path} (on {page}) wrote rows without the token")
    assert not problems, "\n".join(problems)
    # Still signed in: the refused logout did not log out.
    assert client.get("/inbox/").status_code == 200


def test_the_api_refuses_session_writes_without_the_token(workspace: Workspace) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(workspace.users["admin"])
    routes = {route.name: route for route in all_routes()}
    problems = []
    for name, row in API.items():
        if "post" not in row:
            continue
        url = fill(routes[name], path_values(workspace, routes[name]))
        with transaction.atomic():
            before = rows_written()
            response = client.post(url, json.dumps({}), content_type="application/json")
            written = rows_written() != before
            transaction.set_rollback(True)
        if response.status_code != 403 or "CSRF" not in response.json().get("detail", ""):
            problems.append(f"{url}: {response.status_code}")
        if written:
            problems.append(f"{url} wrote rows")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_the_sign_in_forms_need_the_token_too() -> None:
    # A forged sign-in would log the victim into the attacker's account (login CSRF).
    client = Client(enforce_csrf_checks=True)
    for path in ("/accounts/login/", "/admin/login/"):
        response = client.post(path, {"username": "kim", "password": "wrong"})
        assert response.status_code == 403, path


def test_no_view_is_csrf_exempt_but_the_listed_ones() -> None:
    exempt = {route.name for route in all_routes() if getattr(route.callback, "csrf_exempt", False)}
    assert exempt == set(CSRF_EXEMPT)


@pytest.mark.django_db
def test_with_the_token_the_same_form_is_accepted() -> None:
    """The refusals above are the CSRF check's: the same post with the page's token passes."""
    client = Client(enforce_csrf_checks=True)
    admin: Any = factories.make_user("alex", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/inbox/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    token = token or client.cookies["csrftoken"].value
    response: Any = client.post(
        "/inbox/views/", {"name": "Open", "query": "status=open", "csrfmiddlewaretoken": token}
    )
    assert response.status_code in (200, 204, 302)
    from inbox.models import SavedView

    assert SavedView.objects.filter(user=admin, name="Open").exists()
