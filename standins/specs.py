"""Finding and loading the published Twilio and Slack API descriptions.

The full files live next to the project (`../shared/specs`). A clone without them uses the
trimmed copies in tests/specs (the parts the tests check; tests/specs/trim.py makes them), so its
tests check the same rules. An installed copy with neither runs without spec checks (None).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV_VAR = "TEXTBACK_SPECS_DIR"
TWILIO_API = "twilio/twilio_api_v2010.json"
TWILIO_LOOKUPS = "twilio/twilio_lookups_v2.json"
TWILIO_MESSAGING = "twilio/twilio_messaging_v1.json"
SLACK_WEB = "slack/slack_web_openapi_v2.json"


def specs_dir() -> Path | None:
    """`$TEXTBACK_SPECS_DIR` if set; else the full files beside the checkout; else the
    checkout's trimmed copies (tests/specs)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        # An explicit setting is final: pointing it at an empty directory turns checks off.
        path = Path(explicit)
        return path if path.is_dir() else None
    return full_specs_dir() or next((c for c in _trimmed_candidates() if c.is_dir()), None)


def full_specs_dir() -> Path | None:
    """The full published files: `$TEXTBACK_SPECS_DIR` if set, else the first `shared/specs`
    beside an ancestor directory."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        path = Path(explicit)
        return path if path.is_dir() and path.resolve() != TRIMMED_DIR.resolve() else None
    return next((c for c in _candidates() if c.is_dir()), None)


# The trimmed copies, in a checkout.
TRIMMED_DIR = Path(__file__).resolve().parent.parent / "tests" / "specs"


def _starts() -> tuple[Path, ...]:
    # Both starting points: the working directory finds the specs when the package is
    # installed into a virtualenv elsewhere; this file's directory finds them from any cwd
    # when running from a checkout.
    return (Path.cwd(), Path(__file__).resolve().parent)


def _candidates() -> Iterator[Path]:
    for start in _starts():
        for ancestor in (start, *start.parents):
            yield ancestor / "shared" / "specs"


def _trimmed_candidates() -> Iterator[Path]:
    yield TRIMMED_DIR
    yield Path.cwd() / "tests" / "specs"


def load_spec(relative: str) -> dict[str, Any] | None:
    """The parsed spec file at `relative` inside the specs directory, or None when absent."""
    root = specs_dir()
    if root is None:
        return None
    path = root / relative
    if not path.is_file():
        return None
    return _parse(str(path.resolve()))


@functools.lru_cache(maxsize=8)
def _parse(path: str) -> dict[str, Any]:
    # The Twilio file is ~2 MB: parse it once per process, whoever asks.
    with open(path, encoding="utf-8") as f:
        parsed: dict[str, Any] = json.load(f)
    return parsed


def twilio_api() -> dict[str, Any] | None:
    """OpenAPI 3.0 description of api.twilio.com 2010-04-01."""
    return load_spec(TWILIO_API)


def twilio_lookups() -> dict[str, Any] | None:
    """OpenAPI 3.0 description of lookups.twilio.com v2 (line type intelligence)."""
    return load_spec(TWILIO_LOOKUPS)


def twilio_messaging() -> dict[str, Any] | None:
    """OpenAPI 3.0 description of messaging.twilio.com v1 (services, A2P 10DLC, toll-free)."""
    return load_spec(TWILIO_MESSAGING)


def slack_web() -> dict[str, Any] | None:
    """Swagger 2.0 description of the Slack Web API (frozen in 2021)."""
    return load_spec(SLACK_WEB)
