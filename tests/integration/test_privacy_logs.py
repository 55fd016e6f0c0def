"""Logs from a whole scenario hold no full phone number (only the last four digits) and no message body."""

from __future__ import annotations

import io
import logging

import pytest

from bot import logs
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import parents

SECRET_TEXT = "my gate code is 4471 and the key is under the mat"
TEAM_TEXT = "we will use code 4471 at the gate"


async def play(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    thread = str(parents(rig)[0]["ts"])
    await rig.caller_texts(CALLER, LINE, SECRET_TEXT)
    rig.twilio.set_recipient_error(CALLER, 30007, message="Message filtered")
    await rig.team_replies(CHANNEL, thread, TEAM_TEXT)
    await rig.settle()
    await rig.caller_texts(CALLER, LINE, "STOP")
    await rig.team_replies(CHANNEL, thread, TEAM_TEXT + " again")
    await rig.settle()


def digits_of(number: str) -> str:
    return number.lstrip("+")


async def test_info_logs_hold_no_numbers_or_bodies(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await play(rig)
    raw = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "refused" in raw, "the scenario must have produced log lines to check"
    # Masked numbers keep their last four digits, so log lines can still be told apart.
    assert f"+1*******{CALLER[-4:]}" in raw
    for number in (CALLER, LINE):
        assert digits_of(number)[1:] not in raw, f"{number} appears in the logs"
    for text in (SECRET_TEXT, TEAM_TEXT, "gate code"):
        assert text not in raw


async def test_a_failed_slack_verification_logs_no_body(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """A stale timestamp or a rotated secret must not write what people typed, or a number, to the logs."""
    caplog.set_level(logging.DEBUG)
    # Bolt fixes its loggers' levels when the app is built; this one reports signature failures.
    caplog.set_level(logging.DEBUG, logger="slack_bolt.RequestVerification")
    status, _ = await rig.slash(f"callers {CALLER}", channel=CHANNEL, secret="rotated-secret")
    assert status == 401
    _, status = await rig.team_replies(CHANNEL, "1712345678.123456", SECRET_TEXT, secret="rotated-secret")
    assert status == 401
    raw = "\n".join(r.getMessage() for r in caplog.records)
    # Refused at the door, before Bolt reads the body (Bolt's own line is redacted too: test_logs.py).
    assert raw.count("refused /slack/events: bad or missing Slack signature") == 2, "both refusals are logged"
    for leaked in (digits_of(CALLER)[1:], SECRET_TEXT, "gate code", "callers"):
        assert leaked not in raw, f"{leaked!r} is in the logs"


def test_the_configured_handler_masks_numbers_that_slip_through() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure()
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("textback.test").warning("careless line about %s and 15125550123", CALLER)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    out = stream.getvalue()
    assert "5125550123" not in out and "+1******0123" in out


async def test_slack_sdk_does_not_format_debug_lines_that_are_dropped(rig: Rig) -> None:
    """The SDK builds its request/response DEBUG text when its own logger's level is unset;
    after configure() it has one, and a post formats nothing."""
    sdk = logging.getLogger("slack_sdk.web.async_base_client")
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sdk.level
    formatted: list[str] = []
    try:
        logs.configure()
        assert sdk.level == logging.INFO
        original = sdk.debug
        sdk.debug = lambda msg, *a, **k: formatted.append(str(msg))  # type: ignore[method-assign]
        try:
            await rig.services.slack.chat_postMessage(channel="C0LINEA001", text="hello")
        finally:
            sdk.debug = original  # type: ignore[method-assign]
    finally:
        root.handlers[:], level, sdk_level = saved
        root.setLevel(level)
        sdk.setLevel(sdk_level)
    assert formatted == []
