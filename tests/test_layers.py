"""The three floors: core imports nothing above it; connectors, transforms and loaders never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "deskmigrate"
FLOOR_TWO = ("connectors", "transforms", "loaders")
APP_MODULES = ("deskmigrate.cli", "deskmigrate.pipeline", "deskmigrate.report", "deskmigrate.registry")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.startswith("deskmigrate")}


def floor_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("core", *FLOOR_TWO) else "app"


def test_arrows_point_down() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        here = floor_of("deskmigrate." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for imported in imports_of(path):
            there = floor_of(imported)
            if here == "core" and there != "core":
                violations.append(f"{path.relative_to(PACKAGE)} (core) imports {imported}")
            if here in FLOOR_TWO and there not in ("core", here):
                violations.append(f"{path.relative_to(PACKAGE)} ({here}) imports {imported}")
    assert violations == []


def test_the_floor_rule_sees_a_violation() -> None:
    assert floor_of("deskmigrate.connectors.csv") == "connectors"
    assert floor_of("deskmigrate.pipeline") == "app"
    assert floor_of("deskmigrate.core.state") == "core"
