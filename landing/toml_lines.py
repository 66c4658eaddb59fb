"""Where things are in a TOML file: the line of each table and key, by its path in the parsed document.

tomllib gives values without positions, so an error about ``[reviewer] reviewed`` needs its line found
again. Searching for text finds the wrong line as often as the right one (a comment that mentions the key,
the same key in another table, a value that spells it); this reads the file's structure instead: table
headers, arrays of tables with their index, keys (bare, quoted, dotted), and it skips comments,
multi-line strings and values that span lines, so nothing inside them is taken for a key.

Paths are tuples as the parsed document has them: ``("reviewer", "reviewed")``, ``("offices", 1, "zip")``
(the second [[offices]]), ``("treatments", 0, "faqs", 2)`` (that FAQ's [[treatments.faqs]] header).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Path = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SPACE = " \t"


class TomlLines:
    """The line (1-based) of every table header and key of a TOML text."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        self._arrays: dict[Path, int] = {}  # array of tables -> how many seen so far
        self._read(text)

    def line(self, path: Path) -> int | None:
        """The line of ``path``; for a path the file does not spell out (a missing key), the line of its
        nearest enclosing table that it does, so a message still points at the right part of the file."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def _read(self, text: str) -> None:
        table: Path = ()
        lines = text.splitlines()
        number = 0
        while number < len(lines):
            line = lines[number]
            number += 1
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("[["):
                name = _header(stripped[2:], "]]")
                if name is not None:
                    parent = self._resolve(name[:-1])
                    array = (*parent, name[-1])
                    index = self._arrays.get(array, 0)
                    self._arrays[array] = index + 1
                    table = (*array, index)
                    self.lines.setdefault(array, number)
                    self.lines[table] = number
                continue
            if stripped.startswith("["):
                name = _header(stripped[1:], "]")
                if name is not None:
                    table = self._resolve(name)
                    self.lines.setdefault(table, number)
                continue
            key, rest = _key(stripped)
            if key is None:
                continue
            self.lines.setdefault((*table, *key), number)
            # A value may go on over the next lines: a multi-line string, or an array / inline table.
            number = _skip_value(rest, lines, number)

    def _resolve(self, name: tuple[str, ...]) -> Path:
        """A dotted table name -> its path, with the current index of every array of tables on the way
        ([treatments.faqs] inside the second [[treatments]] is under ("treatments", 1))."""
        path: Path = ()
        for part in name:
            path = (*path, part)
            if path in self._arrays:
                path = (*path, self._arrays[path] - 1)
        return path


def _header(text: str, close: str) -> tuple[str, ...] | None:
    parts = list(_dotted(text))
    if not parts or parts[-1][1] is None:
        return None
    rest = parts[-1][1].lstrip(_SPACE)
    if not rest.startswith(close):
        return None
    return tuple(name for name, _ in parts)


def _key(text: str) -> tuple[tuple[str, ...] | None, str]:
    parts = list(_dotted(text))
    if not parts or parts[-1][1] is None:
        return None, ""
    rest = parts[-1][1].lstrip(_SPACE)
    if not rest.startswith("="):
        return None, ""
    return tuple(name for name, _ in parts), rest[1:]


def _dotted(text: str) -> Iterator[tuple[str, str | None]]:
    """The parts of a dotted key (bare or quoted), each with the text after it (None when malformed)."""
    rest = text.lstrip(_SPACE)
    while True:
        if rest[:1] in ('"', "'"):
            quote = rest[0]
            end = _string_end(rest, 1, quote)
            if end < 0:
                yield "", None
                return
            name = rest[1:end - 1]
            rest = rest[end:]
        else:
            match = _BARE.match(rest)
            if not match:
                yield "", None
                return
            name, rest = match.group(), rest[match.end():]
        after = rest.lstrip(_SPACE)
        if after.startswith("."):
            yield name, after
            rest = after[1:].lstrip(_SPACE)
            continue
        yield name, rest
        return


def _string_end(text: str, start: int, quote: str) -> int:
    """The index just past the closing ``quote`` of a one-line string opened before ``start``; -1 if none."""
    index = start
    while index < len(text):
        character = text[index]
        if character == "\\" and quote == '"':
            index += 2
            continue
        if character == quote:
            return index + 1
        index += 1
    return -1


def _skip_value(value: str, lines: list[str], number: int) -> int:
    """The number of the last line a value starting with ``value`` (on line ``number``) takes up."""
    depth = 0
    text = value
    while True:
        index = 0
        while index < len(text):
            character = text[index]
            if character == "#":
                break
            if text.startswith(('"""', "'''"), index):
                delimiter = text[index:index + 3]
                end = text.find(delimiter, index + 3)
                while end < 0:  # the string goes on over the next lines
                    if number >= len(lines):
                        return number
                    text, index, number = lines[number], 0, number + 1
                    end = text.find(delimiter)
                index = end + 3
                continue
            if character in ('"', "'"):
                end = _string_end(text, index + 1, character)
                index = end if end > 0 else len(text)
                continue
            if character in "[{":
                depth += 1
            elif character in "]}":
                depth -= 1
            index += 1
        if depth <= 0 or number >= len(lines):
            return number
        text, number = lines[number], number + 1
