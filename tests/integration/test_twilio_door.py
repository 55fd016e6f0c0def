"""Twilio's door: bodies Twilio never sends (multipart, a file part, another charset) are refused
before any parser that can raise, and signed values that only look like numbers are handled:
never a 500, never a traceback in the log."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.twilio.webhooks import compute, public_request_url
from standins.rig import ACCOUNT_SID, AUTH_TOKEN, Rig, new_sid
from tests.conftest import CALLER, LINE
from tests.integration.conftest import effects_in_redis
from tests.integration.steps import TWILIO_ROUTES

FORM = "application/x-www-form-urlencoded"


def multipart_with_a_file() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("AccountSid", ACCOUNT_SID)
    form.add_field("From", CALLER)
    form.add_field("upload", b"\x00binary", filename="x.bin", content_type="application/octet-stream")
    return form


async def post(rig: Rig, path: str, data: object, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(rig.url + path, data=data, headers=headers) as r:
        return r.status


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_twilio_multipart_with_a_file_part_is_refused(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    for path in TWILIO_ROUTES:
        for signature in ("bm90IGEgc2lnbmF0dXJl", None):
            headers = {"X-Twilio-Signature": signature} if signature else {}
            status = await post(rig, path, multipart_with_a_file(), headers)
            assert status in (400, 403), (path, status)
    await rig.settle()
    assert no_errors_logged(caplog) == []
    assert await effects_in_redis(rig) == []


@pytest.mark.parametrize("charset", ["nope", "rot13", "utf-16", "base64"])
async def test_twilio_body_in_an_unknown_or_odd_charset_is_refused(
    rig: Rig, caplog: pytest.LogCaptureFixture, charset: str
) -> None:
    params = rig.call_params(CALLER, LINE, new_sid("CA"))
    body = "&".join(f"{k}={v}" for k, v in params.items()).replace("+", "%2B")
    for path in TWILIO_ROUTES:
        signature = compute(public_request_url(rig.settings.public_url, path), params, AUTH_TOKEN)
        headers = {"Content-Type": f"{FORM}; charset={charset}", "X-Twilio-Signature": signature}
        status = await post(rig, path, body.encode(), headers)
        assert status in (400, 403), (path, charset, status)
    await rig.settle()
    assert no_errors_logged(caplog) == []
    assert await effects_in_redis(rig) == []


SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no


async def test_signed_error_code_that_is_not_ascii_digits_is_taken_as_none(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    params = {"AccountSid": ACCOUNT_SID, "MessageSid": new_sid("SM"), "MessageStatus": "undelivered",
              "ErrorCode": SUPERSCRIPT_TWO}
    status, _ = await rig.twilio_post("/twilio/sms/status", params)
    assert status == 204
    await rig.settle()
    assert no_errors_logged(caplog) == []


async def test_signed_recording_duration_that_is_not_ascii_digits_is_taken_as_zero(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    params = {"AccountSid": ACCOUNT_SID, "CallSid": new_sid("CA"), "RecordingSid": new_sid("RE"),
              "RecordingUrl": rig.twilio.recording_url(), "RecordingStatus": "completed",
              "RecordingDuration": SUPERSCRIPT_TWO}
    path = "/twilio/voice/recording?line=%2B15125550100&from=%2B15125550123&kind=status"
    status, _ = await rig.twilio_post(path, params)
    assert status == 200
    assert no_errors_logged(caplog) == []
