"""Settings of the REST API (Django REST framework) and its OpenAPI 3 schema (drf-spectacular).

Documented for API users in docs/api.md.
"""

import re
from typing import Any

from config.env import ImproperlyConfiguredEnv, env_str


def _rate(name: str, value: str) -> str:
    """A DRF throttle rate ("600/min"), checked at start-up: DRF itself would only fail on the
    first request, with a KeyError."""
    value = value.strip()
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfiguredEnv(
            f"{name} must be a number of requests per s, min, hour or day (e.g. 600/min), "
            f"got {value!r}"
        )
    return value


REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # A personal token (Authorization: Bearer …) first: its 401 answer names the scheme. The
    # session serves the documentation page's "Try it out" (DRF checks CSRF on its writes).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "inbox.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["inbox.api.throttling.TokenRateThrottle"],
    # Requests per token (signed-in sessions: per user), over a sliding window.
    "DEFAULT_THROTTLE_RATES": {"api": _rate("API_RATE", env_str("API_RATE", "600/min"))},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "inbox.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Unified social inbox API",
    "DESCRIPTION": (
        "Personal tokens act as their user, with exactly that user's permissions. "
        "Send `Authorization: Bearer <token>`. Lists are keyset-paginated: follow `next_cursor`. "
        "See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "inbox.models.ConversationStatus",
        "ChannelStatusEnum": "channels_integrations.models.ChannelStatus",
        "ConversationKindEnum": "inbox.models.ConversationKind",
        "OutboundKindEnum": "inbox.models.OutboundKind",
        "OutboundStateEnum": "inbox.models.OutboundState",
        "CaseStateEnum": "moderation.models.CaseState",
    },
}
