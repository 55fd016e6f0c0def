"""`GET /metrics`: Prometheus text after a scripted day, on a registry per app."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import RECOVERY_STEPS, Metrics, suppression_label
from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.steps import slash

BLOCKED = "+15125550177"
LANDLINE = "+15125550188"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(rig: Rig) -> tuple[str, Samples]:
    async with aiohttp.ClientSession() as http, http.get(rig.url + "/metrics") as resp:
        assert resp.status == 200
        content_type, text = resp.headers["Content-Type"], await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[s.name, frozenset(s.labels.items())] = s.value
    return content_type, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_after_a_scripted_scenario(rig: Rig, clock: FakeClock) -> None:
    await rig.services.flags.set_blocked(LINE, BLOCKED, True)
    rig.twilio.set_recipient_error(LANDLINE, 21614)
    rig.slack.fail_next(
        "reactions.add", status=200, body={"ok": False, "error": "channel_not_found"}
    )
    await rig.missed_call(CALLER, LINE)  # texted
    await rig.settle()
    clock.advance(minutes=1)
    await rig.missed_call(CALLER, LINE)  # inside the cooldown: no second text
    await rig.missed_call(BLOCKED, LINE)  # blocked: no text
    await rig.missed_call(LANDLINE, LINE)  # Twilio refuses: 21614
    await rig.caller_texts(CALLER, LINE, "Water heater is leaking")
    await rig.settle()
    clock.advance(seconds=90)
    lead = await rig.services.leads.get(LINE, CALLER)
    assert lead is not None
    await rig.team_replies(
        CHANNEL, lead.thread_ts, "A tech can be there by 11:30"
    )  # its 📤 reaction fails
    await rig.settle()
    rig.services.metrics.reminder_sent()
    rig.services.metrics.page_sent("sms")

    content_type, m = await scrape(rig)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert value(m, "textback_missed_calls_total", line=LINE) == 4
    assert value(m, "textback_textbacks_sent_total", line=LINE) == 1
    assert (
        value(m, "textback_textbacks_suppressed_total", line=LINE, reason="cooldown")
        == 1
    )
    assert (
        value(m, "textback_textbacks_suppressed_total", line=LINE, reason="blocked")
        == 1
    )
    assert value(m, "textback_textback_latency_seconds_count") == 1
    assert 0 < value(m, "textback_textback_latency_seconds_sum") < 5
    assert value(m, "textback_sms_inbound_total", line=LINE) == 1
    assert (
        value(m, "textback_sms_outbound_total", line=LINE) == 2
    )  # the text-back and the reply
    assert value(m, "textback_twilio_api_errors_total", code="21614") == 1
    assert (
        value(
            m,
            "textback_slack_api_errors_total",
            method="reactions.add",
            error="channel_not_found",
        )
        == 1
    )
    # Opened at 10:15 (first call), first reply 2.5 minutes later.
    assert value(m, "textback_first_reply_seconds_count") == 1
    assert value(m, "textback_first_reply_seconds_sum") == 150
    assert value(m, "textback_first_reply_seconds_bucket", le="120.0") == 0
    assert value(m, "textback_first_reply_seconds_bucket", le="300.0") == 1
    assert value(m, "textback_leads_created_total", line=LINE) == 3
    assert value(m, "textback_reminders_sent_total") == 1
    assert value(m, "textback_pages_sent_total", via="sms") == 1


async def test_metrics_show_this_weeks_recovery_figure_per_line(rig: Rig, clock: FakeClock) -> None:
    await rig.services.flags.set_blocked(LINE, BLOCKED, True)
    await rig.missed_call(CALLER, LINE)  # texted back
    await rig.missed_call(BLOCKED, LINE)  # blocked: missed, not texted
    await rig.settle()
    clock.advance(minutes=1)
    await rig.missed_call(CALLER, LINE)  # the same caller again, in the cooldown
    await rig.caller_texts(CALLER, LINE, "Water heater is leaking")
    await rig.settle()
    lead = await rig.services.leads.get(LINE, CALLER)
    assert lead is not None
    await rig.team_replies(CHANNEL, lead.thread_ts, "A tech can be there by 11:30")
    await rig.settle()
    await slash(rig, "lead (512) 555-0123 booked")

    _, m = await scrape(rig)
    steps = {s: value(m, "textback_recovered_callers", line=LINE, step=s) for s in RECOVERY_STEPS}
    assert steps == {"missed": 2, "texted": 1, "replied": 1, "answered": 1, "booked": 1}
    assert value(m, "textback_missed_calls_total", line=LINE) == 3  # events, beside the callers
    # Next Monday the week starts again; the figures are read from Redis at each scrape.
    clock.advance(days=6)
    _, m = await scrape(rig)
    assert ("textback_recovered_callers", frozenset({("line", LINE), ("step", "missed")})) in m
    assert value(m, "textback_recovered_callers", line=LINE, step="missed") == 0


async def test_each_app_counts_on_its_own_registry(rig: Rig) -> None:
    other = (
        Metrics()
    )  # a second app in the same process: no "duplicated timeseries" error
    other.missed_calls.labels(line=LINE).inc(5)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    _, m = await scrape(rig)
    assert value(m, "textback_missed_calls_total", line=LINE) == 1


def test_suppression_reasons_get_short_labels() -> None:
    assert suppression_label("already texted within the 4h cooldown") == "cooldown"
    assert suppression_label("the caller opted out (replied STOP)") == "opted_out"
    assert suppression_label("caller ID withheld") == "withheld"
    assert (
        suppression_label("the number is a landline (cannot receive texts)")
        == "landline"
    )
    assert suppression_label("something new") == "other"
