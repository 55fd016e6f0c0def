"""`/textback keywords`: listing, adding and removing urgent phrases from Slack."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, CHANNEL_B, LINE, LINE_B
from tests.integration.saw import announcements, said, texts_of
from tests.integration.steps import ADMIN, MEMBER, slash
from workflows.paging import matcher_for


async def _line(rig: Rig, number: str = LINE):  # type: ignore[no-untyped-def]
    line = await rig.services.lines.line_for_number(number)
    assert line is not None
    return line


async def test_keywords_lists_the_effective_phrases_and_life_safety(rig: Rig) -> None:
    text = said(await slash(rig, "keywords", user=MEMBER))
    assert "*Urgent phrases on Acme Plumbing*" in text and "vertical `plumbing`" in text
    assert "burst pipe" in text and "sewage backup" in text and "emergency" in text
    assert "*Life safety* (always on" in text and "*gas*: smell gas" in text and "*carbon monoxide*" in text
    assert "*Added for this line:* none · _default_" in text


async def test_add_and_remove_change_what_pages_and_are_announced(rig: Rig) -> None:
    added = said(await slash(rig, "keywords add Mold"))
    assert "Added \u201cmold\u201d" in added
    line = await _line(rig)
    assert line.urgency.add == ("mold",)
    assert matcher_for(line).match("There is mold in the bathroom") is not None
    assert "already counts as urgent" in said(await slash(rig, "keywords add mold"))
    removed = said(await slash(rig, "keywords remove sewage"))
    assert "Removed \u201csewage\u201d" in removed
    line = await _line(rig)
    assert line.urgency.remove == ("sewage",)
    assert matcher_for(line).match("sewage smell outside") is None
    listing = said(await slash(rig, "keywords", user=MEMBER))
    assert f"*Added for this line:* mold · _Slack (set by <@{ADMIN}> on Nov 10, 2026)_" in listing
    assert "*Removed for this line:* sewage" in listing
    # Adding a removed phrase back just forgets the removal; removing an added one forgets the addition.
    await slash(rig, "keywords add sewage")
    await slash(rig, "keywords remove mold")
    line = await _line(rig)
    assert line.urgency.add == () and line.urgency.remove == ()
    notices = await announcements(rig)
    assert len(notices) == 4
    assert "*urgent phrases*: added \u201cmold\u201d" in notices[0] and "removed \u201csewage\u201d" in notices[1]
    # The other line in the other channel is untouched.
    other = await _line(rig, LINE_B)
    assert other.urgency.add == () and await announcements(rig, CHANNEL_B) == []


async def test_an_added_phrase_marks_a_real_caller_text_urgent(rig: Rig) -> None:
    await slash(rig, "keywords add black mold")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "We found black mold behind the sink")
    await rig.settle()
    assert any("Urgent: the caller wrote" in texts_of(m) for m in rig.slack.messages_in(CHANNEL))


async def test_keywords_mistakes_and_refusals(rig: Rig) -> None:
    safety = said(await slash(rig, "keywords remove smell gas"))
    assert "is a life-safety phrase (gas)" in safety and "Example: `/textback keywords remove swarm`" in safety
    assert "not an urgent phrase on this line" in said(await slash(rig, "keywords remove roses"))
    assert "say which phrase to add" in said(await slash(rig, "keywords add"))
    assert "has no words to match" in said(await slash(rig, "keywords add !!!"))
    assert "is not something keywords does" in said(await slash(rig, "keywords frobnicate x"))
    refused = said(await slash(rig, "keywords add mold", user=MEMBER))
    assert "Only workspace admins and owners" in refused
    assert (await _line(rig)).urgency.add == ()
    assert await announcements(rig) == []
