"""A caller who writes in Spanish gets the safety text, the HELP reply and the opt-out
confirmation in Spanish, through signed HTTP into the real app."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, LINE
from tests.integration.steps import open_thread

OTHER = "+15125550177"


async def _texted_back(rig: Rig, body: str) -> str:
    await rig.caller_texts(CALLER, LINE, body)
    await rig.settle()
    return str(rig.twilio.messages_to(CALLER)[-1]["body"])


async def test_a_spanish_gas_smell_gets_the_spanish_safety_text_and_an_english_one_the_english(rig: Rig) -> None:
    await open_thread(rig)
    said = await _texted_back(rig, "Huele a gas en la cocina, ¿pueden venir?")
    assert said == "Si huele a gas, salga del edificio ahora y llame al 911 o a su compañía de gas desde afuera."
    await rig.caller_texts(OTHER, LINE, "I smell gas in the kitchen")
    await rig.settle()
    assert rig.twilio.messages_to(OTHER)[-1]["body"].startswith("If you smell gas, leave the building now")


async def test_ayuda_gets_the_spanish_help_reply(rig: Rig) -> None:
    said = await _texted_back(rig, "AYUDA")
    assert said.startswith("Acme Plumbing: Responda a este número") and "Responda STOP" in said


async def test_a_spanish_opt_out_is_confirmed_in_spanish(rig: Rig) -> None:
    await open_thread(rig)
    said = await _texted_back(rig, "No me manden mensajes por favor")
    assert said.startswith("Acme Plumbing: ya no recibirá más mensajes")
    assert await rig.services.flags.is_opted_out(LINE, CALLER)
