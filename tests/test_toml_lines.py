"""The site.toml line finder, checked against lines marked by hand: each line a key or table should be found
at ends with a comment naming its path (`#@ reviewer.reviewed`), or follows a line `#v path` where the value
leaves no room for a comment (a multi-line string); no TOML parser is asked where they are."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from landing.toml_lines import TomlLines

TRICKY = '''\
# reviewed = 2026-01-01 is how a date is written; name = "x" in a comment is no key
[practice]  #@ practice
name = "A [bracketed] = name"  #@ practice.name
"quoted key" = 'single # not a comment'  #@ practice.quoted key
#v practice.motto
motto = """
logo = "not a key: inside a multi-line string"
[not.a.table]
"""
logo = "/static/logo.svg"  #@ practice.logo

[reviewer]  #@ reviewer
# the reviewed date below is quoted on purpose: tomllib reads it as text
name = "Dr. Reviewer"  #@ reviewer.name
reviewed = "2026-11-01"  #@ reviewer.reviewed

[[offices]]  #@ offices #@ offices.0
id = "one"  #@ offices.0.id
hours = [  #@ offices.0.hours
  { days = ["Monday"], opens = "08:00", closes = "17:00" },
  { days = ["Friday"], opens = "08:00", closes = "12:00" },
]
zip = "60010"  #@ offices.0.zip

[[offices]]  #@ offices.1
id = "two"  #@ offices.1.id
zip = '60014'  #@ offices.1.zip
geo.latitude = 42.1  #@ offices.1.geo.latitude

[[treatments]]  #@ treatments #@ treatments.0
slug = "a"  #@ treatments.0.slug
[[treatments.faqs]]  #@ treatments.0.faqs #@ treatments.0.faqs.0
question = "Why?"  #@ treatments.0.faqs.0.question
#v treatments.0.faqs.0.answer
answer = \'\'\'Because
question = "not this one"
\'\'\'

[[treatments]]  #@ treatments.1
slug = "b"  #@ treatments.1.slug
[[treatments.faqs]]  #@ treatments.1.faqs #@ treatments.1.faqs.0
question = "How?"  #@ treatments.1.faqs.0.question
[[treatments.faqs]]  #@ treatments.1.faqs.1
question = "When?"  #@ treatments.1.faqs.1.question

[quality]  #@ quality
gate = 0.9  #@ quality.gate
'''


def marked(text: str) -> dict[tuple[str | int, ...], int]:
    """Path -> line, from the `#@ path` markers (the part after the last '#@' of each marker)."""
    expected = {}
    for number, line in enumerate(text.splitlines(), start=1):
        markers = [(marker, number) for marker in re.findall(r"#@ ([^#]+)", line)]
        markers += [(marker, number + 1) for marker in re.findall(r"^#v (.+)$", line)]
        for marker, at in markers:
            path = tuple(int(part) if part.isdigit() else part for part in marker.strip().split("."))
            expected[path] = at
    return expected


def test_every_marked_key_and_table_is_found_on_its_line() -> None:
    tomllib.loads(TRICKY)  # the fixture is valid TOML
    found = TomlLines(TRICKY)
    expected = marked(TRICKY)
    assert len(expected) > 30
    assert {path: found.line(path) for path in expected} == expected


def test_keys_inside_strings_and_comments_are_not_keys() -> None:
    found = TomlLines(TRICKY)
    assert ("reviewed",) not in found.lines and ("name",) not in found.lines
    assert ("not", "a", "table") not in found.lines
    assert found.line(("practice", "logo")) == marked(TRICKY)[("practice", "logo")]


def test_a_missing_key_points_at_its_table() -> None:
    found = TomlLines(TRICKY)
    assert found.line(("offices", 1, "phone")) == marked(TRICKY)[("offices", 1)]
    assert found.line(("consent", "text")) is None


def test_the_example_site_toml_is_read_whole() -> None:
    text = (Path(__file__).resolve().parent.parent / "site.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    found = TomlLines(text)
    lines = text.splitlines()
    for index, office in enumerate(data["offices"]):
        for key in office:
            line = found.line(("offices", index, key))
            assert line is not None and lines[line - 1].startswith(f"{key} ="), (index, key)
    for index, treatment in enumerate(data["treatments"]):
        for number, faq in enumerate(treatment["faqs"]):
            line = found.line(("treatments", index, "faqs", number, "question"))
            assert line is not None and faq["question"] in lines[line - 1]


@pytest.mark.parametrize("broken", ["[unclosed", "= no key", "key without value", '"open = 1', "[[x]"])
def test_lines_that_are_no_key_are_passed_over(broken: str) -> None:
    found = TomlLines(f"{broken}\n[ok]\nkey = 1\n")
    assert found.line(("ok", "key")) == 3
