"""What a search visitor (and a search engine) gets from each kind of page."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from types import SimpleNamespace
from typing import cast
from urllib.parse import urlsplit

import httpx
import pytest

from landing.pages import page_title
from landing.site import Practice
from landing.structured_data import graph_problems, graphs_in
from tests.conftest import ClientFactory
from tests.html import Page

LANDING = "/intrathecal-pump-therapy/barrington-il/"


async def get_page(client: httpx.AsyncClient, path: str) -> Page:
    response = await client.get(path)
    assert response.status_code == 200, path
    return Page(response.text)


async def test_landing_page_has_title_description_h1_and_canonical(client: httpx.AsyncClient) -> None:
    page = await get_page(client, "/intrathecal-pump-therapy/lake-zurich-il/")
    # The full practice name would pass 60 characters, so the short one is used.
    # The page's own title first; the map's title (an SVG <title>) is further down.
    assert page.text_of("title")[0] == "Intrathecal Pump Therapy Lake Zurich, IL | TPC"
    assert page.text_of("h1") == ["Intrathecal Pump Therapy in Lake Zurich, IL"]
    description = page.meta("description")
    assert description.startswith("Intrathecal Pump Therapy for patients in Lake Zurich, IL") and len(description) <= 160
    assert page.all("link", rel="canonical") == [{"rel": "canonical", "href": "https://pain.example.com/intrathecal-pump-therapy/lake-zurich-il/"}]
    assert page.all("html")[0]["lang"] == "en-US"


async def test_title_keeps_the_full_practice_name_when_it_fits(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client()
    page = await get_page(client, "/nerve-blocks/cary-il/")
    assert page.text_of("title")[0] == "Nerve Blocks Cary, IL | Test Pain & Spine Clinic"


async def test_landing_page_has_open_graph_and_twitter_tags(client: httpx.AsyncClient) -> None:
    page = await get_page(client, LANDING)
    assert page.meta("og:url") == "https://pain.example.com" + LANDING
    assert page.meta("og:title") == page.text_of("title")[0]
    assert page.meta("og:description") == page.meta("description")
    assert page.meta("og:image") == "https://pain.example.com/static/logo.svg"
    assert page.meta("twitter:card") == "summary"
    assert page.meta("twitter:title") == page.text_of("title")[0]


async def test_breadcrumbs_lead_home_to_hub_to_page(client: httpx.AsyncClient) -> None:
    page = await get_page(client, LANDING)
    nav = re.search(r'<nav class="crumbs[^>]*>(.*?)</nav>', (await client.get(LANDING)).text, re.S)
    assert nav is not None
    crumbs = Page(nav.group(1))
    assert crumbs.text_of("a") == ["Home", "Intrathecal Pump Therapy"]
    assert crumbs.links() == ["https://pain.example.com/", "https://pain.example.com/intrathecal-pump-therapy/"]
    assert "Barrington, IL" in crumbs.text_of("li")[-1]
    assert page.all("span", **{"aria-current": "page"})


async def test_content_is_made_local(client: httpx.AsyncClient) -> None:
    html = (await client.get("/intrathecal-pump-therapy/cary-il/")).text
    # The nearest office (Crystal Lake, about 4 miles away), with its address and a tel: link.
    assert ('<p class="where">Our Crystal Lake office is about 4 miles northwest of Cary, at 2 Test Avenue, Crystal '
            'Lake.</p>') in html
    assert "2 Test Avenue<br>Crystal Lake, IL 60014" in html
    # Its county, and the other towns served there, nearest first.
    assert ('Cary is in McHenry County, Illinois (ZIP code 60013). We serve 3 towns in McHenry County, among them '
            '<a href="/intrathecal-pump-therapy/algonquin-il/">Algonquin</a> and '
            '<a href="/intrathecal-pump-therapy/crystal-lake-il/">Crystal Lake</a>.') in html
    assert '<a class="phone" href="tel:+18155550167">(815) 555-0167</a>' in html
    assert "Monday: 9:00 AM–12:00 PM" in html
    # The treatment's own template, filled in for the town.
    assert "What is Intrathecal Pump Therapy?" in html or "intrathecal" in html.lower()


async def test_the_csv_office_overrides_the_nearest(client: httpx.AsyncClient) -> None:
    html = (await client.get("/intrathecal-pump-therapy/algonquin-il/")).text
    assert "Our Barrington office is about 8 miles east of Algonquin" in html
    # The nearer office is named too: a patient may prefer it.
    assert "Our Crystal Lake office is closer: about 5 miles north, at 2 Test Avenue, Crystal Lake" in html


async def test_an_office_town_says_the_office_is_in_town(client: httpx.AsyncClient) -> None:
    html = (await client.get(LANDING)).text
    assert "Our Barrington office is here in Barrington, at 1 Test Road." in html


async def test_the_towns_intro_is_shown_and_notes_never_are(client: httpx.AsyncClient) -> None:
    html = (await client.get(LANDING)).text
    assert "Barrington has its own office on the test road." in html
    assert "internal note" not in html


async def test_landing_page_links_to_the_six_nearest_towns_and_the_hub(client: httpx.AsyncClient) -> None:
    html = (await client.get(LANDING)).text
    nearby = re.search(r'<nav class="nearby".*?</nav>', html, re.S)
    assert nearby is not None
    links = Page(nearby.group(0)).links()
    # Nearest first (3.7, 6.0, 6.6, 7.3, 8.2 and 11.0 miles); Elgin, at 11.1, is the seventh.
    assert links == [
        "/intrathecal-pump-therapy/lake-zurich-il/",
        "/intrathecal-pump-therapy/palatine-il/",
        "/intrathecal-pump-therapy/cary-il/",
        "/intrathecal-pump-therapy/wauconda-il/",
        "/intrathecal-pump-therapy/algonquin-il/",
        "/intrathecal-pump-therapy/crystal-lake-il/",
    ]
    assert "/intrathecal-pump-therapy/" in Page(html).links()


async def test_faq_is_visible(client: httpx.AsyncClient) -> None:
    # The treatment's questions are answered on its own page, and a town page that summarises the treatment
    # links each of them there; a page with the whole article answers them itself.
    assert '<a href="/intrathecal-pump-therapy/#faq-1">Is the pump adjustable?</a>' in (await client.get(LANDING)).text
    treatment_page = await get_page(client, "/intrathecal-pump-therapy/")
    assert "Is the pump adjustable?" in treatment_page.text_of("h3")
    assert "Yes, the dose can be changed at follow-up visits." in treatment_page.text_of("p")
    full = await get_page(client, "/nerve-blocks/woodstock-il/")
    assert "Does a nerve block hurt?" in full.text_of("h3")


async def test_each_page_has_exactly_one_h1(client: httpx.AsyncClient) -> None:
    for path in ["/", "/intrathecal-pump-therapy/", LANDING, "/nerve-blocks/woodstock-il/"]:
        assert len((await get_page(client, path)).text_of("h1")) == 1, path


async def test_towns_offer_only_their_listed_treatments(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nerve-blocks/woodstock-il/")).status_code == 200
    assert (await client.get("/intrathecal-pump-therapy/woodstock-il/")).status_code == 404
    assert (await client.get("/intrathecal-pump-therapy/palatine-il/")).status_code == 200
    assert (await client.get("/nerve-blocks/palatine-il/")).status_code == 404


def test_a_title_names_the_practice_only_while_it_fits_in_60_characters() -> None:
    practice = cast(Practice, SimpleNamespace(name="Illinois Pain & Spine Institute", short_name="IL Pain & Spine"))
    assert page_title("Nerve Blocks Cary, IL", practice) == "Nerve Blocks Cary, IL | Illinois Pain & Spine Institute"
    assert page_title("Intrathecal Pump Therapy Cary, IL", practice) == "Intrathecal Pump Therapy Cary, IL | IL Pain & Spine"
    # Neither name fits: the treatment and the town are what a searcher scans a result for.
    assert page_title("Intrathecal Pump Therapy Arlington Heights, IL", practice) == "Intrathecal Pump Therapy Arlington Heights, IL"


async def test_hub_lists_every_town_offering_the_treatment_grouped_by_state(client: httpx.AsyncClient) -> None:
    page = await get_page(client, "/nerve-blocks/")
    # Nerve-block town pages carry the whole article: the treatment's page is its questions and its towns.
    assert page.text_of("h2") == ["Questions about nerve blocks", "Illinois"]
    summarised = await get_page(client, "/intrathecal-pump-therapy/")
    # The pump's town pages summarise it: its page has the whole article, its questions, then the towns.
    headings = summarised.text_of("h2")
    assert headings[0] == "What is Intrathecal Pump Therapy?"
    assert headings[-2:] == ["Questions about intrathecal pump therapy", "Towns we serve"]
    towns = [link for link in page.links() if link.startswith("/nerve-blocks/") and link != "/nerve-blocks/"]
    assert "/nerve-blocks/woodstock-il/" in towns and "/nerve-blocks/palatine-il/" not in towns
    assert len(towns) == 9


async def test_a_hub_of_many_towns_is_split_into_pages_that_together_list_each_town_once(
    site_dir: Path, make_client: ClientFactory
) -> None:
    # 1,203 towns: a single hub page would be megabytes of links; it is 500 towns a page.
    rows = ["town,state,latitude,longitude"]
    rows += [f"Town {n:04d},{'IL' if n < 700 else 'WI'},{42 + n / 10_000:.4f},-88.0000" for n in range(1203)]
    (site_dir / "locations.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    client = await make_client()
    hub = "/intrathecal-pump-therapy/"
    pages = [await get_page(client, path) for path in (hub, f"{hub}page/2/", f"{hub}page/3/")]
    listed = [[link for link in page.links() if link.startswith(hub) and link.count("/") == 3 and "/page/" not in link]
              for page in pages]
    assert [len(towns) for towns in listed] == [500, 500, 203]
    assert sorted(sum(listed, [])) == sorted(f"{hub}town-{n:04d}-{'il' if n < 700 else 'wi'}/" for n in range(1203))
    second = pages[1]
    assert second.text_of("title") == ["Intrathecal Pump Therapy: Towns We Serve, Page 2 of 3 | TPC"]
    assert second.all("link", rel="canonical")[0]["href"] == f"https://pain.example.com{hub}page/2/"
    assert second.text_of("h2")[:2] == ["Illinois", "Wisconsin"]  # a state runs on where the last page stopped
    # Every page links every other, labelled with its first and last town.
    pager = [link for link in second.links() if link in (hub, f"{hub}page/2/", f"{hub}page/3/")]
    assert pager == [hub, f"{hub}page/3/"]
    third = (await client.get(f"{hub}page/3/")).text
    assert f'<a href="{hub}page/2/">Illinois: Town 0500 – Wisconsin: Town 0999</a>' in third
    # Its structured data lists the towns it shows, and passes the markup checks `landing check` makes.
    [graph] = graphs_in(third)
    [towns] = [node for node in graph["@graph"] if node["@type"] == "ItemList"]
    assert [item["url"] for item in towns["itemListElement"]] == [f"https://pain.example.com{path}" for path in listed[2]]
    assert graph_problems(graph) == []
    for missing in (f"{hub}page/1/", f"{hub}page/4/", f"{hub}page/02/", f"{hub}page/%C2%B2/", f"{hub}page/%D9%A2/"):
        assert (await client.get(missing)).status_code == 404, missing
    sitemap = (await client.get("/sitemap.xml")).text
    assert f"https://pain.example.com{hub}page/3/</loc>" in sitemap
    # A town's page leads to the hub page that lists it, among its neighbours in the list.
    town = await get_page(client, f"{hub}town-1100-wi/")
    assert f"{hub}page/3/" in town.links() and hub not in town.links()


async def test_every_page_is_reachable_from_home(client: httpx.AsyncClient) -> None:
    seen: set[str] = set()
    queue = ["/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await client.get(path)
        assert response.status_code == 200, path
        for link in Page(response.text).links():
            parts = urlsplit(link)
            if parts.netloc in ("", "pain.example.com") and parts.path.startswith("/") and not parts.path.startswith("/static/"):
                queue.append(parts.path)
    landing_pages = {path for path in seen if path.count("/") == 3}
    assert len(landing_pages) == 18  # 10 towns x 2 treatments, less Palatine's and Woodstock's missing one


async def test_home_lists_treatments_and_offices(client: httpx.AsyncClient) -> None:
    page = await get_page(client, "/")
    assert {"/intrathecal-pump-therapy/", "/nerve-blocks/"} <= set(page.links())
    assert "Barrington office" in page.text_of("h3") and "Crystal Lake office" in page.text_of("h3")


async def test_unknown_page_is_404_noindex_with_the_closest_towns(client: httpx.AsyncClient) -> None:
    response = await client.get("/intrathecal-pump-therapy/barington-il/")
    assert response.status_code == 404
    page = Page(response.text)
    assert page.meta("robots") == "noindex, follow"
    assert response.headers["x-robots-tag"] == "noindex"
    assert not page.all("link", rel="canonical")
    assert page.links().index("/intrathecal-pump-therapy/barrington-il/") >= 0
    assert "We could not find that page" in page.text_of("h1")


@pytest.mark.parametrize(
    ("asked", "canonical"),
    [
        ("/intrathecal-pump-therapy/barrington-il", LANDING),
        ("/Intrathecal-Pump-Therapy/Barrington-IL/", LANDING),
        ("/INTRATHECAL-PUMP-THERAPY/BARRINGTON-IL", LANDING),
        ("/intrathecal-pump-therapy//barrington-il/", LANDING),
        ("/intrathecal-pump-therapy/crystal-lake-illinois/", "/intrathecal-pump-therapy/crystal-lake-il/"),
        ("/intrathecal-pump-therapy", "/intrathecal-pump-therapy/"),
        ("/Nerve-Blocks", "/nerve-blocks/"),
    ],
)
async def test_other_spellings_and_aliases_answer_301(client: httpx.AsyncClient, asked: str, canonical: str) -> None:
    response = await client.get(asked)
    assert response.status_code == 301
    assert response.headers["location"] == canonical


async def test_redirect_keeps_the_query_string(client: httpx.AsyncClient) -> None:
    response = await client.get("/intrathecal-pump-therapy/Barrington-IL?utm_source=google&gclid=abc")
    assert response.headers["location"] == LANDING + "?utm_source=google&gclid=abc"


async def test_head_answers_headers_without_a_body(client: httpx.AsyncClient) -> None:
    get = await client.get(LANDING)
    head = await client.head(LANDING)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == get.headers["content-length"]


async def test_etag_and_if_none_match_answer_304(client: httpx.AsyncClient) -> None:
    first = await client.get(LANDING)
    etag = first.headers["etag"]
    again = await client.get(LANDING, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    strong = etag.removeprefix("W/")  # landing pages are weak: each carries its visitor's own form token
    weak = await client.get(LANDING, headers={"if-none-match": f'"other", W/{strong}'})
    assert weak.status_code == 304
    stale = await client.get(LANDING, headers={"if-none-match": '"something-else"'})
    assert stale.status_code == 200


async def test_gzip_when_accepted_and_plain_when_not(client: httpx.AsyncClient) -> None:
    plain = await client.get(LANDING, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await client.get(LANDING, headers={"accept-encoding": "gzip, deflate, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes; the bytes are the same page
    refused = await client.get(LANDING, headers={"accept-encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers


async def test_pages_carry_cdn_friendly_cache_headers(client: httpx.AsyncClient) -> None:
    for path in ["/", "/nerve-blocks/", LANDING]:
        response = await client.get(path)
        assert response.headers["cache-control"] == "public, max-age=600, stale-while-revalidate=86400"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_https_sites_ask_browsers_to_stay_on_https(make_client) -> None:  # type: ignore[no-untyped-def]
    secure = await make_client()  # base URL https://pain.example.com
    assert (await secure.get(LANDING)).headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    plain = await make_client(base_url="http://127.0.0.1:8000")
    assert "strict-transport-security" not in (await plain.get(LANDING)).headers


async def test_css_is_fingerprinted_and_cached_for_a_year(client: httpx.AsyncClient) -> None:
    page = await get_page(client, LANDING)
    (stylesheet,) = page.all("link", rel="stylesheet")
    assert re.fullmatch(r"/static/site\.[0-9a-f]{10}\.css", stylesheet["href"])
    css = await client.get(stylesheet["href"])
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await client.get("/static/site.0000000000.css")).status_code == 404


async def test_nothing_is_loaded_from_a_third_party(client: httpx.AsyncClient) -> None:
    for path in ["/", "/nerve-blocks/", LANDING, "/no-such-page/"]:
        page = Page((await client.get(path)).text)
        assert not page.all("script", src=None) or all("src" not in s for s in page.all("script")), path
        for tag, attribute in [("link", "href"), ("img", "src"), ("script", "src"), ("iframe", "src")]:
            for attrs in page.all(tag):
                url = attrs.get(attribute, "")
                if tag == "link" and attrs.get("rel") == "canonical":
                    continue
                assert not url.startswith(("http:", "https:", "//")), (path, tag, url)


async def test_landing_page_and_css_weigh_at_most_40kb_compressed(client: httpx.AsyncClient) -> None:
    html = await client.get(LANDING, headers={"accept-encoding": "gzip"})
    stylesheet = Page(html.text).all("link", rel="stylesheet")[0]["href"]
    css = await client.get(stylesheet)
    weight = len(gzip.compress(html.content)) + len(gzip.compress(css.content))
    assert weight <= 40 * 1024


async def test_pages_have_landmarks_and_a_skip_link(client: httpx.AsyncClient) -> None:
    page = await get_page(client, LANDING)
    assert page.all("header") and page.all("main", id="main") and page.all("footer")
    assert page.all("a", href="#main")
    assert page.all("meta", name="viewport")


async def test_a_site_with_towns_filled_in_from_the_zip_code_data_credits_its_sources(
        locations_csv: Path, make_client: ClientFactory) -> None:
    client = await make_client()
    assert "GeoNames" not in (await client.get(LANDING)).text  # every test town has its own coordinates
    locations_csv.write_text(locations_csv.read_text() + "Fox Lake,IL,,,,,,,,,,\n")
    filled = await make_client()
    page = (await filled.get("/intrathecal-pump-therapy/fox-lake-il/")).text
    assert "Fox Lake is in Lake County, Illinois (ZIP code 60020)." in page
    assert '<a href="https://www.geonames.org/">GeoNames</a> (CC BY 4.0)' in page


async def test_the_favicon_and_touch_icon_answer_at_the_addresses_browsers_ask(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    touch = await client.get("/apple-touch-icon.png")
    assert touch.status_code == 200 and touch.content.startswith(b"\x89PNG")
    page = Page((await client.get(LANDING)).text)
    assert {"rel": "icon", "href": "/favicon.ico", "sizes": "32x32"} in page.all("link")
    touch_link = next(link for link in page.all("link") if link.get("rel") == "apple-touch-icon")
    assert (await client.get(touch_link["href"])).status_code == 200
    # The logo's own address, as the markup gives it, answers too.
    assert (await client.get("/static/logo.svg")).status_code == 200


async def test_a_far_towns_pages_are_left_out_of_the_sitemap(locations_csv: Path, make_client: ClientFactory) -> None:
    locations_csv.write_text(locations_csv.read_text() + "Anchorage,AK,,,61.2,-149.9,,,,,,\n")
    client = await make_client()
    sitemap = (await client.get("/sitemap.xml")).text
    assert "/barrington-il/" in sitemap and "/anchorage-ak/" not in sitemap
    page = Page((await client.get("/intrathecal-pump-therapy/anchorage-ak/")).text)
    assert page.meta("robots") == "noindex, follow"
