"""JSON-LD for every page: one @graph of plain dicts, nodes linked by stable @ids.

No web imports: these are pure functions of the catalog, tested without a server.

Every node says only what its page shows. Ids are absolute URLs with a fragment and name the same thing
on every page (the practice is always ``{base}/#organization``), so search engines can merge what
each page says about it:

| node                                  | @id                                   |
| ------------------------------------- | ------------------------------------- |
| WebSite                               | {base}/#website                       |
| MedicalOrganization (the practice)    | {base}/#organization                  |
| MedicalClinic (an office)             | {base}/#office-{office id}            |
| Person (the reviewing physician)      | {base}/#person-{slug of the name}     |
| MedicalTherapy (a treatment)          | {base}/{treatment}/#therapy           |
| MedicalWebPage / CollectionPage       | {page url}#webpage                    |
| BreadcrumbList                        | {page url}#breadcrumb                 |
| FAQPage (the page's FAQ section)      | {page url}#faq                        |
| ItemList (a hub's towns)              | {page url}#towns                      |
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from markupsafe import Markup
from slugify import slugify

from landing.catalog import Catalog, HubPart, LandingPage
from landing.locations import Location
from landing.site import DAYS, TIME, Faq, Office, Reviewer, Treatment, tel_href
from landing.toml_lines import TomlLines

Graph = dict[str, Any]
Node = dict[str, Any]

CONTEXT = "https://schema.org"
LANGUAGE = "en-US"  # the lang attribute of base.html's <html>
COUNTRY = "US"  # every state and territory code the catalog accepts is a USPS one

_ABSOLUTE = re.compile(r"^https?://[^/\s]+/\S*$")
_DAY_URLS = frozenset(f"https://schema.org/{day}" for day in DAYS)


class HeadMeta(Protocol):
    """What a page prints in its <head> (``pages.Meta``); the page node repeats it."""

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def canonical(self) -> str | None: ...


class CrumbLink(Protocol):
    """One visible breadcrumb (``pages.Crumb``): its text and absolute URL."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...


# -- ids ------------------------------------------------------------------------------------------


def website_id(catalog: Catalog) -> str:
    return catalog.url("/#website")


def organization_id(catalog: Catalog) -> str:
    return catalog.url("/#organization")


def office_id(catalog: Catalog, office: Office) -> str:
    return catalog.url(f"/#office-{office.id}")


def therapy_id(catalog: Catalog, treatment: Treatment) -> str:
    return catalog.url(f"/{treatment.slug}/#therapy")


def person_id(catalog: Catalog, reviewer: Reviewer) -> str:
    # From the name, not a fixed '#reviewer': a new reviewing physician is a different person.
    return catalog.url(f"/#person-{slugify(reviewer.name) or 'reviewer'}")


def _ref(node_id: str) -> Node:
    return {"@id": node_id}


# -- graphs ---------------------------------------------------------------------------------------


def site_graph(catalog: Catalog) -> Graph:
    """404, thank-you: the site basics only (the website and the practice that publishes it)."""
    return _graph(list(_site_nodes(catalog)))  # a list of its own: the shared one is the catalog's


def home_graph(catalog: Catalog) -> Graph:
    """The website and the practice with every office, as the home page lists them."""
    website, practice = _site_nodes(catalog)
    offices = [_clinic(catalog, office) for office in catalog.site.offices]
    practice = {**practice, "subOrganization": [_ref(office["@id"]) for office in offices]}
    return _graph([website, practice, *offices])


def hub_graph(catalog: Catalog, part: HubPart, meta: HeadMeta, crumbs: Sequence[CrumbLink]) -> Graph:
    """A page of a treatment's town list: a CollectionPage whose main entity is the ItemList of the town
    pages it links (each page's list numbered from 1: it is the list that page shows)."""
    hub = part.hub
    url = meta.canonical or catalog.url(part.path)
    page: Node = {
        "@type": "CollectionPage",
        "@id": f"{url}#webpage",
        "url": url,
        "name": meta.title,
        "description": meta.description,
        "inLanguage": LANGUAGE,
        "isPartOf": _ref(website_id(catalog)),
        "about": _ref(therapy_id(catalog, hub.treatment)),
        "breadcrumb": _ref(f"{url}#breadcrumb"),
        "mainEntity": _ref(f"{url}#towns"),
    }
    # In the order and with the link text the page lists them: by state, then town.
    listed = part.pages
    towns: Node = {
        "@type": "ItemList",
        "@id": f"{url}#towns",
        "numberOfItems": len(listed),
        "itemListElement": [
            {"@type": "ListItem", "position": position, "url": catalog.url(other.path), "name": other.location.town}
            for position, other in enumerate(listed, start=1)
        ],
    }
    treatment = hub.treatment
    nodes = [*_site_nodes(catalog), page, towns]
    if part.number == 1 and treatment.article == "summary":
        # The treatment's own page: its whole article (so every fact of the therapy), medically reviewed.
        nodes.append(_therapy(catalog, treatment, facts=True))
        _reviewed(catalog, page, nodes)
    else:
        # The list of towns shows the treatment's name and description only, so its therapy node says no more.
        nodes.append(_therapy(catalog, treatment, facts=False))
    if part.number == 1 and treatment.faqs:
        # The treatment's questions are marked up here, once for the site (Google asks that a question repeated
        # on many pages be marked up on one).
        page["hasPart"] = _ref(f"{url}#faq")
        nodes.append(_faq_page(url, treatment.faqs))
    return _graph([*nodes, _breadcrumb(url, crumbs)])


def _reviewed(catalog: Catalog, webpage: Node, nodes: list[Node]) -> None:
    """The page's medical review, as its footer states it: when, and by whom (a Person node)."""
    reviewer = catalog.site.reviewer
    if reviewer.reviewed != dt.date.min:
        webpage["lastReviewed"] = reviewer.reviewed.isoformat()
    if reviewer.name:
        person = _person(catalog, reviewer)
        webpage["reviewedBy"] = _ref(person["@id"])
        nodes.append(person)


def landing_graph(catalog: Catalog, page: LandingPage, meta: HeadMeta, crumbs: Sequence[CrumbLink]) -> Graph:
    """One treatment in one town: the page, the therapy, the serving office, the reviewer, FAQ and breadcrumb."""
    url = meta.canonical or catalog.url(page.path)
    treatment = page.treatment
    webpage: Node = {
        "@type": "MedicalWebPage",
        "@id": f"{url}#webpage",
        "url": url,
        "name": meta.title,
        "description": meta.description,
        "inLanguage": LANGUAGE,
        "isPartOf": _ref(website_id(catalog)),
        "about": _ref(therapy_id(catalog, treatment)),
        "breadcrumb": _ref(f"{url}#breadcrumb"),
    }
    # The therapy's facts only where the page shows the whole article; a summary says what it is.
    nodes = [*_site_nodes(catalog), webpage, _therapy(catalog, treatment, facts=treatment.article == "full"),
             _clinic(catalog, page.office, serves=page.location, offers=treatment)]
    _reviewed(catalog, webpage, nodes)
    nodes.append(_breadcrumb(url, crumbs))
    # Google: mark up a question repeated across the site once. The treatment's questions are marked up on its
    # own page; here, the local questions no other page shows.
    faqs = catalog.own_faqs(page)
    if faqs:
        webpage["hasPart"] = _ref(f"{url}#faq")
        nodes.append(_faq_page(url, faqs))
    return _graph(nodes)


def _graph(nodes: list[Node]) -> Graph:
    return {"@context": CONTEXT, "@graph": nodes}


# -- nodes ----------------------------------------------------------------------------------------


def _site_nodes(catalog: Catalog) -> list[Node]:
    return catalog.memo("jsonld:site", lambda: [shared(node) for node in _make_site_nodes(catalog)])


def _make_site_nodes(catalog: Catalog) -> list[Node]:
    practice = catalog.site.practice
    website: Node = {
        "@type": "WebSite",
        "@id": website_id(catalog),
        "url": catalog.url("/"),
        "name": practice.name,
        "inLanguage": LANGUAGE,
        "publisher": _ref(organization_id(catalog)),
    }
    organization: Node = {
        "@type": "MedicalOrganization",
        "@id": organization_id(catalog),
        "name": practice.name,
        "url": catalog.url("/"),
    }
    if practice.logo:
        # The same rule as base.html's og:image: a path on this site becomes absolute.
        organization["logo"] = catalog.logo_url
    if practice.phone:
        organization["telephone"] = _telephone(practice.phone)
    return [website, organization]


def _clinic(catalog: Catalog, office: Office, *, serves: Location | None = None,
            offers: Treatment | None = None) -> Node:
    """An office as a LocalBusiness: its own address always, the page's town only as areaServed."""
    node: Node = {
        "@type": "MedicalClinic",
        "@id": office_id(catalog, office),
        "name": office.name,
        # No page of its own: the home page is where every office is listed.
        "url": catalog.url("/"),
        "telephone": _telephone(office.phone),
        "address": {
            "@type": "PostalAddress",
            "streetAddress": office.street,
            "addressLocality": office.town,
            "addressRegion": office.state,
            "postalCode": office.zip,
            "addressCountry": COUNTRY,
        },
        "parentOrganization": _ref(organization_id(catalog)),
    }
    if office.latitude is not None and office.longitude is not None:
        node["geo"] = {"@type": "GeoCoordinates", "latitude": office.latitude, "longitude": office.longitude}
    if office.hours:
        node["openingHoursSpecification"] = [
            {
                "@type": "OpeningHoursSpecification",
                "dayOfWeek": [f"https://schema.org/{day}" for day in hours.days],
                "opens": hours.opens,
                "closes": hours.closes,
            }
            for hours in office.hours
        ]
    if serves is not None:
        node["areaServed"] = {
            "@type": "City",
            "name": serves.town,
            "containedInPlace": {"@type": "State", "name": serves.state_name},
        }
    if offers is not None:
        node["availableService"] = _ref(therapy_id(catalog, offers))
    return node


def _therapy(catalog: Catalog, treatment: Treatment, *, facts: bool) -> Node:
    return catalog.memo(("jsonld:therapy", treatment.slug, facts),
                        lambda: shared(_make_therapy(catalog, treatment, facts=facts)))


def _make_therapy(catalog: Catalog, treatment: Treatment, *, facts: bool) -> Node:
    node: Node = {
        "@type": "MedicalTherapy",
        "@id": therapy_id(catalog, treatment),
        "name": treatment.name,
        "description": treatment.description,
    }
    if not facts:
        return node
    # Only the facts site.toml states (and the content template shows).
    if treatment.procedure_type == "Surgical":
        # procedureType expects a MedicalProcedureType, whose only members are PercutaneousProcedure and
        # NoninvasiveProcedure: schema.org says "surgical" with the class SurgicalProcedure, a kind of
        # MedicalProcedure like MedicalTherapy. No property links a therapy to a separate procedure, and the
        # facts below say how the therapy is performed, which for a surgical one is the operation: so the one
        # node is typed as both (on the pages that state those facts).
        node["@type"] = ["MedicalTherapy", "SurgicalProcedure"]
    elif treatment.procedure_type:
        node["procedureType"] = f"https://schema.org/{treatment.procedure_type}Procedure"
    for key, value in (("bodyLocation", treatment.body_location), ("howPerformed", treatment.how_performed),
                       ("followup", treatment.followup)):
        if value:
            node[key] = value
    return node


def _person(catalog: Catalog, reviewer: Reviewer) -> Node:
    return catalog.memo(("jsonld:person", reviewer), lambda: shared(_make_person(catalog, reviewer)))


def _make_person(catalog: Catalog, reviewer: Reviewer) -> Node:
    # A Person, not a Physician: schema.org's Physician is an organization (a doctor's office), and
    # reviewedBy is about the individual named in the footer.
    node: Node = {"@type": "Person", "@id": person_id(catalog, reviewer), "name": reviewer.name}
    if reviewer.credentials:
        node["honorificSuffix"] = reviewer.credentials
    return node


def _breadcrumb(url: str, crumbs: Sequence[CrumbLink]) -> Node:
    return {
        "@type": "BreadcrumbList",
        "@id": f"{url}#breadcrumb",
        "itemListElement": [
            {"@type": "ListItem", "position": position, "name": crumb.name, "item": crumb.url}
            for position, crumb in enumerate(crumbs, start=1)
        ],
    }


def _faq_page(url: str, faqs: Sequence[Faq]) -> Node:
    # The page's FAQ section (templates/_faq.html, id="faq"), word for word as it is printed.
    return {
        "@type": "FAQPage",
        "@id": f"{url}#faq",
        "isPartOf": _ref(f"{url}#webpage"),
        "inLanguage": LANGUAGE,
        "mainEntity": [
            {"@type": "Question", "name": faq.question, "acceptedAnswer": {"@type": "Answer", "text": faq.answer}}
            for faq in faqs
        ],
    }


def _telephone(phone: str) -> str:
    # The number the page's tel: link dials, in the international form Google asks for.
    return tel_href(phone).removeprefix("tel:")


# -- serialization --------------------------------------------------------------------------------

# Chained str.replace: twenty times faster than str.translate on a page-sized graph, same result.
_SCRIPT_ESCAPES = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                   ("\u2029", "\\u2029"))


class SharedNode(dict[str, Any]):
    """A node every page of a site repeats word for word (the website, the practice, a therapy, the
    reviewer): built once per catalog with its JSON, which ``jsonld`` reuses. Never changed after."""

    __slots__ = ("json",)
    json: str


def shared(node: Node) -> SharedNode:
    result = SharedNode(node)
    result.json = _script_json(node)
    return result


def jsonld(graph: Graph) -> Markup:
    """Serialize for a <script type="application/ld+json"> element: no value can end the script or open a
    comment. Byte for byte what one json.dumps of the whole graph would give, but shared nodes are not
    serialized again for every page."""
    parts = []
    for key, value in graph.items():
        if key == "@graph":
            text = "[" + ",".join(node.json if isinstance(node, SharedNode) else _script_json(node) for node in value) + "]"
        else:
            text = _script_json(value)
        parts.append(f"{_script_json(key)}:{text}")
    return Markup("{" + ",".join(parts) + "}")


def _script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for character, escape in _SCRIPT_ESCAPES:
        text = text.replace(character, escape)
    return text


_SCRIPT = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def graphs_in(html: str) -> list[Graph]:
    """The JSON-LD blocks of a rendered page, parsed (json.JSONDecodeError if one is broken)."""
    return [json.loads(match.group(1)) for match in _SCRIPT.finditer(html)]


# -- validation -----------------------------------------------------------------------------------


def graph_problems(graph: Graph) -> list[str]:
    """What makes a graph malformed: broken links between nodes, or a node Google would reject.

    Missing optional facts (an office's geo or hours) are not reported here but by markup_problems,
    which can point at the line of site.toml to fix. Whether every type, property and value is one the
    schema.org vocabulary allows is for the tests to say (tests/schema_vocabulary.py, against the whole
    published vocabulary): which terms a graph uses is fixed by this module, and what the site's files
    put into it is text their loaders have already checked, so a site cannot change the answer.
    """
    nodes = graph.get("@graph")
    if graph.get("@context") != CONTEXT or not isinstance(nodes, list):
        return [f"not a schema.org graph (expected @context '{CONTEXT}' and a @graph list)"]
    problems: list[str] = []
    ids: set[str] = set()
    for node in nodes:
        node_id = node.get("@id") if isinstance(node, dict) else None
        if not isinstance(node_id, str) or not _ABSOLUTE.match(node_id) or "#" not in node_id:
            problems.append(f"node {_label(node)} needs an @id that is an absolute URL with a #fragment")
        elif node_id in ids:
            problems.append(f"@id {node_id} names two nodes")
        else:
            ids.add(node_id)
        if not isinstance(node, dict) or not node.get("@type"):
            problems.append(f"node {_label(node)} has no @type")
    for value in _values(nodes):
        if isinstance(value, dict) and set(value) == {"@id"} and value["@id"] not in ids:
            problems.append(f"@id {value['@id']} is referred to but no node of the graph has it")
    for value in _values(nodes):
        if isinstance(value, dict):
            problems.extend(_node_problems(value))
    return problems


def _node_problems(node: Node) -> list[str]:
    kinds, label = _kinds(node), _label(node)
    required = dict.fromkeys(key for kind in kinds for key in _REQUIRED.get(kind, ()))
    problems = [f"{label} has no {key}" for key in required if node.get(key) in (None, "", [])]
    if "PostalAddress" in kinds:
        problems += [f"{label} has no {key}" for key in ("streetAddress", "addressLocality", "addressRegion",
                                                          "postalCode") if not node.get(key)]
    elif "GeoCoordinates" in kinds:
        latitude, longitude = node.get("latitude"), node.get("longitude")
        if not (isinstance(latitude, (int, float)) and -90 <= latitude <= 90
                and isinstance(longitude, (int, float)) and -180 <= longitude <= 180):
            problems.append(f"{label} needs latitude and longitude in decimal degrees")
    elif "OpeningHoursSpecification" in kinds:
        days = node.get("dayOfWeek")
        if not isinstance(days, list) or not days or not set(days) <= _DAY_URLS:
            problems.append(f"{label} needs dayOfWeek as schema.org day URLs, e.g. https://schema.org/Monday")
        if not (TIME.match(str(node.get("opens", ""))) and TIME.match(str(node.get("closes", "")))):
            problems.append(f"{label} needs opens and closes as HH:MM")
    elif {"BreadcrumbList", "ItemList"} & set(kinds):
        items = node.get("itemListElement")
        if not isinstance(items, list):
            problems.append(f"{label} needs an itemListElement list")
            items = []
        for position, item in enumerate(items, start=1):
            link = item.get("item", item.get("url")) if isinstance(item, dict) else None
            if not isinstance(item, dict) or item.get("position") != position or not item.get("name"):
                problems.append(f"{label} item {position} needs position {position} and a name")
            elif not isinstance(link, str) or not _ABSOLUTE.match(link):
                problems.append(f"{label} item {position} needs an absolute URL")
    elif "FAQPage" in kinds:
        questions = node.get("mainEntity")
        if not isinstance(questions, list) or not questions:
            problems.append(f"{label} has no questions")
    return problems


# Google's required properties (and, for a local business, the ones this service always has).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "WebSite": ("name", "url"),
    "MedicalOrganization": ("name", "url"),
    "MedicalClinic": ("name", "address", "telephone", "url"),
    "MedicalWebPage": ("name", "url"),
    "CollectionPage": ("name", "url"),
    "MedicalTherapy": ("name",),
    "Person": ("name",),
    "Question": ("name", "acceptedAnswer"),
    "Answer": ("text",),
}


def _values(value: Any) -> Iterator[Any]:
    """Every value nested in ``value``, depth first, ``value`` included."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)


def _kinds(node: Node) -> list[str]:
    """A node's @type as a list: one type, or several (a surgical therapy is a SurgicalProcedure too)."""
    kind = node.get("@type")
    return [str(item) for item in kind] if isinstance(kind, list) else [str(kind)] if kind else []


def _label(node: Any) -> str:
    if not isinstance(node, dict):
        return repr(node)[:60]
    kinds = "/".join(_kinds(node)) or "?"
    return f"{kinds} {node['@id']}" if "@id" in node else kinds


def markup_problems(catalog: Catalog, source: str, filename: str = "site.toml") -> list[str]:
    """What keeps the pages' markup from being complete, each as '{filename}:LINE: what (how to fix it)'.

    ``source`` is the text of site.toml, searched for the line to point at. site.toml may leave these
    things out (the pages still work), but then the markup lacks what Google recommends.
    """
    lines = TomlLines(source)
    problems: list[str] = []

    def report(line: int | None, message: str) -> None:
        problems.append(f"{filename}:{line}: {message}" if line else f"{filename}: {message}")

    site = catalog.site
    if not site.practice.logo:
        report(lines.line(("practice",)), "[practice]: no logo, so the practice's markup has none "
               '(add logo = "/static/logo.svg", a file in the static folder, or an https:// URL)')
    for index, office in enumerate(site.offices):
        line = lines.line(("offices", index, "id"))
        where = f"office '{office.id}'"
        if office.latitude is None or office.longitude is None:
            report(line, f"{where}: no latitude and longitude, so its markup has no geo and towns cannot find it as "
                   "their nearest office (add the office's own latitude and longitude in decimal degrees, e.g. "
                   "latitude = 42.1539 and longitude = -88.1362)")
        if not office.hours:
            report(line, f"{where}: no opening hours, so its markup has no openingHoursSpecification (add "
                   'hours = [{ days = ["Monday", "Tuesday"], opens = "08:00", closes = "17:00" }])')
    reviewer_line = lines.line(("reviewer",))
    if not site.reviewer.name:
        report(reviewer_line, "[reviewer]: no name, so pages cannot say who reviewed them "
               '(add name = "Dr. ..." under [reviewer])')
    if site.reviewer.reviewed == dt.date.min:
        report(reviewer_line, "[reviewer]: no reviewed date, so pages have no lastReviewed "
               "(add reviewed = 2026-11-01, without quotes)")
    for index, treatment in enumerate(site.treatments):
        line = lines.line(("treatments", index, "slug"))
        where = f"treatment '{treatment.slug}'"
        if not treatment.faqs:
            report(line, f"{where}: no FAQ, so its pages have no FAQPage markup (add [[treatments.faqs]] with "
                   "question and answer below it)")
    return problems
