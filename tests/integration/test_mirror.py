"""Caller SMS into the thread, team replies out as SMS, through signed HTTP into the real app."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, parents, texts_to
from tests.integration.steps import open_thread


async def test_caller_text_goes_into_the_open_thread_escaped(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "Dripping tap <!channel> <https://evil.example|your bank> & more")
    await rig.settle()
    last = rig.slack.thread(CHANNEL, thread)[-1]
    text = blocks_text(last)
    assert "&lt;!channel&gt; &lt;https://evil.example|your bank&gt; &amp; more" in text
    assert "<!channel>" not in str(last) and "<https://evil" not in str(last)
    assert last["unfurl_links"] is False and last["unfurl_media"] is False
    assert "Caller" in text
    assert len(parents(rig)) == 1
    assert rig.twilio.messages_to(CALLER)[1:] == [], "an inbound text is never auto-answered"


async def test_text_from_a_new_number_opens_a_texted_in_thread(rig: Rig) -> None:
    await rig.caller_texts(CALLER, LINE, "Do you fix water heaters?")
    await rig.settle()
    [parent] = parents(rig)
    assert "Text from (512) 555-0123" in blocks_text(parent)
    assert "Do you fix water heaters?" in blocks_text(rig.slack.thread(CHANNEL, parent["ts"])[-1])
    assert rig.twilio.messages == []


async def test_a_media_url_cannot_give_its_link_another_label(rig: Rig) -> None:
    thread = await open_thread(rig)
    url = "https://evil.example/x|Click to verify your bank|"
    await rig.caller_texts(CALLER, LINE, "see photo", media=(url, "https://evil.example/<!channel>"))
    await rig.settle()
    first, second = (blocks_text(m) for m in rig.slack.thread(CHANNEL, thread)[-2:])
    assert "<https://evil.example/x%7CClick%20to%20verify%20your%20bank%7C|link>" in first
    assert "<https://evil.example/%3C!channel%3E|link>" in second
    assert "|Click" not in first + second and "<!channel>" not in first + second


async def test_a_burst_of_caller_texts_keeps_its_order(rig: Rig) -> None:
    thread = await open_thread(rig)
    for i in range(8):
        await rig.caller_texts(CALLER, LINE, f"message {i}")
    await rig.settle()
    texts = [blocks_text(m) for m in rig.slack.thread(CHANNEL, thread)]
    mirrored = [t for t in texts if "message " in t]
    assert [int(t.rsplit("message ", 1)[1][0]) for t in mirrored] == list(range(8))


async def test_retried_inbound_sms_is_mirrored_once(rig: Rig) -> None:
    thread = await open_thread(rig)
    for _ in range(3):
        await rig.caller_texts(CALLER, LINE, "only once please", sid="SM" + "7" * 32)
    await rig.settle()
    texts = [blocks_text(m) for m in rig.slack.thread(CHANNEL, thread)]
    assert sum("only once please" in t for t in texts) == 1


async def test_team_reply_is_converted_and_sent_with_a_reaction(rig: Rig) -> None:
    thread = await open_thread(rig)
    rig.slack.add_user("U0TEAM0001", "Dana")
    text = "Hi <@U0TEAM0001> here: *we can come at 3* &amp; <https://acme.example/book|book here> :+1:"
    ts, status = await rig.team_replies(CHANNEL, thread, text)
    assert status == 200
    sms = await rig.twilio.wait_for(lambda r: r.method == "CreateMessage" and "3" in str(r.params.get("Body")))
    assert sms.params["Body"] == "Hi @Dana here: we can come at 3 & book here (https://acme.example/book) 👍"
    assert sms.params["To"] == CALLER and sms.params["From"] == LINE
    reaction = await rig.slack.wait_for(lambda r: r.method == "reactions.add")
    assert reaction.params["timestamp"] == ts and reaction.params["name"] == "outbox_tray"


async def test_notes_stay_in_slack(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.team_replies(CHANNEL, thread, "note: he sounded upset")
    await rig.team_replies(CHANNEL, thread, "// check the address first")
    await rig.team_replies(CHANNEL, thread, "  NOTE: upper case too")
    await rig.settle()
    await rig.team_replies(CHANNEL, thread, "real reply")
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "real reply")
    bodies = texts_to(rig)
    assert bodies[1:] == ["real reply"]


async def test_retried_slack_event_sends_one_sms(rig: Rig) -> None:
    thread = await open_thread(rig)
    ts = rig.slack.next_ts()
    event = {"type": "message", "channel": CHANNEL, "user": "U0TEAM0001", "text": "on our way",
             "ts": ts, "thread_ts": thread, "channel_type": "channel"}
    for retry in (None, 1, 2):
        status, _ = await rig.slack_event(event, event_id="Ev0RETRY001", retry_num=retry)
        assert status == 200
    # The same message delivered under a different event id is still one SMS.
    await rig.slack_event(event, event_id="Ev0RETRY002")
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "on our way")
    await rig.settle()
    await rig.team_replies(CHANNEL, thread, "sentinel")
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "sentinel")
    assert texts_to(rig).count("on our way") == 1


async def test_bot_edit_delete_and_channel_messages_are_ignored(rig: Rig) -> None:
    thread = await open_thread(rig)
    base = {"type": "message", "channel": CHANNEL, "channel_type": "channel"}
    ignored = [
        {**base, "subtype": "bot_message", "bot_id": "BOTHER01", "text": "bot", "ts": rig.slack.next_ts(),
         "thread_ts": thread},
        {**base, "user": "U0OTHERAPP", "bot_id": "BOTHER02", "text": "app bot", "ts": rig.slack.next_ts(),
         "thread_ts": thread},
        {**base, "user": rig.slack.bot_user_id, "bot_id": rig.slack.bot_id, "text": "ourselves",
         "ts": rig.slack.next_ts(), "thread_ts": thread},
        {**base, "subtype": "message_changed", "hidden": True, "ts": rig.slack.next_ts(),
         "message": {"type": "message", "user": "U0TEAM0001", "text": "edited", "ts": thread,
                     "thread_ts": thread}, "previous_message": {"text": "x"}},
        {**base, "subtype": "message_deleted", "hidden": True, "ts": rig.slack.next_ts(),
         "deleted_ts": thread, "previous_message": {"text": "x"}},
        {**base, "user": "U0TEAM0001", "text": "top-level chatter", "ts": rig.slack.next_ts()},
        {**base, "channel": "C0ELSEWHERE", "user": "U0TEAM0001", "text": "other thread",
         "ts": rig.slack.next_ts(), "thread_ts": "1700000000.000001"},
    ]
    for event in ignored:
        status, _ = await rig.slack_event(event)
        assert status == 200, event
    await rig.team_replies(CHANNEL, thread, "sentinel")
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "sentinel")
    assert texts_to(rig)[1:] == ["sentinel"]


async def test_thread_broadcast_reply_is_sent_once(rig: Rig) -> None:
    thread = await open_thread(rig)
    event = {"type": "message", "subtype": "thread_broadcast", "channel": CHANNEL, "user": "U0TEAM0001",
             "text": "also to channel", "ts": rig.slack.next_ts(), "thread_ts": thread,
             "root": {"ts": thread}}
    await rig.slack_event(event)
    await rig.twilio.wait_for(lambda r: r.params.get("Body") == "also to channel")


async def test_refused_reply_gets_a_visible_warning(rig: Rig) -> None:
    thread = await open_thread(rig)
    rig.twilio.set_recipient_error(CALLER, 21610, message="Attempt to send to unsubscribed recipient")
    ts, _ = await rig.team_replies(CHANNEL, thread, "are you there?")
    await rig.slack.wait_for(lambda r: r.method == "reactions.add" and r.params.get("name") == "warning")
    warning = await rig.slack.wait_for(
        lambda r: r.method == "chat.postMessage" and "opted out" in str(r.params.get("blocks"))
    )
    assert warning.params["thread_ts"] == thread


async def test_a_reply_longer_than_one_text_is_refused_with_its_length(rig: Rig) -> None:
    thread = await open_thread(rig)
    sent_before = len(texts_to(rig, CALLER))
    ts, _ = await rig.team_replies(CHANNEL, thread, "word " * 350)  # 1,749 characters, 1,749 once stripped
    await rig.settle()
    assert len(texts_to(rig, CALLER)) == sent_before
    assert [r for r in rig.slack.reactions if r["timestamp"] == ts and r["name"] == "no_entry_sign"]
    [told] = [e for e in rig.slack.ephemerals if "characters" in str(e)]
    assert "1,749 characters, over the 1,600 one text can carry" in str(told)
    # 1,600 exactly still goes, as one message.
    await rig.team_replies(CHANNEL, thread, "x" * 1600)
    await rig.settle()
    assert texts_to(rig, CALLER)[-1] == "x" * 1600


async def test_a_caller_text_longer_than_a_block_arrives_whole_and_in_order(rig: Rig) -> None:
    thread = await open_thread(rig)
    # 1,600 '<' escape to 6,400 characters: three blocks' worth. Then a long text in words.
    await rig.caller_texts(CALLER, LINE, "<" * 1600)
    words = " ".join(f"w{i:04d}" for i in range(800))  # 4,799 characters
    await rig.caller_texts(CALLER, LINE, words)
    await rig.settle()
    first, second = rig.slack.thread(CHANNEL, thread)[-2:]
    sections = [b["text"]["text"] for b in first["blocks"] if b["type"] == "section"]
    assert "".join(sections) == "&lt;" * 1600 and all(len(s) <= 3000 for s in sections)
    sections = [b["text"]["text"] for b in second["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and " ".join(s.strip() for s in sections) == words
