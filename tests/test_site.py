"""site.toml: the practice, offices, treatments and reviewer, and what a mistake in them says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from landing.catalog import SourceFiles, load_catalog
from landing.errors import ConfigError
from landing.site import Hours, load_site

ROOT = Path(__file__).resolve().parent.parent


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    return caught.value.problems


def test_the_example_practice_loads() -> None:
    site = load_site(ROOT / "site.toml")
    assert site.practice.name == "Illinois Pain & Spine Institute"
    assert [office.town for office in site.offices] == ["Barrington", "Crystal Lake"]
    assert all("555-01" in office.phone and office.email.endswith("@example.com") for office in site.offices)
    (treatment,) = site.treatments
    assert treatment.slug == "intrathecal-pump-therapy" and len(treatment.faqs) == 5
    assert site.reviewer.reviewed == dt.date(2026, 11, 1)


def test_office_phone_becomes_an_e164_tel_link() -> None:
    office = load_site(ROOT / "site.toml").offices_by_id["barrington"]
    assert office.phone_href == "tel:+18475550142"


@pytest.mark.parametrize(
    ("hours", "label"),
    [
        (Hours(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"), "08:00", "17:00"), "Monday–Friday: 8:00 AM–5:00 PM"),
        (Hours(("Monday", "Wednesday"), "12:30", "13:00"), "Monday, Wednesday: 12:30 PM–1:00 PM"),
        (Hours(("Saturday",), "09:00", "12:00"), "Saturday: 9:00 AM–12:00 PM"),
    ],
)
def test_hours_read_like_a_sign_on_the_door(hours: Hours, label: str) -> None:
    assert hours.label == label


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        '[practice]\nname = "P"\nbase_url = "pain.example.com/x"\n\n'
        '[reviewer]\nname = "Dr. R"\nreviewed = "yesterday"\n\n'
        '[[offices]]\nid = "main"\nname = "Main"\nstreet = "1 Road"\ntown = "T"\nstate = "IL"\nzip = "600"\n'
        'phone = "555-0142"\nemail = "nobody"\nlatitude = 142.0\nlongitude = -88.0\n'
        'hours = [{ days = ["Funday"], opens = "08:00", closes = "17:00" }]\n\n'
        '[[treatments]]\nslug = "Pumps"\nname = "Pumps"\n',
        encoding="utf-8",
    )
    assert problems_of(path) == [
        "site.toml:3: [practice]: base_url 'pain.example.com/x' must look like https://www.example.com (scheme and host, no path)",
        "site.toml:15: office 'main': zip '600' must be 5 digits in quotes, e.g. \"60010\"",
        "site.toml:16: office 'main': phone '555-0142' is not a 10-digit US number (write it like (847) 555-0142)",
        "site.toml:17: office 'main': email 'nobody' is not an email address",
        "site.toml:18: office 'main': latitude must be a number between -90 and 90, without quotes",
        "site.toml:20: office 'main': hours days ['Funday'] must be day names like \"Monday\"",
        "site.toml:23: treatment 'Pumps': slug must be lower case letters, digits and dashes (try 'pumps')",
        "site.toml:22: treatment 'Pumps': 'description' is missing (add description = \"...\")",
        "site.toml:7: [reviewer]: reviewed must be a date without quotes, e.g. reviewed = 2026-11-01",
    ]


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[practice]\nname = "Unclosed\n', encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.startswith("site.toml: not valid TOML:") and "line 2" in problem


def test_duplicate_office_ids_are_refused(tmp_path: Path) -> None:
    text = (ROOT / "site.toml").read_text().replace('id = "crystal-lake"', 'id = "barrington"')
    (tmp_path / "site.toml").write_text(text)
    assert any("id 'barrington' is used twice" in p for p in problems_of(tmp_path / "site.toml"))


def test_a_missing_content_template_and_a_reserved_slug_are_reported(site_dir: Path) -> None:
    site = site_dir / "site.toml"
    site.write_text(site.read_text().replace('slug = "nerve-blocks"', 'slug = "admin"'))
    with pytest.raises(ConfigError) as caught:
        load_catalog(SourceFiles(site, site_dir / "locations.csv", site_dir / "templates"))
    found = caught.value.problems
    assert "site.toml: treatment slug 'admin' is reserved for the service itself (choose another slug)" in found
    # The CSV names nerve-blocks, which no longer exists: that is reported too, in the same run.
    assert any("locations.csv:8: column 'treatments': 'nerve-blocks' is not a treatment slug" in p for p in found)


def test_a_quoted_date_is_reported_at_its_own_line_not_at_a_comment_naming_it(tmp_path: Path) -> None:
    text = (ROOT / "site.toml").read_text(encoding="utf-8")
    assert "`reviewed`" in text  # a comment above mentions the key
    (tmp_path / "site.toml").write_text(text.replace("reviewed = 2026-11-01", 'reviewed = "2026-11-01"'))
    line = next(number for number, line in enumerate(text.splitlines(), start=1) if line.startswith("reviewed ="))
    assert problems_of(tmp_path / "site.toml") == [
        f"site.toml:{line}: [reviewer]: reviewed must be a date without quotes, e.g. reviewed = 2026-11-01"]


def test_the_second_office_is_pointed_at_not_the_first(tmp_path: Path) -> None:
    text = (ROOT / "site.toml").read_text(encoding="utf-8")
    (tmp_path / "site.toml").write_text(text.replace('zip = "60014"', 'zip = "6001"'))
    line = next(number for number, line in enumerate(text.splitlines(), start=1) if line.startswith('zip = "60014"'))
    assert problems_of(tmp_path / "site.toml") == [
        f"site.toml:{line}: office 'crystal-lake': zip '6001' must be 5 digits in quotes, e.g. \"60010\""]


def test_unknown_keys_get_a_did_you_mean(tmp_path: Path) -> None:
    text = (ROOT / "site.toml").read_text(encoding="utf-8")
    (tmp_path / "site.toml").write_text(text + "\n[quality]\nmax_ofice_miles = 40\n")
    (problem,) = problems_of(tmp_path / "site.toml")
    assert problem.endswith("[quality]: unknown key 'max_ofice_miles' (did you mean 'max_office_miles'?)")
    assert problem.startswith(f"site.toml:{len(text.splitlines()) + 3}:")
