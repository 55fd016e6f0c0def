"""README's Performance figures are the ones of bench/results/latest.json: one full run."""

from __future__ import annotations

import json
from pathlib import Path

from bench.table import BEGIN, END, markdown

CHECKOUT = Path(__file__).resolve().parents[2]
LATEST = CHECKOUT / "bench" / "results" / "latest.json"


def test_readme_quotes_latest_json_whole() -> None:
    readme = (CHECKOUT / "README.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1
    quoted = BEGIN + readme.split(BEGIN)[1].split(END)[0] + END
    r = json.loads(LATEST.read_text())
    assert quoted == markdown(r), (
        "README's Performance figures differ from bench/results/latest.json: after a full "
        "`python -m bench`, run `python -m bench.table --readme README.md`")


def test_latest_json_is_a_full_run_with_its_date_and_machine() -> None:
    r = json.loads(LATEST.read_text())
    run = r["run"]
    assert run["quick"] is False and run["date"] and run["host"] and r["machine"]["cpu"]
    assert r["redis_commands"] is not None and r["sustained"]["rule"]["max_p99_ms"] == 100
