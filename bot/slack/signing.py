"""Slack's request signing (v0, HMAC-SHA256), for requests the tests and the demo send."""

from __future__ import annotations

from slack_sdk.signature import SignatureVerifier

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The two headers Slack puts on a request with this raw body (PROTOCOLS 5.7)."""
    stamp = str(int(timestamp))
    sig = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    if sig is None:  # only when the timestamp or body is None, which the types rule out
        raise ValueError("cannot sign a request without a timestamp and a body")
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sig}
