"""Distances and nearest-town lookups."""

from __future__ import annotations

import random

import pytest

from landing.geo import GridIndex, miles_between, nearest_first, radians_of


def test_miles_between_known_towns() -> None:
    # Barrington to Crystal Lake is about 11 miles as the crow flies; Chicago to New York about 711.
    assert miles_between(42.1539, -88.1362, 42.2411, -88.3162) == pytest.approx(11.0, abs=0.2)
    assert miles_between(41.8781, -87.6298, 40.7128, -74.0060) == pytest.approx(711, abs=3)
    assert miles_between(42.0, -88.0, 42.0, -88.0) == 0


@pytest.mark.parametrize("seed", range(5))
def test_grid_index_finds_the_same_neighbours_as_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    points = [(rng.uniform(25, 49), rng.uniform(-125, -67)) for _ in range(2000)]
    points += [(rng.uniform(55, 71), rng.uniform(-165, -140)) for _ in range(50)]  # Alaska: wide cells
    hawaii = [(rng.uniform(19, 22), rng.uniform(-160, -155)) for _ in range(3)]  # whose 6th is 2,000 miles off
    points += hawaii
    index = GridIndex(points, lambda point: point)
    for lat, lon in rng.sample(points, 40) + hawaii:
        expected = sorted(points, key=lambda p: miles_between(lat, lon, *p))[1:7]
        found = [point for _, point in index.nearest(lat, lon, 6, exclude=lambda p: p == (lat, lon))]
        assert found == expected


def test_grid_index_with_fewer_points_than_asked_returns_them_all() -> None:
    points = [(42.0, -88.0), (45.0, -100.0), (21.3, -157.8)]
    index = GridIndex(points, lambda point: point)
    assert [p for _, p in index.nearest(42.0, -88.0, 6)] == points


@pytest.mark.parametrize("seed", range(5))
def test_nearest_first_orders_towns_as_sorting_by_miles_does(seed: int) -> None:
    # A county's towns, some sharing a position, some without one: those last, ties in the order given.
    rng = random.Random(seed)
    points: list[tuple[float, float] | None] = [(rng.uniform(41.5, 42.5), rng.uniform(-88.5, -87.5)) for _ in range(150)]
    points += [points[3], None, points[10], None]
    rng.shuffle(points)
    for origin in [point for point in points if point is not None][:20]:
        def miles(number: int, origin: tuple[float, float] = origin) -> float:
            point = points[number]
            return float("inf") if point is None else miles_between(*origin, *point)
        expected = sorted(range(len(points)), key=miles)
        found = nearest_first(radians_of(*origin), [None if point is None else radians_of(*point) for point in points])
        assert found == expected
