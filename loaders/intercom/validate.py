"""Read-back validation: compare what Intercom holds with what the ledger says we wrote, record by record, through each
registered phase's verifiers.

A verifier with a listing reads its kind a page at a time (`GET /contacts` 150 a page, the company scroll, the help
center lists) and checks each listed record the ledger knows; what the listing did not show — deleted since, or left
unlisted because listing further would cost more calls than reading them one by one — is read by id (a 404 is a
mismatch). Links and tags are compared from the same object, completed by extra reads only where it embeds a part.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from deskmigrate.core.errors import AuthError, LoadError, RejectedError
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import run_concurrently
from deskmigrate.loaders.intercom.registry import verifiers
from deskmigrate.loaders.intercom.verify import Mismatch, Verifier, VerifyContext

__all__ = ["Mismatch", "Validator"]

log = logging.getLogger(__name__)

Remote = dict[str, Any]


class Validator:
    def __init__(self, client: IntercomClient, ledger: Ledger, concurrency: int = 8,
                 on_progress: Callable[[str, int], None] | None = None, by_listing: bool = True) -> None:
        self.client = client
        self.ledger = ledger
        self.concurrency = concurrency
        self.on_progress = on_progress or (lambda entity, n: None)
        self.by_listing = by_listing  # False: one read per record (what validate did before listings; benchmarks compare)
        self.checked: dict[str, int] = {}
        self._lock = threading.Lock()
        self.context = VerifyContext(client, ledger)

    @property
    def mismatches(self) -> list[Mismatch]:
        return self.context.mismatches

    def run(self) -> list[Mismatch]:
        for verifier in verifiers():
            rows = verifier.rows(self.ledger, verifier.entity)
            if verifier.listing is None or not self.by_listing:
                run_concurrently(rows, lambda row, v=verifier: self._check_read(v, row), self.concurrency)
            else:
                self._run_listed(verifier, _by_intercom_id(rows))
        self.mismatches.sort(key=lambda m: (m.entity, m.source_id, m.field))
        return self.mismatches

    def _run_listed(self, verifier: Verifier, wanted: dict[str, list[str]]) -> None:
        """The rows found in the listing are checked as listed; the rest are read one by one."""
        if not wanted:
            return
        seen: set[str] = set()
        listed = self._listed(verifier, wanted, seen)
        run_concurrently(listed, lambda pair, v=verifier: self._check(v, pair[0], lambda: v.complete(self.client, pair[1])),
                         self.concurrency)
        unseen = (row for intercom_id, source_ids in wanted.items() if intercom_id not in seen
                  for row in self._rows(verifier, source_ids))
        run_concurrently(unseen, lambda row, v=verifier: self._check_read(v, row), self.concurrency)

    def _listed(self, verifier: Verifier, wanted: dict[str, list[str]], seen: set[str]) -> Iterator[tuple[IdMapRow, Remote]]:
        """(row, object as listed) for every wanted object the listing shows. The listing stops once it has shown them all,
        or when the pages it has left would cost more calls than reading the records still unseen one by one."""
        assert verifier.listing is not None
        listed = pages = 0
        try:
            for page in verifier.listing(self.client):
                pages += 1
                listed += len(page.items)
                for remote in page.items:
                    intercom_id = str(remote.get("id"))
                    if intercom_id in wanted and intercom_id not in seen:
                        seen.add(intercom_id)
                        for row in self._rows(verifier, wanted[intercom_id]):
                            yield row, remote
                unseen = len(wanted) - len(seen)
                pages_left = None if page.total is None or not page.items else -(-(page.total - listed) // len(page.items))
                if unseen == 0 or pages >= len(wanted) or (pages_left is not None and pages_left > unseen):
                    return
        except AuthError:
            raise
        except LoadError as error:
            log.info("listing %s failed after %d page(s) (%s): the rest is read one by one", verifier.entity, pages, error)

    def _rows(self, verifier: Verifier, source_ids: list[str]) -> Iterator[IdMapRow]:
        for source_id in source_ids:
            row = self.ledger.id_row(verifier.entity, source_id)
            if row is not None:
                yield row

    def _check_read(self, verifier: Verifier, row: IdMapRow) -> None:
        self._check(verifier, row, lambda: verifier.complete(self.client, verifier.read(self.client, str(row.intercom_id))))

    def _check(self, verifier: Verifier, row: IdMapRow, read: Callable[[], Remote]) -> None:
        """The record as Intercom holds it, compared; a mismatch says why when it could not be read. Counted either way."""
        try:
            remote = read()
        except AuthError:
            raise
        except LoadError as error:
            missing = isinstance(error, RejectedError) and error.status == 404
            self.context.add(verifier.entity, row, "exists" if missing else "read", "present" if missing else "readable",
                             "missing" if missing else str(error))
            return
        finally:
            with self._lock:
                self.checked[verifier.entity] = self.checked.get(verifier.entity, 0) + 1
            self.on_progress(verifier.entity, 1)
        verifier.check(self.context, row, remote)


def _by_intercom_id(rows: Iterable[IdMapRow]) -> dict[str, list[str]]:
    """Intercom id → the source ids of the rows written to it (records merged into one contact share it; a row without
    an id is never listed, so it is read, and found missing, as before)."""
    wanted: dict[str, list[str]] = {}
    for row in rows:
        wanted.setdefault(str(row.intercom_id), []).append(row.source_id)
    return wanted
