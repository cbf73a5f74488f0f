"""Graph API conventions shared by the Facebook and Instagram fakes.

Both fakes speak the same Graph dialect (platform-apis.md sections 1 and 2): any `/vNN.N/`
version prefix, the token as `access_token` parameter or `Authorization: Bearer`, parameters in
the query string, a form body or a JSON body, `fields=` selection with nested fields and edges
(`from{id,name}`, `replies.limit(5){id,text}`), cursor paging whose `next` link points back at the
fake (built from the request's root URL, so a path prefix survives), the error envelope with HTTP
400 whatever the error, and the usage and throttle signals of the Business Use Case rate limits.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import PlatformFake, RateBudget, Route, json_response

Json = dict[str, Any]
Clock = Callable[[], datetime]

DEFAULT_VERSION = "v25.0"
VERSION_PATH_RE = re.compile(r"^/(v\d+\.\d+)(/.*)?$")
# Multiple ID read requests: at most 50 ids; root `?ids=` is gone from v26.0 on.
MAX_MULTI_IDS = 50
MULTI_IDS_LAST_MAJOR = 25
RATE_LIMIT_DOCS = "https://developers.facebook.com/docs/graph-api/overview/rate-limiting"
# Graph's throttle messages, as the error-handling and rate-limiting pages list them.
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try "
    f"again. For more info, please refer to {RATE_LIMIT_DOCS}.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and "
    f"try again. For more info, please refer to {RATE_LIMIT_DOCS}.",
    80006: "(#80006) There have been too many messenger api calls to this Page account. Wait a "
    f"bit and try again. For more info, please refer to {RATE_LIMIT_DOCS}.",
}
INVALID_OAUTH_MESSAGE = "Invalid OAuth access token - Cannot parse access token"
EXPIRED_SESSION_MESSAGE = (
    "Error validating access token: Session has expired on Sunday, 22-Mar-26 10:00:00 PDT. "
    "The current time is Sunday, 22-Mar-26 11:00:00 PDT."
)
INVALIDATED_SESSION_MESSAGE = (
    "Error validating access token: The session has been invalidated because the user changed "
    "their password or Facebook has changed the session for security reasons."
)
REDACTED = "<redacted>"
_trace_ids = itertools.count(1)


def graph_time(moment: datetime) -> str:
    """Graph's timestamp format: `2017-08-31T18:10:30+0000`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def fbtrace_id() -> str:
    """A fresh support id in Graph's shape (23 URL-safe characters)."""
    digest = hashlib.sha256(f"fbtrace-{next(_trace_ids)}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:23]


def graph_error_body(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    error_type: str = "OAuthException",
    is_transient: bool | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> Json:
    """The Graph error envelope (platform-apis.md 1.5)."""
    error: Json = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


def graph_error(code: int, message: str, *, status: int = 400, **extra: Any) -> Response:
    return json_response(graph_error_body(code, message, **extra), status)


def unsupported_request(method: str, object_id: str) -> Response:
    """Graph's answer for an id that does not exist (or that this token cannot see)."""
    return graph_error(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        error_type="GraphMethodException",
    )


def invalid_parameter(message: str) -> Response:
    return graph_error(100, f"(#100) {message}")


def buc_usage_header(
    business_id: str, usage_type: str, *, call_count: int, regain_minutes: int = 0
) -> str:
    """X-Business-Use-Case-Usage: percentages, and the wait in minutes when throttled."""
    entry = {
        "type": usage_type,
        "call_count": call_count,
        "total_cputime": max(0, call_count // 4),
        "total_time": max(0, call_count // 3),
        "estimated_time_to_regain_access": regain_minutes,
    }
    return json.dumps({business_id: [entry]}, separators=(",", ":"))


def app_usage_header(call_count: int) -> str:
    usage = {"call_count": call_count, "total_cputime": call_count // 4, "total_time": 0}
    return json.dumps(usage, separators=(",", ":"))


# Field selection (`fields=id,from{id,name},replies.limit(5){id,text}`).


class FieldsSyntaxError(ValueError):
    pass


class ParamError(ValueError):
    """A parameter Graph would refuse; the message names the parameter."""


class UnknownField(LookupError):
    def __init__(self, node_type: str, name: str) -> None:
        super().__init__(name)
        self.node_type = node_type
        self.name = name


@dataclass(frozen=True)
class FieldSpec:
    name: str
    limit: int | None = None
    children: tuple[FieldSpec, ...] | None = None

    def __str__(self) -> str:
        text = self.name + (f".limit({self.limit})" if self.limit is not None else "")
        if self.children is not None:
            text += "{" + ",".join(str(child) for child in self.children) + "}"
        return text


_NAME_RE = re.compile(r"\s*([A-Za-z0-9_]+)")
_MODIFIER_RE = re.compile(r"\.([A-Za-z_]+)\(([^)]*)\)")


def parse_fields(text: str) -> tuple[FieldSpec, ...]:
    """Parse a `fields` parameter; raises FieldsSyntaxError with Graph's position convention."""
    specs, position = _parse_field_list(text, 0)
    if text[position:].strip():
        raise FieldsSyntaxError(f"Expected end of string at character {position + 1}")
    return specs


def _parse_field_list(text: str, position: int) -> tuple[tuple[FieldSpec, ...], int]:
    specs: list[FieldSpec] = []
    while True:
        match = _NAME_RE.match(text, position)
        if match is None:
            raise FieldsSyntaxError(f"Expected a field name at character {position + 1}")
        name, position, limit = match.group(1), match.end(), None
        while text.startswith(".", position):
            modifier = _MODIFIER_RE.match(text, position)
            if modifier is None:
                raise FieldsSyntaxError(f"Bad modifier at character {position + 1}")
            if modifier.group(1) == "limit":
                if not modifier.group(2).strip().isdigit():
                    raise FieldsSyntaxError(f"limit must be a number at character {position + 1}")
                limit = int(modifier.group(2))
            position = modifier.end()
        children = None
        if text.startswith("{", position):
            children, position = _parse_field_list(text, position + 1)
            if not text.startswith("}", position):
                raise FieldsSyntaxError(f"Expected '}}' at character {position + 1}")
            position += 1
        specs.append(FieldSpec(name, limit, children))
        while text.startswith(" ", position):
            position += 1
        if text.startswith(",", position):
            position += 1
            continue
        return tuple(specs), position


@dataclass
class NodeView:
    """One Graph node as the fake can show it: its fields, its nested edges and its type."""

    node_type: str
    fields: Json
    known: frozenset[str]
    defaults: tuple[str, ...]
    edges: dict[str, Callable[[FieldSpec], Json]] = field(default_factory=dict)
    # An injected payload (tests' malformed items) is served as it is.
    raw: Any = None

    def select(self, specs: Sequence[FieldSpec] | None) -> Any:
        if self.raw is not None:
            return copy.deepcopy(self.raw)
        wanted = specs if specs else [FieldSpec(name) for name in self.defaults]
        out: Json = {}
        for spec in wanted:
            if spec.name in self.edges:
                out[spec.name] = self.edges[spec.name](spec)
                continue
            if spec.name not in self.known:
                raise UnknownField(self.node_type, spec.name)
            value = self.fields.get(spec.name)
            if value is None:
                continue  # Graph leaves out fields without a value (e.g. `parent` of a top level)
            if spec.children is not None and isinstance(value, dict):
                value = _select_plain(value, spec.children)
            out[spec.name] = copy.deepcopy(value)
        return out


def _select_plain(value: Json, specs: Sequence[FieldSpec]) -> Json:
    out: Json = {}
    for spec in specs:
        if spec.name in value and value[spec.name] is not None:
            child = value[spec.name]
            if spec.children is not None and isinstance(child, dict):
                child = _select_plain(child, spec.children)
            out[spec.name] = copy.deepcopy(child)
    return out


# Requests.


@dataclass
class GraphCall:
    """One API request, after the version prefix, the token and the parameters were read."""

    request: Request
    version: str
    method: str
    node: str
    edge: str | None
    params: Json
    token: str

    @property
    def fields(self) -> tuple[FieldSpec, ...] | None:
        raw = self.params.get("fields")
        if raw is None or raw == "":
            return None
        return parse_fields(str(raw))

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool | None:
        """A boolean parameter as Graph reads them ("true"/"false"/1/0), None when absent."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise ParamError(name)

    def number(self, name: str, default: int, maximum: int) -> int:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(str(value))
        except ValueError:
            raise ParamError(name) from None
        return max(1, min(number, maximum))

    def link(self, path: str, params: Iterable[tuple[str, str]]) -> str:
        """An absolute link to `path` of this API, under whatever prefix the fake is served."""
        base = self.request.root_url.rstrip("/")
        return f"{base}/{self.version}/{path.strip('/')}?{urlencode(list(params))}"


def request_params(request: Request) -> Json:
    """Query string, then form body, then JSON body: Graph takes parameters from all three."""
    params: Json = dict(request.args.items())
    params.update(request.form.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    return params


def json_param(value: Any) -> Any:
    """An object parameter: JSON, or the single-quoted form the Messenger docs use."""
    if isinstance(value, dict | list) or value is None:
        return value
    text = str(value)
    for candidate in (text, text.replace("'", '"')):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


# Paging.


def encode_cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(f"cursor:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(cursor) from None
    if not decoded.startswith("cursor:"):
        raise ValueError(cursor)
    return decoded.removeprefix("cursor:")


@dataclass
class Page:
    """One slice of an ordered edge: the ids in it, and whether there is more either side."""

    ids: list[str]
    has_next: bool
    has_previous: bool


def slice_ids(ordered: Sequence[str], *, after: str | None, before: str | None, limit: int) -> Page:
    """Cursor paging over ids; raises ParamError for a cursor whose item is gone, which is how
    Graph cursors go stale when items are deleted (platform-apis.md 0.3)."""
    ids = list(ordered)
    if after:
        position = _position(ids, after, "after") + 1
        chunk = ids[position : position + limit]
        return Page(chunk, position + limit < len(ids), position > 0)
    if before:
        end = _position(ids, before, "before")
        start = max(0, end - limit)
        return Page(ids[start:end], True, start > 0)
    return Page(ids[:limit], limit < len(ids), False)


def _position(ids: list[str], cursor: str, name: str) -> int:
    try:
        return ids.index(decode_cursor(cursor))
    except ValueError:
        raise ParamError(name) from None


def cursor_paging(
    call: GraphCall,
    page: Page,
    *,
    path: str,
    kept: Iterable[tuple[str, str]],
) -> Json:
    """Graph's `paging` object; `next` is left out on the last page (and only there)."""
    paging: Json = {}
    if page.ids:
        paging["cursors"] = {
            "before": encode_cursor(page.ids[0]),
            "after": encode_cursor(page.ids[-1]),
        }
    kept = list(kept)
    if page.has_previous and page.ids:
        paging["previous"] = call.link(path, [*kept, ("before", encode_cursor(page.ids[0]))])
    if page.has_next and page.ids:
        paging["next"] = call.link(path, [*kept, ("after", encode_cursor(page.ids[-1]))])
    return paging


def kept_query(call: GraphCall, *, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The query parameters a paging link repeats (Graph repeats them, token included)."""
    dropped = {"after", "before", "until", "since", "__paging_token", "__previous", *drop}
    return [(k, v) for k, v in call.request.args.items() if k not in dropped]


class GraphFake(PlatformFake):
    """A Graph API account behind tokens, with BUC rate limits and Graph's error bodies.

    Subclasses set `usage_type` and `throttle_code`, and implement `route()` for their nodes.
    Token states: accepted, expired (code 190, subcode 463) and revoked (code 190, subcode 460);
    any other token is refused with code 190 and no subcode.
    """

    platform_name: ClassVar[str] = "Graph"
    usage_type: ClassVar[str] = "pages"
    throttle_code: ClassVar[int] = 80001

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        business_id: str,
        clock: Clock,
        rate_limit: int,
        admin_routes: Iterable[Route] = (),
    ) -> None:
        super().__init__(
            logged_headers=("Content-Type", "User-Agent"),
            admin_routes=admin_routes,
        )
        self._clock = clock
        self._business_id = business_id
        self._token_states: dict[str, str] = {token: "ok" for token in tokens}
        self._rate_limit = rate_limit
        self._budget = RateBudget(3600, clock)

    # Token and budget controls (public, take the lock).

    def add_token(self, token: str) -> None:
        with self._lock:
            self._token_states[token] = "ok"

    def expire_token(self, token: str) -> None:
        """The token's session expired: calls get code 190, subcode 463."""
        with self._lock:
            self._token_states[token] = "expired"

    def revoke_token(self, token: str) -> None:
        """The token was invalidated (password change, removed app): code 190, subcode 460."""
        with self._lock:
            self._token_states[token] = "revoked"

    def queued_faults(self) -> int:
        """How many injected faults are still waiting for a call."""
        return len(self._faults)

    def set_rate_limit(self, calls_per_hour: int) -> None:
        with self._lock:
            self._rate_limit = calls_per_hour

    def reset(self) -> None:
        """Forget faults, recorded calls, the delay and spent rate-limit budgets."""
        super().reset()
        self._budget.clear()

    def calls(self) -> list[dict[str, Any]]:
        """API calls received so far, oldest first; a token sent as a parameter is redacted, so
        the log (and `GET /__admin/calls`) can be shown without leaking it."""
        calls = super().calls()
        for call in calls:
            if "access_token" in call.get("query", {}):
                call["query"]["access_token"] = [REDACTED]
            for part in ("form", "json"):
                if isinstance(call.get(part), dict) and "access_token" in call[part]:
                    call[part]["access_token"] = REDACTED
        return calls

    # Faults in Graph's own words.

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        """Graph's usual body for a status queued without one (platform-apis.md 1.5, 9)."""
        if status == 400:
            return graph_error_body(100, "(#100) Invalid parameter"), {}
        if status == 401:
            return graph_error_body(190, EXPIRED_SESSION_MESSAGE, subcode=463), {}
        if status == 403:
            message = "(#10) Application does not have permission for this action"
            return graph_error_body(10, message), {}
        if status == 404:
            return graph_error_body(100, "Unsupported get request.", subcode=33), {}
        if status == 429:
            return self._throttle_fault(self.throttle_code, regain_minutes=5)
        if status == 500:
            body = graph_error_body(1, "An unknown error has occurred.", is_transient=True)
            return body, {}
        if status == 503:
            body = graph_error_body(
                2, "Service temporarily unavailable", error_type="OAuthException", is_transient=True
            )
            return body, {}
        return None, {}

    def fail_next_graph_error(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        is_transient: bool | None = None,
        user_msg: str | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
        times: int = 1,
        path_prefix: str | None = None,
        method: str | None = None,
    ) -> None:
        """Queue a Graph error body (HTTP 400 unless told otherwise) for the next calls."""
        body = graph_error_body(
            code, message, subcode=subcode, is_transient=is_transient, user_msg=user_msg
        )
        self.fail_next(
            status,
            body=body,
            headers=headers or {},
            times=times,
            path_prefix=path_prefix,
            method=method,
        )

    def fail_next_rate_limited(
        self,
        code: int | None = None,
        *,
        regain_minutes: int = 5,
        times: int = 1,
        path_prefix: str | None = None,
    ) -> None:
        """Throttle the next calls with `code` (default: this platform's BUC code) and usage
        headers saying access returns in `regain_minutes`."""
        body, headers = self._throttle_fault(code or self.throttle_code, regain_minutes)
        self.fail_next(400, body=body, headers=headers, times=times, path_prefix=path_prefix)

    def _throttle_fault(self, code: int, regain_minutes: int) -> tuple[Json, dict[str, str]]:
        message = THROTTLE_MESSAGES.get(code, f"(#{code}) Request limit reached")
        body = graph_error_body(code, message, is_transient=code in {4, 17, 32, 613})
        headers = {
            "X-Business-Use-Case-Usage": buc_usage_header(
                self._business_id, self.usage_type, call_count=100, regain_minutes=regain_minutes
            )
        }
        if code in {4, 17, 613}:
            headers["X-App-Usage"] = app_usage_header(100)
        return body, headers

    # The API (lock held by PlatformFake).

    def answer(self, request: Request) -> Response:
        match = VERSION_PATH_RE.match(request.path)
        version, path = (match.group(1), match.group(2) or "/") if match else (None, request.path)
        params = request_params(request)
        token = _token(request, params)
        state = self._token_states.get(token) if token else None
        if not token:
            return graph_error(104, "An access token is required to request this resource.")
        if state is None:
            return graph_error(190, INVALID_OAUTH_MESSAGE)
        if state == "expired":
            return graph_error(190, EXPIRED_SESSION_MESSAGE, subcode=463)
        if state == "revoked":
            return graph_error(190, INVALIDATED_SESSION_MESSAGE, subcode=460)

        used, reset = self._budget.spend(f"token:{token}")
        percent = min(100, math.ceil(100 * used / max(1, self._rate_limit)))
        if used > self._rate_limit:
            wait = max(1, math.ceil((reset - self._clock()).total_seconds() / 60))
            body, headers = self._throttle_fault(self.throttle_code, wait)
            return json_response(body, 400, headers)

        segments = [segment for segment in path.split("/") if segment]
        if not segments and request.method.upper() == "GET" and params.get("ids"):
            call = GraphCall(
                request=request,
                version=version or DEFAULT_VERSION,
                method="GET",
                node="",
                edge=None,
                params=params,
                token=token,
            )
            response = self._guarded(self._multi_read, call)
        elif not 1 <= len(segments) <= 2:
            response = graph_error(2500, "Unknown path components: " + path)
        else:
            call = GraphCall(
                request=request,
                version=version or DEFAULT_VERSION,
                method=request.method.upper(),
                node=segments[0],
                edge=segments[1] if len(segments) == 2 else None,
                params=params,
                token=token,
            )
            response = self._guarded(self.route, call)
        response.headers["X-Business-Use-Case-Usage"] = buc_usage_header(
            self._business_id, self.usage_type, call_count=percent
        )
        return response

    def _guarded(self, view: Callable[[GraphCall], Response], call: GraphCall) -> Response:
        """Run `view`, turning bad `fields` and parameters into Graph's error bodies."""
        try:
            return view(call)
        except FieldsSyntaxError as error:
            return graph_error(2500, f'Syntax error "{error}": fields')
        except UnknownField as error:
            return invalid_parameter(
                f"Tried accessing nonexisting field ({error.name}) on node type ({error.node_type})"
            )
        except ParamError as error:
            return invalid_parameter(f"The parameter {error} is invalid")

    def route(self, call: GraphCall) -> Response:
        """Answer one node or edge request; called with `_lock` held."""
        raise NotImplementedError

    def _multi_read(self, call: GraphCall) -> Response:
        """`GET /{version}/?ids=a,b&fields=...`: one object keyed by id, one call of the budget.

        Graph's "multiple ID read requests" (at most MAX_MULTI_IDS ids, from v2.2 on). Any id
        that does not exist fails the whole request with code 803 "Some of the aliases you
        requested do not exist: <ids>" (the answer Graph's SDK users report; its documentation
        says nothing about missing ids). Versions from v26.0 on no longer take `ids` at the root
        (per-object requests or batch requests instead): they get code 100.
        """
        major = _version_major(call.version)
        if major is not None and major >= MULTI_IDS_LAST_MAJOR + 1:
            return invalid_parameter(
                f"The ids parameter is not supported at the root node in {call.version}; "
                "request each object or use a batch request"
            )
        ids = [i.strip() for i in str(call.params.get("ids") or "").split(",") if i.strip()]
        if len(ids) > MAX_MULTI_IDS:
            return invalid_parameter(f"Too many IDs. Maximum: {MAX_MULTI_IDS}.")
        out: Json = {}
        missing: list[str] = []
        for object_id in dict.fromkeys(ids):
            single = replace(call, node=object_id)
            response = self.route(single)
            if response.status_code != 200:
                missing.append(object_id)
                continue
            out[object_id] = json.loads(response.get_data(as_text=True))
        if missing:
            return graph_error(
                803, f"(#803) Some of the aliases you requested do not exist: {','.join(missing)}"
            )
        return json_response(out)


def _version_major(version: str) -> int | None:
    match = re.match(r"^v(\d+)\.", version)
    return int(match.group(1)) if match else None


def _token(request: Request, params: Json) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and credentials.strip():
        return credentials.strip()
    token = params.get("access_token")
    return token if isinstance(token, str) else ""
