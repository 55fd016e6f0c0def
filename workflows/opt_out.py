"""Opt-out requests in a caller's own words, in English and Spanish.

Since 11 April 2025 (FCC, TCPA consent revocation order) a consumer may revoke consent "by
any reasonable means", not only with STOP. So a text is judged in three ways:

- **clear**: the whole text is an opt-out word, alone or with "please" ("stop please",
  "PARA", "alto por favor"), or it holds a phrase that asks for no more texts ("stop texting
  me", "unsubscribe me", "remove me from your list", "no me manden mensajes"). Honoured at once.
- **unclear**: it may be one ("leave me alone", "wrong number", "stop it", "no me interesa"),
  or a clear phrase comes just after a negation ("I didn't say stop texting me"). A person
  decides from the thread; until then no automatic text goes to the number.
- nothing: "can you stop by tomorrow", "don't stop the repair", "para mañana".

Phrases are matched on whole words with accents and case ignored (`keywords.words`). A line
adds its own phrases (counted as clear) and removes listed ones (`opt_out: {add, remove}`).
"""

from __future__ import annotations

from typing import Literal

from workflows.keywords import Words, words

__all__ = ["CLEAR_PHRASES", "UNCLEAR_PHRASES", "Verdict", "opt_out_phrases", "opt_out_request"]

Verdict = Literal["clear", "unclear"]

# A text made only of these (and of _POLITE words) is an opt-out: the carrier keywords that
# say nothing else, and Spanish words a caller uses alone ("para" = stop; inside a sentence it
# means "for"). CANCEL, END and QUIT count only alone (the carrier keywords): "cancel please"
# is about an appointment.
_ALONE = frozenset({"stop", "stopall", "unsubscribe", "revoke", "optout", "para", "alto", "basta", "detener",
                    "parar"})
_POLITE = frozenset({"please", "pls", "plz", "por", "favor", "porfavor", "porfa", "thanks", "thank", "you", "gracias",
                     "now", "ya"})
# A negation this many words before a clear phrase makes it unclear: "don't stop texting me".
_NEGATIONS = frozenset({"dont", "not", "never", "didnt", "doesnt", "wont", "nunca", "shouldnt"})
_NEGATION_REACH = 3

CLEAR_PHRASES: tuple[str, ...] = (
    # English
    "stop texting", "stop texting me", "stop texting us", "stop messaging", "stop messaging me",
    "stop sending texts", "stop sending me texts", "stop sending messages", "stop sending me messages",
    "stop the texts", "stop these texts", "stop all texts", "stop with the texts", "quit texting", "quit texting me",
    "stop contacting me", "opt out", "opt me out", "opting out", "unsubscribe me", "please unsubscribe",
    "remove me from your list", "remove me from the list", "remove me from this list", "remove me from your texts",
    "remove me from your texting list", "remove my number", "take me off your list", "take me off the list",
    "take me off this list", "take my number off", "delete my number", "dont text me", "do not text me",
    "dont text this number", "do not text this number", "dont message me", "do not message me",
    "dont contact me", "do not contact me", "never text me", "no more texts", "no more text messages",
    "no more messages", "no more texting", "i dont want texts", "i do not want texts",
    # Spanish
    "no me manden mensajes", "no me mandes mensajes", "no me manden mas mensajes", "no me envien mensajes",
    "no me envies mensajes", "no me envien mas mensajes", "no me manden textos", "no me escriban",
    "no me escribas", "no me escriban mas", "no quiero mensajes", "no quiero recibir mensajes",
    "no quiero mas mensajes", "no mas mensajes", "ya no me escriban", "ya no me manden mensajes",
    "dejen de escribirme", "deja de escribirme", "dejen de mandarme mensajes", "deja de mandarme mensajes",
    "dejen de enviarme mensajes", "deja de enviarme mensajes", "dejen de mandar mensajes", "dame de baja",
    "denme de baja", "darme de baja", "quitenme de su lista", "quitenme de la lista", "borrenme de su lista",
    "borrenme de la lista", "sacame de la lista", "saquenme de su lista", "cancelar suscripcion",
)  # fmt: skip

UNCLEAR_PHRASES: tuple[str, ...] = (
    "leave me alone", "not interested", "no longer interested", "wrong number", "remove me", "take me off",
    "stop it", "stop this", "stop calling", "stop calling me", "dont call me", "do not call me",
    "stop bothering me", "quit bothering me", "how do i unsubscribe", "how do i stop", "who gave you my number",
    "no me interesa", "numero equivocado", "dejen de llamarme", "no me llamen", "dejenme en paz", "ya no quiero",
)  # fmt: skip


def opt_out_phrases(add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The clear phrases a line matches: the built-in ones and its own, minus its removals."""
    removed = {words(p) for p in remove}
    found: dict[Words, str] = {}
    for phrase in (*CLEAR_PHRASES, *add):
        key = words(phrase)
        if key and key not in removed:
            found.setdefault(key, phrase)
    return tuple(found.values())


def _find(tokens: Words, phrases: set[Words]) -> list[int]:
    """Where each phrase starts in `tokens` (every occurrence)."""
    return [i for i in range(len(tokens)) for p in phrases if tokens[i : i + len(p)] == p]


def opt_out_request(text: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> Verdict | None:
    """Whether a caller's text asks for no more texts: "clear", "unclear", or None."""
    tokens = words(text)
    removed = {words(p) for p in remove}
    meant = [t for t in tokens if t not in _POLITE]
    if meant and all(t in _ALONE for t in meant) and tuple(meant) not in removed:
        return "clear"
    clear = {words(p) for p in opt_out_phrases(add, remove)}
    starts = _find(tokens, clear)
    if any(not _NEGATIONS & set(tokens[max(0, i - _NEGATION_REACH) : i]) for i in starts):
        return "clear"
    unclear = {words(p) for p in UNCLEAR_PHRASES} - removed
    if starts or _find(tokens, unclear):
        return "unclear"
    return None
