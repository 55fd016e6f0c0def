"""Signatures: a request that is not from Twilio or Slack is refused and changes nothing."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.conftest import effects_in_redis
from tests.integration.saw import parents
from tests.integration.steps import TWILIO_ROUTES


async def test_every_twilio_route_refuses_missing_or_wrong_signatures(rig: Rig) -> None:
    params = rig.call_params(CALLER, LINE, "CA" + "1" * 32, DialCallStatus="no-answer",
                             MessageSid="SM" + "1" * 32, Body="hi", MessageStatus="delivered")
    for path in TWILIO_ROUTES:
        status, body = await rig.twilio_post(path, params, sign=False)
        assert (status, body) == (403, ""), path
        status, _ = await rig.twilio_post(path, params, token="wrong-token")
        assert status == 403, path
    await rig.settle()
    assert rig.twilio.requests == [] and rig.slack.requests == []
    assert await effects_in_redis(rig) == []


async def test_signature_over_a_different_url_or_altered_params_is_refused(rig: Rig) -> None:
    params = rig.call_params(CALLER, LINE, "CA" + "2" * 32, DialCallStatus="no-answer")
    from bot.twilio import webhooks

    good = webhooks.compute("https://textback.example.test/twilio/voice", params, "not-a-real-auth-token-00000000")
    # Signed for /twilio/voice but posted to dial-status.
    assert rig.settings.public_url == "https://textback.example.test"
    from urllib.parse import urlencode

    import aiohttp

    async with aiohttp.ClientSession() as http:
        for path, body in [
            ("/twilio/voice/dial-status?line=%2B15125550100", params),
            ("/twilio/voice", {**params, "From": "+15125550999"}),
        ]:
            async with http.post(rig.url + path, data=urlencode(body),
                                 headers={"X-Twilio-Signature": good,
                                          "Content-Type": "application/x-www-form-urlencoded"}) as r:
                assert r.status == 403
    await rig.settle()
    assert rig.twilio.requests == []


async def test_request_for_another_twilio_account_is_refused(rig: Rig) -> None:
    params = rig.call_params(CALLER, LINE, "CA" + "3" * 32, AccountSid="AC" + "9" * 32)
    status, _ = await rig.twilio_post("/twilio/voice", params)
    assert status == 403


async def test_malformed_twilio_webhooks_are_answered_without_crashing(rig: Rig) -> None:
    cases = [{}, {"AccountSid": "AC" + "0" * 32}, {"From": "", "To": "", "CallSid": ""},
             {"MessageSid": "SM1", "From": "garbage", "To": LINE, "NumMedia": "lots"}]
    for params in cases:
        for path in TWILIO_ROUTES:
            status, _ = await rig.twilio_post(path, params)
            assert status in (200, 204), (path, params, status)
    await rig.settle()
    assert rig.twilio.messages == []


async def test_slack_events_with_a_bad_signature_are_refused(rig: Rig) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    thread = parents(rig)[0]["ts"]
    event = {"type": "message", "channel": CHANNEL, "user": "U0TEAM0001", "text": "sneaky",
             "ts": rig.slack.next_ts(), "thread_ts": thread}
    status, _ = await rig.slack_event(event, secret="wrong-secret")
    assert status == 401
    status, _ = await rig.slack_event(event, timestamp=int(time.time()) - 600)
    assert status == 401
    await rig.settle()
    assert len(rig.twilio.messages) == 1  # only the text-back


async def test_slack_url_verification_is_answered(rig: Rig) -> None:
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"}).encode()
    status, text = await rig.slack_post(body, "application/json")
    assert status == 200 and "abc123" in text


async def test_healthz_reports_redis(rig: Rig) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(rig.url + "/healthz") as r:
        assert r.status == 200 and (await r.json())["ok"] is True


async def test_healthz_answers_503_within_its_bound_when_redis_is_stalled(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import app

    stalled = asyncio.Event()  # never set: a PING that gets no answer

    async def ping_without_answer() -> bool:
        await stalled.wait()
        return True

    monkeypatch.setattr(app, "HEALTH_TIMEOUT_S", 0.05)
    monkeypatch.setattr(rig.services.redis.client, "ping", ping_without_answer)
    async with aiohttp.ClientSession() as http, http.get(rig.url + "/healthz") as r:
        assert r.status == 503
        assert await r.json() == {"ok": False, "redis": "slow"}
    monkeypatch.undo()
    async with aiohttp.ClientSession() as http, http.get(rig.url + "/healthz") as r:
        assert r.status == 200
