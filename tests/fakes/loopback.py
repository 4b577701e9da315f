"""A scripted loopback HTTP/1.1 server: every call answered by a Python function, for tests of HTTP clients and retries.

Usage:
    with ScriptedServers() as serve:
        base_url = serve(lambda request: Reply(429, {"Retry-After": "1"}))   # or DROP: close without answering
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

DROP = object()  # close the connection without answering


@dataclass
class Request:
    method: str
    target: str  # the path and query as sent
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'


Answer = Callable[[Request], object]  # a Reply, or DROP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # eight threads connect at once; the default backlog of 5 would drop SYNs

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.answer(Request(self.command, self.path, dict(self.headers), body))
        if reply is DROP:
            self.close_connection = True
            return
        assert isinstance(reply, Reply), reply
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class ScriptedServers:
    """Starts scripted servers on demand (`serve(answer) -> base URL`) and stops them all on exit."""

    def __init__(self) -> None:
        self._servers: list[_Server] = []

    def __call__(self, answer: Answer) -> str:
        server = _Server(answer)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self._servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
