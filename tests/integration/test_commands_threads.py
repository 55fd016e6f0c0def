"""`/textback resolve <number>` and `/textback reply <number> <text>`."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, CHANNEL_B, LINE
from tests.integration.saw import said, texts_of, texts_to
from tests.integration.steps import ADMIN, MEMBER, slash


async def _thread(rig: Rig) -> str:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [card] = [m for m in rig.slack.messages_in(CHANNEL) if not m.get("thread_ts")]
    return str(card["ts"])


async def test_resolve_by_number_resolves_the_open_conversation(rig: Rig) -> None:
    ts = await _thread(rig)
    done = said(await slash(rig, "resolve (512) 555-0123", user=MEMBER))
    assert "Resolved: no more reminders" in done
    conv = await rig.services.store.get(
        (await rig.services.store.by_thread(CHANNEL, ts)).id  # type: ignore[union-attr]
    )
    assert conv is not None and conv.status == "resolved" and conv.extra["resolved_by"] == MEMBER
    assert any("resolved this conversation" in texts_of(m) for m in rig.slack.thread(CHANNEL, ts))
    again = said(await slash(rig, "resolve 512-555-0123"))
    assert "No open conversation with (512) 555-0123 on this line" in again


async def test_resolve_acts_on_this_channels_line_only(rig: Rig) -> None:
    await _thread(rig)
    other = said(await slash(rig, "resolve (512) 555-0123", channel=CHANNEL_B))
    assert "No open conversation" in other
    assert await rig.services.store.open_for(LINE, CALLER) is not None


async def test_reply_by_number_texts_the_caller_and_posts_in_the_thread(rig: Rig) -> None:
    ts = await _thread(rig)
    answer = said(await slash(rig, "reply (512) 555-0123 A tech can be there by 11:30 - <@U0ADMIN001|dana>", user=MEMBER))
    assert "Sending to (512) 555-0123" in answer and "reply in the thread" in answer
    await rig.settle()
    sent = texts_to(rig)
    assert sent[-1] == "A tech can be there by 11:30 - @Dana"
    posted = [m for m in rig.slack.thread(CHANNEL, ts) if "via /textback reply" in texts_of(m)]
    assert len(posted) == 1 and f"<@{MEMBER}>" in texts_of(posted[0])
    assert {"channel": CHANNEL, "timestamp": posted[0]["ts"], "name": "outbox_tray",
            "user": rig.slack.bot_user_id} in rig.slack.reactions
    conv = await rig.services.store.open_for(LINE, CALLER)
    assert conv is not None and conv.extra["first_reply_by"] == MEMBER


async def test_reply_to_an_opted_out_caller_is_refused_like_a_thread_reply(rig: Rig) -> None:
    await _thread(rig)
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.settle()
    before = len(rig.twilio.messages_to(CALLER))
    await slash(rig, "reply 5125550123 Are you still there?")
    await rig.settle()
    assert len(rig.twilio.messages_to(CALLER)) == before
    assert any("Not sent to the caller" in e["text"] and e["user"] == ADMIN for e in rig.slack.ephemerals)


async def test_resolve_and_reply_mistakes(rig: Rig) -> None:
    await _thread(rig)
    assert "say which caller" in said(await slash(rig, "resolve"))
    bad = said(await slash(rig, "reply tomorrow at 9"))
    assert "does not start with a phone number" in bad and "Example: `/textback reply (512) 555-0123" in bad
    assert "write the text to send" in said(await slash(rig, "reply (512) 555-0123"))
    assert "No open conversation with (512) 555-0199" in said(await slash(rig, "reply (512) 555-0199 hello"))
    assert len(rig.twilio.messages_to(CALLER)) == 1  # the text-back only


async def test_help_names_every_new_subcommand_and_the_usual_way_to_reply(rig: Rig) -> None:
    text = said(await slash(rig, "help", user=MEMBER))
    for sub in ("setup (512) 555-0100", "keywords add mold", "oncall set @dana", "oncall escalate 5m",
                "resolve (512) 555-0123", "reply (512) 555-0123", "stats 30d", "hours closed 2026-12-25",
                "hours holidays"):
        assert f"/textback {sub}" in text, sub
    assert "replying in the caller's thread is the usual way" in text
