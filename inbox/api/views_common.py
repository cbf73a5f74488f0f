"""What every API view shares: input validation, the documented error answers, query checks."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from inbox.api.serializers import ErrorSerializer

ERRORS: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid parameters (see `errors`)."),
    401: OpenApiResponse(ErrorSerializer, description="No token, or unknown, expired, revoked."),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed (e.g. read-only observer)."),
    404: OpenApiResponse(ErrorSerializer, description="Not there, or not visible to this user."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit hit; see Retry-After."),
}
WRITE_ERRORS: dict[int, OpenApiResponse] = {
    **ERRORS,
    409: OpenApiResponse(ErrorSerializer, description="Refused, with the reason in `detail`."),
}


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="next_cursor of the previous page."),
    OpenApiParameter("page_size", int, description="1 to 100 (default 50)."),
]


def clean_query(request: Request) -> QueryDict:
    """The query string, refused (400) when a value holds a NUL character, which no text
    column can store or be compared with."""
    params: QueryDict = request.query_params
    for key, values in params.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise ValidationError(
                {key.replace("\x00", ""): [_("Null characters are not allowed.")]}
            )
    return params


class ApiView(APIView):
    """An API endpoint: validates its input with `valid` (400 with the field errors)."""

    def valid(self, serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        clean_query(request)
