"""`contact:` in the lines file: a phone or an email, checked, and named in the HELP reply."""

from __future__ import annotations

import pytest

from bot.settings import parse_config
from tests.unit.lines_files import MINIMAL, config_errors
from workflows.texting import help_text


def _line_with(**extra: str) -> str:
    return MINIMAL + "".join(f"    {key}: {value}\n" for key, value in extra.items())


@pytest.mark.parametrize(("written", "shown"), [
    ('"+15125550100"', "(512) 555-0100"), ('"(512) 555-0100"', "(512) 555-0100"), ("512-555-0100", "(512) 555-0100"),
    ("office@acme.example", "office@acme.example"),
])  # fmt: skip
def test_a_phone_or_an_email_is_named_in_the_help_reply(written: str, shown: str) -> None:
    line = parse_config(_line_with(contact=written), "textback.yml").lines[0]
    assert line.contact == shown
    assert help_text(line) == (f"Acme Plumbing: Contact us at {shown} or reply to this number to reach our team. "
                               "Msg & data rates may apply. Reply STOP to opt out.")


@pytest.mark.parametrize(("written", "problem"), [
    ("call us", '"call us" is neither a phone number nor an email address (e.g. "+15125550100" or "office@acme.example")'),
    ('"+1512555"', '"+1512555" is neither a phone number nor an email address (e.g. "+15125550100" or "office@acme.example")'),
    ("office@acme", '"office@acme" is not an email address (e.g. "office@acme.example")'),
    ("[a, b]", "expected text, got a list"),
])  # fmt: skip
def test_a_bad_contact_names_the_file_line_and_field(written: str, problem: str) -> None:
    assert config_errors(_line_with(contact=written)) == [f"textback.yml:6: lines[0].contact: {problem}"]


def test_without_a_contact_the_help_reply_still_says_how_to_reach_the_team() -> None:
    line = parse_config(MINIMAL, "textback.yml").lines[0]
    assert line.contact == ""
    assert help_text(line).startswith("Acme Plumbing: Reply to this number to reach our team.")


def test_the_lines_file_takes_opt_out_phrases() -> None:
    line = parse_config(_line_with(opt_out="{add: [quit bugging me], remove: [no more texts]}"), "t.yml").lines[0]
    assert (line.opt_out_words.add, line.opt_out_words.remove) == (("quit bugging me",), ("no more texts",))
    assert config_errors(_line_with(opt_out="{ad: [x]}"))[0].startswith(
        'textback.yml:6: lines[0].opt_out.ad: unknown key (did you mean "add"?')
