"""What `textback doctor` found, one line per check, and how it is printed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

PASS, FAIL, WARN = "✓", "✗", "!"


@dataclass(frozen=True)
class Finding:
    """One check: passed or not, what was seen, and what to do about it."""

    ok: bool
    what: str
    detail: str
    fix: str = ""
    warn: bool = False  # passed, but worth fixing: shown with its fix, the exit code stays 0


def reason(exc: BaseException) -> str:
    """An exception as one readable phrase (a timeout's str() is empty)."""
    return str(exc) or type(exc).__name__


def show(findings: Iterable[Finding], out: TextIO) -> bool:
    """Print each finding (with its fix when it failed); True when all passed."""
    passed = True
    for f in findings:
        mark = FAIL if not f.ok else WARN if f.warn else PASS
        print(f"{mark} {f.what}: {f.detail}", file=out)
        passed = passed and f.ok
        if (not f.ok or f.warn) and f.fix:
            print(f"    fix: {f.fix}", file=out)
    return passed
