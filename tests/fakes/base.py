"""What every fake vendor server shares: a loopback HTTP server on an ephemeral port, a request log and fault switches."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    authorized: bool


@dataclass
class Fault:
    path_fragment: str
    status: int
    remaining: int
    retry_after: int | None = None


@dataclass(kw_only=True)
class FakeVendorServer:
    """Serves `_handle(handler)` on 127.0.0.1; subclasses answer the vendor's routes in the vendor's shapes.

    `requests` is a plain list the fake appends to: a test may swap in a list subclass that reacts to a request.
    """

    vendor: ClassVar[str] = "vendor"
    http_methods: ClassVar[tuple[str, ...]] = ("GET",)

    requests: list[RecordedRequest] = field(default_factory=list)
    # Route path (as the vendor's router sees it, e.g. "ticket_forms") → 403 or 404, answered every time: an endpoint the
    # account's plan or the token's role does not serve.
    unavailable: dict[str, int] = field(default_factory=dict)
    _faults: list[Fault] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server = self._server
        name = f"fake-{self.vendor.lower().replace(' ', '')}"
        threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), name=name, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- switches ---------------------------------------------------------------------------------

    def fail_next(self, path_fragment: str, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        """The next `times` requests whose path contains `path_fragment` get `status` (with the vendor's retry-after header if given)."""
        with self._lock:
            self._faults.append(Fault(path_fragment, status, times, retry_after))

    def refuse(self, route: str, status: int) -> None:
        """Every request for `route` answers `status` (403: not for this plan or role; 404: not served), until `restore`."""
        self.unavailable[route] = status

    def restore(self, route: str) -> None:
        self.unavailable.pop(route, None)

    def paths(self, method: str = "GET") -> list[str]:
        return [r.path for r in self.requests if r.method == method]

    # -- for subclasses ---------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError(f"{type(self).__name__} answers no request")

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_fragment in path and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        def answer(handler: BaseHTTPRequestHandler) -> None:
            fake._handle(handler)

        def quiet(handler: BaseHTTPRequestHandler, format: str, *args: Any) -> None:  # noqa: A002
            return

        methods: dict[str, Any] = {f"do_{method}": answer for method in self.http_methods}
        return type(f"{type(self).__name__}Handler", (BaseHTTPRequestHandler,), {**methods, "log_message": quiet})


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
    send_bytes(handler, status, json.dumps(body).encode(), content_type, headers)


def send_bytes(handler: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(payload)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)


def iso_z(moment: datetime) -> str:
    """A UTC time as the vendors write it: 2024-03-01T09:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_record(account: dict[str, Any] | None, collection: str, record_id: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply `changes` to the record of `account[collection]` with that id, and return it (the caller stamps the edit)."""
    assert account is not None
    for record in account[collection]:
        if record["id"] == record_id:
            record.update(changes)
            return record
    raise KeyError(f"{collection} {record_id}")
