"""Random and malformed bodies into every route, signed and unsigned: never a 5xx; an unsigned
request is refused and has no effect; a signed one gets the route's own answer.

Each route gets FUZZ_EXAMPLES examples per test (default 100; .ci/run sets
TEXTBACK_FUZZ_EXAMPLES=2000)."""

from __future__ import annotations

import io
import json
import os
import time
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.signing import sign as slack_sign
from bot.twilio.webhooks import compute, public_request_url
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, SIGNING_SECRET, TEAM_ID, Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.conftest import effects_in_redis
from tests.integration.steps import TWILIO_ROUTES

FUZZ_EXAMPLES = int(os.environ.get("TEXTBACK_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

FIELDS = ["AccountSid", "CallSid", "MessageSid", "From", "To", "Body", "DialCallStatus", "CallStatus",
          "NumMedia", "MediaUrl0", "MessageStatus", "ErrorCode", "CallerName", "OptOutType", "Digits",
          "RecordingDuration", "RecordingStatus", "RecordingUrl", "RecordingSid"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([LINE, CALLER, "", "anonymous", "+266696687", "no-answer", "completed", "busy",
                     "99", "-1", "10", "\u00b2", "\u0665", "1_0", " 7", "9" * 5000, "STOP", "HELP",
                     ACCOUNT_SID, "AC" + "9" * 32, "x" * 5000]),
)
FORMS = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), VALUES, max_size=10)
# What each Twilio route answers a signed request for our account, whatever else it carries.
ANSWER = {route: 204 if route == "/twilio/sms/status" else 200 for route in TWILIO_ROUTES}
FORM = "application/x-www-form-urlencoded"


def foreign(form: dict[str, str]) -> bool:
    return form.get("AccountSid", "") not in ("", ACCOUNT_SID)


@pytest.mark.parametrize("route", TWILIO_ROUTES)
@FUZZ
@given(form=FORMS)
async def test_signed_random_forms_get_the_routes_answer(rig: Rig, route: str, form: dict[str, str]) -> None:
    status, _ = await rig.twilio_post(route, form)
    assert status == (403 if foreign(form) else ANSWER[route]), (route, form)
    await rig.settle()


@pytest.mark.parametrize("route", TWILIO_ROUTES)
@FUZZ
@given(form=FORMS, token=st.sampled_from([None, "wrong-token", ""]))
async def test_unsigned_random_forms_are_refused_without_effect(
    rig: Rig, route: str, form: dict[str, str], token: str | None
) -> None:
    if token is None:
        status, body = await rig.twilio_post(route, form, sign=False)
    else:
        status, body = await rig.twilio_post(route, form, token=token or "x")
    assert (status, body) == (403, "")
    await rig.settle()
    assert rig.twilio.requests == [] and rig.slack.requests == []
    assert await effects_in_redis(rig) == []


def multipart(form: dict[str, str], upload: bytes | None) -> tuple[bytes, str]:
    """A multipart/form-data body of these fields, with a file part when `upload` is given."""
    boundary = "fuzz0boundary0textback"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode("utf-8", "replace")
             for k, v in form.items()]
    if upload is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="x.bin"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + upload + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@st.composite
def odd_bodies(draw: st.DrawFn) -> tuple[bytes, str, dict[str, str], bool]:
    """A body Twilio never sends (multipart, a file part, a bogus or foreign charset, not a form,
    bytes that are not ASCII), the form it stands for, which its signature may cover, and whether
    it is refused as unreadable (400) before any signature is looked at."""
    form = draw(FORMS)
    kind = draw(st.sampled_from(["multipart", "multipart+file", "charset", "bytes"]))
    if kind.startswith("multipart"):
        body, ctype = multipart(form, draw(st.binary(max_size=200)) if kind.endswith("file") else None)
    elif kind == "charset":
        charset = draw(st.sampled_from(["nope", "rot13", "base64", "utf-16", "latin-1", "UTF-16LE"]))
        body, ctype = urlencode(form).encode(), f"{FORM}; charset={charset}"
    else:
        body = draw(st.binary(max_size=300).filter(lambda b: not b.isascii()))
        ctype = draw(st.sampled_from([FORM, "application/json", "text/plain", ""]))
    return body, ctype, form, kind != "bytes"


@pytest.mark.parametrize("route", TWILIO_ROUTES)
@FUZZ
@given(odd=odd_bodies(), signature=st.sampled_from(["real", "garbage", "none"]))
async def test_bodies_twilio_never_sends_are_refused(
    rig: Rig, route: str, odd: tuple[bytes, str, dict[str, str], bool], signature: str
) -> None:
    body, ctype, form, unreadable = odd
    headers = {"Content-Type": ctype} if ctype else {}
    if signature == "real":  # signed as if Twilio had posted the form: still not a form we read
        headers["X-Twilio-Signature"] = compute(public_request_url(rig.settings.public_url, route), form, AUTH_TOKEN)
    elif signature == "garbage":
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    async with aiohttp.ClientSession() as http, http.post(rig.url + route, data=body, headers=headers) as r:
        assert r.status in ((400,) if unreadable else (400, 403)), (route, ctype, signature, r.status)
    await rig.settle()
    assert rig.twilio.requests == [] and rig.slack.requests == []
    assert await effects_in_redis(rig) == []


async def test_raw_garbage_bodies_are_answered(rig: Rig) -> None:
    bodies = [b"", b"%%%%", b"a=%ZZ&b=%", b"\xff\xfe\x00garbage", b"=" * 10000, b"x=" + b"y" * 2_000_000,
              b'{"json": "instead"}']
    async with aiohttp.ClientSession() as http:
        for route in TWILIO_ROUTES:
            for body in bodies:
                for ctype in ("application/x-www-form-urlencoded", "application/json", "text/plain"):
                    headers = {"Content-Type": ctype, "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
                    async with http.post(rig.url + route, data=io.BytesIO(body), headers=headers) as r:
                        assert r.status in (400, 403, 413), (route, body[:20], ctype, r.status)
    await rig.settle()
    assert rig.twilio.requests == [] and rig.slack.requests == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
SLACK_KEYS = st.sampled_from(["type", "event", "team_id", "team", "user", "user_id", "channel", "channel_id",
                              "authorizations", "enterprise", "is_enterprise_install", "actions", "view",
                              "command", "text", "thread_ts", "ts", "event_id", "api_app_id", "challenge"])
SLACK_VALUES = JSON | st.sampled_from(["event_callback", "block_actions", "message", "url_verification",
                                       "view_submission", "/textback", TEAM_ID, CHANNEL, "U0TEAM0001"])
SLACK_OBJECTS = st.dictionaries(SLACK_KEYS | st.text(max_size=8), SLACK_VALUES, max_size=8)


@st.composite
def slack_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """Bodies in Slack's three shapes (JSON, a form with `payload=`, a slash-command form),
    and malformed ones: invalid JSON, a JSON list, `payload=%7Bbad`, bytes that are not UTF-8."""
    kind = draw(st.sampled_from(["json", "payload", "form", "raw"]))
    if kind == "json":
        return json.dumps(draw(SLACK_OBJECTS | JSON)).encode(), draw(st.sampled_from(["application/json", FORM]))
    if kind == "payload":
        payload = draw(st.sampled_from(["{bad", "[1]", "", "null"]) | JSON.map(json.dumps)
                       | SLACK_OBJECTS.map(json.dumps))
        return urlencode({"payload": payload}).encode(), FORM
    if kind == "form":
        return urlencode(draw(st.dictionaries(SLACK_KEYS | st.text(max_size=8), st.text(max_size=20)))).encode(), FORM
    ctype = draw(st.sampled_from(["application/json", FORM, "application/json; charset=nope", "text/plain", ""]))
    return draw(st.binary(max_size=200)), ctype


@FUZZ
@given(body=slack_bodies(), how=st.sampled_from(["none", "wrong-secret", "stale", "stamp-not-a-number"]))
async def test_unsigned_slack_bodies_get_401_without_effect(rig: Rig, body: tuple[bytes, str], how: str) -> None:
    raw, ctype = body
    now = int(time.time())
    headers = {} if how == "none" else slack_sign(raw, "wrong-secret" if how == "wrong-secret" else SIGNING_SECRET,
                                                  now - 600 if how == "stale" else now)
    if how == "stamp-not-a-number":
        headers["X-Slack-Request-Timestamp"] = "\u00b2"
    if ctype:
        headers["Content-Type"] = ctype
    async with aiohttp.ClientSession() as http, http.post(rig.url + "/slack/events", data=raw, headers=headers) as r:
        assert r.status == 401, (raw[:80], ctype, how)
    await rig.settle()
    assert rig.twilio.requests == [] and rig.slack.requests == []
    assert await effects_in_redis(rig) == []


@FUZZ
@given(body=slack_bodies())
async def test_signed_slack_bodies_never_get_a_5xx(rig: Rig, body: tuple[bytes, str]) -> None:
    raw, ctype = body
    headers = {**slack_sign(raw, SIGNING_SECRET, int(time.time())), **({"Content-Type": ctype} if ctype else {})}
    async with aiohttp.ClientSession() as http, http.post(rig.url + "/slack/events", data=raw, headers=headers) as r:
        # Signed, so never refused as unsigned; malformed, so 400 rather than a crash.
        assert r.status < 500 and r.status != 401, (raw[:80], ctype, r.status)
    await rig.settle()
