"""The marketing report: views, unique visitors and leads by town page, treatment, office or campaign over a
period, from the page view counts (landing/pageviews.py) and the leads, joined by landing page.

Leads enter only as counts per page, office and campaign (never one lead, nor any of its fields), so the
report may be shown to marketers, who never see a lead. Spam is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from landing.catalog import Catalog
from landing.leads.query import shown
from landing.leads.store import SQLStore
from landing.pageviews import campaign_value

DIMENSIONS = {"page": "Town page", "treatment": "Treatment", "office": "Office", "campaign": "Campaign"}
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366  # a longer period is refused: its query would scan more than the report is meant for
NONE = "(none)"
UNKNOWN = "(not a page now)"
CSV_COLUMNS = ("dimension", "key", "name", "views", "unique_visitors", "crawler_views", "leads", "conversion_rate")


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both ends included."""

    since: dt.date
    until: dt.date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def dates(self) -> Iterator[dt.date]:
        for n in range(self.days):
            yield self.since + dt.timedelta(days=n)


@dataclass
class Figures:
    views: int = 0
    visitors: int = 0
    bot_views: int = 0
    leads: int = 0

    def add(self, views: int = 0, visitors: int = 0, bot_views: int = 0, leads: int = 0) -> None:
        self.views += views
        self.visitors += visitors
        self.bot_views += bot_views
        self.leads += leads

    @property
    def conversion(self) -> float | None:
        """Leads per unique visitor, or None without visitors."""
        return self.leads / self.visitors if self.visitors else None


@dataclass
class Line:
    """One row of the report: what it is about, and its figures."""

    key: str
    name: str
    figures: Figures = field(default_factory=Figures)


@dataclass
class Day:
    day: dt.date
    views: int = 0
    visitors: int = 0
    leads: int = 0


@dataclass
class Report:
    period: Period
    by: str
    lines: list[Line]  # most views first
    total: Figures
    days: list[Day]  # every day of the period, in order


def parse_period(params: Mapping[str, str], today: dt.date | None = None) -> tuple[Period, str, list[str]]:
    """The period (default: the last DEFAULT_DAYS days to today) and the dimension (default: page) asked for,
    and what is wrong with them, each with its fix."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    problems: list[str] = []

    def date(name: str, default: dt.date) -> dt.date:
        value = params.get(name, "").strip()
        if not value:
            return default
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            problems.append(f"{name}: '{shown(value)}' is not a date (use YYYY-MM-DD, e.g. {today.isoformat()})")
            return default

    until = date("until", today)
    since = date("since", until - dt.timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        problems.append(f"since ({since}) is after until ({until}): swap them")
        since = until
    elif (until - since).days + 1 > MAX_DAYS:
        problems.append(f"the period from {since} to {until} is longer than {MAX_DAYS} days: choose a shorter one")
        since = until - dt.timedelta(days=MAX_DAYS - 1)
    by = params.get("by", "").strip() or "page"
    if by not in DIMENSIONS:
        problems.append(f"by: '{shown(by)}' is not one of {', '.join(DIMENSIONS)}")
        by = "page"
    return Period(since, until), by, problems


async def make_report(store: SQLStore, catalog: Catalog, period: Period, by: str) -> Report:
    """The report over ``period`` by ``by`` (one of DIMENSIONS): two reads of the view counts (by page or by
    campaign, and by day) and one of the leads, each grouped in the database."""
    since, end = period.since.isoformat(), (period.until + dt.timedelta(days=1)).isoformat()
    grouped = "source, campaign" if by == "campaign" else "path"
    parts, args = counted_rows(period, grouped)
    views = await store.fetch(f"SELECT {grouped}, SUM(views), SUM(visitors), SUM(bot_views) FROM ({parts}) AS counted "
                              f"GROUP BY {grouped}", args)
    daily = await store.fetch("SELECT day, views, visitors FROM views_by_day WHERE day >= ? AND day <= ?",
                              (since, period.until.isoformat()))
    leads = await store.fetch(
        "SELECT treatment, town, office, utm_source, utm_campaign, substr(created_at, 1, 10), COUNT(*) FROM leads "
        "WHERE spam = 0 AND created_at >= ? AND created_at < ? "
        "GROUP BY treatment, town, office, utm_source, utm_campaign, substr(created_at, 1, 10)", (since, end))
    lines: dict[str, Line] = {}
    namer = Namer(catalog)

    def line(key: str, name: str) -> Line:
        found = lines.get(key)
        if found is None:
            found = lines[key] = Line(key, name)
        return found

    total = Figures()
    if by == "campaign":
        for source, campaign, n, visitors, bots in views:
            key = campaign_key(str(source), str(campaign))
            line(key, key).figures.add(int(n), int(visitors), int(bots))
            total.add(int(n), int(visitors), int(bots))
    else:
        for path, n, visitors, bots in views:
            key, name = namer.of_path(str(path), by)
            line(key, name).figures.add(int(n), int(visitors), int(bots))
            total.add(int(n), int(visitors), int(bots))
    days = {day: Day(day) for day in period.dates()}
    for day, n, visitors in daily:
        found = days.get(dt.date.fromisoformat(str(day)))
        if found is not None:
            found.views, found.visitors = int(n), int(visitors)
    for treatment, town, office, source, campaign, day, n in leads:
        if by == "campaign":
            key = campaign_key(campaign_value(str(source)), campaign_value(str(campaign)))
            name = key
        else:
            key, name = namer.of_lead(str(treatment), str(town), str(office), by)
        line(key, name).figures.add(leads=int(n))
        total.add(leads=int(n))
        found = days.get(dt.date.fromisoformat(str(day)))
        if found is not None:
            found.leads += int(n)
    ordered = sorted(lines.values(), key=lambda item: (-item.figures.views, -item.figures.leads, item.name))
    return Report(period, by, ordered, total, list(days.values()))


def whole_months(period: Period) -> tuple[dt.date, dt.date] | None:
    """The first days of the first and the last calendar month that lie wholly within ``period``, if any."""
    first = period.since if period.since.day == 1 else next_month(period.since)
    last = period.until.replace(day=1)
    if (period.until + dt.timedelta(days=1)).day != 1:  # the last month ends after the period
        last = month_before(last)
    return (first, last) if first <= last else None


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def month_before(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


def counted_rows(period: Period, columns: str) -> tuple[str, list[str]]:
    """The view counts of ``period`` (``columns`` and the three figures) as one SELECT: whole months from the
    monthly table, the days before and after them from the daily one."""
    months = whole_months(period)
    figures = f"{columns}, views, visitors, bot_views"
    if months is None:
        return f"SELECT {figures} FROM page_views WHERE day >= ? AND day <= ?", [period.since.isoformat(),
                                                                               period.until.isoformat()]
    first, last = months
    parts = [f"SELECT {figures} FROM page_views_monthly WHERE month >= ? AND month <= ?"]
    args = [first.isoformat()[:7], last.isoformat()[:7]]
    # Each range of days on its own (an OR of two ranges would not use the index of days).
    for start, stop in ((period.since, first - dt.timedelta(days=1)), (next_month(last), period.until)):
        if start <= stop:
            parts.append(f"SELECT {figures} FROM page_views WHERE day >= ? AND day <= ?")
            args += [start.isoformat(), stop.isoformat()]
    return " UNION ALL ".join(parts), args


def campaign_key(source: str, campaign: str) -> str:
    if not source and not campaign:
        return NONE
    return f"{source or NONE} / {campaign or NONE}"


class Namer:
    """A page's or a lead's line in the report by page, treatment or office, by the current site's names."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.treatments = {treatment.slug: treatment.name for treatment in catalog.site.treatments}
        self.offices = {office.id: office.name for office in catalog.site.offices}

    def of_path(self, path: str, by: str) -> tuple[str, str]:
        page = self.catalog.pages.get(path)
        if by == "page":
            if page is not None:
                return path, f"{page.treatment.name}, {page.location.place}"
            if path == "/":
                return path, "Home page"
            hub = self.catalog.hub_part(path)
            return path, f"{hub.hub.treatment.name}: all towns" if hub is not None else f"{path} {UNKNOWN}"
        if by == "treatment":
            slug = path.strip("/").split("/")[0] if path != "/" else ""
            return (slug, self.treatments[slug]) if slug in self.treatments else (NONE, "Home page and others")
        if page is None:
            return NONE, "Pages of no office (home page, treatment pages)"
        return page.office.id, page.office.name

    def of_lead(self, treatment: str, town: str, office: str, by: str) -> tuple[str, str]:
        if by == "treatment":
            return (treatment, self.treatments[treatment]) if treatment in self.treatments else (NONE, "Home page and others")
        if by == "office":
            return office, self.offices.get(office, f"{office} {UNKNOWN}")
        return self.of_path(f"/{treatment}/{town}/", "page")


def percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def csv_rows(report: Report) -> Iterator[tuple[str | int, ...]]:
    """The report's lines as CSV_COLUMNS, then a total line."""
    for item in report.lines:
        figures = item.figures
        yield (report.by, item.key, item.name, figures.views, figures.visitors, figures.bot_views, figures.leads,
               percent(figures.conversion))
    total = report.total
    yield (report.by, "", "Total", total.views, total.visitors, total.bot_views, total.leads, percent(total.conversion))
