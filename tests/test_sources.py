"""Adding a source is one folder in connectors/, one registry line and one mappings/<source>.yaml: nothing else in the
product names a source, and the JSON Lines source proves it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deskmigrate.core.source import Connector
from deskmigrate.registry import SOURCES, connector_class

ROOT = Path(__file__).resolve().parents[1]
# The product: the application and every part installed under deskmigrate.* (setup.py's PARTS).
PRODUCT = [ROOT / part for part in ("deskmigrate", "core", "connectors", "transforms", "loaders", "mappings", "sandbox")]
PACKAGE = ROOT / "deskmigrate"
REGISTRY = PACKAGE / "registry.py"
# The source's name as code and configuration use it ("jsonl", JsonlConnector, connectors.jsonl, type: jsonl), but not
# a file name ending in .jsonl (the plan writes its would-be payloads as <entity>.jsonl; "contacts.jsonl:17" is a line).
NAMES_JSONL = re.compile(r"(?i)(?<!\.)\bjsonl|connectors[./]jsonl")


def product_files() -> list[Path]:
    return sorted(path for folder in PRODUCT for path in folder.rglob("*")
                  if path.suffix in (".py", ".yaml", ".toml") and "__pycache__" not in path.parts)


def mentions(path: Path) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if NAMES_JSONL.search(line)]


def test_the_detector_sees_the_name_as_code_uses_it_and_not_a_file_name() -> None:
    for named in ('"jsonl": "deskmigrate.connectors.jsonl:JsonlConnector",', "from deskmigrate.connectors.jsonl import records",
                  "if source_type == 'JSONL':", "class JsonlReader:", "type: jsonl"):
        assert NAMES_JSONL.search(named), named
    for file_name in ('sink = (out_dir / f"{entity}.jsonl").open("w")', 'location="contacts.jsonl:17"', "payloads in plan/*.jsonl"):
        assert not NAMES_JSONL.search(file_name), file_name


def test_nothing_outside_its_folder_the_registry_and_its_mapping_names_the_jsonl_source() -> None:
    own_folder = ROOT / "connectors" / "jsonl"
    mapping = ROOT / "mappings" / "jsonl.yaml"
    files = product_files()
    assert len(files) > 80 and PACKAGE / "planning.py" in files and PACKAGE / "cli.py" in files  # the scan sees the whole product
    elsewhere = [found for path in files if not path.is_relative_to(own_folder) and path not in (REGISTRY, mapping) for found in mentions(path)]
    assert elsewhere == []
    # ... and it is not because the source is absent: its three places all name it, the registry on one line
    assert len(mentions(REGISTRY)) == 1
    assert mentions(mapping) and mentions(own_folder / "__init__.py")
    assert connector_class("jsonl").name == "jsonl"


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_registered_source_is_a_folder_a_connector_and_a_mapping(source: str) -> None:
    connector = connector_class(source)
    assert Connector in connector.__mro__ and connector.name == source  # the hooks the app calls, with their defaults
    assert connector.__module__.startswith(f"deskmigrate.connectors.{source}.")
    assert (ROOT / "connectors" / source / "__init__.py").is_file()
    assert (ROOT / "mappings" / f"{source}.yaml").is_file()
