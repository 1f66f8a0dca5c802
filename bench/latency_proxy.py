"""A loopback reverse proxy that adds a fixed delay to every request and counts them, as a network hop would.

Latency injected inside the emulator runs after the request reached a server thread; a proxy in front of it
also delays the clients' connections the way a real hop does, and it counts every request a runner makes (API
and media apart) without touching either runner. Bodies are buffered: it serves image batches, not videos.
Hand-written on the stdlib server because the emulator is, and no proxy package is a dependency here.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Connection-level headers belong to one hop (RFC 9110 7.6.1): never forwarded.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})
_OWN_HEADERS = frozenset({"content-length", "server", "date"})  # this server writes its own


class LatencyProxy:
    """`with LatencyProxy.running(upstream_url, delay_s=0.02) as proxy:` point clients at `proxy.url`."""

    def __init__(self, upstream: str, *, delay_s: float) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname is not None
        assert parts.port is not None
        self.upstream = (parts.hostname, parts.port)
        self.delay_s = delay_s
        self.counts: Counter[str] = Counter()
        self.connections = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @classmethod
    @contextmanager
    def running(cls, upstream: str, *, delay_s: float) -> Iterator[LatencyProxy]:
        proxy = cls(upstream, delay_s=delay_s)
        thread = threading.Thread(target=proxy._server.serve_forever, name="latency-proxy", daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            proxy._server.shutdown()
            proxy._server.server_close()
            thread.join()

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.connections = 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            _upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy.connections += 1

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.counts["media" if self.path.startswith("/files/") else "api"] += 1
                time.sleep(proxy.delay_s)
                if self._upstream is None:  # one upstream connection per client connection, kept alive
                    self._upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                self._upstream.request(self.command, self.path, body=body, headers=headers)
                response = self._upstream.getresponse()
                payload = response.read()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP | _OWN_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def finish(self) -> None:
                super().finish()
                if self._upstream is not None:
                    self._upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler
