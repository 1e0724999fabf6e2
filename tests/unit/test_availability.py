from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.mappings.schemas import Rep
from app.routing.availability import (
    DAYS,
    Counts,
    Why,
    availability,
    next_available,
    periods,
)

PROPERTY = settings(max_examples=60, deadline=None)
# Zones with a DST change at 02:00 or 03:00 local, half-hour changes, a southern summer, and
# none at all.
ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "UTC",
]


def rep(**fields: Any) -> Rep:
    return Rep.model_validate({"email": "rep@paieco.example", "name": "Rep", **fields})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def whys(r: Rep, now: datetime, **kwargs: Any) -> list[Why]:
    return [reason.why for reason in availability(r, now, **kwargs).reasons]


CLAIRE = rep(
    capacity={"per_day": 25, "per_week": 100},
    working_hours={
        "timezone": "Europe/Paris",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "08:30",
        "end": "18:00",
    },
)
HUGO = rep(
    working_hours={
        "timezone": "Europe/Paris",
        "days": list(DAYS),
        "start": "00:00",
        "end": "23:59",
    },
    out_of_office=[{"start": "2026-12-21", "end": "2027-01-01", "reason": "Christmas"}],
)


def test_given_no_calendar_then_the_rep_is_available_at_any_time() -> None:
    assert availability(rep(), at("2026-03-29T01:30:00+00:00")).available
    assert next_available(rep(), at("2026-03-29T01:30:00+00:00")) == at("2026-03-29T01:30Z")


def test_given_a_paused_or_inactive_rep_then_only_a_person_makes_it_available() -> None:
    now = at("2026-03-25T10:00:00+00:00")
    assert whys(CLAIRE, now, paused=True) == [Why.PAUSED]
    assert whys(rep(active=False), now) == [Why.INACTIVE]
    assert next_available(CLAIRE, now, paused=True) is None
    assert next_available(rep(active=False), now) is None


def test_given_a_naive_now_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        availability(CLAIRE, datetime(2026, 3, 25, 10))


@pytest.mark.parametrize(
    ("now", "away"),
    [
        ("2026-12-20T22:59:59+00:00", False),  # 23:59:59 in Paris, the day before
        ("2026-12-20T23:00:00+00:00", True),  # midnight in Paris: the first day, included
        ("2027-01-01T22:59:59+00:00", True),  # the last day, included
        ("2027-01-01T23:00:00+00:00", False),  # the day after
    ],
)
def test_given_an_absence_then_both_its_dates_are_included_in_the_reps_zone(
    now: str, away: bool
) -> None:
    assert (Why.OUT_OF_OFFICE in whys(HUGO, at(now))) is away


def test_given_an_absence_then_it_ends_at_midnight_after_its_last_day() -> None:
    reason = availability(HUGO, at("2026-12-25T10:00:00+00:00")).reasons[0]
    assert reason.until == at("2027-01-01T23:00:00+00:00")
    assert reason.absence is not None and reason.absence.reason == "Christmas"
    assert next_available(HUGO, at("2026-12-25T10:00:00+00:00")) == at("2027-01-01T23:00Z")


def test_given_friday_evening_before_the_spring_change_then_monday_starts_in_summer_time() -> None:
    now = at("2026-03-27T17:00:00+00:00")  # Friday 18:00 in Paris, CET
    (reason,) = availability(CLAIRE, now).reasons
    assert reason.why is Why.OUTSIDE_HOURS
    assert reason.until == at("2026-03-30T06:30:00+00:00")  # Monday 08:30 CEST
    assert next_available(CLAIRE, now) == reason.until


def test_given_a_start_skipped_by_the_spring_change_then_the_day_starts_at_the_change() -> None:
    night = rep(working_hours={"timezone": "Europe/Paris", "start": "02:30", "end": "05:00"})
    assert Why.OUTSIDE_HOURS in whys(night, at("2026-03-30T00:29:59+00:00"))
    sunday = rep(
        working_hours={
            "timezone": "Europe/Paris",
            "days": ["sun"],
            "start": "02:30",
            "end": "05:00",
        }
    )
    # 01:59:59 CET; one second later it is 03:00 CEST, past 02:30
    assert next_available(sunday, at("2026-03-29T00:59:59+00:00")) == at("2026-03-29T01:00Z")
    assert availability(sunday, at("2026-03-29T01:00:00+00:00")).available


def test_given_an_hour_repeated_by_the_autumn_change_then_both_passes_are_working_time() -> None:
    night = rep(
        working_hours={
            "timezone": "Europe/Paris",
            "days": ["sun"],
            "start": "02:30",
            "end": "03:00",
        }
    )
    assert availability(night, at("2026-10-25T00:45:00+00:00")).available  # 02:45 CEST
    assert not availability(night, at("2026-10-25T01:15:00+00:00")).available  # 02:15 CET
    assert next_available(night, at("2026-10-25T01:15:00+00:00")) == at("2026-10-25T01:30Z")


def test_given_caps_then_the_rep_is_capped_until_the_next_day_or_week() -> None:
    now = at("2026-03-25T10:00:00+00:00")  # Wednesday
    assert whys(CLAIRE, now, counts=Counts(24, 99)) == []
    (day,) = availability(CLAIRE, now, counts=Counts(25, 30)).reasons
    assert (day.why, day.count, day.limit) == (Why.CAPPED_DAY, 25, 25)
    assert day.until == at("2026-03-25T23:00:00+00:00")
    assert next_available(CLAIRE, now, counts=Counts(25, 30)) == at("2026-03-26T07:30Z")
    assert whys(CLAIRE, now, counts=Counts(3, 100)) == [Why.CAPPED_WEEK]
    # The week ends on Sunday night; Monday is in summer time
    assert next_available(CLAIRE, now, counts=Counts(3, 100)) == at("2026-03-30T06:30Z")


def test_given_a_cap_of_zero_then_no_instant_makes_the_rep_available() -> None:
    assert next_available(rep(capacity={"per_day": 0}), at("2026-03-25T10:00Z")) is None


def test_given_the_spring_change_then_the_day_is_23_hours_and_the_week_167() -> None:
    bounds = periods(CLAIRE, at("2026-03-29T12:00:00+00:00"))
    assert bounds.day_start == at("2026-03-28T23:00:00+00:00")
    assert bounds.day_end - bounds.day_start == timedelta(hours=23)
    assert bounds.week_start == at("2026-03-22T23:00:00+00:00")  # Monday midnight, CET
    assert bounds.week_end - bounds.week_start == timedelta(hours=167)


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
quarters = st.integers(0, 95).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}")


@st.composite
def reps(draw: st.DrawFn) -> Rep:
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        start, end = sorted(draw(st.lists(quarters, min_size=2, max_size=2, unique=True)))
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, unique=True))
        zone = draw(st.sampled_from(ZONES))
        fields["working_hours"] = {"timezone": zone, "days": days, "start": start, "end": end}
    if draw(st.booleans()):
        first = draw(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
        fields["out_of_office"] = [
            {"start": first.isoformat(), "end": (first + timedelta(draw(st.integers(0, 20))))}
        ]
    fields["capacity"] = {
        "per_day": draw(st.none() | st.integers(1, 5)),
        "per_week": draw(st.none() | st.integers(1, 20)),
    }
    return rep(**fields)


@PROPERTY
@given(st.sampled_from(ZONES), instants)
def test_property_the_day_and_week_are_the_reps_local_day_and_iso_week(
    zone: str, now: datetime
) -> None:
    r = rep(working_hours={"timezone": zone})
    bounds = periods(r, now)
    local = now.astimezone(ZoneInfo(zone))
    assert bounds.day_start <= now < bounds.day_end
    assert bounds.week_start <= bounds.day_start < bounds.day_end <= bounds.week_end
    assert bounds.day_start.astimezone(ZoneInfo(zone)).date() == local.date()
    assert (bounds.day_end - timedelta(seconds=1)).astimezone(ZoneInfo(zone)).date() == (
        local.date()
    )
    week_first = bounds.week_start.astimezone(ZoneInfo(zone)).date()
    assert week_first.isocalendar()[:2] == local.isocalendar()[:2]
    assert week_first.weekday() == 0


@PROPERTY
@given(reps(), instants, st.integers(0, 6), st.integers(0, 25), st.floats(0, 1))
def test_property_next_available_is_the_first_available_instant(
    r: Rep, now: datetime, today: int, this_week: int, fraction: float
) -> None:
    counts = Counts(today, max(today, this_week))
    bounds = periods(r, now)

    def counted(t: datetime) -> Counts:
        return Counts(
            counts.today if t < bounds.day_end else 0,
            counts.this_week if t < bounds.week_end else 0,
        )

    first = next_available(r, now, counts=counts)
    assert first is not None  # caps >= 1 and a working day: the calendar frees it some day
    assert first >= now
    assert availability(r, first, counts=counted(first)).available
    if first > now:
        between = now + (first - now) * fraction
        between = min(between, first - timedelta(microseconds=1))
        assert not availability(r, between, counts=counted(between)).available
