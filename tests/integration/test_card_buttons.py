"""The card's Block number button (with its confirm dialog) and the Snooze menu."""

from __future__ import annotations

from datetime import datetime, timedelta

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, TZ
from tests.integration.follow_through_rig import TUESDAY_10, ft_rig, missed_call_at
from tests.integration.saw import assert_slack_limits, button_value, containing, parent, texts_of

__all__ = ["ft_rig"]  # the fixture, shared with the follow-through tests

ADMIN, MEMBER = "U0ADMIN001", "U0MEMBER01"


def _element(card: dict, action: str) -> dict:
    return next(e for b in card["blocks"] for e in b.get("elements") or [] if e.get("action_id") == action)


async def _pressed(rig: Rig, action: str, value: str, *, user: str, select: bool = False) -> str:
    card = parent(rig)
    send = rig.choose if select else rig.press
    status, _ = await send(action, value, channel=CHANNEL, message_ts=card["ts"], user=user)
    assert status == 200
    await rig.settle()
    return str(rig.slack.ephemerals[-1]["text"])


async def test_the_card_offers_block_with_a_confirm_dialog_and_a_snooze_menu(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    card = parent(ft_rig)
    assert_slack_limits(card)
    block = _element(card, "tb_block")
    assert block["text"]["text"] == "Block number" and block["confirm"]["style"] == "danger"
    assert "(512) 555-0123 will get no more automatic texts" in block["confirm"]["text"]["text"]
    assert all(len(block["confirm"][k]["text"]) <= 30 for k in ("confirm", "deny"))
    menu = _element(card, "tb_snooze_pick")
    assert menu["type"] == "static_select"
    conv_id = button_value(card, "tb_resolve")
    assert [o["value"] for o in menu["options"]] == [f"{c}:{conv_id}" for c in ("2h", "4h", "tomorrow", "monday")]
    assert all(len(o["value"]) <= 150 for o in menu["options"])


async def test_block_button_blocks_the_caller_for_admins(ft_rig: Rig, clock: FakeClock) -> None:
    ft_rig.slack.add_user(ADMIN, "Dana", admin=True)
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv_id = button_value(parent(ft_rig), "tb_block")
    told = await _pressed(ft_rig, "tb_block", conv_id, user=ADMIN)
    assert "Blocked (512) 555-0123" in told
    assert await ft_rig.services.flags.is_blocked(LINE, CALLER)
    assert containing(ft_rig, "blocked this number")
    assert "already blocked" in await _pressed(ft_rig, "tb_block", conv_id, user=ADMIN)


async def test_block_button_is_refused_to_others(ft_rig: Rig, clock: FakeClock) -> None:
    ft_rig.slack.add_user(MEMBER, "Sam")
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    told = await _pressed(ft_rig, "tb_block", button_value(parent(ft_rig), "tb_block"), user=MEMBER)
    assert "Only workspace admins and owners" in told
    assert not await ft_rig.services.flags.is_blocked(LINE, CALLER)


async def test_snooze_menu_choices(ft_rig: Rig, clock: FakeClock) -> None:
    await missed_call_at(ft_rig, clock, TUESDAY_10)
    conv_id = button_value(parent(ft_rig), "tb_resolve")
    told = await _pressed(ft_rig, "tb_snooze_pick", f"tomorrow:{conv_id}", user=MEMBER, select=True)
    assert told == "Snoozed until Wed Nov 11, 9:00 AM."
    conv = await ft_rig.services.store.get(conv_id)
    assert conv is not None
    assert datetime.fromisoformat(conv.extra["snoozed_until"]) == datetime(2026, 11, 11, 9, 0, tzinfo=TZ)
    assert "snoozed until Wed Nov 11, 9:00 AM" in texts_of(parent(ft_rig))
    told = await _pressed(ft_rig, "tb_snooze_pick", f"monday:{conv_id}", user=MEMBER, select=True)
    assert told == "Snoozed until Mon Nov 16, 9:00 AM."
    told = await _pressed(ft_rig, "tb_snooze_pick", f"2h:{conv_id}", user=MEMBER, select=True)
    conv = await ft_rig.services.store.get(conv_id)
    assert conv is not None
    assert datetime.fromisoformat(conv.extra["snoozed_until"]) == TUESDAY_10 + timedelta(hours=2)
    assert "is not known" in await _pressed(ft_rig, "tb_snooze_pick", f"someday:{conv_id}", user=MEMBER, select=True)
