"""What the commands that act on stored data share (forget, status, leads export, consent
export): opening the store they mean, saying which it is, and writing their CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.store.connection import RedisHandle, StoreUnavailable, describe, open_redis


async def open_existing_store(url: str | None, data_dir: Path) -> RedisHandle:
    """For a command that acts on stored data (forget, leads export): the configured Redis, or
    the embedded store only where one already keeps data. With REDIS_URL unset and no store in
    `data_dir`, starting one would act on an empty store the user cannot have meant."""
    if not url and not (data_dir / "valkey").is_dir():
        raise StoreUnavailable(
            f"REDIS_URL is unset and {data_dir} holds no embedded store, so there is nothing to act on: "
            "set REDIS_URL to the server's Redis, or run this where the server keeps its data "
            "(its working directory or TEXTBACK_DATA_DIR)")
    return await open_redis(url, data_dir)


async def open_for_command(url: str | None, data_dir: Path, *, say_where: TextIO | None = None) -> RedisHandle | None:
    """`open_existing_store` for a CLI command: None after printing why not (the command then
    exits 2); with `say_where`, the store it talks to is named there first."""
    try:
        handle = await open_existing_store(url, data_dir)
    except StoreUnavailable as exc:
        print(f"textback: {exc}", file=sys.stderr)
        return None
    if say_where is not None:
        print(f"using {where(handle)}", file=say_where)
    return handle


def where(handle: RedisHandle) -> str:
    """Which store a command talks to, for its output."""
    if handle.server is not None:
        return f"the embedded Valkey in {handle.server.data_dir}"
    return f"Redis at {describe(handle.url)}"


def write_export(text: str, output: str | None, count: int, what: str) -> None:
    """The CSV to `output` (saying how many rows, on standard error), or to standard output."""
    if output:
        Path(output).write_text(text, encoding="utf-8", newline="")
        print(f"wrote {count} {what} to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
