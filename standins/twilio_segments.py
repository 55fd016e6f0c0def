"""How many SMS segments a body costs: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67 per part).

Kept apart from the product's own counting on purpose: the stand-in is the yardstick.
"""

from __future__ import annotations

# GSM 03.38 basic character set (the escape character 0x1B itself is not text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape plus the character, two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(body: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body)


def encoding(body: str) -> str:
    """"GSM-7" when every character fits the GSM alphabet, else "UCS-2" for the whole body."""
    return "GSM-7" if is_gsm7(body) else "UCS-2"


def segments(body: str) -> int:
    """Number of segments a carrier bills for `body` (at least 1, as Twilio reports)."""
    if is_gsm7(body):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in body]
        return _pack(costs, GSM7_SINGLE, GSM7_PART)
    # UCS-2 counts UTF-16 code units: a character outside the BMP (most emoji) costs two.
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return _pack(costs, UCS2_SINGLE, UCS2_PART)


def _pack(costs: list[int], single: int, part: int) -> int:
    if sum(costs) <= single:
        return 1
    # Split parts lose room to the concatenation header, and an escape pair or a surrogate
    # pair is never cut in two, so a part may end a unit short of `part`.
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts
