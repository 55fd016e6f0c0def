"""Text-back templates: fill placeholders, check them, and count SMS segments."""

from __future__ import annotations

import difflib
import re

__all__ = ["PLACEHOLDERS", "render", "sms_segments", "validate_template"]

PLACEHOLDERS = ("business", "booking_url", "hours_today", "next_open")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_KNOWN = ", ".join("{" + p + "}" for p in PLACEHOLDERS)

# GSM 03.38 basic character set (without ESC); anything else forces UCS-2.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs ESC + the character, two septets.
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def render(template: str, *, business: str, booking_url: str, hours_today: str, next_open: str) -> str:
    """Fill the four known placeholders; every other brace is left as written."""
    values = {
        "business": business,
        "booking_url": booking_url,
        "hours_today": hours_today,
        "next_open": next_open,
    }
    # A regex, not str.format: a caller-facing "{" or "}" must never raise or vanish.
    return _PLACEHOLDER.sub(lambda m: values[m[1]], template)


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name.strip().lower(), PLACEHOLDERS, n=1, cutoff=0.6)
    hint = f"did you mean {{{close[0]}}}? " if close else ""
    return f"unknown placeholder {{{name}}} ({hint}known: {_KNOWN})"


def validate_template(text: str) -> None:
    """Raise ValueError naming each unknown placeholder (with the closest known one) or stray brace."""
    problems: list[str] = []
    opened: int | None = None
    for pos, char in enumerate(text):
        if char == "{":
            if opened is not None:
                problems.append(f'"{{" at character {opened + 1} is never closed: write placeholders as {{business}}')
            opened = pos
        elif char == "}":
            if opened is None:
                problems.append(f'"}}" at character {pos + 1} has no opening "{{": write placeholders as {{business}}')
                continue
            name = text[opened + 1 : pos]
            if name not in PLACEHOLDERS:
                problems.append(_unknown(name))
            opened = None
    if opened is not None:
        problems.append(f'"{{" at character {opened + 1} is never closed: write placeholders as {{business}}')
    if not problems:
        problems += _length_problem(text)
    if problems:
        raise ValueError("; ".join(problems))


# Carriers bill and filter per segment; a text-back longer than this reads as spam.
MAX_SEGMENTS = 3
# Typical filled-in values, so a template is judged by what callers will receive.
SAMPLE_VALUES = {
    "business": "Acme Plumbing & Heating",
    "booking_url": "https://acme.example/book",
    "hours_today": "8:00 AM-12:00 PM, 1:00 PM-5:00 PM",
    "next_open": "tomorrow at 8:00 AM",
}


def _length_problem(text: str) -> list[str]:
    sample = render(text, **SAMPLE_VALUES) + " Reply STOP to opt out."
    segments, encoding = sms_segments(sample)
    if segments <= MAX_SEGMENTS:
        return []
    hint = " (a curly quote, dash or emoji switches the whole text to UCS-2)" if encoding == "UCS-2" else ""
    return [
        f"filled in, this text is {len(sample)} characters = {segments} SMS segments ({encoding}){hint}; "
        f"keep it to {MAX_SEGMENTS} segments or fewer"
    ]


def _pack(costs: list[int], per_part: int) -> int:
    """Parts needed when a character's units may not be split across two parts."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def sms_segments(text: str) -> tuple[int, str]:
    """(segments, "GSM-7" | "UCS-2") as carriers bill it: 160/153 septets or 70/67 UTF-16 units."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        costs = [2 if c in _GSM_EXTENSION else 1 for c in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # UTF-16 code units: characters beyond the BMP (most emoji) take a surrogate pair.
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi, encoding = 70, 67, "UCS-2"
    if sum(costs) <= single:
        return 1, encoding
    return _pack(costs, multi), encoding
