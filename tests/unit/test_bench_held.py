"""The bench's rule for a sustained rate held, and its SYN-retry warning, on made-up rows."""

from __future__ import annotations

import math
from typing import Any

from bench.held import BASE_RATE, MAX_P99_MS, MAX_P99_VS_BASE, held_rate, judge, judge_all, legend
from bench.stats import SYN_RETRY_MS, syn_retry_artefact


def row(rate: float, p99: float | None, *, p50: float = 3.0, errors: int = 0, lost: int = 0,
        growing: bool = False, achieved: float | None = None) -> dict[str, Any]:
    return {"rate": rate, "achieved_rate": rate if achieved is None else achieved, "errors": errors,
            "lost": lost, "growing": growing, "textback": {"p50": p50, "p99": p99}}


def test_the_thresholds_are_the_ones_asked_for_and_shown_in_the_legend() -> None:
    assert (BASE_RATE, MAX_P99_VS_BASE, MAX_P99_MS) == (10.0, 2.0, 100.0)
    assert "2x the p99 at 10 calls/s" in legend() and "< 100 ms" in legend()


def test_a_rate_answered_fast_and_without_failures_is_held() -> None:
    verdict = judge(row(40, 8.0), base=5.0)
    assert verdict.held and verdict.reasons == ()


def test_every_call_answered_but_600_ms_late_is_not_held() -> None:
    """The case that used to read "held: 80 calls/s": no errors, no loss, not growing."""
    verdicts = judge_all([row(10, 6.0), row(20, 6.3), row(40, 8.5), row(80, 648.0, p50=349.0)])
    assert [v.held for v in verdicts] == [True, True, True, False]
    assert verdicts[3].reasons == ("p99 648 ms > 2x 6.0 ms", "p99 648 ms >= 100 ms")
    assert held_rate([row(10, 6.0), row(20, 6.3), row(40, 8.5), row(80, 648.0)]) == 40


def test_a_p99_over_100_ms_is_not_held_even_within_twice_the_base() -> None:
    verdict = judge(row(20, 120.0), base=70.0)
    assert not verdict.held and verdict.reasons == ("p99 120 ms >= 100 ms",)


def test_a_p99_over_twice_the_base_is_not_held_even_under_100_ms() -> None:
    verdicts = judge_all([row(10, 20.0), row(40, 41.0)])
    assert verdicts[0].held
    assert not verdicts[1].held and verdicts[1].reasons == ("p99 41 ms > 2x 20.0 ms",)
    assert judge(row(40, 40.0), base=20.0).held  # exactly twice is still within


def test_the_base_is_the_p99_at_10_calls_a_second_wherever_it_is_in_the_rows() -> None:
    rows = [row(5, 2.0), row(10, 30.0), row(20, 50.0)]
    assert [v.held for v in judge_all(rows)] == [True, True, True]  # 50 <= 2 x 30, though > 2 x 2
    rows = [row(20, 10.0), row(40, 25.0)]  # no 10/s step: the first rate tried is the base
    assert not judge_all(rows)[1].held


def test_the_older_criteria_still_count_and_each_is_named() -> None:
    verdict = judge(row(80, 9.0, errors=3, lost=2, growing=True, achieved=70.0), base=8.0)
    assert not verdict.held
    assert verdict.reasons == ("3 errors", "2 lost", "off pace (70 of 80/s)", "latency growing")
    assert judge(row(80, 9.0, achieved=76.0), base=8.0).held  # 95% of the pace is on pace


def test_no_text_back_measured_is_not_held() -> None:
    assert judge(row(10, None), base=None).reasons == ("no text-back measured",)
    assert judge(row(10, math.nan), base=None).reasons == ("no text-back measured",)


def test_the_held_rate_is_the_last_of_an_unbroken_run_from_the_lowest() -> None:
    assert held_rate([row(10, 150.0), row(20, 5.0)]) is None  # the first rate already failed
    assert held_rate([row(10, 5.0), row(20, 50.0), row(40, 6.0)]) == 10
    assert held_rate([]) is None


def test_a_one_second_tail_over_a_low_median_looks_like_syn_retries() -> None:
    assert SYN_RETRY_MS == 1000.0
    assert syn_retry_artefact({"p50": 210.7, "p99": 1149.0})  # the floor at 200 that misled
    assert not syn_retry_artefact({"p50": 611.7, "p99": 683.5})  # slow, but no retry in it
    assert not syn_retry_artefact({"p50": 1500.0, "p99": 2043.0})  # all slow: the work, not a retry
    assert not syn_retry_artefact({"p50": 5.0, "p99": 950.0})  # under a second
    assert not syn_retry_artefact({"p50": None, "p99": None})


def test_the_report_warns_of_a_level_whose_tail_looks_like_syn_retries() -> None:
    from bench.report import warnings

    r: dict[str, Any] = {
        "textback": {"50": {"server": {"p50": 94.0, "p99": 144.1}, "floor": {"p50": 17.4, "p99": 21.9},
                            "listen_overflows": {"server": 0, "floor": 0}},
                     "200": {"server": {"p50": 611.7, "p99": 683.5}, "floor": {"p50": 210.7, "p99": 1149.0},
                             "listen_overflows": {"server": 0, "floor": 37}}},
        "webhooks": {}, "mirroring": {}, "sustained": {"steps": [row(10, 6.0)], "floor": None},
        "listen_backlog": {"server": 128, "floor": 128},
    }
    [warning] = warnings(r)
    assert warning.startswith("text-back at 200 simultaneous, floor: p99 1149 ms while p50 211 ms")
    assert "listen backlog 128" in warning and "37 listen-queue overflows" in warning
