"""Which Slack and Twilio errors are retried, reconciled or final (PROTOCOLS 2.3, 4.4, 6)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from twilio.base.exceptions import TwilioRestException

from bot.slack.gateway import is_transient
from bot.twilio.gateway import NO_ANSWER, answered, refusal


@pytest.mark.parametrize(
    ("status", "code", "transient", "ambiguous"),
    [
        (429, 20429, True, False),  # throttled: nothing was created, retry
        (400, 21611, True, False),  # the sender's queue is full: later
        (500, 20500, True, True),  # server error: may have been created, reconcile first
        (503, None, True, True),
        (400, 21610, False, False),  # opted out: never
        (400, 21211, False, False),  # invalid number: never
        (400, 21614, False, False),  # landline: never
        (401, 20003, False, False),  # bad credentials: never
    ],
)
def test_twilio_errors(status: int, code: int | None, transient: bool, ambiguous: bool) -> None:
    result = refusal(TwilioRestException(status, "/Messages.json", msg="x", code=code))
    assert (result.ok, result.transient, result.ambiguous) == (False, transient, ambiguous)
    assert result.error_code == code


@pytest.mark.parametrize(
    ("status", "body", "sid"),
    [(201, b'{"sid": "SM1", "status": "queued"}', "SM1"), (201, b"", None), (201, b"not json", None)],
)
def test_an_accepted_message_is_sent_whatever_its_body(status: int, body: bytes, sid: str | None) -> None:
    assert answered(status, body).ok and answered(status, body).sid == sid


def test_a_problem_document_is_no_answer_as_the_sdk_read_it() -> None:
    body = b'{"type": "https://www.twilio.com/docs/errors/20001", "title": "x", "status": 400, "code": 20001}'
    assert answered(400, body) == NO_ANSWER


def test_an_error_without_a_code_takes_the_status() -> None:
    result = answered(400, b'{"message": "Bad"}')
    assert (result.error_code, result.error, result.transient) == (400, "Unable to create record: Bad", False)


def slack_error(status: int, error: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None, http_verb="POST", api_url="http://x/api/chat.postMessage", req_args={},
        data={"ok": False, "error": error}, headers={}, status_code=status,
    )
    return SlackApiError("x", response)


@pytest.mark.parametrize(
    ("status", "error", "transient"),
    [
        (429, "ratelimited", True),
        (500, "internal_error", True),
        (503, "service_unavailable", True),
        (200, "fatal_error", True),
        (200, "invalid_auth", False),
        (200, "channel_not_found", False),
        (200, "not_in_channel", False),
        (200, "msg_too_long", False),
    ],
)
def test_slack_errors(status: int, error: str, transient: bool) -> None:
    assert is_transient(slack_error(status, error)) is transient
