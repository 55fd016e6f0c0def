"""Slack mrkdwn both ways (PROTOCOLS 7)."""

from __future__ import annotations

import random

import pytest

from bot.slack.blocks import escape, to_plain_text, unescape
from workflows.mirror import is_internal_note


async def user(uid: str) -> str:
    return {"U0123": "Bob", "U0777": "Dana"}.get(uid, "")


async def channel(cid: str) -> str:
    return {"C0999": "dispatch"}.get(cid, "")


async def plain(text: str) -> str:
    return await to_plain_text(text, resolve_user=user, resolve_channel=channel)


def test_escape_neutralises_mentions_and_links() -> None:
    assert escape("<!channel> <https://x.example|bank> & co") == (
        "&lt;!channel&gt; &lt;https://x.example|bank&gt; &amp; co"
    )
    assert escape("&amp;") == "&amp;amp;"
    assert escape("it's \"fine\" *really*") == "it's \"fine\" *really*"


def test_unescape_reverses_escape() -> None:
    for text in ["a & b", "<@U0123>", "&lt;", "&amp;gt;", "<>&"]:
        assert unescape(escape(text)) == text


# Every row of the PROTOCOLS 7.2 table, plus the cases it warns about.
@pytest.mark.parametrize(
    ("slack", "sms"),
    [
        ("<@U0123>", "@Bob"),
        ("<@U0123|bob>", "@Bob"),
        ("<@U0456|carl>", "@carl"),
        ("<@U0456>", "@U0456"),
        ("<#C0123|general>", "#general"),
        ("<#C0999>", "#dispatch"),
        ("<#C0888>", "#C0888"),
        ("<!here> call him", "call him"),
        ("ok <!channel> now", "ok now"),
        ("<!everyone>", ""),
        ("call <!here>, thanks", "call, thanks"),
        ("<!here|here> go", "go"),
        ("<!subteam^S0123|@plumbers> please", "@plumbers please"),
        ("<!date^1700000000^{date_short}|Nov 14>", "Nov 14"),
        ("<https://acme.example/book|Book here>", "Book here (https://acme.example/book)"),
        ("<https://acme.example/book|https://acme.example/book>", "https://acme.example/book"),
        ("<http://acme.example|acme.example>", "http://acme.example"),
        ("<https://acme.example>", "https://acme.example"),
        ("<https://acme.example/?a=1&amp;b=2>", "https://acme.example/?a=1&b=2"),
        ("<mailto:a@b.example|a@b.example>", "a@b.example"),
        ("<tel:+15125550123|512-555-0123>", "512-555-0123"),
        ("<mailto:x@y.example|email us>", "email us (x@y.example)"),
        ("<mailto:x@y.example?subject=Quote|email us>", "email us (x@y.example)"),
        ("<tel:+15125550100|call us>", "call us (+1 512-555-0100)"),
        ("<tel:+15125550100|+1 (512) 555-0100>", "+1 (512) 555-0100"),
        ("<tel:+15125550100>", "+1 512-555-0100"),
        ("<sms:+15125550100|text us>", "text us (+1 512-555-0100)"),
        ("&amp; &lt; &gt;", "& < >"),
        ("&amp;lt;", "&lt;"),
        ("5 &gt; 3", "5 > 3"),
        (":white_check_mark: :+1:", "✅ 👍"),
        (":+1::tada:", "👍🎉"),
        (":+1::skin-tone-3: :party_parrot: :simple_smile:", "👍"),
        (":flag-us:", "🇺🇸"),
        ("*bold* _italic_ ~strike~ `code` ```block```", "bold italic strike code block"),
        ("_*both*_ and *<https://acme.example|Book>*", "both and Book (https://acme.example)"),
        ("_call <@U0777> now_", "call @Dana now"),
        ("```\nline_one_\n*two*\n```", "line_one_\n*two*"),
        ("`:tada:`", ":tada:"),
        ("snake_case and 2*3*4 and https://x.example/a_b_", "snake_case and 2*3*4 and https://x.example/a_b_"),
        ("see https://x.example/_a_/", "see https://x.example/_a_/"),
        ("at 10:30:45 sharp", "at 10:30:45 sharp"),
        ("ratio :1:2", "ratio :1:2"),
        ("&gt; quoted\nanswer", "quoted\nanswer"),
        ("&gt;&gt;&gt; all\nquoted", "all\nquoted"),
        ("<@U0123>&gt; not a quote", "@Bob> not a quote"),
    ],
)
async def test_mrkdwn_to_plain_text(slack: str, sms: str) -> None:
    assert await plain(slack) == sms


async def test_decoded_text_never_forms_new_tokens() -> None:
    assert await plain("&lt;@U0123&gt;") == "<@U0123>"
    assert await plain("&lt;!channel&gt; &lt;0&gt;") == "<!channel> <0>"
    assert await plain("<https://x.example|&lt;!here&gt;>") == "<!here> (https://x.example)"


async def test_caller_text_round_trips_through_escape() -> None:
    # Whatever a caller typed, escaped into Slack and read back, comes out as typed.
    rng = random.Random(11)
    alphabet = "ab <>&;!@#|^.-0"
    for _ in range(300):
        text = "x" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert await plain(escape(text)) == text.strip()


@pytest.mark.parametrize(
    ("raw", "note"),
    [
        ("note: she called twice", True),
        ("  NOTE: internal", True),
        ("Note:x", True),
        ("// ignore this", True),
        ("\n//x", True),
        ("notes are fine", False),
        ("Please note: we open at 9", False),
        ("see https://x.example//", False),
        ("", False),
    ],
)
def test_internal_notes(raw: str, note: bool) -> None:
    assert is_internal_note(raw) is note


def test_internal_note_prefixes_are_configurable() -> None:
    assert is_internal_note("[int] hi", ("[INT]",))
    assert not is_internal_note("note: hi", ("[int]",))
    assert not is_internal_note("hello", ("", "  "))


@pytest.mark.parametrize("text", ["&lt;" * 1600, "a" * 7000, ("word " * 1200).strip(),
                                  "x" * 2998 + "&amp;&amp;" + "y" * 10, "line\n" * 900,
                                  "ab <https://example.test/" + "p" * 40 + "|link> " * 80])
def test_long_text_is_cut_into_block_sized_pieces_that_join_back(text: str) -> None:
    from bot.slack.blocks import pieces

    parts = pieces(text)
    assert "".join(parts) == text
    assert all(0 < len(p) <= 3000 for p in parts)
    for part in parts[:-1]:
        assert part.rfind("&") <= part.rfind(";") and part.rfind("<") <= part.rfind(">"), part[-30:]
