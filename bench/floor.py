"""The floor: a bare aiohttp server doing only the one API request each webhook leads to.

    python -m bench.floor --port P --twilio URL --slack URL

No signature check, no Redis, no logging: what any handler must at least spend to turn a
webhook into an outbound request. The bench drives it with the same requests as the real
server and reports the server's latencies as multiples of these.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bot.__main__ import event_loop, freeze_startup_objects
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, BOT_TOKEN

TEXT = "Sorry we missed your call - what can we help with?"
RING = '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="20">+15125550111</Dial></Response>'
SAY = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Sorry we missed you.</Say></Response>'
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# The Slack reply has no conversation to look up, so it goes to one fixed number.
REPLY_TO, LINE = "+15125550199", "+15125550100"
CHANNEL = "C0BENCH001"
# The accept queue: a burst of 200 simultaneous calls opens up to 200 connections at once, and
# past aiohttp's default of 128 Linux drops the SYNs, each retried by the client after 1 s.
BACKLOG = 1024



@dataclass(frozen=True)
class Upstreams:
    twilio: str  # base URL, no trailing slash
    slack: str  # Web API base URL, ending in /api/


HTTP = web.AppKey("http", aiohttp.ClientSession)
UPSTREAMS = web.AppKey("upstreams", Upstreams)


def xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml")


async def send_sms(app: web.Application, to: str, from_: str, body: str) -> None:
    url = f"{app[UPSTREAMS].twilio}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    form = {"To": to, "From": from_, "Body": body}
    async with app[HTTP].post(url, data=form, auth=aiohttp.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)) as r:
        await r.read()


async def voice(request: web.Request) -> web.Response:
    await request.post()
    return xml(RING)


async def dial_status(request: web.Request) -> web.Response:
    form = await request.post()
    await send_sms(request.app, str(form["From"]), str(form["To"]), TEXT)
    return xml(SAY)


async def sms(request: web.Request) -> web.Response:
    form = await request.post()
    url = request.app[UPSTREAMS].slack + "chat.postMessage"
    payload = {"channel": CHANNEL, "text": str(form["Body"])}
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with request.app[HTTP].post(url, json=payload, headers=headers) as r:
        await r.read()
    return xml(EMPTY)


async def slack_events(request: web.Request) -> web.Response:
    envelope = json.loads(await request.read())
    await send_sms(request.app, REPLY_TO, LINE, str(envelope["event"]["text"]))
    return web.Response()


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(twilio_url: str, slack_api_url: str) -> web.Application:
    app = web.Application()
    app[UPSTREAMS] = Upstreams(twilio=twilio_url.rstrip("/"), slack=slack_api_url)

    async def session(app: web.Application) -> AsyncIterator[None]:
        # No connection limit: the floor must never queue behind its own pool.
        app[HTTP] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app[HTTP].close()

    app.cleanup_ctx.append(session)
    app.add_routes([
        web.post("/twilio/voice", voice),
        web.post("/twilio/voice/dial-status", dial_status),
        web.post("/twilio/sms", sms),
        web.post("/slack/events", slack_events),
        web.get("/healthz", healthz),
    ])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--twilio", required=True, help="Twilio API base URL")
    parser.add_argument("--slack", required=True, help="Slack Web API base URL (ending in /api/)")
    args = parser.parse_args()
    # The same event loop and collector settings as the server's, so the ratio compares the
    # work and not the runtime.
    app = create_app(args.twilio, args.slack)
    app.on_startup.append(freeze_startup_objects)  # the server's collector settings too
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, backlog=BACKLOG,
                access_log=None, loop=event_loop(os.environ.get("TEXTBACK_EVENT_LOOP") or "uvloop"))


if __name__ == "__main__":
    main()
