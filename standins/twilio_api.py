"""A local Twilio REST API (2010-04-01): Messages and Calls, checked against the published spec;
plus Lookup v2 (`/v2/PhoneNumbers/{n}`), which Twilio serves from lookups.twilio.com, and
Messaging v1 (`/v1/Services…`, `/v1/Tollfree/Verifications`) from messaging.twilio.com.

Point the SDK at it with `client.api.base_url = stand.url` and `client.lookups.base_url = stand.url`
(PROTOCOLS 4.3).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from standins import specs
from standins.server import Recorded, Reply, StandInServer
from standins.twilio_lookups import field_problems, lookup_resource
from standins.twilio_messaging import TwilioMessaging
from standins.twilio_numbers import TwilioAccount
from standins.twilio_rules import (
    ARRAY_FIELDS,
    INVALID_REQUEST,
    Params,
    Problem,
    TwilioRules,
)
from standins.twilio_segments import segments

API_VERSION = "2010-04-01"
DEFAULT_PAGE_SIZE = 50
RECIPIENT_MESSAGES = {
    21211: "Invalid 'To' Phone Number",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}
# Stored messages and calls keep the form they came from under this key; answers leave it out.
PARAMS_KEY = "params"

Effect = Callable[[web.Request, Params], Reply]


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's JSON error body (what twilio-python turns into TwilioRestException)."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


class TwilioStandIn(StandInServer):
    """Accepts, records and answers Messages/Calls requests like api.twilio.com."""

    def __init__(
        self, account_sid: str, auth_token: str, *, api_key: str | None = None, api_secret: str | None = None
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self._credentials = {account_sid: auth_token}
        if api_key and api_secret:
            self._credentials[api_key] = api_secret
        self.rules = TwilioRules(specs.twilio_api())
        self.lookup_rules = TwilioRules(specs.twilio_lookups())
        self.messaging_rules = TwilioRules(specs.twilio_messaging())
        # Messaging Services, A2P 10DLC campaigns, toll-free verifications (messaging.twilio.com).
        self.messaging = TwilioMessaging(account_sid)
        # Lookup line types by E.164 number; any other valid number is a mobile.
        self.line_types: dict[str, str] = {}
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.recordings: dict[str, bytes] = {}  # RecordingSid -> media
        self.media: dict[str, tuple[str, bytes]] = {}  # MediaSid -> (content type, bytes) of inbound MMS
        # Outbound MMS: what Twilio fetched at each MediaUrl (url, HTTP status, type, bytes).
        self.fetched: list[dict[str, Any]] = []
        # Where a public URL's host really is (the server under test answers for PUBLIC_URL).
        self.public_routes: dict[str, str] = {}
        self._fetches: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._recipient_errors: dict[str, tuple[int, Problem]] = {}
        self.account = TwilioAccount(account_sid, API_VERSION)  # Account, IncomingPhoneNumbers

    @property
    def spec_checked(self) -> bool:
        return self.rules.spec_checked

    @property
    def _base(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}"

    # --- test controls ----------------------------------------------------------------

    def set_recipient_error(self, number: str, code: int, status: int = 400, message: str | None = None) -> None:
        """Refuse every message to `number` with Twilio error `code` (21610, 21614, 21211...)."""
        text = message or RECIPIENT_MESSAGES.get(code, f"Error {code}")
        self._recipient_errors[number] = (status, Problem(code, text))

    def clear_recipient_error(self, number: str) -> None:
        self._recipient_errors.pop(number, None)

    def set_line_type(self, number: str, line_type: str) -> None:
        """What Lookup says `number` is: "landline", "fixedVoip", "mobile"..."""
        self.line_types[number] = line_type

    def lookups_of(self, number: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "FetchPhoneNumber" and r.params.get("PhoneNumber") == number]

    def messages_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["to"] == number]

    def failure_body(self, status: int) -> Any:
        code = 20003 if status == 401 else 20000 + status
        return twilio_error(code, HTTPStatus(status).phrase, status)

    # --- routes -----------------------------------------------------------------------

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        account = f"/{API_VERSION}/Accounts/{{account}}"
        return [
            web.post(account + "/Messages.json", self._create_message),
            web.get(account + "/Messages.json", self._list_messages),
            web.get(account + "/Messages/{sid}.json", self._fetch_message),
            web.post(account + "/Calls.json", self._create_call),
            *self.account.routes(account, self._handle),
            web.get(account + "/Recordings/{sid}.mp3", self._recording_media),
            web.get(account + "/Messages/{message}/Media/{sid}", self._media),
            web.get("/v2/PhoneNumbers/{number}", self._fetch_phone_number),
            *self.messaging.routes(self._handle_messaging),
            web.route("*", "/{tail:.*}", self._not_emulated),
        ]

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "CreateMessage", self._accept_message)

    async def _list_messages(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "ListMessage", self._message_page)

    async def _fetch_message(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "FetchMessage", self._one_message)

    async def _create_call(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "CreateCall", self._accept_call)

    async def _fetch_phone_number(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        query = await _read_params(request)
        number = request.match_info["number"]
        rec = Recorded("FetchPhoneNumber", {"PhoneNumber": number, **query}, arrived)
        if not self._authenticated(request.headers.get("Authorization", "")):
            return self.finish(rec, Reply(401, twilio_error(20003, "Authenticate", 401), error="authentication failed"))
        problems = self.lookup_rules.check("FetchPhoneNumber", query) + field_problems(query)
        for problem in problems:
            self.violate(rec.method, problem.message)
        if problems:
            first = problems[0]
            return self.finish(rec, Reply(400, twilio_error(first.code, first.message, 400), error=first.message))
        return await self.answer(rec, lambda: Reply(200, lookup_resource(number, query, self.line_types)))

    def media_url(self, content: bytes, content_type: str = "image/jpeg") -> str:
        """Where an inbound MMS attachment lives, as the webhook's MediaUrl{N} gives it."""
        sid = _sid("ME")
        self.media[sid] = (content_type, content)
        return f"{self.url}{self._base}/Messages/{_sid('MM')}/Media/{sid}"

    async def _media(self, request: web.Request) -> web.StreamResponse:
        """An MMS attachment (api.twilio.com/.../Messages/MM…/Media/ME…), behind HTTP Basic auth."""
        rec = Recorded("FetchMedia", {"Sid": request.match_info["sid"]}, time.perf_counter())
        if not self._authenticated(request.headers.get("Authorization", "")):
            return self.finish(rec, Reply(401, twilio_error(20003, "Authenticate", 401), error="bad credentials"))
        found = self.media.get(request.match_info["sid"])
        if found is None:
            return self.finish(rec, _not_found(request.path, "no such media"))
        kind, content = found
        return await self.answer(rec, lambda: Reply(200, content, headers={"Content-Type": kind}))

    def _fetch_media_later(self, urls: list[str]) -> None:
        """Twilio fetches each MediaUrl of an accepted message once, after answering."""
        for url in urls:
            task = asyncio.get_running_loop().create_task(self._fetch_media(url))
            self._fetches.add(task)
            task.add_done_callback(self._fetches.discard)

    async def _fetch_media(self, url: str) -> None:
        target = url
        for public, local in self.public_routes.items():
            if url.startswith(public.rstrip("/") + "/"):
                target = local.rstrip("/") + url[len(public.rstrip("/")):]
        got: dict[str, Any] = {"url": url, "status": 0, "content_type": "", "content": b""}
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            async with self._http.get(target, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                got.update(status=resp.status, content_type=resp.headers.get("Content-Type", ""),
                           content=await resp.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            got["error"] = repr(exc)
        self.fetched.append(got)
        self._record(Recorded("FetchOutboundMedia", {"Url": url}, time.perf_counter(), status=got["status"]))

    async def stop(self) -> None:
        for task in list(self._fetches):
            task.cancel()
        await asyncio.gather(*self._fetches, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        await super().stop()

    def recording_url(self, sid: str | None = None) -> str:
        """Where a recording's media lives, as Twilio's callbacks give it (no extension)."""
        sid = sid or _sid("RE")
        self.recordings.setdefault(sid, b"ID3\x03\x00\x00\x00\x00\x00\x00" + sid.encode())
        return f"{self.url}{self._base}/Recordings/{sid}"

    async def _recording_media(self, request: web.Request) -> web.StreamResponse:
        """Recording media (api.twilio.com/.../Recordings/RE….mp3), behind HTTP Basic auth."""
        rec = Recorded("FetchRecordingMedia", {"Sid": request.match_info["sid"]}, time.perf_counter())
        if not self._authenticated(request.headers.get("Authorization", "")):
            return self.finish(rec, Reply(401, twilio_error(20003, "Authenticate", 401), error="bad credentials"))
        audio = self.recordings.get(request.match_info["sid"])
        if audio is None:
            return self.finish(rec, _not_found(request.path, "no such recording"))
        return self.finish(rec, Reply(200, audio, headers={"Content-Type": "audio/mpeg"}))

    async def _not_emulated(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        rec = Recorded(f"{request.method} {request.path}", await _read_params(request), arrived)
        return self.finish(rec, _not_found(request.path, "not emulated by the stand-in"))

    async def _handle(self, request: web.Request, operation: str, effect: Effect) -> web.StreamResponse:
        arrived = time.perf_counter()
        rec = Recorded(operation, await _read_params(request), arrived)
        refusal = self._refusal(request, rec)
        if refusal is not None:
            return self.finish(rec, refusal)
        return await self.answer(rec, lambda: effect(request, rec.params))

    async def _handle_messaging(self, request: web.Request, operation: str, effect: Effect) -> web.StreamResponse:
        """Messaging v1: no account in the path (the credentials name it), its own spec."""
        arrived = time.perf_counter()
        rec = Recorded(operation, await _read_params(request), arrived)
        if not self._authenticated(request.headers.get("Authorization", "")):
            return self.finish(rec, Reply(401, twilio_error(20003, "Authenticate", 401), error="authentication failed"))
        problems = self.messaging_rules.check(operation, rec.params)
        for problem in problems:
            self.violate(operation, problem.message)
        if problems:
            first = problems[0]
            return self.finish(rec, Reply(400, twilio_error(first.code, first.message, 400), error=first.message))
        return await self.answer(rec, lambda: effect(request, rec.params))

    # --- refusals: credentials, account, then the spec --------------------------------

    def _refusal(self, request: web.Request, rec: Recorded) -> Reply | None:
        if not self._authenticated(request.headers.get("Authorization", "")):
            return Reply(401, twilio_error(20003, "Authenticate", 401), error="authentication failed")
        if request.match_info.get("account") != self.account_sid:
            return _not_found(request.path, "AccountSid in the path is not the authenticated account")
        problems = self._problems(request, rec)
        for problem in problems:
            self.violate(rec.method, problem.message)
        if not problems:
            return None
        first = problems[0]
        return Reply(400, twilio_error(first.code, first.message, 400), error="; ".join(p.message for p in problems))

    def _authenticated(self, header: str) -> bool:
        login, password = _basic_credentials(header)
        expected = self._credentials.get(login)
        return expected is not None and secrets.compare_digest(expected.encode(), password.encode())

    def _problems(self, request: web.Request, rec: Recorded) -> list[Problem]:
        form = "application/x-www-form-urlencoded"
        if request.method == "POST" and request.content_type != form:
            return [Problem(INVALID_REQUEST, f"Content-Type must be {form}, not {request.content_type}")]
        return self.rules.check(rec.method, rec.params)

    # --- effects ----------------------------------------------------------------------

    def _accept_message(self, request: web.Request, params: Params) -> Reply:
        refused = self._recipient_errors.get(str(params.get("To", "")))
        if refused is not None:
            status, problem = refused
            body = twilio_error(problem.code, problem.message, status)
            return Reply(status, body, error=f"recipient error {problem.code}")
        message = self._new_message(params)
        self.messages.append(message)
        self._fetch_media_later(_items(params.get("MediaUrl")))
        return Reply(201, _resource(message))

    def _new_message(self, params: Params) -> dict[str, Any]:
        media = _items(params.get("MediaUrl"))
        body = str(params.get("Body", ""))
        sid = _sid("MM" if media else "SM")
        now = format_datetime(datetime.now(UTC))
        # With a Messaging Service and no From, Twilio picks the sender later: the message is
        # "accepted" and its segments are counted later too ("0" at first).
        deferred = bool(params.get("MessagingServiceSid")) and not params.get("From")
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body,
            # date_sent is set at once (Twilio fills it on sending) so DateSent filters find it.
            "date_created": now, "date_sent": now, "date_updated": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": params.get("From"), "messaging_service_sid": params.get("MessagingServiceSid"),
            "num_media": str(len(media)), "num_segments": "0" if deferred else str(segments(body)),
            "price": None, "price_unit": "USD", "sid": sid, "status": "accepted" if deferred else "queued",
            "subresource_uris": {"media": f"{self._base}/Messages/{sid}/Media.json"},
            "to": params.get("To"), "uri": f"{self._base}/Messages/{sid}.json",
            PARAMS_KEY: params,
        }

    def _one_message(self, request: web.Request, params: Params) -> Reply:
        sid = request.match_info["sid"]
        found = next((m for m in self.messages if m["sid"] == sid), None)
        return Reply(200, _resource(found)) if found else _not_found(request.path, "no such message")

    def _message_page(self, request: web.Request, params: Params) -> Reply:
        # Twilio lists the most recent first.
        matches = [m for m in reversed(self.messages) if _listed(m, params)]
        size = _int(params.get("PageSize"), DEFAULT_PAGE_SIZE)
        page = _int(params.get("Page"), 0)
        start = page * size
        chunk = matches[start : start + size]
        filters = {k: v for k, v in params.items() if k not in ("PageSize", "Page", "PageToken")}

        def uri(n: int) -> str:
            return f"{self._base}/Messages.json?" + urlencode({**filters, "PageSize": size, "Page": n})

        return Reply(200, {
            "messages": [_resource(m) for m in chunk], "page": page, "page_size": size,
            "start": start, "end": start + max(len(chunk) - 1, 0), "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if start + size < len(matches) else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
        })

    def _accept_call(self, request: web.Request, params: Params) -> Reply:
        sid = _sid("CA")
        now = format_datetime(datetime.now(UTC))
        call = {
            "account_sid": self.account_sid, "answered_by": None, "api_version": API_VERSION,
            "caller_name": None, "date_created": now, "date_updated": now, "direction": "outbound-api",
            "duration": None, "end_time": None, "forwarded_from": None, "from": params.get("From"),
            "from_formatted": params.get("From"), "group_sid": None, "parent_call_sid": None,
            "phone_number_sid": None, "price": None, "price_unit": "USD", "queue_time": "0", "sid": sid,
            "start_time": None, "status": "queued", "to": params.get("To"), "to_formatted": params.get("To"),
            "trunk_sid": None, "uri": f"{self._base}/Calls/{sid}.json",
            "subresource_uris": {
                name: f"{self._base}/Calls/{sid}/{name.title()}.json"
                for name in ("notifications", "recordings", "events")
            },
            PARAMS_KEY: params,
        }
        self.calls.append(call)
        return Reply(201, _resource(call))


async def _read_params(request: web.Request) -> Params:
    fields = request.query if request.method in ("GET", "HEAD") else await request.post()
    params: Params = {}
    for name in dict.fromkeys(fields.keys()):
        values = [str(v) for v in fields.getall(name)]
        params[name] = values if name in ARRAY_FIELDS or len(values) > 1 else values[0]
    return params


def _basic_credentials(header: str) -> tuple[str, str]:
    """(login, password) from an HTTP Basic header; empty strings when absent or malformed."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    login, _, password = decoded.partition(":")
    return login, password


def _resource(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stored.items() if k != PARAMS_KEY}


def _not_found(path: str, why: str) -> Reply:
    return Reply(404, twilio_error(20404, f"The requested resource {path} was not found", 404), error=why)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _items(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value] if value else []


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _day(value: Any) -> date | None:
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(str(value)).date()
    except (TypeError, ValueError):
        return None


def _listed(message: dict[str, Any], params: Params) -> bool:
    """ListMessage filters: To, From, and DateSent (same day), DateSent< / DateSent> (inclusive)."""
    if "To" in params and message["to"] != params["To"]:
        return False
    if "From" in params and message["from"] != params["From"]:
        return False
    sent = parsedate_to_datetime(message["date_sent"]).date()
    tests: dict[str, Callable[[date, date], bool]] = {
        "DateSent": lambda a, b: a == b, "DateSent<": lambda a, b: a <= b, "DateSent>": lambda a, b: a >= b,
    }
    for name, test in tests.items():
        day = _day(params.get(name)) if name in params else None
        if day is not None and not test(sent, day):
            return False
    return True
