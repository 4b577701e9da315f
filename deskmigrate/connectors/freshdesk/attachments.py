"""Attachment downloads: Freshdesk attachment links are signed and expire, so files are fetched as they are read."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from deskmigrate.core.errors import LoadError
from deskmigrate.core.http import RetryPolicy, WindowRateLimiter, call_with_retries, redact
from deskmigrate.core.model import Attachment

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    cleaned = UNSAFE_FILENAME.sub("_", name).strip("._") or "attachment"
    return cleaned[-120:]


class AttachmentFetcher:
    """Downloads each attachment into `folder/<owner>/` and points the canonical attachment at the local copy.

    The API key goes only to the Freshdesk host itself: signed storage URLs (S3) get no credentials.
    """

    def __init__(
        self,
        folder: Path,
        session: requests.Session,
        api_host: str,
        credentials: tuple[str, str],
        timeout_s: float,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self.folder = folder
        self._session = session
        self._api_host = api_host
        self._credentials = credentials
        self._timeout_s = timeout_s
        self._policy = policy
        self._sleep = sleep
        self._limiter = WindowRateLimiter.for_retry_after()
        self.downloaded = 0

    def localize(self, owner: str, attachments: list[Attachment]) -> tuple[list[Attachment], list[str]]:
        """The attachments with local file URLs, and a message for each one that could not be fetched (kept remote)."""
        result: list[Attachment] = []
        problems: list[str] = []
        for index, attachment in enumerate(attachments):
            if not attachment.url.startswith(("http://", "https://")):
                result.append(attachment)
                continue
            target = self.folder / safe_filename(owner) / f"{index}-{safe_filename(attachment.filename)}"
            try:
                size = self._download(attachment.url, target)
            except (LoadError, OSError) as exc:
                secret = self._credentials[0]
                problems.append(f"attachment {attachment.filename!r} not downloaded: {redact(str(exc), [secret])}")
                result.append(attachment)
                continue
            self.downloaded += 1
            result.append(attachment.model_copy(update={"url": target.resolve().as_uri(), "size": size}))
        return result, problems

    def _download(self, url: str, target: Path) -> int:
        auth = self._credentials if urlsplit(url).netloc == self._api_host else None

        def send() -> requests.Response:
            return self._session.get(url, auth=auth, timeout=self._timeout_s, stream=True)

        response = call_with_retries(
            send, policy=self._policy, limiter=self._limiter, idempotent=True, describe=f"GET attachment {urlsplit(url).path}",
            secrets=[self._credentials[0]], sleep=self._sleep,
        )
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # customer files: private like the state folder
        size = 0
        partial = target.with_suffix(target.suffix + ".part")
        with partial.open("wb") as handle:
            partial.chmod(0o600)
            for chunk in response.iter_content(CHUNK_BYTES):
                handle.write(chunk)
                size += len(chunk)
        partial.replace(target)
        return size
