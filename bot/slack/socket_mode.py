"""Socket Mode: Slack's events over a websocket instead of POST /slack/events.

For local development without a public Slack URL (`SLACK_APP_TOKEN=xapp-...`). It runs next
to the HTTP server, never instead of it: Twilio's webhooks still need HTTP. Slack requests
arriving this way skip signature checks (Bolt's own rule); the websocket is authenticated
by the app-level token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

SOCKET_MODE = web.AppKey("socket_mode", AsyncSocketModeHandler)

CleanupStep = Callable[[web.Application], AsyncIterator[None]]


def connection(app_token: str, bolt_key: web.AppKey[AsyncApp]) -> CleanupStep:
    """A cleanup_ctx step that holds a Socket Mode connection for the Bolt app at `bolt_key`.

    It must come after the step that stores the Bolt app.
    """

    async def hold(app: web.Application) -> AsyncIterator[None]:
        # The handler opens its own aiohttp session, so it is built here, inside the loop.
        # It calls apps.connections.open through the Bolt app's client (our SLACK_API_URL).
        handler = AsyncSocketModeHandler(app[bolt_key], app_token)
        app[SOCKET_MODE] = handler
        # connect() retries until Slack answers: in the background, so a Slack outage at
        # start-up never holds back Twilio's webhooks.
        connect = handler.connect_async()  # type: ignore[no-untyped-call]
        connecting = asyncio.create_task(connect, name="slack-socket-mode")
        log.info("slack: socket mode on (SLACK_APP_TOKEN set)")
        try:
            yield
        finally:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await handler.close_async()  # type: ignore[no-untyped-call]

    return hold
