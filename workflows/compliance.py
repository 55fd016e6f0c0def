"""Compliance: opt-out keywords and the guards on automatic texts (PRODUCT §2.1.6, §2.7)."""

from __future__ import annotations

import re
from typing import Literal

from workflows.conversation import Caller
from workflows.lines import Line
from workflows.ports import CallerFlags

Keyword = Literal["opt_out", "opt_in", "help"]

# Carrier keywords (CTIA; the set Twilio's default handling covers, plus INFO for help).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# Twilio's Advanced Opt-Out names the keyword class it matched.
OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")

# Error codes that say something lasting about the recipient (PROTOCOLS 2.3).
OPTED_OUT_CODES = frozenset({21610})
LANDLINE_CODES = frozenset({21614, 30006})

# Twilio Lookup line types that never get an automatic text (PROTOCOLS 4.2). `fixedVoip`
# (cable and business VoIP) is left out on purpose: many such numbers take texts, a lost
# customer costs more than one refused SMS, and a refusal (30006) is learned anyway.
NO_TEXT_LINE_TYPES = frozenset({"landline"})

# At most one HELP reply per caller and line in this window; later HELPs are only shown.
HELP_REPLY_WINDOW_S = 10 * 60


def keyword_of(body: str, opt_out_type: str = "") -> Keyword | None:
    """The compliance keyword a caller's text is, if it is one: a single word only."""
    if opt_out_type.strip().upper() in OPT_OUT_TYPES:
        return OPT_OUT_TYPES[opt_out_type.strip().upper()]
    word = _EDGES.sub("", body.strip()).upper()
    if not word or any(ch.isspace() for ch in word):
        return None
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    if word in HELP_WORDS:
        return "help"
    return None


def help_text(line: Line) -> str:
    """The reply to HELP/INFO: who this is and how to stop."""
    return (
        f"{line.business}: reply to this number to reach our team. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )


KEYWORD_NOTES: dict[Keyword, str] = {
    "opt_out": "The caller opted out (replied STOP): no texts will be sent to this number.",
    "opt_in": "The caller opted back in: texts to this number are allowed again.",
    "help": "The caller asked for help; they were sent the help reply.",
}
HELP_LIMITED_NOTE = (
    "The caller asked for help again; no help reply this time "
    f"(at most one every {HELP_REPLY_WINDOW_S // 60} minutes)."
)


def lookup_guard(line_type: str | None) -> str:
    """Why the carrier lookup's line type rules out a text ("" when it does not, or is unknown)."""
    return "landline per carrier lookup" if line_type in NO_TEXT_LINE_TYPES else ""


def static_guard(line: Line, caller: Caller) -> str:
    """Why this caller must never get an automatic text, judged from the call alone."""
    if caller.kind == "withheld":
        return "caller ID withheld"
    if caller.kind == "short_code":
        return "the caller is a short code"
    if caller.kind == "invalid":
        return "the caller ID is not a phone number"
    if caller.number == line.number or caller.number in line.forward_to:
        return "the caller is one of this line's own numbers"
    if caller.international and not line.allow_international:
        return "international number (texts abroad are off for this line)"
    return ""


async def learn_from_refusal(flags: CallerFlags, line: str, caller: str, error_code: int | None) -> None:
    """A refusal that says something lasting about the number is remembered."""
    if error_code in OPTED_OUT_CODES:
        await flags.set_opted_out(line, caller, True)
    elif error_code in LANDLINE_CODES:
        await flags.mark_landline(caller)
