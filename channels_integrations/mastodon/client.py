"""Thin HTTP client for the Mastodon REST API, mapping its errors to the normalized taxonomy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.http import PlatformSession

# When a 429 carries no usable reset time, wait this long (Mastodon's window is 5 minutes).
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)


class MastodonClient:
    def __init__(self, base_url: str, token: str, session: PlatformSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.auth = {"Authorization": f"Bearer {token}"}

    def notifications(self, *, min_id: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"types[]": ["mention"], "limit": limit}
        if min_id is not None:
            params["min_id"] = min_id
        data = self._call("GET", "/api/v1/notifications", params=params)
        if not isinstance(data, list):
            raise Transient("notifications: expected a JSON array")
        return data

    def post_status(
        self, *, text: str, in_reply_to_id: str, visibility: str, idempotency_key: str
    ) -> dict[str, Any]:
        body = {"status": text, "in_reply_to_id": in_reply_to_id, "visibility": visibility}
        data = self._call(
            "POST", "/api/v1/statuses", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise Transient("statuses: the response has no status id")
        return data

    def verify_credentials(self) -> dict[str, Any]:
        data = self._call("GET", "/api/v1/accounts/verify_credentials")
        if not isinstance(data, dict):
            raise Transient("verify_credentials: expected a JSON object")
        return data

    def delete_status(self, status_id: str) -> None:
        self._call("DELETE", f"/api/v1/statuses/{status_id}")

    def favourite(self, status_id: str) -> None:
        self._call("POST", f"/api/v1/statuses/{status_id}/favourite")

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                headers={**self.auth, **(headers or {})},
            )
        except requests.Timeout:
            raise Transient(f"{method} {path}: the platform did not answer in time") from None
        except requests.RequestException as exc:
            raise Transient(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise error_for(response)
        try:
            return response.json()
        except ValueError:
            raise Transient(f"{method} {path}: the response is not JSON") from None


def error_for(response: requests.Response) -> ConnectorError:
    status = response.status_code
    detail = _error_text(response)
    if status == 401:
        return AuthExpired(f"Mastodon refused the access token: {detail}")
    if status == 429:
        return RateLimited(
            f"Mastodon rate limit reached: {detail}", retry_at=rate_limit_reset(response)
        )
    if status == 403:
        return PermissionDenied(f"Mastodon: {detail}")
    if status == 404:
        return NotFound(f"Mastodon: {detail}")
    if status == 422:
        return InvalidRequest(f"Mastodon: {detail}")
    if status >= 500:
        return Transient(f"Mastodon is unavailable (HTTP {status}): {detail}")
    return ConnectorError(f"Mastodon answered HTTP {status}: {detail}")


def rate_limit_reset(response: requests.Response) -> datetime:
    now = datetime.now(UTC)
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            when = datetime.fromisoformat(reset)
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            # A reset in the past (clock skew) still means "not right now".
            return max(when, now + timedelta(seconds=5))
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        return now + timedelta(seconds=int(retry_after))
    return now + DEFAULT_RATE_LIMIT_WAIT


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or "no details"
    if isinstance(body, dict):
        message = body.get("error_description") or body.get("error")
        if isinstance(message, str) and message:
            return message[:300]
    return response.reason or "no details"
