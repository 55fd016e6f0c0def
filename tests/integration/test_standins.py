"""The stand-ins themselves: spec discovery, the shared machinery (recording, failures, waiting)
and the Twilio REST stand-in, driven over real HTTP by the real twilio client.
(The Slack stand-in: tests/integration/test_standins_slack.py.)"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from standins import specs
from standins.slack_api import SlackStandIn
from standins.twilio_api import TwilioStandIn
from standins.twilio_rules import ARRAY_FIELDS
from standins.twilio_segments import encoding, segments

ACCOUNT = "AC" + "0" * 32
TOKEN = "not-a-real-auth-token"
LINE = "+15125550100"
CALLER = "+15125550123"
OTHER = "+15125550177"
CALLBACK = "https://textback.example.test/twilio/sms/status"
SMS = {"To": CALLER, "From": LINE, "Body": "x"}
AUTH = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT, TOKEN)}

# twilio 9.13's async client passes aiohttp.BasicAuth as `auth=`, both deprecated in aiohttp 3.14.
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    async with TwilioStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as stand:
        yield stand


@pytest.fixture
async def client(twilio: TwilioStandIn) -> AsyncIterator[Client]:
    c = sdk_client(twilio.url)
    yield c
    await c.http_client.close()  # type: ignore[attr-defined]


def sdk_client(url: str, username: str = ACCOUNT, password: str = TOKEN) -> Client:
    """The production setup (PROTOCOLS 4.3); must run inside the loop."""
    c = Client(username, password, ACCOUNT, http_client=AsyncTwilioHttpClient(), environment={"_": ""})
    c.api.base_url = url
    return c


async def post_form(
    stand: TwilioStandIn, resource: str, form: dict[str, str], account: str = ACCOUNT
) -> tuple[int, Any]:
    """A raw request, for what the SDK cannot send (misspelt or malformed fields)."""
    async with aiohttp.ClientSession() as http:
        url = f"{stand.url}/2010-04-01/Accounts/{account}/{resource}"
        async with http.post(url, data=form, headers=AUTH) as r:
            return r.status, await r.json()


# --- the spec files ----------------------------------------------------------------------


async def test_specs_are_found_and_checked_in_this_checkout() -> None:
    # CI runs from the checkout, beside ../shared/specs: no silent fall-back to unchecked.
    assert specs.specs_dir() is not None
    assert str(specs.twilio_api()["openapi"]).startswith("3.")  # type: ignore[index]
    assert specs.slack_web()["swagger"] == "2.0"  # type: ignore[index]
    async with TwilioStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as t, SlackStandIn(bot_token="xoxb-1") as s:
        assert t.spec_checked and s.spec_checked


def test_specs_are_parsed_once_per_process() -> None:
    assert specs.twilio_api() is specs.twilio_api()


def test_the_env_var_names_the_specs_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = specs.specs_dir()
    monkeypatch.setenv(specs.ENV_VAR, str(found))
    assert specs.slack_web() is not None
    monkeypatch.setenv(specs.ENV_VAR, str(tmp_path))
    assert specs.specs_dir() == tmp_path and specs.twilio_api() is None


async def test_without_specs_the_stand_in_runs_unchecked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(specs.ENV_VAR, str(tmp_path))
    async with TwilioStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as stand:
        assert not stand.spec_checked
        status, body = await post_form(stand, "Messages.json", {"To": CALLER, "From": LINE, "Body": "hi", "Bodyy": "x"})
        assert status == 201 and body["status"] == "queued"
        # The rules Twilio enforces whatever the spec says still hold.
        status, body = await post_form(stand, "Messages.json", {"To": CALLER, "From": LINE})
        assert status == 400 and body["code"] == 21619
        assert stand.violations == ["CreateMessage: A text message body or media urls must be specified."]


# --- Twilio: the SDK against the stand-in -------------------------------------------------


async def test_sdk_sends_a_message_and_gets_twilios_resource(twilio: TwilioStandIn, client: Client) -> None:
    msg = await client.messages.create_async(
        to=CALLER, from_=LINE, body="Sorry we missed you", status_callback=CALLBACK
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", msg.sid) and msg.status == "queued" and msg.num_segments == "1"
    assert msg.direction == "outbound-api" and msg.to == CALLER and msg.from_ == LINE
    [stored] = twilio.messages_to(CALLER)
    assert stored["body"] == "Sorry we missed you" and stored["params"]["StatusCallback"] == CALLBACK
    parsedate_to_datetime(stored["date_created"])  # RFC 2822, as Twilio writes dates
    answer = {k: v for k, v in stored.items() if k != "params"}
    assert twilio.rules.resource_problems("api.v2010.account.message", answer) == []
    assert twilio.violations == []


async def test_media_urls_arrive_as_a_repeated_field(twilio: TwilioStandIn, client: Client) -> None:
    urls = ["https://files.example.test/a.jpg", "https://files.example.test/b.jpg"]
    msg = await client.messages.create_async(to=CALLER, from_=LINE, media_url=urls)
    assert msg.sid.startswith("MM") and msg.num_media == "2"
    request = await twilio.wait_for(lambda r: r.method == "CreateMessage")
    assert request.params["MediaUrl"] == urls and twilio.violations == []


async def test_messaging_service_sends_count_segments_later(client: Client) -> None:
    msg = await client.messages.create_async(to=CALLER, messaging_service_sid="MG" + "1" * 32, body="hi")
    assert (msg.status, msg.num_segments, msg.from_) == ("accepted", "0", None)


async def test_sdk_places_a_call(twilio: TwilioStandIn, client: Client) -> None:
    twiml = "<Response><Say>Urgent text-back lead. Check Slack.</Say></Response>"
    call = await client.calls.create_async(to="+15125550111", from_=LINE, twiml=twiml, timeout=20)
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid) and call.status == "queued"
    [stored] = twilio.calls
    assert stored["params"] == {"To": "+15125550111", "From": LINE, "Twiml": twiml, "Timeout": "20"}
    answer = {k: v for k, v in stored.items() if k != "params"}
    assert twilio.rules.resource_problems("api.v2010.account.call", answer) == []


async def test_list_filters_newest_first_and_pages(twilio: TwilioStandIn, client: Client) -> None:
    for to, body in [(CALLER, "one"), (OTHER, "other"), (CALLER, "two"), (CALLER, "three")]:
        await client.messages.create_async(to=to, from_=LINE, body=body)
    listed = await client.messages.list_async(to=CALLER, page_size=2)
    assert [m.body for m in listed] == ["three", "two", "one"]
    pages = [r for r in twilio.requests if r.method == "ListMessage"]
    assert len(pages) == 2 and pages[1].params["Page"] == "1"  # followed next_page_uri
    today = datetime.now(UTC)
    assert len(await client.messages.list_async(date_sent=today)) == 4
    assert await client.messages.list_async(date_sent_before=today - timedelta(days=1)) == []
    assert twilio.violations == []


async def test_fetch_by_sid_and_404_for_an_unknown_one(twilio: TwilioStandIn, client: Client) -> None:
    sent = await client.messages.create_async(to=CALLER, from_=LINE, body="hello")
    assert (await client.messages(sent.sid).fetch_async()).body == "hello"
    with pytest.raises(TwilioRestException) as refused:
        await client.messages("SM" + "f" * 32).fetch_async()
    assert (refused.value.status, refused.value.code) == (404, 20404)


@pytest.mark.parametrize("code", [21610, 21614, 21211])
async def test_recipient_errors_surface_as_rest_exceptions(twilio: TwilioStandIn, client: Client, code: int) -> None:
    twilio.set_recipient_error(CALLER, code)
    with pytest.raises(TwilioRestException) as refused:
        await client.messages.create_async(to=CALLER, from_=LINE, body="hi")
    assert (refused.value.code, refused.value.status) == (code, 400)
    assert twilio.messages == [] and twilio.requests[-1].status == 400
    assert twilio.violations == []  # a refusal by the carrier is not our mistake
    await client.messages.create_async(to=OTHER, from_=LINE, body="hi")
    assert len(twilio.messages) == 1


async def test_wrong_credentials_get_twilios_401_body(twilio: TwilioStandIn) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        form = {"To": CALLER, "From": LINE, "Body": "hi"}
        wrong = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT, "wrong")}
        async with http.post(url, data=form, headers=wrong) as r:
            assert r.status == 401
            assert await r.json() == {"code": 20003, "message": "Authenticate",
                                      "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    assert twilio.messages == [] and twilio.requests[0].error == "authentication failed"


async def test_api_key_credentials_and_the_path_account(twilio: TwilioStandIn) -> None:
    key = "SK" + "2" * 32
    async with TwilioStandIn(account_sid=ACCOUNT, auth_token=TOKEN, api_key=key, api_secret="secret") as stand:
        c = sdk_client(stand.url, key, "secret")
        try:
            await c.messages.create_async(to=CALLER, from_=LINE, body="via key")
        finally:
            await c.http_client.close()  # type: ignore[attr-defined]
        assert len(stand.messages) == 1
    status, body = await post_form(twilio, "Messages.json", {"To": CALLER, "From": LINE, "Body": "x"}, "AC" + "9" * 32)
    assert (status, body["code"]) == (404, 20404) and twilio.messages == []


# --- Twilio: spec checks ------------------------------------------------------------------


async def test_a_misspelt_field_is_a_violation(twilio: TwilioStandIn) -> None:
    status, body = await post_form(twilio, "Messages.json", {"To": CALLER, "From": LINE, "Bodyy": "hi"})
    assert status == 400 and body["status"] == 400
    assert any("'Bodyy' was unexpected" in v for v in twilio.violations), twilio.violations
    assert twilio.messages == []


@pytest.mark.parametrize(
    ("resource", "form", "code", "complaint"),
    [
        ("Messages.json", {"To": "5125550123", "From": LINE, "Body": "x"}, 21000, "is not a 'phone-number'"),
        ("Messages.json", {**SMS, "SmartEncoded": "yes"}, 21000, "not of type 'boolean'"),
        ("Messages.json", {**SMS, "ValidityPeriod": "1h"}, 21000, "not of type 'integer'"),
        ("Messages.json", {**SMS, "StatusCallback": "https://my_app.example/cb"}, 21000, "is not a 'uri'"),
        ("Messages.json", {**SMS, "ContentRetention": "forever"}, 21000, "is not one of"),
        ("Messages.json", {"From": LINE, "Body": "x"}, 21000, "'To' is a required property"),
        ("Messages.json", {"To": CALLER, "Body": "x"}, 21603, "'From' phone number or a 'MessagingServiceSid'"),
        ("Messages.json", {"To": CALLER, "From": LINE}, 21619, "body or media urls"),
        ("Messages.json", {"To": CALLER, "From": LINE, "Body": "x" * 1601}, 21617, "1600 character limit"),
        ("Calls.json", {"To": CALLER, "From": LINE}, 21000, "'Url', 'Twiml' or 'ApplicationSid'"),
        ("Calls.json", {"To": CALLER, "From": LINE, "Twiml": "<Response/>", "Timeout": "soon"}, 21000, "integer"),
    ],
)
async def test_malformed_requests_are_refused_and_reported(
    twilio: TwilioStandIn, resource: str, form: dict[str, str], code: int, complaint: str
) -> None:
    status, body = await post_form(twilio, resource, form)
    assert (status, body["code"]) == (400, code), body
    assert any(complaint in v for v in twilio.violations), twilio.violations
    assert twilio.messages == [] and twilio.calls == []


async def test_list_query_parameters_are_checked(twilio: TwilioStandIn) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        url = f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        async with http.get(url, params={"Too": CALLER}) as r:
            assert r.status == 400
    assert twilio.violations == ["ListMessage: Additional properties are not allowed ('Too' was unexpected)"]


def test_repeated_fields_are_the_specs_array_properties() -> None:
    api = specs.twilio_api()
    assert api is not None
    declared = set()
    for path in ("/2010-04-01/Accounts/{AccountSid}/Messages.json", "/2010-04-01/Accounts/{AccountSid}/Calls.json"):
        form = api["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        declared |= {name for name, prop in form["properties"].items() if prop.get("type") == "array"}
    assert declared == ARRAY_FIELDS


# --- segments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
        ("€" * 80, 1), ("€" * 81, 2),  # extension characters cost two septets
        ("a" * 152 + "€" + "a" * 8, 2),  # ...and an escape pair is never split: 152+2 > 153
        ("ê" * 70, 1), ("ê" * 71, 2), ("ê" * 134, 2), ("ê" * 135, 3),
        ("👍" * 35, 1), ("👍" * 36, 2),  # an emoji is two UTF-16 units
    ],
)
def test_segments(body: str, expected: int) -> None:
    assert segments(body) == expected


async def test_one_curly_quote_makes_the_whole_text_ucs2(client: Client) -> None:
    body = "We missed your call and we've got you. " * 2  # 78 GSM-7 characters
    assert encoding(body) == "GSM-7"
    assert (await client.messages.create_async(to=CALLER, from_=LINE, body=body)).num_segments == "1"
    curly = body.replace("'", "\u2019")
    assert encoding(curly) == "UCS-2"
    assert (await client.messages.create_async(to=CALLER, from_=LINE, body=curly)).num_segments == "2"


# --- failures, delays and waiting (shared by both stand-ins) ---------------------------------


async def test_fail_next_fails_count_times_then_recovers(twilio: TwilioStandIn, client: Client) -> None:
    twilio.fail_next("CreateMessage", count=2, status=500)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as failed:
            await client.messages.create_async(to=CALLER, from_=LINE, body="hi")
        assert (failed.value.status, failed.value.code) == (500, 20500)
    await client.messages.create_async(to=CALLER, from_=LINE, body="hi")
    assert [r.status for r in twilio.requests] == [500, 500, 201]
    assert len(twilio.messages) == 1 and twilio.requests[0].error == "injected failure"


async def test_an_outage_fails_every_method_until_it_ends(twilio: TwilioStandIn, client: Client) -> None:
    twilio.go_down(status=503)
    with pytest.raises(TwilioRestException):
        await client.messages.create_async(to=CALLER, from_=LINE, body="hi")
    with pytest.raises(TwilioException):  # a list's failure, as the SDK raises it
        await client.messages.list_async(to=CALLER)
    assert twilio.down and twilio.messages == []
    twilio.come_back()
    await client.messages.create_async(to=CALLER, from_=LINE, body="hi")
    assert [r.status for r in twilio.requests] == [503, 503, 201] and not twilio.down


async def test_after_accept_keeps_the_effect_but_answers_the_error(twilio: TwilioStandIn, client: Client) -> None:
    twilio.fail_next("CreateMessage", status=502, after_accept=True)
    with pytest.raises(TwilioRestException):
        await client.messages.create_async(to=CALLER, from_=LINE, body="maybe sent")
    assert [m["body"] for m in twilio.messages] == ["maybe sent"]  # the caller did get it


async def test_custom_failure_body_headers_and_delay(twilio: TwilioStandIn) -> None:
    body = {"code": 20429, "message": "Too Many Requests", "more_info": "x", "status": 429}
    twilio.fail_next("CreateMessage", status=429, body=body, delay=0.2, headers={"Retry-After": "3"})
    async with aiohttp.ClientSession() as http:
        url = f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        form = {"To": CALLER, "From": LINE, "Body": "x"}
        async with http.post(url, data=form, headers=AUTH) as r:
            assert (r.status, r.headers["Retry-After"], await r.json()) == (429, "3", body)
    [rec] = twilio.requests
    assert rec.answered - rec.arrived >= 0.2


async def test_a_slow_send_the_client_gave_up_on_still_happens(twilio: TwilioStandIn, client: Client) -> None:
    twilio.delay("CreateMessage", 0.3)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await client.messages.create_async(to=CALLER, from_=LINE, body="late")
    done = await twilio.wait_for(lambda r: r.method == "CreateMessage", timeout=2)
    assert done.status == 201 and [m["body"] for m in twilio.messages] == ["late"]
    twilio.delay("CreateMessage", 0)
    await client.messages.create_async(to=CALLER, from_=LINE, body="fast")
    assert twilio.requests[-1].answered - twilio.requests[-1].arrived < 0.3


async def test_wait_for_wakes_on_a_later_request(twilio: TwilioStandIn, client: Client) -> None:
    waiting = asyncio.create_task(twilio.wait_for(lambda r: r.params.get("Body") == "second"))
    await client.messages.create_async(to=CALLER, from_=LINE, body="first")
    assert not waiting.done()
    await client.messages.create_async(to=CALLER, from_=LINE, body="second")
    found = await waiting
    assert found.status == 201 and found.method == "CreateMessage"
    assert await twilio.wait_for(lambda r: r.params.get("Body") == "first", timeout=0) is twilio.requests[0]


async def test_wait_for_times_out_listing_what_arrived(twilio: TwilioStandIn, client: Client) -> None:
    await client.messages.create_async(to=CALLER, from_=LINE, body="only this")
    with pytest.raises(TimeoutError, match=r"(?s)received 1:.*CreateMessage -> 201.*only this"):
        await twilio.wait_for(lambda r: r.method == "CreateCall", timeout=0.05)


async def test_stop_releases_the_port() -> None:
    async with TwilioStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as stand:
        url = stand.url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(url + "/")
