"""Finding and loading the published Twilio and Slack API descriptions.

The files live next to the project (`../shared/specs`), never inside it, so an installed copy
may run where they are absent: callers then get None and run without spec checks.
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
SLACK_WEB = "slack/slack_web_openapi_v2.json"


def specs_dir() -> Path | None:
    """`$TEXTBACK_SPECS_DIR` if set, else the first `shared/specs` beside an ancestor directory."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        # An explicit setting is final: pointing it at an empty directory turns checks off.
        path = Path(explicit)
        return path if path.is_dir() else None
    for candidate in _candidates():
        if candidate.is_dir():
            return candidate
    return None


def _candidates() -> Iterator[Path]:
    # Both starting points: the working directory finds the specs when the package is
    # installed into a virtualenv elsewhere; this file's directory finds them from any cwd
    # when running from a checkout.
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for ancestor in (start, *start.parents):
            yield ancestor / "shared" / "specs"


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


def slack_web() -> dict[str, Any] | None:
    """Swagger 2.0 description of the Slack Web API (frozen in 2021)."""
    return load_spec(SLACK_WEB)
