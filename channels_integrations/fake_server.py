"""Building blocks for platform fakes: the HTTP runner and the shared conventions.

Connectors are tested against real sockets rather than mocked `requests`, so
timeouts, headers and encodings behave exactly as in production. Every fake
follows platform-apis.md section 0.4 (injected faults, a call log, an admin
page), so that plumbing lives in `PlatformFake` and each platform's fake only
adds its own API. `FakeServer` serves any WSGI app on loopback.
"""

from __future__ import annotations

import copy
import html
import json
import string
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Route = tuple[str, str, Callable[..., Response]]  # (method, path pattern, view)


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON for dicts and lists; strings go out verbatim, like a proxy's HTML error page."""
    if isinstance(body, str):
        return Response(body, status, headers, content_type="text/html; charset=utf-8")
    payload = "" if body is None else json.dumps(body, ensure_ascii=False)
    return Response(payload, status, headers, content_type="application/json; charset=utf-8")


def route_map(routes: Iterable[Route]) -> Map:
    return Map(
        [Rule(path, methods=[method], endpoint=view) for method, path, view in routes],
        strict_slashes=False,
    )


def bearer_token(request: Request, query_param: str = "access_token") -> str:
    """The token from `Authorization: Bearer …`, else from the query string, else ""."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.args.get(query_param, "")


@dataclass
class Fault:
    """A canned response that replaces the next `times` API calls under `path_prefix`.

    `status == 0` with `stall_seconds` is the ambiguous failure: the call is answered normally
    (the platform did the work) but the answer comes only after `stall_seconds`, so a client
    with a shorter read timeout sees a timeout for a request that succeeded.
    """

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    path_prefix: str | None = None
    method: str | None = None
    stall_seconds: float = 0.0

    @classmethod
    def from_json(cls, payload: object) -> Fault:
        """Validate the body of `POST /__admin/fail-next`; raises ValueError."""
        if not isinstance(payload, dict) or not isinstance(payload.get("status"), int):
            raise ValueError("expected a JSON object with an integer status")
        headers, times = payload.get("headers") or {}, payload.get("times", 1)
        prefix = payload.get("path_prefix") or None
        method = payload.get("method") or None
        stall = payload.get("stall_seconds", 0) or 0
        if not isinstance(headers, dict):
            raise ValueError("headers must be an object")
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        if prefix is not None and not isinstance(prefix, str):
            raise ValueError("path_prefix must be a string")
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string")
        if not isinstance(stall, int | float) or stall < 0:
            raise ValueError("stall_seconds must be a non-negative number")
        if payload["status"] == 0 and not stall:
            raise ValueError("status 0 (answer normally) needs stall_seconds")
        fault_headers = {str(name): str(value) for name, value in headers.items()}
        return cls(
            payload["status"],
            payload.get("body"),
            fault_headers,
            times,
            prefix,
            method.upper() if method else None,
            float(stall),
        )

    @classmethod
    def from_form(cls, form: dict[str, str]) -> Fault:
        """The admin page's fault form: the same fields, as text; raises ValueError."""
        try:
            payload: dict[str, Any] = {
                "status": int(form.get("status") or 0),
                "times": int(form.get("times") or 1),
                "stall_seconds": float(form.get("stall_seconds") or 0),
            }
        except ValueError:
            raise ValueError("status, times and stall seconds must be numbers") from None
        for name in ("path_prefix", "method"):
            if form.get(name, "").strip():
                payload[name] = form[name].strip()
        if form.get("headers", "").strip():
            try:
                payload["headers"] = json.loads(form["headers"])
            except ValueError:
                raise ValueError("headers must be a JSON object") from None
        body = form.get("body", "").strip()
        if body:
            try:
                payload["body"] = json.loads(body)
            except ValueError:
                payload["body"] = body
        return cls.from_json(payload)

    def matches(self, method: str, path: str) -> bool:
        return (self.path_prefix is None or path.startswith(self.path_prefix)) and (
            self.method is None or self.method == method.upper()
        )

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


class FaultQueue:
    """Faults in the order they were queued; each call consumes the first that matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def push(self, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str, method: str = "GET") -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class CallLog:
    """What the connector sent, for assertions and `GET /__admin/calls`.

    Only a subset of headers is kept, and the Authorization header only as a
    flag, so the log can be shown or dumped without leaking tokens.
    """

    def __init__(self, header_names: Iterable[str] = ("Content-Type", "User-Agent")) -> None:
        self._lock = threading.Lock()
        self._header_names = tuple(header_names)
        self._calls: list[dict[str, Any]] = []

    def record(self, request: Request, status: int) -> None:
        headers = request.headers
        call = {
            "at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(flat=False),
            "headers": {name: headers[name] for name in self._header_names if name in headers},
            "has_authorization": "Authorization" in headers,
            "json": request.get_json(silent=True) if request.is_json else None,
            "form": {} if request.is_json else request.form.to_dict(),
            "status": status,
        }
        with self._lock:
            self._calls.append(call)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)


class RateBudget:
    """Counts requests per key in fixed windows aligned to the epoch.

    This is how Rack::Attack (Mastodon) and most platforms count, so every
    client in a window sees the same reset time.
    """

    def __init__(self, window_seconds: int, clock: Callable[[], datetime]) -> None:
        self._lock = threading.Lock()
        self._window = window_seconds
        self._clock = clock
        self._spent: dict[str, tuple[datetime, int]] = {}

    def spend(self, key: str) -> tuple[int, datetime]:
        """Count one request; returns (requests so far in this window, window end)."""
        start = int(self._clock().timestamp()) // self._window * self._window
        reset = datetime.fromtimestamp(start + self._window, UTC)
        with self._lock:
            window, used = self._spent.get(key, (reset, 0))
            used = used + 1 if window == reset else 1
            self._spent[key] = (reset, used)
        return used, reset

    def clear(self) -> None:
        with self._lock:
            self._spent.clear()


@dataclass(frozen=True)
class AdminField:
    """One input of an admin form: a select when it has options, a textarea when it has rows."""

    name: str
    label: str
    placeholder: str = ""
    options: tuple[str, ...] = ()
    rows: int = 0
    required: bool = False


@dataclass(frozen=True)
class AdminForm:
    title: str
    action: str
    submit: str
    fields: tuple[AdminField, ...]


@dataclass(frozen=True)
class AdminTable:
    title: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[object]]


def admin_page(
    title: str, *, notes: Iterable[str], form: AdminForm, tables: Iterable[AdminTable]
) -> Response:
    """A small HTML page for a fake's /__admin/: one form, then tables of state.

    Everything passed in is escaped here, because table cells come straight
    from seeded (possibly hostile) content.
    """
    body = _ADMIN_PAGE.substitute(
        title=html.escape(title),
        notes=" &middot; ".join(html.escape(note) for note in notes),
        form_title=html.escape(form.title),
        action=html.escape(form.action),
        fields="\n".join(_field_html(field) for field in form.fields),
        submit=html.escape(form.submit),
        tables="\n".join(_table_html(table) for table in tables),
        faults=_FAULT_FORM,
    )
    return Response(body, content_type="text/html; charset=utf-8")


def _field_html(field: AdminField) -> str:
    name, placeholder = html.escape(field.name), html.escape(field.placeholder)
    attributes = f'id="{name}" name="{name}"' + (" required" if field.required else "")
    if field.options:
        options = "".join(f"<option>{html.escape(option)}</option>" for option in field.options)
        control = f"<select {attributes}>{options}</select>"
    elif field.rows:
        control = f'<textarea {attributes} rows="{field.rows}"></textarea>'
    else:
        control = f'<input {attributes} placeholder="{placeholder}">'
    return f'<label for="{name}">{html.escape(field.label)}</label>{control}'


def _table_html(table: AdminTable) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
    rows = [
        "".join(f"<td>{html.escape('' if cell is None else str(cell))}</td>" for cell in row)
        for row in table.rows
    ] or [f'<td colspan="{len(table.columns)}" class="empty">Nothing yet.</td>']
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f"<h2>{html.escape(table.title)}</h2>\n<table><tr>{head}</tr>{body}</table>"


_ADMIN_PAGE = string.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; } .muted { color: #666; }
form { display: grid; grid-template-columns: 9rem 1fr; gap: .5rem 1rem; max-width: 40rem; }
textarea, input, select { font: inherit; padding: .3rem; }
button { grid-column: 2; justify-self: start; padding: .4rem 1rem; }
table { border-collapse: collapse; width: 100%; } th { background: #f4f4f8; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; }
tr { border-bottom: 1px solid #ddd; } td { white-space: pre-wrap; } .empty { color: #888; }
</style></head>
<body>
<h1>$title</h1>
<p class="muted">$notes &middot; <a href="">Refresh</a></p>
<h2>$form_title</h2>
<form method="post" action="$action">
$fields
<button type="submit">$submit</button>
</form>
$faults
$tables
</body></html>
""")


_FAULT_FORM = """<h2>Inject a fault</h2>
<p class="muted">The next matching API calls get this answer. Status 0 with a stall answers
normally but late: the client times out on a call the platform carried out.</p>
<form method="post" action="fail-next">
<label for="f-status">Status</label><input id="f-status" name="status" value="500">
<label for="f-times">For the next N calls</label><input id="f-times" name="times" value="1">
<label for="f-path">Path prefix</label><input id="f-path" name="path_prefix" placeholder="any">
<label for="f-method">Method</label><input id="f-method" name="method" placeholder="any">
<label for="f-headers">Headers (JSON)</label><textarea id="f-headers" name="headers" rows="2"
 placeholder='{"Retry-After": "30"}'></textarea>
<label for="f-body">Body (JSON or text)</label><textarea id="f-body" name="body" rows="3"
 placeholder="the platform's usual error"></textarea>
<label for="f-stall">Stall seconds</label><input id="f-stall" name="stall_seconds" value="0">
<button type="submit">Queue fault</button>
</form>"""


class PlatformFake:
    """What every platform fake shares, around the platform's own API.

    A subclass implements `answer()` and may pass extra admin routes. This
    class provides fail_next() (also `POST /__admin/fail-next`), the call log
    (`GET /__admin/calls`), a delay on every API response and `reset()`
    (`POST /__admin/reset`). `_lock` guards the subclass's state: `answer()`
    runs with it held, admin views and public methods take it themselves.
    """

    def __init__(
        self,
        *,
        logged_headers: Iterable[str] = ("Content-Type", "User-Agent"),
        admin_routes: Iterable[Route] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._faults = FaultQueue()
        self._calls = CallLog(logged_headers)
        self._delay = 0.0
        self._admin_routes = route_map(
            [
                ("POST", "/__admin/fail-next", self._admin_fail_next),
                ("GET", "/__admin/calls", lambda _: json_response(self.calls())),
                ("POST", "/__admin/reset", self._admin_reset),
                *admin_routes,
            ]
        )

    def answer(self, request: Request) -> Response:
        """Answer one request to the platform's real API; called with `_lock` held."""
        raise NotImplementedError

    def fault_defaults(self, status: int) -> tuple[object, dict[str, str]]:
        """Body and headers for a fault queued without them: the platform's usual error."""
        return None, {}

    def fail_next(
        self,
        status: int,
        *,
        body: object | str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        path_prefix: str | None = None,
        method: str | None = None,
        stall_seconds: float = 0.0,
    ) -> None:
        """The next `times` API calls (under `path_prefix` and with `method`, if given) get this
        response, after `stall_seconds` if given."""
        default_body, default_headers = self.fault_defaults(status)
        body = copy.deepcopy(default_body if body is None else body)
        headers = dict(default_headers if headers is None else headers)
        self._faults.push(
            Fault(
                status,
                body,
                headers,
                times,
                path_prefix,
                method.upper() if method else None,
                stall_seconds,
            )
        )

    def accept_then_stall(
        self,
        seconds: float,
        *,
        times: int = 1,
        path_prefix: str | None = None,
        method: str | None = "POST",
    ) -> None:
        """The next matching calls are carried out, but answered only after `seconds`: the
        ambiguous failure (the client times out on a request the platform did)."""
        self._faults.push(
            Fault(0, None, {}, times, path_prefix, method.upper() if method else None, seconds)
        )

    def calls(self) -> list[dict[str, Any]]:
        """API calls received so far (admin calls excluded), oldest first."""
        return self._calls.entries()

    def set_delay(self, seconds: float) -> None:
        """Delay every API response, to exercise client timeouts."""
        with self._lock:
            self._delay = max(0.0, seconds)

    def reset(self) -> None:
        """Forget queued faults and recorded calls, and remove the delay."""
        self._faults.clear()
        self._calls.clear()
        self.set_delay(0.0)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == "/__admin" or request.path.startswith("/__admin/"):
            response = self._dispatch_admin(request)
        else:
            response = self._dispatch_api(request)
        return response(environ, start_response)

    def _dispatch_api(self, request: Request) -> Response:
        request.get_data()  # read the body now, not while holding the lock
        fault = self._faults.take(request.path, request.method)
        if fault is not None and fault.status:
            response = fault.response()
        else:
            response = self.answer_unlocked(request)
        self._calls.record(request, response.status_code)
        with self._lock:
            delay = self._delay
        if fault is not None and fault.stall_seconds:
            delay += fault.stall_seconds
        if delay:
            time.sleep(delay)
        return response

    def answer_unlocked(self, request: Request) -> Response:
        """Calls `answer()` with `_lock` held. A fake whose API blocks (a long poll) overrides
        this to wait outside the lock."""
        with self._lock:
            return self.answer(request)

    def _dispatch_admin(self, request: Request) -> Response:
        try:
            view, values = self._admin_routes.bind_to_environ(request.environ).match()
        except HTTPException as error:
            return json_response({"error": error.name}, error.code or 500)
        response: Response = view(request, **values)
        return response

    def _admin_fail_next(self, request: Request) -> Response:
        from_form = not request.is_json
        try:
            if from_form:
                fault = Fault.from_form(request.form.to_dict())
            else:
                fault = Fault.from_json(request.get_json(silent=True))
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        if fault.status:
            self.fail_next(
                fault.status,
                body=fault.body,
                headers=fault.headers or None,
                times=fault.times,
                path_prefix=fault.path_prefix,
                method=fault.method,
                stall_seconds=fault.stall_seconds,
            )
        else:
            self.accept_then_stall(
                fault.stall_seconds,
                times=fault.times,
                path_prefix=fault.path_prefix,
                method=fault.method,
            )
        if from_form:
            return Response("", 303, {"Location": request.script_root + "/__admin/"})
        return json_response({"queued": True}, 201)

    def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return json_response({"reset": True})


class _QuietRequestHandler(WSGIRequestHandler):
    """Keeps test output readable: werkzeug logs every request to stderr by default."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeServer:
    """Runs a WSGI app in a daemon thread on an ephemeral port.

    Usage: `with FakeServer(fake.wsgi_app) as server: requests.get(server.url + ...)`.
    Each request is handled in its own thread, so a deliberately slow response
    (to test client timeouts) does not block other requests or `stop()`.
    """

    def __init__(
        self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL with the port actually bound, e.g. "http://127.0.0.1:54321"."""
        if self._server is None:
            raise RuntimeError("FakeServer.url is only known after start()")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.server_port}"

    def start(self) -> FakeServer:
        if self._server is not None:
            raise RuntimeError("FakeServer is already running")
        handler = _QuietRequestHandler if self._quiet else None
        self._server = make_server(
            self._host, self._port, self._app, threaded=True, request_handler=handler
        )
        # A short poll interval keeps stop() fast: shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeServer:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve `app` in the foreground (logging each request) until Ctrl-C."""
    server = make_server(host, port, app, threaded=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
