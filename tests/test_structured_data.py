"""JSON-LD: one linked, truthful graph per page, safely embedded, made of real schema.org terms."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html as html_lib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from landing import structured_data
from landing.catalog import Catalog, SourceFiles, load_catalog
from landing.check import check_site, page_markup_problems
from landing.cli import main
from landing.errors import ConfigError
from landing.locations import default_slug
from landing.pages import Crumb, Meta
from landing.settings import Settings
from landing.site import DAYS, Hours, Reviewer
from tests.conftest import ClientFactory
from tests.html import Page

DATA = Path(__file__).resolve().parent / "data"
TERMS: dict[str, Any] = json.loads((DATA / "schema_terms.json").read_text(encoding="utf-8"))

BASE = "https://pain.example.com"
CARY = "/intrathecal-pump-therapy/cary-il/"  # a town without an office: served from Crystal Lake
BARRINGTON = "/intrathecal-pump-therapy/barrington-il/"  # a town with its own office
PAGES = ["/", "/intrathecal-pump-therapy/", "/nerve-blocks/", BARRINGTON, CARY, "/nerve-blocks/woodstock-il/"]
LANDING_PAGES = [BARRINGTON, CARY, "/nerve-blocks/woodstock-il/"]

# The whole graph of the Cary page, as the test practice (tests/data) makes it.
CARY_GRAPH: dict[str, Any] = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": "WebSite",
            "@id": f"{BASE}/#website",
            "url": f"{BASE}/",
            "name": "Test Pain & Spine Clinic",
            "inLanguage": "en-US",
            "publisher": {"@id": f"{BASE}/#organization"},
        },
        {
            "@type": "MedicalOrganization",
            "@id": f"{BASE}/#organization",
            "name": "Test Pain & Spine Clinic",
            "url": f"{BASE}/",
            "logo": f"{BASE}/static/logo.svg",
            "telephone": "+18475550100",
        },
        {
            "@type": "MedicalWebPage",
            "@id": f"{BASE}{CARY}#webpage",
            "url": f"{BASE}{CARY}",
            "name": "Intrathecal Pump Therapy Cary, IL | Test Pain & Spine Clinic",
            "description": "Intrathecal Pump Therapy for patients in Cary, IL at our Crystal Lake office, about 4 mi away. "
                           "A small pump delivers medicine to the spinal fluid.",
            "inLanguage": "en-US",
            "isPartOf": {"@id": f"{BASE}/#website"},
            "about": {"@id": f"{BASE}/intrathecal-pump-therapy/#therapy"},
            "breadcrumb": {"@id": f"{BASE}{CARY}#breadcrumb"},
            "lastReviewed": "2026-10-01",
            "reviewedBy": {"@id": f"{BASE}/#person-dr-test-reviewer"},
            "hasPart": {"@id": f"{BASE}{CARY}#faq"},
        },
        {
            "@type": "MedicalTherapy",
            "@id": f"{BASE}/intrathecal-pump-therapy/#therapy",
            "name": "Intrathecal Pump Therapy",
            "description": "A small pump delivers medicine to the spinal fluid.",
        },
        {
            "@type": "MedicalClinic",
            "@id": f"{BASE}/#office-crystal-lake",
            "name": "Crystal Lake office",
            "url": f"{BASE}/",
            "telephone": "+18155550167",
            "address": {
                "@type": "PostalAddress",
                "streetAddress": "2 Test Avenue",
                "addressLocality": "Crystal Lake",
                "addressRegion": "IL",
                "postalCode": "60014",
                "addressCountry": "US",
            },
            "parentOrganization": {"@id": f"{BASE}/#organization"},
            "geo": {"@type": "GeoCoordinates", "latitude": 42.2411, "longitude": -88.3162},
            "openingHoursSpecification": [
                {
                    "@type": "OpeningHoursSpecification",
                    "dayOfWeek": ["https://schema.org/Monday"],
                    "opens": "09:00",
                    "closes": "12:00",
                }
            ],
            "areaServed": {"@type": "City", "name": "Cary", "containedInPlace": {"@type": "State", "name": "Illinois"}},
            "availableService": {"@id": f"{BASE}/intrathecal-pump-therapy/#therapy"},
        },
        {"@type": "Person", "@id": f"{BASE}/#person-dr-test-reviewer", "name": "Dr. Test Reviewer", "honorificSuffix": "MD"},
        {
            "@type": "BreadcrumbList",
            "@id": f"{BASE}{CARY}#breadcrumb",
            "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": "Home", "item": f"{BASE}/"},
                {"@type": "ListItem", "position": 2, "name": "Intrathecal Pump Therapy",
                 "item": f"{BASE}/intrathecal-pump-therapy/"},
                {"@type": "ListItem", "position": 3, "name": "Cary, IL", "item": f"{BASE}{CARY}"},
            ],
        },
        {
            "@type": "FAQPage",
            "@id": f"{BASE}{CARY}#faq",
            "isPartOf": {"@id": f"{BASE}{CARY}#webpage"},
            "inLanguage": "en-US",
            "mainEntity": [
                {
                    "@type": "Question",
                    "name": "Is the pump adjustable?",
                    "acceptedAnswer": {"@type": "Answer", "text": "Yes, the dose can be changed at follow-up visits."},
                }
            ],
        },
    ],
}


# -- reading JSON-LD back out of a page -------------------------------------------------------------


class _JsonLdScripts(HTMLParser):
    """The raw text of each <script type="application/ld+json">, as a browser's parser splits the page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.script_tags = 0
        self._inside = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.script_tags += 1
            self._inside = dict(attrs).get("type") == "application/ld+json"
            if self._inside:
                self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def graph_of(html: str) -> dict[str, Any]:
    scripts = _JsonLdScripts(html).scripts
    assert len(scripts) == 1, "every page carries exactly one JSON-LD block"
    graph: dict[str, Any] = json.loads(scripts[0])
    return graph


def nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = graph["@graph"]
    return result


def of_type(graph: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [node for node in nodes(graph) if node["@type"] == kind]


def one(graph: dict[str, Any], kind: str) -> dict[str, Any]:
    (node,) = of_type(graph, kind)
    return node


def every_value(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found += every_value(item)
    elif isinstance(value, list):
        for item in value:
            found += every_value(item)
    return found


def typed_objects(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object with a @type: top-level nodes and the ones nested in them."""
    return [value for value in every_value(nodes(graph)) if isinstance(value, dict) and "@type" in value]


def section(html: str, pattern: str) -> str:
    found = re.search(pattern, html, re.S)
    assert found is not None, pattern
    return found.group(0)


async def page_graph(client: httpx.AsyncClient, path: str) -> tuple[str, dict[str, Any]]:
    response = await client.get(path)
    assert response.status_code in (200, 404), path
    return response.text, graph_of(response.text)


@pytest.fixture
def catalog(site_dir: Path) -> Catalog:
    return load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates"))


def cary_graph(catalog: Catalog) -> dict[str, Any]:
    page = catalog.pages[CARY]
    meta = Meta(title=CARY_GRAPH["@graph"][2]["name"], description=CARY_GRAPH["@graph"][2]["description"],
                canonical=catalog.url(CARY))
    crumbs = (Crumb("Home", catalog.url("/")), Crumb("Intrathecal Pump Therapy", catalog.url("/intrathecal-pump-therapy/")),
              Crumb("Cary, IL", catalog.url(CARY)))
    return structured_data.landing_graph(catalog, page, meta, crumbs)


def with_therapy_facts(catalog: Catalog, **facts: str) -> Catalog:
    """The test catalog with the pump therapy's optional structured-data facts set."""
    treatment = dataclasses.replace(catalog.site.treatments_by_slug["intrathecal-pump-therapy"], **facts)
    pages = {path: dataclasses.replace(page, treatment=treatment) if page.treatment.slug == treatment.slug else page
             for path, page in catalog.pages.items()}
    return dataclasses.replace(catalog, pages=pages)


# -- the graphs, as pure functions ------------------------------------------------------------------


def test_landing_graph_links_site_practice_page_therapy_office_reviewer_breadcrumb_and_faq(catalog: Catalog) -> None:
    assert cary_graph(catalog) == CARY_GRAPH


def test_therapy_carries_only_the_facts_site_toml_gives(catalog: Catalog) -> None:
    facts = with_therapy_facts(catalog, procedure_type="Surgical", body_location="", how_performed="Through a small incision.",
                               followup="")
    graph = cary_graph(facts)
    therapy = one(graph, "MedicalTherapy")
    assert therapy["procedureType"] == "https://schema.org/SurgicalProcedure"
    assert therapy["howPerformed"] == "Through a small incision."
    assert "bodyLocation" not in therapy and "followup" not in therapy
    # An office offering it points at the same node.
    assert one(graph, "MedicalClinic")["availableService"] == {"@id": therapy["@id"]}


@pytest.mark.parametrize(
    ("written", "member"),
    [
        ("Surgical", "https://schema.org/SurgicalProcedure"),
        ("surgical procedure", "https://schema.org/SurgicalProcedure"),
        ("Non-invasive", "https://schema.org/NoninvasiveProcedure"),
        ("PercutaneousProcedure", "https://schema.org/PercutaneousProcedure"),
        ("https://schema.org/NoninvasiveProcedure", "https://schema.org/NoninvasiveProcedure"),
        ("Laser", None),
        ("", None),
    ],
)
def test_procedure_type_is_written_in_words_and_marked_up_as_a_schema_org_member(written: str, member: str | None) -> None:
    assert structured_data.procedure_type_url(written) == member


def test_a_reviewer_without_a_name_or_date_is_left_out_rather_than_made_up(catalog: Catalog) -> None:
    site = dataclasses.replace(catalog.site, reviewer=Reviewer(name="", credentials="MD", reviewed=dt.date.min))
    graph = cary_graph(dataclasses.replace(catalog, site=site))
    webpage = one(graph, "MedicalWebPage")
    assert "reviewedBy" not in webpage and "lastReviewed" not in webpage
    assert not of_type(graph, "Person")


def test_home_graph_is_the_website_and_the_practice_with_every_office(catalog: Catalog) -> None:
    graph = structured_data.home_graph(catalog)
    assert [node["@type"] for node in nodes(graph)] == ["WebSite", "MedicalOrganization", "MedicalClinic", "MedicalClinic"]
    offices = of_type(graph, "MedicalClinic")
    assert [office["@id"] for office in offices] == [f"{BASE}/#office-barrington", f"{BASE}/#office-crystal-lake"]
    assert one(graph, "MedicalOrganization")["subOrganization"] == [{"@id": office["@id"]} for office in offices]
    # The home page names no town per office, so no office claims one.
    assert all("areaServed" not in office for office in offices)


def test_site_graph_is_only_the_site_basics(catalog: Catalog) -> None:
    graph = structured_data.site_graph(catalog)
    assert [node["@type"] for node in nodes(graph)] == ["WebSite", "MedicalOrganization"]


def test_jsonld_escapes_everything_that_could_end_the_script_or_open_a_comment() -> None:
    hostile = "</script><!-- & --> \u2028 \u2029 </SCRIPT >"
    text = str(structured_data.jsonld({"@graph": [{"name": hostile}]}))
    for character in "<>&\u2028\u2029":
        assert character not in text
    assert json.loads(text) == {"@graph": [{"name": hostile}]}


# -- every page type, through the app ---------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/no-such-page/"])
async def test_every_page_type_has_one_graph_whose_references_all_resolve(client: httpx.AsyncClient, path: str) -> None:
    _, graph = await page_graph(client, path)
    assert graph["@context"] == "https://schema.org"
    ids = [node["@id"] for node in nodes(graph)]
    assert len(ids) == len(set(ids)), "one node per @id"
    for node_id in ids:
        assert re.fullmatch(r"https://pain\.example\.com/\S*#[a-z0-9-]+", node_id), node_id
    references = [value["@id"] for value in every_value(nodes(graph)) if isinstance(value, dict) and set(value) == {"@id"}]
    assert references and set(references) <= set(ids)
    assert structured_data.graph_problems(graph) == []


async def test_each_page_type_carries_the_nodes_the_issue_lists(client: httpx.AsyncClient) -> None:
    kinds = {path: sorted(node["@type"] for node in nodes((await page_graph(client, path))[1]))
             for path in ["/", "/nerve-blocks/", BARRINGTON, "/no-such-page/"]}
    assert kinds == {
        "/": ["MedicalClinic", "MedicalClinic", "MedicalOrganization", "WebSite"],
        "/nerve-blocks/": ["BreadcrumbList", "CollectionPage", "ItemList", "MedicalOrganization", "MedicalTherapy", "WebSite"],
        BARRINGTON: ["BreadcrumbList", "FAQPage", "MedicalClinic", "MedicalOrganization", "MedicalTherapy", "MedicalWebPage",
                     "Person", "WebSite"],
        "/no-such-page/": ["MedicalOrganization", "WebSite"],
    }


async def test_the_cary_page_embeds_exactly_the_expected_graph(client: httpx.AsyncClient) -> None:
    _, graph = await page_graph(client, CARY)
    assert graph == CARY_GRAPH


async def test_the_same_thing_has_the_same_id_and_facts_on_every_page(client: httpx.AsyncClient) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for path in PAGES:
        for node in nodes((await page_graph(client, path))[1]):
            if node["@type"] in ("WebSite", "MedicalOrganization", "Person", "MedicalClinic"):
                # Its own facts never change; the links to what this page shows (the home page's offices, a
                # landing page's town and therapy) are what a page adds.
                facts = {key: value for key, value in node.items()
                         if key not in ("subOrganization", "areaServed", "availableService")}
                assert seen.setdefault(node["@id"], facts) == facts, (path, node["@id"])
    assert {f"{BASE}/#website", f"{BASE}/#organization", f"{BASE}/#office-barrington", f"{BASE}/#office-crystal-lake",
            f"{BASE}/#person-dr-test-reviewer"} <= set(seen)
    hub_therapy = one((await page_graph(client, "/intrathecal-pump-therapy/"))[1], "MedicalTherapy")
    page_therapy = one((await page_graph(client, CARY))[1], "MedicalTherapy")
    assert hub_therapy["@id"] == page_therapy["@id"] == f"{BASE}/intrathecal-pump-therapy/#therapy"


# -- schema.org terms -------------------------------------------------------------------------------


async def all_graphs(client: httpx.AsyncClient, catalog: Catalog) -> list[dict[str, Any]]:
    """Every page type, plus a therapy with every optional fact, so every term we can emit is seen."""
    graphs = [(await page_graph(client, path))[1] for path in [*PAGES, "/no-such-page/"]]
    facts = with_therapy_facts(catalog, procedure_type="Surgical", body_location="Spine", how_performed="By hand.",
                               followup="Refills.")
    return [*graphs, cary_graph(facts)]


async def test_every_type_and_property_is_a_schema_org_term_of_its_class(client: httpx.AsyncClient, catalog: Catalog) -> None:
    for graph in await all_graphs(client, catalog):
        for node in typed_objects(graph):
            kind = node["@type"]
            assert kind in TERMS["types"], f"@type {kind} is not in tests/data/schema_terms.json"
            classes = {kind, *TERMS["types"][kind]}
            for key, value in node.items():
                if key.startswith("@"):
                    continue
                assert key in TERMS["properties"], f"{key} (on {kind}) is not in tests/data/schema_terms.json"
                assert classes & set(TERMS["properties"][key]), f"{key} is not a property of {kind}"
                if key in TERMS["enumerated"]:
                    for member in value if isinstance(value, list) else [value]:
                        assert TERMS["members"].get(member) == TERMS["enumerated"][key], (key, member)


async def test_the_term_list_holds_exactly_the_terms_we_use(client: httpx.AsyncClient, catalog: Catalog) -> None:
    types: set[str] = set()
    properties: set[str] = set()
    for graph in await all_graphs(client, catalog):
        for node in typed_objects(graph):
            types.add(node["@type"])
            properties |= {key for key in node if not key.startswith("@")}
    assert types == set(TERMS["types"])
    assert properties == set(TERMS["properties"])
    emittable = {f"https://schema.org/{day}" for day in DAYS} | set(structured_data.PROCEDURE_TYPES.values())
    assert set(TERMS["members"]) == emittable


# -- truthful: the markup says what the page shows --------------------------------------------------


@pytest.mark.parametrize("path", [*LANDING_PAGES, "/nerve-blocks/"])
async def test_page_node_repeats_the_canonical_url_title_and_meta_description(client: httpx.AsyncClient, path: str) -> None:
    html, graph = await page_graph(client, path)
    page = Page(html)
    (webpage,) = [node for node in nodes(graph) if node["@id"].endswith("#webpage")]
    assert webpage["url"] == page.all("link", rel="canonical")[0]["href"]
    assert webpage["name"] == page.text_of("title")[0]
    assert webpage["description"] == page.meta("description")


@pytest.mark.parametrize("path", [*LANDING_PAGES, "/nerve-blocks/"])
async def test_breadcrumb_markup_is_the_visible_breadcrumb(client: httpx.AsyncClient, path: str) -> None:
    html, graph = await page_graph(client, path)
    nav = Page(section(html, r'<nav class="crumbs.*?</nav>'))
    canonical = Page(html).all("link", rel="canonical")[0]["href"]
    visible = list(zip(nav.text_of("li"), [*nav.links(), canonical]))
    marked = [(item["name"], item["item"]) for item in one(graph, "BreadcrumbList")["itemListElement"]]
    assert marked == visible
    assert [item["position"] for item in one(graph, "BreadcrumbList")["itemListElement"]] == list(range(1, len(visible) + 1))


@pytest.mark.parametrize("path", LANDING_PAGES)
async def test_faq_markup_is_the_visible_faq_word_for_word(client: httpx.AsyncClient, path: str) -> None:
    html, graph = await page_graph(client, path)
    faq = Page(section(html, r'<section[^>]*\bid="faq".*?</section>'))
    marked = [(question["name"], question["acceptedAnswer"]["text"]) for question in one(graph, "FAQPage")["mainEntity"]]
    assert marked == list(zip(faq.text_of("h3"), faq.text_of("p")))
    assert all(question["acceptedAnswer"]["@type"] == "Answer" for question in one(graph, "FAQPage")["mainEntity"])


@pytest.mark.parametrize("path", LANDING_PAGES)
async def test_office_name_address_phone_and_hours_in_markup_are_the_printed_ones(client: httpx.AsyncClient, path: str) -> None:
    html, graph = await page_graph(client, path)
    card = section(section(html, r'<aside class="serving".*?</aside>'), r'<div class="office">.*?</div>')
    office = one(graph, "MedicalClinic")
    address = office["address"]
    printed_lines = [html_lib.unescape(line).strip() for line in
                     section(card, r'<p class="address">.*?</p>')[len('<p class="address">'):-len("</p>")].split("<br>")]
    assert printed_lines == [address["streetAddress"],
                             f"{address['addressLocality']}, {address['addressRegion']} {address['postalCode']}"]
    assert Page(card).text_of("h3") == [office["name"]]
    (phone,) = Page(card).all("a", **{"class": "phone"})
    assert phone["href"] == f"tel:{office['telephone']}"
    printed_number = Page(card).text_of("a")[0]
    assert re.sub(r"\D", "", printed_number) == office["telephone"].removeprefix("+1")
    days = {f"https://schema.org/{day}": day for day in DAYS}
    marked_hours = [Hours(tuple(days[day] for day in spec["dayOfWeek"]), spec["opens"], spec["closes"]).label
                    for spec in office["openingHoursSpecification"]]
    assert marked_hours == Page(card).text_of("li")
    assert office["geo"]["@type"] == "GeoCoordinates"


async def test_a_town_without_an_office_is_only_an_area_served_never_an_address(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        _, graph = await page_graph(client, path)
        localities = {address["addressLocality"] for address in typed_objects(graph) if address["@type"] == "PostalAddress"}
        assert localities <= {"Barrington", "Crystal Lake"}, path
    _, graph = await page_graph(client, CARY)
    office = one(graph, "MedicalClinic")
    assert office["address"]["addressLocality"] == "Crystal Lake"
    assert office["areaServed"] == {"@type": "City", "name": "Cary", "containedInPlace": {"@type": "State", "name": "Illinois"}}


async def test_reviewer_and_review_date_are_the_ones_in_the_footer(client: httpx.AsyncClient) -> None:
    html, graph = await page_graph(client, BARRINGTON)
    footer = section(html, r"Medically reviewed by .*?</time>")
    person = one(graph, "Person")
    assert footer.startswith(f"Medically reviewed by {person['name']}, {person['honorificSuffix']} on ")
    assert f'datetime="{one(graph, "MedicalWebPage")["lastReviewed"]}"' in footer
    assert one(graph, "MedicalWebPage")["reviewedBy"] == {"@id": person["@id"]}


async def test_hub_lists_its_town_pages_as_shown_in_an_item_list(client: httpx.AsyncClient) -> None:
    html, graph = await page_graph(client, "/nerve-blocks/")
    shown = [(BASE + attrs["href"]) for attrs in Page(html).all("a")
             if attrs.get("href", "").startswith("/nerve-blocks/") and attrs["href"] != "/nerve-blocks/"]
    names = [name for name in Page(section(html, r"<main.*</main>")).text_of("a") if name]
    towns = one(graph, "ItemList")
    assert [item["url"] for item in towns["itemListElement"]] == shown
    assert [item["name"] for item in towns["itemListElement"]] == names[: len(shown)]
    assert [item["position"] for item in towns["itemListElement"]] == list(range(1, len(shown) + 1))
    assert towns["numberOfItems"] == len(shown) == 9
    page = one(graph, "CollectionPage")
    assert page["mainEntity"] == {"@id": towns["@id"]}
    assert page["about"] == {"@id": f"{BASE}/nerve-blocks/#therapy"}


# -- safe embedding ---------------------------------------------------------------------------------

HOSTILE_TOWN = "Evil</script><!--\"Town's\"\u2028{{ 7*7 }}"
HOSTILE_INTRO = "Welcome {{ 7*7 }} \"quoted\" 'single' </script><script>alert(1)</script> <!-- \u2028 --> & more"
HOSTILE_ANSWER = "Yes </script><!-- \"quoted\" 'single' {{ 7*7 }} \u2028 & \u2029 <b>bold</b>"


@pytest.fixture
def hostile_site(site_dir: Path) -> Path:
    """The test practice plus a town, an intro and an FAQ answer written to break out of a script."""
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["town", "state", "latitude", "longitude", "intro"])
    writer.writerow(["Barrington", "IL", "42.1539", "-88.1362", ""])
    writer.writerow([HOSTILE_TOWN, "IL", "42.2", "-88.2", HOSTILE_INTRO])
    (site_dir / "locations.csv").write_text(rows.getvalue(), encoding="utf-8")
    site = site_dir / "site.toml"
    toml_answer = json.dumps(HOSTILE_ANSWER)  # a JSON string is a valid TOML basic string here
    site.write_text(site.read_text(encoding="utf-8").replace('"Yes, the dose can be changed at follow-up visits."',
                                                            toml_answer), encoding="utf-8")
    return site_dir


async def test_hostile_town_names_intros_and_answers_cannot_leave_the_script(hostile_site: Path,
                                                                             make_client: ClientFactory) -> None:
    client = await make_client()
    path = f"/intrathecal-pump-therapy/{default_slug(HOSTILE_TOWN, 'IL')}/"
    response = await client.get(path)
    assert response.status_code == 200
    html = response.text
    graph = graph_of(html)  # the parser found one JSON-LD block, whole, and it parses
    assert _JsonLdScripts(html).script_tags == 1
    assert one(graph, "MedicalClinic")["areaServed"]["name"] == HOSTILE_TOWN
    assert one(graph, "BreadcrumbList")["itemListElement"][-1]["name"] == f"{HOSTILE_TOWN}, IL"
    assert one(graph, "FAQPage")["mainEntity"][0]["acceptedAnswer"]["text"] == HOSTILE_ANSWER
    block = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block and "\u2028" not in block and "\u2029" not in block
    assert html.lower().count("</script") == 1
    assert "<!--" not in html
    # Shown as text, never run as a template.
    intro = section(html, r'<p class="intro">.*?</p>')[len('<p class="intro">'):-len("</p>")]
    assert html_lib.unescape(intro) == HOSTILE_INTRO
    hub = await client.get("/intrathecal-pump-therapy/")
    assert [item["name"] for item in one(graph_of(hub.text), "ItemList")["itemListElement"]] == ["Barrington", HOSTILE_TOWN]
    assert "<!--" not in hub.text and hub.text.lower().count("</script") == 1


# -- landing check ----------------------------------------------------------------------------------


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_complete_site_has_no_markup_problems(catalog: Catalog, site_dir: Path) -> None:
    assert structured_data.markup_problems(catalog, (site_dir / "site.toml").read_text(encoding="utf-8")) == []


def test_markup_problems_name_the_site_toml_line_and_the_fix(site_dir: Path) -> None:
    site = site_dir / "site.toml"
    text = site.read_text(encoding="utf-8")
    text = text.replace("latitude = 42.2411\nlongitude = -88.3162\n", "")
    text = text.replace('hours = [{ days = ["Monday"], opens = "09:00", closes = "12:00" }]\n', "")
    text = text.replace('template = "treatments/nerve-blocks.html"\n',
                        'template = "treatments/nerve-blocks.html"\nprocedure_type = "Laser"\n')
    text = text.replace('logo = "/static/logo.svg"\n', "")
    site.write_text(text, encoding="utf-8")
    catalog = load_catalog(SourceFiles(site, site_dir / "locations.csv", site_dir / "templates"))
    office = line_of(text, 'id = "crystal-lake"')
    assert structured_data.markup_problems(catalog, text) == [
        f"site.toml:{line_of(text, '[practice]')}: [practice]: no logo, so the practice's markup has none "
        '(add logo = "/static/logo.svg", a file in the static folder, or an https:// URL)',
        f"site.toml:{office}: office 'crystal-lake': no latitude and longitude, so its markup has no geo and towns "
        "cannot find it as their nearest office (add the office's own latitude and longitude in decimal degrees, "
        "e.g. latitude = 42.1539 and longitude = -88.1362)",
        f"site.toml:{office}: office 'crystal-lake': no opening hours, so its markup has no openingHoursSpecification "
        '(add hours = [{ days = ["Monday", "Tuesday"], opens = "08:00", closes = "17:00" }])',
        f"site.toml:{line_of(text, 'procedure_type')}: treatment 'nerve-blocks': procedure_type 'Laser' is not a type "
        "schema.org knows, so it is left out of the markup (write Surgical, Percutaneous or Noninvasive)",
    ]


def test_a_reviewer_without_a_name_and_a_treatment_without_faq_are_reported(catalog: Catalog, site_dir: Path) -> None:
    text = (site_dir / "site.toml").read_text(encoding="utf-8")
    treatments = tuple(dataclasses.replace(t, faqs=()) if t.slug == "nerve-blocks" else t for t in catalog.site.treatments)
    site = dataclasses.replace(catalog.site, reviewer=Reviewer("", "MD", dt.date(2026, 10, 1)), treatments=treatments)
    problems = structured_data.markup_problems(dataclasses.replace(catalog, site=site), text)
    treatment = line_of(text, 'slug = "nerve-blocks"')
    assert problems == [
        f"site.toml:{line_of(text, '[reviewer]')}: [reviewer]: no name, so pages cannot say who reviewed them "
        '(add name = "Dr. ..." under [reviewer])',
        f"site.toml:{treatment}: treatment 'nerve-blocks': no FAQ, so its pages have no "
        "FAQPage markup (add [[treatments.faqs]] with question and answer below it)",
    ]


def test_landing_check_fails_with_the_line_of_an_office_without_hours(in_site: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    site = in_site / "site.toml"
    text = site.read_text(encoding="utf-8").replace(
        'hours = [{ days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], opens = "08:00", closes = "17:00" }]\n', "")
    site.write_text(text, encoding="utf-8")
    assert main(["check"]) == 1
    office = line_of(text, 'id = "barrington"')
    assert capsys.readouterr().err.splitlines() == [
        f"site.toml:{office}: office 'barrington': no opening hours, so its markup has no "
        'openingHoursSpecification (add hours = [{ days = ["Monday", "Tuesday"], opens = "08:00", closes = "17:00" }])',
        "1 problem found; nothing was changed.",
    ]


def test_check_site_still_passes_a_complete_site(settings: Settings) -> None:
    assert check_site(settings).summary == "ok: 10 towns, 2 treatments, 18 pages"


def test_check_site_reports_markup_problems_with_every_other_problem(settings: Settings) -> None:
    text = settings.site_file.read_text(encoding="utf-8").replace("latitude = 42.2411\nlongitude = -88.3162\n", "")
    settings.site_file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        check_site(settings)
    assert [problem.split(":", 2)[:2] for problem in raised.value.problems] == [
        ["site.toml", str(line_of(text, 'id = "crystal-lake"'))]]


def test_broken_page_markup_is_reported_once_for_every_page() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "MedicalWebPage", "@id": f"{BASE}/a/#webpage", "name": "A", "url": f"{BASE}/a/",
         "breadcrumb": {"@id": f"{BASE}/a/#breadcrumb"}},
    ]}
    html = f'<script type="application/ld+json">{structured_data.jsonld(graph)}</script>'
    assert page_markup_problems(html, f"{BASE}/a/") == [
        "structured data: @id {page}#breadcrumb is referred to but no node of the graph has it"]
    assert page_markup_problems("<p>no markup</p>") == [
        "structured data: expected one JSON-LD block, found 0 (check templates/base.html)"]


def test_graph_problems_finds_malformed_breadcrumbs_hours_and_faq() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "BreadcrumbList", "@id": f"{BASE}/#breadcrumb", "itemListElement": [
            {"@type": "ListItem", "position": 2, "name": "Home", "item": f"{BASE}/"},
            {"@type": "ListItem", "position": 2, "name": "Town", "item": "/relative/"}]},
        {"@type": "MedicalClinic", "@id": f"{BASE}/#office-x", "name": "X", "url": f"{BASE}/", "telephone": "+18475550100",
         "address": {"@type": "PostalAddress", "streetAddress": "1 Road", "addressLocality": "X", "addressRegion": "IL",
                     "postalCode": "60010"},
         "openingHoursSpecification": [{"@type": "OpeningHoursSpecification", "dayOfWeek": ["Mon"], "opens": "8am",
                                        "closes": "17:00"}]},
        {"@type": "FAQPage", "@id": f"{BASE}/#faq", "mainEntity": []},
    ]}
    assert structured_data.graph_problems(graph) == [
        f"BreadcrumbList {BASE}/#breadcrumb item 1 needs position 1 and a name",
        f"BreadcrumbList {BASE}/#breadcrumb item 2 needs an absolute URL",
        "OpeningHoursSpecification needs dayOfWeek as schema.org day URLs, e.g. https://schema.org/Monday",
        "OpeningHoursSpecification needs opens and closes as HH:MM",
        f"FAQPage {BASE}/#faq has no questions",
    ]
