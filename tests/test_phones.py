"""Phone numbers: normalising, display, masking, withheld IDs."""

from __future__ import annotations

import random

import pytest

from bot import phones
from bot.logs import mask_numbers


@pytest.mark.parametrize("raw", ["+15125550123", "(512) 555-0123", "512-555-0123", "512.555.0123", "1 512 555 0123"])
def test_common_us_forms_normalise(raw: str) -> None:
    assert phones.normalize(raw) == "+15125550123"


@pytest.mark.parametrize("raw", ["+1512555", "hello", "", "+999123"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    assert phones.normalize(raw) is None


def test_display() -> None:
    assert phones.display("+15125550123") == "(512) 555-0123"
    assert phones.display("+442079460958") == "+44 20 7946 0958"
    assert phones.display("garbage") == "garbage"


@pytest.mark.parametrize("raw", ["", "anonymous", "Restricted", "+266696687", "+7378742833", "+2562533",
                                 "+8656696", "+86282452253", "UNKNOWN"])
def test_withheld_caller_ids(raw: str) -> None:
    assert phones.classify_caller(raw) == "withheld"


def test_short_codes_and_junk() -> None:
    assert phones.classify_caller("12345") == "short_code"
    assert phones.classify_caller("+898989") == "short_code"
    assert phones.classify_caller("+1512555") == "invalid"
    assert phones.classify_caller("client:alice") == "invalid"
    assert phones.classify_caller("+15125550123") == "ok"


def test_mask_never_shows_more_than_the_last_two_digits() -> None:
    rng = random.Random(7)
    for _ in range(500):
        number = "+1" + "".join(rng.choice("0123456789") for _ in range(10))
        masked = phones.mask(number)
        assert masked.startswith("+1") and masked[-2:] == number[-2:]
        assert sum(ch.isdigit() for ch in masked) <= 3, masked
    assert phones.mask("+442079460958") == "+44********58"
    assert phones.mask("123") == "***"


def test_log_masking_catches_numbers_but_not_slack_timestamps() -> None:
    line = "sms to +15125550123 key tb:cooldown:+15125550100:+15125550123 ts 1700000000.000100"
    masked = mask_numbers(line)
    assert "5550123" not in masked and "5550100" not in masked
    assert "1700000000.000100" in masked
