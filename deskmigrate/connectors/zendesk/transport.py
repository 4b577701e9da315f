"""Zendesk HTTP: zenpy's authorised session, sent through the shared transport (our base URL, one limiter honouring
`Retry-After`, bounded retries) with the incremental exports paced to their own per-minute limit."""

from __future__ import annotations

import time

import requests
from zenpy import Zenpy

from deskmigrate.connectors.zendesk.config import ZendeskSourceConfig
from deskmigrate.core.http import Clock, MinuteWindowPacer, RetryPolicy, Sleep, WindowRateLimiter
from deskmigrate.core.sourcekit import SourceTransport

API_PREFIX = "/api/v2"


def authorised_session(config: ZendeskSourceConfig, session: requests.Session | None) -> requests.Session:
    """The session zenpy sets up for the configured credentials: basic `{email}/token` for an API token, a bearer
    header for an OAuth token (https://developer.zendesk.com/api-reference/introduction/security-and-auth/)."""
    client = Zenpy(
        subdomain=config.subdomain,
        email=config.email,
        token=config.token.get_secret_value() if config.token else None,
        oauth_token=config.oauth_token.get_secret_value() if config.oauth_token else None,
        session=session or requests.Session(),
        timeout=config.timeout_s,
        disable_cache=True,
    )
    authorised: requests.Session = client.users.session
    return authorised


class ZendeskTransport(SourceTransport):
    """GETs JSON from the Zendesk API. zenpy builds its URLs from {subdomain}.zendesk.com or process-wide environment
    variables, so calls go to the configured base URL through zenpy's session instead; a 429 waits its Retry-After
    within the retry deadline (`max_retry_wait_s`), a 5xx or a dropped connection is retried `max_retries` times."""

    vendor = "Zendesk"

    def __init__(
        self,
        config: ZendeskSourceConfig,
        session: requests.Session | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        secrets = [secret.get_secret_value() for secret in (config.token, config.oauth_token) if secret is not None]
        policy = RetryPolicy(max_attempts=config.max_retries + 1, deadline_s=config.max_retry_wait_s, base_delay_s=config.retry_backoff_s)
        super().__init__(config.api_root(), authorised_session(config, session), limiter=WindowRateLimiter.for_retry_after(), policy=policy,
                         timeout_s=config.timeout_s, secrets=secrets, api_prefix=API_PREFIX, sleep=sleep)
        self.config = config
        self.incremental_pacer = MinuteWindowPacer(config.incremental_requests_per_minute, clock, sleep, label="Zendesk incremental exports")

    def pacer_for(self, endpoint: str) -> MinuteWindowPacer | None:
        """The incremental exports allow 10 calls a minute (30 with the High Volume add-on), beside the account's budget."""
        return self.incremental_pacer if "/incremental/" in endpoint else None
