"""The layout rules a new dialect must keep, derived from the registry so a new dialect needs no edit here."""

import ast
from pathlib import Path

import pytest

import jobgate.dialects
from jobgate.dialects import REGISTRY

DIALECTS_DIR = Path(jobgate.dialects.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", REGISTRY)
def test_a_dialect_imports_no_other_dialect(module: str) -> None:
    folder = DIALECTS_DIR / module.rsplit(".", 1)[1]
    others = [other for other in REGISTRY if other != module]
    offending = {
        f"{path.name}: {name}"
        for path in folder.rglob("*.py")
        for name in _imports(path)
        if any(name == other or name.startswith(other + ".") for other in others)
    }
    assert offending == set(), "dialects share code through dialects/common or dialects/soap, never directly"


@pytest.mark.parametrize("module", REGISTRY)
def test_every_registered_dialect_lives_in_its_own_folder_under_dialects(module: str) -> None:
    package, _, name = module.rpartition(".")
    assert package == "jobgate.dialects"
    assert (DIALECTS_DIR / name / "__init__.py").is_file()
