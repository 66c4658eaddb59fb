"""Distances between towns and offices, and a grid index for 'the k nearest towns' lookups."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

EARTH_RADIUS_MILES = 3958.8
MILES_PER_DEGREE = 69.05
T = TypeVar("T")


def miles_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in miles."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The initial great-circle bearing from the first point to the second, in degrees from north (0-360)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlambda = math.radians(lon2 - lon1)
    x = math.sin(dlambda) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlambda)
    return math.degrees(math.atan2(x, y)) % 360


def compass(degrees: float) -> str:
    """One of the eight compass directions a person says: 100 degrees is 'east', 130 'southeast'."""
    return COMPASS[round(degrees / 45) % 8]


class GridIndex(Generic[T]):
    """Points bucketed into cells of ``cell`` degrees, for nearest-neighbour queries without O(n²).

    A query visits rings of cells around the point until the k-th best distance found is smaller than
    anything an unvisited ring could hold. Candidates are ranked by the haversine's inner term, which
    grows with distance, so only the k kept pay for the square root and arcsine: a static build asks
    this for every one of tens of thousands of towns.
    """

    def __init__(self, items: Sequence[T], position: Callable[[T], tuple[float, float]], cell: float = 0.5) -> None:
        self.cell = cell
        # Per cell: (latitude and longitude in radians, cos(latitude), input order, item).
        self.cells: dict[tuple[int, int], list[tuple[float, float, float, int, T]]] = defaultdict(list)
        for order, item in enumerate(items):
            lat, lon = position(item)
            phi = math.radians(lat)
            self.cells[self._key(lat, lon)].append((phi, math.radians(lon), math.cos(phi), order, item))
        self.size = len(items)
        rows = [row for row, _ in self.cells] or [0]
        cols = [col for _, col in self.cells] or [0]
        self.rows, self.cols = (min(rows), max(rows)), (min(cols), max(cols))  # the cells that hold anything

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return (math.floor(lat / self.cell), math.floor(lon / self.cell))

    def nearest(self, lat: float, lon: float, k: int, exclude: Callable[[T], bool] = lambda item: False) -> list[tuple[float, T]]:
        """The k nearest items as (miles, item), nearest first; ties keep the input order."""
        if k <= 0 or not self.cells:
            return []
        row, col = self._key(lat, lon)
        phi0, lam0 = math.radians(lat), math.radians(lon)
        cos0 = math.cos(phi0)
        sin, cells = math.sin, self.cells
        found: list[tuple[float, int, T]] = []  # (haversine term, input order, item)
        (top, bottom), (left, right) = self.rows, self.cols
        for ring in itertools.count():
            for key in self._ring(row, col, ring):
                for phi, lam, cos_phi, order, item in cells.get(key, ()):
                    if not exclude(item):
                        found.append((sin((phi - phi0) * 0.5) ** 2 + cos0 * cos_phi * sin((lam - lam0) * 0.5) ** 2,
                                      order, item))
            if row - ring <= top and row + ring >= bottom and col - ring <= left and col + ring >= right:
                break  # every cell that holds anything has been visited
            if len(found) >= k:
                found.sort()
                del found[k:]
                # Anything in ring + 1 or beyond is at least `ring` whole cells away in one direction.
                reach_lat = min(89.9, abs(lat) + (ring + 1) * self.cell)
                bound = ring * self.cell * MILES_PER_DEGREE * math.cos(math.radians(reach_lat))
                if found[-1][0] <= _haversine_term(bound):
                    break
        found.sort()
        return [(_miles(term), item) for term, _, item in found[:k]]

    def _ring(self, row: int, col: int, radius: int) -> list[tuple[int, int]]:
        """The cells ``radius`` cells away from (row, col), a square ring, less those outside every item:
        far from the others (a town in Hawaii), a query would otherwise visit thousands of empty cells."""
        if radius == 0:
            return [(row, col)]
        (top, bottom), (left, right) = self.rows, self.cols
        keys = []
        first, last = max(col - radius, left), min(col + radius, right)
        for edge in (row - radius, row + radius):
            if top <= edge <= bottom:
                keys += [(edge, c) for c in range(first, last + 1)]
        first, last = max(row - radius + 1, top), min(row + radius - 1, bottom)
        for edge in (col - radius, col + radius):
            if left <= edge <= right:
                keys += [(r, edge) for r in range(first, last + 1)]
        return keys


Radians = tuple[float, float, float]  # latitude and longitude in radians, and the latitude's cosine


def radians_of(lat: float, lon: float) -> Radians:
    phi = math.radians(lat)
    return phi, math.radians(lon), math.cos(phi)


def nearest_first(origin: Radians, points: Sequence[Radians | None]) -> list[int]:
    """The positions of ``points`` ordered by their distance from ``origin``, nearest first, those that are None
    last; ties keep the input order. The order of sorting by miles_between, at a fraction of its cost (the
    haversine's inner term grows with the distance: no square root or arcsine is needed to rank by it): each
    town page ranks every town of its county, and a build renders tens of thousands of town pages."""
    phi0, lam0, cos0 = origin
    sin, inf = math.sin, math.inf
    terms = [inf if point is None else
             sin((point[0] - phi0) * 0.5) ** 2 + cos0 * point[2] * sin((point[1] - lam0) * 0.5) ** 2
             for point in points]
    return sorted(range(len(terms)), key=terms.__getitem__)


def _haversine_term(miles: float) -> float:
    """The haversine's inner term for a distance: sin²(d / 2R), which grows with d up to half the globe."""
    return math.sin(min(miles / (2 * EARTH_RADIUS_MILES), math.pi / 2)) ** 2


def _miles(term: float) -> float:
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(term)))
