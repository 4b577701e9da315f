"""HTTP glue: serves a SandboxApp on 127.0.0.1 with a ThreadingHTTPServer in a daemon thread."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from deskmigrate.sandbox.app import SandboxApp
from deskmigrate.sandbox.settings import SandboxSettings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _SandboxRequestHandler)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(connection)

    def close_open_connections(self) -> None:
        """Kept-alive client connections would otherwise outlive `stop()` in their handler threads."""
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "deskmigrate-sandbox"
    timeout = 60
    server: _SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately; without NODELAY, Nagle plus delayed ACKs add ~40 ms per keep-alive call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        response = self.server.app.handle(self.command, url.path, url.query, dict(self.headers.items()), body)
        if response.drop:
            self._drop_connection()
            return
        if response.text is not None:
            payload, content_type = response.text.encode(), "text/html; charset=utf-8"
        elif response.body is not None:
            payload, content_type = json.dumps(response.body).encode(), "application/json; charset=utf-8"
        else:
            payload, content_type = b"", "application/json; charset=utf-8"
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop_connection(self) -> None:
        """Close the socket without a byte of response, as a dying load balancer would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        logger.debug("sandbox %s - %s", self.address_string(), format % args)


class SandboxServer:
    """A sandbox on a real port: `with SandboxServer(settings) as server: requests.get(server.base_url + "/me", ...)`."""

    def __init__(
        self, settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.clock = clock
        self.base_url = ""
        self._app: SandboxApp | None = None
        self._httpd: _SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        if self._httpd is not None:
            return self.base_url
        self._app = SandboxApp(self.settings, clock=self.clock)
        self._httpd = _SandboxHTTPServer((self.host, self.port), self._app)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True)
        self._thread.start()
        logger.info("Intercom sandbox serving %s (state in %s)", self.base_url, self.settings.path)
        return self.base_url

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_open_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._app is not None:
            self._app.close()
        self._httpd, self._thread, self._app = None, None, None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
