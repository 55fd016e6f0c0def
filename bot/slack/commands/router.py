"""`/textback`: one slash command, run in a line's channel to read or change that line."""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.slack.blocks import escape
from bot.slack.commands import (
    callers,
    consent,
    follow_up,
    forget,
    hours,
    keywords,
    leads,
    oncall,
    setup,
    stats,
    status,
    templates,
    threads,
)
from bot.slack.commands.permissions import Permissions
from bot.slack.commands.replies import COMMAND, Ctx, Refused, Reply, UsageError, section
from workflows.lines import Line

log = logging.getLogger(__name__)

Handler = Callable[[Ctx], Awaitable[Reply]]

SUBCOMMANDS: dict[str, Handler] = {
    "help": status.help_reply,
    "status": status.status_reply,
    "hours": hours.hours,
    "template": templates.template,
    "block": callers.block,
    "unblock": callers.unblock,
    "cooldown": follow_up.cooldown,
    "reminders": follow_up.reminders,
    "lead": leads.lead,
    "leads": leads.leads,
    "forget": forget.forget,
    "setup": setup.setup,
    "keywords": keywords.keywords,
    "oncall": oncall.oncall,
    "resolve": threads.resolve,
    "reply": threads.reply,
    "stats": stats.stats,
    "consent": consent.consent,
    "optout": consent.optout,
}
ALIASES = {
    "templates": "template", "hour": "hours", "reminder": "reminders", "?": "help", "settings": "status",
    "keyword": "keywords", "urgent": "keywords", "on-call": "oncall", "on_call": "oncall",
    "opt-out": "optout", "opt_out": "optout", "optouts": "optout",
}
# These work in any channel; everything else needs the channel's line.
ANYWHERE = frozenset({"help", "setup"})


def register(bolt: AsyncApp, svc: Services) -> None:
    """Attach `/textback` to the Bolt app."""
    permissions = Permissions(svc.slack, svc.lines.admins, now=time.monotonic)

    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        line = await svc.lines.line_for_channel(channel)
        words = str(command.get("text") or "").split(None, 1)
        args = words[1].strip() if len(words) > 1 else ""
        ctx = Ctx(svc=svc, permissions=permissions, user=user, channel=channel, line=line, args=args)
        reply = await run(ctx, words[0].lower() if words else "help")
        await ack(text=reply.text, blocks=reply.blocks)
        # `setup` links the channel: its announcement goes to the line it just created.
        line = line or (await svc.lines.line_for_channel(channel) if reply.announce or reply.notice else None)
        if reply.announce and line is not None:
            svc.tasks.spawn(announce(svc, line, user, reply.announce), name="settings-announcement")
        if reply.notice and line is not None:
            svc.tasks.spawn(tell_channel(svc, line, reply.notice), name="command-notice")

    bolt.command(COMMAND)(on_command)


async def run(ctx: Ctx, name: str) -> Reply:
    """Dispatch one subcommand; bad input and refusals become replies, never errors."""
    name = ALIASES.get(name, name)
    handler = SUBCOMMANDS.get(name)
    if handler is None:
        return _unknown(name)
    if ctx.line is None and name not in ANYWHERE:
        return await status.not_linked(ctx)
    try:
        return await handler(ctx)
    except UsageError as exc:
        return Reply(text=f":warning: {exc.problem}\nExample: `{exc.example}`")
    except Refused:
        admins = " or ".join(f"<@{u}>" for u in ctx.svc.lines.admins)
        also = f", or {admins}" if admins else ""
        return Reply(
            text=(f":lock: Only workspace admins and owners{also} can change textback settings. "
                  f"You can still read them: `{COMMAND} status`.")
        )


def _unknown(name: str) -> Reply:
    close = difflib.get_close_matches(name, [*SUBCOMMANDS, *ALIASES], n=1)
    hint = f" Did you mean `{COMMAND} {ALIASES.get(close[0], close[0])}`?" if close else ""
    return Reply(text=f':warning: "{escape(name)}" is not a {COMMAND} command.{hint} `{COMMAND} help` lists them.')


async def announce(svc: Services, line: Line, user: str, changes: list[str]) -> None:
    """Tell the channel who changed what, so a change never goes unnoticed."""
    body = f":gear: <@{user}> changed textback settings for *{escape(line.label)}*:\n" + "\n".join(changes)
    try:
        await svc.slack.chat_postMessage(
            channel=line.channel, text=f"textback settings changed by <@{user}>", blocks=[section(body)],
            unfurl_links=False, unfurl_media=False,
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        # The change is saved either way; the channel just misses the notice.
        log.warning("could not announce a settings change: %r", exc)


async def tell_channel(svc: Services, line: Line, text: str) -> None:
    """Post what a command did for everyone in the line's channel to see."""
    try:
        await svc.slack.chat_postMessage(
            channel=line.channel, text=text, blocks=[section(text)], unfurl_links=False, unfurl_media=False,
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not post a command's notice: %r", exc)
