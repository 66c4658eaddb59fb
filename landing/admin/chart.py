"""Leads per week by office, as an SVG bar chart drawn on the server (no JavaScript, no third party)."""

from __future__ import annotations

import datetime as dt
import math
from html import escape

PALETTE = ("#0b5cab", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#4338ca")
HEIGHT, LEFT, BOTTOM, TOP = 260, 40, 40, 16
MAX_WEEKS = 52  # a year: a longer period shows its latest year
MIN_GROUP = 28.0  # pixels a week takes at least
MIN_WIDTH = 300  # room for the axis and one legend entry
LEGEND_STEP = 220
LABEL_WIDTH = 44  # pixels a week's label needs: with narrower weeks, every second (third...) week is labelled


def office_colours(offices: list[str]) -> dict[str, str]:
    return {office: PALETTE[i % len(PALETTE)] for i, office in enumerate(offices)}


def weekly_chart(counts: list[tuple[str, str, int]], offices: list[tuple[str, str]], today: dt.date | None = None,
                 only: str | None = None, since: str | None = None, until: str | None = None) -> str:
    """Grouped bars, one group a week, sized to the data: from the first week with a lead (or the week of
    ``since``) to this week (or the week of ``until``), at most MAX_WEEKS of them, the latest; the drawing is as
    wide as its weeks need. ``offices`` are (id, name) in legend order. With ``only`` (the list filtered to one
    office), that office alone, in the colour it has when all are shown. ``today`` is the practice's date."""
    colours = office_colours([office for office, _ in offices])
    if only is not None:
        offices = [(office, name) for office, name in offices if office == only]
    shown = {office for office, _ in offices}
    counts = [(week, office, n) for week, office, n in counts if office in shown]
    mondays = chart_weeks([week for week, _, n in counts if n], today or dt.date.today(), since, until)
    table = {(week, office): n for week, office, n in counts}
    peak = max([table.get((week, office), 0) for week in mondays for office, _ in offices] + [1])
    group = max(MIN_GROUP, 12.0 * len(offices) + 10)
    plot_w, plot_h = group * len(mondays), HEIGHT - BOTTOM - TOP
    width = max(MIN_WIDTH, int(LEFT + plot_w + 10))
    per_row = max(1, (width - LEFT) // LEGEND_STEP)
    label_every = max(1, math.ceil(LABEL_WIDTH / group))
    bar = max(2.0, (group - 6) / max(1, len(offices)))
    total = sum(table.get((week, office), 0) for week in mondays for office, _ in offices)
    span = f"the week of {mondays[0]}" if len(mondays) == 1 else f"{len(mondays)} weeks from {mondays[0]} to {mondays[-1]}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT + 24 * math.ceil(len(offices) / per_row)}" '
        f'width="{width}" role="img" aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">Leads per week by office, {span}: {total} in all</title>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w:.0f}" y2="{TOP + plot_h}" stroke="#6b7684"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11" fill="#374151">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11" fill="#374151">0</text>',
    ]
    for i, week in enumerate(mondays):
        x0 = LEFT + i * group + 3
        for j, (office, name) in enumerate(offices):
            n = table.get((week, office), 0)
            h = plot_h * n / peak
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                         f'fill="{colours[office]}"><title>{escape(name)}, week of {week}: {n}</title></rect>')
        if (len(mondays) - 1 - i) % label_every == 0:  # the latest week always labelled
            label = dt.date.fromisoformat(week).strftime("%b %-d")
            parts.append(f'<text x="{x0 + group / 2 - 3:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" '
                         f'font-size="10" fill="#374151">{label}</text>')
    for j, (office, name) in enumerate(offices):
        x, y = LEFT + (j % per_row) * LEGEND_STEP, HEIGHT + 24 * (j // per_row)
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colours[office]}"/>')
        parts.append(f'<text x="{x + 18}" y="{y}" font-size="12" fill="#1b2430">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def chart_weeks(weeks_with_leads: list[str], today: dt.date, since: str | None, until: str | None) -> list[str]:
    """The Mondays the chart shows, oldest first: see weekly_chart."""
    def monday(day: dt.date) -> dt.date:
        return day - dt.timedelta(days=day.weekday())

    last = monday(min(today, dt.date.fromisoformat(until)) if until else today)
    if since:
        first = monday(dt.date.fromisoformat(since))
    elif weeks_with_leads:
        first = dt.date.fromisoformat(min(weeks_with_leads))
    else:
        first = last
    first = max(first, last - dt.timedelta(weeks=MAX_WEEKS - 1))
    if first > last:
        first = last
    return [(first + dt.timedelta(weeks=n)).isoformat() for n in range((last - first).days // 7 + 1)]
