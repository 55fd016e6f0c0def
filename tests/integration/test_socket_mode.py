"""Socket Mode next to the HTTP server: connected with the app-level token through the
Slack stand-in's apps.connections.open and a real local websocket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.settings import parse_config
from bot.slack.socket_mode import SOCKET_MODE
from standins.clock import FakeClock
from standins.rig import BOT_TOKEN, TEAM_ID, Rig, rig_settings
from tests.conftest import CHANNEL, CONFIG_YAML

APP_TOKEN = "xapp-1-A0TEXTBACK-1-not-a-real-token"


@pytest.fixture
async def socket_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    settings = rig_settings(parse_config(CONFIG_YAML, "test.yml"), redis_url=redis_url, data_dir=tmp_path)
    rig = Rig(replace(settings, slack_app_token=APP_TOKEN), clock=clock)
    rig.slack.app_token = APP_TOKEN
    async with rig:
        yield rig
        assert not rig.slack.violations, rig.slack.violations


def slash_payload(text: str) -> dict[str, str]:
    return {"token": "unused", "team_id": TEAM_ID, "channel_id": CHANNEL, "user_id": "U0TEAM0001",
            "user_name": "dana", "command": "/textback", "text": text, "api_app_id": "A0TEXTBACK",
            "response_url": "https://hooks.slack.com/commands/T0TEXTBACK/1/x", "trigger_id": "1.2.3"}


async def test_serve_opens_a_socket_with_the_app_token(socket_rig: Rig) -> None:
    opened = await socket_rig.slack.wait_for(lambda r: r.method == "apps.connections.open")
    assert opened.status == 200
    await socket_rig.slack.socket.wait_connected()
    assert socket_rig.app is not None and SOCKET_MODE in socket_rig.app


async def test_a_slash_command_over_the_socket_is_answered_in_its_ack(socket_rig: Rig) -> None:
    await socket_rig.slack.socket.wait_connected()
    envelope = await socket_rig.slack.socket.push(
        "slash_commands", slash_payload("help"), accepts_response_payload=True
    )
    ack = await socket_rig.slack.socket.wait_ack(envelope)
    assert "/textback" in str(ack["payload"])


async def test_http_keeps_serving_while_slack_refuses_the_socket(
    redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    settings = rig_settings(parse_config(CONFIG_YAML, "test.yml"), redis_url=redis_url, data_dir=tmp_path)
    rig = Rig(replace(settings, slack_app_token=APP_TOKEN), clock=clock)
    rig.slack.app_token = "xapp-1-a-different-token"  # Slack says invalid_auth; the SDK retries
    async with rig:
        await rig.slack.wait_for(lambda r: r.method == "apps.connections.open")
        async with aiohttp.ClientSession() as http, http.get(rig.url + "/healthz") as r:
            assert r.status == 200
        started = time.perf_counter()
    assert time.perf_counter() - started < 5, "stopping must not wait for the socket's retry loop"


async def test_without_an_app_token_there_is_no_socket(rig: Rig) -> None:
    assert rig.app is not None and SOCKET_MODE not in rig.app
    assert not [r for r in rig.slack.requests if r.method == "apps.connections.open"]


async def test_the_stand_in_opens_sockets_for_the_app_token_only(socket_rig: Rig) -> None:
    async with aiohttp.ClientSession() as http:
        for token, error in ((BOT_TOKEN, "not_allowed_token_type"), ("xapp-1-other", "invalid_auth")):
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(socket_rig.slack.api_url + "apps.connections.open", headers=headers) as r:
                assert (await r.json())["error"] == error
