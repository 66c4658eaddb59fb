"""Distances and nearest-town lookups."""

from __future__ import annotations

import random

import pytest

from landing.geo import GridIndex, miles_between


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
