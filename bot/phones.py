"""Phone numbers: normalising, showing to people, masking for logs, spotting withheld IDs."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import get_args

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, timezone

from workflows.conversation import Caller, CallerKind

__all__ = [
    "KINDS",
    "WITHHELD_NUMBERS",
    "WITHHELD_WORDS",
    "CallerKind",
    "classify_caller",
    "country_code",
    "display",
    "mask",
    "normalize",
    "timezone_of",
]

KINDS: tuple[str, ...] = get_args(CallerKind)

# What carriers put in `From` when the caller hides their number (PROTOCOLS 1.8): words,
# and Twilio's placeholder numbers that spell them on a keypad. Never text any of them.
WITHHELD_WORDS = frozenset({"", "anonymous", "restricted", "unknown", "unavailable", "private", "blocked"})
WITHHELD_NUMBERS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})
_SHORT_CODE = re.compile(r"\+?\d{5,6}")
_E164 = re.compile(r"\+[1-9]\d{1,14}")
# Spaces, dots, dashes and brackets are formatting; anything else makes input "garbage" to mask().
_DIALLABLE = re.compile(r"\+?[\d\s().-]+")
# Numbers shown in the business's own national style; everything else gets its country code.
_NATIONAL_REGIONS = frozenset({"US", "CA"})
# A fixed-width run of stars, so a masked number does not even give away its length.
_HIDDEN = "*" * 7


# Parsing is most of a webhook's own CPU, and the same numbers come again and again (the lines,
# a caller's calls and texts; one caller is parsed four ways): parsed results are kept. Only
# read, never changed, by the functions below.
_CACHED = 4096


def _parse(raw: str, region: str | None = "US") -> phonenumbers.PhoneNumber | None:
    # A number written with its country code reads the same from any region: one entry for
    # it, however it is asked for (a caller's `From` is classified, then normalised for US).
    return _parse_in(raw, None if raw.startswith("+") else region)


@lru_cache(maxsize=_CACHED)
def _parse_in(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except NumberParseException:
        return None


def _valid(raw: str, region: str | None = "US") -> phonenumbers.PhoneNumber | None:
    return _valid_in(raw, None if raw.startswith("+") else region)


@lru_cache(maxsize=_CACHED)
def _valid_in(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    parsed = _parse_in(raw, region)
    return parsed if parsed is not None and phonenumbers.is_valid_number(parsed) else None


def normalize(raw: str, region: str = "US") -> str | None:
    """E.164 for a valid number written any common way, else None."""
    parsed = _valid(raw.strip(), region)
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164) if parsed is not None else None


def international(raw: str) -> str | None:
    """`+1 512-555-0100`: a valid number as written for any country, else None."""
    parsed = _valid(raw.strip())
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL) if parsed is not None else None


def display(e164: str) -> str:
    """`(512) 555-0123` for US/Canadian numbers, `+44 20 7946 0958` for others.

    Anything that is not a valid number comes back unchanged: callers escape it for Slack.
    """
    parsed = _valid(e164.strip())
    if parsed is None:
        return e164
    if phonenumbers.region_code_for_number(parsed) in _NATIONAL_REGIONS:
        return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def country_code(e164: str) -> int:
    """The country calling code (1 for US/Canada), 0 when unparsable."""
    parsed = _parse(e164.strip(), None)
    return int(parsed.country_code or 0) if parsed is not None else 0


def mask(number: str) -> str:
    """`+1*******0123`: enough to tell callers apart in a log, not enough to call them."""
    raw = number.strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 7 or not _DIALLABLE.fullmatch(raw):
        return "***"
    # Only a leading + says where the country code ends; without it, show no prefix at all.
    prefix = "+" + str(country_code(raw) or "") if raw.startswith("+") else ""
    return prefix + _HIDDEN + digits[-4:]


def timezone_of(e164: str) -> str | None:
    """The IANA zone of a number when its area code gives exactly one (US 512 -> America/Chicago).

    None for numbers whose prefix spans several zones (some US area codes, mobile ranges in
    large countries) or gives none: the line's timezone is used then.
    """
    parsed = _valid(e164.strip(), None)
    if parsed is None:
        return None
    zones = [z for z in timezone.time_zones_for_number(parsed) if z != timezone.UNKNOWN_TIMEZONE]
    return zones[0] if len(zones) == 1 else None


def classify_caller(from_value: str) -> CallerKind:
    """Whether a `From` value is a textable number, a withheld ID, a short code or junk."""
    raw = from_value.strip()
    if raw.lower() in WITHHELD_WORDS or raw in WITHHELD_NUMBERS:
        return "withheld"
    if _SHORT_CODE.fullmatch(raw):
        return "short_code"
    # Twilio always sends real callers in strict E.164; anything looser is not a number to text.
    if not _E164.fullmatch(raw) or _valid(raw, None) is None:
        return "invalid"
    return "ok"


def caller_from(raw_from: str, name: str, line_number: str, *, shown: bool = True) -> Caller:
    """The caller as Twilio reported them: classified, formatted, and placed at home or abroad.

    `shown=False`: for code that never shows the caller to anyone (a webhook deciding the
    text-back), `display` is the number as it is, without the cost of formatting it.
    """
    raw = raw_from.strip()
    kind = classify_caller(raw)
    number = (normalize(raw) or raw) if kind == "ok" else raw
    if kind == "withheld":
        display_as = "withheld number"
    elif not shown:
        display_as = number
    else:
        display_as = display(number) if kind == "ok" else (raw or "unknown caller")
    abroad = kind == "ok" and country_code(number) != country_code(line_number)
    return Caller(number=number, display=display_as, kind=kind, name=name.strip(), international=abroad)
