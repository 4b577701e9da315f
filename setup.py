"""The package list is computed: every folder of a part is installed under `deskmigrate.<part>`, so a new
connector folder can never be left out of the wheel (metadata lives in pyproject.toml)."""

from setuptools import find_packages, setup

# Top-level folders installed as subpackages of the one `deskmigrate` distribution (setuptools' package-dir).
PARTS = ("core", "connectors", "transforms", "loaders", "mappings", "sandbox")

packages = ["deskmigrate"]
for part in PARTS:
    packages += [f"deskmigrate.{part}", *(f"deskmigrate.{part}.{sub}" for sub in find_packages(part))]

setup(
    packages=packages,
    package_dir={"deskmigrate": "deskmigrate", **{f"deskmigrate.{part}": part for part in PARTS}},
    package_data={"deskmigrate.mappings": ["*.yaml"]},
)
