"""Slack's request signing (v0, HMAC-SHA256), for requests the tests and the demo send."""

from __future__ import annotations

from slack_sdk.signature import SignatureVerifier


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The two headers Slack puts on a request with this body."""
    sig = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": str(sig)}
