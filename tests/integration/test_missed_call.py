"""Missed call -> text-back -> Slack thread, through signed HTTP into the real app."""

from __future__ import annotations

import re

import pytest

from bot.store import keys
from standins.clock import FakeClock
from standins.rig import Rig, new_sid
from tests.conftest import CALLER, CHANNEL, CHANNEL_B, CLOSED_TIME, LINE, LINE_B, STAFF
from tests.integration.saw import blocks_text, parents
from tests.integration.steps import slash
from workflows import missed_call
from workflows.jobs import MissedCallJob


async def test_incoming_call_in_hours_rings_the_staff_phones(rig: Rig) -> None:
    sid, status, body = await rig.incoming_call(CALLER, LINE)
    assert status == 200
    screen = "https://textback.example.test/twilio/voice/screen?parent=" + sid
    assert "<Dial" in body and f'<Number method="POST" url="{screen}&amp;line=%2B15125550100' in body
    assert f">{STAFF}</Number>" in body
    assert 'timeout="20"' in body and 'answerOnBridge="true"' in body
    assert 'action="https://textback.example.test/twilio/voice/dial-status?line=%2B15125550100"' in body
    await rig.settle()
    assert rig.twilio.messages == [], "ringing is not missing: no text yet"


async def test_missed_call_in_hours_texts_first_then_opens_a_thread(rig: Rig) -> None:
    sid, _, status, body = await rig.missed_call(CALLER, LINE)
    assert status == 200 and "<Say>" in body and "<Hangup" in body
    await rig.settle()
    [sms] = rig.twilio.messages_to(CALLER)
    assert sms["from"] == LINE
    assert sms["body"] == (
        "Hi, this is Acme Plumbing. Sorry we missed your call - what can we help with? "
        "Reply STOP to opt out."
    )
    [parent] = parents(rig)
    card = blocks_text(parent)
    assert "Missed call from (512) 555-0123" in card
    assert "business hours" in card and f"text-back sent: \u201c{sms['body']}\u201d" in card
    assert "Tue Nov 10, 10:15 AM" in card
    assert rig.slack.thread(CHANNEL, parent["ts"]) == [parent], "the card says what was texted; no line repeats it"
    # The SMS request reached Twilio before the first Slack post.
    sms_req = next(r for r in rig.twilio.requests if r.method == "CreateMessage")
    first_post = next(r for r in rig.slack.requests if r.method == "chat.postMessage")
    assert sms_req.arrived < first_post.arrived


async def test_call_after_hours_skips_ringing_and_sends_the_after_hours_text(
    rig: Rig, clock: FakeClock
) -> None:
    clock.set(CLOSED_TIME)
    _, status, body = await rig.incoming_call(CALLER, LINE)
    assert status == 200 and "<Dial" not in body and "<Say>" in body
    await rig.settle()
    [sms] = rig.twilio.messages_to(CALLER)
    assert "We're closed now" in sms["body"] and "https://acme.example/book" in sms["body"]
    assert "after hours" in blocks_text(parents(rig)[0])


async def test_forwarded_detection_counts_every_call_as_missed(rig: Rig) -> None:
    _, status, body = await rig.incoming_call(CALLER, LINE_B)
    assert status == 200 and "<Dial" not in body
    await rig.settle()
    [sms] = rig.twilio.messages_to(CALLER)
    assert sms["from"] == LINE_B and "Bolt Electric" in sms["body"]
    assert len(parents(rig, CHANNEL_B)) == 1 and parents(rig, CHANNEL) == []


async def test_answered_call_is_not_missed(rig: Rig) -> None:
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    # A person took it: pressed 1 when the screening asked (tests/integration/test_screening.py).
    status, _ = await rig.twilio_post(f"/twilio/voice/screen/result?parent={sid}",
                                      rig.call_params(CALLER, STAFF, "CA" + "1" * 32, Digits="1"))
    assert status == 200
    status, body = await rig.dial_ended(CALLER, LINE, sid, dial_status="completed")
    assert status == 200 and "<Hangup" in body
    await rig.settle()
    assert rig.twilio.messages == [] and rig.slack.messages == []


async def test_busy_failed_and_canceled_all_count_as_missed(rig: Rig) -> None:
    for i, outcome in enumerate(["busy", "failed", "canceled"]):
        caller = f"+1512555013{i}"
        sid, _, _ = await rig.incoming_call(caller, LINE)
        await rig.dial_ended(caller, LINE, sid, dial_status=outcome)
    await rig.settle()
    assert len(rig.twilio.messages) == 3 and len(parents(rig)) == 3


async def test_repeat_call_posts_called_again_and_sends_no_second_text(rig: Rig, clock: FakeClock) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    clock.advance(minutes=25)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    [parent] = parents(rig)
    thread = rig.slack.thread(CHANNEL, parent["ts"])
    assert "Called again" in blocks_text(thread[-1])
    assert "no second text: already texted within the 4h cooldown" in blocks_text(thread[-1])
    updated = rig.slack.message(CHANNEL, parent["ts"])
    assert "2 calls" in blocks_text(updated)


async def test_retried_dial_status_webhook_is_not_doubled(rig: Rig) -> None:
    sid, _, _ = await rig.incoming_call(CALLER, LINE)
    answers = [await rig.dial_ended(CALLER, LINE, sid) for _ in range(3)]
    assert all(status == 200 for status, _ in answers)
    await rig.settle()
    assert len(rig.twilio.messages) == 1
    assert len(rig.slack.messages_in(CHANNEL)) == 1  # the card, which shows the text


async def test_text_back_still_sent_when_slack_answers_500(rig: Rig) -> None:
    # Ten failures mean ten re-runs of the job: shorter waits keep the test quick.
    rig.services.jobs.retry_idle_ms = 20
    rig.slack.fail_next("chat.postMessage", count=10, status=500)
    await rig.missed_call(CALLER, LINE)
    await rig.twilio.wait_for(lambda r: r.method == "CreateMessage")
    assert len(parents(rig)) == 0, "sent while Slack still fails"
    await rig.retry_waiting()  # each back-off passes on the fake clock
    assert len(rig.twilio.messages_to(CALLER)) == 1, "each re-run of the job left the text alone"
    assert len(parents(rig)) == 1


async def test_slack_recovering_later_gets_the_thread_opened(rig: Rig) -> None:
    rig.slack.fail_next("chat.postMessage", count=1, status=500)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "hello?")
    await rig.settle()
    [parent] = parents(rig)
    # The text's job opened the thread; the call's job, waiting for Slack, then ran at once.
    thread = [blocks_text(m) for m in rig.slack.thread(CHANNEL, parent["ts"])]
    assert len(thread) == 2 and sum("hello?" in t for t in thread) == 1
    assert "text-back sent: \u201cHi, this is Acme Plumbing" in blocks_text(rig.slack.message(CHANNEL, parent["ts"]))


async def test_withheld_caller_gets_a_thread_but_no_text(rig: Rig) -> None:
    await rig.missed_call("+266696687", LINE)
    await rig.settle()
    assert rig.twilio.messages == []
    [parent] = parents(rig)
    assert "withheld" in blocks_text(parent)
    assert "No text-back: caller ID withheld" in blocks_text(rig.slack.thread(CHANNEL, parent["ts"])[-1])


async def test_carrier_refusal_is_shown_on_the_card(rig: Rig) -> None:
    rig.twilio.set_recipient_error(CALLER, 21614, message="'To' number is not a valid mobile number")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [parent] = parents(rig)
    card = blocks_text(rig.slack.message(CHANNEL, parent["ts"]))
    assert "text-back failed: the caller's number cannot receive texts (landline)" in card
    assert rig.slack.thread(CHANNEL, parent["ts"]) == [parent], "the card gives the reason; no line repeats it"


async def test_the_card_quotes_the_text_sent_escaped_in_the_one_post_of_a_missed_call(rig: Rig) -> None:
    """The operator's template may hold `&`, `<` or Slack's own markup: the card shows it as
    texted, never as a mention or a link, and the call's only Slack post is the card."""
    await slash(rig, "template set business_hours Hi &amp; thanks from {business} &lt;!channel&gt; "
                     "&lt;b&gt; 2*3*4 - what can we help with?")
    await rig.settle()  # the change's announcement in the channel
    posts_before = sum(r.method == "chat.postMessage" for r in rig.slack.requests)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [sms] = rig.twilio.messages_to(CALLER)
    assert sms["body"].startswith("Hi & thanks from Acme Plumbing <!channel> <b> 2*3*4 - what")
    posts = [r for r in rig.slack.requests if r.method == "chat.postMessage"][posts_before:]
    assert len(posts) == 1 and "thread_ts" not in posts[0].params, "the card, and no thread line"
    [parent] = [m for m in parents(rig) if m.get("metadata") == posts[0].params.get("metadata")]
    [status] = [e for b in parent["blocks"] if b["type"] == "context" for e in b["elements"]
                if "text-back sent" in e["text"]]
    assert status == {"type": "mrkdwn", "verbatim": True, "text": (
        ":white_check_mark: text-back sent: \u201cHi &amp; thanks from Acme Plumbing &lt;!channel&gt; "
        "&lt;b&gt; 2*3*4 - what can we help with? Reply STOP to opt out.\u201d")}
    assert [r for r in rig.slack.requests if r.method == "chat.update"] == []


async def test_first_text_only_carries_opt_out_wording(rig: Rig, clock: FakeClock) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await rig.services.redis.client.delete(f"tb:cooldown:{LINE}:{CALLER}")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    first, second = rig.twilio.messages_to(CALLER)
    assert first["body"].endswith("Reply STOP to opt out.")
    assert "STOP" not in second["body"]


async def test_call_to_an_unknown_number_is_answered_without_side_effects(rig: Rig) -> None:
    _, status, body = await rig.incoming_call(CALLER, "+15125559999")
    assert status == 200 and "not set up" in body
    await rig.settle()
    assert rig.twilio.messages == [] and rig.slack.messages == []


async def test_caller_name_is_escaped_on_the_card(rig: Rig) -> None:
    sid = "CA" + "5" * 32
    params = rig.call_params(CALLER, LINE, sid, CallStatus="in-progress", DialCallStatus="no-answer",
                             CallerName="<!channel> & co")
    await rig.twilio_post("/twilio/voice/dial-status?line=%2B15125550100", params)
    await rig.settle()
    card = blocks_text(parents(rig)[0])
    assert "&lt;!channel&gt; &amp; co" in card and "<!channel>" not in card
    assert re.search(r"\(512\) 555-0123", card)


async def test_the_card_is_posted_showing_the_text_back_and_needs_no_update(rig: Rig) -> None:
    """The SMS request is answered before the thread opens, so the card says so at once."""
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [parent] = parents(rig)
    assert "text-back sent" in blocks_text(parent)
    assert [r for r in rig.slack.requests if r.method == "chat.update"] == []


async def test_a_slow_text_back_opens_the_thread_once_answered_and_showing_it(rig: Rig) -> None:
    """The webhook sends the text; the call's job (the Slack work) runs once Twilio answered."""
    rig.twilio.delay("CreateMessage", 0.5)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [parent] = parents(rig)
    assert "text-back sent" in blocks_text(parent)
    assert [r for r in rig.slack.requests if r.method == "chat.update"] == []


async def test_a_job_that_sends_itself_shows_a_slow_text_back_pending_then_updated(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missed call recorded without its decision (by an older version): the job decides and
    sends, and an answer slower than the card's wait is shown as pending, then updated."""
    monkeypatch.setattr(missed_call, "SHOW_SEND_WITHIN_S", 0.05)
    rig.twilio.delay("CreateMessage", 0.5)
    job = MissedCallJob(call_sid=new_sid("CA"), line=LINE, caller=CALLER, at=rig.services.clock.now())
    assert await rig.services.jobs.enqueue(job, claim=keys.claim("missed", job.call_sid))
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1
    [post] = [r for r in rig.slack.requests if r.method == "chat.postMessage" and "thread_ts" not in r.params]
    assert "text-back sent" not in str(post.params.get("blocks"))
    [update] = [r for r in rig.slack.requests if r.method == "chat.update"]
    assert "text-back sent" in str(update.params.get("blocks"))
    [parent] = parents(rig)
    assert "text-back sent" in blocks_text(parent)




async def test_the_calls_job_runs_where_its_text_back_was_sent_without_the_stream(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the text-back's answer is logged, the webhook's process runs the call's job at once
    (thread, card, lead): no stream entry, no read of the step log it knows (the plan and the
    answer it wrote), and the job leaves the due set, where it was held, when it is done."""
    r = rig.services.redis.client
    read: list[str] = []
    reading = r.hgetall

    async def hgetall(name: str) -> object:
        read.append(name)
        return await reading(name)

    monkeypatch.setattr(r, "hgetall", hgetall)
    await r.config_resetstat()
    sid, _, _, _ = await rig.missed_call(CALLER, LINE)
    await rig.settle()
    job_id = keys.missed_call_job(sid)
    assert len(rig.twilio.messages_to(CALLER)) == 1 and len(parents(rig)) == 1
    assert keys.job_steps(job_id) not in read
    stats = await r.info("commandstats")
    assert "cmdstat_xadd" not in stats and "cmdstat_xack" not in stats, "the job went through the stream"
    assert await r.zscore(keys.DUE, job_id) is None and not await r.exists(keys.due_job(job_id))


async def test_a_call_answered_while_jobs_stop_is_left_to_its_recovery(rig: Rig, clock: FakeClock) -> None:
    """A server stopping runs no new job: the call's job stays held in the due set and runs
    at its recovery time, from there (here: once jobs run again and its time came)."""
    await rig.services.jobs.stop()
    sid, _, _, _ = await rig.missed_call(CALLER, LINE)
    await rig.services.tasks.drain()
    job_id = keys.missed_call_job(sid)
    r = rig.services.redis.client
    assert await r.zscore(keys.DUE, job_id) is not None and parents(rig) == []
    rig.services.jobs.start()
    assert await rig.fire_due() == 0, "not before its recovery time"
    clock.advance(seconds=missed_call.RECOVER_AFTER.total_seconds())
    assert await rig.fire_due() == 1
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == 1 and len(parents(rig)) == 1
