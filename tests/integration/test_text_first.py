"""`/textback text <number> <message>`: the office texts a customer first (a web form, a call
to the landline): their thread opens or is reused, every guard of a team reply applies, and
between 9 PM and 8 AM their time it asks first."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, TZ
from tests.integration.saw import blocks_text, parents, said
from tests.integration.steps import slash

NEW = "+15125550166"
NOON = datetime(2026, 11, 10, 12, 0, tzinfo=TZ)


async def test_a_new_customer_gets_the_text_and_a_thread(rig: Rig, clock: FakeClock) -> None:
    clock.set(NOON)
    reply = said(await slash(rig, "text (512) 555-0166 Hi, this is Acme about your quote request."))
    assert "Sending to (512) 555-0166" in reply
    await rig.settle()
    [sms] = rig.twilio.messages_to(NEW)
    assert sms["body"] == "Hi, this is Acme about your quote request." and sms["from"] == LINE
    [card] = parents(rig)
    assert "Texted first: (512) 555-0166" in blocks_text(card)
    thread = "\n".join(blocks_text(m) for m in rig.slack.thread(CHANNEL, card["ts"]))
    assert "via /textback text: Hi, this is Acme about your quote request." in thread
    # The customer's answer comes back into the same thread.
    await rig.caller_texts(NEW, LINE, "Great, when can you come?")
    await rig.settle()
    assert len(parents(rig)) == 1 and "when can you come?" in str(rig.slack.thread(CHANNEL, card["ts"]))


async def test_an_existing_conversation_is_reused(rig: Rig, clock: FakeClock) -> None:
    clock.set(NOON)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await slash(rig, "text (512) 555-0123 Following up on your call.")
    await rig.settle()
    assert len(parents(rig)) == 1
    assert rig.twilio.messages_to(CALLER)[-1]["body"] == "Following up on your call."


@pytest.mark.parametrize("guard", ["opted out", "blocked", "landline", "international", "too long"])
async def test_each_guard_refuses_and_nothing_is_texted(rig: Rig, clock: FakeClock, guard: str) -> None:
    clock.set(NOON)
    number, text = NEW, "Hello"
    if guard == "opted out":
        await rig.caller_texts(NEW, LINE, "STOP")
        await rig.settle()
    elif guard == "blocked":
        await rig.services.flags.set_blocked(LINE, NEW, True)
    elif guard == "landline":
        await rig.services.flags.mark_landline(NEW)
    elif guard == "international":
        number = "+442079460958"
    else:
        text = "x" * 1601
    before = len(rig.twilio.messages)
    reply = said(await slash(rig, f"text {number} {text}"))
    await rig.settle()
    assert reply.startswith("Not sent to") and "Nothing was texted" in reply
    assert len(rig.twilio.messages) == before


async def test_late_at_night_it_asks_first_and_sends_on_send_anyway(rig: Rig, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 10, 22, 40, tzinfo=TZ))
    reply = await slash(rig, "text (512) 555-0166 Sorry for the late text: the part arrived.")
    assert "It's 10:40 PM for this customer. Send anyway?" in reply["text"]
    await rig.settle()
    assert rig.twilio.messages_to(NEW) == []
    [button] = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert json.loads(button["value"]) == {"n": NEW, "t": "Sorry for the late text: the part arrived."}
    status, _ = await rig.press(button["action_id"], button["value"], channel=CHANNEL, message_ts="1.000001")
    assert status == 200
    await rig.settle()
    assert [m["body"] for m in rig.twilio.messages_to(NEW)] == ["Sorry for the late text: the part arrived."]


def modal_values(number: str, line: str, message: str, *, late_ok: bool = False) -> dict[str, object]:
    late = [{"text": {"type": "plain_text", "text": "late"}, "value": "late_ok"}] if late_ok else []
    return {
        "number": {"value": {"type": "plain_text_input", "value": number}},
        "line": {"value": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "A"},
                                                                         "value": line}}},
        "message": {"value": {"type": "plain_text_input", "value": message}},
        "late": {"value": {"type": "checkboxes", "selected_options": late}},
    }


async def open_modal(rig: Rig) -> dict[str, object]:
    status, trigger = await rig.shortcut("tb_text_customer")
    assert status == 200
    [opened] = [r for r in rig.slack.requests if r.method == "views.open"]
    assert opened.params["trigger_id"] == trigger
    view = opened.params["view"]
    return json.loads(view) if isinstance(view, str) else view


async def test_the_text_a_customer_shortcut_sends_from_its_modal(rig: Rig, clock: FakeClock) -> None:
    clock.set(NOON)
    view = await open_modal(rig)
    assert view["callback_id"] == "tb_text_modal"
    status, body = await rig.submit_view(view, modal_values("(512) 555-0166", LINE, "Your part is in."))
    assert status == 200 and "errors" not in body
    await rig.settle()
    assert [m["body"] for m in rig.twilio.messages_to(NEW)] == ["Your part is in."]
    assert any("Sending to (512) 555-0166" in str(e) for e in rig.slack.ephemerals)


async def test_the_modal_refuses_in_place(rig: Rig, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 10, 22, 40, tzinfo=TZ))
    view = await open_modal(rig)
    status, body = await rig.submit_view(view, modal_values("tomorrow", LINE, ""))
    errors = json.loads(body)["errors"]
    assert status == 200 and set(errors) == {"number", "message"}
    status, body = await rig.submit_view(view, modal_values("(512) 555-0166", LINE, "Late news"))
    assert json.loads(body)["errors"] == {"late": "It's 10:40 PM for this customer: tick the box to send anyway"}
    await rig.settle()
    assert rig.twilio.messages_to(NEW) == []
    await rig.submit_view(view, modal_values("(512) 555-0166", LINE, "Late news", late_ok=True))
    await rig.settle()
    assert [m["body"] for m in rig.twilio.messages_to(NEW)] == ["Late news"]
