"""locations.csv: what a marketer's file may look like, and what they are told when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from landing import locations as locations_module
from landing.errors import ConfigError
from landing.gazetteer import GAZETTEER
from landing.locations import Location, default_slug, load_locations, parse_locations
from landing.site import Column

OFFICES = ("barrington", "crystal-lake")
TREATMENTS = ("intrathecal-pump-therapy", "nerve-blocks")


def parse(text: str | bytes, offices: tuple[str, ...] = ("barrington",)) -> tuple[Location, ...]:
    """Parse with one office by default, so towns without coordinates have an office to fall back on."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_locations(data, "locations.csv", offices, TREATMENTS)


def problems(text: str | bytes, offices: tuple[str, ...] = ("barrington",)) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text, offices)
    return caught.value.problems


def test_an_excel_saved_file_loads_with_bom_crlf_blank_lines_and_padding() -> None:
    data = ("\ufefftown , State ,zip\r\n  Barrington ,  il , 60010 \r\n\r\nCañon City,CO,81212\r\n\r\n\r\n").encode("utf-8")
    locations = parse(data)
    assert [(loc.town, loc.state, loc.zip) for loc in locations] == [("Barrington", "IL", "60010"), ("Cañon City", "CO", "81212")]
    assert locations[0].line == 2 and locations[1].line == 4


def test_semicolon_separated_files_from_european_excel_load() -> None:
    assert parse("town;state\nSt. Charles;IL\n")[0].slug == "st-charles-il"


@pytest.mark.parametrize(
    ("town", "state", "slug"),
    [("St. Charles", "IL", "st-charles-il"), ("Coeur d'Alene", "ID", "coeur-d-alene-id"),
     ("Cañon City", "CO", "canon-city-co"), ("Lake in the Hills", "IL", "lake-in-the-hills-il")],
)
def test_default_slug_is_town_and_state(town: str, state: str, slug: str) -> None:
    assert default_slug(town, state) == slug


def test_every_column_is_read() -> None:
    (location,) = parse(
        "town,state,county,zip,latitude,longitude,slug,aliases,office,treatments,intro,notes\n"
        'Barrington,IL,Lake County,60010,42.15,-88.13,barrington,old-barrington;barrington-illinois,barrington,'
        'nerve-blocks,"Close to us, really.",secret\n'
    )
    assert location == Location(
        town="Barrington", state="IL", slug="barrington", county="Lake County", zip="60010", latitude=42.15,
        longitude=-88.13, aliases=("old-barrington", "barrington-illinois"), office="barrington",
        treatments=("nerve-blocks",), intro="Close to us, really.", notes="secret", line=2,
    )


def test_zip_plus_four_keeps_the_five_digit_zip() -> None:
    assert parse("town,state,zip\nBarrington,IL,60010-1234\n")[0].zip == "60010"


def test_every_problem_of_the_file_is_reported_at_once_with_line_and_column() -> None:
    found = problems(
        "town,state,zip,latitude,longitude\n"
        "Barrington,XX,60010,42.1,-88.1\n"
        "Palatine,IL,6006,42.1,-88.1\n"
        "Cary,IL,60013,142.1,-88.1\n"
    )
    assert found == [
        "locations.csv:2: column 'state': 'XX' is not a US state or territory code (expected e.g. IL)",
        "locations.csv:3: column 'zip': '6006' has lost its leading zero (Excel drops them; format the column as "
        "Text and write '06006')",
        "locations.csv:4: column 'latitude': 142.1 is out of range (it must be between -90 and 90; check that "
        "latitude and longitude are not swapped)",
    ]


def test_unknown_column_suggests_the_closest_known_one() -> None:
    assert problems("town,state,lattitude\nBarrington,IL,42\n") == [
        "locations.csv:1: column 'lattitude': unknown column (did you mean 'latitude'?)"
    ]


def test_unknown_column_without_a_close_match_lists_the_known_ones() -> None:
    (problem,) = problems("town,state,population\nBarrington,IL,10000\n")
    assert problem.startswith("locations.csv:1: column 'population': unknown column (known columns: town, state,")


def test_missing_required_column_is_named() -> None:
    assert problems("town,county\nBarrington,Lake County\n") == [
        "locations.csv:1: column 'state': required column is missing from the header (add a 'state' column)"
    ]


def test_rows_are_still_checked_when_the_header_has_a_problem() -> None:
    found = problems("town,state,lattitude\nBarrington,XX,42\n")
    assert len(found) == 2 and "'XX' is not a US state" in found[1]


def test_duplicate_slug_names_both_lines() -> None:
    assert problems("town,state\nBarrington,IL\nPalatine,IL\nBarrington,il\n") == [
        "locations.csv:4: column 'slug': 'barrington-il' is already used by Barrington, IL on line 2 (set a "
        "different slug on one of them, e.g. 'barrington-il-2', or remove the duplicate row)"
    ]


def test_alias_that_is_another_towns_slug_is_refused() -> None:
    (problem,) = problems("town,state,aliases\nBarrington,IL,\nPalatine,IL,barrington-il\n")
    assert problem.startswith("locations.csv:3: column 'aliases': 'barrington-il' is already used by Barrington, IL on line 2")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (",IL,,", "locations.csv:2: column 'town': is empty (every row needs the town's name)"),
        ("Barrington,,,", "locations.csv:2: column 'state': is empty (add the USPS code, e.g. IL)"),
        ("Barrington,IL,north,-88", "locations.csv:2: column 'latitude': 'north' is not a number (use decimal "
         "degrees, e.g. 42.1539)"),
        ("Barrington,IL,42.1,", "locations.csv:2: column 'longitude': is empty but the other coordinate is given "
         "(give both, or neither)"),
        ("Barrington,IL,42.1,-200", "locations.csv:2: column 'longitude': -200 is out of range (it must be between "
         "-180 and 180; check that latitude and longitude are not swapped)"),
    ],
)
def test_bad_values_are_explained(row: str, expected: str) -> None:
    assert problems(f"town,state,latitude,longitude\n{row}\n") == [expected]


def test_bad_zip_is_explained() -> None:
    assert problems("town,state,zip\nBarrington,IL,ABCDE\n") == [
        "locations.csv:2: column 'zip': 'ABCDE' is not a 5-digit ZIP code (e.g. 60010)"
    ]


def test_bad_slug_suggests_a_valid_one() -> None:
    assert problems("town,state,slug\nBarrington,IL,Barrington IL\n") == [
        "locations.csv:2: column 'slug': 'Barrington IL' is not a valid slug (use lower case letters, digits and "
        "dashes, e.g. 'barrington-il')"
    ]


def test_unknown_office_and_treatment_get_a_did_you_mean() -> None:
    assert problems("town,state,office,treatments\nBarrington,IL,barington,nerve-block;intrathecal-pump-therapy\n") == [
        "locations.csv:2: column 'office': 'barington' is not an office id in site.toml (did you mean 'barrington'?)",
        "locations.csv:2: column 'treatments': 'nerve-block' is not a treatment slug in site.toml (did you mean "
        "'nerve-blocks'?)",
    ]


def test_a_town_without_coordinates_or_office_cannot_find_its_office() -> None:
    assert problems("town,state\nBarrington,IL\n", offices=OFFICES) == [
        "locations.csv:2: column 'office': is empty and the town has no coordinates, so its nearest office cannot be "
        "found (add latitude and longitude, or name the office)"
    ]


def test_wrong_number_of_values_says_how_to_quote() -> None:
    assert problems("town,state,intro\nBarrington,IL,Close to us, really\n") == [
        "locations.csv:2: has 4 values but the header has 3 columns (check for a missing or extra comma; put values "
        "that contain commas in double quotes)"
    ]


def test_a_quoted_value_spanning_lines_keeps_line_numbers_right() -> None:
    found = problems('town,state,intro\nBarrington,IL,"first line\nsecond line"\nPalatine,XX,\n')
    assert found[0].startswith("locations.csv:4: column 'state'")


def test_a_file_that_is_not_utf8_says_how_to_resave_it() -> None:
    (problem,) = problems("town,state\nCañon City,CO\n".encode("cp1252"))
    assert problem.startswith("locations.csv:2: the file is not UTF-8 text (byte 0xf1 cannot be read); re-save it as UTF-8")
    assert "CSV UTF-8" in problem


@pytest.mark.parametrize("text", ["", "\r\n\r\n", "\ufeff"])
def test_an_empty_file_says_what_it_needs(text: str) -> None:
    (problem,) = problems(text)
    assert problem.startswith("locations.csv: the file is empty (it needs a header row")


def test_a_header_without_rows_says_to_add_towns() -> None:
    assert problems("town,state\n\n") == [
        "locations.csv: no towns: the file has a header but no rows (add one row per town below it)"
    ]


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_locations(tmp_path / "nowhere.csv")
    assert caught.value.problems[0].startswith("nowhere.csv: cannot read the file")


def test_the_example_file_loads_with_at_least_30_real_towns() -> None:
    root = Path(__file__).resolve().parent.parent
    locations = load_locations(root / "locations.csv", OFFICES, TREATMENTS)
    assert len(locations) >= 30
    assert all(loc.county and len(loc.zip) == 5 and loc.has_coordinates for loc in locations)
    assert {"barrington-il", "crystal-lake-il"} <= {loc.slug for loc in locations}


# -- the practice's own columns ---------------------------------------------------------------------------

HOSPITAL = Column("hospital", "Nearest hospital", max_length=40)


def test_a_declared_column_becomes_a_local_fact_of_the_town() -> None:
    data = "town,state,zip,hospital\nBarrington,IL,60010,Good Shepherd Hospital\nCary,IL,60013,\n".encode()
    barrington, cary = parse_locations(data, "locations.csv", ("barrington",), TREATMENTS, (HOSPITAL,))
    assert barrington.extra == {"hospital": "Good Shepherd Hospital"}
    assert cary.extra == {"hospital": ""}


def test_an_undeclared_column_is_still_a_typo_and_a_long_value_is_refused() -> None:
    data = f"town,state,hospitl\nBarrington,IL,{'x' * 41}\n".encode()
    with pytest.raises(ConfigError) as caught:
        parse_locations(data, "locations.csv", ("barrington",), TREATMENTS, (HOSPITAL,))
    assert caught.value.problems == ["locations.csv:1: column 'hospitl': unknown column (did you mean 'hospital'?)"]
    data = f"town,state,hospital\nBarrington,IL,{'x' * 41}\n".encode()
    with pytest.raises(ConfigError) as caught:
        parse_locations(data, "locations.csv", ("barrington",), TREATMENTS, (HOSPITAL,))
    assert caught.value.problems == ["locations.csv:2: column 'hospital': is 41 characters long (keep it under 40, or "
                                     "raise max_length in site.toml)"]


def test_an_unknown_column_says_how_to_declare_one() -> None:
    (problem,) = problems("town,state,parking_notes\nBarrington,IL,Free\n")
    assert "a column of your own must be declared in site.toml under [[locations.columns]]" in problem


def test_the_worklist_columns_are_passed_over_so_a_filled_in_worklist_loads() -> None:
    (town,) = parse("priority,similar_to,shared_words,what_to_add,town,state,intro\n1,/x/cary-il/,96%,an intro,"
                    "Barrington,IL,Our own words.\n")
    assert town.intro == "Our own words."


# -- one mistake, said once ---------------------------------------------------------------------------------


def test_a_misspelt_coordinate_column_is_reported_once_and_slugs_are_still_checked() -> None:
    text = ("town,state,latitude,longtiude\nBarrington,IL,42.15,-88.13\nCary,IL,42.21,-88.23\n"
            "Cary,IL,42.21,-88.23\n")
    assert problems(text, offices=OFFICES) == [
        "locations.csv:1: column 'longtiude': unknown column (did you mean 'longitude'?)",
        "locations.csv:4: column 'slug': 'cary-il' is already used by Cary, IL on line 3 (set a different slug on one "
        "of them, e.g. 'cary-il-2', or remove the duplicate row)",
    ]


def test_a_duplicate_slug_is_reported_even_when_its_row_has_other_problems() -> None:
    assert problems("town,state,zip\nCary,IL,60013\nCary,IL,600\n") == [
        "locations.csv:3: column 'zip': '600' has lost its leading zero (Excel drops them; format the column as Text "
        "and write '00600')",
        "locations.csv:3: column 'slug': 'cary-il' is already used by Cary, IL on line 2 (set a different slug on one "
        "of them, e.g. 'cary-il-2', or remove the duplicate row)",
    ]


# -- towns filled from the ZIP code data ---------------------------------------------------------------------


def filled(text: str, offices: tuple[str, ...] = OFFICES) -> tuple[Location, ...]:
    return parse_locations(text.encode(), "locations.csv", offices, TREATMENTS, (), GAZETTEER)


def test_a_town_given_by_name_and_state_gets_its_county_zip_coordinates_and_time_zone() -> None:
    (cary,) = filled("town,state\nCary,IL\n")
    assert (cary.county, cary.zip, cary.timezone) == ("McHenry County", "60013", "America/Chicago")
    assert cary.latitude == pytest.approx(42.22, abs=0.05) and cary.longitude == pytest.approx(-88.24, abs=0.05)
    assert cary.filled == ("county", "zip", "latitude", "longitude")
    assert cary.filled_from == "the ZIP codes of Cary, IL"


def test_given_values_always_win() -> None:
    (cary,) = filled("town,state,county,latitude,longitude\nCary,IL,Our County,42.2,-88.2\n")
    assert (cary.county, cary.latitude, cary.longitude) == ("Our County", 42.2, -88.2)
    assert cary.filled == ()  # its given county matches none of Cary's ZIP codes: nothing is taken from them


def test_abbreviations_are_matched_and_a_town_with_several_zip_codes_gets_none() -> None:
    (charles,) = filled("town,state\nSt. Charles,IL\n")
    assert charles.county == "Kane County" and charles.zip == "" and charles.has_coordinates
    assert "zip" not in charles.filled


def test_a_given_zip_decides_which_records_fill_the_town() -> None:
    (town,) = filled("town,state,zip\nSt. Charles,IL,60175\n")
    assert town.filled_from == "ZIP code 60175" and town.county == "Kane County"


def test_a_town_across_a_county_line_gets_its_position_and_a_note_not_a_guessed_county() -> None:
    (naperville,) = filled("town,state\nNaperville,IL\n")
    assert naperville.county == "" and naperville.has_coordinates
    assert naperville.fill_note == "its ZIP codes are in DuPage County and Will County; give its county"
    (given,) = filled("town,state,county\nNaperville,IL,Will County\n")
    assert given.county == "Will County" and given.fill_note == ""


def test_an_unknown_town_is_an_error_asking_for_its_zip_or_position() -> None:
    with pytest.raises(ConfigError) as caught:
        filled("town,state\nBarrington,IL\nSpringfeld,IL\n")
    assert caught.value.problems == [
        "locations.csv:3: column 'town': Springfeld, IL is not in the ZIP code data: check the spelling (as the USPS "
        "writes it, e.g. 'Saint Charles'), or give the town's zip, or its latitude and longitude"]


def test_an_unknown_town_with_its_own_coordinates_is_fine() -> None:
    (town,) = filled("town,state,latitude,longitude\nHidden Hollow,IL,42.2,-88.2\n")
    assert town.county == "" and town.filled == ()


def test_the_fast_default_slug_agrees_with_slugify_on_every_town_of_the_zip_code_data() -> None:
    import zipcodes
    from slugify import slugify

    from landing.states import STATES

    names = {(record["city"], record["state"]) for record in zipcodes.list_all() if record["state"] in STATES}
    names |= {("Coeur d'Alene", "ID"), ("St. Charles", "IL"), ("Cañon City", "CO"), ("Town 1,000", "IL"),
              ("Winston-Salem", "NC"), ("  Padded  ", "IL"), ("A & B", "NJ"), ("O'Fallon", "MO")}
    assert len(names) > 29_000
    assert [(town, state) for town, state in sorted(names) if default_slug(town, state) != slugify(f"{town} {state}")] == []


# -- a reload reads again only what changed ---------------------------------------------------------------


def fresh(text: str, offices: tuple[str, ...] = ("barrington",)) -> tuple[Location, ...]:
    """Parsed with nothing remembered from an earlier parse."""
    locations_module._remembered = None
    return parse(text, offices)


ROWS = "town,state,office,latitude,longitude,intro\n" + "".join(
    f"Town {number},IL,barrington,42.{number:02d},-88.1,Intro {number}.\n" for number in range(40))


def test_a_reload_after_one_edit_gives_what_a_first_parse_gives() -> None:
    parse(ROWS)
    edited = ROWS.replace("Intro 7.", "A new intro.").replace("Town 30,", "Town Thirty,")
    assert parse(edited) == fresh(edited)
    assert parse(edited)[7].intro == "A new intro." and parse(edited)[30].slug == "town-thirty-il"
    moved = "town,state,office,latitude,longitude,intro\n" + ROWS.split("\n", 2)[2]  # every row a line up
    assert parse(moved) == fresh(moved) and parse(moved)[0].line == 2


def test_rows_read_before_are_checked_again_under_new_settings() -> None:
    parse(ROWS)
    with pytest.raises(ConfigError) as caught:
        parse(ROWS, offices=("crystal-lake",))  # the office was renamed in site.toml
    assert len(caught.value.problems) == 40 and "'barrington' is not an office id" in caught.value.problems[0]


def test_a_slug_taken_by_an_edited_row_is_reported_beside_a_row_read_before() -> None:
    parse(ROWS)
    edited = ROWS.replace("Town 39,IL", "Town 3,IL")
    with pytest.raises(ConfigError) as caught:
        parse(edited)
    assert any("town-3-il" in problem for problem in caught.value.problems)
