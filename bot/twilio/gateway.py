"""The `SmsSender` port over Twilio's REST API (async client)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.metrics import Metrics
from bot.phones import mask
from workflows.conversation import SmsResult
from workflows.ports import RetryLater

log = logging.getLogger(__name__)

# The async client applies no timeout of its own (PROTOCOLS 4.1); a hung request must not
# hold a conversation forever.
SEND_TIMEOUT_S = 10.0
# Twilio's clock and ours differ a little; a message created just before our mark still counts.
CLOCK_SLACK = timedelta(minutes=2)
# Refusals worth retrying later; everything else in 4xx is final (PROTOCOLS 2.3, 4.4).
RETRY_CODES = frozenset({20429, 21611})


def refusal(exc: TwilioRestException) -> SmsResult:
    """Classify a REST error: throttled (retry), server error (maybe created) or final."""
    return refused(int(exc.status or 0), int(exc.code or 0) or None, str(exc.msg))


def refused(status: int, code: int | None, message: str) -> SmsResult:
    """A refusal by HTTP status and Twilio error code (PROTOCOLS 2.3, 4.4)."""
    if status == 429 or code in RETRY_CODES:
        return SmsResult(ok=False, error_code=code, error="rate limited", transient=True)
    if status >= 500:
        return SmsResult(ok=False, error_code=code, error="SMS provider error", transient=True, ambiguous=True)
    return SmsResult(ok=False, error_code=code, error=message)


NO_ANSWER = SmsResult(ok=False, error="no answer from the SMS provider", transient=True, ambiguous=True)
UNREACHABLE = SmsResult(ok=False, error="could not reach the SMS provider", transient=True)


def answered(status: int, body: bytes) -> SmsResult:
    """What a Messages create answer says, read as twilio-python reads it (PROTOCOLS 4.4)."""
    try:
        payload: Any = json.loads(body) if body else {}
    except ValueError:
        payload = None
    if 200 <= status < 300:
        sid = payload.get("sid") if isinstance(payload, dict) else None
        return SmsResult(ok=True, sid=sid if isinstance(sid, str) else None)
    if not isinstance(payload, dict):
        return refused(status, status, "Unable to create record")
    if all(key in payload for key in ("type", "title", "status", "code")):
        # An RFC 9457 problem: the SDK raises TwilioServiceException for it, which has always
        # been read as "no answer" here (maybe created; the reconcile looks before resending).
        return NO_ANSWER
    message = "Unable to create record"
    if "message" in payload:
        message = f"{message}: {payload['message']}"
    code = payload.get("code", status)
    return refused(status, _int(code) or None, message)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class MessagesApi:
    """Where and as whom to create messages: `POST {base}/2010-04-01/Accounts/{AC}/Messages.json`."""

    url: str
    headers: dict[str, str]  # Accept and the Basic authorization, encoded once

    @classmethod
    def of(
        cls, *, account_sid: str, auth_token: str, api_key: str | None, api_secret: str | None, base_url: str
    ) -> MessagesApi:
        username, password = (api_key, api_secret) if api_key and api_secret else (account_sid, auth_token)
        url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        basic = base64.b64encode(f"{username}:{password}".encode("latin-1")).decode("ascii")
        return cls(url, {"Accept": "application/json", "Authorization": f"Basic {basic}"})


def make_client(
    *,
    account_sid: str,
    auth_token: str,
    api_key: str | None,
    api_secret: str | None,
    base_url: str,
    lookups_url: str | None = None,
    messaging_url: str | None = None,
) -> Client:
    """A Twilio client on a shared aiohttp session, pointed at `base_url` (must run in the loop).

    Lookup and Messaging v1 live on their own hosts (lookups.twilio.com, messaging.twilio.com);
    `lookups_url` and `messaging_url` point them elsewhere.
    """
    username, password = (api_key, api_secret) if api_key and api_secret else (account_sid, auth_token)
    # A non-empty environment keeps TWILIO_REGION/TWILIO_EDGE from rewriting the host.
    client = Client(
        username,
        password,
        account_sid,
        http_client=AsyncTwilioHttpClient(),
        environment={"TEXTBACK": "1"},
    )
    client.api.base_url = base_url.rstrip("/")
    if lookups_url:
        client.lookups.base_url = lookups_url.rstrip("/")
    if messaging_url:
        client.messaging.base_url = messaging_url.rstrip("/")
    return client


class TwilioSms:
    """Sends SMS; carrier refusals and timeouts come back as a failed `SmsResult`.

    The send is one POST on the app's shared HTTP session (the SDK's request path cost
    0.10-0.17 ms more CPU per message); the SDK client serves the rest (listing sent messages)."""

    def __init__(
        self, client: Client, status_callback: str, *, http: aiohttp.ClientSession, messages: MessagesApi
    ) -> None:
        self._client = client
        self._status_callback = status_callback
        self._http, self._messages = http, messages

    async def send_sms(self, *, to: str, from_: str, body: str, media: Sequence[str] = ()) -> SmsResult:
        # A picture alone goes with no Body (Twilio takes Body or MediaUrl); MediaUrl repeats.
        form = [("To", to), ("From", from_), *([("Body", body)] if body or not media else []),
                *(("MediaUrl", url) for url in media), ("StatusCallback", self._status_callback)]
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S), self._http.post(
                self._messages.url, data=form, headers=self._messages.headers
            ) as resp:
                result = answered(resp.status, await resp.read())
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been created.
            log.warning("sms to %s: cannot connect: %r", mask(to), exc)
            return UNREACHABLE
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have arrived and the answer been lost.
            log.warning("sms to %s: no answer: %r", mask(to), exc)
            return NO_ANSWER
        if not result.ok:
            log.warning("sms to %s refused: %s %s", mask(to), result.error_code, resp.status)
        return result

    async def find_sent(
        self, *, to: str, from_: str, body: str, since: datetime, media: int = 0
    ) -> SmsResult | None:
        """Ask Twilio whether this exact text (with `media` pictures) already went to `to`
        (reconciling an unsure send)."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                recent = await self._client.messages.list_async(
                    to=to, from_=from_, date_sent_after=since - timedelta(days=1), limit=50
                )
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"cannot check earlier sends: {exc!r}") from exc
        for msg in recent:
            created = msg.date_created
            pictures = int(msg.num_media or 0) if str(msg.num_media or "0").isdigit() else 0
            if msg.body == body and pictures == media and (created is None or created >= since - CLOCK_SLACK):
                return SmsResult(ok=True, sid=msg.sid)
        return None

    async def close(self) -> None:
        """Close the HTTP session under the client."""
        http = self._client.http_client
        if isinstance(http, AsyncTwilioHttpClient):
            await http.close()


# --- counted for /metrics -------------------------------------------------------------------


class MeteredSms(TwilioSms):
    """TwilioSms that counts sends and refusals."""

    def __init__(
        self, client: Client, status_callback: str, metrics: Metrics, *,
        http: aiohttp.ClientSession, messages: MessagesApi,
    ) -> None:
        super().__init__(client, status_callback, http=http, messages=messages)
        self.metrics = metrics

    async def send_sms(self, *, to: str, from_: str, body: str, media: Sequence[str] = ()) -> SmsResult:
        result = await super().send_sms(to=to, from_=from_, body=body, media=media)
        if result.ok:
            self.metrics.sms_outbound.labels(line=from_).inc()
        else:
            self.metrics.twilio_errors.labels(
                code=str(result.error_code or "no_answer")
            ).inc()
        return result
