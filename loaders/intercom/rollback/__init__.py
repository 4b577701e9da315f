"""Rollback, as a run of its own: plan what to undo (reading each record once), preview it, then undo in reverse phase order."""

from __future__ import annotations

from deskmigrate.loaders.intercom.loader import singular
from deskmigrate.loaders.intercom.rollback.engine import Rollback
from deskmigrate.loaders.intercom.rollback.plan import RollbackPlan, RollbackReport

__all__ = ["Rollback", "RollbackPlan", "RollbackReport", "singular"]
