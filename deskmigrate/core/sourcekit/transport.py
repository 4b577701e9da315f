"""One transport for every source API: GETs JSON from a root under the shared policy of core.http (one limiter, bounded
retries, redaction), with links the server writes pointed back at the configured root."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from deskmigrate.core.errors import LoadError, RateLimitedError, SourceError
from deskmigrate.core.http import (
    ErrorDetailsParser,
    MinuteWindowPacer,
    RetryPolicy,
    RetryStats,
    Sleep,
    WindowRateLimiter,
    call_with_retries,
    generic_error_details,
    rebase_url,
    redact,
)
from deskmigrate.core.model import SourceNotice
from deskmigrate.core.source import OptionalEndpointNotices, is_optional_miss

log = logging.getLogger(__name__)

# Path segments that are record ids: folded to {id} in call counts and messages (numbers, 24-hex object ids).
_ID_SEGMENT = re.compile(r"^(?:\d+|[0-9a-fA-F]{24})$")


class SourceHttpError(SourceError):
    """A source API answered with an error status (after the retries the policy allows), or could not be reached.

    `status` is None when no answer came; `fields` names the request fields the error body blames (Freshdesk's
    `errors[].field`), so a caller can tell "page out of range" from any other 400.
    """

    def __init__(self, message: str, status: int | None, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.fields = fields

    def concerns_field(self, name: str) -> bool:
        return name in self.fields


@dataclass(frozen=True)
class JsonResponse:
    """One answered GET: its JSON body, the relations of its `Link` header (rel → URL), and the server's `Date`."""

    body: Any
    links: Mapping[str, str] = field(default_factory=dict)
    date: str | None = None


class SourceTransport:
    """GETs JSON below `root`; a vendor subclass adds its credentials, pacing and error-body reading through the hooks.

    `api_prefix` is the part of the root's path the server's own links carry ("/api/v2"): a next-page link written
    with the vendor's host is rebased on `root`, so proxies, custom domains and test servers keep working.
    """

    vendor = "the source"
    objects_only = True  # every answer is a JSON object (False for APIs that answer lists, like Freshdesk's)

    def __init__(
        self,
        root: str,
        session: requests.Session,
        *,
        limiter: WindowRateLimiter,
        policy: RetryPolicy,
        timeout_s: float,
        secrets: list[str],
        api_prefix: str | None = None,
        details: ErrorDetailsParser = generic_error_details,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.root = root.rstrip("/")
        self._root_path = urlsplit(self.root).path.rstrip("/")
        self.api_prefix = api_prefix if api_prefix is not None else self._root_path[self._root_path.rfind("/") :]
        self.session = session
        self.limiter = limiter
        self.policy = policy
        self.timeout_s = timeout_s
        self.secrets = secrets
        self.details = details
        self.stats = RetryStats()
        self.calls: Counter[str] = Counter()
        self._sleep = sleep

    # -- URLs ---------------------------------------------------------------------------------------

    def url_for(self, path_or_url: str) -> str:
        """A path relative to the root, or an absolute link from an answer pointed at the root."""
        if "://" in path_or_url:
            return rebase_url(path_or_url, self.root, self.api_prefix)
        return f"{self.root}/{path_or_url.lstrip('/')}"

    def endpoint(self, url: str) -> str:
        """The path below the root with record ids folded ("/tickets/{id}/comments.json"), for call counts and pacing."""
        path = urlsplit(url).path.removeprefix(self._root_path)
        return "/".join("{id}" if _ID_SEGMENT.match(segment) else segment for segment in path.split("/"))

    # -- hooks a vendor overrides -------------------------------------------------------------------

    def prepare_credentials(self) -> None:
        """Make sure the credentials the next call sends are valid (a no-op for static keys)."""

    def renew_credentials(self) -> bool:
        """Drop cached credentials after a 401 so the next call fetches fresh ones; False when there is nothing to renew."""
        return False

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def request_auth(self) -> tuple[str, str] | None:
        """Basic-auth credentials for each call; None leaves the session's own."""
        return None

    def pacer_for(self, endpoint: str) -> MinuteWindowPacer | None:
        """A sub-limit the vendor's headers do not announce (Zendesk's incremental exports, Freshdesk's list calls)."""
        return None

    def error_fields(self, response: requests.Response) -> tuple[str, ...]:
        """The request fields an error body blames."""
        return ()

    # -- calls --------------------------------------------------------------------------------------

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> JsonResponse:
        """GET one resource or page; a 401 renews the credentials once and asks again."""
        url = self.url_for(path_or_url)
        endpoint = self.endpoint(url)
        describe = f"GET {urlsplit(url).path}"
        renewed = False
        while True:
            # Credentials are settled before the call takes its rate-limit slot: fetching a token inside it would
            # need a second slot while holding the first.
            self.prepare_credentials()
            try:
                response = self._send(lambda: self._get(url, params, endpoint), describe)
            except SourceHttpError as error:
                if error.status == 401 and not renewed and self.renew_credentials():
                    renewed = True
                    log.info("%s: %s answered 401; credentials renewed, asking again", self.vendor, describe)
                    continue
                raise
            self.calls[endpoint] += 1
            return JsonResponse(self._json(response, describe), _links(response), response.headers.get("Date"))

    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> Any:
        return self.get(path_or_url, params).body

    def _get(self, url: str, params: dict[str, Any] | None, endpoint: str) -> requests.Response:
        pacer = self.pacer_for(endpoint)
        if pacer is not None:
            pacer.wait_for_slot()
        return self.session.get(url, params=params, headers=self.request_headers(), auth=self.request_auth(), timeout=self.timeout_s)

    def _send(self, send: Callable[[], requests.Response], describe: str) -> requests.Response:
        """One call through the shared limiter and retry policy; a final failure is a SourceHttpError."""
        answered: list[requests.Response] = []

        def send_once() -> requests.Response:
            response = send()
            answered[:] = [response]
            return response

        try:
            return call_with_retries(send_once, policy=self.policy, limiter=self.limiter, idempotent=True, describe=describe,
                                     details=self.details, secrets=self.secrets, stats=self.stats, sleep=self._sleep)
        except LoadError as error:
            status = error.status
            if status is not None:
                text = f"{self.vendor} answered {status} for {error}"  # the error reads "GET /path → HTTP 404 …"
            elif isinstance(error, RateLimitedError):
                status = 429  # the limiter gave up before asking again: the last answer was a 429
                text = f"{self.vendor} answered 429 for {describe} until the retry deadline: {error}"
            else:
                text = f"{self.vendor} could not be read: {error}"
            blamed = self.error_fields(answered[0]) if answered and not answered[0].ok else ()
            raise SourceHttpError(redact(text, self.secrets), status, blamed) from None

    def _json(self, response: requests.Response, describe: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"{self.vendor} answered {describe} with a body that is not JSON") from None
        if self.objects_only and not isinstance(body, dict):
            raise SourceError(f"{self.vendor} answered {describe} with JSON that is not an object")
        return body


def optional_list(read: Callable[[], Iterable[dict[str, Any]]], notices: OptionalEndpointNotices, *, what: str, location: str,
                  consequence: str, affects: tuple[str, ...]) -> list[dict[str, Any]]:
    """A metadata list the migration can do without: a 403/404 records a notice (`consequence`: what happens instead,
    for the `affects` entities) and gives []. Any other error is raised."""
    try:
        return list(read())
    except SourceHttpError as error:
        if not is_optional_miss(error.status):
            raise
        notices.missed(what, location, error.status, consequence, affects)
        return []


def section_unavailable(section: str, entity: str, error: SourceHttpError) -> Iterator[SourceNotice]:
    """A part of the account its plan or the token does not serve (403, 404: a Help Center, a knowledge base): a notice
    that `entity` is skipped. Any other error is raised."""
    if error.status not in (403, 404):
        raise error
    message = f"{section} not available (HTTP {error.status}); {entity} skipped"
    log.warning("%s", message)
    yield SourceNotice(entity=entity, message=message)


def _links(response: requests.Response) -> dict[str, str]:
    return {str(rel): str(link["url"]) for rel, link in response.links.items() if link.get("url")}
