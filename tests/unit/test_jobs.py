"""Typed jobs: one codec, the wire form of the untyped days kept, one table of kinds."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.handlers import table
from workflows import jobs

AT = datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = [
    jobs.MissedCallJob(call_sid="CA1", line="+15125550100", caller="+15125550123", at=AT, caller_name="JO"),
    jobs.CallerSmsJob(sid="SM1", line="+15125550100", caller="+15125550123", body="hi <b>", at=AT,
                      media=("https://api.twilio.com/m/1",), opt_out_type="STOP", seq=7),
    jobs.TeamReplyJob(channel="C1", thread="1.1", ts="1.2", user="U1", text="on our way", at=AT),
    jobs.DeliveryJob(sid="SM2", status="undelivered", error_code=30007),
    jobs.DeliveryJob(sid="SM3", status="delivered"),
    jobs.CardActionJob(action="tb_snooze_pick", user="U1", channel="C1", conv="c1", at=AT, ts="9.9",
                       choice="tomorrow"),
    jobs.VoicemailJob(line="+15125550100", caller="+15125550123", call_sid="CA1", recording_sid="RE1",
                      url="https://api.twilio.com/r/RE1", at=AT, duration=12),
    jobs.VoicemailTranscriptJob(line="+15125550100", caller="", call_sid="CA1", recording_sid="RE1", url="",
                                at=AT, text="burst pipe", status="completed"),
    jobs.CrmDeliveryJob(lead="+15125550100:+15125550123"),
    jobs.CallbackOutcomeJob(conv="c1", user="U1", status="completed", seconds=65),
    jobs.ReminderJob(conv="c1", index=2, since=AT.isoformat()),
    jobs.PageJob(conv="c1", round=1, since=AT.isoformat()),
    jobs.SnoozeEndJob(conv="c1", since=AT.isoformat(), until=AT.isoformat()),
    jobs.QualifyAskJob(conv="c1", text="What's the address?", state="address"),
    jobs.DigestJob(line="+15125550100"),
]


@pytest.mark.parametrize("job", EXAMPLES, ids=lambda j: type(j).__name__)
def test_every_kind_survives_its_trip_through_json(job: object) -> None:
    kind, wire = jobs.encode(job)
    assert kind in jobs.KINDS
    assert jobs.decode(kind, json.loads(json.dumps(wire))) == job


def test_a_job_recorded_by_an_older_instance_still_reads() -> None:
    """The wire form is the untyped one: `from`, ISO times, lists; unknown keys are ignored."""
    wire = {"call_sid": "CA9", "line": "+15125550100", "from": "+15125550123", "caller_name": "",
            "at": "2026-03-02T15:04:05+00:00", "seq": 0}
    job = jobs.decode("missed_call", wire)
    assert job == jobs.MissedCallJob(call_sid="CA9", line="+15125550100", caller="+15125550123", at=AT)
    sms = jobs.decode("caller_sms", {"sid": "SM9", "line": "L", "from": "F", "body": "b", "media": ["u"],
                                     "opt_out_type": "", "at": AT.isoformat(), "seq": "3"})
    assert sms.media == ("u",) and sms.seq == 3
    assert jobs.encode(job)[1]["from"] == "+15125550123"


def test_a_malformed_job_is_named_not_guessed() -> None:
    with pytest.raises(jobs.JobDecodeError, match="no job kind 'fax'"):
        jobs.decode("fax", {})
    with pytest.raises(jobs.JobDecodeError, match="without 'sid'"):
        jobs.decode("delivery", {"status": "sent"})
    with pytest.raises(jobs.JobDecodeError, match="reminder.index"):
        jobs.decode("reminder", {"conv": "c", "index": "second", "since": ""})
    with pytest.raises(jobs.JobDecodeError, match="missed_call.at"):
        jobs.decode("missed_call", {"call_sid": "C", "line": "L", "from": "F", "at": "yesterday"})


def test_the_table_runs_every_kind_exactly_once() -> None:
    queued, timed = set(table.QUEUED), set(table.TIMED)
    assert not queued & timed
    assert {cls.KIND for cls in queued | timed} == set(jobs.KINDS)
    assert {type(j) for j in EXAMPLES} == queued | timed


def test_only_the_codec_reads_job_fields_by_name() -> None:
    """No `args["..."]` left in the product: jobs are read as dataclass fields."""
    readers = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("workflows/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "args"
                    and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == []



def test_the_retry_schedule_is_fast_first_then_doubling_and_capped() -> None:
    policy = jobs.Retry()
    assert [policy.delay_s(n, 10.0) for n in range(1, 9)] == [1.0, 3.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0]
    # A shorter first interval shortens the fast tries too (tests, the chaos run).
    assert [policy.delay_s(n, 2.0) for n in range(1, 6)] == [1.0, 2.0, 2.0, 4.0, 8.0]


def test_a_job_waiting_for_slack_is_given_up_after_a_day_others_after_15_minutes() -> None:
    policy = jobs.Retry()
    assert policy.gives_up(15 * 60, waiting_for_slack=False)
    assert not policy.gives_up(15 * 60, waiting_for_slack=True)
    assert not policy.gives_up(24 * 3600 - 1, waiting_for_slack=True)
    assert policy.gives_up(24 * 3600, waiting_for_slack=True)
    never = jobs.retry_policy(jobs.CrmDeliveryJob)
    assert not never.gives_up(7 * 24 * 3600, waiting_for_slack=True)
