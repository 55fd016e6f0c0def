"""What people see: `/textback status`, a template preview and an urgent, claimed card, rendered whole."""

from __future__ import annotations

from datetime import datetime

from bot.slack.blocks import card
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, OPEN_TIME, TZ
from tests.integration.saw import said
from tests.integration.steps import MEMBER, slash
from workflows.conversation import Caller, Conversation


def rendered_card() -> tuple[str, str]:
    """The parent card of an urgent thread Dana claimed: fallback text and every block's text."""
    conv = Conversation(
        line=LINE, caller=Caller(CALLER, "(512) 555-0123", name="JANE DOE"), channel=CHANNEL,
        opened_at=datetime(2026, 11, 10, 10, 15, tzinfo=TZ), origin="missed_call", in_hours=True,
        line_label="Acme Plumbing", id="c0ffee0000000001", thread_id="1762791300.000100", textback="sent",
        calls=2, texts_in=1, extra={"urgent": "burst pipe", "claimed_by": "U0DANA0001", "paging_since": "x"},
    )
    fallback, blocks = card(conv, "America/Chicago")
    return fallback, said({"text": "", "blocks": [b for b in blocks if b["type"] != "actions"]}) + "\n[buttons] " + ", ".join(
        e["text"]["text"] if e["type"] == "button" else f"{e['placeholder']['text']} (menu)"
        for b in blocks if b["type"] == "actions" for e in b["elements"]
    )


def test_urgent_claimed_card() -> None:
    fallback, text = rendered_card()
    assert fallback == "URGENT: Missed call from (512) 555-0123 on Acme Plumbing"
    assert ":rotating_light: *URGENT* · :telephone_receiver: *Missed call from (512) 555-0123 (JANE DOE)*" in text
    assert "*Acme Plumbing* · Tue Nov 10, 10:15 AM · business hours · 2 calls" in text
    assert ":rotating_light: Urgent: the caller wrote \u201cburst pipe\u201d" in text
    assert ":rotating_light: paging the on-call person · :hand: claimed by <@U0DANA0001>" in text
    assert "[buttons] :raising_hand: I'm on it, Resolve, Snooze 1h, Snooze to opening, Snooze until… (menu), :telephone_receiver: Call back, Block number" in text


async def test_status_and_template_preview(rig: Rig) -> None:
    assert rig.services.clock.now() == OPEN_TIME
    status = said(await slash(rig, "status", user=MEMBER))
    assert status.startswith("textback status for Acme Plumbing\ntextback · Acme Plumbing")
    assert "*Hours* (open now)" in status and "*Cooldown:* 4h · _default_" in status
    assert "*On call:* not set · _default_" in status and "*Blocked numbers:* 0" in status
    preview = said(await slash(rig, "template preview after_hours", user=MEMBER))
    assert "*After hours* as a caller gets it now (with the opt-out footer the first text carries):" in preview
    assert "> Hi, this is Acme Plumbing. We're closed now but saw your call. Book here: https://acme.example/book" in preview
    assert "Reply STOP to opt out." in preview and "SMS segment" in preview
