"""Templates: placeholders filled and checked, SMS segments counted as carriers bill them."""

from __future__ import annotations

import pytest

from workflows.lines import (
    DEFAULT_AFTER_HOURS_TEMPLATE,
    DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING,
    DEFAULT_BUSINESS_HOURS_TEMPLATE,
    OPT_OUT_FOOTER,
)
from workflows.texting import render, sms_segments, validate_template

VALUES = {
    "business": "Acme Plumbing",
    "booking_url": "https://acme.example/book",
    "hours_today": "8:00 AM-5:00 PM",
    "next_open": "tomorrow at 8:00 AM",
}


def test_render_fills_every_placeholder() -> None:
    text = render("{business} | {booking_url} | {hours_today} | {next_open} | {business}", **VALUES)
    assert text == "Acme Plumbing | https://acme.example/book | 8:00 AM-5:00 PM | tomorrow at 8:00 AM | Acme Plumbing"


def test_render_leaves_other_braces_alone() -> None:
    template = "Hi {name}, {{business}} :-} { business } {business}"
    assert render(template, **VALUES) == "Hi {name}, {Acme Plumbing} :-} { business } Acme Plumbing"


def test_render_does_not_expand_braces_inside_values() -> None:
    values = dict(VALUES, business="Brace {next_open} Co")
    assert render("{business}", **values) == "Brace {next_open} Co"


def test_default_after_hours_template() -> None:
    assert render(DEFAULT_AFTER_HOURS_TEMPLATE, **VALUES) == (
        "Hi, this is Acme Plumbing. We're closed now but saw your call. "
        "Book here: https://acme.example/book or text us what you need and we'll follow up first thing."
    )


@pytest.mark.parametrize(
    "template",
    [DEFAULT_BUSINESS_HOURS_TEMPLATE, DEFAULT_AFTER_HOURS_TEMPLATE, DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING,
     "No placeholders at all.", "Open {hours_today}; next {next_open}."],
)
def test_valid_templates_pass(template: str) -> None:
    validate_template(template)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "Hi, this is {bussiness}.",
            ("unknown placeholder {bussiness} (did you mean {business}? "
            "known: {business}, {booking_url}, {hours_today}, {next_open})"),
        ),
        (
            "Book: {bookingurl}",
            ("unknown placeholder {bookingurl} (did you mean {booking_url}? "
            "known: {business}, {booking_url}, {hours_today}, {next_open})"),
        ),
        (
            "Hi {Business}",
            ("unknown placeholder {Business} (did you mean {business}? "
            "known: {business}, {booking_url}, {hours_today}, {next_open})"),
        ),
        ("Hi {name}", "unknown placeholder {name} (known: {business}, {booking_url}, {hours_today}, {next_open})"),
        ("Hi {business", '"{" at character 4 is never closed: write placeholders as {business}'),
        ("Hi business}", '"}" at character 12 has no opening "{": write placeholders as {business}'),
        ("{{business}}", ('"{" at character 1 is never closed: write placeholders as {business}; '
                         '"}" at character 12 has no opening "{": write placeholders as {business}')),
    ],
)
def test_bad_templates_say_what_is_wrong(template: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_template(template)
    assert str(caught.value) == message


def test_gsm_single_and_multipart() -> None:
    assert sms_segments("a" * 160) == (1, "GSM-7")
    assert sms_segments("a" * 161) == (2, "GSM-7")
    assert sms_segments("a" * 306) == (2, "GSM-7")
    assert sms_segments("a" * 307) == (3, "GSM-7")
    assert sms_segments("") == (1, "GSM-7")


def test_gsm_extension_characters_count_two() -> None:
    assert sms_segments("€" * 80) == (1, "GSM-7")
    assert sms_segments("€" + "a" * 159) == (2, "GSM-7")
    assert sms_segments("{}[]~|^\\" + "a" * 144) == (1, "GSM-7")
    assert sms_segments("{}[]~|^\\" + "a" * 145) == (2, "GSM-7")


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 152 septets, then "€" would straddle the 153-septet boundary: it moves to part 2.
    assert sms_segments("a" * 152 + "€" + "a" * 152) == (3, "GSM-7")


def test_gsm_basic_accents_stay_gsm() -> None:
    assert sms_segments("Café à Zürich, £5 ¿Qué?") == (1, "GSM-7")


def test_curly_apostrophe_forces_ucs2() -> None:
    assert sms_segments("We’re closed") == (1, "UCS-2")
    assert sms_segments("’" + "a" * 69) == (1, "UCS-2")
    assert sms_segments("’" + "a" * 70) == (2, "UCS-2")
    assert sms_segments("’" + "a" * 133) == (2, "UCS-2")
    assert sms_segments("’" + "a" * 134) == (3, "UCS-2")


def test_emoji_count_two_utf16_units() -> None:
    assert sms_segments("😀" * 35) == (1, "UCS-2")
    assert sms_segments("😀" * 35 + "a") == (2, "UCS-2")


def test_default_texts_fit_in_two_gsm_segments() -> None:
    body = render(DEFAULT_AFTER_HOURS_TEMPLATE, **VALUES) + OPT_OUT_FOOTER
    assert sms_segments(body) == (2, "GSM-7")


def test_templates_longer_than_three_segments_are_refused_with_the_count() -> None:
    validate_template("Hi, this is {business}. " + "x" * 380)
    with pytest.raises(ValueError, match=r"= 4 SMS segments \(GSM-7\); keep it to 3 segments or fewer"):
        validate_template("Hi, this is {business}. " + "x" * 440)
    with pytest.raises(ValueError, match=r"SMS segments \(UCS-2\) \(a curly quote"):
        validate_template("We\u2019re sorry, {business} missed you. " + "y" * 200)
