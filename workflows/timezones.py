"""Timezones as operators write them, in the lines file and in Slack: one parser for both."""

from __future__ import annotations

import difflib
from functools import cache
from zoneinfo import available_timezones

__all__ = ["parse_timezone"]

# What people say instead of an IANA name; each has one obvious meaning for a US business.
_ZONE_WORDS = {
    "eastern": "America/New_York", "et": "America/New_York", "est": "America/New_York",
    "edt": "America/New_York", "central": "America/Chicago", "ct": "America/Chicago",
    "cst": "America/Chicago", "cdt": "America/Chicago", "mountain": "America/Denver",
    "mt": "America/Denver", "mst": "America/Denver", "mdt": "America/Denver",
    "arizona": "America/Phoenix", "pacific": "America/Los_Angeles", "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu", "utc": "UTC", "gmt": "UTC",
}


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones() | {"UTC"}}


def parse_timezone(text: str) -> str:
    """The IANA name for "America/Chicago", "america/chicago", "Chicago", "central"...

    Case slips and the common US words have exactly one meaning; anything else is refused
    with the closest IANA name when there is one.
    """
    cleaned = text.strip()
    key = cleaned.lower().replace(" ", "_")
    zones = _zones()
    if key in zones:
        return zones[key]
    if key in _ZONE_WORDS:
        return _ZONE_WORDS[key]
    # A bare city ("new york") names exactly one zone far more often than not.
    cities = [name for low, name in zones.items() if low.rsplit("/", 1)[-1] == key]
    if len(cities) == 1:
        return cities[0]
    close = [zones[z] for z in difflib.get_close_matches(key, zones, n=1, cutoff=0.8)]
    if close:
        raise ValueError(f'unknown timezone "{cleaned}" (did you mean "{close[0]}"?)')
    raise ValueError(f'unknown timezone "{cleaned}" (use an IANA name, e.g. "America/Chicago")')
