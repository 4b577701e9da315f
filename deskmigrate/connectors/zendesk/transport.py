"""Zendesk HTTP on zenpy: its authorised session and 429 handling, our base URL, pacing and bounded 5xx retries."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api import BaseApi
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

from deskmigrate.connectors.zendesk.config import ZendeskSourceConfig
from deskmigrate.core.errors import SourceError
from deskmigrate.core.http import Clock, MinuteWindowPacer, Sleep, rebase_url

log = logging.getLogger(__name__)

API_PREFIX = "/api/v2"


class HttpStatusError(SourceError):
    """Zendesk answered with an error status; `status` lets callers treat 403/404 on optional features."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class _ZenpyRequests(BaseApi):
    """zenpy's request path (`_call_api`: 429 + Retry-After, `_check_response`) without its URL building.

    zenpy builds URLs as https://{subdomain}.{domain} or from the process-global ZENPY_FORCE_NETLOC/SCHEME
    environment variables; we hand it absolute URLs built from the configured base instead, so two
    connectors in one process can point at different hosts.
    """

    def __init__(self, client: Zenpy, subdomain: str, timeout: float) -> None:
        super().__init__(
            subdomain=subdomain,
            session=client.users.session,
            timeout=timeout,
            ratelimit=None,
            ratelimit_budget=None,
            ratelimit_request_interval=10,
            cache=client.cache,
            domain="zendesk.com",
        )

    def get_response(self, url: str, params: dict[str, Any], wait_budget_s: int) -> requests.Response:
        # zenpy spends ratelimit_budget cumulatively over an object's life; we reset it so it bounds each call.
        self.ratelimit_budget = wait_budget_s
        return self._call_api(self.session.get, url, params=params, timeout=self.timeout)


class ZendeskTransport:
    """GETs JSON from the Zendesk API; every call honours Retry-After (bounded) and retries 5xx (bounded)."""

    def __init__(
        self,
        config: ZendeskSourceConfig,
        session: requests.Session | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.config = config
        self.api_root = config.api_root()
        self._sleep = sleep
        client = Zenpy(
            subdomain=config.subdomain,
            email=config.email,
            token=config.token.get_secret_value() if config.token else None,
            oauth_token=config.oauth_token.get_secret_value() if config.oauth_token else None,
            session=session or requests.Session(),
            timeout=config.timeout_s,
            disable_cache=True,
        )
        self._requests = _ZenpyRequests(client, config.subdomain, config.timeout_s)
        self.incremental_pacer = MinuteWindowPacer(config.incremental_requests_per_minute, clock, sleep, label="Zendesk incremental exports")
        self.calls = 0

    def url_for(self, path: str) -> str:
        return f"{self.api_root}/{path.lstrip('/')}"

    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET one page; `path_or_url` is relative to /api/v2 or an absolute next-page URL."""
        url = rebase_url(path_or_url, self.api_root, API_PREFIX) if "://" in path_or_url else self.url_for(path_or_url)
        incremental = "/incremental/" in urlsplit(url).path
        attempt = 0
        while True:
            if incremental:
                self.incremental_pacer.wait_for_slot()
            self.calls += 1
            try:
                response = self._requests.get_response(url, params or {}, self.config.max_retry_wait_s)
                return response.json()
            except RatelimitBudgetExceeded:
                raise SourceError(
                    f"Zendesk kept answering 429 for GET {_where(url)}: gave up after waiting {self.config.max_retry_wait_s} s"
                ) from None
            except (APIException, requests.HTTPError) as exc:
                status = exc.response.status_code if exc.response is not None else None
                if not _is_retriable(status) or attempt >= self.config.max_retries:
                    raise HttpStatusError(f"Zendesk answered {status} for GET {_where(url)}: {_excerpt(exc.response)}", status) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.config.max_retries:
                    raise SourceError(f"Zendesk unreachable for GET {_where(url)}: {type(exc).__name__}") from None
            except ValueError:
                raise SourceError(f"Zendesk answered GET {_where(url)} with a body that is not JSON") from None
            attempt += 1
            delay = self.config.retry_backoff_s * (2 ** (attempt - 1))
            log.warning("GET %s failed, retry %d/%d in %.1f s", _where(url), attempt, self.config.max_retries, delay)
            self._sleep(delay)


def _is_retriable(status: int | None) -> bool:
    # 429 reaches here only without a usable Retry-After (zenpy waits out the others).
    return status is None or status == 429 or status >= 500


def _where(url: str) -> str:
    return urlsplit(url).path


def _excerpt(response: requests.Response | None) -> str:
    if response is None:
        return "no response"
    return response.text[:200].replace("\n", " ")
