"""Property-based checks of the text transforms callers and teams depend on."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import phones
from bot.logs import mask_numbers
from bot.slack.blocks import escape, to_plain_text, unescape
from bot.store import leads as lead_store
from bot.store.conversations import dumps, loads
from workflows.conversation import Caller, Conversation
from workflows.leads import Lead, StatusChange, lead_fields
from workflows.texting import keyword_of


async def _name(_: str) -> str:
    return "Dana"


def plain(text: str) -> str:
    return asyncio.run(to_plain_text(text, resolve_user=_name, resolve_channel=_name))


@given(st.text())
def test_escape_round_trips_and_never_leaves_a_bracket(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert unescape(escaped) == text


FRAGMENTS = st.lists(st.sampled_from(["a", "b", " ", "|", "*", "_", "~", "`", ":", "\n", "<!here>", "<!channel>",
                                      "<@U1>", "<#C1|general>", "<https://x.example|x>", "<https://y.example>",
                                      "&amp;", "&gt; "]))


@settings(max_examples=300)
@given(FRAGMENTS)
def test_plain_text_never_keeps_slack_control_tokens(parts: list[str]) -> None:
    out = plain("".join(parts))
    for token in ("<!", "<@", "<#", "<http", "&amp;", "&gt;"):
        assert token not in out, (parts, out)


@given(st.text())
def test_plain_text_is_total(text: str) -> None:
    assert isinstance(plain(text), str)


@given(st.from_regex(r"\+1[2-9]\d{2}[2-9]\d{6}", fullmatch=True))
def test_masking_hides_all_but_the_last_four_digits(number: str) -> None:
    masked = phones.mask(number)
    assert masked[-4:] == number[-4:] and sum(c.isdigit() for c in masked) <= 5
    assert number[2:-4] not in mask_numbers(f"call from {number} ok")


@given(st.text())
def test_phone_parsing_is_total_and_normalised_numbers_are_fixed_points(raw: str) -> None:
    e164 = phones.normalize(raw)
    assert e164 is None or (e164.startswith("+") and phones.normalize(e164) == e164)
    assert phones.classify_caller(raw) in phones.KINDS


# Words with no whitespace in them, joined by some: built, not filtered (filtering texts for
# several words discarded so many that Hypothesis's health check failed now and then).
_WORD = st.text(min_size=1).map(lambda w: "".join(w.split())).filter(bool)
_MULTI_WORD = st.tuples(st.lists(_WORD, min_size=2, max_size=6), st.sampled_from([" ", "  ", "\t", "\n", " \n "])).map(
    lambda parts: parts[1].join(parts[0]))


@given(_MULTI_WORD)
def test_multi_word_messages_are_never_keywords(text: str) -> None:
    assert len(text.split()) > 1
    assert keyword_of(text) is None


_TIMES = st.datetimes(timezones=st.just(UTC))
_CONVERSATIONS = st.builds(
    Conversation,
    line=st.text(max_size=16), caller=st.builds(Caller, number=st.text(max_size=16), display=st.text(max_size=20),
                                                 name=st.text(max_size=10), international=st.booleans()),
    channel=st.text(max_size=12), opened_at=_TIMES, origin=st.sampled_from(["call", "sms"]), in_hours=st.booleans(),
    thread_id=st.none() | st.text(max_size=20), calls=st.integers(0, 99), texts_in=st.integers(0, 99),
    last_event_at=st.none() | _TIMES, extra=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5),
)


@given(_CONVERSATIONS)
def test_a_stored_conversation_reads_back_the_same(conv: Conversation) -> None:
    raw = dumps(conv)
    assert loads(raw) == conv
    # The shallow copy writes exactly what a full dataclasses.asdict would.
    full = asdict(conv) | {"opened_at": conv.opened_at.isoformat(),
                           "last_event_at": conv.last_event_at.isoformat() if conv.last_event_at else None}
    assert json.loads(raw) == full


_LEADS = st.builds(
    Lead,
    line=st.text(max_size=16), phone=st.text(max_size=16), created_at=_TIMES, updated_at=_TIMES,
    origin=st.sampled_from(["missed_call", "texted_in"]), name=st.text(max_size=10),
    first_call_at=st.none() | _TIMES, calls=st.integers(0, 9),
    history=st.lists(st.builds(StatusChange, old=st.text(max_size=8), new=st.text(max_size=8),
                               by=st.text(max_size=8), at=_TIMES), max_size=3),
    answers=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
)


@given(_LEADS)
def test_lead_fields_are_what_asdict_gives_and_a_stored_lead_reads_back(lead: Lead) -> None:
    assert lead_fields(lead) == asdict(lead)
    assert lead_store.loads(lead_store.dumps(lead)) == lead
