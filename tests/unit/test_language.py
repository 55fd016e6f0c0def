"""The language detector: Spanish texts are told from English ones, with no service."""

from __future__ import annotations

import pytest

from workflows.language import language_of


@pytest.mark.parametrize("text", [
    "Hola, tengo una fuga de agua en la cocina", "huele a gas en mi casa", "¿Pueden venir hoy?", "AYUDA",
    "no hay calefacción", "se inundó el sótano", "gracias", "Necesito una cita para mañana", "Hay humo",
])  # fmt: skip
def test_spanish_texts(text: str) -> None:
    assert language_of(text) == "es"


@pytest.mark.parametrize("text", [
    "Hi, I have a leak in the kitchen", "I smell gas in my house", "Can you come today?", "HELP", "ok", "3pm",
    "", "no heat", "Yes please", "Gracias! Can you come at 3?", "The casa is flooding, please hurry",
])  # fmt: skip
def test_english_and_unclear_texts_are_english(text: str) -> None:
    assert language_of(text) == "en"
