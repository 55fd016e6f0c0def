"""The `textback` command: serve, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiohttp import web

from bot import logs


def serve() -> int:
    """Run the server with settings from the environment and the lines file."""
    from bot.app import create_app
    from bot.settings import ConfigError, SettingsError, load_settings

    logs.configure()
    try:
        settings = load_settings(os.environ)
    except (ConfigError, SettingsError) as exc:
        print(f"textback: cannot start:\n{exc}", file=sys.stderr)
        return 2
    logging.getLogger("textback").info(
        "serving %d line(s) on port %d (role %s)", len(settings.config.lines), settings.port, settings.role
    )
    web.run_app(create_app(settings), host="0.0.0.0", port=settings.port, print=None, access_log=None)
    return 0


def demo(args: argparse.Namespace) -> int:
    """Play the whole story against local stand-ins and print the transcript."""
    from bot.demo import run_demo

    logs.configure(logging.DEBUG if args.verbose else logging.ERROR)
    return asyncio.run(run_demo(verbose=args.verbose))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="textback", description="Missed-call text-back, answered from Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the server (settings from the environment)")
    demo_parser = sub.add_parser("demo", help="the whole pipeline on this machine, no accounts")
    demo_parser.add_argument("-v", "--verbose", action="store_true", help="show the server's log")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    return demo(args)


if __name__ == "__main__":
    sys.exit(main())
