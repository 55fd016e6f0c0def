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


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    rec = logging.LogRecord("bot.work.engine", logging.WARNING, __file__, 1, message, args,
                            (type(exc), exc, exc.__traceback__) if exc else None)
    rec.created = 1_780_000_000.25
    return rec


def test_json_lines_carry_time_level_logger_message_and_the_job() -> None:
    import json

    formatter = logs.JsonFormatter()
    plain = json.loads(formatter.format(record("texted %s", "+15125550123")))
    assert plain == {"time": "2026-05-28T20:26:40.250+00:00", "level": "WARNING", "logger": "bot.work.engine",
                     "message": "texted +1******0123"}
    token = logs.current_job.set(("missed_call", "missed:CA1"))
    try:
        in_job = json.loads(formatter.format(record("slow")))
    finally:
        logs.current_job.reset(token)
    assert (in_job["job_kind"], in_job["job_id"]) == ("missed_call", "missed:CA1")


def test_tracebacks_are_masked_too_in_both_formats() -> None:
    import json

    try:
        raise ValueError("refused +15125550123")
    except ValueError as caught:
        exc = caught
    as_json = json.loads(logs.JsonFormatter().format(record("failed", exc=exc)))
    assert "ValueError: refused +1******0123" in as_json["exc"]
    as_text = logs.TextFormatter().format(record("failed", exc=exc))
    assert "ValueError: refused +1******0123" in as_text and "5550123" not in as_text


def test_text_lines_name_the_job_they_come_from() -> None:
    token = logs.current_job.set(("caller_sms", "1712345678901-0"))
    try:
        line = logs.TextFormatter().format(record("mirrored"))
    finally:
        logs.current_job.reset(token)
    assert line.endswith("bot.work.engine: mirrored [job caller_sms 1712345678901-0]")


async def test_bolts_client_and_token_warning_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    def warned() -> bool:
        caplog.clear()
        AsyncApp(client=AsyncWebClient(token="xoxb-1"), token="xoxb-1", signing_secret="s")
        return any("token` will be unused" in r.getMessage() for r in caplog.records)

    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    kept = list(bolt_logger.filters)
    caplog.set_level(logging.DEBUG)
    try:
        bolt_logger.filters[:] = []
        assert warned(), "without the guard Bolt warns (the case this test is about)"
        logs.guard_framework_loggers()
        assert not warned()
    finally:
        bolt_logger.filters[:] = kept
