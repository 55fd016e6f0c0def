"""Bolt's own signature-failure line, run through the real middleware, carries no request body."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import pytest
from slack_bolt.middleware.request_verification.async_request_verification import AsyncRequestVerification
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import logs

NUMBER = "+17376751002"
TEXT = "my gate code is 4471"


async def refused(body: str) -> BoltResponse:
    verification = AsyncRequestVerification(signing_secret="the-secret-slack-holds")
    headers = {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=00",
               "content-type": "application/x-www-form-urlencoded"}
    req = AsyncBoltRequest(body=body, headers=headers)

    async def next_() -> BoltResponse:
        raise AssertionError("a bad signature must not reach the listeners")

    return await verification.async_process(req=req, resp=BoltResponse(status=500), next=next_)


async def test_a_refused_slack_request_is_logged_without_its_body(caplog: pytest.LogCaptureFixture) -> None:
    logs.guard_framework_loggers()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=logs.BOLT_LOGGERS[0])
    body = urlencode({"command": "/textback", "text": f"callers {NUMBER} {TEXT}"})
    assert (await refused(body)).status == 401
    [line] = [r.getMessage() for r in caplog.records if "Invalid request signature" in r.getMessage()]
    assert line.startswith("Invalid request signature detected (timestamp: 1")
    for leaked in ("7376751002", "gate code", "callers", "v0=00"):
        assert leaked not in line


def test_only_bolts_signature_line_is_rewritten() -> None:
    other = "Invalid request body detected (body: keep me)"
    assert logs.without_request_body(other) == other
    bolt = "Invalid request signature detected (signature: v0=ab, timestamp: 1712345678, body: text=x\ny)"
    assert logs.without_request_body(bolt) == "Invalid request signature detected (timestamp: 1712345678; body not logged)"
