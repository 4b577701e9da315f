"""Read-back validation: compare what Intercom holds with what the ledger says we wrote, record by record, through each
registered phase's verifiers (one GET per migrated record; links and tags are compared from that one response)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from deskmigrate.core.errors import AuthError, LoadError, RejectedError
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import run_concurrently
from deskmigrate.loaders.intercom.registry import verifiers
from deskmigrate.loaders.intercom.verify import Mismatch, Verifier, VerifyContext

__all__ = ["Mismatch", "Validator"]


class Validator:
    def __init__(self, client: IntercomClient, ledger: Ledger, concurrency: int = 8,
                 on_progress: Callable[[str, int], None] | None = None) -> None:
        self.client = client
        self.ledger = ledger
        self.concurrency = concurrency
        self.on_progress = on_progress or (lambda entity, n: None)
        self.checked: dict[str, int] = {}
        self._lock = threading.Lock()
        self.context = VerifyContext(client, ledger)

    @property
    def mismatches(self) -> list[Mismatch]:
        return self.context.mismatches

    def run(self) -> list[Mismatch]:
        for verifier in verifiers():
            rows = verifier.rows(self.ledger, verifier.entity)
            run_concurrently(rows, lambda row, v=verifier: self._check(v, row), self.concurrency)
        self.mismatches.sort(key=lambda m: (m.entity, m.source_id, m.field))
        return self.mismatches

    def _check(self, verifier: Verifier, row: IdMapRow) -> None:
        """The record as Intercom holds it, compared; a mismatch says why when it could not be read. Counted either way."""
        try:
            remote = verifier.read(self.client, str(row.intercom_id))
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
