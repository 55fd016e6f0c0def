"""The environment a `textback serve` subprocess needs in the end-to-end tests."""

from __future__ import annotations

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "secret",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "PUBLIC_URL": "https://textback.example.test",
}
