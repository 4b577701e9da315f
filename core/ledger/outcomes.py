"""Outcomes: every record the source gave with one outcome, grouped by reason (the reconciliation's numbers)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from deskmigrate.core.ledger.rows import (
    MAPPING_PHASE,
    SKIPPED,
    OutcomeGroup,
)
from deskmigrate.core.ledger.store import LedgerStore


class OutcomesPart(LedgerStore):
    """One outcome per record the source gave, grouped by outcome and reason, computed in SQL."""

    def record_outcomes(self, entity: str, landed_as: tuple[str, ...], run_id: str | None) -> list[OutcomeGroup]:
        """Every staged record of `entity` with one outcome, grouped by (outcome, raw reason), three examples each.

        Outcomes, first that holds: rejected (the mapping refused it), failed (an open failure in a load phase),
        created / adopted / merged / updated (written by `run_id`), unchanged (in Intercom from an earlier run),
        skipped (a `skipped` notice says why), pending (not loaded yet). `landed_as` are the id-map entities the
        record lands as (conversations land as conversations or tickets; a long one as `<id>`, `<id>#1`, …).
        """
        params: dict[str, Any] = {"entity": entity, "run": run_id or ""}
        params.update({f"as{index}": name for index, name in enumerate(landed_as)})
        marks = ",".join(f":as{index}" for index in range(len(landed_as)))
        # A record lands as its own id or, split, as `<id>#1`, `<id>#2`…: two lookups, each on the (entity, source_id)
        # indexes — one OR over both, or the run's `writes_run` index, would scan the run's rows for every record.
        own, parts = "x.source_id=s.source_id", "x.source_id > s.source_id || '#' AND x.source_id < s.source_id || '$'"

        def landed_where(same: str) -> str:
            return f"EXISTS (SELECT 1 FROM id_map x WHERE x.entity IN ({marks}) AND {same} AND x.state='done')"

        def written_as(same: str) -> str:
            return (f"COALESCE((SELECT MIN(CASE x.action WHEN 'create' THEN 1 WHEN 'adopt' THEN 2 WHEN 'merge' THEN 3 ELSE 4 END) "
                    f"FROM writes x WHERE x.entity IN ({marks}) AND {same} AND +x.run_id=:run AND x.undone_at IS NULL "
                    f"AND x.action IN ('create','adopt','merge','update')), 9)")

        landed = f"{landed_where(own)} OR {landed_where(parts)}"
        written = f"NULLIF(MIN({written_as(own)}, {written_as(parts)}), 9)"
        sql = f"""
            WITH judged AS (
              SELECT s.source_id, json_extract(s.record, '$.location') AS location,
                (SELECT reason FROM failures f WHERE f.entity=s.entity AND f.source_id=s.source_id AND f.phase='{MAPPING_PHASE}') AS rejected,
                (SELECT reason FROM failures f WHERE f.entity=s.entity AND f.source_id=s.source_id
                   AND f.phase NOT IN ('extract', '{MAPPING_PHASE}') ORDER BY f.phase=:entity DESC, f.at LIMIT 1) AS failed,
                ({landed}) AS is_landed, {written} AS write_rank,
                (SELECT detail FROM notices n WHERE n.entity=s.entity AND n.source_id=s.source_id AND n.kind='{SKIPPED}') AS skipped
              FROM staged s WHERE s.entity=:entity)
            , classified AS (
              SELECT CASE WHEN rejected IS NOT NULL THEN 'rejected' WHEN failed IS NOT NULL THEN 'failed'
                          WHEN is_landed AND write_rank=1 THEN 'created' WHEN is_landed AND write_rank=2 THEN 'adopted'
                          WHEN is_landed AND write_rank=3 THEN 'merged' WHEN is_landed AND write_rank=4 THEN 'updated'
                          WHEN is_landed THEN 'unchanged' WHEN skipped IS NOT NULL THEN 'skipped' ELSE 'pending' END AS outcome,
                     COALESCE(rejected, failed, CASE WHEN NOT is_landed THEN skipped END, '') AS reason,
                     source_id, location
              FROM judged)
            {_FIRST_OF_EACH_GROUP}"""
        with self._lock:
            return _grouped(self._db.execute(sql, params).fetchall())

    def unstaged_outcomes(self, entity: str) -> list[OutcomeGroup]:
        """What the source gave for `entity` that was never staged: rows rejected at extract, records skipped there."""
        sql = f"""
            WITH classified AS (
              SELECT 'rejected' AS outcome, reason, source_id, NULL AS location FROM failures f WHERE f.entity=? AND f.phase='extract'
                AND NOT EXISTS (SELECT 1 FROM staged s WHERE s.entity=f.entity AND s.source_id=f.source_id)
              UNION ALL
              SELECT 'skipped', detail, source_id, NULL FROM notices n WHERE n.entity=? AND n.kind='{SKIPPED}'
                AND NOT EXISTS (SELECT 1 FROM staged s WHERE s.entity=n.entity AND s.source_id=n.source_id))
            {_FIRST_OF_EACH_GROUP}"""
        return _grouped(self._query(sql, (entity, entity)))

    def unstaged_entities(self) -> list[str]:
        """Entities with extract rejections or source skips, whether or not any of their records was staged."""
        rows = self._query(
            f"SELECT entity FROM failures WHERE phase='extract' UNION SELECT entity FROM notices WHERE kind='{SKIPPED}'"
        )
        return [r[0] for r in rows]

    def staged_entities(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT entity FROM staged ORDER BY entity")]

    def staged_custom_field_keys(self, entity: str) -> set[str]:
        """Every key some staged record of `entity` has in its custom_fields (one pass over the staged JSON)."""
        rows = self._query(
            "SELECT DISTINCT j.key FROM staged s, json_each(s.record, '$.custom_fields') j WHERE s.entity=?", (entity,)
        )
        return {str(r[0]) for r in rows}


# Over a `classified` (outcome, reason, source_id, location) set: per (outcome, reason) its count and first three
# records, so a million records come back as a few rows.
_FIRST_OF_EACH_GROUP = """
    , numbered AS (
      SELECT outcome, reason, source_id, location, COUNT(*) OVER grp AS n,
             ROW_NUMBER() OVER (PARTITION BY outcome, reason ORDER BY source_id) AS rn
      FROM classified WINDOW grp AS (PARTITION BY outcome, reason))
    SELECT outcome, reason, n, source_id, location FROM numbered WHERE rn <= 3 ORDER BY outcome, reason, rn"""


def _grouped(rows: Iterable[sqlite3.Row | tuple[Any, ...]]) -> list[OutcomeGroup]:
    """Rows of (outcome, reason, count, source id, location), ordered by outcome and reason, as groups."""
    groups: list[OutcomeGroup] = []
    for outcome, reason, count, source_id, location in rows:
        if not groups or (groups[-1].outcome, groups[-1].reason) != (outcome, reason or ""):
            groups.append(OutcomeGroup(outcome, reason or "", count, []))
        groups[-1].examples.append((source_id, location))
    return groups
