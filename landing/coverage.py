"""The coverage map: towns and offices drawn as SVG on the server (no map tiles, no third-party scripts).

Each town is a dot at its coordinates, coloured by the office that serves it; a town with a page the
quality gate holds back is drawn hollow. Offices are squares in their colour. A legend counts towns per
office. The drawing uses presentation attributes only (no <style>, no script), so a strict
Content-Security-Policy lets it show as an <img> or inline.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from landing.catalog import Catalog
from landing.geo import MILES_PER_DEGREE
from landing.site import Office

# Okabe and Ito's palette: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
WIDTH = 960
MAP_HEIGHT_LIMIT = 720
MARGIN = 24
LEGEND_LINE = 20


@dataclass(frozen=True, slots=True)
class Dot:
    """A town on the map."""

    label: str
    latitude: float
    longitude: float
    office: str  # id of the serving office
    hollow: bool  # a page of the town is held back by the quality gate
    far: bool = False  # its office is farther than max_office_miles: left off the map, named in a note


def town_dots(catalog: Catalog, held_back: Collection[str] = ()) -> tuple[list[Dot], int]:
    """Towns with coordinates as dots, and how many towns have none (they cannot be drawn)."""
    hollow = {page.location.slug for page in catalog.pages.values() if page.path in held_back}
    dots, missing = [], 0
    for location in catalog.locations:
        page = catalog.town_pages.get(location.slug)
        if page is None:
            continue
        if location.latitude is None or location.longitude is None:
            missing += 1
            continue
        distance = f", {page.distance_miles} mi" if page.distance_miles is not None else ""
        dots.append(Dot(f"{location.place}: {page.office.name}{distance}", location.latitude, location.longitude,
                        page.office.id, location.slug in hollow, page.far))
    return dots, missing


@dataclass(frozen=True, slots=True)
class Projection:
    """Longitude and latitude to SVG x and y: equirectangular, scaled by the cosine of the middle latitude
    so that distances look right at a regional scale (a practice's area, not a continent)."""

    west: float
    north: float
    scale: float  # pixels per degree of latitude
    squeeze: float  # cos(middle latitude)

    def __call__(self, latitude: float, longitude: float) -> tuple[float, float]:
        return (MARGIN + (longitude - self.west) * self.squeeze * self.scale, MARGIN + (self.north - latitude) * self.scale)


def projection(points: list[tuple[float, float]], width: int = WIDTH) -> tuple[Projection, float]:
    """A projection fitting ``points`` (latitude, longitude) into ``width``, and the map's height."""
    south = min(lat for lat, _ in points)
    north = max(lat for lat, _ in points)
    west = min(lon for _, lon in points)
    east = max(lon for _, lon in points)
    # A lone point, or points on one line, still get a square of about 20 miles around them.
    pad = max((north - south), (east - west), 0.3) * 0.05
    south, north, west, east = south - pad, north + pad, west - pad, east + pad
    squeeze = math.cos(math.radians((south + north) / 2))
    inner = width - 2 * MARGIN
    scale = min(inner / ((east - west) * squeeze), (MAP_HEIGHT_LIMIT - 2 * MARGIN) / (north - south))
    return Projection(west, north, scale, squeeze), (north - south) * scale + 2 * MARGIN


def coverage_svg(catalog: Catalog, held_back: Collection[str] = (), width: int = WIDTH) -> str:
    """The coverage map of ``catalog`` as an SVG document."""
    dots, missing = town_dots(catalog, held_back)
    # A few towns far from every office would shrink the practice's area to a speck: they are named, not drawn.
    far = [dot for dot in dots if dot.far]
    dots = [dot for dot in dots if not dot.far]
    offices = catalog.site.offices
    colour = {office.id: PALETTE[number % len(PALETTE)] for number, office in enumerate(offices)}
    located = [office for office in offices if office.latitude is not None and office.longitude is not None]
    points = [(dot.latitude, dot.longitude) for dot in dots]
    points += [(office.latitude, office.longitude) for office in located]  # type: ignore[misc]
    counts = Counter(dot.office for dot in dots)
    held = Counter(dot.office for dot in dots if dot.hollow)
    legend = _legend_lines(offices, counts, held, missing, bool(held_back))
    if far:
        named = ", ".join(dot.label.split(":")[0] for dot in far[:5]) + (f" and {len(far) - 5:,} more" if len(far) > 5 else "")
        legend.append((None, f"{len(far):,} town{'s' if len(far) != 1 else ''} farther than "
                             f"{catalog.site.quality.max_office_miles:g} miles from {'their' if len(far) != 1 else 'its'} "
                             f"office not drawn: {named}"))
    if points:
        project, map_height = projection(points, width)
    else:
        project, map_height = Projection(0, 0, 1, 1), 2 * MARGIN
    height = math.ceil(map_height + len(legend) * LEGEND_LINE + MARGIN)
    bar = _scale_bar(project, map_height) if points else []
    radius = 4.0 if len(dots) <= 500 else 2.5 if len(dots) <= 5000 else 1.5
    title = f"Coverage: {len(dots) + missing:,} towns served by {len(offices)} office{'s' if len(offices) != 1 else ''}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="coverage-title coverage-desc" font-family="system-ui, sans-serif" font-size="13">',
        f'<title id="coverage-title">{escape(title)}</title>',
        '<desc id="coverage-desc">Each dot is a town at its coordinates, coloured by the office serving it; a hollow '
        'dot is a town with a page the quality gate holds back. Squares are offices.</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<g stroke-width="1.5">',
    ]
    for dot in dots:
        x, y = project(dot.latitude, dot.longitude)
        paint = colour.get(dot.office, "#777777")
        fill = f'fill="none" stroke={quoteattr(paint)}' if dot.hollow else f'fill={quoteattr(paint)}'
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" {fill}><title>{escape(dot.label)}</title></circle>')
    out.append("</g>")
    for office in located:
        x, y = project(office.latitude, office.longitude)  # type: ignore[arg-type]
        out.append(f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" fill={quoteattr(colour[office.id])} '
                   f'stroke="#000000" stroke-width="2"><title>{escape(office.name)}: {escape(office.place)}</title></rect>')
    out += bar
    top = map_height + LEGEND_LINE / 2
    for number, (swatch, text) in enumerate(legend):
        y = top + number * LEGEND_LINE
        if swatch:
            out.append(f'<rect x="{MARGIN}" y="{y - 10:.1f}" width="12" height="12" fill={quoteattr(swatch)}/>')
        out.append(f'<text x="{MARGIN + 20}" y="{y:.1f}" fill="#222222">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


_SCALES = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def _scale_bar(project: Projection, map_height: float) -> list[str]:
    """A bar of a round number of miles in the map's bottom left corner (true at its middle latitude)."""
    pixels_per_mile = project.scale / MILES_PER_DEGREE
    miles = min(_SCALES, key=lambda value: abs(value * pixels_per_mile - WIDTH / 6))
    length = miles * pixels_per_mile
    y = map_height - 8
    return [f'<line x1="{MARGIN}" y1="{y:.1f}" x2="{MARGIN + length:.1f}" y2="{y:.1f}" stroke="#222222" stroke-width="2"/>',
            f'<text x="{MARGIN}" y="{y - 5:.1f}" fill="#222222" font-size="11">{miles} mile{"s" if miles != 1 else ""}</text>']


def _legend_lines(offices: tuple[Office, ...], counts: Counter[str], held: Counter[str], missing: int,
                  gate: bool) -> list[tuple[str | None, str]]:
    lines: list[tuple[str | None, str]] = []
    for number, office in enumerate(offices):
        towns = counts[office.id]
        text = f"{office.name}: {towns:,} town{'s' if towns != 1 else ''}"
        if gate:
            text += f", {held[office.id]:,} with pages held back (hollow)"
        if office.latitude is None:
            text += " (office not drawn: no coordinates in site.toml)"
        lines.append((PALETTE[number % len(PALETTE)], text))
    if missing:
        lines.append((None, f"{missing:,} town{'s' if missing != 1 else ''} without coordinates not drawn "
                            "(add latitude and longitude in locations.csv)"))
    return lines
