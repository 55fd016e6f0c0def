"""Slack mrkdwn both ways (PROTOCOLS 7)."""

from __future__ import annotations

import pytest

from bot.slack.mrkdwn import escape, to_plain_text


async def user(uid: str) -> str:
    return {"U0123": "Bob"}.get(uid, "")


async def channel(cid: str) -> str:
    return {"C0999": "dispatch"}.get(cid, cid)


async def plain(text: str) -> str:
    return await to_plain_text(text, resolve_user=user, resolve_channel=channel)


def test_escape_neutralises_mentions_and_links() -> None:
    assert escape("<!channel> <https://x.example|bank> & co") == (
        "&lt;!channel&gt; &lt;https://x.example|bank&gt; &amp; co"
    )
    assert escape("&amp;") == "&amp;amp;"


@pytest.mark.parametrize(
    ("slack", "sms"),
    [
        ("<@U0123>", "@Bob"),
        ("<@U0456|carl>", "@carl"),
        ("<#C0123|general>", "#general"),
        ("<#C0999>", "#dispatch"),
        ("<!here> call him", "call him"),
        ("ok <!channel> now", "ok now"),
        ("<!everyone>", ""),
        ("<!subteam^S0123|@plumbers> please", "@plumbers please"),
        ("<!date^1700000000^{date_short}|Nov 14>", "Nov 14"),
        ("<https://acme.example/book|Book here>", "Book here (https://acme.example/book)"),
        ("<https://acme.example/book|https://acme.example/book>", "https://acme.example/book"),
        ("<https://acme.example>", "https://acme.example"),
        ("<mailto:a@b.example|a@b.example>", "a@b.example"),
        ("<tel:+15125550123|512-555-0123>", "512-555-0123"),
        ("&amp; &lt; &gt;", "& < >"),
        ("&amp;lt;", "&lt;"),
        (":white_check_mark: :+1:", "✅ 👍"),
        (":+1::skin-tone-3: :party_parrot: :simple_smile:", "👍"),
        ("*bold* _italic_ ~strike~ `code` ```block```", "bold italic strike code block"),
        ("snake_case and 2*3*4 and https://x.example/a_b_", "snake_case and 2*3*4 and https://x.example/a_b_"),
        ("at 10:30:45 sharp", "at 10:30:45 sharp"),
        ("&gt; quoted\nanswer", "quoted\nanswer"),
    ],
)
async def test_mrkdwn_to_plain_text(slack: str, sms: str) -> None:
    assert await plain(slack) == sms


async def test_decoded_text_never_forms_new_tokens() -> None:
    assert await plain("&lt;@U0123&gt;") == "<@U0123>"
