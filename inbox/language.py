"""The interface language of a request: the user's own choice when they made one (their
preferences), otherwise what LocaleMiddleware took from the browser's Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

SUPPORTED = {code for code, _name in settings.LANGUAGES}


def user_language(user: object) -> str:
    """The language the user chose, or "" (no choice: follow the browser)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    preferences = getattr(user, "agent_preferences", None)
    language = getattr(preferences, "language", "") if preferences is not None else ""
    return language if language in SUPPORTED else ""


class UserLanguageMiddleware:
    """Runs after AuthenticationMiddleware and LocaleMiddleware: a signed-in user's chosen
    language wins over the browser's.

    Once the response is rendered, the thread goes back to the site's language: whatever runs
    next on it (another request before LocaleMiddleware, a test, a task run in the same
    process) must not inherit this visitor's language. A streaming response renders later,
    while it is sent, so it keeps the language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            chosen = user_language(request.user)
        except Exception:  # a missing preferences row must never break a page
            chosen = ""
        if chosen and chosen != translation.get_language():
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen:
            response.headers["Content-Language"] = chosen
        if not response.streaming:
            # LocaleMiddleware, outside this one, names the language with setdefault.
            response.headers.setdefault("Content-Language", translation.get_language())
            translation.deactivate()
        return response
