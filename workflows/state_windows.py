"""US states whose laws allow automatic texts in a narrower window than 8 AM-9 PM.

Federal rules (47 CFR 64.1200(c)(1)) keep telephone solicitations between 8 AM and 9 PM at the
called party's location; textback's default quiet hours (21:00-08:00) already keep to that. A
few states are stricter, and several of their laws count text messages as calls and presume a
number with one of the state's area codes belongs to someone there (Florida's and Oklahoma's
do). So an automatic follow-up (a qualification question) waits for the stricter of the line's
`quiet_hours` and the caller's state window, read in the caller's local time. The text-back
and safety texts answer the caller's own call or text and are never held.

The state is read from the area code alone: a ported or travelling number is judged by its area
code, as those presumptions do. Citations: what could be checked here is cited; where a
section number could not be verified here, the comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AREA_CODES", "STATE_WINDOWS", "StateWindow", "state_window"]


@dataclass(frozen=True)
class StateWindow:
    """When automatic texts may reach a number in this state, in minutes after local midnight."""

    state: str  # the state's name, for people ("Florida")
    opens: int
    closes: int
    sunday_opens: int | None = None  # a later start on Sundays

    def opens_on(self, weekday: int) -> int:
        """The opening minute on a weekday (Monday 0 ... Sunday 6)."""
        return self.sunday_opens if weekday == 6 and self.sunday_opens is not None else self.opens

    def describe(self) -> str:
        """ "Texas allows automatic texts 9 AM-9 PM (Sundays from 12 PM)"."""
        said = f"{self.state} allows automatic texts {_clock(self.opens)}-{_clock(self.closes)}"
        if self.sunday_opens is not None:
            said += f" (Sundays from {_clock(self.sunday_opens)})"
        return said


def _clock(minute: int) -> str:
    hour, mins = divmod(minute, 60)
    if minute == 12 * 60:
        return "noon"
    shown = f"{(hour - 1) % 12 + 1}" + (f":{mins:02d}" if mins else "")
    return f"{shown} {'AM' if hour < 12 else 'PM'}"


H = 60  # minutes in an hour

STATE_WINDOWS: dict[str, StateWindow] = {
    # Florida Telemarketing Act, Fla. Stat. § 501.616(6), as amended by 2021 SB 1120 (ch.
    # 2021-185: "revising the timeframe during which a commercial telephone seller or
    # salesperson may make commercial solicitation phone calls"): 8 AM-8 PM. The bill's own
    # text was checked here; the subsection's wording was not.
    "FL": StateWindow("Florida", 8 * H, 20 * H),
    # Oklahoma Telephone Solicitation Act of 2022, Okla. Stat. tit. 15, § 775C.1 et seq.
    # (§ 775C.4 as secondary sources cite it; not verified here): 8 AM-8 PM.
    "OK": StateWindow("Oklahoma", 8 * H, 20 * H),
    # Maryland Stop the Spam Calls Act of 2023 (Md. Code, Com. Law, Title 14, Subtitle 45, as
    # secondary sources name it; the section number could not be verified here): 8 AM-8 PM.
    "MD": StateWindow("Maryland", 8 * H, 20 * H),
    # Connecticut telephonic sales calls, Conn. Gen. Stat. § 42-288a as amended in 2023 (Public
    # Act 23-98) per secondary sources; not verified here: 9 AM-8 PM.
    "CT": StateWindow("Connecticut", 9 * H, 20 * H),
    # Texas telephone solicitation, Tex. Bus. & Com. Code § 301.051 (formerly § 37.02,
    # "Permissible hours", whose 2005 text was seen here; the current section's wording was
    # not verified here): 9 AM-9 PM, and from noon on Sundays.
    "TX": StateWindow("Texas", 9 * H, 21 * H, sunday_opens=12 * H),
}

# NANP area codes in service for those states (overlays included), held to libphonenumber's
# geocoding data by tests/unit/test_state_windows.py.
AREA_CODES: dict[str, str] = {
    **dict.fromkeys(
        ("239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689", "727",
         "728", "754", "772", "786", "813", "850", "863", "904", "941", "954"), "FL"),
    **dict.fromkeys(("405", "539", "572", "580", "918"), "OK"),
    **dict.fromkeys(("227", "240", "301", "410", "443", "667"), "MD"),
    **dict.fromkeys(("203", "475", "860", "959"), "CT"),
    **dict.fromkeys(
        ("210", "214", "254", "281", "325", "346", "361", "409", "430", "432", "469", "512", "682",
         "713", "726", "737", "806", "817", "830", "832", "903", "915", "936", "940", "945", "956",
         "972", "979"), "TX"),
}


def state_window(e164: str) -> StateWindow | None:
    """The stricter window of the state a +1 number's area code belongs to, if it has one."""
    if not e164.startswith("+1") or len(e164) != 12:
        return None
    code = AREA_CODES.get(e164[2:5])
    return STATE_WINDOWS[code] if code is not None else None
