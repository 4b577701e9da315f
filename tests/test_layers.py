"""The house: core imports nothing above it; connectors, transforms and loaders never import each other; the sandbox
imports nothing from the product and only the application, benchmarks and tests import it; no module imports itself back
through others (no import circle, inside a part or across parts; late imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Top-level folder → the floor it is (each installs as deskmigrate.<folder>; deskmigrate/ itself is the application).
PARTS = {"core": "core", "connectors": "connectors", "transforms": "transforms", "loaders": "loaders", "sandbox": "sandbox",
         "mappings": "mappings", "deskmigrate": "app"}
FLOOR_TWO = ("connectors", "transforms", "loaders")


def module_of(path: Path, root: Path = ROOT) -> str:
    """The installed module name of a product file: connectors/csv/reader.py → deskmigrate.connectors.csv.reader."""
    relative = path.relative_to(root).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join(parts) if parts[0] == "deskmigrate" else ".".join(["deskmigrate", *parts])


def imported_names(path: Path, root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """Every import of a file, at any depth (late imports inside functions too), as (module, names taken from it); relative
    ones resolved. `import x` takes no names."""
    package = module_of(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((base, [alias.name for alias in node.names]))
    return found


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every deskmigrate module a file imports, at any depth (late imports inside functions too), relative ones resolved."""
    names: set[str] = set()
    for base, taken in imported_names(path, root):
        names.add(base)
        names.update(f"{base}.{name}" for name in taken)  # `from x import module` imports x.module
    return {name for name in names if name.startswith("deskmigrate")}


def floor_of(module: str) -> str:
    parts = module.split(".")
    return PARTS.get(parts[1], "app") if len(parts) > 1 and parts[1] in PARTS and parts[1] != "deskmigrate" else "app"


def product_files() -> list[tuple[Path, str]]:
    return [(path, floor) for folder, floor in PARTS.items() for path in (ROOT / folder).rglob("*.py")]


def import_graph(folders: list[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """Each module under `folders` → the modules under them it imports. `from package import module` imports the module,
    `from package import name` the package's __init__; importing a package's module does not count as importing its
    __init__ (Python runs that first, whatever imports the module)."""
    modules = {module_of(path, root): path for folder in folders for path in folder.rglob("*.py") if "__pycache__" not in path.parts}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for base, taken in imported_names(path, root):
            submodules = {f"{base}.{name}" for name in taken} & modules.keys()
            edges |= submodules
            if base in modules and (not taken or len(submodules) < len(taken)):
                edges.add(base)
        graph[module] = edges - {module}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other round in a circle (Tarjan's strongly connected components), each as the
    circle's modules in sorted order; a module that imports itself is one too."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in on_stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph.get(module, ()):
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(circles)


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
    assert floor_of("deskmigrate.planning") == "app"
    assert floor_of("deskmigrate.core.ledger") == "core"
    assert floor_of("deskmigrate.sandbox.server") == "sandbox"
    assert module_of(ROOT / "connectors" / "csv" / "reader.py") == "deskmigrate.connectors.csv.reader"
    assert module_of(ROOT / "deskmigrate" / "cli.py") == "deskmigrate.cli"
    relative = imports_of(ROOT / "sandbox" / "__init__.py")
    assert relative and all(name.startswith("deskmigrate.sandbox") for name in relative)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_no_import_circle_inside_a_part(part: str) -> None:
    assert import_circles(import_graph([ROOT / part])) == []


def test_no_import_circle_across_the_product() -> None:
    graph = import_graph([ROOT / part for part in PARTS])
    assert len(graph) > 100 and "deskmigrate.loaders.intercom.registry" in graph  # the graph holds the whole product
    assert import_circles(graph) == []


def test_the_circle_detector_sees_a_planted_circle_through_a_late_import(tmp_path: Path) -> None:
    part = tmp_path / "loaders"
    (part / "kit").mkdir(parents=True)
    for package in (part, part / "kit"):
        (package / "__init__.py").write_text('"""A part."""\n')
    (part / "kit" / "phases.py").write_text("from deskmigrate.loaders.kit.base import Base\n")
    (part / "kit" / "base.py").write_text("def load():\n    from . import phases  # late: hides the circle at import time\n")
    (part / "kit" / "leaf.py").write_text("from deskmigrate.loaders.kit import base\n")
    graph = import_graph([part], tmp_path)
    assert graph["deskmigrate.loaders.kit.phases"] == {"deskmigrate.loaders.kit.base"}
    assert graph["deskmigrate.loaders.kit.leaf"] == {"deskmigrate.loaders.kit.base"}  # `from package import module`
    assert import_circles(graph) == [["deskmigrate.loaders.kit.base", "deskmigrate.loaders.kit.phases"]]
    assert import_circles({"a": {"a"}, "b": set()}) == [["a"]]
