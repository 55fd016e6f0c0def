"""Slack text both ways: caller text escaped into Slack, team mrkdwn turned into plain SMS."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import emoji

Resolve = Callable[[str], Awaitable[str]]

_TOKEN = re.compile(r"<([^<>]*)>")
_SHORTCODE = re.compile(r"(?<![\w:/]):[a-z0-9_+-]+:(?![\w/])")
_SKIN_TONE = re.compile(r":skin-tone-\d:")
# Formatting markers count only at word edges, so snake_case, 2*3*4 and URLs survive.
_MARKERS = [
    re.compile(r"```\n?(.*?)\n?```", re.S),
    re.compile(r"(?<![\w`])`([^`\n]+)`(?![\w`])"),
    re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"),
    re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"),
]
_QUOTE = re.compile(r"^&gt;\s?", re.M)
_BROADCASTS = {"!here", "!channel", "!everyone"}


def escape(text: str) -> str:
    """Caller text into Slack: the three characters Slack decodes, `&` first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's three entities back to characters, `&amp;` last so nothing decodes twice."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _link(target: str, label: str) -> str:
    if target.startswith(("mailto:", "tel:", "sms:")):
        return label or target.split(":", 1)[1]
    if not label or label in (target, re.sub(r"^\w+://", "", target)):
        return target
    return f"{label} ({target})"


async def _token(inner: str, resolve_user: Resolve, resolve_channel: Resolve) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (await resolve_user(target[1:]) or label or target[1:])
    if target.startswith("#"):
        return "#" + (label or await resolve_channel(target[1:]))
    if target in _BROADCASTS:
        return ""
    if target.startswith("!subteam^"):
        return label if label.startswith("@") else "@" + (label or "team")
    if target.startswith("!date^"):
        return label
    if target.startswith("!"):
        return label
    return _link(unescape(target), unescape(label))


async def to_plain_text(text: str, *, resolve_user: Resolve, resolve_channel: Resolve) -> str:
    """Team mrkdwn -> what a caller's phone should show (PROTOCOLS 7.2)."""
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(_plain_run(text[pos : match.start()]))
        out.append(await _token(match.group(1), resolve_user, resolve_channel))
        pos = match.end()
    out.append(_plain_run(text[pos:]))
    joined = "".join(out)
    return re.sub(r"[ \t]{2,}", " ", joined).strip()


def _plain_run(run: str) -> str:
    """Text between tokens: quotes, markers, emoji, then entities last."""
    run = _QUOTE.sub("", run)
    for marker in _MARKERS:
        run = marker.sub(r"\1", run)
    run = emoji.emojize(_SKIN_TONE.sub("", run), language="alias")
    run = _SHORTCODE.sub("", run)
    return unescape(run)
