"""The environment `textback serve` needs to get past its settings, shared by the e2e tests
that run it as a process (a plain module: test modules never import one another)."""

from __future__ import annotations

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "secret",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "PUBLIC_URL": "https://textback.example.test",
}
