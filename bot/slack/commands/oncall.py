"""`/textback oncall`: who is paged for urgent threads, and changing it from Slack."""

from __future__ import annotations

import re

from bot import phones
from bot.slack.commands.replies import (
    COMMAND,
    FIELD_LABELS,
    Ctx,
    Reply,
    UsageError,
    context,
    section,
)
from workflows.durations import format_duration
from workflows.line_overrides import DAY_KEYS
from workflows.lines import Line, Person
from workflows.oncall import on_duty

SET_EXAMPLE = f"{COMMAND} oncall set @dana (512) 555-0199"
EXAMPLES = {
    "set": SET_EXAMPLE,
    "backup": f"{COMMAND} oncall backup @sam",
    "call": f"{COMMAND} oncall call on",
    "escalate": f"{COMMAND} oncall escalate 5m",
}
FIELDS = {"set": "oncall.people", "backup": "oncall.backup", "call": "oncall.call", "escalate": "oncall.escalate_after"}
VERBS = {"set": "set", "primary": "set", "backup": "backup", "call": "call", "calls": "call", "escalate": "escalate",
         "escalate_after": "escalate"}
# Slack escapes a mention in command text as <@U123|name> (or <@U123> without a name).
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>\s*")
_USER_ID = re.compile(r"^([UW][A-Z0-9]{8,})\b\s*")


def phone_hint(phone: str) -> str:
    """ "phone ending 0181": enough to tell people's phones apart in a channel, no more."""
    digits = re.sub(r"\D", "", phone)
    return f"phone ending {digits[-4:]}" if phone else "no phone"


def who(person: Person | None) -> str:
    if person is None:
        return "nobody"
    return f"<@{person.user}>" + (f" ({phone_hint(person.phone)})" if person.phone else "")


async def oncall(ctx: Ctx) -> Reply:
    words = ctx.args.split(None, 1)
    verb = words[0].lower() if words else "show"
    rest = words[1].strip() if len(words) > 1 else ""
    if verb in ("show", "list", "who"):
        return await _show(ctx, ctx.linked())
    if verb not in VERBS:
        raise UsageError(f'"{words[0]}" is not something oncall does: use set, backup, call or escalate', SET_EXAMPLE)
    verb = VERBS[verb]
    await ctx.require_admin()
    before = ctx.linked()
    value = await _person_value(rest, verb) if verb in ("set", "backup") else rest
    if not value:
        raise UsageError("say " + ("on or off" if verb == "call" else "after how long"), EXAMPLES[verb])
    change = await ctx.change(FIELDS[verb], value)
    if not change.changed:
        return Reply(text=f"No change: {FIELD_LABELS[FIELDS[verb]]} stays {_describe(before, verb, ctx)}.")
    after = await ctx.svc.lines.line_for_number(before.number) or before
    line_text = f"*{FIELD_LABELS[FIELDS[verb]]}*: {_describe(before, verb, ctx)} → {_describe(after, verb, ctx)}"
    return Reply(text=f"Saved: {FIELD_LABELS[FIELDS[verb]]} changed.",
                 blocks=[section(f":white_check_mark: Saved.\n{line_text}")], announce=[line_text])


async def _person_value(rest: str, verb: str) -> str:
    """ "U123 +15125550181" from "<@U123|dana> (512) 555-0181"; "none" clears a backup."""
    if verb == "backup" and rest.lower() in ("none", "nobody", "off"):
        return "none"
    found = _MENTION.match(rest) or _USER_ID.match(rest)
    if found is None:
        got = f'"{rest}" does not start with a person' if rest else "say who"
        raise UsageError(f"{got}: mention them with @", EXAMPLES[verb])
    phone_text = rest[found.end():].strip()
    if not phone_text:
        return found[1]
    phone = phones.normalize(phone_text)
    if phone is None:
        raise UsageError(f'"{phone_text}" is not a phone number: write it like (512) 555-0181', EXAMPLES[verb])
    return f"{found[1]} {phone}"


def _describe(line: Line, verb: str, ctx: Ctx) -> str:
    oncall = line.oncall
    if oncall is None:
        return "nobody"
    if verb == "call":
        return "on" if oncall.call else "off"
    if verb == "escalate":
        return format_duration(oncall.escalate_after)
    duty = on_duty(oncall, line.timezone, ctx.svc.clock.now())
    if verb == "backup":
        return who(duty.backup if duty else None)
    current = who(duty.primary if duty else None)
    return f"weekly rotation of {len(oncall.people)} (now {current})" if len(oncall.people) > 1 else current


async def _show(ctx: Ctx, line: Line) -> Reply:
    oncall = line.oncall
    if oncall is None:
        return Reply(text=f"Nobody is on call for {line.label}: urgent texts only alert the channel. "
                          f"Set someone with `{SET_EXAMPLE}`.")
    duty = on_duty(oncall, line.timezone, ctx.svc.clock.now())
    source = ctx.svc.lines.source_of
    rows = [
        f"*On call now:* {who(duty.primary if duty else None)} · _{await source(line, 'oncall.people')}_",
        f"*Backup:* {who(duty.backup if duty else None)} · _{await source(line, 'oncall.backup')}_",
    ]
    if len(oncall.people) > 1:
        minute = oncall.handover_minute
        order = " → ".join(who(p) for p in oncall.people)
        rows.append(f"*Rotation:* weekly, handover {DAY_KEYS[oncall.handover_day].title()} "
                    f"{minute // 60:02d}:{minute % 60:02d}: {order}")
    rows.append(f"*Pages ring the phone:* {'on' if oncall.call else 'off'} · _{await source(line, 'oncall.call')}_")
    rows.append(f"*Page the backup after:* {format_duration(oncall.escalate_after)} without I'm on it"
                f" · _{await source(line, 'oncall.escalate_after')}_")
    tip = (f"Change with `{SET_EXAMPLE}`, `{EXAMPLES['backup']}`, `{EXAMPLES['call']}` or "
           f"`{EXAMPLES['escalate']}` (admins). Setting someone replaces a rotation.")
    return Reply(text=f"On call for {line.label}", blocks=[section("\n".join(rows)), context(tip)])
