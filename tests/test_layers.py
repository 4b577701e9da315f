"""The house: core imports nothing above it; connectors, transforms and loaders never import each other; the sandbox
imports nothing from the product and only the application, benchmarks and tests import it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Top-level folder → the floor it is (each installs as deskmigrate.<folder>; deskmigrate/ itself is the application).
PARTS = {"core": "core", "connectors": "connectors", "transforms": "transforms", "loaders": "loaders", "sandbox": "sandbox",
         "mappings": "mappings", "deskmigrate": "app"}
FLOOR_TWO = ("connectors", "transforms", "loaders")


def module_of(path: Path) -> str:
    """The installed module name of a product file: connectors/csv/reader.py → deskmigrate.connectors.csv.reader."""
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join(parts) if parts[0] == "deskmigrate" else ".".join(["deskmigrate", *parts])


def imports_of(path: Path) -> set[str]:
    """Every deskmigrate module a file imports, at any depth (late imports inside functions too), relative ones resolved."""
    package = module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from x import module` imports x.module
    return {name for name in names if name.startswith("deskmigrate")}


def floor_of(module: str) -> str:
    parts = module.split(".")
    return PARTS.get(parts[1], "app") if len(parts) > 1 and parts[1] in PARTS and parts[1] != "deskmigrate" else "app"


def product_files() -> list[tuple[Path, str]]:
    return [(path, floor) for folder, floor in PARTS.items() for path in (ROOT / folder).rglob("*.py")]


def test_every_part_is_a_top_level_folder() -> None:
    assert {folder for folder in PARTS if (ROOT / folder / "__init__.py").is_file()} == set(PARTS)
    assert not [path for part in PARTS if part != "deskmigrate" for path in (ROOT / "deskmigrate" / part).rglob("*.py")]


def test_arrows_point_down() -> None:
    violations = []
    for path, here in product_files():
        for imported in imports_of(path):
            there = floor_of(imported)
            where = f"{path.relative_to(ROOT)} ({here}) imports {imported}"
            if here in ("core", "mappings") and there != here:
                violations.append(where)
            if here in FLOOR_TWO and there not in ("core", here):
                violations.append(where)
            if here == "sandbox" and there != "sandbox":
                violations.append(where)
            if there == "sandbox" and here not in ("app", "sandbox"):
                violations.append(where)
    assert violations == []


def test_the_floor_rule_sees_a_violation() -> None:
    assert floor_of("deskmigrate.connectors.csv") == "connectors"
    assert floor_of("deskmigrate.pipeline") == "app"
    assert floor_of("deskmigrate.core.ledger") == "core"
    assert floor_of("deskmigrate.sandbox.server") == "sandbox"
    assert module_of(ROOT / "connectors" / "csv" / "reader.py") == "deskmigrate.connectors.csv.reader"
    assert module_of(ROOT / "deskmigrate" / "cli.py") == "deskmigrate.cli"
    relative = imports_of(ROOT / "sandbox" / "__init__.py")
    assert relative and all(name.startswith("deskmigrate.sandbox") for name in relative)
