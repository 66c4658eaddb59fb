"""JSON-LD for every page: one @graph of plain dicts, nodes linked by stable @ids.

No web imports: these are pure functions of the catalog, tested without a server.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from landing.catalog import Catalog, Hub, LandingPage

Graph = dict[str, Any]


def site_graph(catalog: Catalog) -> Graph:
    """404, thank-you: the site basics only."""
    return {"@context": "https://schema.org", "@graph": []}


def home_graph(catalog: Catalog) -> Graph:
    return site_graph(catalog)


def hub_graph(catalog: Catalog, hub: Hub) -> Graph:
    return site_graph(catalog)


def landing_graph(catalog: Catalog, page: LandingPage) -> Graph:
    return site_graph(catalog)


_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                   ord("\u2028"): "\\u2028", ord("\u2029"): "\\u2029"}


def jsonld(graph: Graph) -> Markup:
    """Serialize for a <script type="application/ld+json"> element: no value can end the script or open a comment."""
    text = json.dumps(graph, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return Markup(text.translate(_SCRIPT_ESCAPES))
