"""`/textback template`: list the text-back messages and the spoken greetings, set them, preview
them as callers get them."""

from __future__ import annotations

from dataclasses import replace

from bot.slack.blocks import escape
from bot.slack.commands.replies import (
    COMMAND,
    EXAMPLES,
    Block,
    Ctx,
    Reply,
    UsageError,
    change_line,
    context,
    quote,
    section,
)
from workflows.line_overrides import GREETING_FIELDS, TEMPLATE_NAMES, show
from workflows.lines import OPT_OUT_FOOTER, Line, describe_next_open, hours_today
from workflows.missed_call import greeting_text
from workflows.texting import MAX_SEGMENTS, SAMPLE_VALUES, render, sms_segments

LABELS = {"business_hours": "Business hours", "after_hours": "After hours",
          "greeting.texted": "Greeting when a text is sent", "greeting.not_texted": "Greeting when no text is sent"}
# What people type for each template name.
ALIASES = {
    "business_hours": "business_hours", "business": "business_hours", "businesshours": "business_hours",
    "open": "business_hours", "bh": "business_hours", "day": "business_hours",
    "after_hours": "after_hours", "after": "after_hours", "afterhours": "after_hours",
    "closed": "after_hours", "ah": "after_hours", "night": "after_hours",
    "greeting.texted": "greeting.texted", "greeting_texted": "greeting.texted",
    "greeting.not_texted": "greeting.not_texted", "greeting_not_texted": "greeting.not_texted",
}
NAMES_HELP = "use business_hours, after_hours, greeting.texted or greeting.not_texted"
QUOTES = ('"', "'", "“", "”", "‘", "’")


def template_name(text: str) -> str | None:
    return ALIASES.get(text.strip().lower().rstrip(":").replace("-", "_"))


def field_of(name: str) -> str:
    """The line setting a template name stands for: the greetings are spoken, not texted."""
    return name if name in GREETING_FIELDS else f"templates.{name}"


async def template(ctx: Ctx) -> Reply:
    words = ctx.args.split(None, 1)
    verb = words[0].lower() if words else "list"
    rest = words[1] if len(words) > 1 else ""
    if verb in ("list", "show", "ls"):
        return await _list(ctx)
    if verb == "preview":
        return await _preview(ctx, rest)
    if verb == "set":
        return await _set(ctx, rest)
    if template_name(verb) is not None:
        # "/textback template after_hours We're closed..." means set.
        return await _set(ctx, ctx.args)
    raise UsageError(f'"{words[0]}" is not something template does: use list, set or preview', EXAMPLES["templates"])


async def _list(ctx: Ctx) -> Reply:
    line = ctx.linked()
    blocks: list[Block] = []
    for name in (*TEMPLATE_NAMES, *GREETING_FIELDS):
        source = await ctx.svc.lines.source_of(line, field_of(name))
        text = show(line, field_of(name))
        blocks.append(section(f"*{LABELS[name]}* (`{name}`) · _{source}_\n{quote(text)}"))
        if name in GREETING_FIELDS:
            blocks.append(context("spoken to the caller after a missed call"))
            continue
        segments, encoding = sms_segments(text)
        blocks.append(context(f"as written: {len(text)} characters, {segments} segment(s), {encoding}"))
    blocks.append(context(f"`{COMMAND} template preview {TEMPLATE_NAMES[1]}` shows it filled in · "
                          f"`{COMMAND} template set {TEMPLATE_NAMES[0]} <text>` changes it"))
    return Reply(text="Text-back messages", blocks=blocks)


def _unquote(text: str) -> str:
    """Quotes around the whole text are the operator's delimiters, not part of the message."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] in QUOTES and stripped[-1] in QUOTES:
        return stripped[1:-1].strip()
    return stripped


async def _set(ctx: Ctx, rest: str) -> Reply:
    await ctx.require_admin()
    words = rest.split(None, 1)
    name = template_name(words[0]) if words else None
    if name is None:
        got = f'"{words[0]}" is not a template: ' if words else "say which template: "
        raise UsageError(got + NAMES_HELP, EXAMPLES["templates"])
    text = _unquote(await ctx.plain(words[1])) if len(words) > 1 else ""
    if not text:
        raise UsageError(f"write the new text after {name}", EXAMPLES["templates"])
    change = await ctx.change(field_of(name), text)
    if not change.changed:
        return Reply(text=f"No change: the {LABELS[name].lower()} text already reads that way.")
    preview = _preview_blocks(ctx, ctx.linked(), name, text)
    return Reply(
        text=f"Saved the {LABELS[name].lower()} text.",
        blocks=[section(f":white_check_mark: Saved for *{escape(ctx.linked().label)}*."), *preview],
        announce=[change_line(change)],
    )


async def _preview(ctx: Ctx, rest: str) -> Reply:
    line = ctx.linked()
    wanted = rest.strip()
    names: tuple[str, ...] = TEMPLATE_NAMES
    if wanted:
        name = template_name(wanted)
        if name is None:
            raise UsageError(f'"{wanted}" is not a template: {NAMES_HELP}', f"{COMMAND} template preview after_hours")
        names = (name,)
    blocks = [b for name in names for b in _preview_blocks(ctx, line, name, show(line, field_of(name)))]
    return Reply(text="Template preview", blocks=blocks)


def filled_in(ctx: Ctx, line: Line, name: str, text: str) -> str:
    """The text a caller would get now: the line's own values, samples where it has none."""
    now = ctx.svc.clock.now()
    next_open = describe_next_open(line.hours, line.timezone, now)
    if not next_open or (name == "after_hours" and next_open == "now"):
        # The after-hours text goes out while closed, where "opens now" would never appear.
        next_open = SAMPLE_VALUES["next_open"]
    body = render(
        text,
        business=line.business,
        booking_url=line.booking_url or SAMPLE_VALUES["booking_url"],
        hours_today=hours_today(line.hours, line.timezone, now),
        next_open=next_open,
    )
    # The first text to a number carries the opt-out footer: preview the longest case.
    return body + OPT_OUT_FOOTER if line.opt_out_footer else body


def _preview_blocks(ctx: Ctx, line: Line, name: str, text: str) -> list[Block]:
    if name in GREETING_FIELDS:
        spoken = greeting_text(replace(line, greeting=replace(line.greeting, **{name[9:]: text})), ctx.svc.clock.now(),
                               texted=name == "greeting.texted")
        return [section(f"*{LABELS[name]}*, as a caller hears it now:\n{quote(spoken)}")]
    sample = filled_in(ctx, line, name, text)
    segments, encoding = sms_segments(sample)
    facts = f"{len(sample)} characters · {segments} SMS segment{'s' if segments != 1 else ''} · {encoding}"
    if encoding == "UCS-2":
        unusual = sorted({c for c in sample if sms_segments(c)[1] == "UCS-2"})
        facts += f" (because of {' '.join(escape(c) for c in unusual[:10])}; plain quotes and dashes keep GSM-7)"
    if segments > MAX_SEGMENTS:
        facts += f" · over the {MAX_SEGMENTS}-segment limit"
    footer = " (with the opt-out footer the first text carries)" if line.opt_out_footer else ""
    return [
        section(f"*{LABELS[name]}* as a caller gets it now{footer}:\n{quote(sample)}"),
        context(facts),
    ]
