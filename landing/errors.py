"""The one exception family of the project: every problem a person can fix is a LandingError."""

from __future__ import annotations


class LandingError(Exception):
    """A problem with the practice's files or settings, worded for the person who fixes it."""


class ConfigError(LandingError):
    """One or more problems in site files (site.toml, locations.csv, templates).

    ``problems`` holds every message, each already prefixed with ``file:line:`` where a line is known,
    so that a marketer sees all of them at once rather than fixing one per run.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
