"""JSON-LD: one linked, truthful graph per page, safely embedded, true to the whole schema.org vocabulary."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html as html_lib
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from landing import catalog as catalog_module
from landing import site as site_module
from landing import structured_data
from landing.catalog import Catalog, SourceFiles, load_catalog
from landing.check import check_site, page_markup_problems
from landing.cli import main
from landing.errors import ConfigError
from landing.locations import default_slug
from landing.pages import Crumb, Meta
from landing.settings import Settings
from landing.site import DAYS, PROCEDURE_TYPES, Hours, Reviewer
from tests import schema_vocabulary
from tests.conftest import ClientFactory
from tests.html import Page
from tests.schema_vocabulary import vocabulary

ROOT = Path(__file__).resolve().parent.parent
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
                # Cary's own question; the county's (on three pages) and the treatment's (marked up on the
                # treatment's own page) are not repeated here.
                {
                    "@type": "Question",
                    "name": "Where do patients from Cary park?",
                    "acceptedAnswer": {"@type": "Answer", "text": "In the free lot behind the Crystal Lake office."},
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


def types_of(node: dict[str, Any]) -> list[str]:
    kind = node["@type"]
    return kind if isinstance(kind, list) else [kind]


def of_type(graph: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [node for node in nodes(graph) if kind in types_of(node)]


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
    return load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates",
                                    site_dir / "faqs.csv"))


def cary_graph(catalog: Catalog) -> dict[str, Any]:
    page = catalog.pages[CARY]
    meta = Meta(title=CARY_GRAPH["@graph"][2]["name"], description=CARY_GRAPH["@graph"][2]["description"],
                canonical=catalog.url(CARY))
    crumbs = (Crumb("Home", catalog.url("/")), Crumb("Intrathecal Pump Therapy", catalog.url("/intrathecal-pump-therapy/")),
              Crumb("Cary, IL", catalog.url(CARY)))
    return structured_data.landing_graph(catalog, page, meta, crumbs)


def with_therapy_facts(catalog: Catalog, **facts: str) -> Catalog:
    """The test catalog with the pump therapy's optional structured-data facts set, and its whole article on its
    town pages (a summary says what the therapy is, so its markup says no more)."""
    treatment = dataclasses.replace(catalog.site.treatments_by_slug["intrathecal-pump-therapy"], article="full",
                                    **facts)
    pages = {path: dataclasses.replace(page, treatment=treatment) if page.treatment.slug == treatment.slug else page
             for path, page in catalog.pages.items()}
    return dataclasses.replace(catalog, pages=pages)


# -- the graphs, as pure functions ------------------------------------------------------------------


def test_landing_graph_links_site_practice_page_therapy_office_reviewer_breadcrumb_and_faq(catalog: Catalog) -> None:
    assert cary_graph(catalog) == CARY_GRAPH


def test_therapy_carries_only_the_facts_site_toml_gives(catalog: Catalog) -> None:
    facts = with_therapy_facts(catalog, procedure_type="Percutaneous", body_location="",
                               how_performed="Through a needle.", followup="")
    graph = cary_graph(facts)
    therapy = one(graph, "MedicalTherapy")
    assert therapy["procedureType"] == "https://schema.org/PercutaneousProcedure"
    assert therapy["howPerformed"] == "Through a needle."
    assert "bodyLocation" not in therapy and "followup" not in therapy
    # An office offering it points at the same node.
    assert one(graph, "MedicalClinic")["availableService"] == {"@id": therapy["@id"]}


# -- procedure_type: only what schema.org has -------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "markup"),
    [
        # schema.org has no "surgical" member of MedicalProcedureType: SurgicalProcedure is a class, a kind of
        # MedicalProcedure beside MedicalTherapy, so a surgical therapy is typed as both.
        ("Surgical", {"@type": ["MedicalTherapy", "SurgicalProcedure"]}),
        ("Percutaneous", {"@type": "MedicalTherapy", "procedureType": "https://schema.org/PercutaneousProcedure"}),
        ("Noninvasive", {"@type": "MedicalTherapy", "procedureType": "https://schema.org/NoninvasiveProcedure"}),
        ("", {"@type": "MedicalTherapy"}),
    ],
)
def test_each_procedure_type_is_marked_up_the_way_schema_org_defines_it(catalog: Catalog, word: str,
                                                                        markup: dict[str, Any]) -> None:
    graph = cary_graph(with_therapy_facts(catalog, procedure_type=word, body_location="Spine",
                                          how_performed="By hand.", followup="Refills."))
    therapy = one(graph, "MedicalTherapy")
    assert {key: value for key, value in therapy.items() if key in ("@type", "procedureType")} == markup
    assert therapy["@id"] == f"{BASE}/intrathecal-pump-therapy/#therapy"
    assert vocabulary().problems(graph) == []
    assert structured_data.graph_problems(graph) == []


def test_the_procedure_types_site_toml_accepts_are_the_ones_schema_org_has() -> None:
    terms = vocabulary()
    assert set(terms.members("MedicalProcedureType")) == {f"{word}Procedure" for word in PROCEDURE_TYPES} - {
        "SurgicalProcedure"}
    assert terms.is_class("SurgicalProcedure") and not terms.is_enumeration("SurgicalProcedure")
    assert "MedicalProcedure" in terms.lineage("SurgicalProcedure") & terms.lineage("MedicalTherapy")


@pytest.mark.parametrize(
    ("written", "word"),
    [
        ("Surgical", "Surgical"),
        ("surgical procedure", "Surgical"),
        ("Non-invasive", "Noninvasive"),
        ("PercutaneousProcedure", "Percutaneous"),
        ("https://schema.org/NoninvasiveProcedure", "Noninvasive"),
        ("Laser", ""),
        ("https://schema.org/Surgery", ""),
        ("", ""),
    ],
)
def test_procedure_type_is_read_in_words_as_one_of_the_kinds_schema_org_has(written: str, word: str) -> None:
    assert site_module.procedure_type(written) == word


def test_a_procedure_type_schema_org_does_not_have_is_refused_with_its_line_and_the_allowed_ones(
        in_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = in_site / "site.toml"
    text = site.read_text(encoding="utf-8").replace(
        'template = "treatments/nerve-blocks.html"\n', 'template = "treatments/nerve-blocks.html"\nprocedure_type = "Laser"\n')
    site.write_text(text, encoding="utf-8")
    assert main(["check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"site.toml:{line_of(text, 'procedure_type')}: treatment 'nerve-blocks': procedure_type 'Laser' is not a kind "
        "of procedure schema.org has (write Surgical if it is done through an incision, Percutaneous if through a "
        "needle puncture of the skin, Noninvasive if through neither; or leave procedure_type out)",
        "1 problem found; nothing was changed.",
    ]


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
        "/nerve-blocks/": ["BreadcrumbList", "CollectionPage", "FAQPage", "ItemList", "MedicalOrganization",
                           "MedicalTherapy", "WebSite"],
        # Barrington has no question of its own: the treatment's are marked up once, on the treatment's page.
        BARRINGTON: ["BreadcrumbList", "MedicalClinic", "MedicalOrganization", "MedicalTherapy", "MedicalWebPage",
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


# -- the whole schema.org vocabulary ---------------------------------------------------------------

# Every kind of page and the graph it carries: (method, path, status).
PAGE_TYPES = {
    "home": ("GET", "/", 200),
    "hub": ("GET", "/intrathecal-pump-therapy/", 200),
    "a hub's later page": ("GET", "/intrathecal-pump-therapy/page/2/", 200),
    "a hub's last page": ("GET", "/nerve-blocks/page/3/", 200),
    "landing page served from another town's office": ("GET", CARY, 200),
    "landing page of a town with an office": ("GET", BARRINGTON, 200),
    "landing page of the other treatment": ("GET", "/nerve-blocks/woodstock-il/", 200),
    "404": ("GET", "/no-such-page/", 404),
    "thank-you": ("GET", "/thank-you/?office=crystal-lake", 200),
    "a form that could not be read": ("POST", "/leads", 400),
    "a form sent in a format not accepted": ("POST", "/leads", 415),
}
_BODIES = {400: ("application/x-www-form-urlencoded", b"name=%FF"), 415: ("text/plain", b"name=x")}

# Every optional fact site.toml can give a treatment, so the graphs hold every term the builder can emit.
_FACTS = {
    "intrathecal-pump-therapy": 'procedure_type = "Surgical"\nbody_location = "Abdomen and spine"\n'
                                'how_performed = "Through a small incision."\nfollowup = "Refills."\n',
    "nerve-blocks": 'procedure_type = "Percutaneous"\nbody_location = "Spine"\nhow_performed = "Through a needle."\n'
                    'followup = "A check-up call."\n',
}


@pytest.fixture
async def every_fact_client(site_dir: Path, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> httpx.AsyncClient:
    """The test practice with every optional treatment fact, its hubs split 4 towns a page."""
    site = site_dir / "site.toml"
    text = site.read_text(encoding="utf-8")
    for slug, facts in _FACTS.items():
        line = f'template = "treatments/{slug}.html"\n'
        text = text.replace(line, line + facts)
    site.write_text(text, encoding="utf-8")
    monkeypatch.setattr(catalog_module, "HUB_PART_SIZE", 4)
    return await make_client()


async def graph_of_page(client: httpx.AsyncClient, page_type: str) -> dict[str, Any]:
    method, path, status = PAGE_TYPES[page_type]
    if method == "POST":
        content_type, body = _BODIES[status]
        response = await client.post(path, content=body, headers={"content-type": content_type})
    else:
        response = await client.get(path)
    assert response.status_code == status, page_type
    return graph_of(response.text)


@pytest.mark.parametrize("page_type", PAGE_TYPES)
async def test_every_page_types_graph_is_true_to_the_whole_schema_org_vocabulary(every_fact_client: httpx.AsyncClient,
                                                                                   page_type: str) -> None:
    graph = await graph_of_page(every_fact_client, page_type)
    assert vocabulary().problems(graph) == []
    assert structured_data.graph_problems(graph) == []


async def test_the_vocabulary_check_saw_every_optional_fact(every_fact_client: httpx.AsyncClient) -> None:
    """The pages above carry what the builder emits only when site.toml gives it, so all of it was checked."""
    seen: set[str] = set()
    for page_type in PAGE_TYPES:
        for value in every_value(nodes(await graph_of_page(every_fact_client, page_type))):
            if isinstance(value, dict):
                seen |= set(value) | set(types_of(value) if "@type" in value else [])
    assert {"SurgicalProcedure", "procedureType", "bodyLocation", "howPerformed", "followup", "geo",
            "openingHoursSpecification", "logo", "reviewedBy", "lastReviewed", "FAQPage", "ItemList", "subOrganization",
            "areaServed", "availableService"} <= seen
    # The pump's page carries its whole article, so its therapy node says everything site.toml gives; its town
    # pages summarise it, so theirs say what it is only.
    hub = await graph_of_page(every_fact_client, "hub")
    assert one(hub, "MedicalTherapy")["@type"] == ["MedicalTherapy", "SurgicalProcedure"]
    town = await graph_of_page(every_fact_client, "landing page of a town with an office")
    assert one(town, "MedicalTherapy")["@type"] == "MedicalTherapy" and "howPerformed" not in one(town, "MedicalTherapy")
    # The nerve-block pages show the whole article, and its list of towns only the name and description.
    assert one(await graph_of_page(every_fact_client, "landing page of the other treatment"),
               "MedicalTherapy")["procedureType"] == "https://schema.org/PercutaneousProcedure"
    nerve_blocks = graph_of((await every_fact_client.get("/nerve-blocks/")).text)
    assert one(nerve_blocks, "MedicalTherapy")["@type"] == "MedicalTherapy" and "procedureType" not in one(
        nerve_blocks, "MedicalTherapy")


async def test_the_example_practices_pages_are_true_to_the_whole_schema_org_vocabulary(
        tmp_path: Path, make_client: ClientFactory) -> None:
    folder = tmp_path / "example"
    for name in ("templates", "static"):
        shutil.copytree(ROOT / name, folder / name)
    for name in ("site.toml", "locations.csv"):
        shutil.copy(ROOT / name, folder / name)
    client = await make_client(site_file=folder / "site.toml", locations_file=folder / "locations.csv",
                               templates_dir=folder / "templates", static_dir=folder / "static")
    base = "http://127.0.0.1:8000"
    for path in ["/", "/intrathecal-pump-therapy/", "/intrathecal-pump-therapy/barrington-il/", "/no-such-page/",
                 "/thank-you/?office=barrington"]:
        response = await client.get(path)
        graph = graph_of(response.text)
        assert vocabulary().problems(graph) == [], path
    # The issue's finding: the implanted pump was said to have procedureType SurgicalProcedure, a class. Its facts
    # are on its own page, which carries the whole article (its town pages summarise it).
    therapy = one(graph_of((await client.get("/intrathecal-pump-therapy/")).text), "MedicalTherapy")
    assert therapy["@id"] == f"{base}/intrathecal-pump-therapy/#therapy"
    assert therapy["@type"] == ["MedicalTherapy", "SurgicalProcedure"] and "procedureType" not in therapy


def test_the_vocabulary_check_finds_each_kind_of_mistake() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        # What the issue found: a class given as a member of the enumeration procedureType expects.
        {"@type": "MedicalTherapy", "@id": f"{BASE}/t/#therapy", "name": "T",
         "procedureType": "https://schema.org/SurgicalProcedure", "telephone": "+18475550100", "honorific": "MD"},
        {"@type": "Physiotherapy", "@id": f"{BASE}/#a"},
        {"@type": "Surgeon", "@id": f"{BASE}/#b"},
        {"@type": "Monday", "@id": f"{BASE}/#c"},
        {"@type": "MedicalClinic", "@id": f"{BASE}/#office", "name": "X", "knowsAbout": "Pain",
         "serviceArea": {"@type": "City", "name": "Cary"},
         "address": {"@type": "PostalAddress", "addressLocality": 60010, "postalCode": None},
         "openingHoursSpecification": [{"@type": "OpeningHoursSpecification", "dayOfWeek": ["Monday", {"name": "x"}],
                                        "opens": "8am", "closes": "17:00"}]},
        {"@type": "MedicalWebPage", "@id": f"{BASE}/t/#webpage", "url": "/t/", "lastReviewed": "last week",
         "reviewedBy": {"@id": f"{BASE}/t/#therapy"}, "about": "pumps", "breadcrumb": [], "@reverse": {}},
    ]}
    hours = f"MedicalClinic {BASE}/#office openingHoursSpecification[0] (OpeningHoursSpecification)"
    assert vocabulary().problems(graph) == [
        f'MedicalTherapy {BASE}/t/#therapy procedureType: "https://schema.org/SurgicalProcedure" is not a '
        "MedicalProcedureType (one of https://schema.org/NoninvasiveProcedure or https://schema.org/PercutaneousProcedure)",
        f"MedicalTherapy {BASE}/t/#therapy: telephone is not a property of MedicalTherapy (schema.org has it on "
        "ContactPoint, Organization, Person or Place)",
        f"MedicalTherapy {BASE}/t/#therapy: honorific is not a schema.org property",
        f"Physiotherapy {BASE}/#a: @type Physiotherapy is a member of MedicalSpecialty, not a class",
        f"Surgeon {BASE}/#b: @type Surgeon is not a schema.org class",
        f"Monday {BASE}/#c: @type Monday is a member of DayOfWeek, not a class",
        f"MedicalClinic {BASE}/#office: the property knowsAbout is pending at schema.org (it may still change or go)",
        f"MedicalClinic {BASE}/#office: the property serviceArea is superseded by areaServed",
        f"MedicalClinic {BASE}/#office address (PostalAddress) addressLocality: 60010 is not a Text",
        f"MedicalClinic {BASE}/#office address (PostalAddress) postalCode: null means nothing in JSON-LD (leave the "
        "property out instead)",
        f'{hours} dayOfWeek[0]: "Monday" is not a DayOfWeek (one of https://schema.org/Friday, https://schema.org/Monday, '
        "https://schema.org/PublicHolidays, https://schema.org/Saturday, https://schema.org/Sunday, "
        "https://schema.org/Thursday, https://schema.org/Tuesday or https://schema.org/Wednesday)",
        f'{hours} dayOfWeek[1]: {{"name": "x"}} is an object with neither @type nor only an @id',
        f'{hours} opens: "8am" is not a Time',
        f'MedicalWebPage {BASE}/t/#webpage url: "/t/" is not a URL',
        f'MedicalWebPage {BASE}/t/#webpage lastReviewed: "last week" is not a Date',
        f'MedicalWebPage {BASE}/t/#webpage reviewedBy: {{"@id": "{BASE}/t/#therapy"}} is not an Organization or Person',
        f'MedicalWebPage {BASE}/t/#webpage about: "pumps" is not a Thing',
        f"MedicalWebPage {BASE}/t/#webpage breadcrumb: an empty list (leave the property out instead)",
        f"MedicalWebPage {BASE}/t/#webpage: @reverse is not a JSON-LD keyword this markup uses",
    ]


def test_the_vocabulary_check_accepts_inherited_properties_member_urls_references_and_data_types() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        # name and url come from Thing, telephone from Organization and Place, availableService is MedicalClinic's own.
        {"@type": "MedicalClinic", "@id": f"{BASE}/#office", "name": "X", "url": f"{BASE}/", "telephone": "+1847",
         "availableService": {"@id": f"{BASE}/t/#therapy"}, "logo": f"{BASE}/static/logo.svg",
         "geo": {"@type": "GeoCoordinates", "latitude": 42.1, "longitude": -88},
         "openingHoursSpecification": {"@type": "OpeningHoursSpecification",
                                       "dayOfWeek": ["https://schema.org/Monday", "http://schema.org/Tuesday",
                                                     {"@id": "https://schema.org/Friday"}],
                                       "opens": "08:00", "closes": "17:00:00-05:00"}},
        {"@type": ["MedicalTherapy", "SurgicalProcedure"], "@id": f"{BASE}/t/#therapy", "name": "T",
         "howPerformed": "Through a small incision."},
        {"@type": "MedicalTherapy", "@id": f"{BASE}/u/#therapy", "procedureType": {"@id": "https://schema.org/NoninvasiveProcedure"}},
        {"@type": "MedicalWebPage", "@id": f"{BASE}/t/#webpage", "lastReviewed": "2026-10-01",
         "dateModified": "2026-10-01T09:30:00+00:00", "reviewedBy": {"@type": "Person", "name": "Dr. A"},
         "about": [{"@id": f"{BASE}/t/#therapy"}, "https://en.wikipedia.org/wiki/Intrathecal_pump"]},
        {"@type": "BreadcrumbList", "@id": f"{BASE}/t/#breadcrumb", "numberOfItems": 1,
         "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Home", "item": f"{BASE}/"}]},
    ]}
    assert vocabulary().problems(graph) == []


def test_the_vocabulary_is_schema_orgs_release_as_published_and_says_so() -> None:
    schema_vocabulary.load()  # compares the file's SHA-256 with the published release's
    note = (schema_vocabulary.FILE.parent / "README.md").read_text(encoding="utf-8")
    assert f"release {schema_vocabulary.RELEASE}" in note and schema_vocabulary.SHA256 in note
    assert "CC BY-SA 3.0" in note


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


def shown_faq(html: str) -> list[tuple[str, str]]:
    faq = Page(section(html, r'<section[^>]*\bid="faq".*?</section>'))
    return list(zip(faq.text_of("h3"), faq.text_of("p")))


def marked_faq(graph: dict[str, Any]) -> list[tuple[str, str]]:
    found = [node for node in nodes(graph) if node["@type"] == "FAQPage"]
    assert all(question["acceptedAnswer"]["@type"] == "Answer" for node in found for question in node["mainEntity"])
    return [(question["name"], question["acceptedAnswer"]["text"]) for node in found for question in node["mainEntity"]]


async def test_every_question_is_shown_and_marked_up_once_on_the_site_word_for_word(client: httpx.AsyncClient) -> None:
    # Google asks that a question repeated across a site be marked up on one page only.
    shown: dict[tuple[str, str], list[str]] = {}
    marked: dict[tuple[str, str], list[str]] = {}
    for path in ["/intrathecal-pump-therapy/", "/nerve-blocks/",
                 *(f"/{treatment}/{town}/" for treatment in ("intrathecal-pump-therapy", "nerve-blocks")
                   for town in ("barrington-il", "cary-il", "algonquin-il", "woodstock-il", "crystal-lake-il"))]:
        response = await client.get(path)
        if response.status_code == 404:
            continue
        html, graph = response.text, graph_of(response.text)
        for pair in (shown_faq(html) if 'id="faq"' in html else []):
            shown.setdefault(pair, []).append(path)
        for pair in marked_faq(graph):
            assert pair in shown_faq(html), (path, pair)  # marked up only where it is shown, word for word
            marked.setdefault(pair, []).append(path)
    assert {pair: len(paths) for pair, paths in marked.items()} == {pair: 1 for pair in shown}
    # The treatment's questions on the treatment's own page; a town's own on its page.
    assert marked[("Is the pump adjustable?", "Yes, the dose can be changed at follow-up visits.")] == [
        "/intrathecal-pump-therapy/"]
    assert marked[("Where do patients from Cary park?", "In the free lot behind the Crystal Lake office.")] == [CARY]
    county = ("Do you see patients from all over McHenry County?", "Yes, at our Crystal Lake office.")
    # The first town of the county in locations.csv marks it up.
    assert len(shown[county]) == 3 and marked[county] == ["/intrathecal-pump-therapy/crystal-lake-il/"]


async def test_a_summarising_town_page_lists_the_treatments_questions_as_links_to_their_answers(
        client: httpx.AsyncClient) -> None:
    html = (await client.get(CARY)).text
    faq = Page(section(html, r'<section[^>]*\bid="faq".*?</section>'))
    assert faq.text_of("h3") == ["Where do patients from Cary park?", "Do you see patients from all over McHenry County?"]
    assert '<a href="/intrathecal-pump-therapy/#faq-1">Is the pump adjustable?</a>' in html
    hub = (await client.get("/intrathecal-pump-therapy/")).text
    assert '<h3 id="faq-1">Is the pump adjustable?</h3>' in hub


@pytest.mark.parametrize("path", LANDING_PAGES)
async def test_office_name_address_phone_and_hours_in_markup_are_the_printed_ones(client: httpx.AsyncClient, path: str) -> None:
    html, graph = await page_graph(client, path)
    card = section(section(html, r'<div class="office-card">.*?</svg>'), r'<div class="office">.*?</div>')
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
    main = Page(section(html, r"<main.*</main>"))
    names = [name for attrs, name in zip(main.all("a"), main.text_of("a"))
             if attrs.get("href", "").startswith("/nerve-blocks/") and attrs["href"] != "/nerve-blocks/"]
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
    (site_dir / "faqs.csv").unlink()  # its towns are gone
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
    treatment_page = graph_of((await client.get("/intrathecal-pump-therapy/")).text)
    assert one(treatment_page, "FAQPage")["mainEntity"][0]["acceptedAnswer"]["text"] == HOSTILE_ANSWER
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
