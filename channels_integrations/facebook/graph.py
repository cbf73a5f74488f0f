"""The Graph API, as Facebook Pages and Instagram share it: calls, paging and error mapping.

Both connectors talk to `https://graph.facebook.com/{version}/…` with the same JSON envelopes,
cursor paging and error body (platform-apis.md sections 1.3 to 1.5 and 2). Errors are classified by
`error.code` (and `error_subcode`, `is_transient`), never by HTTP status: Graph answers most errors
with HTTP 400, whatever they mean.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    MalformedPayload,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from channels_integrations.http import PlatformSession

GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
API_VERSION_RE = re.compile(r"^v\d+\.\d+$")

# Throttling (platform-apis.md 1.4): app (4), user (17), Page with a user token (32), custom (613),
# BUC: Pages (80001), Instagram (80002), Messenger (80006); 341 is "application limit reached" and
# 368 "temporarily blocked for policy violations": both say "wait, then try again".
THROTTLE_CODES = frozenset({4, 17, 32, 341, 368, 613, 80001, 80002, 80006})
# 102: session, 104: no token at all, 190: expired, revoked or invalid (1.5).
AUTH_CODES = frozenset({102, 104, 190})
TRANSIENT_CODES = frozenset({1, 2})
NOT_FOUND_CODES = frozenset({803})
# Code 100 with subcode 33: "Object with ID … does not exist, cannot be loaded due to missing
# permissions, or does not support this operation".
NOT_FOUND_SUBCODE = 33

# When a throttle error carries no usable wait time: the BUC window is one hour, but usage decays
# continuously, so a few minutes is usually enough to get calls through again.
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class GraphError:
    """The `error` object of a Graph error response (platform-apis.md 1.5)."""

    code: int | None
    subcode: int | None
    message: str
    user_message: str
    is_transient: bool
    type: str

    @property
    def reason(self) -> str:
        """What to show a person: the user-facing message when Graph gives one."""
        text = self.user_message or self.message or "no details"
        return text[:MAX_REASON_CHARS]

    @property
    def label(self) -> str:
        if self.code is None:
            return self.type or "unknown error"
        if self.subcode is not None:
            return f"code {self.code}, subcode {self.subcode}"
        return f"code {self.code}"


def parse_graph_error(body: Any) -> GraphError | None:
    """The Graph error in a response body, or None when the body is not a Graph error."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    return GraphError(
        code=_int_or_none(error.get("code")),
        subcode=_int_or_none(error.get("error_subcode")),
        message=error.get("message") if isinstance(error.get("message"), str) else "",
        user_message=(
            error.get("error_user_msg") if isinstance(error.get("error_user_msg"), str) else ""
        ),
        is_transient=error.get("is_transient") is True,
        type=error.get("type") if isinstance(error.get("type"), str) else "",
    )


def classify_error(
    error: GraphError,
    *,
    status: int,
    headers: Any,
    platform: str,
    what: str,
    usage_type: str,
    now: datetime | None = None,
) -> ConnectorError:
    """Map one Graph error to the normalized taxonomy, by code first and HTTP status last."""
    detail = f"{error.reason} ({error.label})"
    code = error.code
    if code in THROTTLE_CODES:
        retry_at = rate_limit_retry_at(headers, usage_type=usage_type, now=now)
        return RateLimited(
            f"{platform} is rate limiting this account: {detail}. "
            f"Calls resume after {retry_at.astimezone(UTC):%H:%M} UTC.",
            retry_at=retry_at,
        )
    if code in AUTH_CODES:
        return AuthExpired(
            f"{platform} refused the access token: {detail}. Re-authorize the channel."
        )
    if error.is_transient or code in TRANSIENT_CODES:
        return Transient(f"{platform} had a temporary problem with {what}: {detail}")
    if code is not None and (code in (3, 10) or 200 <= code <= 299):
        return PermissionDenied(
            f"{platform} refused {what}: {detail}. The token lacks a permission or Page task."
        )
    if (code == 100 and error.subcode == NOT_FOUND_SUBCODE) or code in NOT_FOUND_CODES:
        return NotFound(
            f"{platform} refused {what}: it no longer exists or is out of reach ({detail})"
        )
    if code is not None:
        return InvalidRequest(f"{platform} refused {what}: {detail}")
    if status >= 500:
        return Transient(f"{platform} is unavailable (HTTP {status}): {detail}")
    return ConnectorError(f"{platform} refused {what} (HTTP {status}): {detail}")


def rate_limit_retry_at(
    headers: Any, *, usage_type: str = "", now: datetime | None = None
) -> datetime:
    """When calls may resume: the later of Retry-After and the usage headers' estimate.

    `estimated_time_to_regain_access` in X-Business-Use-Case-Usage is in minutes. Entries of the
    connector's own usage type ("pages", "instagram") win; other types count only when there
    is none of ours. Without any estimate, DEFAULT_RATE_LIMIT_WAIT.
    """
    now = now or datetime.now(UTC)
    candidates: list[datetime] = []
    retry_after = _retry_after(headers.get("Retry-After"), now)
    if retry_after is not None:
        candidates.append(retry_after)
    minutes = regain_minutes(headers.get("X-Business-Use-Case-Usage"), usage_type=usage_type)
    if minutes:
        candidates.append(now + timedelta(minutes=minutes))
    if not candidates:
        return now + DEFAULT_RATE_LIMIT_WAIT
    return max(max(candidates), now + timedelta(seconds=1))


def regain_minutes(header: str | None, *, usage_type: str = "") -> int:
    """The longest `estimated_time_to_regain_access` (minutes) in an X-Business-Use-Case-Usage."""
    entries = list(_buc_entries(header))
    ours = [entry for entry in entries if entry.get("type") == usage_type]
    key = "estimated_time_to_regain_access"
    waits = [_int_or_none(entry.get(key)) for entry in ours or entries]
    return max((wait for wait in waits if wait is not None and wait > 0), default=0)


def usage_percent(headers: Any) -> int:
    """The highest usage percentage (0 to 100 and over) in any usage header; 0 without one."""
    percentages: list[int] = []
    for name in ("X-App-Usage", "X-Page-Usage"):
        usage = _json_header(headers.get(name))
        if isinstance(usage, dict):
            percentages.extend(_percentages(usage))
    for entry in _buc_entries(headers.get("X-Business-Use-Case-Usage")):
        percentages.extend(_percentages(entry))
    return max(percentages, default=0)


def parse_graph_time(value: Any) -> datetime:
    """A Graph timestamp (`2017-08-31T18:10:30+0000`) as an aware datetime; MalformedPayload."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"unreadable timestamp {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"unreadable timestamp {value!r}") from None
    if moment.tzinfo is None:
        raise MalformedPayload(f"timestamp without a time zone {value!r}")
    return moment


class GraphClient:
    """One account's Graph calls. The token goes in the Authorization header, never in a URL,
    so it cannot end up in a log line or an error message."""

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        token: str,
        session: PlatformSession,
        platform: str,
        usage_type: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version.strip() or DEFAULT_API_VERSION
        self.session = session
        self.platform = platform
        self.usage_type = usage_type
        self._auth = {"Authorization": f"Bearer {token}"}
        # The highest usage percentage the platform reported to this client.
        self.usage = 0

    def paced_delay(self, interval_seconds: int) -> int:
        """The next poll's delay: slower before Graph throttles, as its usage headers near 100%."""
        if self.usage >= 90:
            return interval_seconds * 4
        if self.usage >= 75:
            return interval_seconds * 2
        return interval_seconds

    def get(self, path: str, params: dict[str, Any] | None = None, *, what: str) -> Any:
        return self._call("GET", self._url(path), params=params, what=what)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        json_body: dict[str, Any] | None = None,
        what: str,
    ) -> Any:
        return self._call("POST", self._url(path), data=data, json_body=json_body, what=what)

    def delete(self, path: str, *, what: str) -> Any:
        return self._call("DELETE", self._url(path), what=what)

    def pages(
        self, path: str, params: dict[str, Any], *, what: str, max_pages: int
    ) -> Iterator[list[Any]]:
        """The `data` of each page, following `paging.next` until it is absent.

        Graph may return short or even empty pages that still carry `next` (privacy filtering),
        so only a missing `next` ends the walk (platform-apis.md 1.1.3). At most `max_pages`.
        """
        body = self.get(path, params, what=what)
        for page_number in range(max_pages):
            data, next_url = page_of(body, what=f"{self.platform} {what}")
            yield data
            if not next_url or page_number + 1 >= max_pages:
                return
            body = self.follow(next_url, what=what)

    def walk(self, body: Any, *, what: str, max_pages: int) -> tuple[list[Any], bool]:
        """Every item from this first page on, and whether the walk reached the last page
        (False when it stopped at `max_pages`, so absent items prove nothing)."""
        items: list[Any] = []
        for page_number in range(max_pages):
            data, next_url = page_of(body, what=f"{self.platform} {what}")
            items.extend(data)
            if not next_url:
                return items, True
            if page_number + 1 == max_pages:
                break
            body = self.follow(next_url, what=what)
        return items, False

    def follow(self, url: str, *, what: str) -> Any:
        """GET a paging link, which must point back into the same API."""
        if not _same_api(url, self.base_url):
            raise Transient(f"{self.platform} sent a paging link outside its API for {what}")
        return self._call("GET", url, what=what)

    def _url(self, path: str) -> str:
        # Checked here rather than in __init__, so a bad setting fails the call with a clear
        # message instead of failing the construction of the connector.
        if not API_VERSION_RE.match(self.api_version):
            raise InvalidRequest(
                f"{self.platform}: the API version setting must look like v25.0, "
                f"not {self.api_version[:20]!r}"
            )
        # Ids come from the platform or the database: quoted, so they stay one path segment.
        segments = [quote(segment, safe="_-.") for segment in path.strip("/").split("/")]
        return f"{self.base_url}/{self.api_version}/{'/'.join(segments)}"

    def _call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> Any:
        try:
            response = self.session.request(
                method, url, params=params, data=data, json=json_body, headers=self._auth
            )
        except requests.Timeout:
            raise Transient(
                f"{self.platform} did not answer {what} in time; "
                "it may or may not have been carried out"
            ) from None
        except requests.RequestException as exc:
            raise Transient(
                f"{self.platform} could not be reached for {what}: {type(exc).__name__}"
            ) from None
        self.usage = max(self.usage, usage_percent(response.headers))
        try:
            body = response.json()
        except ValueError:
            body = None
        error = parse_graph_error(body)
        if error is not None:
            raise classify_error(
                error,
                status=response.status_code,
                headers=response.headers,
                platform=self.platform,
                what=what,
                usage_type=self.usage_type,
            )
        if response.status_code >= 500 or body is None:
            status = response.status_code
            raise Transient(
                f"{self.platform} answered {what} with HTTP {status} and no readable body"
            )
        if response.status_code >= 300:
            raise ConnectorError(
                f"{self.platform} answered {what} with HTTP {response.status_code}"
            )
        return body


def page_of(body: Any, *, what: str) -> tuple[list[Any], str]:
    """(`data`, `paging.next` or "") of one page of a Graph edge."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise Transient(f"{what}: the response has no data list")
    paging = body.get("paging")
    next_url = paging.get("next") if isinstance(paging, dict) else None
    return body["data"], next_url if isinstance(next_url, str) else ""


def _same_api(url: str, base_url: str) -> bool:
    target, base = urlsplit(url), urlsplit(base_url)
    return (
        target.scheme == base.scheme
        and target.netloc == base.netloc
        and target.path.startswith(base.path.rstrip("/") + "/")
    )


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _buc_entries(header: str | None) -> Iterator[dict[str, Any]]:
    usage = _json_header(header)
    if not isinstance(usage, dict):
        return
    for entries in usage.values():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                yield entry


def _percentages(usage: dict[str, Any]) -> list[int]:
    values = (usage.get(key) for key in ("call_count", "total_cputime", "total_time"))
    return [int(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
