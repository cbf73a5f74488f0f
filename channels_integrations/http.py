"""The one way platform HTTP leaves the process: a requests session with timeouts always set.

No connector builds its own session, so no platform call can hang a worker forever, follow a
redirect to an unexpected host, or pick up proxy settings from the environment by accident.
"""

from typing import Any

import requests
from django.conf import settings

USER_AGENT = "SocialInbox/0.1 (+https://example.invalid/social-inbox)"


class PlatformSession(requests.Session):
    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        super().__init__()
        self.timeout = (connect_timeout, read_timeout)
        self.trust_env = False
        self.max_redirects = 3
        self.headers["User-Agent"] = USER_AGENT
        self.headers["Accept"] = "application/json"

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


def platform_session(
    *, connect_timeout: float | None = None, read_timeout: float | None = None
) -> PlatformSession:
    return PlatformSession(
        connect_timeout=connect_timeout or settings.PLATFORM_CONNECT_TIMEOUT,
        read_timeout=read_timeout or settings.PLATFORM_READ_TIMEOUT,
    )
