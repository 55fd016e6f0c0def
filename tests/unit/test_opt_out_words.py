"""Opt-out requests in a caller's own words (FCC: revocation by any reasonable means), both ways."""

from __future__ import annotations

import pytest

from workflows.opt_out import opt_out_phrases, opt_out_request


@pytest.mark.parametrize("text", [
    "opt out", "OPT-OUT", "Opt out please", "Stop texting me", "stop texting me!!", "please remove me from your list",
    "no more texts", "No more texts, thanks", "unsubscribe me", "Please unsubscribe me from this",
    "Don't text me", "do not text me again", "Take me off your list", "Stop please", "please STOP", "STOP STOP",
    "Ok, stop sending me messages", "how do I opt out?",
    # Spanish
    "para", "PARA", "Alto", "alto por favor", "basta", "No me manden mensajes", "no me envíen más mensajes",
    "Dejen de escribirme por favor", "quiero darme de baja", "Quítenme de su lista", "no más mensajes",
])  # fmt: skip
def test_clear_requests_are_caught(text: str) -> None:
    assert opt_out_request(text) == "clear"


@pytest.mark.parametrize("text", [
    "Leave me alone", "wrong number", "stop it", "not interested", "Who gave you my number? remove me",
    "I didn't say stop texting me", "don't stop texting me, I need the updates", "stop calling me",
    "no me interesa", "número equivocado", "déjenme en paz",
])  # fmt: skip
def test_unclear_requests_go_to_a_person(text: str) -> None:
    assert opt_out_request(text) == "unclear"


@pytest.mark.parametrize("text", [
    "don't stop the repair", "can you stop by tomorrow", "Please stop by at 3", "the leak won't stop",
    "I need the water to stop", "stopped leaking, thanks", "can you text me the quote", "send me more texts",
    "Is the end of the week ok?", "I'll quit my job if this keeps leaking", "cancel my appointment please",
    "cancel please", "Yes", "no more leaks since you came", "para mañana por favor", "es para la cocina",
    "el techo es muy alto", "necesito ayuda para el baño", "dejen de cobrarme de más", "",
])  # fmt: skip
def test_ordinary_texts_are_not_opt_outs(text: str) -> None:
    assert opt_out_request(text) is None


def test_a_line_adds_and_removes_phrases() -> None:
    assert opt_out_request("quit bugging me") is None
    assert opt_out_request("quit bugging me", add=("quit bugging me",)) == "clear"
    assert opt_out_request("no more texts", remove=("no more texts",)) is None
    assert opt_out_request("para", remove=("para",)) is None
    assert "no more texts" not in opt_out_phrases(remove=("No more texts",))
