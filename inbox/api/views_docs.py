"""The OpenAPI schema and its documentation page (Swagger UI from drf-spectacular-sidecar)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response


class ApiDocs(SpectacularSwaggerSplitView):
    """Swagger UI without any inline script or style, so the site's CSP applies unchanged:
    the page loads its start-up script from this same URL (?script)."""

    template_name = "api/swagger_ui.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is not None:
            # The script carries the CSRF token for "Try it out": no other site may load it.
            response["Cross-Origin-Resource-Policy"] = "same-origin"
            response["Cache-Control"] = "no-store"
        return response
