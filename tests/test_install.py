"""The install is lean and honest: every listed dependency is imported by the code, every import is listed."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
IMPORT_NAMES = {"faiss-cpu": "faiss", "scikit-learn": "sklearn"}  # distribution → module where they differ
NOT_IMPORTED = {"pytest-xdist"}  # a pytest plugin: `make test` runs `pytest -n 2`


def distribution(requirement: str) -> str:
    for sep in "=<>!~;[ ":
        requirement = requirement.split(sep, 1)[0]
    return requirement.lower()


def imports_under(folder: Path) -> set[str]:
    """Top-level names of every absolute import in the Python files under ``folder``."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def third_party(names: set[str]) -> set[str]:
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("darkstack", "__future__")}


def test_every_dependency_is_imported_by_the_package():
    used = imports_under(ROOT / "src")
    listed = [distribution(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["spark"]]
    unused = [d for d in listed if IMPORT_NAMES.get(d, d.replace("-", "_")) not in used]
    assert not unused, f"listed but imported by no module of src/darkstack: {unused}"


def test_every_third_party_import_is_a_listed_dependency():
    listed = {distribution(r) for reqs in [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()] for r in reqs}
    owners = packages_distributions()
    for folder in ("src", "tests", "benchmarks"):
        local = {p.stem for p in (ROOT / folder).glob("*.py")}  # the folder's own helper modules
        for module in sorted(third_party(imports_under(ROOT / folder)) - local):
            dists = {d.lower() for d in owners.get(module, [])}
            if not dists:
                pytest.fail(f"{folder}: imports {module}, which no installed distribution provides")
            assert dists & listed, f"{folder}: imports {module} (from {sorted(dists)}), which pyproject.toml does not list"


def test_spark_is_an_extra_not_a_dependency():
    core = {distribution(r) for r in PROJECT["dependencies"]}
    assert "pyspark" not in core and "torch-geometric" not in core
    assert {distribution(r) for r in PROJECT["optional-dependencies"]["spark"]} == {"pyspark", "py4j"}
    assert not NOT_IMPORTED - {distribution(r) for r in PROJECT["optional-dependencies"]["dev"]}
