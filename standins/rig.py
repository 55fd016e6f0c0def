"""The whole pipeline on one machine: the real server, local Slack and Twilio, signed requests.

Used by the tests and by `textback demo`. The server is the production app; only the
outside world is replaced.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.services import SERVICES, Services
from bot.settings import Settings
from bot.slack.signing import sign as slack_sign
from bot.twilio.webhooks import compute, public_request_url
from bot.work.timer import Timing
from standins.clock import FakeClock
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn
from workflows.lines import Config
from workflows.ports import Clock

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "not-a-real-auth-token-00000000"
BOT_TOKEN = "xoxb-not-a-real-token"
SIGNING_SECRET = "not-a-real-signing-secret-0123456789"
PUBLIC_URL = "https://textback.example.test"
TEAM_ID = "T0TEXTBACK"


def rig_settings(config: Config, *, redis_url: str | None, data_dir: Path) -> Settings:
    """Settings for a server wired to stand-ins (their URLs are filled in on start)."""
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=None,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_key=None,
        twilio_api_secret=None,
        public_url=PUBLIC_URL,
        redis_url=redis_url,
        data_dir=data_dir,
        config_path=data_dir / "textback.yml",
        port=0,
        role="all",
        slack_api_url="http://127.0.0.1:1/api/",
        twilio_api_url="http://127.0.0.1:1",
        config=config,
        # Each rig is an instance of its own, as separate machines are; a test restarting one
        # gives the next rig the same name.
        instance=f"rig-{secrets.token_hex(3)}",
    )


class Rig:
    """Starts stand-ins and the server; sends signed webhooks and Slack events into it."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, timing: Timing | None = None) -> None:
        self.twilio = TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
        self.slack = SlackStandIn(bot_token=BOT_TOKEN)
        self._settings = settings
        self._clock = clock
        self._timing = timing
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""
        self.app: web.Application | None = None

    async def start(self) -> Rig:
        await self.twilio.start()
        await self.slack.start()
        self.settings = replace(
            self._settings, slack_api_url=self.slack.api_url, twilio_api_url=self.twilio.url
        )
        self.app = create_app(self.settings, clock=self._clock, timing=self._timing)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # room for a burst
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        # Twilio reaches PUBLIC_URL (the media of outgoing MMS) at this server, as through a proxy.
        self.twilio.public_routes[self.settings.public_url] = self.url
        self._http = aiohttp.ClientSession()
        # Retries in tests come quickly; production waits longer between attempts.
        self.services.jobs.retry_idle_ms = 100
        return self

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.slack.stop()
        await self.twilio.stop()

    async def __aenter__(self) -> Rig:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def services(self) -> Services:
        assert self.app is not None
        return self.app[SERVICES]

    async def settle(self, timeout: float = 20.0) -> None:
        """Wait until every recorded job and the work it started has finished (with the real
        clock, retries due within `timeout` too; with a fake one the test moves time)."""
        retries_within = timeout if self._clock is None else 0.0
        for _ in range(3):  # a job may start a task (a burst flush) that posts later
            await self.services.jobs.wait_idle(timeout, retries_within=retries_within)
            await self.services.tasks.drain(timeout)

    async def retry_waiting(self, rounds: int = 20) -> int:
        """Settle, passing the time each retry waits for (its back-off) on the fake clock, until
        no job that failed waits any more; how many jobs ran meanwhile. For tests where the
        time is incidental (Slack down, then up); those about back-off move the clock themselves."""
        clock = self.services.clock
        assert isinstance(clock, FakeClock), "with the real clock, settle() waits for retries"
        ran = 0
        await self.settle()
        for _ in range(rounds):
            due = await self.services.jobs.next_retry()
            if due is None:
                return ran
            clock.set(max(clock.now(), datetime.fromtimestamp(due, UTC) + timedelta(microseconds=1)))
            ran += await self.fire_due()
        raise AssertionError(f"jobs still failing after {rounds} retries")

    async def fire_due(self) -> int:
        """Run the jobs due at the app clock's now (reminders, pages, retries) and what they lead to."""
        started = await self.services.jobs.timer.move_due()
        await self.settle()
        return started

    # --- Twilio side -------------------------------------------------------------------

    async def twilio_post(
        self, path_qs: str, params: dict[str, str], *, sign: bool = True, token: str = AUTH_TOKEN
    ) -> tuple[int, str]:
        """POST a form to a /twilio route, signed as Twilio signs it (over PUBLIC_URL)."""
        assert self._http is not None
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            url = public_request_url(self.settings.public_url, path_qs)
            headers["X-Twilio-Signature"] = compute(url, params, token)
        async with self._http.post(self.url + path_qs, data=urlencode(params), headers=headers) as r:
            return r.status, await r.text()

    def call_params(self, caller: str, line: str, call_sid: str, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": caller,
            "To": line,
            "Caller": caller,
            "Called": line,
            **extra,
        }

    async def incoming_call(self, caller: str, line: str, call_sid: str | None = None) -> tuple[str, int, str]:
        """Twilio's first request for a call; returns the CallSid and the answer."""
        sid = call_sid or new_sid("CA")
        status, body = await self.twilio_post("/twilio/voice", self.call_params(caller, line, sid))
        return sid, status, body

    async def dial_ended(
        self, caller: str, line: str, call_sid: str, dial_status: str = "no-answer"
    ) -> tuple[int, str]:
        """Twilio's `<Dial action>` request when the staff phones stop ringing."""
        params = self.call_params(
            caller, line, call_sid, CallStatus="in-progress", DialCallStatus=dial_status,
            DialCallSid=new_sid("CA"),
        )
        return await self.twilio_post(dial_status_path(line), params)

    async def missed_call(self, caller: str, line: str) -> tuple[str, float, int, str]:
        """Ring, then report no-answer; returns CallSid, the time the miss was reported, answer."""
        sid, _, _ = await self.incoming_call(caller, line)
        sent_at = time.perf_counter()
        status, body = await self.dial_ended(caller, line, sid)
        return sid, sent_at, status, body

    async def caller_texts(
        self, caller: str, line: str, body: str, *, media: tuple[str, ...] = (), sid: str | None = None,
        media_types: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        """An inbound SMS/MMS webhook (each attachment announced as `media_types`, else JPEG)."""
        message_sid = sid or new_sid("MM" if media else "SM")
        params = {
            "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": message_sid,
            "SmsMessageSid": message_sid, "SmsSid": message_sid, "SmsStatus": "received",
            "From": caller, "To": line, "Body": body, "NumMedia": str(len(media)), "NumSegments": "1",
        }
        for i, url in enumerate(media):
            params[f"MediaUrl{i}"] = url
            params[f"MediaContentType{i}"] = media_types[i] if i < len(media_types) else "image/jpeg"
        status, _ = await self.twilio_post("/twilio/sms", params)
        return message_sid, status

    # --- Slack side --------------------------------------------------------------------

    async def slack_post(
        self, body: bytes, content_type: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
        retry_num: int | None = None,
    ) -> tuple[int, str]:
        """POST to /slack/events signed with the signing secret."""
        assert self._http is not None
        headers = {"Content-Type": content_type, **slack_sign(body, secret, timestamp or int(time.time()))}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        async with self._http.post(self.url + "/slack/events", data=body, headers=headers) as r:
            return r.status, await r.text()

    async def slack_event(self, event: dict[str, Any], *, event_id: str | None = None, **kw: Any) -> tuple[int, str]:
        """An Events API `event_callback` envelope around `event`."""
        envelope = {
            "token": "legacy-token-unused", "team_id": TEAM_ID, "api_app_id": "A0TEXTBACK",
            "event": {"event_ts": event.get("ts", "0"), **event}, "type": "event_callback",
            "event_id": event_id or new_sid("Ev", 10), "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": self.slack.bot_user_id, "is_bot": True,
                                "is_enterprise_install": False, "enterprise_id": None}],
            "authed_users": [self.slack.bot_user_id],
        }
        return await self.slack_post(json.dumps(envelope).encode(), "application/json", **kw)

    async def team_replies(
        self, channel: str, thread_ts: str, text: str, *, user: str = "U0TEAM0001",
        files: tuple[tuple[bytes, str, str], ...] = (), **kw: Any
    ) -> tuple[str, int]:
        """A person's reply in a thread, as Slack delivers it, with `files` (content, name,
        mimetype) posted with it; returns its ts."""
        ts = self.slack.next_ts()
        event: dict[str, Any] = {
            "type": "message", "channel": channel, "channel_type": "channel", "user": user, "text": text, "ts": ts,
            "thread_ts": thread_ts, "parent_user_id": self.slack.bot_user_id, "client_msg_id": secrets.token_hex(8),
            "team": TEAM_ID}
        if files:
            shared = [self.slack.share_file(content, name, kind, user=user) for content, name, kind in files]
            event.update(subtype="file_share", files=shared, upload=False, display_as_bot=False)
        status, _ = await self.slack_event(event, **kw)
        return ts, status

    async def slash(
        self, text: str, *, channel: str, user: str = "U0TEAM0001", command: str = "/textback", **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        """A slash command as Slack posts it (PROTOCOLS 5.8); returns the status and the reply.

        A reply of plain text comes back as {"text": ...}, like one with blocks.
        """
        form = {
            "token": "legacy-token-unused", "team_id": TEAM_ID, "team_domain": self.slack.domain,
            "channel_id": channel, "channel_name": f"channel-{channel.lower()}", "user_id": user,
            "user_name": user.lower(), "command": command, "text": text,
            "response_url": f"https://hooks.slack.com/commands/{TEAM_ID}/1/{secrets.token_hex(8)}",
            "trigger_id": f"1.2.{secrets.token_hex(6)}", "api_app_id": "A0TEXTBACK",
            "is_enterprise_install": "false",
        }
        status, body = await self.slack_post(urlencode(form).encode(), "application/x-www-form-urlencoded", **kw)
        try:
            reply = json.loads(body) if body.startswith("{") else {"text": body}
        except json.JSONDecodeError:
            reply = {"text": body}
        return status, reply


    async def press(
        self, action_id: str, value: str, *, channel: str, message_ts: str, user: str = "U0TEAM0001", **kw: Any
    ) -> tuple[int, str]:
        """A button press on a message, as Slack posts a `block_actions` payload (form field `payload`)."""
        action = {"type": "button", "action_id": action_id, "value": value,
                  "text": {"type": "plain_text", "text": action_id, "emoji": True}}
        return await self._block_action(action, channel=channel, message_ts=message_ts, user=user, **kw)

    async def choose(
        self, action_id: str, value: str, *, channel: str, message_ts: str, user: str = "U0TEAM0001", **kw: Any
    ) -> tuple[int, str]:
        """A choice in a `static_select` on a message, as Slack posts its `block_actions` payload."""
        option = {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
        action = {"type": "static_select", "action_id": action_id, "selected_option": option,
                  "placeholder": {"type": "plain_text", "text": "Snooze until…", "emoji": True}}
        return await self._block_action(action, channel=channel, message_ts=message_ts, user=user, **kw)

    async def shortcut(self, callback_id: str, *, user: str = "U0TEAM0001") -> tuple[int, str]:
        """A global shortcut chosen from Slack's shortcut menu (`type: shortcut`); the trigger id."""
        trigger = f"1.2.{secrets.token_hex(6)}"
        payload = {
            "type": "shortcut", "token": "legacy-token-unused", "action_ts": f"{time.time():.6f}",
            "team": {"id": TEAM_ID, "domain": self.slack.domain}, "user": {"id": user, "username": user.lower(),
                                                                          "team_id": TEAM_ID},
            "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id, "trigger_id": trigger,
        }
        form = urlencode({"payload": json.dumps(payload)}).encode()
        status, _ = await self.slack_post(form, "application/x-www-form-urlencoded")
        return status, trigger

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = "U0TEAM0001"
    ) -> tuple[int, str]:
        """A modal submitted (`view_submission`) with these `state.values`; the answer's body."""
        payload = {
            "type": "view_submission", "token": "legacy-token-unused", "trigger_id": f"1.2.{secrets.token_hex(6)}",
            "team": {"id": TEAM_ID, "domain": self.slack.domain},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID}, "api_app_id": "A0TEXTBACK",
            "is_enterprise_install": False, "enterprise": None, "response_urls": [],
            "view": {**view, "id": "V0TEXTBACK1", "team_id": TEAM_ID, "app_id": "A0TEXTBACK", "hash": "1.a",
                     "state": {"values": values}},
        }
        form = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.slack_post(form, "application/x-www-form-urlencoded")

    async def _block_action(
        self, action: dict[str, Any], *, channel: str, message_ts: str, user: str, **kw: Any
    ) -> tuple[int, str]:
        payload = {
            "type": "block_actions", "team": {"id": TEAM_ID, "domain": self.slack.domain},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0TEXTBACK", "token": "legacy-token-unused", "trigger_id": f"1.2.{secrets.token_hex(6)}",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": f"channel-{channel.lower()}"},
            "message": self.slack.message(channel, message_ts) or {"ts": message_ts},
            "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/1/{secrets.token_hex(8)}",
            "actions": [{**action, "block_id": "tb_card", "action_ts": f"{time.time():.6f}"}],
        }
        form = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.slack_post(form, "application/x-www-form-urlencoded", **kw)


def dial_status_path(line: str) -> str:
    """The `<Dial action>` path the server puts in its TwiML for a line."""
    return "/twilio/voice/dial-status?" + urlencode({"line": line})


def new_sid(prefix: str, length: int = 32) -> str:
    return prefix + secrets.token_hex(length // 2)
