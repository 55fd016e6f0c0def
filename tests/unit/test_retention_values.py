"""`retention:` in the lines file: days or weeks, or forever; anything else is refused with an
example."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, parse_config
from tests.conftest import CONFIG_YAML
from workflows.durations import DEFAULT_RETENTION_DAYS, parse_retention


@pytest.mark.parametrize(("text", "days"), [("180d", 180), ("1 day", 1), ("26w", 182), ("2 weeks", 14),
                                            ("FOREVER", None), (" 30D ", 30)])
def test_days_weeks_or_forever(text: str, days: int | None) -> None:
    assert parse_retention(text) == days


@pytest.mark.parametrize("text", ["180", "0d", "6 months", "1y", "²d", "", "soon", True, 3.5])
def test_anything_else_is_refused(text: object) -> None:
    with pytest.raises(ValueError, match="retention|unit|keeps nothing"):
        parse_retention(text)  # type: ignore[arg-type]


def test_the_lines_file_default_and_errors() -> None:
    assert parse_config(CONFIG_YAML, "t.yml").retention_days == DEFAULT_RETENTION_DAYS == 180
    with pytest.raises(ConfigError) as caught:
        parse_config("retention: 90\n" + CONFIG_YAML, "t.yml")
    assert caught.value.errors == ['t.yml:1: retention: 90 has no unit: write "90d" for days']
