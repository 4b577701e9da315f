"""The ledger: one SQLite file per migration project that makes every run resumable, repeatable and reversible.

It holds staged source records, the source → Intercom id map with before-images, every write a run made (and
each rollback's undo log), per-phase progress, failures and notices, source cursors, and company links and taggings
with who made each. It holds customer data: the file is created 0600 in a 0700 folder. `Ledger` is the one front
door; each module of this package holds one part of it."""

from __future__ import annotations

from deskmigrate.core.ledger.facts import FactsPart
from deskmigrate.core.ledger.failures import FailuresPart
from deskmigrate.core.ledger.files import ledger_copies, state_history
from deskmigrate.core.ledger.idmap import IdMapPart
from deskmigrate.core.ledger.outcomes import OutcomesPart
from deskmigrate.core.ledger.parts import PartsPart
from deskmigrate.core.ledger.rows import (
    MAPPING_PHASE,
    SKIPPED,
    Fact,
    Failure,
    IdMapRow,
    Notice,
    OutcomeGroup,
    PartRow,
    SharedEmailContact,
    StagedDuplicate,
    WriteRow,
    merge_marker,
    new_run_id,
    record_hash,
    tag_key,
)
from deskmigrate.core.ledger.runs import RunsPart
from deskmigrate.core.ledger.schema import SCHEMA_VERSION
from deskmigrate.core.ledger.staging import StagingPart


class Ledger(RunsPart, StagingPart, IdMapPart, FactsPart, PartsPart, FailuresPart, OutcomesPart):
    """Thread-safe access to the ledger; each public write is one transaction.

    Opening an older ledger migrates it (copied aside first). A ledger that is missing, empty or unreadable beside
    earlier runs' reports, logs or plan files is lost: opening it raises LedgerLostError instead of starting afresh,
    unless `start_over` says to (the lost file is then set aside, never deleted).
    """


__all__ = [
    "Fact",
    "Failure",
    "IdMapRow",
    "Ledger",
    "MAPPING_PHASE",
    "Notice",
    "OutcomeGroup",
    "PartRow",
    "SCHEMA_VERSION",
    "SKIPPED",
    "SharedEmailContact",
    "StagedDuplicate",
    "WriteRow",
    "ledger_copies",
    "merge_marker",
    "new_run_id",
    "record_hash",
    "state_history",
    "tag_key",
]
