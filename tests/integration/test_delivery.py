"""Delivery reports (`/twilio/sms/status`) shown where the team looks."""

from __future__ import annotations

from standins.rig import ACCOUNT_SID, Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, metric, parents
from tests.integration.steps import open_thread


def status_params(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid,
            "MessageStatus": status, "SmsStatus": status, "From": LINE, "To": CALLER, **extra}


async def test_delivered_team_reply_gets_a_check_mark_once(rig: Rig) -> None:
    thread = await open_thread(rig)
    ts, _ = await rig.team_replies(CHANNEL, thread, "see you at 3")
    sms = await rig.twilio.wait_for(lambda r: r.params.get("Body") == "see you at 3")
    await rig.slack.wait_for(lambda r: r.method == "reactions.add" and r.params.get("timestamp") == ts)
    sid = next(m["sid"] for m in rig.twilio.messages if m["body"] == "see you at 3")
    assert sms.params["StatusCallback"] == "https://textback.example.test/twilio/sms/status"
    for status in ("sent", "delivered", "delivered"):
        code, _ = await rig.twilio_post("/twilio/sms/status", status_params(sid, status))
        assert code == 204
    await rig.settle()
    marks = [r for r in rig.slack.reactions if r["timestamp"] == ts]
    assert [r["name"] for r in marks] == ["outbox_tray", "white_check_mark"]


async def test_undelivered_text_back_is_explained_on_the_card(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    sid = rig.twilio.messages_to(CALLER)[0]["sid"]
    await rig.twilio_post("/twilio/sms/status", status_params(sid, "undelivered", ErrorCode="30006"))
    await rig.settle()
    [parent] = parents(rig)
    thread = rig.slack.thread(CHANNEL, parent["ts"])
    assert "Text-back not delivered" in blocks_text(thread[-1]) and "landline" in blocks_text(thread[-1])
    card = blocks_text(rig.slack.message(CHANNEL, parent["ts"]))
    assert "text-back not delivered: the caller's number cannot receive texts" in card
    assert "text-back sent" not in card and "text-back failed" not in card


async def test_unregistered_number_is_explained_in_the_thread_and_counted(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    sid = rig.twilio.messages_to(CALLER)[0]["sid"]
    await rig.twilio_post("/twilio/sms/status", status_params(sid, "sent"))
    await rig.twilio_post("/twilio/sms/status", status_params(sid, "undelivered", ErrorCode="30034"))
    await rig.settle()
    [parent] = parents(rig)
    said = blocks_text(rig.slack.thread(CHANNEL, parent["ts"])[-1])
    assert "Text-back not delivered: your number isn't registered for business texting" in said
    assert "run textback doctor" in said
    assert "text-back not delivered" in blocks_text(rig.slack.message(CHANNEL, parent["ts"]))
    assert await metric(rig, "textback_sms_undelivered_total", line=LINE, code="30034") == 1
    assert await rig.services.flags.suppression(LINE, CALLER) == "", "the caller's number is not at fault"


async def test_unverified_toll_free_number_is_explained_on_a_team_reply(rig: Rig) -> None:
    thread = await open_thread(rig)
    ts, _ = await rig.team_replies(CHANNEL, thread, "see you at 3")
    await rig.slack.wait_for(lambda r: r.method == "reactions.add" and r.params.get("timestamp") == ts)
    sid = next(m["sid"] for m in rig.twilio.messages if m["body"] == "see you at 3")
    await rig.twilio_post("/twilio/sms/status", status_params(sid, "failed", ErrorCode="30032"))
    await rig.settle()
    said = blocks_text(rig.slack.thread(CHANNEL, thread)[-1])
    assert "toll-free number isn't verified for business texting: run textback doctor" in said
    assert await metric(rig, "textback_sms_undelivered_total", line=LINE, code="30032") == 1


async def test_status_for_an_unknown_message_changes_nothing(rig: Rig) -> None:
    code, _ = await rig.twilio_post("/twilio/sms/status", status_params("SM" + "4" * 32, "failed"))
    assert code == 204
    await rig.settle()
    assert rig.slack.requests == []


async def test_a_card_posted_late_shows_an_undelivered_report_that_came_first(rig: Rig) -> None:
    # Slack is down: the text-back goes out, and Twilio reports it undelivered before the
    # call's thread can be posted. The late card must not say "sent".
    rig.slack.go_down(status=503)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [message] = rig.twilio.messages_to(CALLER)
    await rig.twilio_post("/twilio/sms/status", status_params(message["sid"], "undelivered", ErrorCode="30034"))
    await rig.settle()
    assert rig.slack.messages == []
    rig.slack.come_back()
    await rig.retry_waiting()
    [parent] = parents(rig)
    card = blocks_text(rig.slack.message(CHANNEL, parent["ts"]))
    assert "text-back not delivered: your number isn't registered" in card and "text-back sent" not in card
    said = [blocks_text(m) for m in rig.slack.thread(CHANNEL, parent["ts"])]
    assert sum("Text-back not delivered" in t for t in said) == 1
    # The record says so too, and later refreshes of the card read it: the call's story, done
    # after the report was shown, saves no stale "sent" over it.
    conv = await rig.services.store.open_for(LINE, CALLER)
    assert conv is not None and conv.textback == "undelivered"
