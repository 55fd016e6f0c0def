"""Spanish: every vertical's urgent and life-safety phrases, and the texts a Spanish writer gets."""

from __future__ import annotations

import pytest

from bot.settings import parse_config
from tests.unit.lines_files import MINIMAL
from workflows.keywords import PRESETS_ES, SAFETY_SMS, SAFETY_SMS_ES, VERTICALS, Match, UrgentMatcher, safety_sms
from workflows.texting import help_text, keyword_of, opt_out_confirmation, sms_segments


def test_every_vertical_has_spanish_urgent_phrases() -> None:
    assert set(PRESETS_ES) == set(VERTICALS)
    for vertical in VERTICALS:
        matcher = UrgentMatcher.for_line(vertical)
        assert matcher.match("¡Es una emergencia!") == Match("emergencia"), vertical
        for phrase in PRESETS_ES[vertical]:
            assert matcher.match(f"por favor, {phrase}") is not None, (vertical, phrase)


@pytest.mark.parametrize(("vertical", "text", "phrase"), [
    ("plumbing", "Se rompió la tubería del baño", "se rompio la tuberia"),
    ("hvac", "No hay calefacción y hace mucho frío", "no hay calefaccion"),
    ("electrical", "se fue la luz en toda la casa", "se fue la luz"),
    ("roofing", "tengo goteras en la sala", "goteras"),
    ("dental", "tengo un dolor insoportable", "dolor insoportable"),
    ("legal", "mi esposo está detenido", "detenido"),
])  # fmt: skip
def test_spanish_urgent_phrases_per_vertical(vertical: str, text: str, phrase: str) -> None:
    assert UrgentMatcher.for_line(vertical).match(text) == Match(phrase)


@pytest.mark.parametrize(("text", "hazard"), [
    ("Huele a gas en la cocina", "gas"), ("suena la alarma de monóxido", "carbon_monoxide"),
    ("¡Hay un incendio!", "fire"), ("sale humo del enchufe", "smoke"), ("el enchufe echa chispas", "sparks"),
    ("huele a quemado", "burning_smell"),
])  # fmt: skip
def test_spanish_life_safety_phrases_on_every_line(text: str, hazard: str) -> None:
    for vertical in VERTICALS:
        found = UrgentMatcher.for_line(vertical).match(text)
        assert found is not None and found.hazard == hazard, vertical


@pytest.mark.parametrize("text", ["¿Me llamas mañana?", "necesito una cita para el lunes", "el techo es alto"])
def test_ordinary_spanish_is_not_urgent(text: str) -> None:
    assert UrgentMatcher.for_line("roofing").match(text) is None


def test_every_hazard_has_spanish_wording_that_fits_two_sms() -> None:
    assert set(SAFETY_SMS_ES) == set(SAFETY_SMS)
    for vertical in VERTICALS:
        for hazard in SAFETY_SMS:
            text = safety_sms(hazard, vertical, {"gas": "Leave now."}, language="es")
            assert "911" in text and sms_segments(text)[0] <= 2, (vertical, hazard)
    assert safety_sms("gas", "hvac", language="es").startswith("Si huele a gas, salga del edificio")


def test_help_and_the_opt_out_confirmation_in_spanish() -> None:
    line = parse_config(MINIMAL + '    contact: "+15125550199"\n', "t.yml").lines[0]
    assert keyword_of("Ayuda") == "help"
    assert help_text(line, "es") == (
        "Acme Plumbing: Comuníquese al (512) 555-0199 o responda a este número para hablar con nuestro equipo. "
        "Pueden aplicarse tarifas de mensajes y datos. Responda STOP para no recibir más mensajes.")
    assert "START" in opt_out_confirmation(line, "es") and "ya no recibirá" in opt_out_confirmation(line, "es")
