"""The HTTP layer: a threaded stdlib server with media streaming, faults, the request log and `/_emulator/`.

Why the stdlib `ThreadingHTTPServer` rather than werkzeug/uvicorn: the SDK opens a fresh connection per request,
so a thread per connection is exactly the workload; the stdlib server adds no dependency, starts in
milliseconds inside a test process, serves well over 500 requests/s on two cores (bench/emulator_requests.py),
and gives direct access to the socket, which connection-drop faults need.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from pydantic import ValidationError
from requests.structures import CaseInsensitiveDict

from encord_emulator.api import Api, ApiRequest, ApiResponse
from encord_emulator.auth import Authenticator
from encord_emulator.faults import Fault, FaultInjector, FaultSettings
from encord_emulator.observability import RequestLog, RequestRecord
from encord_emulator.signing import MALFORMED
from encord_emulator.state import EmulatorState, first_value

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_MEDIA_PATH = re.compile(r"^/files/(?P<item>[^/]+)(/.*)?$")
_CHUNK = 256 * 1024

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class _Pending:
    started: float
    path: str
    route: str
    is_media: bool
    fault: str | None


class EmulatorApp:
    """Everything one running emulator owns, independent of the socket it listens on."""

    def __init__(self, state: EmulatorState, authenticator: Authenticator, faults: FaultSettings | None = None) -> None:
        self.state = state
        self.auth = authenticator
        self.api = Api(state, authenticator)
        self.faults = FaultInjector(faults)
        self.log = RequestLog()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive for clients that reuse them (PyAV seeking, benchmark sessions).
    protocol_version = "HTTP/1.1"
    # Small responses must not wait for a delayed ACK (~40 ms per request on a kept-alive connection).
    disable_nagle_algorithm = True
    server_version = "EncordEmulator/1"
    app: EmulatorApp  # set on the subclass made per server
    _pending: _Pending | None = None

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request log replaces stderr chatter

    # ---- plumbing ------------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, *, send_body: bool = True) -> None:
        self.send_response(status)
        merged = {"Content-Type": "application/json", **(headers or {})}
        for name, value in merged.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def _base_url(self) -> str:
        host = self.headers.get("Host")
        if not host:
            address: Any = self.server.server_address  # AF_INET: (host, port)
            host = f"{address[0]!s}:{address[1]}"
        return f"http://{host}"

    def _drop(self) -> None:
        # An abrupt close without a response: what a dying load balancer or network looks like to clients.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.shutdown(socket.SHUT_RDWR)

    def send_response(self, code: int, message: str | None = None) -> None:
        # Recorded before the first byte goes out, so a client that has its answer always finds it counted.
        self._flush_record(code)
        super().send_response(code, message)

    def _flush_record(self, status: int) -> None:
        pending: _Pending | None = getattr(self, "_pending", None)
        if pending is None:
            return
        self._pending = None
        self.app.log.record(
            RequestRecord(
                kind="media" if pending.is_media else "api",
                method=self.command,
                path=pending.path,
                route=pending.route,
                status=status,
                duration_ms=(time.perf_counter() - pending.started) * 1000,
                at=time.time(),
                fault=pending.fault,
            )
        )

    def _dispatch(self) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        if path.startswith("/_emulator/") or path == "/_emulator":
            self._control(path)
            return
        is_media = path.startswith("/files/")
        decision = self.app.faults.decide(path)
        if decision.delay_s:
            time.sleep(decision.delay_s)
        route = f"{self.command} /files/{{item}}" if is_media else f"{self.command} {path}"
        fault = None if decision.fault is Fault.NONE else decision.fault.value
        self._pending = _Pending(started, path, route, is_media, fault)
        if decision.fault is Fault.DROP:
            self._read_body()
            self._flush_record(0)
            self._drop()
            return
        if decision.fault in (Fault.RATE_LIMIT, Fault.UNAVAILABLE):
            self._read_body()
            status = 429 if decision.fault is Fault.RATE_LIMIT else 503
            message = {"message": "rate limited by the emulator" if status == 429 else "unavailable (emulated)"}
            headers = {"Retry-After": str(decision.retry_after_s)} if status == 429 else {}
            self._send(status, orjson.dumps(message), headers)
            return
        if is_media:
            self._media(path)
            return
        request = ApiRequest(
            method=self.command,
            target=self.path,
            headers=CaseInsensitiveDict(self.headers.items()),
            body=self._read_body(),
            base_url=self._base_url(),
        )
        response: ApiResponse = self.app.api.handle(request)
        self._pending = _Pending(started, path, response.route, is_media, fault)
        self._send(response.status, response.body, response.headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def do_HEAD(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/files/"):
            self._media(path, send_body=False)
        else:
            self._send(501, b"", send_body=False)

    # ---- media ---------------------------------------------------------------------------------------------

    def _media(self, path: str, *, send_body: bool = True) -> None:
        match = _MEDIA_PATH.match(path)
        query = parse_qs(urlsplit(self.path).query)
        media = self.app.state.media(match["item"]) if match else None
        if match is None or media is None:
            self._plain(404, "no such file", send_body=send_body)
            return
        problem = self.app.state.signer.check(
            item_uuid=match["item"],
            expires=first_value(query, "expires"),
            signature=first_value(query, "sig"),
        )
        if problem is not None:
            self._plain(400 if problem in MALFORMED else 403, problem, send_body=send_body)
            return
        size = media.path.stat().st_size
        start, end = 0, size - 1
        status = 200
        headers = {"Content-Type": media.mime_type, "Accept-Ranges": "bytes"}
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                headers = {"Content-Range": f"bytes */{size}"}
                self._plain(416, "range not satisfiable", headers=headers, send_body=send_body)
                return
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if send_body:
            with media.path.open("rb") as handle:
                handle.seek(start)
                _copy(handle, self.wfile, length)

    def _plain(self, status: int, text: str, *, headers: dict[str, str] | None = None, send_body: bool = True) -> None:
        self._send(
            status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, send_body=send_body
        )

    # ---- /_emulator/ ---------------------------------------------------------------------------------------

    def _control_refusal(self) -> str | None:
        """Why this control request is refused, or None. The routes change state: a browser page must not reach
        them (DNS rebinding gives a non-loopback Host, a cross-site form an Origin), only local tools and tests."""
        host = urlsplit(f"//{self.headers.get('Host') or '127.0.0.1'}").hostname or ""
        if host not in _LOOPBACK_HOSTS:
            return f"control routes answer loopback Host headers only, not {host!r}"
        origin = self.headers.get("Origin")
        if origin is not None and (urlsplit(origin).hostname or "") not in _LOOPBACK_HOSTS:
            return "control routes refuse cross-origin requests"
        return None

    def _control(self, path: str) -> None:
        refusal = self._control_refusal()
        if refusal is not None:
            self._read_body()
            self._send(403, orjson.dumps({"message": refusal}))
            return
        app = self.app
        body = self._read_body()
        method = self.command
        query = parse_qs(urlsplit(self.path).query)
        try:
            payload: Any = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            self._send(400, orjson.dumps({"message": "malformed JSON body"}))
            return
        if (method, path) == ("GET", "/_emulator/health"):
            self._send(200, orjson.dumps({"ok": True}))
        elif (method, path) == ("GET", "/_emulator/state"):
            self._send(200, orjson.dumps(app.state.dump()))
        elif (method, path) == ("GET", "/_emulator/requests"):
            limit = int((query.get("limit") or ["1000"])[0])
            self._send(200, orjson.dumps(app.log.snapshot(limit=limit)))
        elif (method, path) == ("GET", "/_emulator/faults"):
            self._send(200, orjson.dumps(app.faults.as_json()))
        elif method in ("PUT", "POST") and path == "/_emulator/faults":
            try:
                app.faults.configure(FaultSettings.model_validate(payload))
            except ValidationError as exc:
                self._send(400, orjson.dumps({"message": str(exc)}))
                return
            self._send(200, orjson.dumps(app.faults.as_json()))
        elif (method, path) == ("POST", "/_emulator/reset"):
            what = payload if isinstance(payload, dict) else {}
            if what.get("state", True):
                app.state.reset()
            if what.get("requests", True):
                app.log.reset()
            if what.get("faults", True):
                app.faults.configure(FaultSettings())
            self._send(200, orjson.dumps({"ok": True}))
        else:
            self._send(404, orjson.dumps({"message": f"no emulator control route {method} {path}"}))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range resolved against the size; None when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]) or size == 0:
        return None
    if not match[1]:  # suffix range: the last N bytes
        suffix = int(match[2])
        return (max(0, size - suffix), size - 1) if suffix > 0 else None
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def _copy(source: Any, target: Any, length: int) -> None:
    remaining = length
    while remaining > 0:
        chunk = source.read(min(_CHUNK, remaining))
        if not chunk:
            break
        target.write(chunk)
        remaining -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (seeking video players, dropped-connection faults) are normal here.
        return


class EmulatorServer:
    """A listening emulator; `start()` serves in a background thread, `serve_forever()` in the caller's."""

    def __init__(self, app: EmulatorApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        handler = type("EmulatorHandler", (_Handler,), {"app": app})
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        # A short poll interval keeps shutdown (and so every test using the fixture) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="encord-emulator", daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving, wait for the loop to finish and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


__all__ = ["EmulatorApp", "EmulatorServer"]
