"""A small map of a town and its office, drawn as SVG on the server: no tiles, no scripts, nothing fetched.

The town is a dot, the office a square, a dashed line joins them with the distance written on it, and a
scale bar and a north mark say how to read it. It only draws what the page says in words (the town, the
office, the straight-line distance), with presentation attributes only (no <style>), so the strict
Content-Security-Policy lets it show inline.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD, FOOT = 320, 190, 34, 20  # FOOT: a band under the marks for the scale bar
INK, MUTED, ACCENT, OFFICE = "#1b2430", "#4a5563", "#0b5cab", "#b45309"
_SCALES = (0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 500)
MILES_PER_DEGREE = 69.05


def office_map(town: str, town_at: tuple[float, float], office: str, office_at: tuple[float, float],
               miles: int, direction: str) -> Markup:
    """The map of ``town`` (name, latitude and longitude) and ``office``; ``miles`` and ``direction`` as the page
    says them (from the town to the office)."""
    (lat1, lon1), (lat2, lon2) = town_at, office_at
    squeeze = math.cos(math.radians((lat1 + lat2) / 2))
    # At least two miles across, so a town next door to its office is not drawn on top of it.
    span_x = max(abs(lon2 - lon1) * squeeze, 2 / MILES_PER_DEGREE)
    span_y = max(abs(lat2 - lat1), 2 / MILES_PER_DEGREE)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD - FOOT) / span_y)  # pixels per degree of latitude
    middle_lat, middle_lon = (lat1 + lat2) / 2, (lon1 + lon2) / 2

    def point(lat: float, lon: float) -> tuple[float, float]:
        return (WIDTH / 2 + (lon - middle_lon) * squeeze * scale, (HEIGHT - FOOT) / 2 - (lat - middle_lat) * scale)

    (x1, y1), (x2, y2) = point(lat1, lon1), point(lat2, lon2)
    distance = "less than a mile" if miles < 1 else f"{miles} mile{'s' if miles != 1 else ''}"
    title = f"Map: {town} and our {office}, {distance}" + (f" {direction}" if direction else "")
    bar_miles = _scale_miles(WIDTH / 4 / scale * MILES_PER_DEGREE)
    bar = bar_miles / MILES_PER_DEGREE * scale
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="map" '
        f'font-family="system-ui, sans-serif" font-size="12"><title>{escape(title)}</title>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" rx="6" fill="#f3f6f9"/>',
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{MUTED}" stroke-width="2" '
        'stroke-dasharray="5 4"/>',
        f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="6" fill="{ACCENT}"/>',
        f'<rect x="{x2 - 6:.1f}" y="{y2 - 6:.1f}" width="12" height="12" fill="{OFFICE}"/>',
        _label(town, x1, y1, y2, ACCENT),
        _label(f"Our {office}", x2, y2, y1, OFFICE),
    ]
    if miles >= 1:
        # Beside the middle of the line, on its right-hand side as one goes down the drawing.
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        nx, ny = (y2 - y1) / length, (x1 - x2) / length
        if nx < 0:
            nx, ny = -nx, -ny
        parts.append(f'<text x="{(x1 + x2) / 2 + nx * 14:.1f}" y="{(y1 + y2) / 2 + ny * 14 + 4:.1f}" '
                     f'text-anchor="start" fill="{INK}" stroke="#f3f6f9" stroke-width="3" paint-order="stroke">'
                     f'{miles} mi</text>')
    parts += [
        f'<line x1="10" y1="{HEIGHT - 12}" x2="{10 + bar:.1f}" y2="{HEIGHT - 12}" stroke="{INK}" stroke-width="2"/>',
        f'<text x="10" y="{HEIGHT - 17}" fill="{INK}" font-size="10">{_miles_label(bar_miles)}</text>',
        f'<text x="{WIDTH - 12}" y="18" text-anchor="middle" fill="{INK}" font-size="11" font-weight="700">N</text>',
        f'<path d="M{WIDTH - 12} 22 l-4 9 h8 z" fill="{INK}"/>',
        "</svg>",
    ]
    return Markup("".join(parts))


def _label(text: str, x: float, y: float, other_y: float, colour: str) -> str:
    """A label centred on its mark, above it or below it (away from the other mark, so the line between them
    does not cross it), moved sideways as much as it takes to stay inside the drawing (and clear of the north
    mark in the top right corner)."""
    width = len(text) * 7.2  # about the width of a 12px bold character
    x = min(max(x, width / 2 + 6), WIDTH - 26 - width / 2)
    y = y + 22 if other_y < y else y - 12
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="{colour}" font-weight="600" '
            f'stroke="#f3f6f9" stroke-width="3" paint-order="stroke">{escape(text)}</text>')


def _scale_miles(target: float) -> float:
    """A round number of miles near ``target`` for the scale bar."""
    return min(_SCALES, key=lambda miles: abs(math.log(miles / target)) if target > 0 else miles)


def _miles_label(miles: float) -> str:
    return f"{miles:g} mile{'s' if miles != 1 else ''}"
