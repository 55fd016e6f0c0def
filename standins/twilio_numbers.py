"""The Twilio stand-in's account: the Account resource and its IncomingPhoneNumbers.

`textback doctor` reads these (is the number ours, where do its webhooks point) and
`doctor --fix` updates them. Resources keep the shape of the spec's schemas.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from standins.server import Reply

Params = dict[str, Any]
Effect = Callable[[web.Request, Params], Reply]
Handle = Callable[[web.Request, str, Effect], Awaitable[web.StreamResponse]]

# A number fresh from the Console answers with Twilio's demo TwiML until someone changes it.
DEMO_VOICE_URL = "https://demo.twilio.com/welcome/voice/"
DEMO_SMS_URL = "https://demo.twilio.com/welcome/sms/reply"
# UpdateIncomingPhoneNumber form field -> resource field, for the fields the stand-in keeps.
UPDATABLE = {
    "FriendlyName": "friendly_name", "VoiceUrl": "voice_url", "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url", "VoiceFallbackMethod": "voice_fallback_method",
    "SmsUrl": "sms_url", "SmsMethod": "sms_method", "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method", "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method", "VoiceApplicationSid": "voice_application_sid",
    "SmsApplicationSid": "sms_application_sid",
}


class TwilioAccount:
    """One account: its status and the phone numbers it owns."""

    def __init__(self, account_sid: str, api_version: str) -> None:
        self.account_sid = account_sid
        self.api_version = api_version
        self.status = "active"
        self.numbers: list[dict[str, Any]] = []

    @property
    def base(self) -> str:
        return f"/{self.api_version}/Accounts/{self.account_sid}"

    def add_number(
        self, phone_number: str, *, voice_url: str | None = DEMO_VOICE_URL, sms_url: str | None = DEMO_SMS_URL,
        voice_method: str = "POST", sms_method: str = "POST", **fields: Any,
    ) -> dict[str, Any]:
        """Put a number in the account, as if bought in the Console; returns the stored resource."""
        sid = "PN" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC))
        number: dict[str, Any] = {
            "account_sid": self.account_sid, "address_sid": None, "address_requirements": "none",
            "api_version": self.api_version, "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": now, "date_updated": now, "friendly_name": phone_number, "identity_sid": None,
            "phone_number": phone_number, "origin": "twilio", "sid": sid,
            "sms_application_sid": None, "sms_fallback_method": "POST", "sms_fallback_url": None,
            "sms_method": sms_method, "sms_url": sms_url, "status_callback": None,
            "status_callback_method": "POST", "trunk_sid": None, "uri": f"{self.base}/IncomingPhoneNumbers/{sid}.json",
            "voice_receive_mode": "voice", "voice_application_sid": None, "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST", "voice_fallback_url": None, "voice_method": voice_method,
            "voice_url": voice_url, "emergency_status": "Inactive", "emergency_address_sid": None,
            "emergency_address_status": "unregistered", "bundle_sid": None, "status": "in-use", "type": "local",
            **fields,
        }
        self.numbers.append(number)
        return number

    def routes(self, account: str, handle: Handle) -> list[web.AbstractRouteDef]:
        """The routes under `account` (the Accounts/{account} prefix), run through `handle`."""

        def route(operation: str, effect: Effect) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
            async def handler(request: web.Request) -> web.StreamResponse:
                return await handle(request, operation, effect)

            return handler

        return [
            web.get(account + ".json", route("FetchAccount", lambda r, p: Reply(200, self.resource()))),
            web.get(account + "/IncomingPhoneNumbers.json",
                    route("ListIncomingPhoneNumber", lambda r, p: Reply(200, self.numbers_page(p)))),
            web.post(account + "/IncomingPhoneNumbers/{sid}.json", route("UpdateIncomingPhoneNumber", self._update)),
        ]

    def _update(self, request: web.Request, params: Params) -> Reply:
        number = self.number(request.match_info["sid"])
        if number is None:
            body = {"code": 20404, "message": f"The requested resource {request.path} was not found",
                    "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}
            return Reply(404, body, error="no such phone number in the account")
        return Reply(200, self.update_number(number, params))

    def number(self, sid: str) -> dict[str, Any] | None:
        return next((n for n in self.numbers if n["sid"] == sid), None)

    def numbers_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListIncomingPhoneNumber: filtered by PhoneNumber and FriendlyName, one page."""
        found = [n for n in self.numbers
                 if params.get("PhoneNumber") in (None, n["phone_number"])
                 and params.get("FriendlyName") in (None, n["friendly_name"])]
        size = int(params.get("PageSize") or 50)
        uri = f"{self.base}/IncomingPhoneNumbers.json?PageSize={size}&Page=0"
        return {"incoming_phone_numbers": found[:size], "page": 0, "page_size": size, "start": 0,
                "end": max(min(len(found), size) - 1, 0), "uri": uri, "first_page_uri": uri,
                "next_page_uri": None, "previous_page_uri": None}

    def update_number(self, number: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """UpdateIncomingPhoneNumber: the sent fields change, nothing else does."""
        for form_field, value in params.items():
            if form_field in UPDATABLE:
                number[UPDATABLE[form_field]] = value or None  # "" clears a field, as on Twilio
        number["date_updated"] = format_datetime(datetime.now(UTC))
        return number

    def resource(self) -> dict[str, Any]:
        """The Account resource (FetchAccount)."""
        now = format_datetime(datetime.now(UTC))
        return {
            "auth_token": "[redacted]", "date_created": now, "date_updated": now,
            "friendly_name": "textback stand-in account", "owner_account_sid": self.account_sid,
            "sid": self.account_sid, "status": self.status, "type": "Full", "uri": f"{self.base}.json",
            "subresource_uris": {"incoming_phone_numbers": f"{self.base}/IncomingPhoneNumbers.json",
                                 "messages": f"{self.base}/Messages.json", "calls": f"{self.base}/Calls.json"},
        }
