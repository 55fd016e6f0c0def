"""Per-line Spanish text-backs (`templates: {business_hours_es, after_hours_es}`): a caller whose
last text to the line was Spanish gets them; the others, and lines without them, as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CONFIG_YAML, LINE, OPEN_TIME
from tests.integration.conftest import rig_for
from tests.integration.steps import clear_cooldown

SPANISH = "Hola, tengo una fuga de agua en la cocina"
ES = "Hola, somos {business}. Perdón por no contestar: ¿en qué le podemos ayudar?"


@pytest.fixture
async def es_rig(redis: Redis, redis_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Rig]:
    yaml = CONFIG_YAML.replace(
        "    vertical: plumbing\n",
        f'    vertical: plumbing\n    templates: {{business_hours_es: "{ES}"}}\n', 1)
    async with rig_for(yaml, redis_url, clock, tmp_path) as rig:
        yield rig


async def text_back_after(rig: Rig, text: str | None) -> str:
    if text is not None:
        await rig.caller_texts(CALLER, LINE, text)
        await rig.settle()
    await clear_cooldown(rig)
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    return str(rig.twilio.messages_to(CALLER)[-1]["body"])


async def test_a_caller_who_wrote_spanish_gets_the_spanish_text_back(es_rig: Rig, clock: FakeClock) -> None:
    clock.set(OPEN_TIME)
    business = es_rig.settings.config.line_for_number(LINE).business  # type: ignore[union-attr]
    body = await text_back_after(es_rig, SPANISH)
    assert body == ES.replace("{business}", business) + " Responde STOP para no recibir más mensajes."
    # Writing English again switches them back; the first-text footer went with the first one.
    body = await text_back_after(es_rig, "Thanks, can you come tomorrow?")
    assert body.startswith("Hi, this is") and "STOP" not in body


async def test_a_caller_who_never_wrote_gets_the_usual_text(es_rig: Rig, clock: FakeClock) -> None:
    clock.set(OPEN_TIME)
    assert (await text_back_after(es_rig, None)).startswith("Hi, this is")


async def test_after_hours_without_a_spanish_after_hours_text_is_english(es_rig: Rig, clock: FakeClock) -> None:
    await es_rig.caller_texts(CALLER, LINE, SPANISH)
    await es_rig.settle()
    clock.set(OPEN_TIME.replace(hour=22))
    body = await text_back_after(es_rig, None)
    assert "closed" in body and "Responde" not in body


async def test_lines_without_spanish_texts_remember_nothing(rig: Rig, redis: Redis, clock: FakeClock) -> None:
    clock.set(OPEN_TIME)
    await rig.caller_texts(CALLER, LINE, SPANISH)
    await rig.settle()
    assert await redis.exists(f"tb:es:{LINE}:{CALLER}") == 0
