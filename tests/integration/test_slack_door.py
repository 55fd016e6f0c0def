"""POST /slack/events: the signature is checked over the raw body before anything parses it.
Unsigned (or badly timestamped) requests get 401 whatever their body; signed bodies Bolt cannot
read get 400; neither leaves a traceback in the log."""

from __future__ import annotations

import json
import logging
import time

import aiohttp
import pytest

from bot.slack.signing import sign as slack_sign
from standins.rig import SIGNING_SECRET, Rig

FORM = "application/x-www-form-urlencoded"


async def post(rig: Rig, path: str, data: object, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(rig.url + path, data=data, headers=headers) as r:
        return r.status


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


MALFORMED_SLACK = [
    (b"{not json", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"just a string"', "application/json"),
    (b"payload=%7Bbad", FORM),
    (b"payload=%5B1%5D", FORM),
    (b"\xff\xfe{}", "application/json"),
    (b'{"type": "event_callback", "authorizations": 5}', "application/json"),
]


async def slack_post(rig: Rig, body: bytes, headers: dict[str, str]) -> int:
    return await post(rig, "/slack/events", body, headers)


@pytest.mark.parametrize(("body", "ctype"), MALFORMED_SLACK)
async def test_unsigned_malformed_slack_bodies_get_401(
    rig: Rig, caplog: pytest.LogCaptureFixture, body: bytes, ctype: str
) -> None:
    stamp = str(int(time.time()))
    for headers in (
        {"Content-Type": ctype},
        {"Content-Type": ctype, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + "0" * 64},
        {**slack_sign(body, "wrong-secret", int(time.time())), "Content-Type": ctype},
    ):
        assert await slack_post(rig, body, headers) == 401, headers
    assert no_errors_logged(caplog) == []


@pytest.mark.parametrize("stamp", ["soon", "", "１７００００００００", "1e9", "-5", "²"])
async def test_a_slack_timestamp_that_is_not_a_number_gets_401(
    rig: Rig, caplog: pytest.LogCaptureFixture, stamp: str
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    headers = {**slack_sign(body, SIGNING_SECRET, int(time.time())), "Content-Type": "application/json"}
    headers["X-Slack-Request-Timestamp"] = stamp
    assert await slack_post(rig, body, headers) == 401
    assert no_errors_logged(caplog) == []


@pytest.mark.parametrize(("body", "ctype"), MALFORMED_SLACK)
async def test_signed_malformed_slack_bodies_get_400(
    rig: Rig, caplog: pytest.LogCaptureFixture, body: bytes, ctype: str
) -> None:
    headers = {**slack_sign(body, SIGNING_SECRET, int(time.time())), "Content-Type": ctype}
    assert await slack_post(rig, body, headers) == 400
    assert no_errors_logged(caplog) == []


async def test_signed_slack_body_in_a_bogus_charset_gets_400(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    headers = {**slack_sign(body, SIGNING_SECRET, int(time.time())), "Content-Type": "application/json; charset=nope"}
    assert await slack_post(rig, body, headers) == 400
    assert no_errors_logged(caplog) == []


async def test_signed_slack_url_verification_still_answers(rig: Rig) -> None:
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"}).encode()
    status, text = await rig.slack_post(body, "application/json")
    assert status == 200 and "abc123" in text




def form_payload(payload: object) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)}).encode()


# Signed, shaped enough for Bolt to route to one of our listeners, with a field of a type Slack
# never sends where the listener reads it.
ODD_LISTENER_BODIES = [
    form_payload({"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"},
                  "actions": [{"action_id": "tb_ack", "value": "c1", "selected_option": "x"}],
                  "channel": {"id": "C1"}, "container": {"channel_id": 5}}),
    form_payload({"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"},
                  "actions": [{"action_id": "tb_snooze_pick", "selected_option": "2h:c1"}],
                  "channel": {"id": "C1"}}),
    form_payload({"type": "block_actions", "user": {"id": ["U1"]}, "team": {"id": "T1"},
                  "actions": [{"action_id": "tb_claim", "value": {"v": 1}}], "channel": {"id": "C1"}}),
    json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "Ev1",
                "event": {"type": "message", "user": "U1", "ts": "1.2", "thread_ts": ["1.1"],
                          "channel": "C1", "text": "hi"}}).encode(),
    json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "Ev2",
                "event": {"type": "message", "user": "U1", "ts": {"t": 1}, "thread_ts": "1.1",
                          "channel": {"id": "C1"}, "text": ["hi"]}}).encode(),
]


@pytest.mark.parametrize("body", ODD_LISTENER_BODIES)
async def test_signed_bodies_our_listeners_cannot_use_are_answered_without_a_500(
    rig: Rig, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    ctype = "application/json" if body.startswith(b"{") else FORM
    headers = {**slack_sign(body, SIGNING_SECRET, int(time.time())), "Content-Type": ctype}
    assert await slack_post(rig, body, headers) in (200, 400)
    assert no_errors_logged(caplog) == []
