"""One error shape for the whole API: `{"detail": "...", "code": "..."}` (validation errors add
`"errors": {field: [messages]}`), and the inbox's own exceptions mapped to HTTP statuses."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from inbox.access import AccessDenied, ReadOnly
from inbox.actions import ActionRefused


class Refused(exceptions.APIException):
    """The action cannot be done as asked (ActionRefused): the reason is for the person."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "refused"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """ReadOnly: 403 with the reason; AccessDenied: 404 (a 403 would confirm that the object
    exists); ActionRefused: 409 with the reason. Everything else as DRF answers it."""
    if isinstance(exc, ReadOnly):
        exc = exceptions.PermissionDenied(str(exc), code="read_only")
    elif isinstance(exc, AccessDenied | Http404):
        exc = exceptions.NotFound(_("Not found."), code="not_found")
    elif isinstance(exc, ActionRefused):
        exc = Refused(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _("The request is not valid."),
            "code": "invalid",
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    else:
        codes = exc.get_codes()
        response.data = {
            "detail": str(exc.detail),
            "code": codes if isinstance(codes, str) else "error",
        }
    return response
