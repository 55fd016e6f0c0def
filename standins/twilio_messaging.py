"""The Twilio stand-in's Messaging v1 (messaging.twilio.com): Messaging Services and their
numbers, each service's A2P 10DLC campaign (Compliance/Usa2p), and toll-free verifications.

`textback doctor` reads these to tell whether a line's number may send business texts. Tests
set the account up with `register` and `verify_toll_free`; resources keep the shape of the
Messaging v1 spec's schemas (tests/integration/test_doctor.py checks them).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from standins.server import Reply

Params = dict[str, Any]
Effect = Callable[[web.Request, Params], Reply]
Handle = Callable[[web.Request, str, Effect], Awaitable[web.StreamResponse]]

BASE = "https://messaging.twilio.com/v1"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class TwilioMessaging:
    """One account's Messaging Services, campaigns and toll-free verifications."""

    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid
        self.services: list[dict[str, Any]] = []
        self.service_numbers: dict[str, list[dict[str, Any]]] = {}  # service sid -> its numbers
        self.campaigns: dict[str, list[dict[str, Any]]] = {}  # service sid -> its Usa2p records
        self.verifications: list[dict[str, Any]] = []

    # --- test controls ----------------------------------------------------------------

    def clear(self) -> None:
        """No Messaging Services, campaigns or verifications at all."""
        self.services.clear()
        self.service_numbers.clear()
        self.campaigns.clear()
        self.verifications.clear()

    def add_service(self, name: str = "textback") -> dict[str, Any]:
        sid = _sid("MG")
        service = {
            "sid": sid, "account_sid": self.account_sid, "friendly_name": name, "date_created": _now(),
            "date_updated": _now(), "inbound_request_url": None, "inbound_method": "POST", "fallback_url": None,
            "fallback_method": "POST", "status_callback": None, "sticky_sender": True, "mms_converter": True,
            "smart_encoding": True, "fallback_to_long_code": True, "area_code_geomatch": True,
            "synchronous_validation": False, "validity_period": 14400, "url": f"{BASE}/Services/{sid}",
            "links": {"phone_numbers": f"{BASE}/Services/{sid}/PhoneNumbers"}, "usecase": "mixed",
            "us_app_to_person_registered": False, "use_inbound_webhook_on_number": True,
        }
        self.services.append(service)
        self.service_numbers[sid], self.campaigns[sid] = [], []
        return service

    def add_to_service(self, service: dict[str, Any], number: dict[str, Any]) -> None:
        """Put an account number (an IncomingPhoneNumber resource) in the service's sender pool."""
        sid = service["sid"]
        self.service_numbers[sid].append({
            "sid": number["sid"], "account_sid": self.account_sid, "service_sid": sid, "date_created": _now(),
            "date_updated": _now(), "phone_number": number["phone_number"], "country_code": "US",
            "capabilities": ["SMS", "MMS", "Voice"], "url": f"{BASE}/Services/{sid}/PhoneNumbers/{number['sid']}",
        })

    def add_campaign(self, service: dict[str, Any], status: str, errors: list[Any] | None = None) -> None:
        """The service's A2P 10DLC campaign, with its `campaign_status` (VERIFIED, IN_PROGRESS, FAILED)."""
        sid = service["sid"]
        self.campaigns[sid].append({
            "sid": _sid("QE"), "account_sid": self.account_sid, "brand_registration_sid": _sid("BN"),
            "messaging_service_sid": sid, "description": "Texts people who called us and did not reach us.",
            "message_samples": ["Hi, this is Acme Plumbing. Sorry we missed your call - what can we help with?"],
            "us_app_to_person_usecase": "CUSTOMER_CARE", "has_embedded_links": True, "has_embedded_phone": False,
            "subscriber_opt_in": False, "age_gated": False, "direct_lending": False, "campaign_status": status,
            "campaign_id": "C" + secrets.token_hex(3).upper(), "is_externally_registered": False,
            "rate_limits": {}, "message_flow": "The customer calls us first.", "opt_in_message": None,
            "opt_out_message": None, "help_message": None, "opt_in_keywords": None, "opt_out_keywords": None,
            "help_keywords": None, "date_created": _now(), "date_updated": _now(),
            "url": f"{BASE}/Services/{sid}/Compliance/Usa2p/QE", "mock": False, "errors": errors or [],
        })
        service["us_app_to_person_registered"] = status == "VERIFIED"

    def register(self, number: dict[str, Any], status: str = "VERIFIED") -> dict[str, Any]:
        """A Messaging Service holding `number`, with a campaign in `status`."""
        service = self.add_service()
        self.add_to_service(service, number)
        self.add_campaign(service, status)
        return service

    def verify_toll_free(self, number: dict[str, Any], status: str = "TWILIO_APPROVED") -> dict[str, Any]:
        """A toll-free verification of `number` in `status` (PENDING_REVIEW, IN_REVIEW, ...)."""
        sid = _sid("HH")
        verification = {
            "sid": sid, "account_sid": self.account_sid, "customer_profile_sid": _sid("BU"),
            "trust_product_sid": _sid("BU"), "date_created": _now(), "date_updated": _now(),
            "business_name": "Acme Plumbing", "tollfree_phone_number_sid": number["sid"],
            "tollfree_phone_number": number["phone_number"], "status": status,
            "url": f"{BASE}/Tollfree/Verifications/{sid}", "rejection_reason": None, "error_code": None,
            "use_case_categories": ["CUSTOMER_CARE"], "opt_in_type": "VERBAL",
        }
        self.verifications.append(verification)
        return verification

    # --- routes -----------------------------------------------------------------------

    def routes(self, handle: Handle) -> list[web.AbstractRouteDef]:
        def route(operation: str, effect: Effect) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
            async def handler(request: web.Request) -> web.StreamResponse:
                return await handle(request, operation, effect)

            return handler

        return [
            web.get("/v1/Services", route("ListService", lambda r, p: self._page(r, "services", self.services))),
            web.get("/v1/Services/{service}/PhoneNumbers", route("ListPhoneNumber", self._numbers)),
            web.get("/v1/Services/{service}/Compliance/Usa2p", route("ListUsAppToPerson", self._campaigns)),
            web.get("/v1/Tollfree/Verifications", route("ListTollfreeVerification", self._verifications)),
        ]

    def _numbers(self, request: web.Request, params: Params) -> Reply:
        found = self.service_numbers.get(request.match_info["service"])
        return _missing(request) if found is None else self._page(request, "phone_numbers", found)

    def _campaigns(self, request: web.Request, params: Params) -> Reply:
        found = self.campaigns.get(request.match_info["service"])
        return _missing(request) if found is None else self._page(request, "compliance", found)

    def _verifications(self, request: web.Request, params: Params) -> Reply:
        wanted = params.get("TollfreePhoneNumberSid")
        found = [v for v in self.verifications
                 if wanted in (None, v["tollfree_phone_number_sid"]) and params.get("Status") in (None, v["status"])]
        return self._page(request, "verifications", found)

    def _page(self, request: web.Request, key: str, items: list[dict[str, Any]]) -> Reply:
        size = int(request.query.get("PageSize") or 50)
        url = f"https://messaging.twilio.com{request.path}?PageSize={size}&Page=0"
        meta = {"page": 0, "page_size": size, "first_page_url": url, "previous_page_url": None, "url": url,
                "next_page_url": None, "key": key}
        return Reply(200, {key: items[:size], "meta": meta})


def _missing(request: web.Request) -> Reply:
    body = {"code": 20404, "message": f"The requested resource {request.path} was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}
    return Reply(404, body, error="no such Messaging Service")
