"""Where README repeats what the code or the manifest says, it says the same: the Slack scopes
and events (app-manifest.yml) and the leads CSV's columns."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from workflows.leads import CSV_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def between(start: str, end: str) -> str:
    i = README.index(start)
    return README[i + len(start):README.index(end, i)]


def test_readme_names_the_manifests_scopes_and_events() -> None:
    manifest = yaml.safe_load((ROOT / "app-manifest.yml").read_text(encoding="utf-8"))
    assert ticked(between("bot scopes ", "(`app-manifest.yml`")) == manifest["oauth_config"]["scopes"]["bot"]
    assert ticked(between("bot events ", ";")) == manifest["settings"]["event_subscriptions"]["bot_events"]


def test_readme_lists_the_csv_columns_in_order() -> None:
    assert ticked(between("One row per lead: ", ". Times are")) == list(CSV_COLUMNS)


def test_readme_metrics_table_is_what_metrics_exports() -> None:
    from prometheus_client import Counter, Gauge, Histogram

    from bot.metrics import Metrics

    exported: dict[str, set[str]] = {}
    for metric in vars(Metrics()).values():
        if isinstance(metric, (Counter, Gauge, Histogram)):
            suffix = "_total" if isinstance(metric, Counter) else ""
            exported[metric._name + suffix] = set(metric._labelnames)
    rows = [line for line in README.splitlines() if line.startswith("| `textback_")]
    listed: dict[str, set[str]] = {}
    for row in rows:
        first_cell = row.split("|")[1]
        for name, labels in re.findall(r"`(textback_[a-z_]+)(?:\{([a-z_,]+)\})?`", first_cell):
            listed[name] = set(labels.split(",")) if labels else set()
    assert len(exported) >= 10, "the scan found the registry's metrics"
    assert listed == exported
