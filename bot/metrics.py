"""Prometheus metrics, one registry per app (so several apps in one process never collide).

The wrappers that count sends and Slack errors live with their gateways (bot/twilio/gateway.py,
bot/slack/gateway.py); this module holds the registry and the names.

`GET /metrics` serves them in Prometheus's text format. Counters are per instance: Prometheus
scrapes each machine and sums. The recovery gauges are read from Redis at each scrape, so every
instance serves the same values (take their max, not their sum).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# What generate_latest writes: the classic text format every Prometheus reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Text-back latency: our promise is well under a second (PRODUCT §1).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The recovery figure's steps (workflows/recovery.py), the `step` label of the recovery gauge.
RECOVERY_STEPS = ("missed", "texted", "replied", "answered", "booked")
# Time to first human reply: from a minute to a day.
REPLY_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)


def suppression_label(reason: str) -> str:
    """A short, bounded label for why no text-back went out (the full reason is in the thread)."""
    text = reason.lower()
    for needle, label in (
        ("cooldown", "cooldown"),
        ("may be an opt-out", "opt_out_undecided"),
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
        self.sms_undelivered = Counter(
            "textback_sms_undelivered",
            "Texts Twilio accepted whose delivery report said failed or undelivered, by error code",
            ["line", "code"],
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

        self.recovered_callers = Gauge(
            "textback_recovered_callers",
            "This week's callers (line's local Monday to now) at each step of what it earned",
            ["line", "step"],
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
