"""Thin HTTP client for the YouTube Data API v3, mapping its errors to the normalized taxonomy.

Every call is charged to the local quota ledger before it leaves (YouTube charges every request,
invalid ones included), and a 401 is answered once by refreshing the OAuth access token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from channels_integrations.text import html_to_text

# The daily quota resets at midnight Pacific time, whatever the caller's time zone.
QUOTA_TIME_ZONE = ZoneInfo("America/Los_Angeles")

# Units per call (developers.google.com/youtube/v3/determine_quota_cost).
LIST_COST = 1
WRITE_COST = 50

# rateLimitExceeded carries no reset time; Google's guidance is to back off and retry.
DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)

SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Google: "while this can be a transient error, it usually indicates invalid input"; the
# reference (section 0.2) files it under Transient, so the outbox retries a bounded number of times.
TRANSIENT_REASONS = frozenset({"processingFailure", "backendError", "internalError"})

# The platform's reasons as a sentence the agent understands; the reason code follows in brackets.
REASON_TEXT = {
    "authError": "the access token is invalid or has expired",
    "banWithoutReject": "an author can only be banned while rejecting their comment",
    "channelNotFound": "the channel does not exist",
    "commentNotFound": "the comment no longer exists on YouTube",
    "commentTextRequired": "the text is empty",
    "commentTextTooLong": "the text is too long",
    "commentsDisabled": "comments are turned off for this video",
    "forbidden": "the connected account is not allowed to do this",
    "ineligibleAccount": "the connected Google account has no YouTube channel that may comment",
    "invalidPageToken": "the page token is no longer valid",
    "operationNotSupported": "YouTube does not support this operation here",
    "parentCommentIsPrivate": "the comment is private and cannot be answered",
    "parentIdMissing": "the comment to answer is missing",
    "processingFailure": "YouTube could not process the request",
    "quotaExceeded": "the daily API quota is used up",
    "rateLimitExceeded": "too many requests in a short time",
    "userRateLimitExceeded": "too many requests in a short time",
    "videoNotFound": "the video does not exist",
}


class PageTokenRejected(InvalidRequest):
    """The platform no longer accepts a pageToken we kept: start the listing again."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def next_quota_reset(now: datetime) -> datetime:
    """The next midnight in Pacific time after `now` (aware, UTC), when the daily quota resets."""
    local_day: date = now.astimezone(QUOTA_TIME_ZONE).date()
    midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=QUOTA_TIME_ZONE)
    return midnight.astimezone(UTC)


class YouTubeClient:
    """One channel's view of the API. `spend(units)` is called before every request is sent;
    `refreshed(credentials)` after a token refresh, with the credentials to store."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        credentials: dict[str, Any],
        session: PlatformSession,
        spend: Callable[[int], None],
        refreshed: Callable[[dict[str, Any]], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.credentials = dict(credentials)
        self.session = session
        self._spend = spend
        self._refreshed = refreshed
        self._clock = clock
        self._refresh_tried = False

    # Reads (1 unit each).

    def comment_threads(
        self,
        *,
        channel_id: str,
        page_token: str | None = None,
        moderation_status: str | None = None,
        max_results: int = 100,
        part: str = "snippet,replies",
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "part": part,
            "allThreadsRelatedToChannelId": channel_id,
            "order": "time",
            "maxResults": max_results,
        }
        if moderation_status:
            params["moderationStatus"] = moderation_status
        if page_token:
            params["pageToken"] = page_token
        return self._list("/commentThreads", params, what="to list the channel's comments")

    def comment_threads_by_id(self, ids: Iterable[str]) -> dict[str, Any]:
        params = {"part": "snippet,replies", "id": ",".join(ids)}
        return self._list("/commentThreads", params, what="to look up comment threads")

    def replies(self, *, parent_id: str, page_token: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"part": "snippet", "parentId": parent_id, "maxResults": 100}
        if page_token:
            params["pageToken"] = page_token
        return self._list("/comments", params, what="to list the replies of a comment")

    def comments_by_id(self, ids: Iterable[str]) -> dict[str, Any]:
        params = {"part": "snippet", "id": ",".join(ids)}
        return self._list("/comments", params, what="to look up comments")

    def videos(self, ids: Iterable[str]) -> dict[str, Any]:
        params = {"part": "snippet", "id": ",".join(ids)}
        return self._list("/videos", params, what="to look up videos")

    def my_channels(self) -> dict[str, Any]:
        params = {"part": "snippet", "mine": "true"}
        return self._list("/channels", params, what="to show the token's channel")

    # Writes (50 units each).

    def insert_reply(self, *, parent_id: str, text: str) -> dict[str, Any]:
        body = {"snippet": {"parentId": parent_id, "textOriginal": text}}
        data = self._call(
            "POST",
            "/comments",
            params={"part": "snippet"},
            json=body,
            cost=WRITE_COST,
            what="the reply",
            reasons={"operationNotSupported": "the thread does not allow replies"},
        )
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise Transient("YouTube accepted the reply but its answer has no comment id")
        return data

    def set_moderation_status(
        self, comment_id: str, status: str, *, ban_author: bool = False, what: str
    ) -> None:
        params = {"id": comment_id, "moderationStatus": status}
        if ban_author:
            params["banAuthor"] = "true"
        self._call(
            "POST",
            "/comments/setModerationStatus",
            params=params,
            cost=WRITE_COST,
            what=what,
            reasons={"operationNotSupported": "YouTube cannot restore a rejected comment"},
        )

    def delete_comment(self, comment_id: str) -> None:
        self._call(
            "DELETE",
            "/comments",
            params={"id": comment_id},
            cost=WRITE_COST,
            what="to delete the comment",
            reasons={"forbidden": "only the comment's author can delete it"},
        )

    # Plumbing.

    def _list(self, path: str, params: dict[str, Any], *, what: str) -> dict[str, Any]:
        data = self._call("GET", path, params=params, cost=LIST_COST, what=what)
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise Transient(f"YouTube's answer {what.removeprefix('to ')} is not a list response")
        return data

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any],
        cost: int,
        what: str,
        json: dict[str, Any] | None = None,
        reasons: dict[str, str] | None = None,
    ) -> Any:
        while True:
            token = str(self.credentials.get("access_token") or "")
            # Charged before sending: YouTube counts a request that times out on our side too.
            self._spend(cost)
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except requests.Timeout:
                raise Transient(f"YouTube did not answer in time ({method} {path})") from None
            except requests.RequestException as exc:
                raise Transient(f"YouTube could not be reached ({type(exc).__name__})") from None
            if response.status_code == 401 and self._can_refresh():
                self._refresh()
                continue  # the refused call was not carried out, so sending it again is safe
            if response.status_code >= 400:
                raise error_for(response, what=what, reasons=reasons, now=self._clock())
            if 300 <= response.status_code < 400:
                raise ConnectorError(
                    f"YouTube answered with a redirect (HTTP {response.status_code}); "
                    "check the channel's API base URL"
                )
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise Transient(f"YouTube's answer to {method} {path} is not JSON") from None

    def _can_refresh(self) -> bool:
        return not self._refresh_tried and all(
            self.credentials.get(name) for name in ("refresh_token", "client_id", "client_secret")
        )

    def _refresh(self) -> None:
        """Trade the refresh token for a new access token (once per client); AuthExpired if
        Google refuses, so a person re-authorizes the channel."""
        self._refresh_tried = True
        form = {
            "grant_type": "refresh_token",
            "refresh_token": str(self.credentials["refresh_token"]),
            "client_id": str(self.credentials["client_id"]),
            "client_secret": str(self.credentials["client_secret"]),
        }
        try:
            response = self.session.post(self.token_url, data=form)
        except requests.Timeout:
            raise Transient("Google's token endpoint did not answer in time") from None
        except requests.RequestException as exc:
            raise Transient(
                f"Google's token endpoint could not be reached ({type(exc).__name__})"
            ) from None
        if response.status_code >= 500:
            raise Transient(f"Google's token endpoint is unavailable (HTTP {response.status_code})")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, str):  # Google's API errors nest an object under "error"
                error = None
            if error == "invalid_grant":
                raise AuthExpired(
                    "Google refused to renew the YouTube access token: the refresh token was "
                    "revoked or has expired (invalid_grant). Reconnect the channel."
                )
            if error in {"invalid_client", "unauthorized_client"}:
                raise AuthExpired(
                    "Google refused to renew the YouTube access token: the OAuth client id or "
                    f"secret is not accepted ({error}). Check the channel's credentials."
                )
            raise AuthExpired(
                "Google refused to renew the YouTube access token "
                f"(HTTP {response.status_code}{f', {error}' if error else ''})."
            )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise Transient("Google's token endpoint answered without an access token")
        self.credentials["access_token"] = access_token
        # Google normally keeps the refresh token; store a rotated one if it sends one.
        if isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            self.credentials["refresh_token"] = body["refresh_token"]
        self._refreshed(dict(self.credentials))


def error_for(
    response: requests.Response,
    *,
    what: str,
    reasons: dict[str, str] | None = None,
    now: datetime | None = None,
) -> ConnectorError:
    """The normalized error for a YouTube error response, with the platform's reason in it."""
    now = now or utcnow()
    status = response.status_code
    reason, message = error_reason(response)
    explanation = (reasons or {}).get(reason) or REASON_TEXT.get(reason) or message
    explanation = explanation or f"HTTP {status}"
    suffix = f" ({reason})" if reason else ""
    text = f"YouTube refused {what}: {explanation}{suffix}."

    if status == 401:
        return AuthExpired(f"YouTube refused the access token: {explanation}{suffix}.")
    if reason in SCOPE_REASONS:
        # Only a person can grant the missing scope: re-authorize, as for a dead token.
        return AuthExpired(
            f"YouTube refused {what}: the token lacks the youtube.force-ssl permission"
            f"{suffix}. Reconnect the channel and allow managing comments."
        )
    if reason in QUOTA_REASONS:
        reset = next_quota_reset(now)
        return RateLimited(
            f"YouTube's daily API quota is used up{suffix}; it resets at midnight Pacific time.",
            retry_at=reset,
        )
    if reason in RATE_REASONS or status == 429:
        return RateLimited(
            f"YouTube is rate limiting the channel: {explanation}{suffix}.",
            retry_at=retry_after(response, now),
        )
    if reason in TRANSIENT_REASONS or status >= 500:
        return Transient(f"YouTube could not complete the request (HTTP {status}{suffix}).")
    if status == 403:
        return PermissionDenied(text, permanent=True)
    if status == 404:
        return NotFound(text, permanent=True)
    if reason == "invalidPageToken":
        return PageTokenRejected(text, permanent=True)
    if status in {400, 409, 412, 413}:
        return InvalidRequest(text, permanent=True)
    return ConnectorError(f"YouTube answered HTTP {status}: {explanation}{suffix}.")


def error_reason(response: requests.Response) -> tuple[str, str]:
    """(reason, message) from Google's error body: errors[0].reason, or the ErrorInfo detail."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    reason = ""
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0].get("reason")
        reason = first if isinstance(first, str) else ""
    details = error.get("details")
    if not reason and isinstance(details, list):
        for detail in details:
            if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
                reason = detail["reason"]
                break
    message = error.get("message")
    # Google's messages carry HTML (<a href=…>quota</a>, <code>id</code>).
    text = html_to_text(message)[:300] if isinstance(message, str) else ""
    return reason[:100], text


def retry_after(response: requests.Response, now: datetime) -> datetime:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return now + timedelta(seconds=max(1, int(value)))
    if value:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(when, now + timedelta(seconds=1))
    return now + DEFAULT_RATE_LIMIT_WAIT


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))
