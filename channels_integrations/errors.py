"""The normalized error taxonomy every connector maps its platform's failures to."""

from datetime import datetime


class ConnectorError(Exception):
    """A platform call failed. `permanent` says whether trying the same call again can help."""

    permanent = True

    def __init__(self, message: str, *, permanent: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if permanent is not None:
            self.permanent = permanent


class AuthExpired(ConnectorError):
    """The token is expired, revoked or invalid: a person must re-authorize the channel."""


class RateLimited(ConnectorError):
    permanent = False

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class Transient(ConnectorError):
    """5xx, timeouts, connection errors: back off and try again."""

    permanent = False


class PermissionDenied(ConnectorError):
    pass


class NotFound(ConnectorError):
    pass


class InvalidRequest(ConnectorError):
    """The platform refused the content (validation), e.g. a reply that is too long."""


class MalformedPayload(ConnectorError):
    """One item of a response could not be understood; the rest of the page goes on."""
