"""The consent log: every opt-out, opt-in, HELP and decision, shown in Slack, exported as CSV,
kept by forget; the opt-out phrases a line edits from Slack; HELP naming the line's contact."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.consent_export import export_consent
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CONFIG_YAML, LINE, LINE_B, line_a_with
from tests.integration.conftest import rig_for
from tests.integration.saw import said
from tests.integration.steps import ADMIN, MEMBER, open_thread, slash


@pytest.fixture
async def contact_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for(line_a_with('    contact: "(512) 555-0199"\n'), redis_url, clock, tmp_path) as r:
        yield r


async def _story(rig: Rig, clock: FakeClock) -> None:
    """A caller asks for help, opts out in their own words, then opts back in; one on line B says STOP."""
    for body in ("help", "please unsubscribe me", "START"):
        await rig.caller_texts(CALLER, LINE, body)
        await rig.settle()
        clock.advance(minutes=1)
    await rig.caller_texts(CALLER, LINE_B, "=STOP")
    await rig.settle()


async def test_help_names_the_lines_contact(contact_rig: Rig) -> None:
    await contact_rig.caller_texts(CALLER, LINE, "HELP")
    await contact_rig.settle()
    [reply] = contact_rig.twilio.messages_to(CALLER)
    assert "Contact us at (512) 555-0199" in reply["body"] and "Reply STOP to opt out" in reply["body"]


async def test_slack_shows_a_callers_consent_history_on_this_line(rig: Rig, clock: FakeClock) -> None:
    await _story(rig, clock)
    reply = said(await slash(rig, "consent (512) 555-0123", user=MEMBER))
    assert "3 consent event(s)" in reply
    rows = [r for r in reply.splitlines() if r.startswith("•")]
    assert len(rows) == 3
    assert "asked for help (keyword)" in rows[0] and "help reply texted" in rows[0]
    assert "opted out (phrase)" in rows[1] and "“please unsubscribe me”" in rows[1] and "confirmation texted" in rows[1]
    assert "opted back in (keyword)" in rows[2]
    assert "No consent events" in said(await slash(rig, "consent (512) 555-0177", user=MEMBER))
    assert "is not a phone number" in said(await slash(rig, "consent soon", user=MEMBER))


async def test_the_command_line_exports_every_event_as_csv(
    rig: Rig, clock: FakeClock, redis_url: str, tmp_path: Path
) -> None:
    await _story(rig, clock)
    config = tmp_path / "lines.yml"
    config.write_text(CONFIG_YAML)
    out = tmp_path / "consent.csv"
    env = {"REDIS_URL": redis_url, "TEXTBACK_CONFIG": str(config)}
    assert await export_consent(env, period="all", line=None, caller=None, output=str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["line"], r["event"], r["how"], r["by"]) for r in rows] == [
        (LINE, "help", "keyword", "caller"), (LINE, "opt_out", "phrase", "caller"),
        (LINE, "opt_in", "keyword", "caller"), (LINE_B, "opt_out", "keyword", "caller")]
    assert rows[0]["caller"] == CALLER and rows[1]["message"] == "please unsubscribe me"
    assert rows[1]["reply"].startswith("Acme Plumbing: you're opted out")
    assert rows[3]["message"] == "'=STOP", "a caller's text never runs as a spreadsheet formula"
    assert await export_consent(env, period="all", line=LINE_B, caller=None, output=str(out)) == 0
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 1
    assert await export_consent(env, period="soon", line=None, caller=None, output=str(out)) == 2


async def test_forget_keeps_the_consent_log_and_says_so(rig: Rig, clock: FakeClock) -> None:
    await _story(rig, clock)
    reply = said(await slash(rig, "forget (512) 555-0123", user=ADMIN))
    assert "the consent log keeps its 4 event(s) for this number" in reply
    assert len([e async for e in rig.services.consent.events(caller=CALLER)]) == 4


async def test_admins_edit_the_lines_opt_out_phrases(rig: Rig) -> None:
    listed = said(await slash(rig, "optout", user=MEMBER))
    assert "stop texting me" in listed and "leave me alone" in listed
    assert "Only workspace admins" in said(await slash(rig, "optout add quit bugging me", user=MEMBER))
    assert "Added “quit bugging me”" in said(await slash(rig, "optout add quit bugging me"))
    assert "Removed “no more texts”" in said(await slash(rig, "optout remove no more texts"))
    assert "No change" in said(await slash(rig, "optout remove no more texts"))
    await rig.caller_texts(CALLER, LINE, "Quit bugging me!")
    await rig.caller_texts("+15125550177", LINE, "no more texts")
    await rig.settle()
    assert await rig.services.flags.is_opted_out(LINE, CALLER)
    assert not await rig.services.flags.is_opted_out(LINE, "+15125550177")
    assert "Added for this line:* quit bugging me" in said(await slash(rig, "opt-out", user=MEMBER))


async def test_an_opt_out_the_carrier_reports_is_logged(rig: Rig, clock: FakeClock) -> None:
    thread = await open_thread(rig)
    rig.twilio.set_recipient_error(CALLER, 21610, message="Attempt to send to unsubscribed recipient")
    await rig.team_replies(rig.settings.config.line_for_number(LINE).channel, thread, "are you there?")  # type: ignore[union-attr]
    await rig.settle()
    [event] = [e async for e in rig.services.consent.events(caller=CALLER)]
    assert (event.line, event.event, event.how, event.by) == (LINE, "opt_out", "carrier error 21610", "carrier")
    assert await rig.services.flags.is_opted_out(LINE, CALLER)
