"""A source's files (article images, attachments): behind its login, fetched with its credentials from its own hosts only;
or saved in a folder on this machine, read from that folder only."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import requests

from deskmigrate.core.errors import SourceError

MAX_FILE_BYTES = 20 * 1024 * 1024


class SourceFiles(Protocol):
    """Files on the source's own hosts: the only place the source's credentials are ever sent."""

    def owns(self, url: str) -> bool: ...

    def is_public(self, url: str) -> bool: ...

    def download(self, url: str) -> tuple[bytes, str | None]: ...


class SessionSourceFiles:
    """Fetches source files with an authorised session; a redirect to another host is followed without credentials."""

    def __init__(self, hosts: Iterable[str], base_url: str | None, session: requests.Session, timeout_s: float = 30.0) -> None:
        self.hosts = {host.lower() for host in hosts if host}
        self.base = urlsplit(base_url) if base_url else None
        self.session = session
        self.anonymous = requests.Session()
        self.timeout_s = timeout_s

    def owns(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() in self.hosts

    def _local(self, url: str) -> str:
        """The URL on the configured base (proxies, test servers): same path and query."""
        parts = urlsplit(url)
        if self.base is None:
            return url
        return urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))

    def is_public(self, url: str) -> bool:
        try:
            with self.anonymous.get(self._local(url), timeout=self.timeout_s, stream=True) as response:
                return response.status_code == 200 and not response.headers.get("Content-Type", "").startswith("text/html")
        except requests.RequestException:
            return False

    def download(self, url: str) -> tuple[bytes, str | None]:
        current, session = self._local(url), self.session
        for _ in range(5):
            response = session.get(current, timeout=self.timeout_s, allow_redirects=False, stream=True)
            with response:
                if response.is_redirect:
                    target = urljoin(current, response.headers["Location"])
                    if urlsplit(target).netloc.lower() != urlsplit(current).netloc.lower():
                        session = self.anonymous  # never send the source's credentials to another host
                    current = target
                    continue
                if response.status_code != 200:
                    raise SourceError(f"the source answered {response.status_code}")
                content = response.raw.read(MAX_FILE_BYTES + 1, decode_content=True)
                if len(content) > MAX_FILE_BYTES:
                    raise SourceError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
                return content, response.headers.get("Content-Type")
        raise SourceError("too many redirects")


class FolderFiles:
    """Files saved in one folder on this machine (file URIs inside it), read from disk; anything else through the
    source's own hosts (`remote`), when it has any. No other local path is ever read."""

    def __init__(self, folder: Path, remote: SourceFiles | None = None) -> None:
        self.folder = folder.resolve()
        self.remote = remote

    def path_of(self, url: str) -> Path | None:
        """The file a file URI names, when it lies inside the folder; None for any other URL or path."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        path = Path(url2pathname(unquote(parts.path))).resolve()
        return path if path.is_relative_to(self.folder) else None

    def owns(self, url: str) -> bool:
        return self.path_of(url) is not None or (self.remote is not None and self.remote.owns(url))

    def is_public(self, url: str) -> bool:
        if self.path_of(url) is not None or self.remote is None:
            return False
        return self.remote.is_public(url)

    def download(self, url: str) -> tuple[bytes, str | None]:
        path = self.path_of(url)
        if path is None:
            if self.remote is None:
                raise SourceError(f"not a file in {self.folder}")
            return self.remote.download(url)
        try:
            with path.open("rb") as handle:
                content = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise SourceError(f"the saved file {path.name} cannot be read: {exc.strerror}") from None
        if len(content) > MAX_FILE_BYTES:
            raise SourceError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        return content, mimetypes.guess_type(path.name)[0]
