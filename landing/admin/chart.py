"""Leads per week by office, as an SVG bar chart drawn on the server (no JavaScript, no third party)."""

from __future__ import annotations

import datetime as dt
from html import escape

PALETTE = ("#0b5cab", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#4338ca")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 260, 40, 40, 16


def office_colours(offices: list[str]) -> dict[str, str]:
    return {office: PALETTE[i % len(PALETTE)] for i, office in enumerate(offices)}


def weekly_chart(counts: list[tuple[str, str, int]], offices: list[tuple[str, str]], weeks: int = 12,
                 today: dt.date | None = None, only: str | None = None) -> str:
    """Grouped bars for the last ``weeks`` weeks; ``offices`` are (id, name) in legend order. With ``only``
    (the list filtered to one office), that office alone, in the colour it has when all are shown."""
    colours = office_colours([office for office, _ in offices])
    if only is not None:
        offices = [(office, name) for office, name in offices if office == only]
    today = today or dt.date.today()
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [(this_monday - dt.timedelta(weeks=n)).isoformat() for n in reversed(range(weeks))]
    table = {(week, office): n for week, office, n in counts}
    peak = max([table.get((week, office), 0) for week in mondays for office, _ in offices] + [1])
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    group = plot_w / len(mondays)
    bar = max(2.0, (group - 6) / max(1, len(offices)))
    total = sum(table.get((week, office), 0) for week in mondays for office, _ in offices)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 24 * ((len(offices) + 2) // 3)}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">Leads per week by office, last {weeks} weeks: {total} in all</title>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#6b7684"/>',
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
        label = dt.date.fromisoformat(week).strftime("%b %-d")
        parts.append(f'<text x="{x0 + group / 2 - 3:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" font-size="10" '
                     f'fill="#374151">{label}</text>')
    for j, (office, name) in enumerate(offices):
        x, y = LEFT + (j % 3) * 220, HEIGHT + 24 * (j // 3)
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colours[office]}"/>')
        parts.append(f'<text x="{x + 18}" y="{y}" font-size="12" fill="#1b2430">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
