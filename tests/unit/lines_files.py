"""Lines files for the settings tests: the checkout holding textback.example.yml, the smallest
valid file, and the errors a file gets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.settings import ConfigError, parse_config

REPO = Path(__file__).resolve().parents[2]
MINIMAL = """\
business: Acme Plumbing
lines:
  - number: "+15125550100"
    channel: C0123456789
    forward_to: ["+15125550111"]
"""


def config_errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "textback.yml")
    assert str(caught.value) == "\n".join(caught.value.errors)
    return caught.value.errors
