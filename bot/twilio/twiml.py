"""The TwiML documents the voice routes answer with."""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.voice_response import VoiceResponse

MISSED_GREETING = (
    "Sorry we missed your call. We just sent you a text message, "
    "so you can reply there and we'll get right back to you."
)
NOT_CONFIGURED = "Sorry, this number is not set up yet. Goodbye."


def ring(numbers: Sequence[str], *, timeout: int, action: str) -> str:
    """Ring the staff phones at once; Twilio then reports the outcome to `action`."""
    resp = VoiceResponse()
    dial = resp.dial(timeout=timeout, action=action, method="POST", answer_on_bridge=True)
    for number in numbers:
        dial.number(number)
    return str(resp)


VOICEMAIL_PROMPT = "Or leave a message after the tone."
VOICEMAIL_MAX_S = 120  # Twilio transcribes recordings up to 2 minutes


def missed(business: str, *, voicemail_url: str = "", transcribe: bool = False) -> str:
    """The caller hears a short greeting (the text is already on its way), and may leave a message.

    `voicemail_url` is the recording route with its query; `kind=` tells its three callbacks apart.
    """
    resp = VoiceResponse()
    if not voicemail_url:
        resp.say(f"Thanks for calling {business}. {MISSED_GREETING}")
        resp.hangup()
        return str(resp)
    resp.say(f"Thanks for calling {business}. {MISSED_GREETING} {VOICEMAIL_PROMPT}")
    extra = {"transcribe": True, "transcribe_callback": f"{voicemail_url}&kind=transcript"} if transcribe else {}
    resp.record(
        action=f"{voicemail_url}&kind=done", method="POST", max_length=VOICEMAIL_MAX_S, timeout=5, play_beep=True,
        trim="trim-silence", recording_status_callback=f"{voicemail_url}&kind=status",
        recording_status_callback_event="completed absent", **extra,
    )
    # An empty recording does not request `action`: Twilio runs the next verb.
    resp.hangup()
    return str(resp)


def hang_up() -> str:
    resp = VoiceResponse()
    resp.hangup()
    return str(resp)


def not_configured() -> str:
    resp = VoiceResponse()
    resp.say(NOT_CONFIGURED)
    resp.hangup()
    return str(resp)


def empty() -> str:
    """An empty response: for SMS it sends nothing back (we send through REST)."""
    return str(VoiceResponse())


def page(say: str) -> str:
    """A paging call: the summary twice, so a sleepy listener catches it."""
    resp = VoiceResponse()
    resp.say(say)
    resp.pause(length=1)
    resp.say(say)
    resp.hangup()
    return str(resp)
