"""Which language a caller writes in: English or Spanish, from the words alone (no service).

Counts words that are common in one language and rare in the other; accents and ¿ ¡ count
for Spanish. A tie, or a text with neither ("ok", "3pm", a photo), is English: the default
wording every line has.
"""

from __future__ import annotations

from typing import Literal

from workflows.keywords import words

Language = Literal["en", "es"]

_SPANISH = frozenset({
    "el", "la", "los", "las", "un", "una", "de", "del", "que", "y", "en", "es", "esta", "estan", "hay", "por",
    "favor", "para", "con", "mi", "mis", "su", "se", "me", "muy", "pero", "porque", "como", "donde", "cuando",
    "tengo", "tiene", "necesito", "quiero", "puede", "pueden", "hola", "gracias", "buenos", "buenas", "dias",
    "tardes", "noches", "agua", "casa", "fuga", "olor", "ayuda", "ahora", "hoy", "manana", "si", "no", "nada",
    "ya", "estoy", "somos", "usted", "ustedes", "cocina", "bano", "techo", "luz", "calefaccion", "aire",
    "urgente", "emergencia", "mensajes", "llamar", "llamada", "cita",
})  # fmt: skip
_ENGLISH = frozenset({
    "the", "a", "an", "is", "are", "my", "your", "and", "to", "of", "in", "it", "i", "you", "we", "have", "has",
    "need", "please", "can", "could", "there", "this", "that", "with", "for", "on", "at", "be", "will", "what",
    "when", "where", "hi", "hello", "thanks", "thank", "water", "house", "leak", "help", "now", "today",
    "tomorrow", "yes", "no", "not", "call", "appointment", "want",
})  # fmt: skip
_SPANISH_MARKS = frozenset("áéíóúñ¿¡")


def language_of(text: str) -> Language:
    """ "es" when the text reads as Spanish, else "en"."""
    tokens = words(text)
    spanish = sum(t in _SPANISH for t in tokens) + sum(c in _SPANISH_MARKS for c in text.lower())
    english = sum(t in _ENGLISH for t in tokens)
    return "es" if spanish > english else "en"
