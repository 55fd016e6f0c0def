"""What every `/textback` subcommand shares: its context, its reply, and the ways it says no."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.lines.directory import Change
from bot.services import Services
from bot.slack.blocks import escape, to_plain_text
from bot.slack.commands.permissions import Permissions
from workflows.lines import Line

Block = dict[str, Any]

COMMAND = "/textback"
# Slack refuses a section text over 3000 characters; leave room for the "…".
SECTION_LIMIT = 2900
FIELD_LABELS = {
    "timezone": "timezone",
    **{f"hours.{d}": f"hours ({d.capitalize()})" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "templates.business_hours": "business-hours text",
    "templates.after_hours": "after-hours text",
    "greeting.texted": "greeting when a text is sent",
    "greeting.not_texted": "greeting when no text is sent",
    "screen": "call screening",
    "cooldown": "cooldown",
    "reminders": "reminders",
    "hours.exceptions": "holidays and special hours",
    "urgent.add": "urgent phrases added",
    "urgent.remove": "urgent phrases removed",
    "oncall.people": "on call",
    "oncall.backup": "backup",
    "oncall.call": "pages ring the phone",
    "oncall.escalate_after": "page the backup after",
}
EXAMPLES = {
    "timezone": f"{COMMAND} hours tz America/Chicago",
    "hours": f"{COMMAND} hours mon 08:00-12:00,13:00-17:00",
    "templates": f"{COMMAND} template set after_hours We're closed now - text us what you need.",
    "greeting": f"{COMMAND} template set greeting.not_texted Thanks for calling {{business}}. We'll call you back.",
    "screen": f"{COMMAND} screen off",
    "cooldown": f"{COMMAND} cooldown 4h",
    "reminders": f"{COMMAND} reminders 5m 15m 60m",
    "urgent": f"{COMMAND} keywords add mold",
    "oncall": f"{COMMAND} oncall set @dana (512) 555-0199",
}


class UsageError(Exception):
    """Input we could not use: what was wrong, and a command that would work."""

    def __init__(self, problem: str, example: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.example = example


class Refused(Exception):
    """The user may not change settings."""


@dataclass
class Reply:
    """An ephemeral answer, and optionally an announcement for the whole channel."""

    text: str
    blocks: list[Block] | None = None
    announce: list[str] = field(default_factory=list)  # settings changes, listed under "changed"
    notice: str = ""  # any other message for the channel (mrkdwn), posted as it is


@dataclass
class Ctx:
    """One command invocation: who ran it, where, on which line, with what text."""

    svc: Services
    permissions: Permissions
    user: str
    channel: str
    line: Line | None
    args: str

    async def require_admin(self) -> None:
        if not await self.permissions.can_change(self.user):
            raise Refused()

    def linked(self) -> Line:
        """The channel's line; commands that act on a line are only dispatched when there is one."""
        assert self.line is not None
        return self.line

    async def plain(self, text: str) -> str:
        """Slack's escaped command text as the characters the user typed."""
        d = self.svc.directory
        return await to_plain_text(text, resolve_user=d.user_name, resolve_channel=d.channel_name)

    async def change(self, field_name: str, text: str) -> Change:
        """Store one setting for this line, turning a bad value into a UsageError with an example."""
        try:
            return await self.svc.lines.change(
                self.linked(), field_name, text, by=self.user, at=self.svc.clock.now()
            )
        except ValueError as exc:
            raise UsageError(str(exc), EXAMPLES[field_name.split(".")[0]]) from None


def mrkdwn(text: str) -> Block:
    # verbatim: a template's "@channel" or bare URL must show as typed, not notify or unfurl.
    return {"type": "mrkdwn", "text": clip(text), "verbatim": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(text: str) -> str:
    """Operator-written text as a Slack quote, escaped so it can mention no one."""
    return "\n".join("> " + escape(part) for part in text.splitlines() or [""])


def change_line(change: Change) -> str:
    """ "hours (Mon): 08:00-17:00 → 09:00-17:00" (templates on their own quoted lines)."""
    label = FIELD_LABELS.get(change.field, change.field)
    if change.field.startswith("templates."):
        return f"*{label}*\n{quote(change.old)}\n→\n{quote(change.new)}"
    return f"*{label}*: {escape(change.old)} → {escape(change.new)}"
