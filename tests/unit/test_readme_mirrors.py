"""Where README repeats what the code or the manifest says, it says the same: the Slack scopes
and events (app-manifest.yml), the leads CSV's columns and the /metrics table."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import Counter

from bot.metrics import Metrics
from workflows.leads_csv import CSV_COLUMNS

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


def test_readme_metrics_table_names_every_metric_with_its_labels() -> None:
    table = between("| metric | what |", "\n\n")
    written = set()
    for cell in re.findall(r"^\| (.+?) \| ", table, flags=re.MULTILINE)[1:]:  # after the header rule
        for name, labels in re.findall(r"`(\w+)(?:\{([\w,]+)\})?`", cell):
            written.add((name, tuple(labels.split(",")) if labels else ()))
    metrics = Metrics()
    served = {
        (m._name + ("_total" if isinstance(m, Counter) else ""), tuple(m._labelnames))
        for m in vars(metrics).values()
        if hasattr(m, "_labelnames")
    }
    assert written == served
