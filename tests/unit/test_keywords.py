"""Urgent keywords and life-safety phrases: what fires, what must not, and per-line changes."""

from __future__ import annotations

import pytest

from workflows.keywords import (
    PRESETS,
    SAFETY_SMS,
    VERTICALS,
    Match,
    UrgentMatcher,
    safety_sms,
    words,
)

PLUMBING = UrgentMatcher.for_line("plumbing")
HVAC = UrgentMatcher.for_line("hvac")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("The basement is flooding!!", "flooding"),
        ("basement FLOODED", "flooded"),
        ("we have a burst pipe in the kitchen", "burst pipe"),
        ("Pipe burst under the sink", "pipe burst"),
        ("pipes burst last night", "pipes burst"),
        ("no hot water since this morning", "no hot water"),
        ("water everywhere, please come", "water everywhere"),
        ("sewage coming up the drain", "sewage"),
        ("it's an emergency", "emergency"),
        ("Need someone ASAP.", "asap"),
        ("toilet overflowing!", "toilet overflowing"),
    ],
)
def test_plumbing_urgent_phrases_match(text: str, phrase: str) -> None:
    assert PLUMBING.match(text) == Match(phrase)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("No heat and it is 20 degrees", "no heat"),
        ("no-heat call", "no heat"),
        ("The heat isn't working", "heat isn't working"),
        ("the heat isnt working", "heat isn't working"),
        ("heat is out upstairs", "heat is out"),
        ("no A/C, grandma is here", "no a/c"),
        ("AC not working", "ac not working"),
        ("furnace won't turn on", "furnace won't turn on"),
    ],
)
def test_hvac_urgent_phrases_match(text: str, phrase: str) -> None:
    assert HVAC.match(text) == Match(phrase)


@pytest.mark.parametrize(
    "text",
    [
        "my water heater is making a noise",  # "heater" is not "heat"
        "can you service the heater next week?",
        "the heating bill is high",
        "the house was heated to 72",
        "schedule a tune up next month",
        "I'd like a quote for a new fireplace insert",  # "fireplace" is not "fire"
        "you fired my neighbour's contractor, so we called you",
        "gas water heater install quote",  # "gas" alone is not a leak
        "pipe replacement estimate",
        "the floodlight is out",  # "flood" inside a word
        "smoked brisket for the party",
    ],
)
def test_no_false_positives_for_hvac_and_plumbing(text: str) -> None:
    assert PLUMBING.match(text) is None
    assert HVAC.match(text) is None


@pytest.mark.parametrize(
    ("text", "hazard", "phrase"),
    [
        ("I smell gas in the kitchen", "gas", "smell gas"),
        ("It smells like gas!!!", "gas", "smells like gas"),
        ("strong GAS SMELL by the stove", "gas", "gas smell"),
        ("our carbon monoxide detector is beeping", "carbon_monoxide", "carbon monoxide"),
        ("CO alarm going off", "carbon_monoxide", "co alarm going off"),
        ("the outlet is on fire", "fire", "on fire"),
        ("fire in the panel", "fire", "fire"),
        ("there's smoke coming from the vent", "smoke", "smoke"),
        ("the outlet is smoking", "smoke", "smoking"),
        ("sparks from the breaker box", "sparks", "sparks"),
        ("burning smell from the outlet", "burning_smell", "burning smell"),
        ("outlet melted", "burning_smell", "outlet melted"),
    ],
)
def test_life_safety_phrases(text: str, hazard: str, phrase: str) -> None:
    match = UrgentMatcher.for_line("electrical").match(text)
    assert match == Match(phrase, hazard)
    assert match is not None and match.is_life_safety


def test_life_safety_wins_over_an_earlier_urgent_phrase() -> None:
    match = PLUMBING.match("basement flooding and now I smell gas")
    assert match == Match("smell gas", "gas")


def test_first_urgent_phrase_in_text_order() -> None:
    assert PLUMBING.match("no hot water and the basement is flooded") == Match("no hot water")


@pytest.mark.parametrize(
    "text",
    [
        "can you check the fireplace?",
        "fire ants all over the yard",
        "do you have a fire pit kit",
        "I want to fire my lawyer",
        "smoke detector battery keeps chirping",
        "the spark plug on the mower",
        "is there a no smoking policy",
        "fireworks tonight",
        "ceasefire",
        "sparkling water please",
        "the CO. address changed",
    ],
)
def test_harmless_uses_of_hazard_words(text: str) -> None:
    for vertical in ("pest_control", "legal", "restaurant"):
        match = UrgentMatcher.for_line(vertical).match(text)
        assert match is None or not match.is_life_safety, (vertical, text, match)


def test_company_co_is_not_carbon_monoxide_but_a_co_alarm_is() -> None:
    general = UrgentMatcher.for_line("general")
    assert general.match("Acme Co. sent the bill") is None
    assert general.match("our co detector went off") == Match("co detector", "carbon_monoxide")


def test_a_harmless_phrase_does_not_hide_a_real_fire_elsewhere() -> None:
    match = UrgentMatcher.for_line("pest_control").match("fire ants, and now the shed is on fire")
    assert match == Match("on fire", "fire")


def test_a_real_fire_next_to_a_possessive_still_matches() -> None:
    assert UrgentMatcher.for_line("legal").match("there's a fire my kids are inside") == Match("fire", "fire")


def test_negations_are_not_handled_on_purpose() -> None:
    # "no heat" is itself urgent, so negation cannot simply cancel a match; a safety text
    # after "no gas smell" costs less than a missed leak.
    assert PLUMBING.match("no gas smell, just a noise") == Match("gas smell", "gas")


def test_vertical_presets_differ() -> None:
    assert UrgentMatcher.for_line("dental").match("my tooth got knocked out") == Match("knocked out")
    assert UrgentMatcher.for_line("plumbing").match("my tooth got knocked out") is None
    assert UrgentMatcher.for_line("legal").match("my son was arrested") == Match("arrested")
    assert UrgentMatcher.for_line("restaurant").match("food poisoning after dinner") == Match("food poisoning")
    assert UrgentMatcher.for_line("roofing").match("tree fell on the house") == Match("tree fell")
    assert UrgentMatcher.for_line("pest_control").match("a wasp nest by the door") == Match("wasp nest")
    assert UrgentMatcher.for_line("medical_spa").match("I can't breathe well") == Match("can't breathe")
    assert UrgentMatcher.for_line("electrical").match("no power in half the house") == Match("no power")


def test_every_vertical_has_a_preset_and_the_general_words() -> None:
    assert set(VERTICALS) >= {
        "plumbing", "hvac", "electrical", "roofing", "pest_control",
        "dental", "medical_spa", "legal", "restaurant", "general",
    }  # fmt: skip
    for vertical in VERTICALS:
        matcher = UrgentMatcher.for_line(vertical)
        assert matcher.match("this is an EMERGENCY") == Match("emergency")
        assert matcher.match("I smell gas") == Match("smell gas", "gas")


def test_unknown_vertical_is_refused() -> None:
    with pytest.raises(ValueError, match="not a vertical"):
        UrgentMatcher.for_line("bakery")


def test_line_additions_and_removals() -> None:
    matcher = UrgentMatcher.for_line("plumbing", add=("Sump pump failed", "leak"), remove=("asap", "flooding"))
    assert matcher.match("sump pump FAILED overnight") == Match("Sump pump failed")
    assert matcher.match("small leak under sink") == Match("leak")
    assert matcher.match("come asap") is None
    assert matcher.match("basement flooding") is None
    assert matcher.match("basement flooded") == Match("flooded")  # only the form removed


def test_removing_a_life_safety_phrase_is_the_operators_choice() -> None:
    matcher = UrgentMatcher.for_line("restaurant", remove=("smoke",))
    assert matcher.match("smoke from the kitchen") is None
    assert matcher.match("the kitchen is on fire") == Match("on fire", "fire")


def test_an_empty_added_phrase_matches_nothing() -> None:
    assert UrgentMatcher.for_line("general", add=("", "!!!")).match("hello there") is None


def test_words_split_on_punctuation_and_join_apostrophes() -> None:
    assert words("No-heat!! It’s  FREEZING...") == ("no", "heat", "its", "freezing")
    assert words("a/c") == ("a", "c")


def test_safety_sms_wording_per_vertical() -> None:
    plumbing = safety_sms("gas", "plumbing")
    assert plumbing == "If you smell gas, leave the building now and call 911 or your gas utility from outside."
    assert safety_sms("gas", "hvac") == plumbing
    assert safety_sms("gas", "dental") == SAFETY_SMS["gas"]
    assert "breaker" in safety_sms("sparks", "electrical")
    assert safety_sms("fire", "legal", {"fire": "Call 911 now."}) == "Call 911 now."


def test_every_hazard_has_default_wording_that_fits_one_sms() -> None:
    for vertical in VERTICALS:
        for hazard in SAFETY_SMS:
            text = safety_sms(hazard, vertical)
            assert "911" in text and len(text) <= 160, (vertical, hazard)


def test_presets_phrases_all_have_words() -> None:
    for vertical, phrases in PRESETS.items():
        assert all(words(p) for p in phrases), vertical
