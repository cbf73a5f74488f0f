"""Thin HTTP client for the X API v2, mapping its errors to the normalized taxonomy.

X answers errors as Problem JSON (`type`, `title`, `detail`, `status`), except where its edge
still speaks v1.1 (`{"errors":[{"code":88,"message":"Rate limit exceeded"}]}` on a 429), so the
error kind is decided by the HTTP status and the rate-limit headers, never by the body's text.
The body only supplies the sentence shown to the agent.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
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

logger = logging.getLogger(__name__)

MENTION_EXPANSIONS = "author_id,referenced_tweets.id,in_reply_to_user_id"
MENTION_TWEET_FIELDS = (
    "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities,lang,"
    "edit_history_tweet_ids"
)
USER_FIELDS = "username,name,profile_image_url"
TIMELINE_TWEET_FIELDS = "created_at,referenced_tweets,conversation_id,author_id"
MAX_RESULTS = 100

# When a 429 carries no usable reset time: X's windows are 15 minutes long.
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)
# A reset time in the past (clock skew) still means "not right now".
MIN_RATE_LIMIT_WAIT = timedelta(seconds=5)
# The rate-limit header families X sends: the 15-minute window, and the daily caps on writes.
_WINDOW_HEADERS = "x-rate-limit"
_DAILY_HEADERS = ("x-user-limit-24hour", "x-app-limit-24hour")


@dataclass(frozen=True)
class RateLimitState:
    """What the x-rate-limit-* headers of one response said about its endpoint's window."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None


@dataclass(frozen=True)
class TokenGrant:
    """A refreshed OAuth 2.0 user token, as `POST /2/oauth2/token` hands it out."""

    access_token: str
    refresh_token: str
    expires_at: datetime | None


class XClient:
    """One X account's API calls with its bearer token. Never logs or repeats the token."""

    def __init__(self, base_url: str, token: str, session: PlatformSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.token = token
        # The rate-limit window of the most recent response (for pacing the polls).
        self.last_rate_limit: RateLimitState | None = None

    def me(self) -> dict[str, Any]:
        """The user the token belongs to: {"id", "name", "username", ...}."""
        body = self._call("GET", "/users/me", purpose="read the account", params={})
        user = body.get("data")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise _not_found_or_malformed(body, "X did not say which account the token is for")
        return user

    def mentions(
        self,
        user_id: str,
        *,
        since_id: str | None = None,
        start_time: str | None = None,
        pagination_token: str | None = None,
        max_results: int = MAX_RESULTS,
    ) -> dict[str, Any]:
        """One page of `GET /2/users/:id/mentions`, newest first, as X sent it (data, includes,
        meta, errors). Raises NotFound when X answers 200 with only an error about the user."""
        params: dict[str, Any] = {
            "max_results": max_results,
            "expansions": MENTION_EXPANSIONS,
            "tweet.fields": MENTION_TWEET_FIELDS,
            "user.fields": USER_FIELDS,
        }
        if since_id:
            params["since_id"] = since_id
        elif start_time:
            params["start_time"] = start_time
        if pagination_token:
            params["pagination_token"] = pagination_token
        body = self._call(
            "GET", f"/users/{user_id}/mentions", purpose="list the mentions", params=params
        )
        if "data" not in body and _errors_about(body, "user"):
            raise _not_found_or_malformed(body, "X cannot find the account")
        return body

    def user_posts(
        self,
        user_id: str,
        *,
        start_time: str | None = None,
        pagination_token: str | None = None,
        max_results: int = MAX_RESULTS,
    ) -> dict[str, Any]:
        """One page of `GET /2/users/:id/tweets` (the account's own posts, replies included)."""
        params: dict[str, Any] = {
            "max_results": max_results,
            "tweet.fields": TIMELINE_TWEET_FIELDS,
            "exclude": "retweets",
        }
        if start_time:
            params["start_time"] = start_time
        if pagination_token:
            params["pagination_token"] = pagination_token
        body = self._call(
            "GET", f"/users/{user_id}/tweets", purpose="list the account's posts", params=params
        )
        if "data" not in body and _errors_about(body, "user"):
            raise _not_found_or_malformed(body, "X cannot find the account")
        return body

    def create_reply(self, *, text: str, in_reply_to: str) -> dict[str, Any]:
        """`POST /2/tweets` as a reply; returns {"id", "text", ...} of the new post."""
        body = self._call(
            "POST",
            "/tweets",
            purpose="post the reply",
            json={"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to}},
        )
        created = body.get("data")
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            # The post may exist: the caller treats this like a timeout (ambiguous).
            raise Transient("X accepted the reply but its answer has no post id")
        return created

    def set_hidden(self, tweet_id: str, *, hidden: bool) -> bool:
        purpose = "hide the reply" if hidden else "unhide the reply"
        body = self._call(
            "PUT", f"/tweets/{tweet_id}/hidden", purpose=purpose, json={"hidden": hidden}
        )
        data = body.get("data")
        # True when X confirms the state asked for.
        return isinstance(data, dict) and data.get("hidden") is hidden

    def delete(self, tweet_id: str) -> bool:
        body = self._call("DELETE", f"/tweets/{tweet_id}", purpose="delete the post")
        return _data_flag(body, "deleted")

    def like(self, user_id: str, tweet_id: str) -> bool:
        body = self._call(
            "POST", f"/users/{user_id}/likes", purpose="like the post", json={"tweet_id": tweet_id}
        )
        return _data_flag(body, "liked")

    def refresh(self, *, refresh_token: str, client_id: str, client_secret: str = "") -> TokenGrant:
        """Trade the refresh token for a new token pair (`POST /2/oauth2/token`).

        X rotates refresh tokens: the old one stops working, so the caller must store both new
        tokens. A refused refresh means a person has to connect the account again.
        """
        headers = {}
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if client_secret:
            # Confidential clients authenticate with HTTP Basic; public clients send client_id.
            pair = f"{client_id}:{client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = client_id
        try:
            response = self.session.post(
                self.base_url + "/oauth2/token", data=form, headers=headers
            )
        except requests.Timeout:
            raise Transient("X did not answer the token refresh in time") from None
        except requests.RequestException as exc:
            raise Transient(
                f"X could not be reached to refresh the token ({type(exc).__name__})"
            ) from None
        if response.status_code >= 500:
            raise Transient(f"X is unavailable (HTTP {response.status_code}) for the token refresh")
        if response.status_code == 429:
            raise error_for(response, "refresh the access token")
        body = _json_or_none(response)
        if response.status_code >= 400 or not isinstance(body, dict):
            reason = ""
            if isinstance(body, dict):
                reason = str(body.get("error_description") or body.get("error") or "")[:200]
            raise AuthExpired(
                "X refused to refresh the access token"
                + (f" ({reason})" if reason else "")
                + ": connect the X account again."
            )
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise AuthExpired(
                "X's token refresh answer has no access token: connect the X account again."
            )
        expires_in = body.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int) and expires_in > 0:
            expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        self.token = access
        return TokenGrant(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else refresh_token,
            expires_at=expires_at,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        purpose: str,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except requests.Timeout:
            raise Transient(f"X did not answer in time when trying to {purpose}") from None
        except requests.RequestException as exc:
            raise Transient(f"X could not be reached to {purpose} ({type(exc).__name__})") from None
        self.last_rate_limit = rate_limit_state(response)
        if response.status_code >= 400:
            raise error_for(response, purpose)
        if response.status_code == 204:
            return {}
        body = _json_or_none(response)
        if not isinstance(body, dict):
            raise Transient(f"X sent an answer that is not a JSON object when trying to {purpose}")
        return body


def error_for(response: requests.Response, purpose: str) -> ConnectorError:
    """The normalized error for an X error response (decided by status and headers)."""
    status = response.status_code
    reason = problem_text(response)
    if status == 429:
        retry_at = rate_limit_retry_at(response)
        return RateLimited(
            f"X rate limit reached when trying to {purpose}; X allows more calls from "
            f"{retry_at.strftime('%H:%M:%S')} UTC.",
            retry_at=retry_at,
        )
    if status == 401:
        return AuthExpired(
            f"X did not accept the access token ({reason}): connect the X account again."
        )
    if status >= 500:
        return Transient(f"X is unavailable (HTTP {status}) when trying to {purpose}: {reason}")
    message = f"X refused to {purpose}: {reason}"
    if status == 403:
        return PermissionDenied(message)
    if status == 404:
        return NotFound(message)
    if status in (400, 422):
        return InvalidRequest(message)
    return ConnectorError(f"X answered HTTP {status} when trying to {purpose}: {reason}")


def problem_text(response: requests.Response) -> str:
    """A sentence from X's error body: Problem JSON detail (title), or the v1.1 message."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        text = describe_problem(body)
        if text:
            return text
    return response.reason or f"HTTP {response.status_code}"


def describe_problem(problem: dict[str, Any]) -> str:
    """ "detail (title)" of a Problem JSON object; also reads v1.1-style `errors[].message`."""
    detail = problem.get("detail")
    title = problem.get("title")
    parts: list[str] = []
    if isinstance(detail, str) and detail.strip():
        parts.append(detail.strip())
    # Parameter problems name the offending parameter only in errors[].message.
    errors = problem.get("errors")
    if isinstance(errors, list):
        for error in errors[:3]:
            message = error.get("message") if isinstance(error, dict) else None
            if isinstance(message, str) and message.strip():
                parts.append(message.strip())
    text = " ".join(parts)
    if isinstance(title, str) and title.strip() and title.strip() not in text:
        text = f"{text} ({title.strip()})" if text else title.strip()
    return text[:400]


def rate_limit_state(response: requests.Response) -> RateLimitState | None:
    limit = _int_header(response, f"{_WINDOW_HEADERS}-limit")
    remaining = _int_header(response, f"{_WINDOW_HEADERS}-remaining")
    reset = _int_header(response, f"{_WINDOW_HEADERS}-reset")
    if limit is None and remaining is None and reset is None:
        return None
    reset_at = datetime.fromtimestamp(reset, UTC) if reset is not None else None
    return RateLimitState(limit=limit, remaining=remaining, reset_at=reset_at)


def rate_limit_retry_at(response: requests.Response) -> datetime:
    """When a 429'd call may be tried again: the 15-minute window's reset, or a daily cap's
    reset when that cap is the one used up (whichever is later)."""
    now = datetime.now(UTC)
    resets: list[int] = []
    window_reset = _int_header(response, f"{_WINDOW_HEADERS}-reset")
    if window_reset is not None:
        resets.append(window_reset)
    for family in _DAILY_HEADERS:
        reset = _int_header(response, f"{family}-reset")
        if reset is not None and _int_header(response, f"{family}-remaining") == 0:
            resets.append(reset)
    if not resets:
        return now + DEFAULT_RATE_LIMIT_WAIT
    return max(datetime.fromtimestamp(max(resets), UTC), now + MIN_RATE_LIMIT_WAIT)


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _data_flag(body: dict[str, Any], name: str) -> bool:
    data = body.get("data")
    return isinstance(data, dict) and data.get(name) is True


def _errors_about(body: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict) and e.get("resource_type") == resource_type]


def _not_found_or_malformed(body: dict[str, Any], what: str) -> ConnectorError:
    """X's "404" for lookups: a 200 whose only content is errors[] about the resource."""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return NotFound(f"{what}: {describe_problem(errors[0])}")
    return Transient(f"{what}: the answer has neither data nor errors")
