"""The `textback` command: serve, demo, forget, leads, consent, doctor."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
import sys
import textwrap
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.settings import Settings

from bot import logs

LISTEN_BACKLOG = 1024


def serve() -> int:
    """Run the server with settings from the environment and the lines file."""
    from bot.app import create_app
    from bot.settings import ConfigError, SettingsError, load_settings, read_environment
    from bot.store.connection import StoreUnavailable
    from bot.store.fly import fly_storage_problem

    logs.configure()
    try:
        settings = load_settings(read_environment())
    except (ConfigError, SettingsError) as exc:
        print(f"textback: cannot start:\n{exc}", file=sys.stderr)
        return 2
    # On Fly a store that every deploy empties, and that a second machine would not share, would
    # lose callers' conversations and opt-outs without a sign: refuse, before anything starts.
    problem = fly_storage_problem(settings)
    if problem is not None:
        print(f"textback: cannot start: {problem.detail}; fix: {problem.fix}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    # The port first: a port in use stops start-up before Redis is touched or anything is
    # started or claimed.
    try:
        sock = listening_socket(settings.port)
    except OSError as exc:
        print(f"textback: cannot start: port {settings.port} cannot be used ({exc.strerror or exc}): "
              "stop what listens there, or set PORT to another port", file=sys.stderr)
        return 2
    logging.getLogger("textback").info(
        "serving %d line(s) on port %d (role %s)", len(settings.config.lines), settings.port, settings.role
    )
    loop = event_loop(settings.event_loop)
    logging.getLogger("textback").info("event loop: %s", type(loop).__module__.split(".")[0])
    app = create_app(settings)
    app.on_startup.append(freeze_startup_objects)  # runs after the services have started
    app.on_startup.append(announce("listening on http://0.0.0.0:%d (role %s)" % (settings.port, settings.role)))
    app.on_startup.append(check_registration_later(settings))
    app.on_shutdown.append(announce("shutting down: unfinished jobs stay recorded for the next start"))
    try:
        # A burst of calls opens many connections at once: a short accept queue (aiohttp's 128)
        # drops SYNs, and each dropped one costs its caller a one-second TCP retry.
        web.run_app(app, sock=sock, print=None, access_log=None, loop=loop, backlog=LISTEN_BACKLOG)
    except StoreUnavailable as exc:
        print(f"textback: cannot start: {exc}", file=sys.stderr)
        return 2
    finally:
        sock.close()
    return 0


def announce(line: str) -> Callable[[web.Application], Awaitable[None]]:
    async def say(app: web.Application) -> None:
        logging.getLogger("textback").info(line)

    return say


def check_registration_later(settings: Settings) -> Callable[[web.Application], Awaitable[None]]:
    """Warn about lines not registered for business texting, without holding up start-up."""
    async def spawn(app: web.Application) -> None:
        from bot.doctor.twilio import warn_unregistered
        from bot.services import SERVICES

        app[SERVICES].tasks.spawn(warn_unregistered(settings), name="registration check")

    return spawn


def listening_socket(port: int) -> socket.socket:
    """The server's socket, bound and listening on every interface (OSError when it cannot)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def freeze_startup_objects(app: web.Application) -> None:
    """Keep what start-up built (modules, settings, clients) out of the garbage collector's
    full passes, which otherwise scanned all of it: up to 110 ms with every request waiting,
    a few times a minute under load; about 13 ms once frozen."""
    gc.collect()
    gc.freeze()
    logging.getLogger("textback").info("start-up objects frozen for the collector: %d", gc.get_freeze_count())


def event_loop(name: str = "uvloop") -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (about a tenth less CPU per call in `python -m bench`),
    unless TEXTBACK_EVENT_LOOP=asyncio asks for the standard library's loop."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def demo(args: argparse.Namespace) -> int:
    """Play the whole story against local stand-ins and print the transcript."""
    from standins.demo import run_demo

    logs.configure(logging.DEBUG if args.verbose else logging.ERROR)
    if not args.keep_running:
        return asyncio.run(run_demo(verbose=args.verbose))

    async def until_stopped() -> int:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_demo(verbose=args.verbose, keep_running=stop)

    return asyncio.run(until_stopped())


def forget(args: argparse.Namespace) -> int:
    """Delete a caller's stored conversations (their opt-out is kept)."""
    from bot.cli_io import open_for_command
    from bot.phones import normalize
    from bot.settings import ConfigError, SettingsError, load_settings, read_environment
    from bot.store.forget import forget_caller

    number = normalize(args.number)
    if number is None:
        print(f"textback: {args.number!r} is not a phone number (e.g. +15125550123)", file=sys.stderr)
        return 2
    try:
        settings = load_settings(read_environment(), require_credentials=False)
    except (ConfigError, SettingsError) as exc:
        print(f"textback: cannot read the configuration:\n{exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        redis = await open_for_command(settings.redis_url, settings.data_dir, say_where=sys.stdout)
        if redis is None:
            return 2
        try:
            lines = [line.number for line in settings.config.lines]
            done = await forget_caller(redis.client, number, lines)
        finally:
            await redis.close()
        print(f"forgot {number}: {done.conversations} conversation(s), {done.keys_deleted} record(s) deleted")
        for kept in done.kept:
            print(f"kept: {kept} (so they are never texted against their wish)")
        print(f"kept: {done.consent_note()}")
        print("Slack threads are the workspace's own history and stay in Slack.")
        return 0

    return asyncio.run(run())


def leads(args: argparse.Namespace) -> int:
    """Write the leads CSV (the same file `/textback leads export` uploads)."""
    from bot.crm.export import export_leads
    from bot.settings import read_environment

    return asyncio.run(export_leads(read_environment(), period=args.period, line=args.line, output=args.output))


def consent(args: argparse.Namespace) -> int:
    """Write the consent log as CSV: every opt-out, opt-in, HELP and decision, kept for good."""
    from bot.consent_export import export_consent
    from bot.settings import read_environment

    return asyncio.run(export_consent(read_environment(), period=args.period, line=args.line, caller=args.caller,
                                      output=args.output))


def status() -> int:
    """What the store says now: jobs, scheduled work, servers, errors, size, today's figures."""
    from bot.settings import read_environment
    from bot.status import run_status

    logs.configure(logging.ERROR)
    return asyncio.run(run_status(read_environment()))


def doctor(args: argparse.Namespace) -> int:
    """Check the configuration, Redis, Slack and Twilio; optionally fix the Twilio webhooks."""
    from bot.doctor.checks import run_doctor
    from bot.settings import read_environment

    logs.configure(logging.ERROR)  # the checks print their own findings
    return asyncio.run(run_doctor(read_environment(), fix=args.fix, yes=args.yes))


# What each command reads from the environment (or from .env in the working directory; the
# environment wins), shown in its --help.
CREDENTIALS = "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_URL"
STORAGE = "REDIS_URL (unset: the embedded Valkey in TEXTBACK_DATA_DIR, default ./.textback)"
READS = {
    "serve": f"{CREDENTIALS} (required); SLACK_APP_TOKEN, TWILIO_API_KEY, TWILIO_API_SECRET; {STORAGE}; "
             "TEXTBACK_CONFIG (default ./textback.yml), PORT (default 3000), TEXTBACK_ROLE, "
             "TEXTBACK_EVENT_LOOP, TEXTBACK_JOB_RETRY_S, TEXTBACK_LOG_LEVEL, TEXTBACK_LOG_FORMAT, TEXTBACK_CRM_WEBHOOK_URL, TEXTBACK_CRM_WEBHOOK_SECRET; "
             "TEXTBACK_INSTANCE (else FLY_MACHINE_ID, else host:port); FLY_PROCESS_GROUP (set by Fly); "
             "FLY_APP_NAME (set by Fly: there REDIS_URL is required); SLACK_API_URL, TWILIO_API_URL (other API hosts, e.g. stand-ins)",
    "demo": "nothing: it starts its own Valkey and local stand-ins for Slack and Twilio",
    "forget": f"{STORAGE}; TEXTBACK_CONFIG (the lines whose records are deleted)",
    "leads": f"{STORAGE}; TEXTBACK_CONFIG",
    "consent": f"{STORAGE}; TEXTBACK_CONFIG",
    "doctor": f"{CREDENTIALS}; {STORAGE}; TEXTBACK_CONFIG, SLACK_API_URL, TWILIO_API_URL; FLY_APP_NAME (set by Fly)",
    "status": f"{STORAGE}; TEXTBACK_CONFIG (the lines whose figures are shown)",
}


def _epilog(command: str) -> str:
    return textwrap.fill(f"reads: {READS[command]}.", 78) + (
        "\n\nA .env file in the working directory is read too; the environment wins.")


def parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("textback")
    except PackageNotFoundError:
        release = "unknown"
    top = argparse.ArgumentParser(
        prog="textback", description="Missed-call text-back, answered from Slack.",
        epilog="Start with: textback demo (nothing to set up), then textback doctor against your accounts.",
    )
    top.add_argument("--version", action="version", version=f"textback {release}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, epilog=_epilog(name), formatter_class=fmt)

    command("serve", "run the server: Twilio and Slack webhooks, the jobs, the timed work")
    demo_parser = command("demo", "the whole pipeline on this machine, no accounts")
    demo_parser.add_argument("-v", "--verbose", action="store_true", help="show the server's log")
    demo_parser.add_argument("--keep-running", action="store_true",
                             help="afterwards, keep the server and stand-ins up (until Ctrl-C) for textback doctor")
    forget_parser = command("forget", "delete what is stored about one caller (the opt-out is kept)")
    forget_parser.add_argument("number", help="the caller's phone number, e.g. +15125550123")
    leads_parser = command("leads", "the leads: export them as CSV")
    leads_sub = leads_parser.add_subparsers(dest="leads_command", required=True, metavar="SUBCOMMAND")
    export_parser = leads_sub.add_parser("export", help="write one CSV row per lead", description="Write one CSV row "
                                         "per lead.", epilog=_epilog("leads"), formatter_class=fmt)
    export_parser.add_argument("period", nargs="?", default="all", help="7d, 24h, 4w or all (default)")
    export_parser.add_argument("--line", help="only this line's leads (its number); default: every line")
    export_parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    consent_parser = command("consent", "the consent log (opt-outs, opt-ins, HELP, decisions): export it as CSV")
    consent_sub = consent_parser.add_subparsers(dest="consent_command", required=True, metavar="SUBCOMMAND")
    consent_export = consent_sub.add_parser(
        "export", help="write one CSV row per consent event", description="Write one CSV row per consent event, "
        "oldest first. Kept for good: forget and the retention leave it.", epilog=_epilog("consent"), formatter_class=fmt)
    consent_export.add_argument("period", nargs="?", default="all", help="7d, 24h, 4w or all (default)")
    consent_export.add_argument("--line", help="only this line's events (its number); default: every line")
    consent_export.add_argument("--caller", help="only this caller's events; default: every caller")
    consent_export.add_argument("-o", "--output", help="write to this file instead of standard output")
    command("status", "the job queue, scheduled work, servers, recent errors, store size, today's figures")
    doctor_parser = command("doctor", "check the setup and say how to fix what is wrong")
    doctor_parser.add_argument("--fix", action="store_true", help="point the Twilio numbers' webhooks at PUBLIC_URL")
    doctor_parser.add_argument("-y", "--yes", action="store_true", help="with --fix: apply without asking")
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:  # bare `textback`: what it can do, not a usage error
        top.print_help()
        return 0
    if args.command == "serve":
        return serve()
    if args.command == "forget":
        return forget(args)
    if args.command == "doctor":
        return doctor(args)
    if args.command == "leads":
        return leads(args)
    if args.command == "consent":
        return consent(args)
    if args.command == "status":
        return status()
    return demo(args)


if __name__ == "__main__":
    sys.exit(main())
