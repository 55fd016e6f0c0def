"""A text to the line from a staff or on-call phone answers the page that reached it: "OK" is
I'm on it, anything else goes into the paged caller's thread; it never opens a caller thread."""

from __future__ import annotations

from datetime import datetime, timedelta

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE, TZ
from tests.integration.follow_through_rig import ALICE, ALICE_PHONE, BOB_PHONE, at, ft_rig
from tests.integration.saw import containing, parents
from workflows.staff_texts import is_ack

__all__ = ["ft_rig"]

TWO_AM = datetime(2026, 11, 11, 2, 0, tzinfo=TZ)


async def paged(rig: Rig, clock: FakeClock) -> None:
    clock.set(TWO_AM)
    await rig.caller_texts(CALLER, LINE, "burst pipe, water everywhere")
    await rig.settle()
    await rig.fire_due()
    assert len(rig.twilio.messages_to(ALICE_PHONE)) == 1


async def test_ok_from_the_paged_phone_stops_paging(ft_rig: Rig, clock: FakeClock) -> None:
    await paged(ft_rig, clock)
    clock.set(TWO_AM + timedelta(minutes=1))
    await ft_rig.caller_texts(ALICE_PHONE, LINE, "OK")
    await ft_rig.settle()
    assert len(parents(ft_rig)) == 1, "no thread for the staff phone"
    assert containing(ft_rig, "is on it; paging stopped.")
    await at(ft_rig, clock, TWO_AM + timedelta(minutes=10))
    assert ft_rig.twilio.messages_to(BOB_PHONE) == [], "no escalation after the OK"


async def test_other_words_go_into_the_paged_thread_as_that_persons(ft_rig: Rig, clock: FakeClock) -> None:
    await paged(ft_rig, clock)
    await ft_rig.caller_texts(ALICE_PHONE, LINE, "on my way, 20 min")
    await ft_rig.settle()
    assert len(parents(ft_rig)) == 1
    [said] = containing(ft_rig, "texted from their phone: on my way, 20 min")
    assert f"<@{ALICE}>" in said
    thread = ft_rig.slack.thread(CHANNEL, parents(ft_rig)[0]["ts"])
    assert any("on my way" in str(m.get("blocks")) for m in thread)


async def test_with_no_page_open_a_staff_text_is_mirrored_like_a_callers(ft_rig: Rig, clock: FakeClock) -> None:
    clock.set(TWO_AM)
    await ft_rig.caller_texts(ALICE_PHONE, LINE, "testing the line")
    await ft_rig.settle()
    assert len(parents(ft_rig)) == 1 and "testing the line" in str(ft_rig.slack.messages)


def test_what_counts_as_ok() -> None:
    assert all(is_ack(t) for t in ("OK", "ok!", "1", " Yes ", "on it", "I'm on it."))
    assert not any(is_ack(t) for t in ("ok but later", "no", "10", "call me"))
