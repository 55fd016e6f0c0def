"""The layout: folders say the roles, no import cycles, the stand-ins stay out of the product."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "workflows", "standins")
# A newcomer reads the architecture from bot/'s folders; a flat heap of modules hides it.
MAX_TOP_LEVEL_MODULES = 14


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from bot.handlers import outcomes` imports the module bot.handlers.outcomes.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import bot.store.keys` -> the module itself
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    return {name: imports_of(path, name, set(mods)) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_bot_workflows_or_standins() -> None:
    edges = graph()
    assert len(edges) > 100
    assert cycles(edges) == []


def test_bot_has_few_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert 0 < len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_the_product_does_not_import_the_stand_ins() -> None:
    """Only `textback demo` (bot/__main__.py) reaches into standins/, and only when run."""
    edges = graph()
    leaks = {
        name: sorted(t for t in targets if t.split(".")[0] == "standins")
        for name, targets in edges.items()
        if name.split(".")[0] in ("bot", "workflows")
    }
    assert {name: found for name, found in leaks.items() if found} == {"bot.__main__": ["standins.demo"]}


def test_the_cycle_check_itself_finds_a_hidden_local_import(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "workflows").mkdir()
    (tmp_path / "standins").mkdir()
    for package in PACKAGES:
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "bot" / "a.py").write_text("from bot.b import thing\n")
    (tmp_path / "bot" / "b.py").write_text("def f():\n    from bot import c\n    return c\n")
    (tmp_path / "bot" / "c.py").write_text("import bot.a\n")
    (tmp_path / "bot" / "d.py").write_text("from . import a\n")
    edges = graph(tmp_path)
    assert edges["bot.d"] == {"bot.a"}
    assert cycles(edges) == [["bot.a", "bot.b", "bot.c"]]
