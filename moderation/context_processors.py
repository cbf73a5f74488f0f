"""Template context for every page: the open incidents the banner shows."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from moderation.incidents import banner_incidents


def incidents(request: HttpRequest) -> dict[str, Any]:
    """`open_incidents`: open incidents of level 2 or more, or in storm mode, that the user may
    see. Lazy: the one query runs only on a page that shows the banner; nothing for anonymous
    users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"open_incidents": SimpleLazyObject(lambda: banner_incidents(user))}
