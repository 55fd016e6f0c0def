"""The trimmed spec copies in tests/specs: what a clone without ../shared/specs checks against.
Held in step with the full published files whenever those are present (CI has them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from standins import specs
from tests.specs import trim
from tests.unit.slack_calls import NEWER_METHODS, scan

FULL = specs.full_specs_dir()
needs_full = pytest.mark.skipif(FULL is None, reason="the full specs (../shared/specs) are not beside this clone")


def committed(relative: str) -> object:
    return json.loads((trim.HERE / relative).read_text(encoding="utf-8"))


@needs_full
def test_each_copy_is_the_full_files_trimmed_as_trim_py_says() -> None:
    assert FULL is not None
    made = trim.trimmed(FULL)
    assert sorted(made) == sorted(p.relative_to(trim.HERE).as_posix() for p in trim.HERE.rglob("*.json"))
    for relative, content in made.items():
        # A difference means the copies are stale: python -m tests.specs.trim
        assert committed(relative) == content, relative


@needs_full
def test_the_copies_keep_every_slack_method_the_code_calls() -> None:
    assert FULL is not None
    full = json.loads((FULL / specs.SLACK_WEB).read_text(encoding="utf-8"))
    called = scan(full).methods - set(NEWER_METHODS)
    assert called, "the scan found no Slack calls at all"
    assert called <= set(trim.SLACK_METHODS)


def test_every_copy_names_its_source_commit_and_licence() -> None:
    readme = (trim.HERE / "README.md").read_text(encoding="utf-8")
    for relative in [*trim.TRIMMED, *trim.WHOLE]:
        row = next((line for line in readme.splitlines() if f"`{relative}`" in line), "")
        assert "@" in row and "licen" in row.lower(), relative


def test_the_copies_are_used_when_no_full_specs_are_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(specs.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(specs, "_starts", lambda: (tmp_path,))
    assert specs.full_specs_dir() is None
    assert specs.specs_dir() == specs.TRIMMED_DIR
    found = specs.load_spec(specs.TWILIO_API)
    assert found is not None
    assert [op.get("operationId") for item in found["paths"].values() for op in item.values()
            if isinstance(op, dict) and op.get("operationId") == "CreateMessage"] == ["CreateMessage"]
