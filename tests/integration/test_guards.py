"""Guards on automatic texts added for compliance: the carrier lookup (landlines), account-wide
opt-out and the HELP rate limit, through signed HTTP into the real app and its stand-ins."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.settings import ConfigError, parse_config
from standins import specs
from standins.clock import FakeClock
from standins.rig import Rig
from standins.twilio_api import twilio_error
from standins.twilio_rules import TwilioRules
from tests.conftest import (
    CALLER,
    CHANNEL,
    CHANNEL_B,
    CONFIG_YAML,
    LINE,
    LINE_B,
    line_a_with,
)
from tests.integration.conftest import rig_for
from tests.integration.saw import blocks_text, parents, thread_of
from tests.integration.steps import clear_cooldown

LOOKUP_YAML = line_a_with("    lookup: true\n")
ACCOUNT_YAML = "opt_out_scope: account\n" + CONFIG_YAML


@pytest.fixture
async def lookup_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """Line A asks Twilio Lookup before its text-backs; line B does not."""
    async with rig_for(LOOKUP_YAML, redis_url, clock, tmp_path) as rig:
        yield rig


@pytest.fixture
async def account_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """Both lines, with a STOP on either one counting for both."""
    async with rig_for(ACCOUNT_YAML, redis_url, clock, tmp_path) as rig:
        yield rig


def shown(rig: Rig, text: str, channel: str = CHANNEL) -> bool:
    return any(text in post for post in thread_of(rig, channel))


# --- the lines file --------------------------------------------------------------------


def test_lookup_and_opt_out_scope_default_off_and_parse() -> None:
    plain = parse_config(CONFIG_YAML, "t.yml")
    assert plain.opt_out_scope == "line" and not plain.lines[0].lookup
    assert parse_config(LOOKUP_YAML, "t.yml").lines[0].lookup
    assert parse_config(ACCOUNT_YAML, "t.yml").opt_out_scope == "account"


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        (
            CONFIG_YAML.replace("    vertical: plumbing\n", "    vertical: plumbing\n    lookup: maybe\n", 1),
            'lines[0].lookup: expected true or false, got "maybe"',
        ),
        (
            "opt_out_scope: everywhere\n" + CONFIG_YAML,
            'opt_out_scope: unknown opt_out_scope "everywhere" (use one of: line, account)',
        ),
    ],
)
def test_lookup_and_opt_out_scope_mistakes_are_named(yaml: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(yaml, "t.yml")
    assert any(problem in e for e in err.value.errors), err.value.errors


# --- carrier lookup --------------------------------------------------------------------


async def test_landline_per_lookup_gets_a_thread_with_the_reason_and_no_text(lookup_rig: Rig) -> None:
    rig = lookup_rig
    rig.twilio.set_line_type(CALLER, "landline")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []
    [lookup] = rig.twilio.lookups_of(CALLER)
    assert lookup.params["Fields"] == "line_type_intelligence" and lookup.status == 200
    assert shown(rig, "No text-back: landline per carrier lookup.")
    assert "landline per carrier lookup" in blocks_text(parents(rig)[0])


async def test_a_mobile_is_looked_up_once_then_answered_from_the_cache(lookup_rig: Rig) -> None:
    rig = lookup_rig
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    r = rig.services.redis.client
    assert await r.get(f"tb:linetype:{CALLER}") == b"mobile"
    assert 29 * 86400 < await r.ttl(f"tb:linetype:{CALLER}") <= 30 * 86400
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 2, "the second call is texted too"
    assert len(rig.twilio.lookups_of(CALLER)) == 1, "the cache answered the second time"


async def test_a_cached_landline_needs_no_second_request(lookup_rig: Rig) -> None:
    rig = lookup_rig
    rig.twilio.set_line_type(CALLER, "landline")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "this is my office line")  # keeps the thread busy, texts nothing
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []
    assert len(rig.twilio.lookups_of(CALLER)) == 1
    assert shown(rig, "Called again; no second text: landline per carrier lookup.")


async def test_fixed_voip_still_gets_the_text(lookup_rig: Rig) -> None:
    lookup_rig.twilio.set_line_type(CALLER, "fixedVoip")
    await lookup_rig.missed_call(CALLER, LINE)
    await lookup_rig.settle()
    assert len(lookup_rig.twilio.messages_to(CALLER)) == 1


@pytest.mark.parametrize("status", [500, 429])
async def test_a_failed_lookup_falls_back_to_sending(lookup_rig: Rig, status: int) -> None:
    rig = lookup_rig
    rig.twilio.set_line_type(CALLER, "landline")  # never learned: the lookup fails
    rig.twilio.fail_next("FetchPhoneNumber", status=status)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert [r.status for r in rig.twilio.lookups_of(CALLER)] == [status]
    assert await rig.services.redis.client.get(f"tb:linetype:{CALLER}") is None, "a failure is not cached"


async def test_a_slow_lookup_is_abandoned_and_the_text_goes(lookup_rig: Rig) -> None:
    rig = lookup_rig
    assert rig.services.line_types is not None and rig.services.line_types.timeout_s == 1.5
    rig.services.line_types.timeout_s = 0.2
    rig.twilio.delay("FetchPhoneNumber", 1.0)
    started = time.perf_counter()
    await rig.missed_call(CALLER, LINE)
    sms = await rig.twilio.wait_for(lambda r: r.method == "CreateMessage")
    assert sms.arrived - started < 0.9, "the text did not wait for the slow lookup"
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1


async def test_a_refused_lookup_is_not_asked_again_for_a_day(lookup_rig: Rig) -> None:
    rig = lookup_rig
    body = twilio_error(60601, "Lookup of Canadian numbers needs approval", 400)
    rig.twilio.fail_next("FetchPhoneNumber", status=400, body=body)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    r = rig.services.redis.client
    assert await r.get(f"tb:linetype:{CALLER}") == b""
    assert 0 < await r.ttl(f"tb:linetype:{CALLER}") <= 86400
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 2 and len(rig.twilio.lookups_of(CALLER)) == 1


async def test_lines_without_lookup_never_ask(lookup_rig: Rig) -> None:
    rig = lookup_rig
    rig.twilio.set_line_type(CALLER, "landline")
    await rig.missed_call(CALLER, LINE_B)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    assert rig.twilio.lookups_of(CALLER) == []


async def test_other_guards_come_before_the_paid_lookup(lookup_rig: Rig) -> None:
    rig = lookup_rig
    await rig.services.flags.set_blocked(LINE, CALLER, True)
    await rig.missed_call(CALLER, LINE)
    await rig.missed_call("anonymous", LINE)
    await rig.settle()
    assert [r for r in rig.twilio.requests if r.method == "FetchPhoneNumber"] == []


async def test_forget_drops_the_cached_line_type(lookup_rig: Rig) -> None:
    from bot.store.forget import forget_caller

    await lookup_rig.missed_call(CALLER, LINE)
    await lookup_rig.settle()
    r = lookup_rig.services.redis.client
    assert await r.exists(f"tb:linetype:{CALLER}")
    await forget_caller(r, CALLER, [LINE, LINE_B])
    assert not await r.exists(f"tb:linetype:{CALLER}")


async def test_the_stand_in_answers_lookups_in_the_published_shape(lookup_rig: Rig) -> None:
    spec = specs.twilio_lookups()
    if spec is None:
        pytest.fail("the Lookup v2 spec is neither beside the checkout nor in tests/specs")
    lookup_rig.twilio.set_line_type(CALLER, "landline")
    await lookup_rig.missed_call(CALLER, LINE)
    await lookup_rig.settle()
    [rec] = lookup_rig.twilio.lookups_of(CALLER)
    assert rec.status == 200
    example = spec["paths"]["/v2/PhoneNumbers/{PhoneNumber}"]["get"]["responses"]["200"]["content"]["application/json"][
        "examples"
    ]["fetchLineTypeIntelligence"]["value"]
    from standins.twilio_lookups import lookup_resource

    answer = lookup_resource(CALLER, {"Fields": "line_type_intelligence"}, lookup_rig.twilio.line_types)
    assert list(answer) == list(example), "the same keys in the same order as Twilio's example"
    assert set(answer["line_type_intelligence"]) == set(example["line_type_intelligence"])
    assert answer["line_type_intelligence"]["type"] == "landline"
    assert (answer["phone_number"], answer["national_format"], answer["valid"]) == (CALLER, "(512) 555-0123", True)
    # Nulls stand for "not asked" as in Twilio's examples; everything present matches the schema.
    present = {k: v for k, v in answer.items() if v is not None}
    present["line_type_intelligence"] = {k: v for k, v in answer["line_type_intelligence"].items() if v is not None}
    assert TwilioRules(spec).resource_problems("LookupResponse", present) == []


# --- account-wide opt-out --------------------------------------------------------------


async def test_by_default_a_stop_counts_for_its_own_line_only(rig: Rig) -> None:
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    await rig.missed_call(CALLER, LINE_B)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1


async def test_account_wide_stop_silences_every_line_and_start_restores_them(account_rig: Rig) -> None:
    rig = account_rig
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    await rig.missed_call(CALLER, LINE_B)
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []
    assert shown(
        rig, "No text-back: the caller opted out on another of this business's lines (replied STOP).", CHANNEL_B
    )
    # A team reply from the other line's thread is refused too.
    [parent_b] = parents(rig, CHANNEL_B)
    await rig.team_replies(CHANNEL_B, parent_b["ts"], "are you still there?")
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == []
    assert "opted out on another" in rig.slack.ephemerals[-1]["text"]
    # START on line B clears the STOP sent to line A: both lines text again.
    await rig.caller_texts(CALLER, LINE_B, "START")
    await rig.settle()
    assert await rig.services.flags.suppression(LINE, CALLER) == ""
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1


# --- HELP rate limit -------------------------------------------------------------------


async def test_help_is_answered_once_per_ten_minutes(rig: Rig, clock: FakeClock) -> None:
    for _ in range(3):
        await rig.caller_texts(CALLER, LINE, "HELP")
        await rig.settle()
        clock.advance(minutes=2)
    assert len(rig.twilio.messages_to(CALLER)) == 1
    thread = thread_of(rig, CHANNEL)
    assert sum(post.endswith("\nHELP") for post in thread) == 3, "every HELP is still shown"
    limited = [t for t in thread if "no help reply this time (at most one every 10 minutes)" in t]
    assert len(limited) == 2
    clock.advance(minutes=5)  # 11 minutes after the first reply
    await rig.caller_texts(CALLER, LINE, "info")
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 2


async def test_help_limit_is_per_line(rig: Rig) -> None:
    await rig.caller_texts(CALLER, LINE, "HELP")
    await rig.caller_texts(CALLER, LINE_B, "HELP")
    await rig.settle()
    bodies = sorted(m["body"].split(":")[0] for m in rig.twilio.messages_to(CALLER))
    assert bodies == ["Acme Plumbing", "Bolt Electric"]


async def test_status_shows_the_lookup_and_quiet_hours(lookup_rig: Rig) -> None:
    from tests.integration.saw import said
    from tests.integration.steps import MEMBER, slash

    status = said(await slash(lookup_rig, "status", user=MEMBER))
    assert "*Carrier lookup:* on · _lines file_" in status
    assert "*Quiet hours:* 21:00-08:00 · _default_" in status


async def test_account_wide_stop_covers_a_line_linked_from_slack(account_rig: Rig) -> None:
    """A line made with /textback setup is one of the business's lines like the file's."""
    rig = account_rig
    slack_line, slack_channel = "+15125550300", "C0SLACKLN1"
    rig.twilio.account.add_number(slack_line)
    rig.slack.add_user("U0ADMIN001", "Dana", admin=True)
    status, _ = await rig.slash("setup (512) 555-0300", channel=slack_channel, user="U0ADMIN001")
    assert status == 200
    assert await rig.services.lines.line_for_number(slack_line) is not None, "linked"
    await rig.caller_texts(CALLER, slack_line, "STOP")
    await rig.settle()
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert rig.twilio.messages_to(CALLER) == [], "a STOP to the Slack-linked line silences the file's lines"
    await rig.caller_texts(CALLER, LINE, "START")
    await rig.settle()
    assert await rig.services.flags.suppression(slack_line, CALLER) == ""
