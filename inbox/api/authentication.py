"""How an API request says who it is: a personal token, or the browser's session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from inbox.api import tokens
from inbox.models import ApiToken

# Both spellings are common in clients; the token itself is the same.
KEYWORDS = {"bearer", "token"}


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer inbox_…` (or `Token inbox_…`). The request then acts as the
    token's user, with exactly that user's permissions; `request.auth` is the ApiToken.

    No header: not this scheme (the session may still apply). A header that does not resolve
    to a usable token (unknown, expired, revoked, deactivated user): 401, saying why.
    """

    def authenticate(self, request: HttpRequest) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the token as 'Authorization: Bearer <token>'.")
            )
        try:
            clear = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Unknown API token.")) from None
        try:
            token = tokens.authenticate(clear)
        except tokens.TokenInvalid as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return token.user, token

    def authenticate_header(self, request: HttpRequest) -> str:
        # Makes unauthenticated requests a 401 (with this challenge) instead of a 403.
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token scheme as the OpenAPI schema (and Swagger UI's "Authorize") shows it."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "inbox_<prefix>_<secret>",
            "description": "A personal API token from /api/tokens/.",
        }
