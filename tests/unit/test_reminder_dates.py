"""When a reminder fires next: the customer's local date and time as a UTC instant, DST included."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from server.push.reminders import ReminderIn, next_fire_at


def ms(text: str) -> int:
    """An ISO instant with its offset, as UTC milliseconds."""
    return int(dt.datetime.fromisoformat(text).timestamp()) * 1000


def test_yearly_in_utc_this_year_then_next() -> None:
    assert next_fire_at(5, 17, None, "09:00", "UTC", ms("2026-03-01T00:00:00+00:00")) == ms("2026-05-17T09:00:00+00:00")
    # Strictly after: at the very instant it fires, the next one is a year on.
    fired = ms("2026-05-17T09:00:00+00:00")
    assert next_fire_at(5, 17, None, "09:00", "UTC", fired) == ms("2027-05-17T09:00:00+00:00")
    assert next_fire_at(5, 17, None, "09:00", "UTC", fired - 1) == fired
    # Late in the year, the date already gone: rolls over to next year.
    assert next_fire_at(1, 2, None, "09:00", "UTC", ms("2026-12-31T23:00:00+00:00")) == ms(
        "2027-01-02T09:00:00+00:00"
    )


def test_the_same_local_time_moves_in_utc_with_daylight_saving() -> None:
    after = ms("2026-01-01T00:00:00+00:00")
    # Berlin: CET (+01:00) in winter, CEST (+02:00) in summer.
    assert next_fire_at(1, 15, None, "09:00", "Europe/Berlin", after) == ms("2026-01-15T08:00:00+00:00")
    assert next_fire_at(7, 15, None, "09:00", "Europe/Berlin", after) == ms("2026-07-15T07:00:00+00:00")
    # New York: EST (-05:00) and EDT (-04:00); Sydney's summer is the other half of the year.
    assert next_fire_at(1, 15, None, "09:00", "America/New_York", after) == ms("2026-01-15T14:00:00+00:00")
    assert next_fire_at(7, 15, None, "09:00", "America/New_York", after) == ms("2026-07-15T13:00:00+00:00")
    assert next_fire_at(1, 15, None, "09:00", "Australia/Sydney", after) == ms("2026-01-14T22:00:00+00:00")
    assert next_fire_at(7, 15, None, "09:00", "Australia/Sydney", after) == ms("2026-07-14T23:00:00+00:00")


def test_times_skipped_or_repeated_by_a_clock_change() -> None:
    after = ms("2026-01-01T00:00:00+00:00")
    # 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00): it fires at 03:30 CEST.
    assert next_fire_at(3, 29, 2026, "02:30", "Europe/Berlin", after) == ms("2026-03-29T03:30:00+02:00")
    # 2026-10-25 02:30 happens twice (03:00 -> 02:00): it fires the first time, still CEST.
    assert next_fire_at(10, 25, 2026, "02:30", "Europe/Berlin", after) == ms("2026-10-25T02:30:00+02:00")


def test_february_29_fires_on_the_28th_in_other_years() -> None:
    assert next_fire_at(2, 29, None, "09:00", "UTC", ms("2026-01-01T00:00:00+00:00")) == ms(
        "2026-02-28T09:00:00+00:00"
    )
    assert next_fire_at(2, 29, None, "09:00", "UTC", ms("2027-03-01T00:00:00+00:00")) == ms(
        "2028-02-29T09:00:00+00:00"
    )
    # 2100 is not a leap year (divisible by 100, not by 400).
    assert next_fire_at(2, 29, None, "09:00", "UTC", ms("2100-01-01T00:00:00+00:00")) == ms(
        "2100-02-28T09:00:00+00:00"
    )


def test_new_year_in_zones_far_from_utc() -> None:
    # Kiritimati (+14:00): New Year's midnight there is 10:00 UTC on December 31.
    before = ms("2026-12-31T09:59:59+00:00")
    assert next_fire_at(1, 1, None, "00:00", "Pacific/Kiritimati", before) == ms("2026-12-31T10:00:00+00:00")
    # Pago Pago (-11:00): December 31, 20:00 there is 07:00 UTC on January 1.
    already_new_year_in_utc = ms("2027-01-01T06:00:00+00:00")
    assert next_fire_at(12, 31, None, "20:00", "Pacific/Pago_Pago", already_new_year_in_utc) == ms(
        "2027-01-01T07:00:00+00:00"
    )


def test_once_fires_on_its_day_or_never() -> None:
    when = ms("2026-06-01T18:30:00+05:45")  # Kathmandu's quarter-hour offset
    assert next_fire_at(6, 1, 2026, "18:30", "Asia/Kathmandu", when - 1) == when
    assert next_fire_at(6, 1, 2026, "18:30", "Asia/Kathmandu", when) is None
    assert next_fire_at(6, 1, 2025, "18:30", "Asia/Kathmandu", when) is None


def test_local_time_with_seconds() -> None:
    after = ms("2026-01-01T00:00:00+00:00")
    assert next_fire_at(3, 3, None, "23:59:30", "Asia/Kathmandu", after) == ms("2026-03-03T23:59:30+05:45")
    assert next_fire_at(3, 3, None, "07:05:09", "UTC", after) == ms("2026-03-03T07:05:09+00:00")


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        next_fire_at(1, 1, None, "09:00", "Mars/Olympus", 0)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    after=st.integers(ms("2000-01-01T00:00:00+00:00"), ms("2150-01-01T00:00:00+00:00")),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_yearly_is_the_next_local_occurrence(zone: str, after: int, month: int, day: int, hour: int,
                                             minute: int) -> None:
    try:
        dt.date(2000, month, day)
    except ValueError:
        return
    fired = next_fire_at(month, day, None, f"{hour:02d}:{minute:02d}", zone, after)
    assert fired is not None and fired > after
    local = dt.datetime.fromtimestamp(fired / 1000, zoneinfo.ZoneInfo(zone))
    expected_day = 28 if (month, day) == (2, 29) and local.month == 2 and local.day == 28 else day
    assert (local.month, local.day) == (month, expected_day)
    # The wall clock shows the asked time, unless a clock change skipped it that day.
    if (local.hour, local.minute) != (hour, minute):
        naive = dt.datetime(local.year, month, expected_day, hour, minute)
        roundtrip = naive.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC).astimezone(
            zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
        assert roundtrip != naive, f"{naive} exists in {zone} but fired at {local}"
    # Nothing earlier qualifies: the occurrence a year before is not after `after`.
    previous = next_fire_at(month, day, None, f"{hour:02d}:{minute:02d}", zone, fired - 1)
    assert previous == fired


def decode(**fields: object) -> ReminderIn:
    body = {"name": "Birthday", "month": 5, "day": 17, "title": "Happy birthday", "body": "From us", **fields}
    return msgspec.json.decode(msgspec.json.encode(body), type=ReminderIn)


def test_the_model_checks_dates_and_times() -> None:
    assert decode(month=2, day=29).local_time == "09:00"  # yearly Feb 29 is fine
    assert decode(repeat="once", year=2028, month=2, day=29, local_time="07:30:15").year == 2028
    cases: list[tuple[dict[str, object], str]] = [
        ({"month": 2, "day": 30}, "February 30 is not a date"),
        ({"month": 4, "day": 31}, "April 31 is not a date"),
        ({"repeat": "once", "year": 2027, "month": 2, "day": 29}, "February 29, 2027 is not a date"),
        ({"repeat": "once"}, "needs a `year`"),
        ({"year": 2027}, "`year` is only for repeat `once`"),
        ({"month": 13}, r"<= 12 - at `\$\.month`"),
        ({"day": 0}, r">= 1 - at `\$\.day`"),
        ({"local_time": "24:00"}, r"matching regex .* at `\$\.local_time`"),
        ({"local_time": "9:00"}, r"matching regex .* at `\$\.local_time`"),
        ({"local_time": "09:00:60"}, r"matching regex .* at `\$\.local_time`"),
        ({"repeat": "monthly"}, "Invalid enum value 'monthly'"),
    ]
    for fields, message in cases:
        with pytest.raises(msgspec.ValidationError, match=message):
            decode(**fields)
