"""The composition root: one aiohttp application for Slack, Twilio and health checks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_bolt.async_app import AsyncApp

from bot import logs
from bot.handlers.digest import refresh_recovery_gauges
from bot.handlers.table import register_all
from bot.metrics import CONTENT_TYPE
from bot.services import SERVICES, Services, open_services
from bot.settings import Settings
from bot.slack import events, listeners, socket_mode
from bot.twilio import calls, media, webhooks
from bot.work.engine import Entry
from bot.work.incarnation import take_back
from bot.work.timer import Timing
from workflows.ports import Clock

log = logging.getLogger(__name__)

BOLT = web.AppKey("bolt", AsyncApp)


class SystemClock:
    """The app's clock (workflows.ports.Clock): the one place the server reads wall time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def create_app(settings: Settings, *, clock: Clock | None = None, timing: Timing | None = None) -> web.Application:
    """Build the web application; connections open when it starts and close when it stops."""
    app = web.Application(middlewares=[redis_unavailable])
    # However logging is set up around the app, Bolt's lines never carry a request's body.
    logs.guard_framework_loggers()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with open_services(settings, clock or SystemClock(), timing or Timing()) as svc:
            app[SERVICES] = svc
            bolt = AsyncApp(
                client=svc.slack,
                signing_secret=settings.slack_signing_secret,
                # Listeners only claim the event and hand the work to the app's tracked
                # background tasks, so running them before answering costs a Redis round
                # trip, and Slack's 200 then means the event was recorded.
                process_before_response=True,
            )
            listeners.register(bolt, svc)
            app[BOLT] = bolt
            register_all(svc)
            taken = await _take_back(svc)
            svc.crm.start()
            svc.jobs.start()
            svc.jobs.resume(taken)
            _dump_tasks_on_sigusr1()
            try:
                yield
            finally:
                # Unfinished jobs stay pending in Redis, and due ones in the due set; another
                # instance or the next start picks them up (CRM deliveries too).
                await svc.jobs.stop()
                await svc.crm.stop()

    app.cleanup_ctx.append(lifecycle)
    if settings.slack_app_token:
        # Slack events over a websocket (local development); Twilio still needs HTTP.
        app.cleanup_ctx.append(socket_mode.connection(settings.slack_app_token, BOLT))
    app.add_routes([*webhooks.routes(), *calls.routes()])
    app.add_routes(media.routes())
    app.add_routes([web.post("/slack/events", slack_events), web.get("/healthz", healthz)])
    app.add_routes([web.get("/metrics", metrics_route)])
    return app


async def _take_back(svc: Services) -> list[Entry]:
    """Before serving: what an earlier start of this instance left (its jobs, its locks, its
    missed calls' text-backs) goes on at once, rather than after the leases run out."""
    try:
        taken = await take_back(svc.redis.client, svc.me, svc.jobs, svc.clock, svc.redis.naming)
    except (RedisError, OSError) as exc:
        log.warning("instance %s: could not take back what an earlier start left (%r); it waits out its leases",
                    svc.me.instance, exc)
        return []
    return taken.entries if taken is not None else []


def _dump_tasks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` logs where every task is waiting: for a server that seems stuck."""
    import io
    import signal

    def dump() -> None:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=12, file=out)
        log.warning("running tasks:\n%s", out.getvalue())

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)
    except (NotImplementedError, RuntimeError):
        pass


@web.middleware
async def redis_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Without Redis nothing can be recorded: answer 503 so Twilio and Slack try again."""
    try:
        return await handler(request)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.error("redis unavailable, %s refused for retry: %r", request.path, exc)
        return web.Response(status=503, headers={"Retry-After": "5"})


async def slack_events(request: web.Request) -> web.Response:
    """Events, slash commands and interactivity: signature checked before Bolt parses anything."""
    secret = request.app[SERVICES].settings.slack_signing_secret
    # Slack signs with its wall clock, so the window is checked against ours, not the app clock.
    return await events.dispatch(request, request.app[BOLT], secret, now=time.time())


async def metrics_route(request: web.Request) -> web.Response:
    """`GET /metrics`: Prometheus's text exposition format."""
    await refresh_recovery_gauges(request.app[SERVICES])
    body = request.app[SERVICES].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


# Fly's check times out after 2 s (fly.toml): answer within half of that either way.
HEALTH_TIMEOUT_S = 1.0


async def healthz(request: web.Request) -> web.Response:
    """200 when Redis answers a PING within HEALTH_TIMEOUT_S, 503 otherwise. On Fly a failing
    check takes the machine out of the proxy's routing until it passes again; Fly does not
    restart it for that."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            await request.app[SERVICES].redis.client.ping()
    except TimeoutError:
        log.warning("health check: redis did not answer within %.0f s", HEALTH_TIMEOUT_S)
        return web.json_response({"ok": False, "redis": "slow"}, status=503)
    except Exception as exc:  # any failure means unhealthy, and the check must not crash
        log.warning("health check: redis unreachable: %r", exc)
        return web.json_response({"ok": False, "redis": "unreachable"}, status=503)
    return web.json_response({"ok": True})
