"""`/textback help`, `/textback status`, and the answer in a channel that is not a line's."""

from __future__ import annotations

from datetime import datetime

from bot import phones
from bot.slack.blocks import escape
from bot.slack.commands import holidays
from bot.slack.commands.replies import (
    COMMAND,
    Block,
    Ctx,
    Reply,
    context,
    header,
    quote,
    section,
)
from workflows.line_overrides import DAY_KEYS, show
from workflows.lines import Line, describe_next_open, is_open
from workflows.oncall import on_duty
from workflows.override_fields import EXCEPTIONS_FIELD, ONCALL_FIELDS
from workflows.quiet_hours import format_quiet_hours

HELP = f"""*`{COMMAND}`* acts on the line of the channel you run it in.
*Read* (anyone):
• `{COMMAND} status`: every setting, its value and where it comes from
• `{COMMAND} hours`: opening hours and timezone
• `{COMMAND} template`: the text-back messages · `{COMMAND} template preview after_hours`
• `{COMMAND} block`: the blocked numbers · `{COMMAND} hours holidays`: closures and special hours ahead
• `{COMMAND} keywords`: the urgent phrases · `{COMMAND} oncall`: who is paged now, the backup, the rotation
• `{COMMAND} stats` or `{COMMAND} stats 30d`: missed calls, texts, replies, open threads, time to first reply
• `{COMMAND} consent (512) 555-0123`: a caller's opt-outs, opt-ins, HELPs and decisions · `{COMMAND} optout`: opt-out phrases
*Callers* (anyone; replying in the caller's thread is the usual way):
• `{COMMAND} reply (512) 555-0123 A tech can be there by 11:30.`: text the caller, shown in their thread
• `{COMMAND} resolve (512) 555-0123`: resolve the caller's open conversation
• `{COMMAND} text (512) 555-0123 Hi, this is Acme about your quote.`: text a customer first (opens their thread)
• `{COMMAND} call (512) 555-0123`: your phone rings from the line's number, then the caller's (as the card's Call back)
• `{COMMAND} phone (512) 555-0199`: your own phone for call backs (`phone` shows it, `phone remove` clears it)
*Leads* (anyone):
• `{COMMAND} leads`: counts by status and the latest leads · `{COMMAND} leads export 30d`: a CSV in the channel
• `{COMMAND} lead (512) 555-0123`: one lead and its history · `{COMMAND} lead (512) 555-0123 booked`
  statuses: new, contacted, qualified, booked, lost, spam
*Change* (workspace admins and owners, and the lines file's `admins`):
• `{COMMAND} hours mon 08:00-12:00,13:00-17:00` · `{COMMAND} hours sat closed` · `{COMMAND} hours mon-fri 9am-5pm`
• `{COMMAND} hours tz America/Chicago`
• `{COMMAND} hours closed 2026-12-25` · `{COMMAND} hours open 2026-12-24 08:00-12:00` · `{COMMAND} hours closed remove 2026-12-25`
• `{COMMAND} keywords add mold` · `{COMMAND} keywords remove swarm` (life-safety phrases always stay)
• `{COMMAND} optout add quit bugging me` · `{COMMAND} optout remove no more messages`
• `{COMMAND} oncall set @dana (512) 555-0199` · `{COMMAND} oncall backup @sam` · `{COMMAND} oncall call on` · `{COMMAND} oncall escalate 5m`
• `{COMMAND} setup (512) 555-0100` (in a new channel: link it to one of your Twilio numbers; `setup remove` unlinks it)
• `{COMMAND} template set business_hours Hi, this is {{business}}. Sorry we missed your call!`
  placeholders: {{business}} {{booking_url}} {{hours_today}} {{next_open}}
• `{COMMAND} block (512) 555-0123` · `{COMMAND} unblock (512) 555-0123`
• `{COMMAND} forget (512) 555-0123` (delete what textback stored about a caller; opt-outs and blocks stay)
• `{COMMAND} cooldown 4h` (no second automatic text to a caller within this time)
• `{COMMAND} reminders 5m 15m 60m` (or `off`)
• `{COMMAND} screen off` (or `on`: a staff phone that answers must press 1; a decline or its voicemail counts as missed)
• `{COMMAND} template set greeting.not_texted …` (what a caller hears when no text is sent; `greeting.texted` when one is)
Changes made here take precedence over the lines file, survive restarts, and are announced in the channel."""


async def help_reply(ctx: Ctx) -> Reply:
    # Two sections: one holds at most 3000 characters.
    read, change = HELP.split("\n*Change*", 1)
    return Reply(text=f"{COMMAND} help", blocks=[section(read), section("*Change*" + change)])


async def not_linked(ctx: Ctx) -> Reply:
    """Where the lines are, and how to link this channel."""
    lines = await ctx.svc.lines.lines()
    where = "\n".join(f"• <#{ln.channel}>: {phones.display(ln.number)} ({escape(ln.label)})" for ln in lines[:20])
    text = (
        f"This channel is not linked to a textback line, so `{COMMAND}` has nothing to act on here.\n"
        f"Run it in a line's channel:\n{where}\n"
        f"To link this channel to one of your Twilio numbers: `{COMMAND} setup (512) 555-0100` (admins), "
        f"or put its id under the line in the lines file (`channel: {ctx.channel}`) and restart textback."
    )
    return Reply(text="This channel is not linked to a textback line.", blocks=[section(text)])


async def _setting(ctx: Ctx, line: Line, field: str, label: str) -> str:
    source = await ctx.svc.lines.source_of(line, field)
    return f"*{label}:* {escape(show(line, field))} · _{source}_"


async def hours_lines(ctx: Ctx, line: Line) -> list[str]:
    now = ctx.svc.clock.now()
    state = "open now" if is_open(line.hours, line.timezone, now) else (
        f"closed now, opens {describe_next_open(line.hours, line.timezone, now) or 'never (no opening hours)'}"
    )
    rows = [f"*Hours* ({state})", await _setting(ctx, line, "timezone", "Timezone")]
    for day in DAY_KEYS:
        rows.append(await _setting(ctx, line, f"hours.{day}", f"`{day.capitalize()}`"))
    ahead = holidays.upcoming(ctx, line)
    if ahead:
        source = await ctx.svc.lines.source_of(line, EXCEPTIONS_FIELD)
        rows.append(f"*Holidays and special hours* · _{source}_\n{holidays.describe(ahead)}")
    return rows


async def _template_lines(ctx: Ctx, line: Line) -> list[str]:
    rows = ["*Text-back messages*"]
    for name, label in (("business_hours", "Business hours"), ("after_hours", "After hours")):
        field = f"templates.{name}"
        source = await ctx.svc.lines.source_of(line, field)
        rows.append(f"*{label}* · _{source}_\n{quote(show(line, field))}")
    return rows


def _file_lines(line: Line, sources: dict[str, str], now: datetime) -> list[str]:
    rows = ["*Calls* (change these in the lines file)"]
    for field, label in (
        ("forward_to", "Staff phones"), ("detection", "Detection"), ("ring_timeout", "Ring for"),
        ("ring_after_hours", "Ring after hours"), ("booking_url", "Booking link"), ("vertical", "Vertical"),
        ("oncall", "On call"), ("opt_out_footer", "Opt-out footer"), ("allow_international", "Texts abroad"),
        ("lookup", "Carrier lookup"), ("quiet_hours", "Quiet hours"),
    ):
        value = format_quiet_hours(line.quiet_hours) if field == "quiet_hours" else show(line, field)
        if field == "forward_to":
            value = ", ".join(phones.display(n) for n in line.forward_to) or "none"
        elif field == "ring_timeout":
            value = f"{line.ring_timeout}s"
        elif field == "oncall" and line.oncall:
            value = describe_oncall(line, now)
        rows.append(f"*{label}:* {escape(value) if field != 'oncall' else value} · _{sources[field]}_")
    return rows


def describe_oncall(line: Line, now: datetime) -> str:
    """Who is paged now, e.g. `<@U1> ((512) 555-0101), backup <@U2>; weekly rotation of 2, handover Mon 08:00`."""
    duty = on_duty(line.oncall, line.timezone, now)
    if line.oncall is None or duty is None:
        return "nobody"

    def who(user: str, phone: str) -> str:
        return f"<@{user}>" + (f" ({escape(phones.display(phone))})" if phone else "")

    text = who(duty.primary.user, duty.primary.phone)
    if duty.backup:
        text += f", backup {who(duty.backup.user, duty.backup.phone)}"
    if len(line.oncall.people) > 1:
        day = DAY_KEYS[line.oncall.handover_day].title()
        minute = line.oncall.handover_minute
        text += f"; weekly rotation of {len(line.oncall.people)}, handover {day} {minute // 60:02d}:{minute % 60:02d}"
    if line.oncall.call:
        text += "; pages also ring the phone"
    return text


async def status_reply(ctx: Ctx) -> Reply:
    """Each setting with its effective value and where it comes from."""
    line = ctx.linked()
    lines = ctx.svc.lines
    file_fields = ("forward_to", "detection", "ring_timeout", "ring_after_hours", "booking_url", "vertical",
                   "oncall", "opt_out_footer", "allow_international", "lookup", "quiet_hours")
    sources = {f: await lines.source_of(line, f) for f in file_fields}
    for field in ONCALL_FIELDS:
        if await lines.override(line, field) is not None:
            sources["oncall"] = await lines.source_of(line, field)  # changed from Slack (`oncall set`...)
            break
    blocked = await ctx.svc.flags.blocked_numbers(line.number)
    admins = "".join(f", <@{u}>" for u in lines.admins)
    link = await lines.linked_by(line)
    linked = f" · linked from Slack by <@{link.by}>" if link else ""
    follow_up = [
        "*Follow-up*",
        await _setting(ctx, line, "cooldown", "Cooldown"),
        await _setting(ctx, line, "reminders", "Reminders"),
        f"*Blocked numbers:* {len(blocked)}" + (f" (`{COMMAND} block` lists them)" if blocked else ""),
    ]
    blocks: list[Block] = [
        header(f"textback · {line.label}"),
        context(f"Line {phones.display(line.number)} · <#{line.channel}> · business: {escape(line.business)}{linked}"),
        section("\n".join(await hours_lines(ctx, line))),
        section("\n".join(await _template_lines(ctx, line))),
        section("\n".join(follow_up)),
        section("\n".join(_file_lines(line, sources, ctx.svc.clock.now()))),
        context(
            f"Who can change settings: workspace admins and owners{admins}. "
            f"`{COMMAND} help` shows how."
        ),
    ]
    return Reply(text=f"textback status for {line.label}", blocks=blocks)
