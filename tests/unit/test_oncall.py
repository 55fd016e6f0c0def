"""Who is on call: one person, a weekly rotation with its handover, and the backup (§2.5)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from workflows.lines import OnCall, Person
from workflows.oncall import on_duty

TZ = "America/Chicago"
CHI = ZoneInfo(TZ)
A, B, C = Person("U0AAAAAAAA", "+15125550101"), Person("U0BBBBBBBB"), Person("U0CCCCCCCC")
# Handover Monday 08:00; the week of Mon 2026-11-09 is A's.
ROTATION = OnCall(people=(A, B, C), handover_day=0, handover_minute=8 * 60, starts=date(2026, 11, 11))


def who(oncall: OnCall, when: datetime) -> tuple[str, str | None]:
    duty = on_duty(oncall, TZ, when)
    assert duty is not None
    return duty.primary.user, duty.backup.user if duty.backup else None


def test_nobody_configured_means_nobody() -> None:
    assert on_duty(None, TZ, datetime(2026, 11, 10, tzinfo=CHI)) is None


def test_one_person_is_always_on_call_without_a_backup() -> None:
    solo = OnCall(people=(A,))
    assert who(solo, datetime(2030, 1, 1, 3, 0, tzinfo=CHI)) == (A.user, None)


def test_explicit_backup_is_paged_second() -> None:
    solo = OnCall(people=(A,), backup=C)
    assert who(solo, datetime(2026, 11, 10, tzinfo=CHI)) == (A.user, C.user)


def test_rotation_hands_over_at_the_handover_minute() -> None:
    assert who(ROTATION, datetime(2026, 11, 10, 12, 0, tzinfo=CHI)) == (A.user, B.user)
    assert who(ROTATION, datetime(2026, 11, 16, 7, 59, tzinfo=CHI)) == (A.user, B.user)
    assert who(ROTATION, datetime(2026, 11, 16, 8, 0, tzinfo=CHI)) == (B.user, C.user)
    assert who(ROTATION, datetime(2026, 11, 23, 8, 0, tzinfo=CHI)) == (C.user, A.user), "the backup wraps around"
    assert who(ROTATION, datetime(2026, 11, 30, 9, 0, tzinfo=CHI)) == (A.user, B.user), "and so does the rotation"


def test_starts_may_be_any_day_of_the_first_week() -> None:
    # starts is a Wednesday; the rotation still began at that week's Monday 08:00.
    assert who(ROTATION, datetime(2026, 11, 9, 8, 0, tzinfo=CHI)) == (A.user, B.user)


def test_before_the_rotation_starts_the_first_person_is_on_call() -> None:
    assert who(ROTATION, datetime(2026, 10, 1, tzinfo=CHI)) == (A.user, B.user)


def test_handover_stays_at_local_time_across_dst() -> None:
    # DST ends Sunday 2026-11-01 in Chicago; a rotation that started before it hands over
    # at 08:00 local after it, not at 07:00.
    rotation = OnCall(people=(A, B), handover_day=0, handover_minute=8 * 60, starts=date(2026, 10, 26))
    assert who(rotation, datetime(2026, 11, 2, 7, 59, tzinfo=CHI))[0] == A.user
    assert who(rotation, datetime(2026, 11, 2, 8, 0, tzinfo=CHI))[0] == B.user


def test_a_handover_late_in_the_week() -> None:
    rotation = OnCall(people=(A, B), handover_day=4, handover_minute=17 * 60, starts=date(2026, 11, 13))
    assert who(rotation, datetime(2026, 11, 13, 16, 59, tzinfo=CHI))[0] == A.user  # before the first handover
    assert who(rotation, datetime(2026, 11, 13, 17, 0, tzinfo=CHI))[0] == A.user
    assert who(rotation, datetime(2026, 11, 16, 9, 0, tzinfo=CHI))[0] == A.user
    assert who(rotation, datetime(2026, 11, 20, 17, 0, tzinfo=CHI))[0] == B.user


def test_the_same_person_twice_is_not_their_own_backup() -> None:
    assert who(OnCall(people=(A,), backup=A), datetime(2026, 11, 10, tzinfo=CHI)) == (A.user, None)
