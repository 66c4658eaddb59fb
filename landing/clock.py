"""Times as the practice reads them: stored ISO 8601 UTC text shown in the practice's time zone, and the
minutes of an office's opening hours that passed between two moments (how long a lead really waited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from landing.site import DAYS, Hours

UTC = dt.timezone.utc
MAX_DAYS_COUNTED = 62  # open minutes are counted over at most this many days: past them a lead is long overdue


def parse_utc(stamp: str) -> dt.datetime:
    """A stored timestamp (ISO 8601, UTC) as an aware datetime; one without an offset is taken as UTC."""
    moment = dt.datetime.fromisoformat(stamp)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def local(stamp: str, zone: ZoneInfo) -> dt.datetime:
    return parse_utc(stamp).astimezone(zone)


def local_text(stamp: str, zone: ZoneInfo, seconds: bool = False, label: bool = False) -> str:
    """'2026-11-27 08:15' (or with seconds; with ``label``, the zone's abbreviation then: CST, CDT) in ``zone``;
    empty for an empty stamp."""
    if not stamp:
        return ""
    try:
        moment = local(stamp, zone)
    except ValueError:
        return stamp
    return moment.strftime(("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + (" %Z" if label else ""))


def local_day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Midnight starting ``day`` in ``zone``, in UTC: where "since DAY" begins for the practice."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC)


def duration_text(seconds: float) -> str:
    """12 min, 3 h 05 min, 2 d 4 h: how long someone waited, to the minute."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def open_seconds(hours: Sequence[Hours], zone: ZoneInfo, start: dt.datetime, end: dt.datetime,
                 enough: float | None = None) -> float:
    """Seconds between ``start`` and ``end`` that fall in the opening ``hours`` (local times in ``zone``).

    An office without hours is taken as always open: every second counts. Counted over at most
    MAX_DAYS_COUNTED days after ``start``, and, with ``enough``, only until that many are found.
    """
    if end <= start:
        return 0.0
    if not hours:
        return (end - start).total_seconds()
    end = min(end, start + dt.timedelta(days=MAX_DAYS_COUNTED))
    total = 0.0
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        name = DAYS[day.weekday()]
        for line in hours:
            if name not in line.days:
                continue
            opens = dt.datetime.combine(day, dt.time.fromisoformat(line.opens), tzinfo=zone)
            closes = dt.datetime.combine(day, dt.time.fromisoformat(line.closes), tzinfo=zone)
            low, high = max(opens, start), min(closes, end)
            if high > low:
                total += (high - low).total_seconds()
        if enough is not None and total >= enough:
            break
        day += dt.timedelta(days=1)
    return total


class LocalStamps:
    """Stored UTC stamps -> 'YYYY-MM-DD HH:MM:SS' in ``zone``, fast enough for every row of a large export.

    Offsets change only on the hour in every zone whose offset is whole hours (all of the US), so one
    conversion per UTC hour serves every stamp in it; other zones convert each stamp.
    """

    def __init__(self, zone: ZoneInfo | dt.tzinfo) -> None:
        self.zone = zone
        self.hours: dict[str, str | None] = {}

    def __call__(self, stamp: str) -> str:
        if len(stamp) < 19 or stamp[10] != "T":
            return self.slow(stamp)
        hour = stamp[:13]
        local_hour = self.hours.get(hour, "")
        if local_hour == "":
            local_hour = self.hours[hour] = self.hour(hour)
        if local_hour is None:
            return self.slow(stamp)
        return local_hour + stamp[13:19]

    def hour(self, hour: str) -> str | None:
        try:
            moment = dt.datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC).astimezone(self.zone)
        except ValueError:
            return None
        offset = moment.utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return None
        return moment.strftime("%Y-%m-%d %H")

    def slow(self, stamp: str) -> str:
        try:
            return parse_utc(stamp).astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return ""
