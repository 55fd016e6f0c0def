"""Property-based checks of the text transforms callers and teams depend on."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import phones
from bot.logs import mask_numbers
from bot.slack.mrkdwn import escape, to_plain_text, unescape
from workflows.compliance import keyword_of


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


@given(st.text(min_size=1).filter(lambda t: len(t.split()) > 1))
def test_multi_word_messages_are_never_keywords(text: str) -> None:
    assert keyword_of(text) is None
