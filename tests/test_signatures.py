"""Twilio and Slack signatures against the published vectors."""

from __future__ import annotations

from multidict import MultiDict
from slack_sdk.signature import SignatureVerifier

from bot.slack.signing import sign
from bot.twilio import signature

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_twilio_official_vector() -> None:
    assert signature.compute(VECTOR_URL, VECTOR_PARAMS, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature.verify(VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345")
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert signature.compute(with_port, VECTOR_PARAMS, "12345") == "kvajT1Ptam85bY51eRf/AJRuM3w="
    assert signature.verify(VECTOR_URL, VECTOR_PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=", "12345")


def test_project_worked_example() -> None:
    params = {
        "AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "1" * 32, "CallStatus": "in-progress",
        "DialCallStatus": "no-answer", "Direction": "inbound", "From": "+15125550123", "To": "+15125550100",
    }
    url = "https://textback-demo.fly.dev/twilio/voice/dial-status?line=%2B15125550100"
    assert signature.compute(url, params, "not-a-real-auth-token-00000000") == "RYGkrA2/JJZ6atK7M5khtxzq+ho="


def test_tampering_fails() -> None:
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert not signature.verify(VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}, good, "12345")
    assert not signature.verify(VECTOR_URL, {**VECTOR_PARAMS, "Extra": ""}, good, "12345")
    assert not signature.verify(VECTOR_URL.replace("foo=1&bar=2", "bar=2&foo=1"), VECTOR_PARAMS, good, "12345")
    assert not signature.verify("http://mycompany.com/myapp.php?foo=1&bar=2", VECTOR_PARAMS, good, "12345")
    assert not signature.verify(VECTOR_URL, VECTOR_PARAMS, good, "54321")
    assert not signature.verify(VECTOR_URL, VECTOR_PARAMS, None, "12345")
    assert not signature.verify(VECTOR_URL, VECTOR_PARAMS, "", "12345")


def test_repeated_parameters_sign_every_value() -> None:
    pairs = [("MediaUrl", "https://b.example"), ("MediaUrl", "https://a.example"), ("To", "+1")]
    sig = signature.compute("https://x.example/t", pairs, "tok")
    assert signature.verify("https://x.example/t", MultiDict(pairs), sig, "tok")
    assert not signature.verify("https://x.example/t", MultiDict(pairs[1:]), sig, "tok")


def test_public_request_url_ignores_the_proxy_scheme() -> None:
    assert signature.public_request_url("https://a.fly.dev/", "/twilio/sms?x=%2B1") == "https://a.fly.dev/twilio/sms?x=%2B1"


def test_slack_worked_example() -> None:
    body = (
        b"token=x&team_id=T0AB12CD3&channel_id=C0123456789&user_id=U0123456789&command=%2Ftextback"
        b"&text=status&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0AB12CD3%2F1%2Fabc"
        b"&trigger_id=1.2.3"
    )
    headers = sign(body, "not-a-real-secret-0123456789abcdef", 1700000000)
    assert headers["X-Slack-Signature"] == "v0=9825d67c50b9e1df19681556666c79623596418b40fddf54721c2d6505977821"
    verifier = SignatureVerifier("not-a-real-secret-0123456789abcdef", clock=_Clock(1700000000 + 299))
    assert verifier.is_valid(body, "1700000000", headers["X-Slack-Signature"])
    late = SignatureVerifier("not-a-real-secret-0123456789abcdef", clock=_Clock(1700000000 + 301))
    assert not late.is_valid(body, "1700000000", headers["X-Slack-Signature"])


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t
