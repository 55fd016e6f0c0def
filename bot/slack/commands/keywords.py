"""`/textback keywords`: the urgent phrases that page the on-call person, and changing them."""

from __future__ import annotations

from bot.slack.blocks import escape
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, context, section
from workflows.keywords import hazard_of, life_safety_phrases, urgent_phrases, words
from workflows.lines import Line
from workflows.override_fields import format_phrases, parse_phrases

ADD_EXAMPLE = f"{COMMAND} keywords add mold"
REMOVE_EXAMPLE = f"{COMMAND} keywords remove swarm"


async def keywords(ctx: Ctx) -> Reply:
    words_ = ctx.args.split(None, 1)
    verb = words_[0].lower() if words_ else "list"
    rest = (await ctx.plain(words_[1])).strip() if len(words_) > 1 else ""
    if verb in ("list", "show", "ls"):
        return await _list(ctx, ctx.linked())
    if verb not in ("add", "remove", "rm", "delete"):
        raise UsageError(f'"{escape(words_[0])}" is not something keywords does: use add or remove', ADD_EXAMPLE)
    await ctx.require_admin()
    example = ADD_EXAMPLE if verb == "add" else REMOVE_EXAMPLE
    if not rest:
        raise UsageError(f"say which phrase to {'add' if verb == 'add' else 'remove'}", example)
    try:
        phrases = parse_phrases(rest)
    except ValueError as exc:
        raise UsageError(str(exc), example) from None
    return await (_add(ctx, phrases) if verb == "add" else _remove(ctx, phrases))


def _quoted(phrases: list[str]) -> str:
    return ", ".join(f"\u201c{escape(p)}\u201d" for p in phrases)


async def _store(ctx: Ctx, add: list[str], remove: list[str]) -> None:
    await ctx.change("urgent.add", format_phrases(tuple(add)) or "none")
    await ctx.change("urgent.remove", format_phrases(tuple(remove)) or "none")


async def _add(ctx: Ctx, phrases: tuple[str, ...]) -> Reply:
    line = ctx.linked()
    add, remove = list(line.urgency.add), list(line.urgency.remove)
    matched = {words(p) for p in urgent_phrases(line.vertical, line.urgency.add, line.urgency.remove)}
    matched |= {words(p) for listed in life_safety_phrases(line.urgency.remove).values() for p in listed}
    done = [p for p in phrases if words(p) not in matched]
    if not done:
        return Reply(text=f"No change: {_quoted(list(phrases))} already counts as urgent on this line.")
    for phrase in done:
        kept = [r for r in remove if words(r) != words(phrase)]
        if len(kept) == len(remove):
            add.append(phrase)  # a new phrase; one removed earlier comes back by leaving the removals
        remove = kept
    await _store(ctx, add, remove)
    return Reply(
        text=f"Added {_quoted(done)}: a caller text with it now marks the thread urgent and pages the on-call person.",
        announce=[f"*urgent phrases*: added {_quoted(done)}"],
    )


async def _remove(ctx: Ctx, phrases: tuple[str, ...]) -> Reply:
    line = ctx.linked()
    safety = [p for p in phrases if hazard_of(p)]
    if safety:
        raise UsageError(
            f"{_quoted(safety)} is a life-safety phrase ({hazard_of(safety[0]).replace('_', ' ')}): it always "
            "pages and sends the caller a safety text, and cannot be turned off from Slack",
            REMOVE_EXAMPLE,
        )
    add, remove = list(line.urgency.add), list(line.urgency.remove)
    matched = {words(p) for p in urgent_phrases(line.vertical, line.urgency.add, line.urgency.remove)}
    done = [p for p in phrases if words(p) in matched]
    if not done:
        return Reply(text=f"No change: {_quoted(list(phrases))} is not an urgent phrase on this line. "
                          f"`{COMMAND} keywords` lists them.")
    for phrase in done:
        kept = [a for a in add if words(a) != words(phrase)]
        if len(kept) == len(add):
            remove.append(phrase)  # from the vertical's preset: remembered as a removal
        add = kept
    await _store(ctx, add, remove)
    return Reply(
        text=f"Removed {_quoted(done)}: it no longer marks a thread urgent on this line.",
        announce=[f"*urgent phrases*: removed {_quoted(done)}"],
    )


async def _list(ctx: Ctx, line: Line) -> Reply:
    urgent = urgent_phrases(line.vertical, line.urgency.add, line.urgency.remove)
    safety = life_safety_phrases(line.urgency.remove)
    added = await ctx.svc.lines.source_of(line, "urgent.add")
    removed = await ctx.svc.lines.source_of(line, "urgent.remove")
    rows = [
        (f"*Urgent phrases on {escape(line.label)}* ({len(urgent)}; vertical `{line.vertical}`): a caller text "
         "with one marks the thread :rotating_light: and pages the on-call person."),
        ", ".join(escape(p) for p in urgent) or "none",
        f"*Added for this line:* {escape(format_phrases(line.urgency.add)) or 'none'} · _{added}_",
        f"*Removed for this line:* {escape(format_phrases(line.urgency.remove)) or 'none'} · _{removed}_",
    ]
    hazards = "\n".join(
        f"• *{hazard.replace('_', ' ')}*: {', '.join(escape(p) for p in listed)}" for hazard, listed in safety.items()
    )
    return Reply(
        text=f"{len(urgent)} urgent phrase(s)",
        blocks=[
            section("\n".join(rows)),
            section(f"*Life safety* (always on; they also send the caller a safety text):\n{hazards}"),
            context(f"Change with `{ADD_EXAMPLE}` or `{REMOVE_EXAMPLE}` (admins). Phrases match whole words."),
        ],
    )
