"""The registered load phases, in the order Intercom needs them (computed from what each requires); rollback undoes them in
reverse. Preflight, plan, load, rollback and validate iterate over this registry: a new phase is one unit, one line here."""

from __future__ import annotations

from collections.abc import Iterable

from deskmigrate.loaders.intercom.attributes import DATA_ATTRIBUTE_UNDO, PREFLIGHT
from deskmigrate.loaders.intercom.companies import COMPANIES
from deskmigrate.loaders.intercom.contacts import CONTACTS
from deskmigrate.loaders.intercom.help_center import ARTICLE_LINKS, ARTICLES, COLLECTIONS
from deskmigrate.loaders.intercom.history import HISTORY
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.tags import TAGS
from deskmigrate.loaders.intercom.undo import FactKind, RecordKind, SettingKind, TagObjects
from deskmigrate.loaders.intercom.verify import Verifier


def in_dependency_order(phases: Iterable[Phase]) -> tuple[Phase, ...]:
    """Every phase after the phases it requires, otherwise in the order given; an unknown or circular requirement is an error."""
    pending = list(phases)
    names = {phase.name for phase in pending}
    unknown = sorted(f"{phase.name} requires {needed!r}" for phase in pending for needed in phase.requires if needed not in names)
    if unknown:
        raise ValueError(f"phases require phases that are not registered: {', '.join(unknown)}")
    unstreamable = sorted(phase.name for phase in pending if phase.streams_after and phase.needs is None)
    if unstreamable:
        raise ValueError(f"phases that stream after others must name the records each of theirs needs: {', '.join(unstreamable)}")
    ordered: list[Phase] = []
    while pending:
        ready = next((phase for phase in pending if all(needed in {p.name for p in ordered} for needed in phase.requires)), None)
        if ready is None:
            raise ValueError(f"phases require each other in a circle: {', '.join(phase.name for phase in pending)}")
        ordered.append(ready)
        pending.remove(ready)
    return tuple(ordered)


PHASES: tuple[Phase, ...] = in_dependency_order((COMPANIES, CONTACTS, TAGS, COLLECTIONS, ARTICLES, ARTICLE_LINKS, HISTORY))


def phase_order(phases: Iterable[Phase] = PHASES) -> list[str]:
    return [PREFLIGHT, *(phase.name for phase in phases)]


def staged_phases(phases: Iterable[Phase] = PHASES) -> dict[str, Phase]:
    """Staged entity → the phase that loads it, in phase order."""
    return {phase.entity: phase for phase in phases if phase.entity}


def record_kinds(phases: Iterable[Phase] = PHASES) -> dict[str, RecordKind]:
    kinds: dict[str, RecordKind] = {}
    for phase in phases:
        for kind in phase.undo.records:
            if kind.entity in kinds:
                raise ValueError(f"two phases undo {kind.entity}: {kinds[kind.entity].phase} and {kind.phase}")
            kinds[kind.entity] = kind
    return kinds


def fact_kinds(phases: Iterable[Phase] = PHASES) -> tuple[FactKind, ...]:
    return tuple(kind for phase in phases for kind in phase.undo.facts)


def setting_kinds(phases: Iterable[Phase] = PHASES) -> dict[str, SettingKind]:
    """Settings phases create (the same kind declared by several phases counts once), and preflight's data attributes."""
    return {kind.entity: kind for phase in phases for kind in (*phase.undo.settings, DATA_ATTRIBUTE_UNDO)}


def tag_objects(phases: Iterable[Phase] = PHASES) -> TagObjects | None:
    return next((phase.undo.tags for phase in phases if phase.undo.tags is not None), None)


def verifiers(phases: Iterable[Phase] = PHASES) -> list[Verifier]:
    return [verifier for phase in phases for verifier in phase.verify]
