"""The bench's rule for a sustained rate held, on made-up rows."""

from __future__ import annotations

import math
from typing import Any

from bench.held import BASE_RATE, MAX_P99_MS, MAX_P99_VS_BASE, held_rate, judge, judge_all, legend


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

