"""sitemap.xml and robots.txt, as pure functions of the catalog (and of what the quality gate holds back)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from xml.sax.saxutils import escape

from landing.catalog import Catalog

MAX_URLS_PER_FILE = 50_000  # the sitemaps.org limit per file
XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def indexable_urls(catalog: Catalog, held_back: Collection[str] = ()) -> list[tuple[str, dt.date]]:
    """Every page a search engine should find: home, hubs (every page of each), then landing pages, as (absolute URL, lastmod).

    ``held_back``, the pages the quality gate holds back (Renderer.held_back), are left out: they are noindex
    until they get local content.
    """
    lastmod = catalog.lastmod
    urls = [(catalog.url("/"), lastmod)]
    urls += [(catalog.url(part.path), lastmod) for part in catalog.hub_parts]
    urls += [(catalog.url(path), lastmod) for path in catalog.pages if path not in held_back]
    return urls


def sitemap_files(catalog: Catalog, held_back: Collection[str] = (),
                  per_file: int = MAX_URLS_PER_FILE) -> dict[str, bytes]:
    """Path -> XML body. One /sitemap.xml up to ``per_file`` URLs; past that, an index over /sitemaps/N.xml."""
    urls = indexable_urls(catalog, held_back)
    paths = sitemap_paths(len(urls), per_file)
    if len(paths) == 1:
        return {"/sitemap.xml": urlset(urls)}
    files: dict[str, bytes] = {}
    parts = []
    for path, start in zip(paths, range(0, len(urls), per_file)):
        chunk = urls[start:start + per_file]
        files[path] = urlset(chunk)
        parts.append((catalog.url(path), max(lastmod for _, lastmod in chunk)))
    files["/sitemap.xml"] = sitemap_index(parts)
    return files


def sitemap_paths(urls: int, per_file: int = MAX_URLS_PER_FILE) -> list[str]:
    """The paths of the sitemap files for ``urls`` URLs: /sitemap.xml alone, or /sitemaps/1.xml ... and last the
    index, /sitemap.xml."""
    if urls <= per_file:
        return ["/sitemap.xml"]
    return [f"/sitemaps/{number}.xml" for number in range(1, -(-urls // per_file) + 1)] + ["/sitemap.xml"]


def url_count(catalog: Catalog) -> int:
    """How many URLs the sitemap lists when nothing is held back (indexable_urls)."""
    return 1 + len(catalog.hub_parts) + len(catalog.pages)


def urlset(urls: list[tuple[str, dt.date]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{XMLNS}">']
    lines += [f"<url><loc>{escape(url)}</loc><lastmod>{lastmod.isoformat()}</lastmod></url>" for url, lastmod in urls]
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


def sitemap_index(parts: list[tuple[str, dt.date]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{XMLNS}">']
    lines += [f"<sitemap><loc>{escape(url)}</loc><lastmod>{lastmod.isoformat()}</lastmod></sitemap>" for url, lastmod in parts]
    lines.append("</sitemapindex>\n")
    return "\n".join(lines).encode()


def robots_txt(catalog: Catalog) -> bytes:
    return (
        "User-agent: *\n"
        "Allow: /\n"
        "Disallow: /admin/\n"
        "Disallow: /thank-you/\n"
        f"\nSitemap: {catalog.url('/sitemap.xml')}\n"
    ).encode()
