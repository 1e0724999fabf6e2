"""Whether a rep can take a lead at ``now``, and why not, as data. Pure: no database, no clock.

Everything a rep's calendar means is read in the rep's time zone (``working_hours.timezone``;
UTC for a rep without working hours, who is always within hours): the working day and its
hours, the days of an absence (``out_of_office``, both dates included), and the "today" and
"this week" (ISO week, from Monday) that the caps count. What needs the database comes in as
arguments: the admin's toggle (``paused``) and the leads the rep received since the start of
the day and of the week (``Counts``, counted from the bounds ``periods`` gives).

Local times are turned into instants with ``zoneinfo``: a wall time skipped by a DST change
starts at the change itself, a repeated one at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from app.mappings.schemas import Absence, Rep

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # by date.weekday()
# next_available jumps from one reason's end to the next; each jump passes an absence, a
# working period or a cap period, so a year of calendar is far fewer jumps than this.
MAX_JUMPS = 1000


class Why(StrEnum):
    """Why a rep cannot take a lead now, in the order they are reported."""

    PAUSED = "paused"  # the admin's toggle
    INACTIVE = "inactive"  # active: false in team.yaml
    OUT_OF_OFFICE = "out_of_office"
    OUTSIDE_HOURS = "outside_hours"
    CAPPED_DAY = "capped_day"
    CAPPED_WEEK = "capped_week"


@dataclass(frozen=True)
class Reason:
    why: Why
    until: datetime | None = None  # when it ends by itself (UTC); None: only a person ends it
    absence: Absence | None = None  # out_of_office: the absence
    count: int | None = None  # capped_*: the leads received in the period
    limit: int | None = None  # capped_*: the cap

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {"why": self.why.value}
        if self.until is not None:
            data["until"] = self.until.isoformat()
        if self.absence is not None:
            data["absence"] = {
                "start": self.absence.start.isoformat(),
                "end": self.absence.end.isoformat(),
                "reason": self.absence.reason,
            }
        if self.limit is not None:
            data |= {"count": self.count, "limit": self.limit}
        return data


@dataclass(frozen=True)
class Counts:
    """Leads the rep received since the start of its day and of its week (``periods``)."""

    today: int = 0
    this_week: int = 0


@dataclass(frozen=True)
class Availability:
    rep: str
    reasons: tuple[Reason, ...] = ()  # empty: available

    @property
    def available(self) -> bool:
        return not self.reasons

    def snapshot(self) -> dict[str, Any]:
        return {"rep": self.rep, "available": self.available, "reasons": self.snapshots()}

    def snapshots(self) -> list[dict[str, Any]]:
        return [r.snapshot() for r in self.reasons]


@dataclass(frozen=True)
class Periods:
    """The rep's current day and ISO week as UTC bounds, start included, end excluded."""

    zone: str
    day_start: datetime
    day_end: datetime
    week_start: datetime
    week_end: datetime


def zone_of(rep: Rep) -> ZoneInfo:
    return ZoneInfo(rep.working_hours.timezone if rep.working_hours else "UTC")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in ``zone`` reads ``day`` ``at`` or
    later: the wall time itself, or the DST change that skips over it."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier offset
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # Skipped by a DST change: the change lies between the two readings; find it to the second.
    low, high = naive.replace(tzinfo=zone, fold=1).astimezone(UTC), first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


def periods(rep: Rep, now: datetime) -> Periods:
    """The bounds of the rep's current day and week, to count the leads it received since."""
    zone = zone_of(rep)
    today = _aware(now).astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return Periods(
        zone.key,
        local_instant(today, time(0), zone),
        local_instant(today + timedelta(days=1), time(0), zone),
        local_instant(monday, time(0), zone),
        local_instant(monday + timedelta(days=7), time(0), zone),
    )


def availability(
    rep: Rep, now: datetime, *, paused: bool = False, counts: Counts | None = None
) -> Availability:
    """Whether ``rep`` can take a lead at ``now``, with every reason it cannot."""
    reasons: list[Reason] = []
    if paused:
        reasons.append(Reason(Why.PAUSED))
    if not rep.active:
        reasons.append(Reason(Why.INACTIVE))
    reasons += _calendar_reasons(rep, _aware(now), counts or Counts())
    return Availability(rep.email, tuple(reasons))


def next_available(
    rep: Rep, now: datetime, *, paused: bool = False, counts: Counts | None = None
) -> datetime | None:
    """The earliest instant from ``now`` on at which ``rep`` is available, if nobody gives it
    a lead meanwhile: ``now`` itself, the next start of its working hours, the day after an
    absence, the next day or week for a cap. None when only a person can make it available
    (paused, inactive) or nothing on its calendar ever will (a cap of 0, no working day)."""
    if paused or not rep.active:
        return None
    counts = counts or Counts()
    at = _aware(now)
    current = periods(rep, at)
    for _ in range(MAX_JUMPS):
        # The counts given are this day's and this week's; later periods start from none.
        seen = Counts(
            counts.today if at < current.day_end else 0,
            counts.this_week if at < current.week_end else 0,
        )
        reasons = _calendar_reasons(rep, at, seen)
        if not reasons:
            return at
        ends = [r.until for r in reasons]
        if any(end is None for end in ends):
            return None
        # Each reason holds until its end: none of them is over before the latest end.
        at = max(end for end in ends if end is not None)
    return None


def _calendar_reasons(rep: Rep, now: datetime, counts: Counts) -> list[Reason]:
    zone = zone_of(rep)
    local = now.astimezone(zone)
    today = local.date()
    reasons: list[Reason] = []
    for absence in rep.out_of_office:
        if absence.start <= today <= absence.end:
            reasons.append(
                Reason(Why.OUT_OF_OFFICE, _day_after(absence.end, zone), absence=absence)
            )
    hours = rep.working_hours
    if hours is not None and not (
        DAYS[local.weekday()] in hours.days and hours.start <= local.time() < hours.end
    ):
        reasons.append(Reason(Why.OUTSIDE_HOURS, _next_start(rep, now)))
    bounds = periods(rep, now)
    caps = rep.capacity
    if caps.per_day is not None and counts.today >= caps.per_day:
        until = bounds.day_end if caps.per_day > 0 else None
        reasons.append(Reason(Why.CAPPED_DAY, until, count=counts.today, limit=caps.per_day))
    if caps.per_week is not None and counts.this_week >= caps.per_week:
        until = bounds.week_end if caps.per_week > 0 else None
        limit = caps.per_week
        reasons.append(Reason(Why.CAPPED_WEEK, until, count=counts.this_week, limit=limit))
    return reasons


def _day_after(last: date, zone: ZoneInfo) -> datetime | None:
    """The end of an absence: the local midnight after its last day (None for an absence to
    the end of the calendar, 9999-12-31: "gone for good")."""
    try:
        return local_instant(last + timedelta(days=1), time(0), zone)
    except OverflowError:
        return None


def _next_start(rep: Rep, now: datetime) -> datetime | None:
    """The next start of the rep's working hours after ``now`` (None: no working day)."""
    hours = rep.working_hours
    assert hours is not None
    zone = zone_of(rep)
    today = now.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if DAYS[day.weekday()] in hours.days:
            later = [s for s in _occurrences(day, hours.start, zone) if s > now]
            if later:
                return later[0]
    return None


def _occurrences(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """The instants at which the wall clock reads ``day`` ``at``: two when a DST change
    repeats that hour (the working day starts again on the second pass)."""
    first = local_instant(day, at, zone)
    second = datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)
    repeated = second != first and second.astimezone(zone).replace(tzinfo=None) == (
        datetime.combine(day, at)
    )
    return [first, second] if repeated else [first]


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"now must carry a time zone, found {now.isoformat()}")
    return now.astimezone(UTC)
