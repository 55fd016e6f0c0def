"""A CRM on port 0 for the webhook tests, and a lead change written as another instance would."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from bot.store.leads import RedisLeads
from tests.integration.steps import event
from workflows.leads import Lead, LeadEvent, webhook_payload

SECRET = "test-crm-secret-0123456789abcdef"

class Receiver:
    """A CRM on port 0: answers each POST with the next queued status (200 when none is left)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(
            status=self.statuses.pop(0) if self.statuses else 200, text="ok"
        )

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post("/hooks/textback", self.handle)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hooks/textback"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


async def queue_elsewhere(redis: Redis, at: datetime) -> None:
    """A lead change and its delivery, recorded as another instance would: nothing kicks ours."""
    def deliver(lead: Lead, changes: list[str], ev: LeadEvent) -> dict[str, Any]:
        return webhook_payload(lead, changes, business="Acme Plumbing", cause=ev.kind)

    await RedisLeads(redis).apply(event("missed_call", at, conversation_id="c1"), deliver=deliver)
