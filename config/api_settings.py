"""Settings of the REST API (Django REST framework) and its OpenAPI 3 schema (drf-spectacular)."""

from typing import Any

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Unified social inbox API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}
