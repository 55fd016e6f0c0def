"""Signed webhooks and Slack events going out, and their effects matched at the stand-ins."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.slack.signing import sign as slack_sign
from bot.twilio import webhooks
from standins.rig import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SIGNING_SECRET,
    TEAM_ID,
)
from standins.server import Recorded, StandInServer

LINE, CHANNEL, STAFF = "+15125550100", "C0BENCH001", "+15125550111"
TOKEN = re.compile(r"bench-[a-z]+-\d+")
# How often the stand-ins' records are scanned for awaited requests. The timestamps come
# from the stand-ins themselves, so this only bounds how soon a round is seen complete.
SCAN_S = 0.002


class Callers:
    """Fresh caller numbers, so no cooldown or conversation from earlier (or another run) applies."""

    def __init__(self) -> None:
        # A random exchange per run keeps reruns against a kept Redis from meeting old callers.
        self._exchange = 200 + secrets.randbelow(600)
        self._next = 0

    def new(self) -> str:
        exchange, line = divmod(self._next, 10_000)
        self._next += 1
        return f"+1512{self._exchange + exchange}{line:04d}"


@dataclass
class Answer:
    status: int
    sent_at: float  # perf_counter just before the request left
    elapsed_ms: float


class Sender:
    """An HTTP client that signs like Twilio and Slack; one per run, connections kept open."""

    def __init__(self) -> None:
        # No connection limit: 200 simultaneous calls must leave at once, not 100 then 100.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                          timeout=aiohttp.ClientTimeout(total=30))
        self.tokens = 0

    def token(self, kind: str) -> str:
        self.tokens += 1
        return f"bench-{kind}-{self.tokens}"

    async def close(self) -> None:
        await self.http.close()

    async def twilio(self, base: str, path_qs: str, params: dict[str, str]) -> Answer:
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": webhooks.compute(PUBLIC_URL + path_qs, params, AUTH_TOKEN)}
        return await self._post(base + path_qs, urlencode(params).encode(), headers)

    async def slack(self, base: str, envelope: dict[str, Any]) -> Answer:
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", **slack_sign(body, SIGNING_SECRET, int(time.time()))}
        return await self._post(base + "/slack/events", body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        sent_at = time.perf_counter()
        try:
            async with self.http.post(url, data=body, headers=headers) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        return Answer(status, sent_at, (time.perf_counter() - sent_at) * 1000)


def call_params(caller: str, call_sid: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": "ringing",
            "Direction": "inbound", "From": caller, "To": LINE, "Caller": caller, "Called": LINE, **extra}


def dial_status_params(caller: str, call_sid: str) -> dict[str, str]:
    return call_params(caller, call_sid, CallStatus="in-progress", DialCallStatus="no-answer",
                       DialCallSid=new_sid("CA"))


def sms_params(caller: str, body: str) -> dict[str, str]:
    sid = new_sid("SM")
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsMessageSid": sid,
            "SmsSid": sid, "SmsStatus": "received", "From": caller, "To": LINE, "Body": body,
            "NumMedia": "0", "NumSegments": "1"}


def reply_envelope(thread_ts: str, ts: str, text: str) -> dict[str, Any]:
    """A person's reply in a thread, as the Events API delivers it."""
    event = {"type": "message", "channel": CHANNEL, "channel_type": "channel", "user": "U0BENCH001",
             "text": text, "ts": ts, "thread_ts": thread_ts, "parent_user_id": "UBOT0001",
             "client_msg_id": secrets.token_hex(8), "team": TEAM_ID, "event_ts": ts}
    return {"token": "unused", "team_id": TEAM_ID, "api_app_id": "A0TEXTBACK", "event": event,
            "type": "event_callback", "event_id": new_sid("Ev", 10), "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT0001", "is_bot": True,
                                "is_enterprise_install": False, "enterprise_id": None}],
            "authed_users": ["UBOT0001"]}


def new_sid(prefix: str, length: int = 32) -> str:
    return prefix + secrets.token_hex(length // 2)


@dataclass
class Awaited:
    sent_at: float
    sink: list[float]


@dataclass
class Tracker:
    """Matches requests at the stand-ins to what the bench is waiting for.

    Keys: `to:<number>` for a text-back (the first CreateMessage to that caller), a token
    (`bench-sms-7`) for a mirrored text or reply, found in the request's text.
    """

    standins: list[StandInServer]
    pending: dict[str, Awaited] = field(default_factory=dict)
    found: dict[str, Recorded] = field(default_factory=dict)
    _scanned: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def expect(self, key: str, sent_at: float, sink: list[float]) -> None:
        self.pending[key] = Awaited(sent_at, sink)

    async def wait(self, keys: list[str], timeout: float) -> int:
        """Until every key has arrived or `timeout` passed; returns how many never came."""
        deadline = time.perf_counter() + timeout
        while True:
            self.scan()
            missing = [k for k in keys if k in self.pending]
            if not missing or time.perf_counter() > deadline:
                for key in missing:
                    self.pending.pop(key, None)
                return len(missing)
            await asyncio.sleep(SCAN_S)

    def scan(self) -> None:
        for index, stand in enumerate(self.standins):
            start = self._scanned[index]
            for rec in stand.requests[start:]:
                self._match(rec)
            self._scanned[index] = len(stand.requests)

    def _match(self, rec: Recorded) -> None:
        if rec.method == "CreateMessage":
            self._arrived(f"to:{rec.params.get('To')}", rec)
            self._tokens(str(rec.params.get("Body", "")), rec)
        elif rec.method == "chat.postMessage":
            self._tokens(str(rec.params.get("text", "")) + json.dumps(rec.params.get("blocks")), rec)

    def _tokens(self, text: str, rec: Recorded) -> None:
        for token in TOKEN.findall(text):
            self._arrived(token, rec)

    def _arrived(self, key: str, rec: Recorded) -> None:
        awaited = self.pending.pop(key, None)
        if awaited is not None:
            awaited.sink.append((rec.arrived - awaited.sent_at) * 1000)
            self.found[key] = rec

    def methods(self) -> dict[str, int]:
        """How many requests of each API operation the stand-ins received."""
        counts: dict[str, int] = defaultdict(int)
        for stand in self.standins:
            for rec in stand.requests:
                counts[rec.method] += 1
        return dict(counts)

    def violations(self) -> list[str]:
        """Requests the stand-ins found against Slack's or Twilio's published API specs."""
        return [v for stand in self.standins for v in stand.violations]

    async def quiet(self, for_s: float = 0.15, timeout: float = 60.0) -> None:
        """Until nothing reaches the stand-ins for `for_s`: a round's Slack work is done."""
        deadline = time.perf_counter() + timeout
        seen, since = -1, time.perf_counter()
        while time.perf_counter() < deadline:
            count = sum(len(s.requests) for s in self.standins)
            if count != seen:
                seen, since = count, time.perf_counter()
            elif time.perf_counter() - since >= for_s:
                return
            await asyncio.sleep(0.02)
