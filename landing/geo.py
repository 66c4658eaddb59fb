"""Distances between towns and offices, and a grid index for 'the k nearest towns' lookups."""

from __future__ import annotations

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


class GridIndex(Generic[T]):
    """Points bucketed into cells of ``cell`` degrees, for nearest-neighbour queries without O(n²).

    A query visits rings of cells around the point until the k-th best distance found is smaller than
    anything an unvisited ring could hold.
    """

    def __init__(self, items: Sequence[T], position: Callable[[T], tuple[float, float]], cell: float = 0.5) -> None:
        self.cell = cell
        self.position = position
        self.cells: dict[tuple[int, int], list[T]] = defaultdict(list)
        for item in items:
            self.cells[self._key(*position(item))].append(item)
        self.size = len(items)
        rows = [row for row, _ in self.cells] or [0]
        cols = [col for _, col in self.cells] or [0]
        self.span = max(max(rows) - min(rows), max(cols) - min(cols)) + 1  # rings needed to cover every cell

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return (math.floor(lat / self.cell), math.floor(lon / self.cell))

    def nearest(self, lat: float, lon: float, k: int, exclude: Callable[[T], bool] = lambda item: False) -> list[tuple[float, T]]:
        """The k nearest items as (miles, item), nearest first; ties keep the input order."""
        row, col = self._key(lat, lon)
        found: list[tuple[float, int, T]] = []
        order = 0
        max_ring = self.span + abs(row) + abs(col)  # covers every cell, however far the point is
        for ring in range(max_ring + 1):
            for key in _ring(row, col, ring):
                for item in self.cells.get(key, ()):
                    if exclude(item):
                        continue
                    item_lat, item_lon = self.position(item)
                    found.append((miles_between(lat, lon, item_lat, item_lon), order, item))
                    order += 1
            if len(found) >= min(k, self.size) and found:
                found.sort(key=lambda entry: (entry[0], entry[1]))
                del found[k:]
                # Anything in ring + 1 or beyond is at least `ring` whole cells away in one direction.
                reach_lat = min(89.9, abs(lat) + (ring + 1) * self.cell)
                bound = ring * self.cell * MILES_PER_DEGREE * math.cos(math.radians(reach_lat))
                if len(found) == k and found[-1][0] <= bound:
                    break
            if len(found) + 1 >= self.size and ring > self.span:
                break
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return [(distance, item) for distance, _, item in found[:k]]


def _ring(row: int, col: int, radius: int) -> list[tuple[int, int]]:
    if radius == 0:
        return [(row, col)]
    cells = []
    for d in range(-radius, radius + 1):
        cells.append((row - radius, col + d))
        cells.append((row + radius, col + d))
    for d in range(-radius + 1, radius):
        cells.append((row + d, col - radius))
        cells.append((row + d, col + radius))
    return cells
