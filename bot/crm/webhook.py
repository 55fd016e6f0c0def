"""The CRM webhook: each lead's deliveries POSTed in order, signed, retried until a 2xx.

Deliveries wait in Redis (a list per lead, written with the lead itself, see
bot/store/leads.py), so a restart loses none. With the first one the lead gets its sending job
in the engine (bot/work/engine.py); it sends the outbox head first and ends only once the
outbox is empty, so a lead's next delivery leaves only after the previous one was accepted.
A refusal makes the job wait for its retry (the engine's back-off, up to 10 minutes, forever:
a CRM down for a weekend gets everything on Monday, in order). A crash between the receiver's
2xx and our record of it sends that delivery again: receivers drop repeats by `delivery_id`
(at-least-once, like every webhook).

Signature (README, "CRM webhook"): `X-Textback-Signature: t=<unix seconds>,v1=<hex>` where
hex is HMAC-SHA256 with the shared secret over `<t>.<raw body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import cast

import aiohttp
from redis.asyncio import Redis

from bot.metrics import Metrics
from bot.store import keys
from bot.work.deadlines import Deadlines
from workflows.jobs import CrmDeliveryJob
from workflows.ports import Clock, RetryLater

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Textback-Signature"
TIMEOUT_S = 10.0

# The job is done only when its outbox is really empty, so a delivery queued between our last
# look and this step (which found the job still there and queued none) is not stranded.
_DONE_IF_EMPTY = """
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return 1
end
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
    ) -> None:
        self._r = redis
        self.url_for = url_for
        self._secret = secret
        self._clock = clock
        self._metrics = metrics
        self._done_if_empty = redis.register_script(_DONE_IF_EMPTY)
        self._http: aiohttp.ClientSession | None = None

    def enabled_for(self, line: str) -> bool:
        return bool(self.url_for(line))

    def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def send_outbox(self, job: CrmDeliveryJob) -> None:
        """The lead's sending job: deliver the outbox in order until it is empty. A delivery
        refused or unreachable is kept at the head for the job's retry."""
        outbox = keys.crm_outbox(job.lead)
        while True:
            head = await self._r.lindex(outbox, 0)
            if head is None:
                if await self._done_if_empty(keys=[outbox, keys.due_job(keys.crm_job(job.lead))]):
                    return
                continue
            outcome = await self._deliver(job.lead, _text(head))
            if outcome not in ("accepted", "dropped"):
                raise RetryLater(f"crm webhook: delivery {outcome}")

    async def adopt_older(self, jobs: Deadlines, now: datetime) -> int:
        """Leads whose deliveries an older version left waiting get their sending job now."""
        waiting = cast(list[bytes], await self._r.zrange(keys.OLD_CRM_DUE, 0, -1))
        for lead in waiting:
            lead_id = _text(lead)
            await jobs.ensure(keys.crm_job(lead_id), CrmDeliveryJob(lead=lead_id), now)
            await self._r.zrem(keys.OLD_CRM_DUE, lead)
        return len(waiting)

    async def _deliver(self, lead_id: str, head: str) -> str:
        """Send the outbox's head; it leaves the outbox once accepted (or when it can never go)."""
        entry = json.loads(head)
        url = self.url_for(entry["line"])
        if not url:
            log.warning(
                "crm webhook: no URL for a line any more; delivery %s dropped",
                entry["payload"]["delivery_id"],
            )
            await self._r.lpop(keys.crm_outbox(lead_id))
            return "dropped"
        outcome = await self._post(url, entry["payload"])
        self._metrics.crm_deliveries.labels(result=outcome).inc()
        if outcome == "accepted":
            await self._r.lpop(keys.crm_outbox(lead_id))
        else:
            log.warning("crm webhook: delivery %s %s", entry["payload"]["delivery_id"], outcome)
        return outcome

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
