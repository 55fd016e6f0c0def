"""Leads (PRODUCT §2.6): created by the first call or text, updated by every event, moved from Slack, exported."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from bot.crm.export import export_leads
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, OPEN_TIME
from tests.integration.saw import said
from tests.integration.steps import MEMBER, event, slash
from workflows.leads import (
    Lead,
    apply_event,
    check_move,
    lead_id,
    period_start,
)
from workflows.leads_csv import CSV_COLUMNS, csv_row, csv_text

OTHER = "+15125550177"


# --- pure rules ------------------------------------------------------------------------


def test_the_first_call_creates_a_new_lead_and_later_events_update_it() -> None:
    lead, changes = apply_event(
        None, event("missed_call", OPEN_TIME, name="JANE DOE", conversation_id="c1")
    )
    assert (lead.status, lead.origin, lead.calls, lead.version, lead.name) == (
        "new",
        "missed_call",
        1,
        1,
        "JANE DOE",
    )
    assert lead.first_call_at == lead.last_call_at == lead.created_at == OPEN_TIME
    assert "calls" in changes and "status" in changes
    later = OPEN_TIME + timedelta(minutes=3)
    lead, changes = apply_event(
        lead, event("caller_sms", later, conversation_id="c1", thread_ts="1.2")
    )
    assert (lead.texts_in, lead.version, lead.thread_ts, lead.last_event_at) == (
        1,
        2,
        "1.2",
        later,
    )
    assert changes == ["texts_in", "thread_ts"]
    lead, _ = apply_event(
        lead, event("missed_call", later + timedelta(hours=1), conversation_id="c1")
    )
    assert (lead.calls, lead.first_call_at, lead.last_call_at) == (
        2,
        OPEN_TIME,
        later + timedelta(hours=1),
    )


def test_a_text_first_makes_a_texted_in_lead() -> None:
    lead, _ = apply_event(None, event("caller_sms", OPEN_TIME))
    assert (lead.origin, lead.calls, lead.texts_in, lead.first_call_at) == (
        "texted_in",
        0,
        1,
        None,
    )


def test_a_team_reply_moves_new_to_contacted_once_and_never_downgrades() -> None:
    lead, _ = apply_event(None, event("missed_call", OPEN_TIME))
    lead, _ = apply_event(
        lead, event("team_reply", OPEN_TIME + timedelta(minutes=2), by="U1")
    )
    assert lead.status == "contacted" and lead.first_reply_at == OPEN_TIME + timedelta(
        minutes=2
    )
    assert [(c.old, c.new, c.by) for c in lead.history] == [("new", "contacted", "U1")]
    lead, _ = apply_event(
        lead,
        event("status", OPEN_TIME + timedelta(minutes=5), status="booked", by="U2"),
    )
    lead, _ = apply_event(
        lead, event("team_reply", OPEN_TIME + timedelta(minutes=9), by="U1")
    )
    assert lead.status == "booked" and lead.team_replies == 2
    assert lead.first_reply_at == OPEN_TIME + timedelta(minutes=2)


def test_status_moves() -> None:
    assert check_move("new", "qualified") == ""
    assert check_move("booked", "lost") == ""
    assert check_move("spam", "new") == ""
    assert "already" in check_move("booked", "booked")
    assert "only from spam" in check_move("contacted", "new")
    assert "not a lead status" in check_move("new", "won")
    lead, _ = apply_event(None, event("missed_call", OPEN_TIME))
    same, changes = apply_event(lead, event("status", OPEN_TIME, status="won"))
    # Nothing changed but the events the lead took: no new version, so no CRM delivery.
    assert changes == [] and same.version == lead.version and same.status == lead.status
    assert same.applied == [*(lead.applied or []), "status:" + OPEN_TIME.isoformat()]


def test_csv_rows_guard_free_text_against_spreadsheet_formulas() -> None:
    lead, _ = apply_event(
        None, event("missed_call", OPEN_TIME, name='=HYPERLINK("x")', line_name="Acme")
    )
    row = dict(zip(CSV_COLUMNS, csv_row(lead), strict=True))
    assert row["name"] == '\'=HYPERLINK("x")'
    assert row["phone"] == CALLER and row["lead_id"] == lead_id(LINE, CALLER)
    parsed = list(csv.reader(io.StringIO(csv_text([lead]))))
    assert parsed[0] == list(CSV_COLUMNS) and parsed[1] == csv_row(lead)


def test_export_periods() -> None:
    assert period_start("all", OPEN_TIME) is None
    assert period_start("7d", OPEN_TIME) == OPEN_TIME - timedelta(days=7)
    assert period_start("24H", OPEN_TIME) == OPEN_TIME - timedelta(hours=24)
    assert period_start("2w", OPEN_TIME) == OPEN_TIME - timedelta(days=14)
    for bad in ("soon", "7", "0d", "d"):
        with pytest.raises(ValueError, match="not a period"):
            period_start(bad, OPEN_TIME)


# --- through the real app ---------------------------------------------------------------


async def lead_of(rig: Rig, phone: str = CALLER) -> Lead:
    found = await rig.services.leads.get(LINE, phone)
    assert found is not None
    return found


async def thread_ts(rig: Rig, phone: str = CALLER) -> str:
    found = await lead_of(rig, phone)
    assert found.thread_ts
    return found.thread_ts


async def test_calls_and_texts_keep_one_lead_per_caller_and_line(
    rig: Rig, clock: FakeClock
) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    lead = await lead_of(rig)
    assert (lead.status, lead.origin, lead.calls, lead.texts_in) == (
        "new",
        "missed_call",
        1,
        0,
    )
    assert (
        lead.line_name == "Acme Plumbing" and lead.channel == CHANNEL and lead.thread_ts
    )
    clock.advance(minutes=2)
    await rig.caller_texts(CALLER, LINE, "Water heater is leaking")
    await rig.settle()
    clock.advance(minutes=10)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    lead = await lead_of(rig)
    assert (lead.calls, lead.texts_in, lead.version) == (2, 1, 3)
    assert lead.last_call_at == OPEN_TIME + timedelta(minutes=12)
    assert lead.created_at == lead.first_call_at == OPEN_TIME
    # A text from a new number starts a texted-in lead of its own.
    await rig.caller_texts(OTHER, LINE, "Do you do drains?")
    await rig.settle()
    other = await lead_of(rig, OTHER)
    assert (other.origin, other.calls, other.texts_in) == ("texted_in", 0, 1)
    assert [ld.phone for ld in await rig.services.leads.of_line(LINE)] == [
        OTHER,
        CALLER,
    ]


async def test_a_team_reply_marks_the_lead_contacted(
    rig: Rig, clock: FakeClock
) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    clock.advance(minutes=4)
    await rig.team_replies(CHANNEL, await thread_ts(rig), "note: calling them back")
    await rig.settle()
    assert (await lead_of(rig)).status == "new", "an internal note is not contact"
    await rig.team_replies(
        CHANNEL, await thread_ts(rig), "A tech can be there by 11:30", user=MEMBER
    )
    await rig.settle()
    lead = await lead_of(rig)
    assert (lead.status, lead.team_replies) == ("contacted", 1)
    assert [(c.old, c.new, c.by) for c in lead.history] == [
        ("new", "contacted", MEMBER)
    ]
    assert lead.first_reply_at == OPEN_TIME + timedelta(minutes=4)


async def test_withheld_callers_make_no_lead(rig: Rig) -> None:
    await rig.missed_call("anonymous", LINE)
    await rig.settle()
    assert await rig.services.leads.of_line(LINE) == []


async def test_status_is_set_from_slack_with_history(
    rig: Rig, clock: FakeClock
) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    clock.advance(minutes=30)
    reply = said(await slash(rig, "lead (512) 555-0123 qualified", user=MEMBER))
    assert "Lead (512) 555-0123: new → qualified" in reply
    clock.advance(minutes=30)
    assert "qualified → booked" in said(
        await slash(rig, "lead 512-555-0123 BOOKED", user=MEMBER)
    )
    await rig.settle()
    lead = await lead_of(rig)
    assert lead.status == "booked"
    assert [(c.old, c.new, c.by, c.at) for c in lead.history] == [
        ("new", "qualified", MEMBER, OPEN_TIME + timedelta(minutes=30)),
        ("qualified", "booked", MEMBER, OPEN_TIME + timedelta(minutes=60)),
    ]
    # The thread says who moved the lead.
    notes = [
        m["text"]
        for m in rig.slack.thread(CHANNEL, lead.thread_ts)
        if "marked this lead" in m.get("text", "")
    ]
    assert len(notes) == 2 and "*booked* (was qualified)" in notes[1]
    shown = said(await slash(rig, "lead (512) 555-0123", user=MEMBER))
    assert (
        "*Status:* booked" in shown
        and "new → qualified" in shown
        and "qualified → booked" in shown
    )
    assert "only from spam" in said(await slash(rig, "lead (512) 555-0123 new"))
    assert "No lead for (512) 555-0177" in said(
        await slash(rig, "lead (512) 555-0177 lost")
    )
    assert "is not a phone number" in said(await slash(rig, "lead bob won"))


async def test_leads_lists_counts_and_the_latest(rig: Rig) -> None:
    assert "No leads on this line yet" in said(await slash(rig, "leads", user=MEMBER))
    await rig.missed_call(CALLER, LINE)
    await rig.caller_texts(OTHER, LINE, "hello")
    await rig.settle()
    await slash(rig, "lead (512) 555-0177 spam")
    listing = said(await slash(rig, "leads", user=MEMBER))
    assert "*Leads on Acme Plumbing (2)*" in listing and "new: 1 · spam: 1" in listing
    assert "(512) 555-0123: new, 1 call(s)" in listing


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_leads_export_uploads_a_csv_to_the_channel(
    rig: Rig, clock: FakeClock
) -> None:
    clock.advance(days=-10)
    await rig.caller_texts(OTHER, LINE, "old question")
    await rig.settle()
    clock.advance(days=10)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await slash(rig, "lead (512) 555-0123 qualified", user=MEMBER)
    reply = said(await slash(rig, "leads export 7d", user=MEMBER))
    assert "Exporting 1 lead(s) (7d)" in reply
    await rig.settle()
    [upload] = rig.slack.files
    assert (
        upload["channel_id"] == CHANNEL
        and upload["name"] == "textback-leads-15125550100-2026-11-10.csv"
    )
    assert upload["initial_comment"] == f"<@{MEMBER}> exported 1 lead(s) (7d)."
    methods = [
        r.method
        for r in rig.slack.requests
        if r.method.startswith("files.") or r.method == "upload"
    ]
    assert methods == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    [row] = rows_of(upload["content"].decode())
    assert (
        row["phone"] == CALLER and row["status"] == "qualified" and row["calls"] == "1"
    )
    assert (
        row["origin"] == "missed_call"
        and row["line"] == LINE
        and row["line_name"] == "Acme Plumbing"
    )
    assert row["created_at"] == OPEN_TIME.isoformat()
    assert row["slack_thread"].startswith(f"https://slack.com/archives/{CHANNEL}/p")
    assert row["status_history"].startswith(f"new->qualified by {MEMBER} at ")
    await slash(rig, "leads export", user=MEMBER)
    await rig.settle()
    assert [r["phone"] for r in rows_of(rig.slack.files[1]["content"].decode())] == [
        CALLER,
        OTHER,
    ]
    assert "is not a period" in said(await slash(rig, "leads export soon"))


async def test_the_command_line_writes_the_same_csv(
    rig: Rig, redis_url: str, tmp_path: Path
) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.caller_texts(OTHER, LINE, "hello")
    await rig.settle()
    await slash(rig, "leads export", user=MEMBER)
    await rig.settle()
    config = tmp_path / "lines.yml"
    from tests.conftest import CONFIG_YAML

    config.write_text(CONFIG_YAML)
    out = tmp_path / "leads.csv"
    env = {"REDIS_URL": redis_url, "TEXTBACK_CONFIG": str(config)}
    assert await export_leads(env, period="all", line=LINE, output=str(out)) == 0
    assert out.read_bytes() == rig.slack.files[0]["content"]
    assert (
        await export_leads(env, period="all", line="+15125550999", output=str(out)) == 2
    )


async def test_forget_deletes_the_lead(rig: Rig) -> None:
    from bot.store.forget import forget_caller

    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert await rig.services.leads.get(LINE, CALLER) is not None
    await forget_caller(rig.services.redis.client, CALLER, [LINE])
    assert await rig.services.leads.get(LINE, CALLER) is None
    assert await rig.services.leads.of_line(LINE) == []


async def test_the_command_line_export_includes_lines_linked_from_slack(
    rig: Rig, redis_url: str, tmp_path: Path
) -> None:
    from tests.conftest import CONFIG_YAML
    from tests.integration.steps import ELSEWHERE
    from tests.integration.steps import slash as admin_slash

    linked = "+15125550300"
    rig.twilio.account.add_number(linked)
    await admin_slash(rig, "setup (512) 555-0300", channel=ELSEWHERE)
    await rig.missed_call(CALLER, linked)
    await rig.settle()
    config = tmp_path / "lines.yml"
    config.write_text(CONFIG_YAML)
    out = tmp_path / "leads.csv"
    env = {"REDIS_URL": redis_url, "TEXTBACK_CONFIG": str(config)}
    assert await export_leads(env, period="all", line="(512) 555-0300", output=str(out)) == 0
    assert [r["line"] for r in rows_of(out.read_text())] == [linked]
    assert await export_leads(env, period="all", line=None, output=str(out)) == 0
    assert linked in {r["line"] for r in rows_of(out.read_text())}
