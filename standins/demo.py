"""`textback demo`: the real server, embedded Valkey, local Slack and Twilio, one story."""

from __future__ import annotations

import asyncio
import html
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import emoji

from bot.phones import display
from bot.settings import parse_config
from standins.clock import FakeClock
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN, PUBLIC_URL, SIGNING_SECRET, Rig, rig_settings

LINE = "+15125550100"
CHANNEL, CHANNEL_NAME = "C0DEMO0001", "acme-calls"
CALLER = "+15125550123"
NIGHT_CALLER = "+15125550177"
WAITING_CALLER = "+15125550145"
DECLINED_CALLER = "+15125550160"
ONCALL, BACKUP = "U0DANA0001", "U0SAM00001"
PEOPLE = {ONCALL: "Dana", BACKUP: "Sam"}
ONCALL_PHONE, BACKUP_PHONE = "+15125550188", "+15125550189"
TZ = ZoneInfo("America/Chicago")

DEMO_CONFIG = f"""
business: Acme Plumbing
lines:
  - number: "{LINE}"
    channel: {CHANNEL}
    forward_to: ["+15125550111"]
    timezone: America/Chicago
    hours: {{mon: "08:00-17:00", tue: "08:00-17:00", wed: "08:00-17:00",
            thu: "08:00-17:00", fri: "08:00-17:00"}}
    booking_url: https://acme.example/book
    vertical: plumbing
    reminders: [2m, 10m, 30m]         # shortened for the demo (default 5m, 15m, 60m)
    oncall:
      people: [{{user: {ONCALL}, phone: "{ONCALL_PHONE}"}}]
      backup: {{user: {BACKUP}, phone: "{BACKUP_PHONE}"}}
      call: true
      escalate_after: 2m              # shortened for the demo (default 5m)
"""


class Story:
    """Runs the scenes, prints what each side sees, and collects failed expectations."""

    def __init__(self, rig: Rig, clock: FakeClock) -> None:
        self.rig, self.clock = rig, clock
        self.problems: list[str] = []
        self.latencies_ms: list[float] = []
        self._shown: set[str] = set()

    def at(self, hour: int, minute: int, day: int = 10) -> str:
        self.clock.set(datetime(2026, 11, day, hour, minute, tzinfo=TZ))
        return self.clock.now().astimezone(TZ).strftime("%a %-I:%M %p").rjust(11)

    def expect(self, ok: bool, what: str) -> None:
        mark = "ok " if ok else "FAIL"
        print(f"             [{mark}] {what}")
        if not ok:
            self.problems.append(what)

    def phone(self, number: str) -> list[dict[str, Any]]:
        return self.rig.twilio.messages_to(number)

    def show_texts(self, number: str) -> None:
        for msg in self.phone(number):
            if msg["sid"] not in self._shown:
                self._shown.add(msg["sid"])
                count = int(msg["num_media"])
                pictures = f" + {count} picture{'s' if count > 1 else ''}" if count else ""
                print(f"             caller's phone {display(number)}  <- \"{msg['body']}\"{pictures}")

    def show_files(self) -> None:
        for f in self.rig.slack.files:
            if f["id"] not in self._shown:
                self._shown.add(f["id"])
                print(f"             Slack #{CHANNEL_NAME}    └ 🖼  {f['title']}: {f['name']} ({len(f['content']):,} bytes)")

    def show_thread(self) -> None:
        for msg in self.rig.slack.messages:
            key = f"{msg['channel']}:{msg['ts']}"
            if key not in self._shown:
                self._shown.add(key)
                if msg["channel"].startswith("D"):
                    print(f"             Slack direct message  {slack_view(msg)}")
                    continue
                prefix = "  └ " if msg.get("thread_ts") else "new thread: "
                print(f"             Slack #{CHANNEL_NAME}  {prefix}{slack_view(msg)}")

    def show_pages(self) -> None:
        for number in (ONCALL_PHONE, BACKUP_PHONE):
            for msg in self.phone(number):
                if msg["sid"] not in self._shown:
                    self._shown.add(msg["sid"])
                    print(f"             on-call phone {display(number)}  <- \"{msg['body']}\"")
            for call in self.rig.twilio.calls:
                if call["to"] == number and call["sid"] not in self._shown:
                    self._shown.add(call["sid"])
                    print(f"             on-call phone {display(number)}  rings: \"{_say(call['params']['Twiml'])}\"")


def slack_view(msg: dict[str, Any]) -> str:
    """What a person sees: the blocks' text with Slack's markup rendered (names for mentions,
    link labels with their address, emoji)."""
    parts: list[str] = []
    for block in msg.get("blocks") or []:
        texts = [block.get("text")] + list(block.get("elements") or [])
        parts += [t["text"] for t in texts if isinstance(t, dict) and isinstance(t.get("text"), str)]
        if block.get("type") == "actions":
            labels = [(e.get("text") or e.get("placeholder") or {}).get("text", "") for e in block["elements"]]
            parts.append("buttons: " + ", ".join(label for label in labels if label))
    return readable(" | ".join(parts) or str(msg.get("text", ""))).replace("\n", " ")


def readable(mrkdwn: str) -> str:
    """Slack markup as Slack shows it: <@U…> as @Name, <#C…> as #channel, <url|label> as
    "label (url)", :shortcodes: as emoji, no bold stars."""
    shown = mrkdwn.replace("<!here>", "@here").replace("<!channel>", "@channel")
    shown = re.sub(r"<@(U[A-Z0-9]+)>", lambda m: "@" + PEOPLE.get(m.group(1), m.group(1)), shown)
    shown = re.sub(r"<#C[A-Z0-9]+(?:\|([^>]*))?>", lambda m: "#" + (m.group(1) or CHANNEL_NAME), shown)
    shown = re.sub(r"<((?:https?|mailto|tel):[^|>]+)\|([^>]+)>", r"\2 (\1)", shown)
    shown = re.sub(r"<((?:https?|mailto|tel):[^>]+)>", r"\1", shown)
    return emoji.emojize(html.unescape(shown), language="alias").replace("*", "")


async def scene_missed_call(s: Story) -> str:
    print(f"\n{s.at(10, 15)}  {display(CALLER)} calls Acme; the office phone rings 20 s and nobody answers")
    _, sent_at, status, twiml = await s.rig.missed_call(CALLER, LINE)
    sms = await s.rig.twilio.wait_for(lambda r: r.method == "CreateMessage")
    latency = (sms.arrived - sent_at) * 1000
    s.latencies_ms.append(latency)
    print(f"             caller hears: \"{_say(twiml)}\"")
    await s.rig.settle()
    s.show_texts(CALLER)
    print(f"             (text-back request reached Twilio {latency:.1f} ms after the missed-call webhook)")
    s.show_thread()
    s.expect(status == 200 and "<Say>" in twiml, "Twilio got valid TwiML with a greeting")
    s.expect(len(s.phone(CALLER)) == 1, "exactly one text-back, business-hours wording")
    parents = [m for m in s.rig.slack.messages if not m.get("thread_ts")]
    s.expect(len(parents) == 1, "one Slack thread opened")
    texted = s.phone(CALLER)[0]["body"] if s.phone(CALLER) else "?"
    s.expect(len(s.rig.slack.messages) == len(parents) == 1 and f"text-back sent: \u201c{texted}\u201d" in slack_view(parents[0]),
             "its card says what was texted (no thread line repeats it)")
    return str(parents[0]["ts"]) if parents else ""


async def scene_caller_reply(s: Story, thread: str) -> None:
    text = "Water heater is leaking <everywhere> & the basement floor is wet. @channel help!"
    print(f"\n{s.at(10, 16)}  the caller texts back: \"{text}\"")
    await s.rig.caller_texts(CALLER, LINE, text)
    await s.rig.settle()
    s.show_thread()
    last = s.rig.slack.thread(CHANNEL, thread)[-1]
    blob = str(last.get("blocks"))
    s.expect("&lt;everywhere&gt; &amp;" in blob and "<!channel>" not in blob,
             "caller text mirrored into the thread, escaped (no mention, no link)")


async def scene_team_reply(s: Story, thread: str) -> None:
    reply = "Hi! *Dana* here - a tech can be there by 11:30. Track us: <https://acme.example/t/42|live ETA> :truck:"
    print(f"\n{s.at(10, 18)}  Dana replies in the Slack thread: \"{readable(reply)}\"")
    ts, _ = await s.rig.team_replies(CHANNEL, thread, reply)
    await s.rig.twilio.wait_for(lambda r: r.method == "CreateMessage" and "Dana" in str(r.params))
    await s.rig.slack.wait_for(lambda r: r.method == "reactions.add")
    s.show_texts(CALLER)
    reacted = [r for r in s.rig.slack.reactions if r["timestamp"] == ts]
    mark = readable(":" + reacted[0]["name"] + ":") if reacted else "?"
    print(f"             Slack: Dana's message gets {mark} (accepted by Twilio)")
    s.expect(any("live ETA (https://acme.example/t/42)" in m["body"] for m in s.phone(CALLER)),
             "team reply sent as plain text (formatting removed, link spelled out)")
    note = "note: customer sounded stressed, bring the wet vac"
    print(f"{s.at(10, 19)}  Dana adds an internal note: \"{note}\"")
    before = len(s.phone(CALLER))
    await s.rig.team_replies(CHANNEL, thread, note)
    await s.rig.settle()
    s.expect(len(s.phone(CALLER)) == before, "the note stayed in Slack (no SMS)")


# Small stand-ins for photos: a JPEG's and a PNG's first bytes, then filler.
LABEL_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"water heater label " * 200
PART_PHOTO = b"\x89PNG\r\n\x1a\n" + b"anode rod, 44 in " * 150


async def scene_photos(s: Story, thread: str) -> None:
    print(f"\n{s.at(10, 20)}  the caller texts a photo of the water heater's label (MMS)")
    url = s.rig.twilio.media_url(LABEL_PHOTO, "image/jpeg")
    await s.rig.caller_texts(CALLER, LINE, "Here's the label", media=(url,), media_types=("image/jpeg",))
    await s.rig.settle()
    s.show_thread()
    s.show_files()
    uploaded = [f for f in s.rig.slack.files if f.get("thread_ts") == thread]
    s.expect([f["content"] for f in uploaded] == [LABEL_PHOTO],
             "the caller's photo uploaded into the thread as a file (shown inline, no Twilio password)")
    reply = "That's a 50-gallon unit; this is the part we'll bring"
    print(f"{s.at(10, 22)}  Dana replies in the thread with a photo of the part: \"{reply}\" + part.png")
    await s.rig.team_replies(CHANNEL, thread, reply, user=ONCALL, files=((PART_PHOTO, "part.png", "image/png"),))
    await s.rig.twilio.wait_for(lambda r: r.method == "FetchOutboundMedia")
    await s.rig.settle()
    s.show_texts(CALLER)
    sent = [m for m in s.phone(CALLER) if m["body"] == reply]
    fetched = [f["content"] for f in s.rig.twilio.fetched]
    s.expect(len(sent) == 1 and sent[0]["num_media"] == "1" and fetched == [PART_PHOTO],
             "the tech's photo sent as one MMS; Twilio fetched exactly its bytes from textback")


async def scene_repeat_call(s: Story, thread: str) -> None:
    print(f"\n{s.at(10, 40)}  the same caller calls again and nobody answers")
    before = len(s.phone(CALLER))
    await s.rig.missed_call(CALLER, LINE)
    await s.rig.settle()
    s.show_thread()
    parents = [m for m in s.rig.slack.messages if not m.get("thread_ts")]
    s.expect(len(s.phone(CALLER)) == before, "no second text-back inside the 4 h cooldown")
    s.expect(len(parents) == 1 and "Called again" in slack_view(s.rig.slack.thread(CHANNEL, thread)[-1]),
             "\"called again\" posted in the same thread")
    print(f"{s.at(10, 45)}  Dana presses Call back on the card: the call comes from the business number")
    await s.rig.press("tb_callback", _conv_of(parents[0]), channel=CHANNEL, message_ts=thread, user=ONCALL)
    await s.rig.settle()
    s.show_thread()
    calls = [c for c in s.rig.twilio.calls if c["to"] == ONCALL_PHONE]
    if calls:
        s._shown.add(calls[-1]["sid"])  # a call back, not a page: shown here, not with the pages
        twiml = calls[-1]["params"]["Twiml"]
        print(f"             Dana's phone {display(ONCALL_PHONE)} rings from {display(calls[-1]['from'])}; "
              f"she hears: \"{_say(twiml)}\"")
        print(f"             then {display(CALLER)} rings, showing {display(LINE)}; they talk for 3m 10s")
        action = html.unescape(twiml.split('action="', 1)[1].split('"', 1)[0]).removeprefix(PUBLIC_URL)
        await s.rig.twilio_post(action, s.rig.call_params(ONCALL_PHONE, LINE, calls[-1]["sid"],
                                                          DialCallStatus="completed", DialCallDuration="190"))
        await s.rig.settle()
        s.show_thread()
    s.expect(len(calls) == 1 and f"callerId=\"{LINE}\"" in calls[0]["params"]["Twiml"],
             "call back rang Dana's phone from the line's number, then the caller")
    s.expect(any("connected for 3m 10s" in slack_view(m) for m in s.rig.slack.thread(CHANNEL, thread)),
             "the call back and its outcome are in the thread")
    print(f"{s.at(10, 50)}  Dana presses Resolve on the card")
    await s.rig.press("tb_resolve", _conv_of(parents[0]), channel=CHANNEL, message_ts=thread, user=ONCALL)
    await s.rig.settle()
    s.show_thread()
    s.expect("Resolved by" in slack_view(parents[0]), "card shows resolved; reminders for it stop")


async def scene_declined(s: Story) -> None:
    print(f"\n{s.at(13, 5)}  {display(DECLINED_CALLER)} calls; a tech on a job taps decline and his voicemail picks up")
    sid, _, _ = await s.rig.incoming_call(DECLINED_CALLER, LINE)
    query = f"parent={sid}&line=%2B{LINE[1:]}&from=%2B{DECLINED_CALLER[1:]}"
    _, whisper = await s.rig.twilio_post(f"/twilio/voice/screen?{query}",
                                         s.rig.call_params(DECLINED_CALLER, "+15125550111", sid + "x"))
    print(f"             the tech's phone would have heard: \"{_say(whisper)}\" (nobody pressed 1)")
    _, twiml = await s.rig.dial_ended(DECLINED_CALLER, LINE, sid, dial_status="completed")
    print("             Twilio reports the call \"completed\" (a voicemail answered); textback counts it as missed")
    print(f"             caller hears: \"{_say(twiml)}\"")
    await s.rig.settle()
    s.show_texts(DECLINED_CALLER)
    s.show_thread()
    s.expect(len(s.phone(DECLINED_CALLER)) == 1, "a declined call is caught by screening and texted back")
    s.expect(any("nobody pressed 1" in slack_view(m) for m in s.rig.slack.messages),
             "its thread says why it counts as missed")
    card = [m for m in s.rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")][-1]
    print(f"{s.at(13, 9)}  Sam replies in the thread: \"Sorry we missed you! What's going on?\"")
    await s.rig.team_replies(CHANNEL, card["ts"], "Sorry we missed you! What's going on?", user=BACKUP)
    await s.rig.settle()
    s.show_texts(DECLINED_CALLER)


async def scene_after_hours(s: Story) -> None:
    print(f"\n{s.at(19, 40)}  {display(NIGHT_CALLER)} calls after closing time (no ringing, straight to text-back)")
    sid, status, twiml = await s.rig.incoming_call(NIGHT_CALLER, LINE)
    await s.rig.settle()
    print(f"             caller hears: \"{_say(twiml)}\"")
    s.show_texts(NIGHT_CALLER)
    s.show_thread()
    texts = s.phone(NIGHT_CALLER)
    s.expect(len(texts) == 1 and "acme.example/book" in texts[0]["body"],
             "after-hours wording with the booking link")


async def scene_reminder(s: Story) -> str:
    print(f"\n{s.at(11, 0)}  {display(WAITING_CALLER)} calls, nobody answers, and nobody picks up the thread")
    await s.rig.missed_call(WAITING_CALLER, LINE)
    await s.rig.settle()
    s.show_texts(WAITING_CALLER)
    s.show_thread()
    print(f"{s.at(11, 2)}  two minutes pass (the demo's first reminder step)")
    await s.rig.fire_due()
    s.show_thread()
    print(f"{s.at(11, 10)}  ten minutes, still nothing")
    await s.rig.fire_due()
    s.show_thread()
    posts = [slack_view(m) for m in s.rig.slack.messages if m.get("thread_ts")]
    s.expect(any("No reply yet" in p for p in posts), "reminder posted in the thread after 2 minutes")
    s.expect(any("Still no reply" in p and "@here" in p for p in posts), "@here mention after 10 minutes")
    card = [m for m in s.rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")][-1]
    print(f"{s.at(11, 11)}  Sam presses Claim and texts the caller from the thread")
    await s.rig.press("tb_claim", _conv_of(card), channel=CHANNEL, message_ts=card["ts"], user=BACKUP)
    await s.rig.team_replies(CHANNEL, card["ts"], "Hi, this is Sam from Acme. How can we help?", user=BACKUP)
    await s.rig.settle()
    s.show_thread()
    s.show_texts(WAITING_CALLER)
    print(f"{s.at(11, 45)}  the 30-minute step would have sent a direct message: the reply stopped it")
    await s.rig.fire_due()
    s.show_thread()
    s.expect(not any(m["channel"].startswith("D") for m in s.rig.slack.messages), "no reminder after the reply")
    return str(card["ts"])


def _conv_of(card: dict[str, Any]) -> str:
    """The conversation id the card's buttons carry."""
    return next(e["value"] for b in card["blocks"] for e in b.get("elements") or [] if "action_id" in e)


async def scene_urgent(s: Story) -> None:
    text = "Burst pipe!! Water pouring through the kitchen ceiling"
    print(f"\n{s.at(19, 55)}  {display(NIGHT_CALLER)} texts after hours: \"{text}\"")
    await s.rig.caller_texts(NIGHT_CALLER, LINE, text)
    await s.rig.settle()
    await s.rig.fire_due()  # the first page is due at once
    s.show_thread()
    s.show_pages()
    s.expect(len(s.phone(ONCALL_PHONE)) == 1 and any(c["to"] == ONCALL_PHONE for c in s.rig.twilio.calls),
             "on-call person paged at once: Slack DM, thread mention, SMS and a call")
    print(f"{s.at(19, 57)}  nobody has pressed I'm on it after 2 minutes")
    await s.rig.fire_due()
    s.show_thread()
    s.show_pages()
    s.expect(len(s.phone(BACKUP_PHONE)) == 1, "backup paged when the page was not acknowledged")
    card = [m for m in s.rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")][-1]
    conv_id = _conv_of(card)
    print(f"{s.at(19, 58)}  Dana presses I'm on it on the thread card")
    await s.rig.press("tb_ack", conv_id, channel=CHANNEL, message_ts=card["ts"], user=ONCALL)
    await s.rig.settle()
    s.show_thread()
    print(f"{s.at(20, 10)}  later: no more pages")
    before = len(s.phone(BACKUP_PHONE)) + len(s.phone(ONCALL_PHONE))
    await s.rig.fire_due()
    s.expect(len(s.phone(BACKUP_PHONE)) + len(s.phone(ONCALL_PHONE)) == before, "paging stopped on I'm on it")


def _say(twiml: str) -> str:
    start, end = twiml.find("<Say>"), twiml.find("</Say>")
    return html.unescape(twiml[start + 5 : end]) if start >= 0 else twiml


async def run_demo(*, verbose: bool = False, keep_running: asyncio.Event | None = None) -> int:
    """Play the story; 0 when every expectation held. With `keep_running`, the server, the
    embedded Valkey and the stand-ins stay up afterwards, with a `.env` and lines file that
    point `textback doctor` at them, until the event is set."""
    clock = FakeClock(datetime(2026, 11, 10, 10, 15, tzinfo=TZ))
    with tempfile.TemporaryDirectory(prefix="textback-demo-") as tmp:
        settings = rig_settings(parse_config(DEMO_CONFIG, "demo.yml"), redis_url=None, data_dir=Path(tmp))
        async with Rig(settings, clock=clock) as rig:
            for user, name in PEOPLE.items():
                rig.slack.add_user(user, name)
            rig.slack.add_channel(CHANNEL, CHANNEL_NAME)
            print(f"textback demo: Acme Plumbing, line (512) 555-0100 -> Slack channel #{CHANNEL_NAME}")
            print(f"  server {rig.url} · embedded Valkey {rig.services.redis.url} · "
                  f"Slack and Twilio stand-ins on 127.0.0.1")
            story = Story(rig, clock)
            thread = await scene_missed_call(story)
            await scene_caller_reply(story, thread)
            await scene_team_reply(story, thread)
            await scene_photos(story, thread)
            await scene_repeat_call(story, thread)
            await scene_reminder(story)
            await scene_declined(story)
            await scene_after_hours(story)
            await scene_urgent(story)
            story.expect(not rig.twilio.violations and not rig.slack.violations,
                         "every Slack and Twilio request matched the published API specs"
                         if rig.twilio.spec_checked else "(API spec files not found: requests not checked)")
            code = _summary(story)
            if keep_running is not None and code == 0:
                await _serve_for_doctor(rig, Path(tmp), keep_running)
    return code


def _summary(story: Story) -> int:
    best = min(story.latencies_ms) if story.latencies_ms else float("nan")
    print(f"\ntext-back latency: {best:.1f} ms (missed-call webhook -> SMS request at Twilio)")
    if story.problems:
        print(f"demo FAILED: {len(story.problems)} expectation(s) not met: " + "; ".join(story.problems))
        return 1
    print("demo complete: every expectation met")
    print("\nnext: copy .env.example to .env and textback.example.yml to textback.yml, fill in your Slack and\n"
          "Twilio details, run `textback doctor` to check them, then deploy with docs/deploy.md.")
    return 0


async def _serve_for_doctor(rig: Rig, folder: Path, stop: asyncio.Event) -> None:
    """Keep everything up, set up as a healthy install would be, for `textback doctor`."""
    number = rig.twilio.account.add_number(
        LINE, voice_url=f"{PUBLIC_URL}/twilio/voice", sms_url=f"{PUBLIC_URL}/twilio/sms")
    rig.twilio.messaging.register(number)  # in a Messaging Service with a verified A2P 10DLC campaign
    (folder / "textback.yml").write_text(DEMO_CONFIG, encoding="utf-8")
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_URL": PUBLIC_URL, "REDIS_URL": rig.services.redis.url,
        "TEXTBACK_CONFIG": str(folder / "textback.yml"), "SLACK_API_URL": rig.slack.api_url,
        "TWILIO_API_URL": rig.twilio.url,
    }
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    print("\nThe demo's server, Valkey and stand-ins stay up until Ctrl-C. To see `textback doctor`")
    print(f"check a working setup, in another terminal:\n  cd {folder} && textback doctor", flush=True)
    await stop.wait()
