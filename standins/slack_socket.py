"""Socket Mode on the Slack stand-in: `apps.connections.open` hands out a websocket URL, the
socket says hello, and tests push envelopes down it and read the app's acks.

Frames as Slack sends them (doc: docs.slack.dev/apis/events-api/using-socket-mode):
`{"type": "hello", ...}` on connect, then `{"envelope_id", "type": "events_api" |
"slash_commands" | "interactive", "payload", "accepts_response_payload"}`; the app answers
each with `{"envelope_id", "payload"?}`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

PATH = "/link/"
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


class SlackSocket:
    """The websocket side: open connections and every ack received."""

    def __init__(self, app_id: str = "A0TEXTBACK") -> None:
        self.app_id = app_id
        self.base_url = ""  # ws://host:port, set when the stand-in starts
        self.opened = 0
        self.connections: list[web.WebSocketResponse] = []
        self.acks: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def link(self) -> str:
        """The URL `apps.connections.open` returns: one ticket per call, like Slack's."""
        self.opened += 1
        return f"{self.base_url}{PATH}?ticket={secrets.token_hex(8)}&app_id={self.app_id}"

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections.append(ws)
        self._notify()
        await ws.send_json({"type": "hello", "num_connections": len(self.connections),
                            "connection_info": {"app_id": self.app_id},
                            "debug_info": {"host": "standin", "approximate_connection_time": 18060}})
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(frame.data))
                    self._notify()
        finally:
            self.connections.remove(ws)
            self._notify()
        return ws

    async def push(self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False) -> str:
        """Send one envelope on the newest connection; returns its envelope_id."""
        envelope_id = secrets.token_hex(12)
        await self.connections[-1].send_json({
            "envelope_id": envelope_id, "type": kind, "payload": payload,
            "accepts_response_payload": accepts_response_payload, "retry_attempt": 0, "retry_reason": "",
        })
        return envelope_id

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await self._wait(lambda: bool(self.connections), timeout)

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        await self._wait(lambda: found() is not None, timeout)
        ack = found()
        assert ack is not None
        return ack

    async def close_all(self) -> None:
        for ws in list(self.connections):
            await ws.close()

    async def _wait(self, done: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed  # taken before the check, so no change is missed
                if done():
                    return
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
