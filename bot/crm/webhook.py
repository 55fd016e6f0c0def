"""The CRM webhook: each lead's deliveries POSTed in order, signed, retried until a 2xx.

Deliveries wait in Redis (a list per lead, written with the lead itself, see
bot/store/leads.py), so a restart loses none. Any instance may send; a per-lead lock keeps
one sender at a time, and a lead's next delivery leaves only after the previous one was
accepted. A crash between the receiver's 2xx and our record of it sends that delivery
again: receivers drop repeats by `delivery_id` (at-least-once, like every webhook). Each
sender sleeps until the next delivery is due; one queued wakes it, here through `kick()`
and on every instance through a pub/sub message written with it.

Signature (README, "CRM webhook"): `X-Textback-Signature: t=<unix seconds>,v1=<hex>` where
hex is HMAC-SHA256 with the shared secret over `<t>.<raw body>`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import secrets
from collections.abc import Callable
from typing import cast

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.clock import Clock
from bot.metrics import Metrics
from bot.store import keys
from bot.work.wakeups import Wakeup

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Textback-Signature"
TIMEOUT_S = 10.0
# Back-off after a failed attempt doubles from FIRST_RETRY_S up to MAX_RETRY_S, forever:
# a CRM down for a weekend gets everything on Monday, in order.
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 600.0
SENDING_LOCK_MS = int(TIMEOUT_S * 3 * 1000)
BATCH = 50
# The longest a sender sleeps without looking at the due set. A queued delivery wakes it, so
# this only bounds a wake-up lost with a dropped subscription, or one for a dead instance.
LOOK_EVERY_S = 60.0
# Look again this soon when a lead is due but another instance holds it (or Redis is away).
BUSY_S = 1.0

# Take a lead off the due set only when its outbox is really empty, so a delivery queued
# between our last look and this step is not stranded.
_DONE_IF_EMPTY = """
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    )
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failures, with jitter."""
    wait: float = min(FIRST_RETRY_S * 2 ** max(0, attempts - 1), MAX_RETRY_S)
    return wait * random.uniform(0.8, 1.2)


class CrmWebhook:
    """Sends queued lead deliveries to the CRM URL of their line."""

    def __init__(
        self,
        redis: Redis,
        *,
        url_for: Callable[[str], str | None],
        secret: str,
        clock: Clock,
        metrics: Metrics,
        poll_s: float = LOOK_EVERY_S,
    ) -> None:
        self._r = redis
        self.url_for = url_for
        self._secret = secret
        self._clock = clock
        self._metrics = metrics
        self.poll_s = poll_s  # the longest sleep between looks
        self._me = secrets.token_hex(6)
        self._done_if_empty = redis.register_script(_DONE_IF_EMPTY)
        self._release = redis.register_script(_RELEASE)
        self._wake = asyncio.Event()
        self.wakeup = Wakeup(redis, keys.CRM_WAKE, lambda _: self._wake.set())
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def enabled_for(self, line: str) -> bool:
        return bool(self.url_for(line))

    def kick(self) -> None:
        """Something was queued: look now rather than at the next planned look."""
        self._wake.set()

    def start(self) -> None:
        self._stopping.clear()
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)
        )
        self._runner = asyncio.create_task(self.run(), name="crm-webhook")
        self.wakeup.start()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        await self.wakeup.stop()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before looking: a delivery queued meanwhile is not missed
            try:
                wait = await self._send_due_then_wait()
            except (RedisError, OSError) as exc:
                log.warning("crm webhook: redis unavailable (%r); retrying", exc)
                wait = BUSY_S
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(wait, self.poll_s))
            except TimeoutError:
                pass

    async def _send_due_then_wait(self) -> float:
        """Send what is due; the seconds until the next delivery is (one command when idle)."""
        first = await self._first_due()
        if first is not None and first <= self._clock.now().timestamp():
            await self.send_due()
            first = await self._first_due()
            if first is not None and first <= self._clock.now().timestamp():
                return BUSY_S  # held by another instance, or more than a batch was due
        return self.poll_s if first is None else first - self._clock.now().timestamp()

    async def _first_due(self) -> float | None:
        head = await self._r.zrange(keys.CRM_DUE, 0, 0, withscores=True)
        return float(head[0][1]) if head else None

    async def send_due(self) -> int:
        """Send every lead's deliveries that are due; returns how many were accepted."""
        now = self._clock.now().timestamp()
        due = await self._r.zrangebyscore(keys.CRM_DUE, "-inf", now, start=0, num=BATCH)
        accepted = 0
        for lead_id in cast(list[bytes], due):
            if self._stopping.is_set():
                break
            accepted += await self._drain(_text(lead_id))
        return accepted

    async def _drain(self, lead_id: str) -> int:
        lock = keys.crm_sending(lead_id)
        if not await self._r.set(lock, self._me, nx=True, px=SENDING_LOCK_MS):
            return 0  # another instance is on it
        sent = 0
        try:
            while not self._stopping.is_set():
                head = await self._r.lindex(keys.crm_outbox(lead_id), 0)
                if head is None:
                    if await self._done_if_empty(
                        keys=[
                            keys.crm_outbox(lead_id),
                            keys.CRM_DUE,
                            keys.crm_attempts(lead_id),
                        ],
                        args=[lead_id],
                    ):
                        break
                    continue
                if not await self._deliver(lead_id, _text(head)):
                    break
                sent += 1
                await self._r.pexpire(lock, SENDING_LOCK_MS)
        finally:
            await self._release(keys=[lock], args=[self._me])
        return sent

    async def _deliver(self, lead_id: str, head: str) -> bool:
        """Send the outbox's head; True when it was accepted (or can never be sent) and is gone."""
        entry = json.loads(head)
        url = self.url_for(entry["line"])
        if not url:
            log.warning(
                "crm webhook: no URL for a line any more; delivery %s dropped",
                entry["payload"]["delivery_id"],
            )
            await self._r.lpop(keys.crm_outbox(lead_id))
            return True
        outcome = await self._post(url, entry["payload"])
        self._metrics.crm_deliveries.labels(result=outcome).inc()
        if outcome == "accepted":
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.lpop(keys.crm_outbox(lead_id))
                pipe.delete(keys.crm_attempts(lead_id))
                await pipe.execute()
            return True
        attempts = int(await self._r.incr(keys.crm_attempts(lead_id)))
        delay = backoff(attempts)
        await self._r.zadd(
            keys.CRM_DUE, {lead_id: self._clock.now().timestamp() + delay}
        )
        log.warning(
            "crm webhook: delivery %s %s (attempt %d); next try in %.0f s",
            entry["payload"]["delivery_id"],
            outcome,
            attempts,
            delay,
        )
        return False

    async def _post(self, url: str, payload: dict[str, object]) -> str:
        assert self._http is not None, "start() first"
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "textback-crm-webhook/1",
            "X-Textback-Event": str(payload["event"]),
            "X-Textback-Delivery": str(payload["delivery_id"]),
            SIGNATURE_HEADER: sign(
                self._secret, body, int(self._clock.now().timestamp())
            ),
        }
        try:
            async with self._http.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                await resp.read()
                return "accepted" if 200 <= resp.status < 300 else "refused"
        except (aiohttp.ClientError, TimeoutError):
            return "unreachable"
