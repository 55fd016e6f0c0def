"""Settings from the environment and the lines file, with every mistake located and explained."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.lines.schema import LineModel
from bot.settings import (
    ConfigError,
    load_config,
    parse_config,
)
from tests.unit.lines_files import MINIMAL, REPO, config_errors
from workflows.lines import (
    DEFAULT_AFTER_HOURS_TEMPLATE,
    DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING,
    DEFAULT_BUSINESS_HOURS_TEMPLATE,
    Shift,
)
from workflows.timezones import parse_timezone

# Every key of a line, in the order the schema declares them.
KNOWN_KEYS = "known keys: " + ", ".join(LineModel.model_fields)


def one_line(**extra: str) -> str:
    """MINIMAL with extra `key: value` lines appended to the line (as YAML text)."""
    return MINIMAL + "".join(f"    {key}: {value}\n" for key, value in extra.items())


# ---- the lines file: good forms ----------------------------------------------------------


def test_example_file_loads() -> None:
    config = load_config(REPO / "textback.example.yml")
    line = config.lines[0]
    assert config.business == "Acme Plumbing"
    assert (line.number, line.channel, line.forward_to) == ("+15125550100", "C0123456789", ("+15125550111",))
    assert line.timezone == "America/Chicago" and line.vertical == "plumbing" and line.oncall is not None and line.oncall.user == "U0123456789"
    assert line.hours is not None and line.hours.days == {d: (Shift(480, 1020),) for d in range(5)}
    assert line.reminders == (300, 900, 3600) and line.cooldown == 4 * 3600
    assert line.templates.after_hours == DEFAULT_AFTER_HOURS_TEMPLATE


def test_minimal_line_gets_the_defaults() -> None:
    line = parse_config(MINIMAL, "textback.yml").lines[0]
    assert line.business == "Acme Plumbing" and line.label == "Acme Plumbing"
    assert line.timezone == "UTC" and line.detection == "dial" and line.hours is None
    assert line.reminders == (300, 900, 3600) and line.cooldown == 14400 and line.ring_timeout == 20
    assert not line.ring_after_hours and line.opt_out_footer
    assert line.templates.business_hours == DEFAULT_BUSINESS_HOURS_TEMPLATE
    # No booking link: the after-hours default must not promise one.
    assert line.templates.after_hours == DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING


def test_forgiving_forms_are_normalised() -> None:
    text = """\
    business: 2024
    admins: U0ADMIN001
    lines:
      - number: +15125550100
        channel: C0123456789
        forward_to: "(512) 555-0111"
        timezone: america/chicago
        hours: {Monday: 9am-5pm, tues: "8.00-12.00, 13.00-17.00", wed: 24h, thu: closed, fri: "9-17"}
        reminders: [90s, 10m, 1h30m]
        cooldown: 2h
        ring_timeout: 30s
        ring_after_hours: yes
        opt_out_footer: false
        name: Acme North
        business: Acme North Plumbing
        vertical: HVAC
      - number: "+15125550200"
        channel: G0123456789
        forward_to: ["512-555-0112", "+1 512 555 0113"]
        hours: {}
    """
    config = parse_config(textwrap.dedent(text), "textback.yml")
    first, second = config.lines
    assert config.business == "2024" and config.admins == ("U0ADMIN001",)
    assert first.number == "+15125550100" and first.forward_to == ("+15125550111",)
    assert first.timezone == "America/Chicago" and first.vertical == "hvac"
    assert first.hours is not None and first.hours.days == {
        0: (Shift(540, 1020),),
        1: (Shift(480, 720), Shift(780, 1020)),
        2: (Shift(0, 1440),),
        3: (),
        4: (Shift(540, 1020),),
    }
    assert (first.reminders, first.cooldown, first.ring_timeout) == ((90, 600, 5400), 7200, 30)
    assert first.ring_after_hours and not first.opt_out_footer
    assert (first.name, first.business, first.label) == ("Acme North", "Acme North Plumbing", "Acme North")
    assert second.forward_to == ("+15125550112", "+15125550113")
    assert second.hours is not None and second.hours.days == {}
    assert second.business == "2024"
    assert config.line_for_channel("G0123456789") is second


def test_custom_templates_and_forwarded_detection() -> None:
    text = """\
    business: Acme
    lines:
      - number: "+15125550100"
        channel: C0123456789
        detection: forwarded
        booking_url: https://acme.example/book
        templates:
          business_hours: "Hi from {business}! {json: like {this}"
          after_hours: "Closed. Open {next_open}; today {hours_today}. {booking_url}"
    """
    errors = config_errors(text)
    assert errors == [
        ("textback.yml:8: lines[0].templates.business_hours: "
        '"{" at character 21 is never closed: write placeholders as {business}; '
        "unknown placeholder {this} (known: {business}, {booking_url}, {hours_today}, {next_open})")
    ]
    good = parse_config(textwrap.dedent(text).replace(" {json: like {this}", ""), "textback.yml").lines[0]
    assert good.detection == "forwarded" and good.forward_to == ()
    assert good.templates.business_hours == "Hi from {business}!"
    assert good.templates.after_hours == "Closed. Open {next_open}; today {hours_today}. {booking_url}"


# ---- the lines file: every bad form, located -------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"timezone": "America/Chicag"},
         'textback.yml:6: lines[0].timezone: unknown timezone "America/Chicag" (did you mean "America/Chicago"?)'),
        ({"timezone": "Mars/Olympus"},
         'textback.yml:6: lines[0].timezone: unknown timezone "Mars/Olympus" (use an IANA name, e.g. "America/Chicago")'),
        ({"hours": '{mon: "25:00-26:00"}'},
         'textback.yml:6: lines[0].hours.mon: hour 25 is not a time of day: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"'),
        ({"hours": '{fri: "17:00-08:00"}'},
         ('textback.yml:6: lines[0].hours.fri: "17:00-08:00" runs past midnight: split a night shift across days, '
         'e.g. fri: "17:00-24:00" and sat: "00:00-08:00"')),
        ({"hours": '{mon: "08:00-12:00,11:00-17:00"}'},
         ('textback.yml:6: lines[0].hours.mon: shifts "08:00-12:00" and "11:00-17:00" overlap: list each time once, '
         'e.g. "08:00-12:00,13:00-17:00"')),
        ({"hours": '{funday: "08:00-17:00"}'},
         'textback.yml:6: lines[0].hours.funday: "funday" is not a weekday: use mon, tue, wed, thu, fri, sat or sun'),
        ({"hours": '{mon: "08:00-17:00", monday: "09:00-17:00"}'},
         'textback.yml:6: lines[0].hours.monday: "monday" repeats "mon": give each day once'),
        ({"hours": ""},
         'textback.yml:6: lines[0].hours: is empty: leave "hours" out for open 24/7, or write hours: {} for always closed'),
        ({"hours": '"08:00-17:00"'}, 'textback.yml:6: lines[0].hours: expected keys and values, got "08:00-17:00"'),
        ({"timezon": "UTC"}, f'textback.yml:6: lines[0].timezon: unknown key (did you mean "timezone"? {KNOWN_KEYS})'),
        ({"colour": "red"}, f"textback.yml:6: lines[0].colour: unknown key ({KNOWN_KEYS})"),
        ({"templates": '{after_hour: "Closed"}'},
         ('textback.yml:6: lines[0].templates.after_hour: unknown key (did you mean "after_hours"? '
         "known keys: business_hours, after_hours, business_hours_es, after_hours_es)")),
        ({"templates": '{business_hours: "Hi {bussiness}"}'},
         ("textback.yml:6: lines[0].templates.business_hours: unknown placeholder {bussiness} (did you mean "
         "{business}? known: {business}, {booking_url}, {hours_today}, {next_open})")),
        ({"templates": '{after_hours: "Book: {booking_url}"}'},
         "textback.yml:6: lines[0].templates.after_hours: uses {booking_url} but the line has no booking_url: add one"),
        ({"detection": "dail"},
         'textback.yml:6: lines[0].detection: unknown detection "dail" (did you mean "dial"? use one of: dial, forwarded)'),
        ({"vertical": "plumber"},
         ('textback.yml:6: lines[0].vertical: unknown vertical "plumber" (did you mean "plumbing"? use one of: plumbing, '
         "hvac, electrical, roofing, pest_control, dental, medical_spa, legal, restaurant, general)")),
        ({"booking_url": "acme.example/book"},
         ('textback.yml:6: lines[0].booking_url: "acme.example/book" is not a web address '
         '(use a full URL, e.g. "https://acme.example/book")')),
        ({"oncall": "bob"},
         ('textback.yml:6: lines[0].oncall: "bob" is not a Slack user id '
         "(use the id, e.g. U0123456789: profile → ⋮ → Copy member ID)")),
        ({"oncall": "{people: [U0AAAAAAAA, U0BBBBBBBB]}"},
         ("textback.yml:6: lines[0].oncall: a rotation needs starts: a day in the week the first person is on call, "
          "e.g. starts: 2026-11-23")),
        ({"oncall": "{people: [U0AAAAAAAA], handover: monday}"},
         'textback.yml:6: lines[0].oncall.handover: "monday" is not a handover time: write a weekday and a time, e.g. "mon 08:00"'),
        ({"oncall": "{people: [U0AAAAAAAA], escalate_after: 5}"},
         'textback.yml:6: lines[0].oncall.escalate_after: 5 has no unit: write "5m" for minutes or "5s" for seconds'),
        ({"oncall": "{people: [U0AAAAAAAA], escalate_after: 10s}"},
         "textback.yml:6: lines[0].oncall.escalate_after: 10s is out of range: use 30s-4h (default 5m)"),
        ({"oncall": "{people: [{user: U0AAAAAAAA, phone: call-me}]}"},
         'textback.yml:6: lines[0].oncall.people[0].phone: "call-me" is not a valid phone number (use E.164, e.g. "+15125550111")'),
        ({"oncall": "{people: [U0AAAAAAAA], handovr: mon 08:00}"},
         ('textback.yml:6: lines[0].oncall.handovr: unknown key (did you mean "handover"? '
          "known keys: people, handover, starts, backup, call, escalate_after)")),
        ({"urgent": "{safety_texts: {lava: Run}}"},
         ('textback.yml:6: lines[0].urgent.safety_texts: "lava" is not a hazard: use one of gas, carbon_monoxide, '
          "fire, smoke, sparks, burning_smell")),
        ({"reminders": "[15m, 5m]"},
         "textback.yml:6: lines[0].reminders: must go up, e.g. [5m, 15m, 60m]: 5m comes after 15m"),
        ({"reminders": "[5m, soon]"},
         ('textback.yml:6: lines[0].reminders[1]: "soon" is not a duration: use a number with s, m or h, '
         'e.g. "90s", "5m", "1h30m"')),
        ({"cooldown": "4 days"},
         ('textback.yml:6: lines[0].cooldown: "4 days" is not a duration: use a number with s, m or h, '
         'e.g. "90s", "5m", "1h30m"')),
        ({"ring_timeout": "90"},
         ("textback.yml:6: lines[0].ring_timeout: 90s is out of range: use 5-60 seconds (default 20); "
         "longer lets a staff phone's voicemail answer the call")),
        ({"ring_after_hours": "maybe"},
         'textback.yml:6: lines[0].ring_after_hours: expected true or false, got "maybe"'),
        ({"name": "[a, b]"}, "textback.yml:6: lines[0].name: expected text, got a list"),
        ({"business": '""'}, "textback.yml:6: lines[0].business: is empty: write a name, e.g. Acme Plumbing"),
    ],
)
def test_bad_line_values_name_file_line_and_field(extra: dict[str, str], message: str) -> None:
    assert config_errors(one_line(**extra)) == [message]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ('"+1512555"', '"+1512555" is not a valid phone number (use E.164, e.g. "+15125550100")'),
        ('"(512) 555-0100"', '"(512) 555-0100" is not in E.164 form (write "+15125550100")'),
        ("call-me", '"call-me" is not a valid phone number (use E.164, e.g. "+15125550100")'),
    ],
)
def test_line_number_must_be_e164(number: str, message: str) -> None:
    text = MINIMAL.replace('"+15125550100"', number)
    assert config_errors(text) == [f"textback.yml:3: lines[0].number: {message}"]


def test_bad_forward_to_phone_is_located_by_index() -> None:
    text = MINIMAL.replace('["+15125550111"]', '["+15125550111", "555-01"]')
    assert config_errors(text) == [
        'textback.yml:5: lines[0].forward_to[1]: "555-01" is not a valid phone number (use E.164, e.g. "+15125550111")'
    ]


def test_bad_channel() -> None:
    text = MINIMAL.replace("C0123456789", '"#general"')
    assert config_errors(text) == [
        ('textback.yml:4: lines[0].channel: "#general" is not a Slack channel id '
        "(use the id, e.g. C0123456789: channel details → About tab)")
    ]
    # Unquoted, YAML reads "#general" as a comment: the channel is then empty.
    assert config_errors(MINIMAL.replace("C0123456789", "#general")) == [
        "textback.yml:4: lines[0].channel: expected text, got nothing"
    ]


def test_dial_without_forward_to_suggests_forwarded() -> None:
    text = MINIMAL.replace('    forward_to: ["+15125550111"]\n', "    detection: dial\n")
    assert config_errors(text) == [
        ('textback.yml:5: lines[0].detection: detection is "dial" but there is no forward_to phone to ring: '
        'add forward_to: ["+15125550111"], or set detection: forwarded if the carrier forwards missed calls to this number')
    ]
    implicit = MINIMAL.replace('    forward_to: ["+15125550111"]\n', "")
    assert config_errors(implicit) == [
        ('textback.yml:3: lines[0].forward_to: detection defaults to "dial" but there is no forward_to phone to ring: '
        'add forward_to: ["+15125550111"], or set detection: forwarded if the carrier forwards missed calls to this number')
    ]


def test_forward_to_cannot_be_the_line_itself() -> None:
    text = MINIMAL.replace('["+15125550111"]', '["+15125550100"]')
    assert config_errors(text) == [
        'textback.yml:5: lines[0].forward_to: "+15125550100" is the line\'s own number: ringing it would loop'
    ]


def test_duplicate_number_and_channel_across_lines() -> None:
    text = MINIMAL + '  - number: "+15125550100"\n    channel: C0123456789\n    detection: forwarded\n'
    assert config_errors(text) == [
        'textback.yml:6: lines[1].number: "+15125550100" is already used by lines[0]: each line needs its own',
        'textback.yml:7: lines[1].channel: "C0123456789" is already used by lines[0]: each line needs its own',
    ]


def test_every_error_is_reported_in_file_order() -> None:
    text = """\
    business: Acme
    lines:
      - number: "+1512555"
        channel: C0123456789
        forward_to: ["+15125550111"]
        timezone: America/Chicag
        hours:
          mon: "25:00-26:00"
      - number: "+15125550200"
        channel: C0123456780
        detection: forwarded
        colour: red
    """
    assert config_errors(text) == [
        'textback.yml:3: lines[0].number: "+1512555" is not a valid phone number (use E.164, e.g. "+15125550100")',
        'textback.yml:6: lines[0].timezone: unknown timezone "America/Chicag" (did you mean "America/Chicago"?)',
        'textback.yml:8: lines[0].hours.mon: hour 25 is not a time of day: use 24-hour HH:MM-HH:MM, e.g. "08:00-17:00"',
        f"textback.yml:12: lines[1].colour: unknown key ({KNOWN_KEYS})",
    ]


def test_top_level_problems() -> None:
    assert config_errors("lines: []\nadmin: [U0123456789]\n") == [
        "textback.yml:1: business: missing: add the business name used in texts, e.g. business: Acme Plumbing",
        "textback.yml:1: lines: needs at least one entry",
        'textback.yml:2: admin: unknown key (did you mean "admins"? known keys: business, lines, admins, opt_out_scope, retention, average_job_value)',
    ]
    assert config_errors("business: Acme\nlines:\n  - channel: C0123456789\n    detection: forwarded\n") == [
        'textback.yml:3: lines[0].number: missing: add the Twilio number in E.164, e.g. number: "+15125550100"'
    ]
    assert config_errors("business: Acme\nlines:\n  - just text\n") == [
        'textback.yml:3: lines[0]: expected the keys of one line, e.g. - number: "+15125550100"'
    ]
    assert config_errors("- a list\n") == ["textback.yml:1: expected keys like business: and lines: at the top of the file"]
    assert config_errors("") == ["textback.yml:1: the file is empty: it needs business: and lines: (see textback.example.yml)"]


def test_duplicate_keys_are_errors() -> None:
    assert config_errors(one_line(timezone="UTC") + "    timezone: America/Chicago\n") == [
        'textback.yml:7: lines[0].timezone: "timezone" appears twice: keep one'
    ]


def test_yaml_syntax_errors_carry_the_line() -> None:
    text = MINIMAL + "    timezone: [America/Chicago\n    vertical: plumbing\n"
    [error] = config_errors(text)
    assert error.startswith("textback.yml:7: invalid YAML: expected ',' or ']', but got ':'")
    [tabs] = config_errors(MINIMAL + "\ttimezone: UTC\n")
    assert tabs.startswith("textback.yml:6: invalid YAML: found character '\\t' that cannot start any token")
    assert tabs.endswith(": indent with spaces, not tabs")


def test_missing_file_says_how_to_point_at_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: lines file not found (looked for {path}): create it from textback.example.yml, "
        "or set TEXTBACK_CONFIG to the lines file's path"
    )


def test_durations_without_a_unit_are_refused_in_the_lines_file() -> None:
    errors = config_errors(one_line(cooldown="30"))
    assert len(errors) == 1 and 'cooldown: 30 has no unit: write "30m" for minutes or "30s" for seconds' in errors[0]
    errors = config_errors(one_line(reminders="[5, 15m]"))
    assert len(errors) == 1 and "reminders[0]: 5 has no unit" in errors[0]


@pytest.mark.parametrize("written", ["central", "Chicago", "CST", "america/chicago", "America/Chicago"])
def test_the_lines_file_reads_timezones_as_slack_does(written: str) -> None:
    """One parser for both: what `/textback hours tz` accepts, the lines file accepts too."""
    config = parse_config(one_line(timezone=written), "textback.yml")
    assert config.lines[0].timezone == parse_timezone(written) == "America/Chicago"


def test_average_job_value_per_line_or_for_every_line() -> None:
    top = "business: Acme Plumbing\naverage_job_value: 350\n" + MINIMAL.removeprefix("business: Acme Plumbing\n")
    second = ('  - number: "+15125550200"\n    channel: C0123456780\n    detection: forwarded\n'
              '    average_job_value: "$1,200.50"\n')
    config = parse_config(top + second, "textback.yml")
    assert [ln.average_job_value for ln in config.lines] == [350.0, 1200.5]
    assert config.average_job_value == 350.0
    assert parse_config(MINIMAL, "textback.yml").lines[0].average_job_value is None


@pytest.mark.parametrize(("written", "problem"), [
    ("three hundred", '"three hundred" is not an amount: write a number, e.g. average_job_value: 350'),
    ("0", "0 is out of range: use an amount above 0 and up to 1,000,000"),
    ("-20", "-20 is out of range: use an amount above 0 and up to 1,000,000"),
    ("true", "expected an amount, e.g. average_job_value: 350, got true/false"),
    ("[350]", "expected an amount, e.g. average_job_value: 350, got a list"),
])
def test_a_bad_average_job_value_names_the_file_line_and_field(written: str, problem: str) -> None:
    assert config_errors(one_line(average_job_value=written)) == [
        f"textback.yml:6: lines[0].average_job_value: {problem}"]
    assert config_errors(f"average_job_value: {written}\n" + MINIMAL) == [
        f"textback.yml:1: average_job_value: {problem}"]
