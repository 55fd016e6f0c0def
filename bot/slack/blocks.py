"""Slack's message format: the thread's card and lines in Block Kit, and mrkdwn both ways.

Everything a caller controls (their text, their CNAM name, media names) goes through
`escape` and into `verbatim` mrkdwn, so it can never mention anyone or form a link; a team
member's mrkdwn comes back out as plain SMS text through `to_plain_text`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import emoji

from bot.phones import international
from workflows.conversation import Conversation, Entry
from workflows.missed_call import late_note

Block = dict[str, Any]
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
# RFC 3986 reserved and unreserved characters, and `%` so existing escapes stay as they are.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def _marker(char: str) -> re.Pattern[str]:
    """`*x*`-style span: markers only at word edges, so snake_case and 2*3*4 survive."""
    c = re.escape(char)
    return re.compile(rf"(?<![^\W_]|{c}){c}(?=\S)([^{c}\n]+?)(?<=\S){c}(?!{c}|[^\W_])")


_MARKERS = (_marker("~"), _marker("*"), _marker("_"))


def escape(text: str) -> str:
    """Caller text into Slack: the three characters Slack decodes, `&` first."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link_target(url: str) -> str:
    """A URL for the left of `<url|label>`: `|`, `<`, `>`, spaces and quotes percent-encoded.

    A caller's MMS URL is shown as a link whose label we choose; a `|` left in it would end the
    URL and let the rest of it stand as the label ("Click to verify your bank"). Encoded, the
    link still opens the same resource and shows only our label.
    """
    return escape(quote(url, safe=_URL_SAFE))


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
        # A phone cannot follow a label: "email us" must still carry the address, "call us"
        # the number. A label that already is the address or number stands alone.
        scheme, _, rest = target.partition(":")
        address = unquote(rest.split("?", 1)[0])
        if scheme != "mailto":
            address = international(address) or address
        if not label or label == address or (scheme != "mailto" and _digits(label) == _digits(address)):
            return label or address
        return f"{label} ({address})"
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", target, flags=re.I)
    if not label or label.rstrip("/") in (target.rstrip("/"), bare.rstrip("/")):
        return target
    return f"{label} ({target})"


def _digits(text: str) -> str:
    """The digits of a phone number as written, without a leading country code 1."""
    digits = re.sub(r"\D", "", text)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


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


TEXTBACK_LABELS = {
    "pending": ":hourglass_flowing_sand: sending text-back",
    "sent": ":white_check_mark: text-back sent",
    "failed": ":warning: text-back failed",
    "undelivered": ":warning: text-back not delivered",
    "suppressed": ":no_entry_sign: no text-back",
    "none": ":speech_balloon: no text-back needed",
}


def local_time(at: datetime | None, tz: str) -> str:
    """`10:42 AM` in the business's timezone (`Tue 10:42 AM` when not today is unknown)."""
    if at is None:
        return ""
    return at.astimezone(ZoneInfo(tz)).strftime("%a %b %-d, %-I:%M %p")


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def caller_title(conv: Conversation) -> str:
    """`(512) 555-0123 (Jane Doe)`, escaped."""
    title = escape(conv.caller.display[:40])
    if conv.caller.name:
        # Caller ID names are 15 characters; a longer one is not worth a card's space.
        title += f" ({escape(conv.caller.name[:64])})"
    return title


def textback_status(conv: Conversation) -> str:
    """The card's text-back line: the text sent, in quotes, or why none was sent (escaped: a
    line's templates are the operator's, but may hold `<`, `&` or a pasted `<!channel>`)."""
    status = TEXTBACK_LABELS[conv.textback]
    detail = conv.textback_detail
    if not detail:
        return status
    if conv.textback == "sent":
        return _fitted(f"{status}: \u201c", escape(detail), "\u201d")
    if conv.textback in ("suppressed", "failed", "undelivered"):
        return _fitted(f"{status}: ", escape(detail), "")
    return status


def _fitted(before: str, text: str, after: str) -> str:
    """`before + text + after` within one block's limit: a longer (escaped) `text` is cut at a
    space, never inside an entity, and ends in an ellipsis."""
    room = BLOCK_TEXT_MAX - len(before) - len(after)
    if len(text) > room:
        text = pieces(text, room - 1)[0].rstrip() + "\u2026"
    return before + text + after


def card(conv: Conversation, tz: str) -> tuple[str, list[Block]]:
    """The parent message: fallback text and blocks."""
    verb, icon = {"missed_call": ("Missed call from", ":telephone_receiver:"),
                  "texted_out": ("Texted first:", ":outbox_tray:")}.get(conv.origin, ("Text from", ":incoming_envelope:"))
    title = f"{icon} *{verb} {caller_title(conv)}*"
    when = local_time(conv.opened_at, tz)
    hours = "business hours" if conv.in_hours else "after hours"
    status = textback_status(conv)
    facts = [f"*{escape(conv.line_label)}*", when, hours]
    if conv.calls > 1:
        facts.append(f"{conv.calls} calls")
    urgent = conv.extra.get("urgent")
    if urgent:
        title = f":rotating_light: *URGENT* · {title}"
    blocks: list[Block] = [
        {"type": "section", "text": _mrkdwn(title)},
        {"type": "context", "elements": [_mrkdwn(" · ".join(facts))]},
        {"type": "context", "elements": [_mrkdwn(status)]},
    ]
    late = late_note(conv)
    if late:
        came = "call came in" if conv.origin == "missed_call" else "text came in"
        blocks.append({"type": "context", "elements": [_mrkdwn(f":hourglass: {late}; the {came} {when}")]})
    if urgent:
        blocks.append({"type": "section", "text": _mrkdwn(f":rotating_light: Urgent: the caller wrote \u201c{escape(urgent)}\u201d")})
    answers = [(k.removeprefix("answer:"), v) for k, v in conv.extra.items() if k.startswith("answer:")]
    if answers:
        # The caller's answers to the qualification questions: caller text, escaped.
        shown = " · ".join(f"*{escape(k)}:* {escape(v[:200])}" for k, v in answers[:10])
        blocks.append({"type": "section", "text": _mrkdwn(f":clipboard: {shown}"[:3000])})
    blocks.append({"type": "context", "elements": [_mrkdwn(progress(conv, tz))]})
    if conv.status != "resolved":
        blocks.append({"type": "actions", "block_id": "tb_card", "elements": buttons(conv)})
    fallback = f"{verb} {escape(conv.caller.display)} on {escape(conv.line_label)}"
    if urgent:
        fallback = f"URGENT: {fallback}"
    return fallback, blocks


def _who(user: str) -> str:
    """A mention of a Slack user id we stored; anything else is shown escaped, never as markup."""
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]{2,}", user) else escape(user)


def progress(conv: Conversation, tz: str) -> str:
    """Where the conversation stands: new, claimed by X, replied, resolved; paging state."""
    x = conv.extra
    if conv.status == "resolved":
        return f":white_check_mark: Resolved by {_who(x.get('resolved_by', '?'))}"
    parts: list[str] = []
    if x.get("acked_by"):
        parts.append(f":raising_hand: {_who(x['acked_by'])} is on it")
    elif x.get("paging_since"):
        parts.append(":rotating_light: paging the on-call person")
    if x.get("claimed_by") and x.get("claimed_by") != x.get("acked_by"):
        parts.append(f":hand: claimed by {_who(x['claimed_by'])}")
    if x.get("first_reply_by"):
        parts.append(f":speech_balloon: replied by {_who(x['first_reply_by'])}")
    if x.get("snoozed_until"):
        parts.append(f":zzz: snoozed until {local_time(datetime.fromisoformat(x['snoozed_until']), tz)}")
    return " · ".join(parts) or ":new: New: nobody has claimed or answered this caller yet"


def _button(text: str, action: str, value: str, style: str = "") -> Block:
    button: Block = {"type": "button", "text": {"type": "plain_text", "text": text, "emoji": True},
                     "action_id": action, "value": value}
    if style:
        button["style"] = style
    return button


def buttons(conv: Conversation) -> list[Block]:
    """The card's buttons; each carries the conversation id, so an old card still finds it."""
    x, out = conv.extra, []
    if x.get("urgent") and not x.get("acked_by"):
        out.append(_button(":raising_hand: I'm on it", "tb_ack", conv.id, "danger"))
    if not x.get("claimed_by"):
        out.append(_button("Claim", "tb_claim", conv.id))
    out.append(_button("Resolve", "tb_resolve", conv.id, "primary"))
    out.append(_button("Snooze 1h", "tb_snooze_1h", conv.id))
    out.append(_button("Snooze to opening", "tb_snooze_open", conv.id))
    out.append(_snooze_pick(conv.id))
    if conv.caller.kind == "ok":
        out.append(_button(":telephone_receiver: Call back", "tb_callback", conv.id))
        out.append(_block_button(conv))
    return out


# Snooze choices beyond the two buttons: option value "<choice>:<conversation id>".
SNOOZE_CHOICES = (("2h", "2 hours"), ("4h", "4 hours"), ("tomorrow", "Tomorrow 9 AM"), ("monday", "Monday 9 AM"))


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def _snooze_pick(conv_id: str) -> Block:
    options = [{"text": _plain(label), "value": f"{choice}:{conv_id}"} for choice, label in SNOOZE_CHOICES]
    return {"type": "static_select", "action_id": "tb_snooze_pick", "placeholder": _plain("Snooze until…"),
            "options": options}


def _block_button(conv: Conversation) -> Block:
    button = _button("Block number", "tb_block", conv.id)
    # Slack asks before sending the press: blocking is easy to undo, but not from the card.
    button["confirm"] = {
        "title": _plain("Block this number?"),
        "text": _plain(f"{conv.caller.display[:40]} will get no more automatic texts from this line. "
                       "Undo with /textback unblock."),
        "confirm": _plain("Block"),
        "deny": _plain("Cancel"),
        "style": "danger",
    }
    return button


def entry(e: Entry, conv: Conversation, tz: str) -> tuple[str, list[Block]]:
    """One thread line: who speaks, when, and the escaped text, whole: a text longer than one
    block holds (3,000 characters once escaped) goes on in the next block."""
    when = local_time(e.at, tz).rsplit(", ", 1)[-1] if e.at else ""
    if e.speaker == "caller":
        who = f":bust_in_silhouette: *Caller* {escape(conv.caller.display)}"
        body = escape(e.text) if e.text else "_(no text)_"
        if e.attachments:
            count = f"{e.attachments} attachment{'s' if e.attachments > 1 else ''}"
            body = f"{escape(e.text)}\n_({count} below)_" if e.text else f"_({count} below)_"
        blocks: list[Block] = [
            {"type": "context", "elements": [_mrkdwn(f"{who} · {when}")]},
            *({"type": "section", "text": _mrkdwn(part)} for part in pieces(body)),
            *_links(e),
        ]
        return f"Caller: {escape(e.text)}"[:3000], blocks
    if e.media:
        text = f":{e.icon}: {escape(e.text)}" if e.icon else escape(e.text)
        return escape(e.text)[:3000], [{"type": "context", "elements": [_mrkdwn(text[:BLOCK_TEXT_MAX])]}, *_links(e)]
    icon = f":{e.icon}: " if e.icon else ""
    if e.buttons:
        # A question for the team: the text as a section, the answers as buttons under it.
        text = f"{icon}{escape(e.text)}"
        answers = [_button(label, action, conv.id) for label, action in e.buttons]
        return text[:3000], [*({"type": "section", "text": _mrkdwn(part)} for part in pieces(text)),
                             {"type": "actions", "elements": answers}]
    if e.mentions:
        # Mentions notify only from a section's text: ids come from Slack or the lines file,
        # never from a caller, and the words after them are escaped as usual.
        who = " ".join(_mention(m) for m in e.mentions)
        text = f"{icon}{who} {escape(e.text)}"
        return text[:3000], [{"type": "section", "text": _mrkdwn(part)} for part in pieces(text)]
    text = f"{icon}{escape(e.text)}"
    if len(text) <= BLOCK_TEXT_MAX:
        return escape(e.text)[:3000], [{"type": "context", "elements": [_mrkdwn(text)]}]
    return escape(e.text)[:3000], [{"type": "section", "text": _mrkdwn(part)} for part in pieces(text)]


def _links(e: Entry) -> list[Block]:
    """The entry's media as links labelled by us ("attachment 1"), whatever their URL says."""
    if not e.media:
        return []
    labels = ["link"] if e.speaker == "system" and len(e.media) == 1 else [f"attachment {i}" for i in range(1, len(e.media) + 1)]
    links = [f"<{link_target(url)}|{label}>" for url, label in zip(e.media, labels, strict=True)]
    return [{"type": "context", "elements": [_mrkdwn(" · ".join(links))]}]


# Slack refuses a section's (or a context element's) text over 3,000 characters.
BLOCK_TEXT_MAX = 3000


def pieces(text: str, size: int = BLOCK_TEXT_MAX) -> list[str]:
    """`text` in consecutive parts of at most `size` characters, cut at a line break or a space
    near the end where there is one, and never inside an escape (`&amp;`) or a `<...>` link."""
    parts: list[str] = []
    while len(text) > size:
        cut = size
        window = text[:size]
        # Not inside `&lt;` or `<https://…|label>`: cut before the entity or link it is in.
        for opener, closer in (("&", ";"), ("<", ">")):
            start = window.rfind(opener)
            if start > window.rfind(closer) and start > 0:
                cut = min(cut, start)
        soft = max(window.rfind("\n", 0, cut), window.rfind(" ", 0, cut))
        if soft > cut - 200:
            cut = soft + 1
        parts.append(text[:cut])
        text = text[cut:]
    return [*parts, text] if text or not parts else parts


def _mention(who: str) -> str:
    if who == "here":
        return "<!here>"
    if not re.fullmatch(r"[UW][A-Z0-9]{2,}", who):
        raise ValueError(f"not a Slack user id: {who!r}")
    return f"<@{who}>"
