"""Random and malformed bodies into every /twilio route: never a 500, and an unsigned request
never has an effect."""

from __future__ import annotations

import io

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standins.rig import ACCOUNT_SID, Rig
from tests.conftest import CALLER, LINE
from tests.integration.conftest import effects_in_redis
from tests.integration.steps import TWILIO_ROUTES

FIELDS = ["AccountSid", "CallSid", "MessageSid", "From", "To", "Body", "DialCallStatus", "CallStatus",
          "NumMedia", "MediaUrl0", "MessageStatus", "ErrorCode", "CallerName", "OptOutType", "Digits"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([LINE, CALLER, "", "anonymous", "+266696687", "no-answer", "completed", "busy",
                     "99", "-1", "10", "STOP", "HELP", "AC" + "0" * 32, "x" * 5000]),
)
FORMS = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), VALUES, max_size=10)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(form=FORMS, route=st.sampled_from(TWILIO_ROUTES))
async def test_signed_random_forms_never_crash(rig: Rig, form: dict[str, str], route: str) -> None:
    status, _ = await rig.twilio_post(route, form)
    foreign = form.get("AccountSid", "") not in ("", ACCOUNT_SID)
    assert status == (403 if foreign else status) and status in (200, 204, 403), (route, form)
    await rig.settle()


@FUZZ
@given(form=FORMS, route=st.sampled_from(TWILIO_ROUTES))
async def test_unsigned_random_forms_are_refused_without_effect(rig: Rig, form: dict[str, str], route: str) -> None:
    status, body = await rig.twilio_post(route, form, sign=False)
    assert (status, body) == (403, "")
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
