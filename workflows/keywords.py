"""Urgent keywords and life-safety phrases in caller texts (PRODUCT §2.5).

Matching is on whole words: the text and every phrase are cut into lowercase words (an
apostrophe joins, any other non-letter splits), so "fire" never matches "fireplace" or
"fired", "heat" never matches "heater", and "SMELL GAS!!" or "no-heat" still match.
Inflections are listed, not guessed: a stemmer would turn "heater" into "heat".

Negations are not handled: "no heat" is itself urgent, and a safety text to someone who
wrote "no gas smell" costs far less than a missed gas leak. A few fixed phrases that use a
hazard word harmlessly ("fire ants", "fire my lawyer", "smoke detector battery") are
blanked out before matching; the same word elsewhere in the text still matches.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "PRESETS", "PRESETS_ES", "SAFETY_SMS", "SAFETY_SMS_ES", "VERTICALS", "Match", "UrgentMatcher", "hazard_of", "life_safety_phrases",
    "safety_sms", "urgent_phrases", "words",
]

Words = tuple[str, ...]

_URGENT_ANY = ("emergency", "urgent", "asap", "as soon as possible", "911", "right away")
_URGENT_WATER = (
    "flood", "floods", "flooding", "flooded", "burst pipe", "burst pipes", "pipe burst", "pipes burst",
    "broken pipe", "pipe broke", "water everywhere", "water pouring", "gushing",
    "frozen pipe", "frozen pipes", "ceiling leaking", "leaking through the ceiling",
)  # fmt: skip

PRESETS: dict[str, Words] = {
    "plumbing": _URGENT_WATER + (
        "sewage", "sewer backup", "sewage backup", "sewer backing up", "toilet overflowing",
        "overflowing", "no water", "no hot water", "water heater leaking", "water heater burst",
    ),
    "hvac": (
        "no heat", "no heating", "heat not working", "heat isn't working", "heat is out", "heater not working",
        "heater isn't working", "furnace not working", "furnace out", "furnace won't turn on", "no ac",
        "no a/c", "ac not working", "a/c not working", "ac is out", "no air conditioning", "no cooling",
        "freezing", "too hot",
    ),
    "electrical": (
        "no power", "power out", "power is out", "power outage", "lost power", "electric shock",
        "got shocked", "getting shocked", "shocked me", "electrocuted", "exposed wire", "exposed wires", "live wire", "power line down",
        "downed line", "hot outlet", "outlet is hot", "breaker won't reset",
    ),
    "roofing": _URGENT_WATER + (
        "roof leak", "roof leaking", "roof is leaking", "leaking roof", "roof collapsed", "caved in",
        "tree fell", "tree on roof", "tree on the roof", "hole in the roof", "hole in roof", "storm damage",
        "shingles blew off",
    ),
    "pest_control": (
        "swarm", "swarming", "wasp nest", "hornet nest", "hornets", "stung", "bitten", "snake",
        "bat in the house", "bats in the house", "allergic reaction",
    ),
    "dental": (
        "severe pain", "unbearable pain", "knocked out", "broken tooth", "cracked tooth", "swelling",
        "swollen", "abscess", "bleeding", "won't stop bleeding", "infection", "fever",
    ),
    "medical_spa": (
        "allergic reaction", "swelling", "swollen", "blister", "blisters", "burn", "burned", "infection",
        "infected", "pus", "blurry vision", "vision loss", "can't breathe", "trouble breathing",
        "skin turning white", "turning blue", "severe pain",
    ),
    "legal": (
        "arrested", "in jail", "detained", "deported", "deportation", "warrant", "court today",
        "court tomorrow", "hearing today", "hearing tomorrow", "been served", "got served", "was served",
        "served papers", "subpoena", "eviction",
        "evicted", "restraining order", "protective order", "deadline today", "deadline tomorrow",
    ),
    "restaurant": (
        "food poisoning", "allergic reaction", "got sick", "sick after", "vomiting", "hospital",
        "epipen", "anaphylaxis",
    ),
    "general": (),
}  # fmt: skip
VERTICALS = tuple(PRESETS)

# Spanish: the words callers write (accents optional: matching ignores them).
_URGENT_ANY_ES = ("emergencia", "urgente", "lo antes posible", "ahora mismo", "rapido por favor")
_URGENT_WATER_ES = (
    "inundacion", "inundado", "inundada", "se inundo", "se esta inundando", "tuberia rota", "tubo roto",
    "se rompio la tuberia", "se rompio el tubo", "revento la tuberia", "tuberia reventada", "agua por todas partes",
    "sale mucha agua", "tuberia congelada", "gotea el techo", "gotera en el techo",
)  # fmt: skip
PRESETS_ES: dict[str, Words] = {
    "plumbing": _URGENT_WATER_ES + (
        "aguas negras", "drenaje tapado", "se desborda el inodoro", "el inodoro se desborda", "sin agua",
        "no hay agua", "no hay agua caliente", "sin agua caliente", "fuga en el calentador",
    ),
    "hvac": (
        "no hay calefaccion", "sin calefaccion", "no funciona la calefaccion", "no calienta", "no hay aire",
        "sin aire acondicionado", "no funciona el aire", "el aire no enfria", "no enfria", "hace mucho calor",
        "hace mucho frio", "se congela",
    ),
    "electrical": (
        "no hay luz", "sin luz", "se fue la luz", "no hay electricidad", "sin electricidad", "descarga electrica",
        "me dio toques", "electrocutado", "cables expuestos", "cable pelado", "cable caido", "enchufe caliente",
        "el breaker no sube",
    ),
    "roofing": _URGENT_WATER_ES + (
        "gotera", "goteras", "se cayo el techo", "techo caido", "hoyo en el techo", "agujero en el techo",
        "cayo un arbol", "arbol en el techo", "dano por tormenta", "se volaron las tejas",
    ),
    "pest_control": (
        "enjambre", "nido de avispas", "avispas", "me pico", "me picaron", "me mordio", "culebra", "serpiente",
        "murcielago en la casa", "reaccion alergica",
    ),
    "dental": (
        "dolor fuerte", "dolor insoportable", "mucho dolor", "se me cayo un diente", "diente roto", "diente quebrado",
        "hinchazon", "hinchado", "hinchada", "absceso", "sangrado", "no para de sangrar", "infeccion", "fiebre",
    ),
    "medical_spa": (
        "reaccion alergica", "hinchazon", "hinchado", "hinchada", "ampolla", "ampollas", "quemadura", "quemado",
        "quemada", "infeccion", "infectado", "infectada", "pus", "vision borrosa", "no veo", "no puedo respirar",
        "me cuesta respirar", "piel blanca", "se pone morado", "dolor fuerte",
    ),
    "legal": (
        "arrestado", "arrestada", "detenido", "detenida", "en la carcel", "deportado", "deportacion", "orden de arresto",
        "corte hoy", "corte manana", "audiencia hoy", "audiencia manana", "me notificaron", "citatorio", "desalojo",
        "desalojado", "orden de restriccion", "orden de proteccion", "fecha limite hoy", "fecha limite manana",
    ),
    "restaurant": (
        "intoxicacion", "intoxicacion alimentaria", "me enferme", "se enfermo", "vomitando", "vomito", "hospital",
        "reaccion alergica", "anafilaxia",
    ),
    "general": (),
}  # fmt: skip

# Hazard -> phrases. Every vertical checks them: anyone told "my house is on fire" should
# answer "call 911", even a law office.
_LIFE_SAFETY: dict[str, Words] = {
    "gas": (
        "smell gas", "smelled gas", "smelling gas", "smells gas", "smells like gas", "smell of gas",
        "gas smell", "gas leak", "gas leaking", "leaking gas", "rotten egg smell", "rotten eggs smell",
    ),
    "carbon_monoxide": (
        "carbon monoxide", "monoxide", "co alarm", "co detector", "co alarm going off", "co detector going off",
    ),
    "fire": ("fire", "on fire", "caught fire", "house fire", "electrical fire", "flames"),
    "smoke": ("smoke", "smoking", "smoky"),
    "sparks": ("spark", "sparks", "sparking", "sparked", "arcing"),
    "burning_smell": (
        "burning smell", "smell burning", "smells like burning", "smell of burning", "smells burnt",
        "burning plastic smell", "burning wire", "burning wires", "melted outlet", "melting outlet",
        "outlet melted",
    ),
}  # fmt: skip
# The same hazards in Spanish, matched on every line too.
_LIFE_SAFETY_ES: dict[str, Words] = {
    "gas": (
        "huele a gas", "olor a gas", "fuga de gas", "se sale el gas", "huele a huevo podrido",
    ),
    "carbon_monoxide": (
        "monoxido de carbono", "monoxido", "alarma de monoxido", "detector de monoxido", "suena la alarma de co",
    ),
    # Not "llamas" alone: "¿me llamas?" is "will you call me?".
    "fire": ("fuego", "incendio", "se incendia", "se esta quemando", "en llamas"),
    "smoke": ("humo", "sale humo", "hay humo"),
    "sparks": ("chispas", "chispa", "echa chispas", "chispeando", "saca chispas"),
    "burning_smell": (
        "huele a quemado", "olor a quemado", "cable quemado", "cables quemados", "enchufe derretido",
        "huele a plastico quemado",
    ),
}  # fmt: skip
for _hazard, _phrases in _LIFE_SAFETY_ES.items():
    _LIFE_SAFETY[_hazard] += _phrases

# Harmless phrases that use a hazard word; blanked before matching.
# Kept short on purpose: a blanked "fire my" would also hide "fire my kids are inside".
_HARMLESS: Words = (
    "fire ant", "fire ants", "fire pit", "fire sale", "fire my lawyer", "fire my attorney",
    "fire our lawyer", "fire our attorney", "smoke detector battery",
    "smoke alarm battery", "smoke alarm chirping", "smoke detector chirping", "no smoking",
    "smoking section", "smoking area", "spark plug", "spark plugs",
)  # fmt: skip

_GAS_TRADES = "If you smell gas, leave the building now and call 911 or your gas utility from outside."
SAFETY_SMS: dict[str, str] = {
    "gas": "If you smell gas, leave now and call 911 or your gas utility from outside. Don't flip switches.",
    "carbon_monoxide": "If a CO alarm is sounding or anyone feels dizzy or sick, get everyone outside into fresh air now and call 911.",
    "fire": "If there is a fire, get everyone out now and call 911.",
    "smoke": "If you see smoke, get everyone out now and call 911.",
    "sparks": "Stay away from sparks, and call 911 if there is smoke or fire.",
    "burning_smell": "If you smell burning, stay away from it and call 911 if there is smoke or fire.",
}  # fmt: skip
SAFETY_SMS_ES: dict[str, str] = {
    "gas": "Si huele a gas, salga ahora y llame al 911 o a su compañía de gas desde afuera. No toque interruptores.",
    "carbon_monoxide": "Si suena una alarma de CO o alguien se siente mareado o enfermo, salgan todos al aire libre ahora y llame al 911.",
    "fire": "Si hay fuego, salgan todos ahora y llame al 911.",
    "smoke": "Si ve humo, salgan todos ahora y llame al 911.",
    "sparks": "Aléjese de las chispas y llame al 911 si hay humo o fuego.",
    "burning_smell": "Si huele a quemado, aléjese y llame al 911 si hay humo o fuego.",
}  # fmt: skip
_GAS_TRADES_ES = "Si huele a gas, salga del edificio ahora y llame al 911 o a su compañía de gas desde afuera."
# Per vertical: the trades can say what to do with the equipment they know.
_VERTICAL_SMS: dict[tuple[str, str], str] = {
    ("plumbing", "gas"): _GAS_TRADES,
    ("hvac", "gas"): _GAS_TRADES,
    ("hvac", "carbon_monoxide"): "If a CO alarm is sounding, get everyone outside now, call 911, and leave the furnace off.",
    ("electrical", "sparks"): "Stay clear of the sparks. Switch off the main breaker only if you can do it safely, and call 911 if there is smoke or fire.",
    ("electrical", "burning_smell"): "A burning smell from wiring is dangerous: switch off the breaker if it is safe to reach, and call 911 if there is smoke or fire.",
}  # fmt: skip


def fold(text: str) -> str:
    """Lowercase without accents: "Envíen" and "envien" are one word, as callers type both."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_VERTICAL_SMS_ES: dict[tuple[str, str], str] = {
    ("plumbing", "gas"): _GAS_TRADES_ES,
    ("hvac", "gas"): _GAS_TRADES_ES,
    ("hvac", "carbon_monoxide"): "Si suena una alarma de CO, salgan todos ahora, llame al 911 y deje el calentador apagado.",
    ("electrical", "sparks"): "Aléjese de las chispas. Apague el interruptor principal solo si puede hacerlo sin peligro, y llame al 911 si hay humo o fuego.",
    ("electrical", "burning_smell"): "Un olor a quemado en los cables es peligroso: apague el interruptor si puede llegar sin peligro, y llame al 911 si hay humo o fuego.",
}  # fmt: skip


def words(text: str) -> Words:
    """Lowercase words: apostrophes join ("isn't" -> "isnt"), accents go ("fuga eléctrica" ->
    "fuga electrica"), anything else not a letter or digit splits."""
    return tuple(re.findall(r"[a-z0-9]+", re.sub(r"['’]", "", fold(text))))


@functools.cache
def _safety_words() -> dict[Words, str]:
    return {words(p): hazard for hazard, listed in _LIFE_SAFETY.items() for p in listed}


def urgent_phrases(vertical: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The urgent phrases a line matches besides life safety: every vertical's, its preset, its own."""
    removed = {words(p) for p in remove}
    found: dict[Words, str] = {}
    for phrase in (*_URGENT_ANY, *PRESETS.get(vertical, ()), *_URGENT_ANY_ES, *PRESETS_ES.get(vertical, ()), *add):
        key = words(phrase)
        if key and key not in removed and key not in _safety_words():
            found.setdefault(key, phrase)
    return tuple(found.values())


def life_safety_phrases(remove: tuple[str, ...] = ()) -> dict[str, Words]:
    """Hazard -> the life-safety phrases still matched after the line's removals."""
    removed = {words(p) for p in remove}
    return {hazard: tuple(p for p in listed if words(p) not in removed) for hazard, listed in _LIFE_SAFETY.items()}


def hazard_of(phrase: str) -> str:
    """The hazard a phrase is a life-safety phrase of, or ""."""
    return _safety_words().get(words(phrase), "")


def safety_sms(hazard: str, vertical: str = "general", custom: dict[str, str] | None = None,
               language: str = "en") -> str:
    """The safety text for a hazard: the line's own wording, the vertical's, or the default. A
    Spanish writer gets the vertical's or the default in Spanish (a line's own wording is in
    one language, the operator's)."""
    if language == "es":
        return _VERTICAL_SMS_ES.get((vertical, hazard)) or SAFETY_SMS_ES[hazard]
    return (custom or {}).get(hazard) or _VERTICAL_SMS.get((vertical, hazard)) or SAFETY_SMS[hazard]


@dataclass(frozen=True)
class Match:
    """The phrase that matched (as listed), and the hazard when it is a life-safety phrase."""

    phrase: str
    hazard: str = ""

    @property
    def is_life_safety(self) -> bool:
        return bool(self.hazard)


class UrgentMatcher:
    """Finds the first urgent or life-safety phrase in a text; life safety wins."""

    def __init__(self, phrases: dict[Words, Match]) -> None:
        self._phrases = phrases
        self._longest = max((len(w) for w in phrases), default=0)
        self._harmless = {words(p) for p in _HARMLESS}

    @classmethod
    def for_line(cls, vertical: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> UrgentMatcher:
        """The vertical's preset plus the line's additions, minus its removals (any vertical's phrases)."""
        if vertical not in PRESETS:
            raise ValueError(f'"{vertical}" is not a vertical: use one of {", ".join(VERTICALS)}')
        phrases: dict[Words, Match] = {}
        for phrase in (*_URGENT_ANY, *PRESETS[vertical], *_URGENT_ANY_ES, *PRESETS_ES[vertical], *add):
            phrases.setdefault(words(phrase), Match(phrase))
        for hazard, listed in _LIFE_SAFETY.items():
            phrases.update({words(p): Match(p, hazard) for p in listed})
        for phrase in remove:
            phrases.pop(words(phrase), None)
        phrases.pop((), None)  # an added phrase with no words would match everywhere
        return cls(phrases)

    def match(self, text: str) -> Match | None:
        """The life-safety match if any, else the first urgent one; None when nothing matches."""
        found = [m for _, m in self._scan(self._blank_harmless(words(text)))]
        return next((m for m in found if m.is_life_safety), found[0] if found else None)

    def _scan(self, tokens: list[str]) -> list[tuple[int, Match]]:
        """Longest phrase at each position, left to right, phrases not overlapping."""
        out, i = [], 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                hit = self._phrases.get(tuple(tokens[i : i + size]))
                if hit is not None:
                    out.append((i, hit))
                    i += size
                    break
            else:
                i += 1
        return out

    def _blank_harmless(self, tokens: Words) -> list[str]:
        out = list(tokens)
        for phrase in self._harmless:
            for i in range(len(out) - len(phrase) + 1):
                if tuple(out[i : i + len(phrase)]) == phrase:
                    out[i : i + len(phrase)] = [""] * len(phrase)
        return out
