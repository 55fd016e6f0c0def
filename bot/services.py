"""Everything a request handler needs, built once per app inside the event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.crm.webhook import CrmWebhook
from bot.lines.directory import LineDirectory
from bot.metrics import Metrics
from bot.pager import SlackTwilioPager
from bot.settings import DEFAULT_TWILIO_API_URL, Settings
from bot.slack.gateway import MeteredWebClient, SlackDirectory, SlackThreads
from bot.store.bursts import RedisBursts
from bot.store.connection import RedisHandle, open_redis
from bot.store.consent import RedisConsentLog
from bot.store.conversations import ConversationLocks, RedisCallerFlags, RedisConversationStore
from bot.store.daily import RedisDaily
from bot.store.leads import RedisLeads
from bot.store.line_settings import RedisLineSettings
from bot.store.line_types import RedisLineTypes
from bot.store.media import RedisMediaShelf
from bot.store.textbacks import RedisTextbacks
from bot.twilio.gateway import MessagesApi, MeteredSms, TwilioSms, make_client
from bot.twilio.lookup import TwilioLineTypes
from bot.twilio.numbers import TwilioNumbers
from bot.work.background import Background
from bot.work.engine import Engine
from bot.work.incarnation import Incarnation
from bot.work.timer import Timing
from workflows.ports import Clock

# Simultaneous requests to one API host on the shared session (aiohttp's default in all).
HTTP_PER_HOST = 100


@dataclass
class Services:
    settings: Settings
    clock: Clock
    redis: RedisHandle
    store: RedisConversationStore
    flags: RedisCallerFlags
    # A missed call's text-back decided and its job recorded in one step, in the webhook.
    textbacks: RedisTextbacks
    bursts: RedisBursts
    locks: ConversationLocks
    sms: TwilioSms
    slack: AsyncWebClient
    chat: SlackThreads
    directory: SlackDirectory
    tasks: Background
    # Every durable job, run as soon as possible or at its due time (reminders, pages, retries).
    jobs: Engine
    # The effective lines: the lines file with settings changed from Slack laid over it.
    lines: LineDirectory
    pager: SlackTwilioPager
    leads: RedisLeads
    consent: RedisConsentLog
    # Each line's figures per local day (digest, stats, App Home, the recovery figure).
    daily: RedisDaily
    crm: CrmWebhook
    metrics: Metrics
    # This process: its instance's name, the same across restarts, and this start's own part.
    me: Incarnation
    # The app's shared HTTP session (Slack's client uses it too), for files to and fro.
    http: aiohttp.ClientSession
    # Pictures served to Twilio for outgoing MMS.
    media: RedisMediaShelf
    # How long a burst of caller texts is collected before it is posted as one line.
    burst_flush_s: float = 5.0
    # Carrier line types (Twilio Lookup, cached), for lines with `lookup: true`.
    line_types: TwilioLineTypes | None = None
    # The Twilio account's own numbers, asked by `/textback setup`.
    numbers: TwilioNumbers | None = None


SERVICES = web.AppKey("services", Services)


@asynccontextmanager
async def open_services(
    settings: Settings, clock: Clock, timing: Timing | None = None
) -> AsyncIterator[Services]:
    """Connect to Redis, Slack and Twilio; close everything in reverse order on exit."""
    me = Incarnation(settings.instance)
    redis = await open_redis(settings.redis_url, settings.data_dir, name=me.connection_name)
    # One shared HTTP session: without it slack_sdk opens a new one per call. Connections are
    # limited per host, not in all, so a slow Slack cannot hold up the text-backs' requests.
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=15),
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=HTTP_PER_HOST),
    )
    metrics = Metrics()
    slack = MeteredWebClient(
        metrics=metrics,
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        # 429 carries Retry-After and means nothing was posted, so it is safe to retry.
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    twilio = make_client(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        api_key=settings.twilio_api_key,
        api_secret=settings.twilio_api_secret,
        base_url=settings.twilio_api_url,
        # A stand-in or staging API given in TWILIO_API_URL serves Lookup too.
        lookups_url=None if settings.twilio_api_url == DEFAULT_TWILIO_API_URL else settings.twilio_api_url,
    )
    messages = MessagesApi.of(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        api_key=settings.twilio_api_key,
        api_secret=settings.twilio_api_secret,
        base_url=settings.twilio_api_url,
    )
    sms = MeteredSms(
        twilio, status_callback=f"{settings.public_url}/twilio/sms/status", metrics=metrics,
        http=session, messages=messages,
    )
    tasks = Background()
    lines = LineDirectory(settings.config, RedisLineSettings(redis.client))
    jobs = Engine(redis.client, clock, consumer=me.name, reader=redis.reader(), retry_idle_ms=int(settings.job_retry_s * 1000),
                  role=settings.role, timing=timing or Timing())
    # Each answer from Slack lets the jobs waiting for it (after an outage) run at once.
    chat = SlackThreads(slack, settings.config, lines.known, answered=lambda: jobs.slack_answered())
    flags = RedisCallerFlags(redis.client, opt_out_scope=settings.config.opt_out_scope, lines=lines.known_numbers,
                             keep_days=settings.config.retention_days)
    try:
        services = Services(
            settings=settings,
            clock=clock,
            redis=redis,
            store=RedisConversationStore(redis.client, keep_days=settings.config.retention_days),
            flags=flags,
            textbacks=RedisTextbacks(redis.client, flags, owner=me.name, keep_days=settings.config.retention_days),
            bursts=RedisBursts(redis.client),
            locks=ConversationLocks(redis.client, owner=me.name),
            sms=sms,
            slack=slack,
            chat=chat,
            directory=SlackDirectory(slack),
            tasks=tasks,
            jobs=jobs,
            lines=lines,
            pager=SlackTwilioPager(chat, twilio),
            leads=RedisLeads(redis.client, jobs.deadlines, keep_days=settings.config.retention_days),
            consent=RedisConsentLog(redis.client),
            daily=RedisDaily(redis.client),
            crm=CrmWebhook(
                redis.client, url_for=lambda line: crm_url_for(settings, line),
                secret=settings.crm_webhook_secret or "", clock=clock, metrics=metrics,
            ),
            metrics=metrics,
            me=me,
            http=session,
            media=RedisMediaShelf(redis.client),
            line_types=TwilioLineTypes(twilio, RedisLineTypes(redis.client)),
            numbers=TwilioNumbers(twilio),
        )
        yield services
    finally:
        await tasks.drain()
        await sms.close()
        await session.close()
        await redis.close()


def crm_url_for(settings: Settings, line: str) -> str | None:
    """Where a line's lead changes go: its own `crm_webhook`, else the install's URL."""
    configured = settings.config.line_for_number(line)
    return (configured.crm_webhook if configured else "") or settings.crm_webhook_url
