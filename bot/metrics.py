"""Prometheus metrics, one registry per app (so several apps in one process never collide).

`GET /metrics` serves them in Prometheus's text format. Counters are per instance: Prometheus
scrapes each machine and sums.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import aiohttp
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from twilio.rest import Client

from bot.twilio.gateway import TwilioSms
from workflows.conversation import SmsResult

# What generate_latest writes: the classic text format every Prometheus reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Text-back latency: our promise is well under a second (PRODUCT §1).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Time to first human reply: from a minute to a day.
REPLY_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)


def suppression_label(reason: str) -> str:
    """A short, bounded label for why no text-back went out (the full reason is in the thread)."""
    text = reason.lower()
    for needle, label in (
        ("cooldown", "cooldown"),
        ("opted out", "opted_out"),
        ("blocked", "blocked"),
        ("landline", "landline"),
        ("withheld", "withheld"),
        ("short code", "short_code"),
        ("not a phone number", "invalid_number"),
        ("own numbers", "own_number"),
        ("international", "international"),
        ("quiet", "quiet_hours"),
    ):
        if needle in text:
            return label
    return "other"


class Metrics:
    """Every counter and histogram textback exports, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.missed_calls = Counter(
            "textback_missed_calls", "Missed calls", ["line"], registry=r
        )
        self.textbacks_sent = Counter(
            "textback_textbacks_sent",
            "Text-backs accepted by Twilio",
            ["line"],
            registry=r,
        )
        self.textbacks_suppressed = Counter(
            "textback_textbacks_suppressed",
            "Missed calls that got no text-back, by reason",
            ["line", "reason"],
            registry=r,
        )
        self.textback_latency = Histogram(
            "textback_textback_latency_seconds",
            "From the missed call being recorded to Twilio accepting the text",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sms_inbound = Counter(
            "textback_sms_inbound", "Texts received from callers", ["line"], registry=r
        )
        self.sms_outbound = Counter(
            "textback_sms_outbound", "Texts accepted by Twilio", ["line"], registry=r
        )
        self.slack_errors = Counter(
            "textback_slack_api_errors",
            "Slack Web API errors, by method and error code",
            ["method", "error"],
            registry=r,
        )
        self.twilio_errors = Counter(
            "textback_twilio_api_errors",
            "Twilio REST errors on sends, by error code",
            ["code"],
            registry=r,
        )
        self.reminders_sent = Counter(
            "textback_reminders_sent",
            "Reminders posted on unanswered threads",
            registry=r,
        )
        self.pages_sent = Counter(
            "textback_pages_sent", "On-call pages, by channel", ["via"], registry=r
        )
        self.first_reply = Histogram(
            "textback_first_reply_seconds",
            "From a conversation opening to the first team reply texted",
            buckets=REPLY_BUCKETS,
            registry=r,
        )
        self.leads_created = Counter(
            "textback_leads_created", "Leads created", ["line"], registry=r
        )
        self.crm_deliveries = Counter(
            "textback_crm_webhook_deliveries",
            "CRM webhook attempts, by result",
            ["result"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # Wiring for reminders and pages (PRODUCT §2.4, §2.5).
    def reminder_sent(self) -> None:
        self.reminders_sent.inc()

    def page_sent(self, via: str = "slack") -> None:
        """`via`: slack, sms or voice."""
        self.pages_sent.labels(via=via).inc()


def job_recorded_at(job_id: str) -> float | None:
    """When a job was recorded (epoch s), read from its stream entry id "<ms>-<n>"."""
    head = job_id.split("-", 1)[0]
    return int(head) / 1000 if head.isdigit() else None


class MeteredSms(TwilioSms):
    """TwilioSms that counts sends and refusals."""

    def __init__(self, client: Client, status_callback: str, metrics: Metrics) -> None:
        super().__init__(client, status_callback)
        self.metrics = metrics

    async def send_sms(self, *, to: str, from_: str, body: str) -> SmsResult:
        result = await super().send_sms(to=to, from_=from_, body=body)
        if result.ok:
            self.metrics.sms_outbound.labels(line=from_).inc()
        else:
            self.metrics.twilio_errors.labels(
                code=str(result.error_code or "no_answer")
            ).inc()
        return result


class TextbackTimer:
    """An SmsSender for one missed-call job: observes the text-back's latency when it is accepted."""

    def __init__(
        self, sms: TwilioSms, metrics: Metrics, recorded_at: float | None
    ) -> None:
        self._sms, self._metrics, self._since = sms, metrics, recorded_at

    async def send_sms(self, *, to: str, from_: str, body: str) -> SmsResult:
        result = await self._sms.send_sms(to=to, from_=from_, body=body)
        if result.ok and self._since is not None:
            # Wall time on purpose: the job id carries the recording time by Redis's clock.
            self._metrics.textback_latency.observe(max(0.0, time.time() - self._since))
        return result

    async def find_sent(
        self, *, to: str, from_: str, body: str, since: datetime
    ) -> SmsResult | None:
        return await self._sms.find_sent(to=to, from_=from_, body=body, since=since)


class MeteredWebClient(AsyncWebClient):
    """The Slack client, counting every error answer and failed connection by method."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            self.metrics.slack_errors.labels(method=api_method, error=error).inc()
            raise
        except (aiohttp.ClientError, TimeoutError):
            self.metrics.slack_errors.labels(
                method=api_method, error="unreachable"
            ).inc()
            raise

