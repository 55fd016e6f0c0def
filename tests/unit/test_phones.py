"""Phone numbers: normalising, display, masking, withheld IDs."""

from __future__ import annotations

import random

import pytest

from bot import phones
from bot.logs import mask_numbers


@pytest.mark.parametrize(
    "raw", ["+15125550123", "(512) 555-0123", "512-555-0123", "512.555.0123", "1 512 555 0123", " +1 512 555 0123 "]
)
def test_common_us_forms_normalise(raw: str) -> None:
    assert phones.normalize(raw) == "+15125550123"


def test_other_regions_normalise() -> None:
    assert phones.normalize("020 7946 0958", region="GB") == "+442079460958"
    assert phones.normalize("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("raw", ["+1512555", "hello", "", "+999123", "anonymous", "12345"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    assert phones.normalize(raw) is None


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+15125550123", "(512) 555-0123"),
        ("+14165550123", "(416) 555-0123"),
        ("+18762345678", "+1 876-234-5678"),
        ("+442079460958", "+44 20 7946 0958"),
        ("+33142685300", "+33 1 42 68 53 00"),
        ("garbage", "garbage"),
        ("<!channel>", "<!channel>"),
        ("+1512555", "+1512555"),
    ],
)
def test_display(e164: str, shown: str) -> None:
    assert phones.display(e164) == shown


def test_country_code() -> None:
    assert phones.country_code("+15125550123") == 1
    assert phones.country_code("+442079460958") == 44
    assert phones.country_code("garbage") == 0
    assert phones.country_code("5125550123") == 0


@pytest.mark.parametrize(
    "raw",
    ["", "  ", "anonymous", "Restricted", "UNKNOWN", "unavailable", "Private", "blocked",
     "+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"],
)
def test_withheld_caller_ids(raw: str) -> None:
    assert phones.classify_caller(raw) == "withheld"


@pytest.mark.parametrize("raw", ["12345", "123456", "+898989", "+22395", " 55555 "])
def test_short_codes(raw: str) -> None:
    assert phones.classify_caller(raw) == "short_code"


@pytest.mark.parametrize(
    "raw", ["1234", "+1512555", "client:alice", "sip:bob@x.example", "5125550123", "+1 512 555 0123", "+999123456"]
)
def test_junk_is_invalid(raw: str) -> None:
    assert phones.classify_caller(raw) == "invalid"


@pytest.mark.parametrize("raw", ["+15125550123", "+442079460958", " +15125550123 "])
def test_real_numbers_are_ok(raw: str) -> None:
    assert phones.classify_caller(raw) == "ok"


def test_kinds_match_the_domain_model() -> None:
    assert set(phones.KINDS) == {"ok", "withheld", "short_code", "invalid"}


def test_mask_examples() -> None:
    assert phones.mask("+15125550123") == "+1*******0123"
    assert phones.mask("+442079460958") == "+44*******0958"
    assert phones.mask("5125550123") == "*******0123"
    assert phones.mask("+999123456") == "+*******3456"
    for junk in ["123", "", "12345", "anonymous", "client:alice1234567", "+1 512 555 0123 ext 45x"]:
        assert phones.mask(junk) == "***", junk


def test_mask_never_shows_more_than_the_last_four_digits() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        cc = rng.choice(["1", "44", "33", "81", "353", "1", "52"])
        subscriber = "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 12)))
        number = "+" + cc + subscriber
        masked = phones.mask(number)
        assert masked.endswith(subscriber[-4:]), (number, masked)
        shown = "".join(ch for ch in masked if ch.isdigit())
        # Nothing beyond a country code (at most 3 digits) and the last four digits.
        assert len(shown) <= len(cc) + 4, (number, masked)
        assert masked == f"+{cc}*******{subscriber[-4:]}", (number, masked)


def test_mask_of_arbitrary_input_shows_at_most_the_last_four_digits() -> None:
    rng = random.Random(3)
    shown = 0
    for _ in range(2000):
        # Half the samples from anything, half dialable-looking (digits and formatting only).
        alphabet = rng.choice(["+0123456789 ()-.ax:", "0123456789 ()-."])
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        masked = phones.mask(raw)
        digits = "".join(ch for ch in raw if ch.isdigit())
        rest = raw.strip().removeprefix("+")
        dialable = len(digits) >= 7 and all(ch in "0123456789 ().-" for ch in rest)
        # Garbage and short runs are hidden entirely; anything dialable keeps its last four digits.
        assert (masked != "***") == dialable, (raw, masked)
        if dialable:
            shown += 1
            assert masked.endswith(digits[-4:]) and sum(ch.isdigit() for ch in masked) <= 7, (raw, masked)
    assert shown > 100, "the sample must hold dialable input, or the check above proves nothing"


def test_log_masking_catches_numbers_but_not_slack_timestamps() -> None:
    line = "sms to +15125550123 key tb:cooldown:+15125550100:+15125550123 ts 1700000000.000100"
    masked = mask_numbers(line)
    assert "5550123" not in masked and "5550100" not in masked
    assert "1700000000.000100" in masked


def test_log_masking_catches_url_encoded_numbers() -> None:
    body = "command=%2Ftextback&text=callers+%2B17376751002&from=%2b15125550123"
    masked = mask_numbers(body)
    assert "7376751002" not in masked and "5125550123" not in masked
    assert "%2B1******1002" in masked and "%2b1******0123" in masked


@pytest.mark.parametrize("stamp", ["1712345678", "1712345678123", "1712345678.123456", "1000000000", "1999999999"])
def test_log_masking_leaves_unix_times_alone(stamp: str) -> None:
    line = f"timestamp: {stamp}, due {stamp}"
    assert mask_numbers(line) == line


def test_log_masking_still_masks_what_could_be_a_number_near_a_time() -> None:
    # Ten digits not starting with 1 are a North American number; with a + anything is.
    for number, shown in [("5125550123", "5******0123"), ("+1712345678", "+1******5678"),
                          ("17123456789", "1******6789")]:
        assert mask_numbers(f"at {number}.") == f"at {shown}.", number


def test_timezone_of_a_number_comes_from_its_area_code_when_it_names_one_zone() -> None:
    assert phones.timezone_of("+15125550123") == "America/Chicago"
    assert phones.timezone_of("+12125550123") == "America/New_York"
    assert phones.timezone_of("+442079460958") == "Europe/London"
    # Alaska's 907 spans two zones, and a Moscow mobile range names none: the line's zone is used.
    assert phones.timezone_of("+19075550123") is None
    assert phones.timezone_of("+79161234567") is None
    assert phones.timezone_of("anonymous") is None
