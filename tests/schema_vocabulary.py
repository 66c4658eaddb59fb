"""Checks a JSON-LD graph against the whole published schema.org vocabulary, not a list of our own.

The vocabulary is schema.org's own definitions file, checked in unchanged (tests/data/schemaorg/README.md
says which release and under what licence). A graph passes when

- every ``@type`` is a schema.org class (not a data type, an enumeration member or a property);
- every property is a schema.org property whose domain includes the node's type or one of its
  superclasses (so ``name`` is allowed on a MedicalClinic because it is a Thing);
- every value is of a type the property's range includes, or of a subclass of one: a nested node by its
  ``@type``, a reference ``{"@id": ...}`` by the type of the node it names, a string or number by the
  data types it can be (Text, URL, Date, DateTime, Time, Number, Integer, Float, Boolean), and an
  enumeration member by its schema.org URL (``https://schema.org/Monday`` is a DayOfWeek);
- no term is pending (may still change) or superseded.

A URL that is not schema.org's and names no node of the graph stands for a thing elsewhere whose type
cannot be known here; it is accepted where the range expects a kind of thing (``item`` of a ListItem,
as schema.org's and Google's breadcrumb examples give it), never where only an enumeration member or a
data type other than URL will do.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FILE = Path(__file__).resolve().parent / "data" / "schemaorg" / "schemaorg-current-https.jsonld"
RELEASE = "30.0"  # tests/data/schemaorg/README.md; change the two together when the file is replaced
SHA256 = "4467fa19edcb1d7fb3c46c0adf3591b7f870c4a60b7838bdb61694fd02864cf6"

SCHEMA = "https://schema.org/"
_PENDING = "https://pending.schema.org"
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


@dataclass
class Term:
    name: str
    types: frozenset[str]  # its own @type: rdfs:Class, rdf:Property, or the enumeration it is a member of
    parents: tuple[str, ...] = ()  # rdfs:subClassOf
    domain: frozenset[str] = frozenset()  # schema:domainIncludes
    range: tuple[str, ...] = ()  # schema:rangeIncludes
    pending: bool = False
    superseded_by: tuple[str, ...] = ()


@dataclass(eq=False)
class Vocabulary:
    terms: dict[str, Term] = field(default_factory=dict)
    _lineages: dict[str, frozenset[str]] = field(default_factory=dict)

    # -- what the vocabulary says ---------------------------------------------------------------------

    def is_class(self, name: str) -> bool:
        term = self.terms.get(name)
        return term is not None and "rdfs:Class" in term.types

    def is_property(self, name: str) -> bool:
        term = self.terms.get(name)
        return term is not None and "rdf:Property" in term.types

    def lineage(self, name: str) -> frozenset[str]:
        """The class itself and every class it is a subclass of, up to Thing (or to DataType)."""
        if name not in self._lineages:
            term = self.terms.get(name)
            parents = term.parents if term else ()
            self._lineages[name] = frozenset({name} if term else ()).union(*(self.lineage(p) for p in parents))
        return self._lineages[name]

    def is_data_type(self, name: str) -> bool:
        return any("schema:DataType" in self.terms[kind].types for kind in self.lineage(name))

    def is_enumeration(self, name: str) -> bool:
        return "Enumeration" in self.lineage(name)

    def members(self, enumeration: str) -> list[str]:
        """The members of an enumeration and of its subclasses, by name."""
        return sorted(term.name for term in self.terms.values()
                      if any(enumeration in self.lineage(kind.removeprefix("schema:")) for kind in term.types
                             if kind.startswith("schema:") and kind != "schema:DataType"))

    def instance_types(self, name: str) -> frozenset[str]:
        """What a term is an instance of, for a value naming it by URL: an enumeration member's enumeration."""
        term = self.terms.get(name)
        if term is None:
            return frozenset()
        return frozenset(kind.removeprefix("schema:") for kind in term.types
                         if kind.startswith("schema:") and kind != "schema:DataType")

    # -- checking a graph -----------------------------------------------------------------------------

    def problems(self, graph: Any) -> list[str]:
        """Every way ``graph`` (one page's JSON-LD) departs from the vocabulary, in document order."""
        if not isinstance(graph, dict) or not isinstance(graph.get("@graph"), list):
            return ["not a JSON-LD graph: expected an object with a @graph list"]
        problems = [f"unsupported top-level key {key!r}" for key in graph if key not in ("@context", "@graph")]
        if str(graph.get("@context", "")).rstrip("/") != SCHEMA.rstrip("/"):
            problems.append(f"@context is {graph.get('@context')!r}, not {SCHEMA.rstrip('/')!r}: "
                            "its terms would not be schema.org's")
        nodes = {node["@id"]: node for node in graph["@graph"] if isinstance(node, dict) and isinstance(node.get("@id"), str)}
        for index, node in enumerate(graph["@graph"]):
            if isinstance(node, dict):
                problems += self._node(node, _label(node, f"@graph[{index}]"), nodes)
            else:
                problems.append(f"@graph[{index}] is {node!r}, not a node")
        return problems

    def _node(self, node: dict[str, Any], where: str, nodes: dict[str, Any]) -> list[str]:
        kinds = _types(node.get("@type"))
        problems: list[str] = []
        if not kinds:
            problems.append(f"{where}: no @type")
        for kind in kinds:
            problems += self._class_problems(kind, where)
        lineage = frozenset().union(*(self.lineage(kind) for kind in kinds))
        for key, value in node.items():
            if key in ("@id", "@type"):
                continue
            if key.startswith("@"):
                problems.append(f"{where}: {key} is not a JSON-LD keyword this markup uses")
            elif not self.is_property(key):
                problems.append(f"{where}: {key} is not a schema.org property")
            else:
                term = self.terms[key]
                problems += self._status(key, "property", where)
                if lineage and not term.domain & lineage:
                    problems.append(f"{where}: {key} is not a property of {_or(kinds)} "
                                    f"(schema.org has it on {_or(sorted(term.domain))})")
                problems += self._values(key, value, f"{where} {key}", nodes)
        return problems

    def _class_problems(self, kind: str, where: str) -> list[str]:
        if not self.is_class(kind):
            what = ("a property" if self.is_property(kind) else
                    f"a member of {_or(sorted(self.instance_types(kind)))}, not a class" if kind in self.terms else
                    "not a schema.org class")
            return [f"{where}: @type {kind} is {what}"]
        if self.is_data_type(kind):
            return [f"{where}: @type {kind} is a data type, not a class of things"]
        return self._status(kind, "class", where)

    def _status(self, name: str, what: str, where: str) -> list[str]:
        term = self.terms[name]
        if term.superseded_by:
            return [f"{where}: the {what} {name} is superseded by {_or(term.superseded_by)}"]
        if term.pending:
            return [f"{where}: the {what} {name} is pending at schema.org (it may still change or go)"]
        return []

    def _values(self, key: str, value: Any, where: str, nodes: dict[str, Any]) -> list[str]:
        items = value if isinstance(value, list) else [value]
        if not items:
            return [f"{where}: an empty list (leave the property out instead)"]
        expected = self.terms[key].range
        problems: list[str] = []
        for index, item in enumerate(items):
            at = f"{where}[{index}]" if isinstance(value, list) else where
            if isinstance(item, list):
                problems.append(f"{at}: a list inside a list")
                continue
            if isinstance(item, dict) and "@type" in item:
                problems += self._node(item, f"{at} ({'/'.join(_types(item['@type']))})", nodes)
            problem = self._value_problem(item, expected, nodes)
            if problem:
                problems.append(f"{at}: {_show(item)} {problem}")
        return problems

    def _value_problem(self, value: Any, expected: tuple[str, ...], nodes: dict[str, Any]) -> str | None:
        """Why ``value`` is none of the ``expected`` types, or None when it is one."""
        if value is None:
            return "means nothing in JSON-LD (leave the property out instead)"
        if isinstance(value, dict):
            if "@type" in value:
                kinds = frozenset(_types(value["@type"]))
            elif set(value) == {"@id"} and isinstance(value["@id"], str):
                target, term = nodes.get(value["@id"]), _schema_name(value["@id"])
                if target is not None:
                    kinds = frozenset(_types(target.get("@type")))
                elif term is not None:
                    kinds = self.instance_types(term)
                else:
                    return self._elsewhere(expected)
            else:
                return "is an object with neither @type nor only an @id"
        else:
            kinds = self._data_types(value)
            if (not self._accepts(kinds, expected) and isinstance(value, str) and _is_url(value)
                    and _schema_name(value) is None):
                return self._elsewhere(expected)
        return None if self._accepts(kinds, expected) else self._expected(expected)

    def _accepts(self, kinds: Iterable[str], expected: tuple[str, ...]) -> bool:
        return any(self.lineage(kind) & set(expected) for kind in kinds)

    def _elsewhere(self, expected: tuple[str, ...]) -> str | None:
        """A URL naming something outside the graph: acceptable where a kind of thing is expected."""
        if "URL" in expected or any(self.is_class(kind) and not self.is_data_type(kind) and not self.is_enumeration(kind)
                                    for kind in expected):
            return None
        return self._expected(expected)

    def _data_types(self, value: Any) -> frozenset[str]:
        """The data types (and, for a schema.org URL, the enumeration) a JSON scalar can be."""
        if isinstance(value, bool):
            return frozenset({"Boolean"})
        if isinstance(value, int):
            return frozenset({"Integer"})
        if isinstance(value, float):
            return frozenset({"Float"})
        if not isinstance(value, str):
            return frozenset()
        kinds = {"Text"}
        if _is_url(value):
            kinds.add("URL")
            term = _schema_name(value)
            if term is not None:
                kinds |= self.instance_types(term)
        if _DATE.match(value) and _parses(dt.date.fromisoformat, value):
            kinds.add("Date")
        if "T" in value and _parses(dt.datetime.fromisoformat, value):
            kinds.add("DateTime")
        if _TIME.match(value):
            kinds.add("Time")
        return frozenset(kinds)

    def _expected(self, expected: tuple[str, ...]) -> str:
        enumerations = [kind for kind in expected if self.is_enumeration(kind)]
        text = f"is not {_a(_or(expected))}"
        if enumerations:
            members = [f"{SCHEMA}{member}" for kind in enumerations for member in self.members(kind)]
            text += f" (one of {_or(members)})"
        return text


def load(path: Path = FILE) -> Vocabulary:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == SHA256, f"{path} is not schema.org release {RELEASE} as published (sha256 {digest})"
    vocabulary = Vocabulary()
    for raw in json.loads(data)["@graph"]:
        name = str(raw["@id"])
        if not name.startswith("schema:"):
            continue  # equivalences to other vocabularies
        vocabulary.terms[name.removeprefix("schema:")] = Term(
            name=name.removeprefix("schema:"),
            types=frozenset(_ids(raw.get("@type"))),
            parents=tuple(_names(raw.get("rdfs:subClassOf"))),
            domain=frozenset(_names(raw.get("schema:domainIncludes"))),
            range=tuple(_names(raw.get("schema:rangeIncludes"))),
            pending=_PENDING in _ids(raw.get("schema:isPartOf")),
            superseded_by=tuple(_names(raw.get("schema:supersededBy"))),
        )
    return vocabulary


@functools.cache
def vocabulary() -> Vocabulary:
    """The vocabulary, read once per test run (3,200 terms, a fifth of a second)."""
    return load()


# -- small helpers --------------------------------------------------------------------------------


def _ids(value: Any) -> Iterator[str]:
    for item in value if isinstance(value, list) else [value] if value is not None else []:
        yield item["@id"] if isinstance(item, dict) else str(item)


def _names(value: Any) -> Iterator[str]:
    """The schema.org names among the ids: a superclass like rdfs:Class is not one."""
    return (item.removeprefix("schema:") for item in _ids(value) if item.startswith("schema:"))


def _types(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return []


def _schema_name(url: str) -> str | None:
    """The term a schema.org URL names (http or https, as schema.org takes both), else None."""
    for prefix in (SCHEMA, "http://schema.org/"):
        if url.startswith(prefix):
            return url.removeprefix(prefix)
    return None


def _label(node: dict[str, Any], fallback: str) -> str:
    kinds = "/".join(_types(node.get("@type"))) or "?"
    return f"{kinds} {node['@id']}" if isinstance(node.get("@id"), str) else f"{kinds} ({fallback})"


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _or(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _a(text: str) -> str:
    return f"an {text}" if text[:1] in "AEIO" else f"a {text}"  # a URL, a Union...: by sound, not letter


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
