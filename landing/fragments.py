"""`{% cache key, ... %}...{% endcache %}`: a part of a template rendered once per key, then reused.

Tens of thousands of town pages share most of their markup (the footer, an office's card, the lead form's
fields): rendering those parts once per snapshot instead of once per page is most of what a static build
can save. The key names everything the part shows: two renders with equal keys give the same text, so the
first is kept and the others reuse it. A key of ``none`` renders the part every time (a form shown again
with a visitor's answers is that visitor's own and is never kept). Jinja's documentation gives this
extension as its example; this one keeps the parts per environment, and each snapshot has its own.

Nothing per visitor may go inside a cached part: the lead form's per-visitor fields are outside them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.ext import Extension
from jinja2.parser import Parser
from markupsafe import Markup

# Keys an environment keeps at most: more means a key names something per page, where keeping parts
# costs memory and saves nothing (the part is then rendered every time, as without the tag).
LIMIT = 4096


class FragmentCache(Extension):
    tags = {"cache"}

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # None: every part is rendered every time (the tests compare pages rendered both ways).
        environment.extend(fragment_cache={})

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        key = parser.parse_tuple()
        body = parser.parse_statements(("name:endcache",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_fragment", [key]), [], [], body).set_lineno(lineno)

    def _fragment(self, key: Hashable, caller: Callable[[], Any]) -> Markup:
        kept: dict[Hashable, Markup] | None = self.environment.fragment_cache  # type: ignore[attr-defined]
        if key is None or kept is None:
            return Markup(caller())
        try:
            return kept[key]
        except KeyError:
            text = Markup(caller())
            if len(kept) < LIMIT:
                kept[key] = text
            return text
