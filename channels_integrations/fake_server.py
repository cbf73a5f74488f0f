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
    """A canned response that replaces the next `times` API calls under `path_prefix`."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    path_prefix: str | None = None

    @classmethod
    def from_json(cls, payload: object) -> Fault:
        """Validate the body of `POST /__admin/fail-next`; raises ValueError."""
        if not isinstance(payload, dict) or not isinstance(payload.get("status"), int):
            raise ValueError("expected a JSON object with an integer status")
        headers, times = payload.get("headers") or {}, payload.get("times", 1)
        prefix = payload.get("path_prefix")
        if not isinstance(headers, dict):
            raise ValueError("headers must be an object")
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        if prefix is not None and not isinstance(prefix, str):
            raise ValueError("path_prefix must be a string")
        fault_headers = {str(name): str(value) for name, value in headers.items()}
        return cls(payload["status"], payload.get("body"), fault_headers, times, prefix)

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

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_prefix is None or path.startswith(fault.path_prefix):
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
$tables
</body></html>
""")


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
    ) -> None:
        """The next `times` API calls (under `path_prefix`, if given) get this response."""
        default_body, default_headers = self.fault_defaults(status)
        body = copy.deepcopy(default_body if body is None else body)
        headers = dict(default_headers if headers is None else headers)
        self._faults.push(Fault(status, body, headers, times, path_prefix))

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
        fault = self._faults.take(request.path)
        if fault is not None:
            response = fault.response()
        else:
            with self._lock:
                response = self.answer(request)
        self._calls.record(request, response.status_code)
        with self._lock:
            delay = self._delay
        if delay:
            time.sleep(delay)
        return response

    def _dispatch_admin(self, request: Request) -> Response:
        try:
            view, values = self._admin_routes.bind_to_environ(request.environ).match()
        except HTTPException as error:
            return json_response({"error": error.name}, error.code or 500)
        response: Response = view(request, **values)
        return response

    def _admin_fail_next(self, request: Request) -> Response:
        try:
            fault = Fault.from_json(request.get_json(silent=True))
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        self.fail_next(
            fault.status,
            body=fault.body,
            headers=fault.headers or None,
            times=fault.times,
            path_prefix=fault.path_prefix,
        )
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
