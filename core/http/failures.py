"""One failure classifier: an HTTP status or a transport error → the error kind (fatal, retriable, ambiguous write)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from deskmigrate.core.errors import (
    AmbiguousWriteError,
    AuthError,
    ConflictError,
    LoadError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from deskmigrate.core.http.redaction import redact, response_excerpt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorDetails:
    """What an error body says, parsed by a vendor-specific function."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    existing_id: str | None = None


ErrorDetailsParser = Callable[[requests.Response], ErrorDetails]

_REQUEST_ID_HEADERS = ("X-Request-Id", "Correlation-Id", "X-Zendesk-Request-Id")


def generic_error_details(response: requests.Response) -> ErrorDetails:
    """Best effort for any JSON API: `error`/`code`/`message` keys and a request-id header."""
    request_id = next((response.headers[name] for name in _REQUEST_ID_HEADERS if name in response.headers), None)
    try:
        body = response.json()
    except ValueError:
        return ErrorDetails(request_id=request_id)
    if not isinstance(body, dict):
        return ErrorDetails(request_id=request_id)
    code = body.get("code") or body.get("error")
    message = body.get("message") or body.get("description") or body.get("error_description")
    return ErrorDetails(
        code=str(code) if isinstance(code, (str, int)) else None,
        message=str(message) if isinstance(message, str) else None,
        request_id=request_id,
    )


# A 503 says the server did not handle the request (RFC 9110 §15.6.4), so even a create may be re-sent.
# A 500, 502 or 504 may come after the origin did the work (a crash after commit, an invalid or late upstream
# answer: https://www.rfc-editor.org/rfc/rfc9110#section-15.6), so for a non-idempotent call they are ambiguous.
NOT_PROCESSED_STATUSES = frozenset({408, 425, 503})


def classify_status(status: int, *, idempotent: bool) -> type[LoadError] | None:
    """The one place deciding what an HTTP status means; None for success."""
    if status < 400:
        return None
    if status == 429:
        return RateLimitedError
    if status == 409:
        return ConflictError
    if status in (401, 403):
        return AuthError
    if status in NOT_PROCESSED_STATUSES:
        return RetriableError
    if status >= 500:
        return RetriableError if idempotent else AmbiguousWriteError
    return RejectedError


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection failed before any byte of the request left (connect refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def classify_exception(exc: requests.RequestException, *, idempotent: bool) -> type[LoadError]:
    """A transport failure: retriable if the request surely never arrived or repeating it is harmless."""
    if _never_sent(exc):
        return RetriableError
    if isinstance(exc, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return RetriableError if idempotent else AmbiguousWriteError
    return LoadError


def transport_reason(exc: requests.RequestException) -> str:
    """A transport failure as one plain sentence a person can act on: which host, what went wrong, what to check."""
    url = getattr(getattr(exc, "request", None), "url", None) or ""
    parts = urlsplit(url)
    host = parts.hostname or "the server"
    where = f"{host}:{parts.port}" if parts.port else host
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    text = f"{exc} {reason}"
    if isinstance(exc, requests.exceptions.SSLError):
        return (f"the TLS (https) handshake with {host} failed: check the URL's scheme and host, the system's CA certificates, "
                f"and any proxy that intercepts HTTPS")
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy in front of {host} refused or failed the connection: check HTTPS_PROXY / HTTP_PROXY"
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text:
        return f"cannot find the host {host} (DNS lookup failed): check the host name in the URL (base_url, region, subdomain) and the network"
    if isinstance(exc, requests.ConnectTimeout):
        return f"{where} did not accept a connection in time: check the network, a firewall or a proxy"
    if isinstance(exc, requests.ReadTimeout):
        return f"{where} accepted the request but did not answer in time: it may be overloaded; a longer timeout_s may help"
    if "refused" in text.lower():
        return f"{where} refused the connection: nothing listens there; check the URL (base_url) and that the service is up"
    if isinstance(exc, requests.ConnectionError):
        return f"the connection to {where} broke: {type(reason or exc).__name__}; check the network"
    return f"{type(exc).__name__} talking to {where}"


def classify_failure(
    *,
    describe: str,
    idempotent: bool,
    response: requests.Response | None = None,
    exception: requests.RequestException | None = None,
    details: ErrorDetailsParser = generic_error_details,
    secrets: Iterable[str] = (),
    reset_at: float | None = None,
) -> LoadError | None:
    """Turn a response or a transport exception into the core error it means (None for a success)."""
    secrets = list(secrets)
    if response is None:
        if exception is None:
            raise ValueError("classify_failure needs a response or an exception")
        kind = classify_exception(exception, idempotent=idempotent)
        what = "may have been received" if kind is AmbiguousWriteError else "failed"
        return kind(redact(f"{describe} {what}: {transport_reason(exception)}", secrets))
    kind = classify_status(response.status_code, idempotent=idempotent)
    if kind is None:
        return None
    found = details(response)
    text = f"{describe} → HTTP {response.status_code}"
    if found.code:
        text += f" {found.code}"
    if found.message:
        text += f": {found.message}"
    if kind is AmbiguousWriteError:
        text += " (the write may have been applied)"
    fields: dict[str, object] = {
        "status": response.status_code,
        "code": found.code,
        "request_id": found.request_id,
        "excerpt": response_excerpt(response, secrets),
    }
    if kind is ConflictError:
        fields["existing_id"] = found.existing_id
    if kind is RateLimitedError:
        fields["reset_at"] = reset_at
    return kind(redact(text, secrets), **fields)  # type: ignore[arg-type]
