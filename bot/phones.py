"""Phone numbers: normalising, showing to people, masking for logs, spotting withheld IDs."""

from __future__ import annotations

import re
from typing import get_args

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from workflows.conversation import CallerKind

KINDS = get_args(CallerKind)

# What carriers put in `From` when the caller hides their number (PROTOCOLS 1.8): words,
# and Twilio's placeholder numbers that spell them on a keypad.
WITHHELD_WORDS = frozenset({"", "anonymous", "restricted", "unknown", "unavailable", "private", "blocked"})
WITHHELD_NUMBERS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})
_SHORT_CODE = re.compile(r"^\+?\d{3,6}$")


def _parse(raw: str, region: str = "US") -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except NumberParseException:
        return None


def normalize(raw: str, region: str = "US") -> str | None:
    """E.164 for a valid number written any common way, else None."""
    parsed = _parse(raw.strip(), region)
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def display(number: str) -> str:
    """`(512) 555-0123` for North American numbers, `+44 20 7946 0958` for others."""
    parsed = _parse(number)
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        return number
    if parsed.country_code == 1:
        return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def country_code(e164: str) -> int:
    """The country calling code (1 for US/Canada), 0 when unparsable."""
    parsed = _parse(e164)
    return int(parsed.country_code) if parsed is not None and parsed.country_code else 0


def mask(number: str) -> str:
    """`+1*******23`: enough to tell callers apart in a log, not enough to call them."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 7:
        return "***"
    parsed = _parse(number)
    cc = str(parsed.country_code) if parsed is not None and parsed.country_code else ""
    hidden = len(digits) - len(cc) - 2
    return f"+{cc}{'*' * hidden}{digits[-2:]}"


def classify_caller(from_value: str) -> CallerKind:
    """Whether a `From` value is a textable number, a withheld ID, a short code or junk."""
    raw = from_value.strip()
    if raw.lower() in WITHHELD_WORDS or raw in WITHHELD_NUMBERS:
        return "withheld"
    if _SHORT_CODE.match(raw):
        return "short_code"
    if not raw.startswith("+") or normalize(raw) is None:
        return "invalid"
    return "ok"
