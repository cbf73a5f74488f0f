"""Rate limiting per token (signed-in browsers: per user), with the rate from settings."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from inbox.models import ApiToken

logger = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    """At most REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api"] requests per token (env
    API_RATE). Counted in the default cache, which is Redis in the services mode, so every
    web process shares one count. Over the limit: 429 with Retry-After."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at each request, not at import (DRF's default), so a changed setting applies.
        rate: str | None = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return rate

    def allow_request(self, request: Any, view: Any) -> bool:
        # Without Redis the shared count cannot be read. Pages keep working without Redis, so
        # the API does too, unthrottled for the moment, rather than answer every call with 500.
        try:
            return super().allow_request(request, view)
        except RedisError:
            logger.warning("API rate limit not checked: the cache is unavailable", exc_info=True)
            return True

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
