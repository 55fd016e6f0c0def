"""What people see: `/textback status`, a template preview and an urgent, claimed card, rendered whole."""

from __future__ import annotations

from datetime import datetime

from bot.slack.blocks import card, escape
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, OPEN_TIME, TZ
from tests.integration.saw import assert_slack_limits, said
from tests.integration.steps import MEMBER, slash
from workflows.conversation import Caller, Conversation, TextbackState


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


def textback_line(textback: TextbackState, detail: str) -> dict[str, object]:
    """The card's text-back element for a missed call in that state."""
    conv = Conversation(
        line=LINE, caller=Caller(CALLER, "(512) 555-0123"), channel=CHANNEL,
        opened_at=datetime(2026, 11, 10, 10, 15, tzinfo=TZ), origin="missed_call", in_hours=True,
        line_label="Acme Plumbing", id="c0ffee0000000001", textback=textback, textback_detail=detail,
    )
    fallback, blocks = card(conv, "America/Chicago")
    assert_slack_limits({"text": fallback, "blocks": blocks})
    [element] = [e for b in blocks if b["type"] == "context" for e in b["elements"] if "text-back" in e["text"]]
    return element


def test_the_card_quotes_the_text_sent_and_gives_the_reason_for_none() -> None:
    sent = textback_line("sent", "Hi & welcome <!here> *now*")
    assert sent == {"type": "mrkdwn", "verbatim": True,
                    "text": ":white_check_mark: text-back sent: \u201cHi &amp; welcome &lt;!here&gt; *now*\u201d"}
    assert textback_line("pending", "")["text"] == ":hourglass_flowing_sand: sending text-back"
    assert textback_line("failed", "the caller's number cannot receive texts (landline)")["text"] == (
        ":warning: text-back failed: the caller's number cannot receive texts (landline)")
    assert textback_line("undelivered", "the carrier filtered the message as spam")["text"] == (
        ":warning: text-back not delivered: the carrier filtered the message as spam")
    assert textback_line("suppressed", "caller ID withheld")["text"] == ":no_entry_sign: no text-back: caller ID withheld"


def test_a_text_too_long_for_one_block_is_quoted_cut_at_a_space_and_never_inside_an_entity() -> None:
    body = "Tom & Jerry <3 plumbing " * 200  # 4,800 characters, twice as many once escaped
    text = str(textback_line("sent", body)["text"])
    assert len(text) <= 3000 and text.endswith("\u2026\u201d")
    quoted = text.removeprefix(":white_check_mark: text-back sent: \u201c").removesuffix("\u2026\u201d")
    assert escape(body).startswith(quoted) and quoted.endswith(("plumbing", "Tom", "&amp;", "Jerry", "&lt;3"))


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
