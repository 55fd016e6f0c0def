"""Texting a caller: what the text says, whether it may go, and sending it exactly once.

The templates (placeholders filled, operators' text checked, SMS segments counted), the
compliance rules (PRODUCT §2.1.6, §2.7: opt-out keywords, the guards on automatic texts), and
the exactly-once steps (§4) for an SMS, and likewise for a thread post or other chat effect.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from workflows.conversation import Caller, Conversation, Entry, SmsResult
from workflows.lines import Line
from workflows.opt_out import opt_out_request
from workflows.ports import CallerFlags, RetryLater, SmsSender, StepLog, ThreadChat

# --- The templates -------------------------------------------------------------------------------

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
# The most Twilio takes in one message's Body (it sends it as up to 10 linked segments).
SMS_MAX_CHARS = 1600
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


# --- Compliance: opt-out keywords and the guards on automatic texts ------------------------------

# "maybe_opt_out": a text that may be an opt-out in the caller's own words; a person decides.
Keyword = Literal["opt_out", "opt_in", "help", "maybe_opt_out"]

# Carrier keywords (CTIA; the set Twilio's default handling covers, plus INFO for help).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO", "AYUDA"})  # AYUDA: Spanish for help
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


def compliance_of(body: str, opt_out_type: str, line: Line) -> Keyword | None:
    """What a caller's text asks about their texts: a carrier keyword, else an opt-out in their
    own words ("stop texting me": opt_out; "leave me alone": maybe_opt_out), else None."""
    found = keyword_of(body, opt_out_type)
    if found is not None:
        return found
    verdict = opt_out_request(body, line.opt_out_words.add, line.opt_out_words.remove)
    return "opt_out" if verdict == "clear" else "maybe_opt_out" if verdict == "unclear" else None


def carrier_answered(body: str, opt_out_type: str) -> bool:
    """Whether Twilio's own opt-out handling already texted the caller back: it names what it
    matched in `OptOutType`, and always answers the carrier keywords (STOP, START...) itself."""
    return bool(opt_out_type.strip()) or keyword_of(body) in ("opt_out", "opt_in")


def help_text(line: Line, language: str = "en") -> str:
    """The reply to HELP/INFO (AYUDA: in Spanish): who this is, how to reach a person, how to stop."""
    if language == "es":
        contact = f"Comuníquese al {line.contact} o responda" if line.contact else "Responda"
        return (f"{line.business}: {contact} a este número para hablar con nuestro equipo. "
                "Pueden aplicarse tarifas de mensajes y datos. Responda STOP para no recibir más mensajes.")
    contact = f"Contact us at {line.contact} or reply" if line.contact else "Reply"
    return (
        f"{line.business}: {contact} to this number to reach our team. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )


def opt_out_confirmation(line: Line, language: str = "en") -> str:
    """The one text confirming an opt-out we recognised (the carrier confirms its keywords)."""
    if language == "es":
        return (f"{line.business}: ya no recibirá más mensajes de nosotros. "
                "Responda START para volver a recibirlos.")
    return f"{line.business}: you're opted out and will get no more texts from us. Reply START to opt back in."


# An opt-out may be confirmed by one text within this long of the request (FCC's 2024 TCPA
# consent revocation order): a decision taken later on the card sends none.
CONFIRM_WITHIN = timedelta(minutes=5)

KEYWORD_NOTES: dict[Keyword, str] = {
    "opt_out": "The caller opted out (replied STOP): no texts will be sent to this number.",
    "opt_in": "The caller opted back in: texts to this number are allowed again.",
    "help": "The caller asked for help; they were sent the help reply.",
    "maybe_opt_out": "This looks like an opt-out request. Until someone decides, no automatic text goes to "
                     "this number (replies typed here still do).",
}
PHRASE_OPT_OUT_NOTE = "The caller asked to opt out in their own words: no texts will be sent to this number."
CONFIRMED_NOTE = " They were sent one text confirming it."
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
        await flags.learned_opt_out(line, caller, error_code)
    elif error_code in LANDLINE_CODES:
        await flags.mark_landline(caller)


# --- Exactly once: an SMS, a thread post, a chat effect ------------------------------------------
# An SMS send is the delicate effect: when the request may have reached Twilio but the answer
# was lost (a timeout, a 5xx, a dropped connection), sending again could text the caller twice,
# and Messages has no idempotency key. So the step is marked "sending" before the request; a
# re-run that finds that mark first asks Twilio whether a message with the same body went to
# that number since the mark, and only sends when none did.

def _result_of(record: dict[str, object]) -> SmsResult:
    code = record.get("code")
    return SmsResult(
        ok=record["state"] == "sent",
        sid=str(record["sid"]) if record.get("sid") else None,
        error_code=int(str(code)) if code is not None else None,
        error=str(record["error"]) if record.get("error") else None,
    )


def sending_mark(now: datetime) -> str:
    """The step's state while a request may be on its way: a re-run asks Twilio first."""
    return json.dumps({"state": "sending", "at": now.isoformat()})


def answer_record(result: SmsResult, now: datetime, *, held: bool = False) -> str:
    """The step's state once the send's request was answered (or failed).

    `held`: the send was made outside the job (in the webhook); after a transient failure the
    job's first run opens the thread and waits its back-off before it tries again.
    """
    if result.ok:
        return json.dumps({"state": "sent", "sid": result.sid})
    if not result.transient:
        return json.dumps({"state": "refused", "code": result.error_code, "error": result.error})
    # "sending" when the request may have arrived: the next try asks Twilio first.
    record: dict[str, object] = {"state": "sending" if result.ambiguous else "retry", "at": now.isoformat()}
    return json.dumps({**record, "held": True} if held else record)


async def send_once(
    steps: StepLog, name: str, sms: SmsSender, *, to: str, from_: str, body: str, now: datetime,
    media: Sequence[str] = (),
) -> SmsResult:
    """Send an SMS (an MMS with `media`) exactly once across re-runs of the job; raise RetryLater when unsure."""
    raw = await steps.get(name)
    record: dict[str, object] = json.loads(raw) if raw else {}
    if record.get("state") in ("sent", "refused"):
        return _result_of(record)
    if record.pop("held", False):
        # The webhook's try failed: this run shows the call, the next one sends again.
        await steps.put(name, json.dumps(record))
        raise RetryLater(f"sms {name}: the first try failed; trying again after the back-off")
    if record.get("state") == "sending":
        since = datetime.fromisoformat(str(record["at"]))
        found = await sms.find_sent(to=to, from_=from_, body=body, since=since, media=len(media))
        if found is not None:
            await steps.put(name, answer_record(found, now))
            return found
    await steps.put(name, sending_mark(now))
    result = await sms.send_sms(to=to, from_=from_, body=body, media=media)
    if not result.transient or not result.ambiguous:  # ambiguous: the "sending" mark stays
        await steps.put(name, answer_record(result, now))
    if result.transient:
        raise RetryLater(f"sms {name}: {result.error}")
    return result


# A post whose answer was lost may still be in the channel; look that far back for it.
POST_LOOKBACK = timedelta(minutes=10)


async def post_once(
    steps: StepLog, name: str, chat: ThreadChat, conv: Conversation, entry: Entry, now: datetime
) -> None:
    """Post a thread line exactly once across re-runs: an unsure earlier post is looked up first.

    "posting:" is durable before the post; "done" goes with the job's next step written (a
    re-run that finds "posting:" still looks the post up, so losing "done" repeats nothing).
    """
    state = await steps.get(name)
    if state == "done":
        return
    key = steps.key(name)
    if state is not None and state.startswith("posting:"):
        since = datetime.fromisoformat(state.removeprefix("posting:")) - POST_LOOKBACK
        if await chat.find_post(conv, key, since) is not None:
            steps.later(name, "done")
            return
    await steps.put(name, "posting:" + now.isoformat())
    await chat.post_entry(conv, entry, key=key)
    steps.later(name, "done")


async def once(steps: StepLog, name: str, effect: Callable[[], Awaitable[object]]) -> bool:
    """Run a chat effect unless the job already did it; True when it ran now.

    Its mark is written at once: nothing before it says the effect may have happened, so a
    re-run that missed it would run the effect again.
    """
    if await steps.get(name) is not None:
        return False
    await effect()
    await steps.put(name, "done")
    return True
