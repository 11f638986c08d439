"""The package's layering, read from the source: which modules may import which.

An arrow that goes back (a stage importing the orchestrator, an engine importing a stage it
is driven by, anything but the CLI importing the CLI) is how a small core becomes a tangle;
ruff already keeps typer and rich inside cli.py, this keeps the rest of the shape.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "surveil"

# (modules, by path prefix under surveil/) -> modules they must never import
FORBIDDEN = [
    ("", ("surveil.cli",)),  # only the entry point knows the CLI
    ("spark/", ("surveil.pipeline", "surveil.generate")),  # an engine only
    ("detect/", ("surveil.pipeline",)),
    ("generate/", ("surveil.pipeline", "surveil.detect", "surveil.load")),
    ("validate/", ("surveil.pipeline",)),
    ("report/", ("surveil.pipeline",)),
    ("fix/", ("surveil.pipeline", "surveil.db")),
    ("load.py", ("surveil.pipeline",)),
    ("lake.py", ("surveil.pipeline",)),
]
ALLOWED_TO_IMPORT_CLI = {"cli.py", "__main__.py"}


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules() -> list[tuple[str, Path]]:
    return sorted((p.relative_to(PACKAGE).as_posix(), p) for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize(("prefix", "forbidden"), FORBIDDEN, ids=[f[0] or "*" for f in FORBIDDEN])
def test_no_module_imports_what_sits_above_it(prefix: str, forbidden: tuple[str, ...]) -> None:
    breaches = []
    for name, path in modules():
        if not name.startswith(prefix) or name in ALLOWED_TO_IMPORT_CLI:
            continue
        for imported in imports_of(path):
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                breaches.append(f"surveil/{name} imports {imported}")
    assert breaches == []


def test_the_layer_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The reader finds imports inside functions too (where the lazy ones hide)."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from surveil.pipeline import run_day\n")
    assert "surveil.pipeline" in imports_of(source)
