"""The coverage map: towns by serving office, drawn on the server as SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from landing.cli import main
from landing.coverage import PALETTE, coverage_svg
from landing.settings import Settings
from landing.snapshot import load_snapshot
from tests.conftest import write_csv

SVG = "{http://www.w3.org/2000/svg}"


def drawing(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def texts(root: ElementTree.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_towns_are_dots_coloured_by_their_office_with_counts_per_office(settings: Settings) -> None:
    catalog = load_snapshot(settings).catalog
    root = drawing(coverage_svg(catalog))
    dots = list(root.iter(f"{SVG}circle"))
    assert len(dots) == 10
    cary = next(dot for dot in dots if dot.find(f"{SVG}title").text.startswith("Cary, IL"))  # type: ignore[union-attr]
    assert cary.get("fill") == PALETTE[1]  # the Crystal Lake office's colour (the second office)
    assert cary.find(f"{SVG}title").text == "Cary, IL: Crystal Lake office, 4 mi"  # type: ignore[union-attr]
    offices = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert [rect.find(f"{SVG}title").text for rect in offices] == [  # type: ignore[union-attr]
        "Barrington office: Barrington, IL", "Crystal Lake office: Crystal Lake, IL"]
    # A scale bar, then the legend.
    assert texts(root) == ["5 miles", "Barrington office: 7 towns", "Crystal Lake office: 3 towns"]


def test_a_town_far_from_every_office_is_named_not_drawn_so_the_practices_area_stays_readable(
        settings: Settings, locations_csv: Path) -> None:
    locations_csv.write_text(locations_csv.read_text() + "Anchorage,AK,,,61.2,-149.9,,,,,,\n")
    root = drawing(coverage_svg(load_snapshot(settings).catalog))
    assert len(list(root.iter(f"{SVG}circle"))) == 10
    assert texts(root)[0] == "5 miles"  # the map is still the practice's area, not the continent
    assert "1 town farther than 50 miles from its office not drawn: Anchorage, AK" in texts(root)


def test_towns_the_gate_holds_back_are_hollow(settings: Settings) -> None:
    catalog = load_snapshot(settings).catalog
    root = drawing(coverage_svg(catalog, held_back={"/nerve-blocks/cary-il/"}))
    hollow = [dot for dot in root.iter(f"{SVG}circle") if dot.get("fill") == "none"]
    assert [dot.find(f"{SVG}title").text for dot in hollow] == ["Cary, IL: Crystal Lake office, 4 mi"]  # type: ignore[union-attr]
    assert hollow[0].get("stroke") == PALETTE[1]
    assert "Crystal Lake office: 3 towns, 1 with pages held back (hollow)" in texts(root)


def test_towns_without_coordinates_are_counted_not_drawn(settings: Settings, locations_csv: Path) -> None:
    site = settings.site_file
    site.write_text(site.read_text() + "\n[locations]\nautofill = false\n")  # else Fox Lake is found in the ZIP data
    write_csv(locations_csv, "Cary,IL,McHenry County,60013,42.2120,-88.2381,", "Fox Lake,IL,Lake County,60020,,,barrington",
              header="town,state,county,zip,latitude,longitude,office")
    root = drawing(coverage_svg(load_snapshot(settings).catalog))
    assert len(list(root.iter(f"{SVG}circle"))) == 1
    assert "1 town without coordinates not drawn (add latitude and longitude in locations.csv)" in texts(root)


def test_the_map_is_self_contained_with_nothing_to_fetch_and_nothing_to_run(settings: Settings) -> None:
    svg = coverage_svg(load_snapshot(settings).catalog)
    assert "<script" not in svg and "href" not in svg and "<style" not in svg and " on" not in svg.replace(" office", "")
    assert svg.count("http") == 1  # the SVG namespace only
    root = drawing(svg)
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Coverage: 10 towns served by 2 offices"  # type: ignore[union-attr]


def test_town_names_cannot_inject_markup(settings: Settings, locations_csv: Path) -> None:
    write_csv(locations_csv, 'Cary<script>,IL,,,42.2120,-88.2381')
    svg = coverage_svg(load_snapshot(settings).catalog)
    assert "<script>" not in svg and "Cary&lt;script&gt;, IL" in svg


def test_landing_check_writes_the_map(in_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "coverage.svg"
    assert main(["check", "--map", str(target)]) == 0
    assert len(list(drawing(target.read_text()).iter(f"{SVG}circle"))) == 10
    assert f"coverage map written to {target}" in capsys.readouterr().err
