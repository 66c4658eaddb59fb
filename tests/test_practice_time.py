"""The practice's time zone: site.toml names it, the staff area shows every time in it, exports add it beside
UTC; names rather than ids; opening-hours arithmetic; a weekly chart as long as its data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from landing.admin.chart import weekly_chart
from landing.clock import LocalStamps, open_seconds
from landing.errors import ConfigError
from landing.site import Hours, load_site
from tests.leads_helpers import a_lead
from tests.test_admin import staff  # noqa: F401 - the signed-in client fixture

CHICAGO = ZoneInfo("America/Chicago")


def set_practice(site_dir: Path, line: str) -> None:
    """Add ``line`` to site.toml's [practice] table."""
    path = site_dir / "site.toml"
    path.write_text(path.read_text().replace("[practice]\n", f"[practice]\n{line}\n", 1))


def test_the_time_zone_is_read_from_site_toml(site_dir: Path) -> None:
    assert load_site(site_dir / "site.toml").practice.timezone == "UTC"  # none given: UTC, as before
    set_practice(site_dir, 'timezone = "America/Chicago"')
    assert load_site(site_dir / "site.toml").practice.zone == CHICAGO


def test_a_misspelt_time_zone_is_an_error_on_its_line_with_a_suggestion(site_dir: Path) -> None:
    set_practice(site_dir, 'timezone = "America/Chicgo"')
    with pytest.raises(ConfigError) as caught:
        load_site(site_dir / "site.toml")
    (problem,) = caught.value.problems
    assert problem.startswith("site.toml:3: [practice]: timezone 'America/Chicgo' is not an IANA time zone name")
    assert "did you mean 'America/Chicago'?" in problem


async def test_the_staff_area_shows_times_in_the_practice_zone_and_names_not_ids(staff, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_practice(site_dir, 'timezone = "America/Chicago"')
    lead = a_lead(name="Summer Lead", created_at="2026-07-01T15:30:00.000000+00:00", office="crystal-lake")
    client = await staff(lead)
    listing = (await client.get("/admin/leads?since=2026-06-01")).text
    assert "Received (America/Chicago)" in listing
    assert ">2026-07-01 10:30</time>" in listing and ">2026-07-01 15:30" not in listing  # CDT, five hours behind UTC
    assert "Intrathecal Pump Therapy, Cary, IL" in listing and "Crystal Lake office" in listing
    assert ">intrathecal-pump-therapy" not in listing and ">crystal-lake<" not in listing
    detail = (await client.get(f"/admin/leads/{lead.id}")).text
    assert "2026-07-01 10:30:00 CDT" in detail and "<dd>Intrathecal Pump Therapy</dd>" in detail


async def test_the_export_keeps_utc_and_adds_the_local_time(staff, site_dir: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_practice(site_dir, 'timezone = "America/Chicago"')
    client = await staff(a_lead(created_at="2026-01-15T03:05:09.000000+00:00"))
    data = (await client.get("/admin/leads.csv")).content.decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(data)))
    assert row["created_at"] == "2026-01-15T03:05:09.000000+00:00"
    assert row["created_at_local"] == "2026-01-14 21:05:09"  # CST, the evening before


@pytest.mark.parametrize("zone", ["America/Chicago", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"])
def test_local_stamps_agree_with_a_full_conversion_across_a_year(zone: str) -> None:
    local = LocalStamps(ZoneInfo(zone))
    moment = dt.datetime(2026, 1, 1, 0, 17, 42, 123456, tzinfo=dt.timezone.utc)
    while moment.year == 2026:
        stamp = moment.isoformat(timespec="microseconds")
        assert local(stamp) == moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S"), stamp
        moment += dt.timedelta(minutes=97)


WEEKDAYS = (Hours(days=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"), opens="08:00", closes="17:00"),)


def chicago(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CHICAGO)


def test_only_opening_hours_count_towards_a_wait() -> None:
    # Friday 16:50 to Monday 08:20: ten minutes on Friday, twenty on Monday.
    assert open_seconds(WEEKDAYS, CHICAGO, chicago("2026-11-27 16:50"), chicago("2026-11-30 08:20")) == 30 * 60
    # A lead at night waits from opening time.
    assert open_seconds(WEEKDAYS, CHICAGO, chicago("2026-11-30 02:00"), chicago("2026-11-30 08:45")) == 45 * 60
    # An office with no hours given is taken as always open.
    assert open_seconds((), CHICAGO, chicago("2026-11-28 02:00"), chicago("2026-11-28 03:00")) == 3600


def test_opening_hours_follow_daylight_saving_time() -> None:
    # The Monday after clocks went forward (2026-03-08): 08:00 local is 13:00 UTC, not 14:00.
    start = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.timezone.utc)
    assert open_seconds(WEEKDAYS, CHICAGO, start, dt.datetime(2026, 3, 9, 13, 30, tzinfo=dt.timezone.utc)) == 30 * 60


OFFICES = [("barrington", "Barrington office"), ("crystal-lake", "Crystal Lake office")]


def weeks_drawn(svg: str) -> int:
    return len(re.findall(r"<title>Barrington office, week of", svg))


def test_the_chart_spans_the_weeks_that_have_leads() -> None:
    today = dt.date(2026, 11, 30)  # a Monday
    counts = [("2026-11-09", "barrington", 3), ("2026-11-23", "crystal-lake", 1)]
    svg = weekly_chart(counts, OFFICES, today=today)
    assert weeks_drawn(svg) == 4  # Nov 9, 16, 23, 30: not twelve weeks of empty bars
    assert "4 weeks from 2026-11-09 to 2026-11-30: 4 in all" in svg
    empty = weekly_chart([], OFFICES, today=today)
    assert weeks_drawn(empty) == 1 and "the week of 2026-11-30: 0 in all" in empty
    width = int(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    assert width < 720  # sized to four weeks, not stretched to a fixed width


def test_the_chart_follows_the_filter_period_up_to_a_year() -> None:
    today = dt.date(2026, 11, 30)
    svg = weekly_chart([], OFFICES, today=today, since="2026-10-01", until="2026-10-31")
    assert weeks_drawn(svg) == 5 and "from 2026-09-28 to 2026-10-26" in svg
    long = weekly_chart([("2020-01-06", "barrington", 1)], OFFICES, today=today)
    assert weeks_drawn(long) == 52  # the latest year of a longer period
