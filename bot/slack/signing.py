"""Slack's request signing (v0, HMAC-SHA256): checked over the raw body before anything parses
it, and produced for the requests the tests and the demo send."""

from __future__ import annotations

import hashlib
import hmac
import re

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_AGE_S = 5 * 60  # Slack's advice, and Bolt's own window: a replay older than this is refused
STAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds; `int()` alone takes "²", " 1", "1_0"


def signature(body: bytes, secret: str, stamp: str) -> str:
    """`v0=` and the hex HMAC-SHA256 of `v0:{stamp}:{body}` (PROTOCOLS 5.7), over the raw bytes:
    slack_sdk's verifier decodes the body first, and raises on bytes that are not UTF-8."""
    base = b"v0:" + stamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The two headers Slack puts on a request with this raw body."""
    stamp = str(int(timestamp))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature(body, secret, stamp)}


def verify(body: bytes, stamp: str | None, sent: str | None, secret: str, *, now: float) -> bool:
    """True when Slack signed this raw body within MAX_AGE_S of `now` (Unix seconds).

    It never raises: a missing, non-numeric or non-ASCII header is simply not a signature
    (`hmac.compare_digest` refuses non-ASCII str), and without a secret nothing is signed.
    """
    if not secret or not stamp or not sent or not STAMP.fullmatch(stamp) or not sent.isascii():
        return False
    if abs(now - int(stamp)) > MAX_AGE_S:
        return False
    return hmac.compare_digest(signature(body, secret, stamp), sent)
