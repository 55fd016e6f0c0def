"""`/textback`: one slash command, run in a line's channel to read or change that line."""

from __future__ import annotations

import difflib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot import phones
from bot.services import Services
from bot.slack import shortcuts
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
from bot.slack.events import text_at
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
    "screen": follow_up.screen,
    "lead": leads.lead,
    "leads": leads.leads,
    "forget": forget.forget,
    "setup": setup.setup,
    "keywords": keywords.keywords,
    "oncall": oncall.oncall,
    "resolve": threads.resolve,
    "reply": threads.reply,
    "call": threads.call,
    "text": threads.text,
    "phone": threads.phone,
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
ANYWHERE = frozenset({"help", "setup", "phone"})


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

    async def on_send_anyway(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The "Send anyway" button under text first's late-hour question: send it as asked."""
        await ack()
        user, channel = text_at(body, "user", "id"), text_at(body, "channel", "id")
        actions = body.get("actions")
        raw = text_at(actions[0], "value") if isinstance(actions, list) and actions else ""
        try:
            asked = json.loads(raw)
            number, message = str(asked["n"]), str(asked["t"])
        except (ValueError, KeyError, TypeError):
            return
        line = await svc.lines.line_for_channel(channel)
        if not (user and line):
            return
        ctx = Ctx(svc=svc, permissions=permissions, user=user, channel=channel, line=line, args=f"{number} {message}")
        try:
            reply = await threads.text(ctx, confirmed=True)
        except UsageError as exc:
            reply = Reply(text=f":warning: {exc.problem}")
        await svc.chat.tell_user(channel, user, reply.text)

    bolt.action(threads.SEND_ANYWAY)(on_send_anyway)

    async def on_shortcut(ack: AsyncAck, body: dict[str, Any], client: Any) -> None:
        """"Text a customer", from anywhere in Slack: the modal."""
        await ack()
        lines = list(await svc.lines.lines())
        trigger = text_at(body, "trigger_id")
        if trigger:
            await svc.chat.call("views.open", trigger_id=trigger, view=shortcuts.text_modal(lines))

    async def on_modal(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The modal sent: refused in place when something is missing or it is late for them."""
        user = text_at(body, "user", "id")
        number_text, line_number, message, late_ok = shortcuts.submitted(body.get("view"))
        number = phones.normalize(number_text)
        line = await svc.lines.line_for_number(line_number)
        errors: dict[str, str] = {}
        if number is None:
            errors["number"] = "Write a phone number, like (512) 555-0123"
        if line is None:
            errors["line"] = "Pick one of the lines"
        if not message.strip():
            errors["message"] = "Write the message to send"
        if number and line and not late_ok:
            late = threads.late_for(number, line.timezone, svc.clock.now())
            if late:
                errors["late"] = f"It's {late} for this customer: tick the box to send anyway"
        if errors or number is None or line is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        ctx = Ctx(svc=svc, permissions=permissions, user=user, channel=line.channel, line=line,
                  args=f"{number} {message}")
        try:
            reply = await threads.text(ctx, confirmed=True)
        except UsageError as exc:
            reply = Reply(text=f":warning: {exc.problem}")
        await svc.chat.tell_user(line.channel, user, reply.text)

    bolt.shortcut(shortcuts.SHORTCUT)(on_shortcut)
    bolt.view(shortcuts.MODAL)(on_modal)


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
