"""The environment a `textback serve` subprocess needs in the end-to-end tests."""

from __future__ import annotations

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "secret",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "PUBLIC_URL": "https://textback.example.test",
    # Nothing listens here: a server under test never reaches slack.com or twilio.com (the
    # start-up registration check, for one, asks Twilio in the background).
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "TWILIO_API_URL": "http://127.0.0.1:9",
}
