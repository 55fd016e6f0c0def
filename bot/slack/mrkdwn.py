"""Slack text both ways: caller text escaped into Slack, team mrkdwn turned into plain SMS."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import emoji

Resolve = Callable[[str], Awaitable[str]]


_TOKEN = re.compile(r"<([^<>]*)>")
# A broadcast is dropped together with the spaces around it, keeping one space only when
# there is text on both sides, so "ok <!channel> now" reads "ok now".
_BROADCAST = re.compile(r"([ \t]*)<!(?:here|channel|everyone)(?:\|[^<>]*)?>([ \t]*)")
# Every literal `<`/`>` in Slack text is a token delimiter (the rest arrive as entities), so
# once tokens are replaced, `<n>` can only be one of our own placeholders.
_SLOT = re.compile(r"<(\d+)>")
_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.S)
_CODE = re.compile(r"(?<![^\W_]|`)`([^`\n]+)`(?!`|[^\W_])")
# Bare URLs are shielded from marker stripping; trailing punctuation stays outside.
_BARE_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s<>]*[^\s<>*_~.,;:!?)'\"]")
_QUOTE = re.compile(r"^(?:&gt;&gt;&gt;|&gt;)[ \t]?", re.M)
# A shortcode must not follow a letter or digit, so times (10:30:45) and URLs are left alone.
_SHORTCODE = re.compile(r"(?<!\w):([a-z0-9_+-]+):(?!\w)")
_SLACK_FLAG = re.compile(r"flag-([a-z]{2})")


def _marker(char: str) -> re.Pattern[str]:
    """`*x*`-style span: markers only at word edges, so snake_case and 2*3*4 survive."""
    c = re.escape(char)
    return re.compile(rf"(?<![^\W_]|{c}){c}(?=\S)([^{c}\n]+?)(?<=\S){c}(?!{c}|[^\W_])")


_MARKERS = (_marker("~"), _marker("*"), _marker("_"))


def escape(text: str) -> str:
    """Caller text into Slack: the three characters Slack decodes, `&` first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's three entities back to characters, `&amp;` last so nothing decodes twice."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def to_plain_text(text: str, *, resolve_user: Resolve, resolve_channel: Resolve) -> str:
    """Team mrkdwn -> what a caller's phone should show (PROTOCOLS 7.2)."""
    slots: list[str] = []
    text = await _stash_tokens(_BROADCAST.sub(_drop_broadcast, text), slots, resolve_user, resolve_channel)
    text = _CODE_BLOCK.sub(lambda m: _stash(slots, _restore(m.group(1), slots)), text)
    text = _CODE.sub(lambda m: _stash(slots, _restore(m.group(1), slots)), text)
    text = _BARE_URL.sub(lambda m: _stash(slots, unescape(m.group(0))), text)
    text = _QUOTE.sub("", text)
    text = _SHORTCODE.sub(_emoji, text)
    text = _strip_markers(text)
    return _restore(text, slots).strip()


def _drop_broadcast(match: re.Match[str]) -> str:
    return " " if match.group(1) and match.group(2) else ""


def _stash(slots: list[str], value: str) -> str:
    """Park finished text behind a placeholder so later passes cannot alter it."""
    slots.append(value)
    return f"<{len(slots) - 1}>"


def _restore(text: str, slots: list[str]) -> str:
    """Decode entities in the free text and put the parked pieces back (decoded once only)."""
    parts = _SLOT.split(text)
    return "".join(slots[int(p)] if i % 2 else unescape(p) for i, p in enumerate(parts))


async def _stash_tokens(text: str, slots: list[str], resolve_user: Resolve, resolve_channel: Resolve) -> str:
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(text[pos : match.start()])
        out.append(_stash(slots, await _token(match.group(1), resolve_user, resolve_channel)))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


async def _token(inner: str, resolve_user: Resolve, resolve_channel: Resolve) -> str:
    """One `<…>` token as plain text (labels and URLs arrive entity-escaped)."""
    target, _, label = inner.partition("|")
    label = unescape(label)
    if target.startswith("@"):
        return "@" + (await resolve_user(target[1:]) or label or target[1:])
    if target.startswith("#"):
        return "#" + (label or await resolve_channel(target[1:]) or target[1:])
    if target.startswith("!subteam^"):
        return label if label.startswith("@") else "@" + (label or "team")
    if target.startswith("!"):
        # `<!date^…|fallback>` and anything newer: the fallback text is all a phone can show.
        return label
    return _link(unescape(target), label)


def _link(target: str, label: str) -> str:
    if target.startswith(("mailto:", "tel:", "sms:")):
        return label or target.split(":", 1)[1]
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", target, flags=re.I)
    if not label or label.rstrip("/") in (target.rstrip("/"), bare.rstrip("/")):
        return target
    return f"{label} ({target})"


def _emoji(match: re.Match[str]) -> str:
    """Shortcode to emoji; unknown ones (custom, skin tones) are dropped."""
    name = match.group(1)
    flag = _SLACK_FLAG.fullmatch(name)
    if flag:
        return "".join(chr(0x1F1E6 + ord(c) - ord("a")) for c in flag.group(1))
    found = emoji.emojize(match.group(0), language="alias")
    if found != match.group(0):
        return found
    # Digits-only pairs such as ":1:" are more likely ratios than custom emoji.
    return "" if re.search(r"[a-z]", name) else match.group(0)


def _strip_markers(text: str) -> str:
    # Two rounds so nested spans like _*both*_ lose both pairs of markers.
    for _ in range(2):
        for marker in _MARKERS:
            text = marker.sub(r"\1", text)
    return text
