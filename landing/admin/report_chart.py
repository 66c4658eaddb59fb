"""The report's chart: views and leads over the period, as two bar panels sharing one time axis, an SVG drawn on
the server (no JavaScript, no third party). Days up to three months, then weeks, then months."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from landing.report import Day

WIDTH, LEFT, RIGHT, TOP, PANEL, GAP, AXIS = 720, 48, 10, 20, 110, 34, 22
VIEWS_COLOUR, LEADS_COLOUR, INK, RULE = "#0b5cab", "#c2410c", "#374151", "#6b7684"


def buckets(days: Sequence[Day]) -> tuple[str, list[tuple[dt.date, int, int]]]:
    """(what a bar is, [(its first day, views, leads)]): days up to 92, weeks (from Monday) up to 731, then months."""
    if len(days) <= 92:
        return "day", [(day.day, day.views, day.leads) for day in days]
    unit = "week" if len(days) <= 731 else "month"
    grouped: dict[dt.date, list[int]] = {}
    for day in days:
        start = day.day - dt.timedelta(days=day.day.weekday()) if unit == "week" else day.day.replace(day=1)
        totals = grouped.setdefault(start, [0, 0])
        totals[0] += day.views
        totals[1] += day.leads
    return unit, [(start, views, leads) for start, (views, leads) in grouped.items()]


def report_chart(days: Sequence[Day]) -> str:
    unit, bars = buckets(days)
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(1, len(bars))
    width = max(1.0, step - (2 if step > 6 else 0.5))
    views_total, leads_total = sum(bar[1] for bar in bars), sum(bar[2] for bar in bars)
    first, last = (days[0].day, days[-1].day) if days else (dt.date.today(), dt.date.today())
    height = TOP + 2 * PANEL + GAP + AXIS
    title = (f"Views and leads per {unit}, {first.isoformat()} to {last.isoformat()}: {views_total:,} views, "
             f"{leads_total:,} leads")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="report-chart-title" class="chart">',
        f'<title id="report-chart-title">{escape(title)}</title>',
    ]
    panels = (("Views", VIEWS_COLOUR, [bar[1] for bar in bars]), ("Leads", LEADS_COLOUR, [bar[2] for bar in bars]))
    for index, (label, colour, values) in enumerate(panels):
        top = TOP + index * (PANEL + GAP)
        base = top + PANEL
        peak = max([*values, 1])
        parts += [
            f'<text x="{LEFT}" y="{top - 6}" font-size="12" font-weight="bold" fill="{INK}">{label} per {unit}</text>',
            f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="{RULE}"/>',
            f'<text x="{LEFT - 6}" y="{top + 10}" text-anchor="end" font-size="11" fill="{INK}">{peak:,}</text>',
            f'<text x="{LEFT - 6}" y="{base}" text-anchor="end" font-size="11" fill="{INK}">0</text>',
        ]
        for n, (bar, value) in enumerate(zip(bars, values)):
            if not value:
                continue
            h = PANEL * value / peak
            parts.append(f'<rect x="{LEFT + n * step:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{unit.capitalize()} of {bar[0].isoformat()}: {value:,} '
                         f'{label.lower()}</title></rect>')
    axis_y = TOP + 2 * PANEL + GAP + 14
    marks = min(len(bars), 6)
    for k in range(marks):
        n = round(k * (len(bars) - 1) / max(1, marks - 1))
        when = bars[n][0]
        text = when.strftime("%b %Y") if unit == "month" else when.strftime("%b %-d")
        parts.append(f'<text x="{LEFT + n * step + width / 2:.1f}" y="{axis_y}" text-anchor="middle" font-size="10" '
                     f'fill="{INK}">{text}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
