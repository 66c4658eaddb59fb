"""sitemap.xml, the sitemap index past 50,000 URLs, robots.txt and /healthz."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from landing.catalog import SourceFiles, load_catalog
from landing.sitemap import indexable_urls, sitemap_files, sitemap_paths, url_count
from tests.conftest import ClientFactory

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


async def test_sitemap_lists_every_indexable_page_with_lastmod(client: httpx.AsyncClient) -> None:
    response = await client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    urls = {url.findtext("sm:loc", namespaces=NS): url.findtext("sm:lastmod", namespaces=NS) for url in root}
    assert len(urls) == 1 + 2 + 18  # home, two hubs, eighteen landing pages
    assert "https://pain.example.com/intrathecal-pump-therapy/barrington-il/" in urls
    assert "https://pain.example.com/nerve-blocks/" in urls
    assert all(dt.date.fromisoformat(lastmod) <= dt.date.today() for lastmod in urls.values())


async def test_sitemap_lastmod_follows_the_site_files(site_dir: Path, make_client: ClientFactory) -> None:
    import os

    stamp = dt.datetime(2026, 3, 4, 12, tzinfo=dt.timezone.utc).timestamp()
    for path in site_dir.rglob("*"):
        os.utime(path, (stamp, stamp))
    client = await make_client()
    root = ET.fromstring((await client.get("/sitemap.xml")).content)
    assert {url.findtext("sm:lastmod", namespaces=NS) for url in root} == {"2026-03-04"}


def test_past_50000_urls_the_sitemap_becomes_an_index(site_dir: Path) -> None:
    rows = ["town,state,latitude,longitude"]
    rows += [f"Town {n},IL,{40 + n % 1000 / 1000:.4f},{-90 + n // 1000 / 100:.4f}" for n in range(25_002)]
    (site_dir / "locations.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    catalog = load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates"))
    files = sitemap_files(catalog)  # home, 2 x 51 hub pages, 2 x 25,002 towns: 50,107 URLs
    assert sorted(files) == ["/sitemap.xml", "/sitemaps/1.xml", "/sitemaps/2.xml"]
    index = ET.fromstring(files["/sitemap.xml"])
    assert index.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
    assert [s.findtext("sm:loc", namespaces=NS) for s in index] == [
        "https://pain.example.com/sitemaps/1.xml", "https://pain.example.com/sitemaps/2.xml"]
    counts = [len(ET.fromstring(files[f"/sitemaps/{n}.xml"])) for n in (1, 2)]
    assert counts == [50_000, 107]


def test_the_sitemap_s_paths_are_known_from_its_count_of_urls(site_dir: Path) -> None:
    # What a starting instance answers 503 at while its town pages are measured (landing.web.live).
    catalog = load_catalog(SourceFiles(site_dir / "site.toml", site_dir / "locations.csv", site_dir / "templates"))
    assert url_count(catalog) == len(indexable_urls(catalog))
    for per_file in (1, 2, 3, 7, 18, 19, 50_000):
        assert sitemap_paths(url_count(catalog), per_file) == list(sitemap_files(catalog, per_file=per_file)), per_file


async def test_sitemap_parts_are_served(site_dir: Path, make_client: ClientFactory) -> None:
    rows = ["town,state,latitude,longitude"] + [f"Town {n},IL,41.5,-89.{n:04d}" for n in range(6)]
    (site_dir / "locations.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    client = await make_client()
    assert (await client.get("/sitemaps/1.xml")).status_code == 404  # one file is enough for 15 URLs
    assert (await client.get("/sitemap.xml")).status_code == 200


async def test_robots_allows_pages_disallows_admin_and_names_the_sitemap(client: httpx.AsyncClient) -> None:
    response = await client.get("/robots.txt")
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert "Allow: /" in lines and "Disallow: /admin/" in lines
    assert "Sitemap: https://pain.example.com/sitemap.xml" in lines


async def test_base_url_setting_overrides_site_toml(make_client: ClientFactory) -> None:
    client = await make_client(base_url="https://www.practice.example")
    assert "Sitemap: https://www.practice.example/sitemap.xml" in (await client.get("/robots.txt")).text
    page = (await client.get("/nerve-blocks/")).text
    assert '<link rel="canonical" href="https://www.practice.example/nerve-blocks/">' in page


async def test_healthz_reports_the_loaded_site(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["pages"] == 18 and body["towns"] == 10 and body["treatments"] == 2
    assert body["reload_error"] is False and body["measuring"] is False

