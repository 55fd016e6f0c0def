"""The text-back's SMS request (one POST on the shared session) against the Twilio stand-in,
which checks it against Twilio's published API: what each answer means for a retry."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.twilio.gateway import MessagesApi, TwilioSms, make_client
from standins.rig import ACCOUNT_SID, AUTH_TOKEN
from standins.twilio_api import TwilioStandIn, twilio_error

API_KEY, API_SECRET = "SK" + "1" * 32, "not-a-real-api-secret-000000000"
CALLER, LINE = "+15125550123", "+15125550100"
CALLBACK = "https://textback.example.com/twilio/sms/status"


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    async with TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN, api_key=API_KEY, api_secret=API_SECRET) as stand:
        yield stand
        assert not stand.violations, stand.violations


async def _sms(
    base_url: str, *, api_key: str | None = None, auth_token: str = AUTH_TOKEN
) -> AsyncIterator[TwilioSms]:
    client = make_client(account_sid=ACCOUNT_SID, auth_token=auth_token, api_key=api_key,
                         api_secret=API_SECRET if api_key else None, base_url=base_url)
    messages = MessagesApi.of(account_sid=ACCOUNT_SID, auth_token=auth_token, api_key=api_key,
                              api_secret=API_SECRET if api_key else None, base_url=base_url)
    async with aiohttp.ClientSession() as http:
        sms = TwilioSms(client, CALLBACK, http=http, messages=messages)
        try:
            yield sms
        finally:
            await sms.close()


@pytest.fixture
async def sms(twilio: TwilioStandIn) -> AsyncIterator[TwilioSms]:
    async for sms in _sms(twilio.url):
        yield sms


async def test_a_sent_message_carries_the_form_and_comes_back_with_its_sid(
    sms: TwilioSms, twilio: TwilioStandIn
) -> None:
    result = await sms.send_sms(to=CALLER, from_=LINE, body="Sorry we missed you")
    [sent] = twilio.messages_to(CALLER)
    assert result.ok and result.sid == sent["sid"]
    assert sent["params"] == {"To": CALLER, "From": LINE, "Body": "Sorry we missed you", "StatusCallback": CALLBACK}


async def test_an_api_key_signs_the_request_when_configured(twilio: TwilioStandIn) -> None:
    async for sms in _sms(twilio.url, api_key=API_KEY):
        assert (await sms.send_sms(to=CALLER, from_=LINE, body="hi")).ok


async def test_a_refusal_with_a_code_is_final(sms: TwilioSms, twilio: TwilioStandIn) -> None:
    twilio.set_recipient_error(CALLER, 21610)
    result = await sms.send_sms(to=CALLER, from_=LINE, body="hi")
    assert (result.ok, result.transient, result.ambiguous, result.error_code) == (False, False, False, 21610)
    assert result.error == "Unable to create record: Attempt to send to unsubscribed recipient"


async def test_a_full_sender_queue_is_tried_again_later(sms: TwilioSms, twilio: TwilioStandIn) -> None:
    twilio.set_recipient_error(CALLER, 21611)
    result = await sms.send_sms(to=CALLER, from_=LINE, body="hi")
    assert (result.ok, result.transient, result.ambiguous, result.error_code) == (False, True, False, 21611)


async def test_throttled_is_retried_and_nothing_was_sent(sms: TwilioSms, twilio: TwilioStandIn) -> None:
    twilio.fail_next("CreateMessage", status=429, body=twilio_error(20429, "Too Many Requests", 429))
    result = await sms.send_sms(to=CALLER, from_=LINE, body="hi")
    assert (result.ok, result.transient, result.ambiguous, result.error_code) == (False, True, False, 20429)


@pytest.mark.parametrize("body", [None, "<html>Bad Gateway</html>"])
async def test_a_server_error_may_have_sent_it(sms: TwilioSms, twilio: TwilioStandIn, body: str | None) -> None:
    twilio.fail_next("CreateMessage", status=502, body=body)
    result = await sms.send_sms(to=CALLER, from_=LINE, body="hi")
    assert (result.ok, result.transient, result.ambiguous) == (False, True, True)
    assert result.error_code == (20502 if body is None else 502)  # the JSON code, else the status


async def test_bad_credentials_are_final(twilio: TwilioStandIn) -> None:
    async for sms in _sms(twilio.url, auth_token="wrong"):
        result = await sms.send_sms(to=CALLER, from_=LINE, body="hi")
    assert (result.ok, result.transient, result.error_code) == (False, False, 20003)
    assert not twilio.messages


async def test_no_connection_means_nothing_was_sent() -> None:
    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async for sms in _sms(f"http://127.0.0.1:{port}"):
        result = await sms.send_sms(to=CALLER, from_=LINE, body="hi")
    assert (result.ok, result.transient, result.ambiguous) == (False, True, False)
