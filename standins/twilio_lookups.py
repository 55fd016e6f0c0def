"""Twilio Lookup v2 as the stand-in answers it: `GET /v2/PhoneNumbers/{n}?Fields=...`.

Every number is a mobile unless a test says otherwise with `set_line_type`. The answer has
the keys of the spec's `fetchLineTypeIntelligence` example, nulls included.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from standins.twilio_rules import INVALID_REQUEST, Params, Problem

# The data packages Lookup v2 knows (spec: FetchPhoneNumber `Fields`).
KNOWN_FIELDS = frozenset(
    {
        "validation",
        "caller_name",
        "sim_swap",
        "call_forwarding",
        "line_status",
        "line_type_intelligence",
        "identity_match",
        "reassigned_number",
        "sms_pumping_risk",
        "phone_number_quality_score",
        "pre_fill",
    }
)
LOOKUP_URL = "https://lookups.twilio.com/v2/PhoneNumbers/"
# Carrier names in the style Lookup gives them; network codes only for mobile networks.
_CARRIERS = {
    "mobile": ("Verizon Wireless", "311", "480"),
    "landline": ("AT&T Local", None, None),
    "fixedVoip": ("Comcast Phone", None, None),
    "nonFixedVoip": ("Twilio - SMS/MMS-SVR", "240", "38"),
    "tollFree": ("Toll Free", None, None),
}
_PACKAGES = (
    "caller_name",
    "sim_swap",
    "call_forwarding",
    "line_status",
    "line_type_intelligence",
    "identity_match",
    "reassigned_number",
    "sms_pumping_risk",
    "phone_number_quality_score",
    "pre_fill",
)


def field_problems(params: Params) -> list[Problem]:
    """Fields must name known packages (a comma-separated list; the spec only says "string")."""
    asked = [f.strip() for f in str(params.get("Fields", "")).split(",") if f.strip()]
    unknown = [f for f in asked if f not in KNOWN_FIELDS]
    return [Problem(INVALID_REQUEST, f"Fields: unknown data package {f!r}") for f in unknown]


def lookup_resource(number: str, params: Params, line_types: dict[str, str]) -> dict[str, Any]:
    """The LookupResponse for `number`, with the packages `Fields` asked for."""
    asked = {f.strip() for f in str(params.get("Fields", "")).split(",")}
    try:
        parsed = phonenumbers.parse(number, str(params.get("CountryCode") or "US"))
    except NumberParseException:
        parsed = None
    valid = parsed is not None and phonenumbers.is_valid_number(parsed)
    resource: dict[str, Any] = {
        "calling_country_code": str(parsed.country_code) if valid and parsed else None,
        "country_code": phonenumbers.region_code_for_number(parsed) if valid and parsed else None,
        "phone_number": phonenumbers.format_number(parsed, PhoneNumberFormat.E164) if valid and parsed else number,
        "national_format": phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL) if valid and parsed else None,
        "valid": valid,
        "validation_errors": None if valid else ["NOT_A_NUMBER" if parsed is None else "INVALID_BUT_POSSIBLE"],
        **dict.fromkeys(_PACKAGES),
        "url": LOOKUP_URL + number,
    }
    if valid and "line_type_intelligence" in asked:
        kind = line_types.get(resource["phone_number"], "mobile")
        carrier, mcc, mnc = _CARRIERS.get(kind, (None, None, None))
        resource["line_type_intelligence"] = {
            "error_code": None,
            "mobile_country_code": mcc,
            "mobile_network_code": mnc,
            "carrier_name": carrier,
            "type": kind,
        }
    return resource
