"""Block Kit for the thread: the parent card and the lines posted under it.

Everything a caller controls (their text, their CNAM name, media names) goes through
`escape` and into `verbatim` mrkdwn, so it can never mention anyone or form a link.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.mrkdwn import escape
from workflows.conversation import Conversation, Entry

Block = dict[str, Any]

TEXTBACK_LABELS = {
    "pending": ":hourglass_flowing_sand: sending text-back",
    "sent": ":white_check_mark: text-back sent",
    "failed": ":warning: text-back failed",
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


def card(conv: Conversation, tz: str) -> tuple[str, list[Block]]:
    """The parent message: fallback text and blocks."""
    verb = "Missed call" if conv.origin == "missed_call" else "Text"
    icon = ":telephone_receiver:" if conv.origin == "missed_call" else ":incoming_envelope:"
    title = f"{icon} *{verb} from {caller_title(conv)}*"
    when = local_time(conv.opened_at, tz)
    hours = "business hours" if conv.in_hours else "after hours"
    status = TEXTBACK_LABELS[conv.textback]
    if conv.textback_detail and conv.textback in ("suppressed", "failed"):
        status += f": {escape(conv.textback_detail)}"
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
    fallback = f"{verb} from {escape(conv.caller.display)} on {escape(conv.line_label)}"
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
    """One thread line: who speaks, when, and the escaped text."""
    when = local_time(e.at, tz).rsplit(", ", 1)[-1] if e.at else ""
    if e.speaker == "caller":
        who = f":bust_in_silhouette: *Caller* {escape(conv.caller.display)}"
        body = escape(e.text) if e.text else "_(no text)_"
        blocks: list[Block] = [
            {"type": "context", "elements": [_mrkdwn(f"{who} · {when}")]},
            {"type": "section", "text": _mrkdwn(body)},
        ]
        links = [f"<{escape(url)}|attachment {i}>" for i, url in enumerate(e.media, 1)]
        if links:
            blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(links))]})
        return f"Caller: {escape(e.text)}"[:3000], blocks
    icon = f":{e.icon}: " if e.icon else ""
    if e.mentions:
        # Mentions notify only from a section's text: ids come from Slack or the lines file,
        # never from a caller, and the words after them are escaped as usual.
        who = " ".join(_mention(m) for m in e.mentions)
        text = f"{icon}{who} {escape(e.text)}"
        return text[:3000], [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
    text = f"{icon}{escape(e.text)}"
    return escape(e.text)[:3000], [{"type": "context", "elements": [_mrkdwn(text[:3000])]}]


def _mention(who: str) -> str:
    if who == "here":
        return "<!here>"
    if not re.fullmatch(r"[UW][A-Z0-9]{2,}", who):
        raise ValueError(f"not a Slack user id: {who!r}")
    return f"<@{who}>"
