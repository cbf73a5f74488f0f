from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from inbox.live import end_live_session


@receiver(user_logged_out)
def close_live_connections_on_logout(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    # Sent before the session is flushed, so its key still names the tabs to close.
    if user is not None and request is not None and request.session.session_key:
        end_live_session(user.pk, request.session.session_key)
