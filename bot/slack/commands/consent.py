"""`/textback consent <number>`: a caller's consent history on this line; `/textback optout`:
the phrases that count as an opt-out request, and changing them."""

from __future__ import annotations

from bot import phones
from bot.slack.blocks import escape, local_time
from bot.slack.commands.callers import _number
from bot.slack.commands.replies import COMMAND, Ctx, Reply, UsageError, context, section
from workflows.keywords import words
from workflows.opt_out import UNCLEAR_PHRASES, opt_out_phrases
from workflows.override_fields import format_phrases, parse_phrases
from workflows.ports import ConsentEvent

CONSENT_EXAMPLE = f"{COMMAND} consent (512) 555-0123"
ADD_EXAMPLE = f"{COMMAND} optout add quit bugging me"
REMOVE_EXAMPLE = f"{COMMAND} optout remove no more messages"
SHOWN = 40  # the newest events shown; `textback consent export` has them all

EVENTS = {
    "opt_out": "opted out", "opt_in": "opted back in", "help": "asked for help",
    "opt_out_unclear": "wrote what may be an opt-out", "decided_opt_out": "decided: an opt-out",
    "decided_not_opt_out": "decided: not an opt-out",
}  # fmt: skip


async def consent(ctx: Ctx) -> Reply:
    line = ctx.linked()
    if not ctx.args.strip():
        raise UsageError("say whose consent history to show", CONSENT_EXAMPLE)
    number = await _number(ctx, "consent")
    found = [e async for e in ctx.svc.consent.events(caller=number, line=line.number)]
    shown = phones.display(number)
    if not found:
        return Reply(text=f"No consent events for {shown} on this line: no opt-out, opt-in or HELP so far.")
    rows = [_row(e, line.timezone) for e in found[-SHOWN:]]
    more = f"{len(found) - SHOWN} older event(s) not shown. " if len(found) > SHOWN else ""
    return Reply(
        text=f"{len(found)} consent event(s) for {shown}",
        blocks=[section(f"*Consent history of {shown} on {escape(line.label)}*\n" + "\n".join(rows)),
                context(f"{more}Every event, for every line: `textback consent export` on the server.")],
    )


def _row(e: ConsentEvent, tz: str) -> str:
    who = f"<@{e.by}>" if e.by.startswith(("U", "W")) else e.by
    said = f" · “{escape(e.message[:200])}”" if e.message else ""
    reply = " · confirmation texted" if e.event != "help" and e.reply else " · help reply texted" if e.reply else ""
    return f"• {local_time(e.at, tz)}: {who} {EVENTS.get(e.event, e.event)} ({e.how}){said}{reply}"


async def optout(ctx: Ctx) -> Reply:
    parts = ctx.args.split(None, 1)
    verb = parts[0].lower() if parts else "list"
    rest = (await ctx.plain(parts[1])).strip() if len(parts) > 1 else ""
    line = ctx.linked()
    if verb in ("list", "show", "ls"):
        return _list(ctx)
    if verb not in ("add", "remove", "rm", "delete"):
        raise UsageError(f'"{escape(parts[0])}" is not something optout does: use add or remove', ADD_EXAMPLE)
    await ctx.require_admin()
    adding = verb == "add"
    try:
        phrases = parse_phrases(rest)
    except ValueError as exc:
        raise UsageError(str(exc), ADD_EXAMPLE if adding else REMOVE_EXAMPLE) from None
    if not phrases:
        raise UsageError(f"say which phrase to {verb}", ADD_EXAMPLE if adding else REMOVE_EXAMPLE)
    add, remove = list(line.opt_out_words.add), list(line.opt_out_words.remove)
    current = {words(p) for p in opt_out_phrases(tuple(add), tuple(remove))}
    done = [p for p in phrases if (words(p) in current) != adding]
    if not done:
        return Reply(text=f"No change: {_quoted(phrases)} {'already is' if adding else 'is not'} an opt-out phrase "
                          f"on this line. `{COMMAND} optout` lists them.")
    for phrase in done:
        mine = add if adding else remove
        other = remove if adding else add
        kept = [p for p in other if words(p) != words(phrase)]
        if len(kept) == len(other):
            mine.append(phrase)  # new to the line, not the undoing of an earlier change
        other[:] = kept
    await ctx.change("opt_out.add", format_phrases(tuple(add)) or "none")
    await ctx.change("opt_out.remove", format_phrases(tuple(remove)) or "none")
    said = ("now opts the caller out at once" if adding else "no longer counts as an opt-out request")
    return Reply(text=f"{'Added' if adding else 'Removed'} {_quoted(list(done))}: a caller text with it {said}.",
                 announce=[f"*opt-out phrases*: {'added' if adding else 'removed'} {_quoted(list(done))}"])


def _quoted(phrases: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"\u201c{escape(p)}\u201d" for p in phrases)


def _list(ctx: Ctx) -> Reply:
    line = ctx.linked()
    clear = opt_out_phrases(line.opt_out_words.add, line.opt_out_words.remove)
    rows = [
        f"*Opt-out phrases on {escape(line.label)}* ({len(clear)}): a caller text with one opts them out at once "
        "(one confirmation text; no more texts).",
        ", ".join(escape(p) for p in clear),
        f"*Added for this line:* {escape(format_phrases(line.opt_out_words.add)) or 'none'}",
        f"*Removed for this line:* {escape(format_phrases(line.opt_out_words.remove)) or 'none'}",
    ]
    unclear = ", ".join(escape(p) for p in UNCLEAR_PHRASES)
    return Reply(
        text=f"{len(clear)} opt-out phrase(s)",
        blocks=[
            section("\n".join(rows)),
            section("*Always*: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT alone; PARA, ALTO, "
                    f"BASTA alone or with \u201cplease\u201d.\n*May be an opt-out* (a card asks the channel): {unclear}"),
            context(f"Change with `{ADD_EXAMPLE}` or `{REMOVE_EXAMPLE}` (admins). Phrases match whole words, "
                    "any case, with or without accents."),
        ],
    )
