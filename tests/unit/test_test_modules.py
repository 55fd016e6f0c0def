"""Test modules share helpers through plain modules (tests/integration/saw.py and steps.py,
tests/unit/lines_files.py...), never by importing one another: otherwise moving or splitting
one test file breaks another, and a test function imported by name runs twice."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(path: Path) -> set[str]:
    """Every imported name of `path` whose last part is a test module, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            sep = "." if node.module else ""
            names = [base, *(f"{base}{sep}{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name.rpartition(".")[2].startswith("test_")}
    return found


def test_no_test_module_imports_another(tmp_path: Path) -> None:
    imports = {str(p.relative_to(TESTS)): imported_test_modules(p) for p in sorted(TESTS.rglob("*.py"))}
    assert len(imports) > 60
    assert {path: found for path, found in imports.items() if found} == {}
    # The check itself sees an import at the top, inside a function, relative, or of the module.
    leaky = tmp_path / "leaky.py"
    leaky.write_text("from tests.integration.test_commands import slash\n"
                     "def f():\n    from . import test_mirror\n    import tests.unit.test_wall\n")
    assert imported_test_modules(leaky) == {
        "tests.integration.test_commands", ".test_mirror", "tests.unit.test_wall"}
