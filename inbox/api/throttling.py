"""Rate limiting per token (signed-in browsers: per user), with the rate from settings."""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from inbox.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """At most REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api"] requests per token (env
    API_RATE). Counted in the default cache, which is Redis in the services mode, so every
    web process shares one count. Over the limit: 429 with Retry-After."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at each request, not at import (DRF's default), so a changed setting applies.
        rate: str | None = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return rate

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
