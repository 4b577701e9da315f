"""A phase is one self-contained unit, registered once: preflight, plan, load, rollback and validate iterate over the
registry and name no phase nor any entity a phase writes; the registry orders phases by what each requires."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from deskmigrate.loaders.intercom.registry import (
    PHASES,
    fact_kinds,
    in_dependency_order,
    phase_order,
    record_kinds,
    setting_kinds,
    tag_objects,
    verifiers,
)

ROOT = Path(__file__).resolve().parents[2]
INTERCOM = ROOT / "loaders" / "intercom"
# The code that runs every phase: it may hold no phase's name, nor the name of anything a phase writes.
# The fields the plan writes of each would-be payload (its tags and its company links, whatever the record) and the plan
# report's tag summary: names of what a payload carries, not of a phase.
PAYLOAD_FIELDS = {("planning.py", "tags"), ("planning.py", "companies")}
# The application's side: opening the project and target, extraction, planning, loading.
PIPELINE = [ROOT / "deskmigrate" / name for name in ("project.py", "target.py", "extraction.py", "planning.py", "loading.py")]
ENGINES = [INTERCOM / "preflight.py", INTERCOM / "validate.py", INTERCOM / "schedule.py", *(INTERCOM / "rollback").glob("*.py"), *PIPELINE]


def phase_words() -> set[str]:
    """Every name a phase unit owns: its name, staged entity, mapping target, and the entities and facts it writes."""
    words = {word for phase in PHASES for word in (phase.name, phase.entity, phase.mapping_target, *phase.landings()) if word}
    words |= set(record_kinds()) | set(setting_kinds()) | {fact.name for fact in fact_kinds()} | {fact.other_entity for fact in fact_kinds()}
    tags = tag_objects()
    return words | ({tags.entity} if tags else set())


def string_literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module, docstrings left out (prose may say what a phase does)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_words_a_phase_owns_are_known() -> None:
    words = phase_words()
    assert {"companies", "contacts", "tags", "collections", "articles", "article_links", "conversations", "tickets", "leads",
            "teammates", "data_attributes", "ticket_types", "link", "tagging"} <= words


@pytest.mark.parametrize("engine", ENGINES, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_engines_name_no_phase(engine: Path) -> None:
    words = phase_words()
    named = [f"{engine.name}:{line}: {value!r}" for line, value in string_literals(engine)
             if value.strip() in words and (engine.name, value) not in PAYLOAD_FIELDS]
    assert named == []


def test_the_detector_sees_a_phase_named_in_code_not_in_prose(tmp_path: Path) -> None:
    module = tmp_path / "engine.py"
    module.write_text('"""Undoes the tags phase last."""\n\ndef undo(phase):\n    """Not "tags" here."""\n    return phase == "tags"\n')
    assert string_literals(module) == [(5, "tags")]


def test_every_entity_a_phase_lands_records_as_can_be_undone_and_checked() -> None:
    kinds = record_kinds()
    checked = {verifier.entity for verifier in verifiers()}
    for phase in PHASES:
        for entity in phase.landings():
            assert entity in kinds, f"{phase.name}: rollback cannot undo {entity}"
            assert entity in checked, f"{phase.name}: validate does not check {entity}"


def test_phases_run_after_what_they_require() -> None:
    order = phase_order()
    assert order[0] == "preflight"
    for phase in PHASES:
        assert all(order.index(needed) < order.index(phase.name) for needed in phase.requires), phase.name


def test_the_registry_orders_by_requirement_and_refuses_unknown_or_circular_ones() -> None:
    first, second, third = (replace(phase, requires=()) for phase in PHASES[:3])
    assert [p.name for p in in_dependency_order((first, second, third))] == [first.name, second.name, third.name]
    waiting = replace(first, requires=(third.name,))
    assert [p.name for p in in_dependency_order((waiting, second, third))] == [second.name, third.name, first.name]
    with pytest.raises(ValueError, match="not registered"):
        in_dependency_order((replace(first, requires=("nowhere",)),))
    with pytest.raises(ValueError, match="circle"):
        in_dependency_order((replace(first, requires=(second.name,)), replace(second, requires=(first.name,))))
