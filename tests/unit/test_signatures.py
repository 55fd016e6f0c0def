"""Twilio and Slack signatures against the published vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from multidict import MultiDict, MultiDictProxy
from slack_sdk.signature import SignatureVerifier

from bot.slack.signing import sign
from bot.twilio import webhooks

VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_URL_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
VECTOR_SIG = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
VECTOR_SIG_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="

PROJECT_TOKEN = "not-a-real-auth-token-00000000"
PROJECT_URL = "https://textback-demo.fly.dev/twilio/voice/dial-status?line=%2B15125550100"
PROJECT_PARAMS = {
    "AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "1" * 32, "CallStatus": "in-progress",
    "DialCallStatus": "no-answer", "Direction": "inbound", "From": "+15125550123", "To": "+15125550100",
}

SLACK_SECRET = "not-a-real-secret-0123456789abcdef"
SLACK_BODY = (
    b"token=x&team_id=T0AB12CD3&channel_id=C0123456789&user_id=U0123456789&command=%2Ftextback"
    b"&text=status&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0AB12CD3%2F1%2Fabc"
    b"&trigger_id=1.2.3"
)
SLACK_SIG = "v0=9825d67c50b9e1df19681556666c79623596418b40fddf54721c2d6505977821"


def test_twilio_official_vector() -> None:
    assert webhooks.compute(VECTOR_URL, VECTOR_PARAMS, VECTOR_TOKEN) == VECTOR_SIG
    assert webhooks.verify(VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG, VECTOR_TOKEN)


def test_twilio_vector_with_default_port() -> None:
    assert webhooks.compute(VECTOR_URL_443, VECTOR_PARAMS, VECTOR_TOKEN) == VECTOR_SIG_443
    # Either form of the signature is accepted whichever form of the URL we hold.
    for url in (VECTOR_URL, VECTOR_URL_443):
        for sig in (VECTOR_SIG, VECTOR_SIG_443):
            assert webhooks.verify(url, VECTOR_PARAMS, sig, VECTOR_TOKEN)


def test_twilio_vector_matches_a_hand_rolled_hmac() -> None:
    signed = VECTOR_URL + "".join(k + v for k, v in sorted(VECTOR_PARAMS.items()))
    assert signed == (
        "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309"
        "Digits1234From+14158675309To+18005551212"
    )
    mac = hmac.new(VECTOR_TOKEN.encode(), signed.encode(), hashlib.sha1).digest()
    assert base64.b64encode(mac).decode() == VECTOR_SIG


def test_project_worked_example() -> None:
    assert webhooks.compute(PROJECT_URL, PROJECT_PARAMS, PROJECT_TOKEN) == "RYGkrA2/JJZ6atK7M5khtxzq+ho="
    assert webhooks.verify(PROJECT_URL, PROJECT_PARAMS, "RYGkrA2/JJZ6atK7M5khtxzq+ho=", PROJECT_TOKEN)


@pytest.mark.parametrize(
    ("url", "params", "sig", "token"),
    [
        (VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}, VECTOR_SIG, VECTOR_TOKEN),
        (VECTOR_URL, {**VECTOR_PARAMS, "CallerName": ""}, VECTOR_SIG, VECTOR_TOKEN),
        (VECTOR_URL, {k: v for k, v in VECTOR_PARAMS.items() if k != "To"}, VECTOR_SIG, VECTOR_TOKEN),
        (VECTOR_URL.replace("foo=1&bar=2", "bar=2&foo=1"), VECTOR_PARAMS, VECTOR_SIG, VECTOR_TOKEN),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", VECTOR_PARAMS, VECTOR_SIG, VECTOR_TOKEN),
        ("https://mycompany.com/myapp.php", VECTOR_PARAMS, VECTOR_SIG, VECTOR_TOKEN),
        (VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG, "54321"),
        (VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG, ""),
        (VECTOR_URL, VECTOR_PARAMS, None, VECTOR_TOKEN),
        (VECTOR_URL, VECTOR_PARAMS, "", VECTOR_TOKEN),
        (VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG[:-2] + "A=", VECTOR_TOKEN),
        (VECTOR_URL, VECTOR_PARAMS, VECTOR_SIG + " ", VECTOR_TOKEN),
        (VECTOR_URL, VECTOR_PARAMS, "ü" * len(VECTOR_SIG), VECTOR_TOKEN),
        (PROJECT_URL.replace("%2B", "+"), PROJECT_PARAMS, "RYGkrA2/JJZ6atK7M5khtxzq+ho=", PROJECT_TOKEN),
    ],
)
def test_tampering_fails(url: str, params: dict[str, str], sig: str | None, token: str) -> None:
    assert not webhooks.verify(url, params, sig, token)


def test_explicit_port_is_part_of_the_url() -> None:
    url = "https://textback.example.test:1234/twilio/sms"
    sig = webhooks.compute(url, PROJECT_PARAMS, PROJECT_TOKEN)
    assert webhooks.verify(url, PROJECT_PARAMS, sig, PROJECT_TOKEN)
    assert not webhooks.verify(url.replace(":1234", ":1235"), PROJECT_PARAMS, sig, PROJECT_TOKEN)


def test_repeated_parameters_sign_every_value() -> None:
    pairs = [("MediaUrl", "https://b.example"), ("MediaUrl", "https://a.example"), ("To", "+1")]
    url = "https://x.example/t"
    sig = webhooks.compute(url, pairs, "tok")
    signed = url + "MediaUrlhttps://a.exampleMediaUrlhttps://b.exampleTo+1"
    assert sig == base64.b64encode(hmac.new(b"tok", signed.encode(), hashlib.sha1).digest()).decode()
    # aiohttp hands the form over as a MultiDictProxy; plain pairs and MultiDicts work too.
    for params in (MultiDictProxy(MultiDict(pairs)), MultiDict(pairs), pairs, list(reversed(pairs))):
        assert webhooks.verify(url, params, sig, "tok")
    assert not webhooks.verify(url, MultiDict(pairs[1:]), sig, "tok")
    assert not webhooks.verify(url, dict(pairs), sig, "tok")


def test_identical_repeated_values_count_once() -> None:
    # twilio-python signs each distinct value once, so a duplicated pair signs like a single one.
    one = webhooks.compute("https://x.example/t", [("A", "1")], "tok")
    assert webhooks.compute("https://x.example/t", [("A", "1"), ("A", "1")], "tok") == one


def test_json_webhook_body_hash() -> None:
    body = '{"property": "value", "boolean": true}'
    digest = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    url = f"https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={digest}"
    assert webhooks.verify(url, body, "a9nBmqA0ju/hNViExpshrM61xv4=", VECTOR_TOKEN)
    assert not webhooks.verify(url, body.replace("true", "false"), "a9nBmqA0ju/hNViExpshrM61xv4=", VECTOR_TOKEN)


def test_public_request_url_ignores_the_proxy_scheme() -> None:
    assert webhooks.public_request_url("https://a.fly.dev/", "/twilio/sms?x=%2B1") == "https://a.fly.dev/twilio/sms?x=%2B1"
    assert webhooks.public_request_url("https://a.fly.dev", "/twilio/sms") == "https://a.fly.dev/twilio/sms"
    url = webhooks.public_request_url("https://textback-demo.fly.dev/", "/twilio/voice/dial-status?line=%2B15125550100")
    assert url == PROJECT_URL


def test_slack_worked_example() -> None:
    headers = sign(SLACK_BODY, SLACK_SECRET, 1700000000)
    assert headers == {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": SLACK_SIG}
    basestring = b"v0:1700000000:" + SLACK_BODY
    assert SLACK_SIG == "v0=" + hmac.new(SLACK_SECRET.encode(), basestring, hashlib.sha256).hexdigest()


def test_slack_signature_window_and_tampering() -> None:
    headers = sign(SLACK_BODY, SLACK_SECRET, 1700000000)
    on_time = SignatureVerifier(SLACK_SECRET, clock=_Clock(1700000000 + 299))
    assert on_time.is_valid_request(SLACK_BODY, headers)
    late = SignatureVerifier(SLACK_SECRET, clock=_Clock(1700000000 + 301))
    assert not late.is_valid_request(SLACK_BODY, headers)
    assert not on_time.is_valid_request(SLACK_BODY.replace(b"status", b"statuz"), headers)
    assert not SignatureVerifier("another-secret", clock=_Clock(1700000000)).is_valid_request(SLACK_BODY, headers)


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t
