"""The README is the manual: every setting, command and CSV column must be in it."""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from landing.cli import make_parser
from landing.locations import COLUMNS
from landing.settings import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, help) for each setting, as the README lists them."""
    return [(env_name(spec.name), "" if spec.default is None else str(spec.default), spec.metadata["help"])
            for spec in fields(Settings)]


@pytest.mark.parametrize(("variable", "default", "help"), documented_settings())
def test_every_setting_is_in_the_readme_with_its_default(variable: str, default: str, help: str) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{variable}` |")), None)
    assert row is not None, f"{variable} is missing from the README's settings table"
    assert (f"`{default}`" if default else "(none)") in row
    assert help in row


@pytest.mark.parametrize("column", COLUMNS)
def test_every_csv_column_is_in_the_readme(column: str) -> None:
    assert f"`{column}`" in README


def commands() -> list[tuple[str, list[str]]]:
    """Every `landing` command (with its sub-command) and its options, from the command line's own parser."""
    found = []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        if not subparsers:
            options = [option for action in parser._actions for option in action.option_strings
                       if option.startswith("--") and option != "--help"]
            found.append((" ".join(words), options))
        for action in subparsers:
            for name, child in action.choices.items():
                walk(child, [*words, name])

    walk(make_parser(), ["landing"])
    return found


@pytest.mark.parametrize(("command", "options"), commands(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_command_and_option_is_in_the_readmes_command_table(command: str, options: list[str]) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{command}")), None)
    assert row is not None, f"`{command}` is missing from the README's command line table"
    assert [option for option in options if option not in row] == []


def test_the_command_table_found_every_command() -> None:
    names = [command for command, _ in commands()]
    assert {"landing init", "landing serve", "landing check", "landing build", "landing users add",
            "landing leads export"} <= set(names)


def test_the_readme_opens_with_the_two_commands() -> None:
    block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("  #")[0].strip() for line in block.strip().splitlines()]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/landing serve",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install --quiet -e '.[test]' && .venv/bin/pytest" in ci


def test_the_pythons_ci_tests_are_the_ones_declared_and_documented() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    tested = re.findall(r"^\w+=\$\(python_for (3\.\d+)\)$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    assert tested == [project["requires-python"].removeprefix(">="), declared[-1]]  # the oldest and the newest
    assert f"(`.ci/run` tests on Python {' and '.join(tested)})" in README
