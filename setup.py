"""The package list is computed: every folder of a part is installed under `deskmigrate.<part>`, so a new
connector folder (or a package of the application, such as deskmigrate.commands) can never be left out of the wheel (metadata lives in pyproject.toml)."""

from setuptools import find_packages, setup

# Top-level folders installed as subpackages of the one `deskmigrate` distribution (setuptools' package-dir).
PARTS = ("core", "connectors", "transforms", "loaders", "mappings", "sandbox")

packages = ["deskmigrate", *(f"deskmigrate.{sub}" for sub in find_packages("deskmigrate"))]  # the application's own
for part in PARTS:
    packages += [f"deskmigrate.{part}", *(f"deskmigrate.{part}.{sub}" for sub in find_packages(part))]

setup(
    packages=packages,
    package_dir={"deskmigrate": "deskmigrate", **{f"deskmigrate.{part}": part for part in PARTS}},
    package_data={"deskmigrate.mappings": ["*.yaml"]},
)
