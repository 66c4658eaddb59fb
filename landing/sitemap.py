"""sitemap.xml and robots.txt, as pure functions of the catalog (and of what the quality gate holds back)."""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable
from xml.sax.saxutils import escape

from landing.catalog import Catalog
from landing.errors import LandingError

MAX_URLS_PER_FILE = 50_000  # the sitemaps.org limit per file
XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"


# The landing pages the quality gate holds back, per catalog snapshot. Measuring them takes the templates,
# which a catalog does not know, so pages.Renderer measures and records them here when it is made for a
# snapshot; the sitemap, built later from the catalog alone, leaves them out.
_held_back: weakref.WeakKeyDictionary[Catalog, frozenset[str]] = weakref.WeakKeyDictionary()


def hold_back(catalog: Catalog, paths: Iterable[str]) -> None:
    """Record the pages of ``catalog`` that are noindex until they get local content."""
    _held_back[catalog] = frozenset(paths)


def held_back(catalog: Catalog) -> frozenset[str]:
    """The pages the quality gate holds back (none without a gate in site.toml)."""
    if catalog.site.quality.gate is None:
        return frozenset()
    try:
        return _held_back[catalog]
    except KeyError:
        raise LandingError("the quality gate is on but this catalog's pages were not measured: make its "
                           "pages.Renderer before its sitemap") from None


def indexable_urls(catalog: Catalog) -> list[tuple[str, dt.date]]:
    """Every page a search engine should find: home, hubs, then landing pages, as (absolute URL, lastmod).

    Pages the quality gate holds back are not among them: they are noindex until they get local content.
    """
    lastmod = catalog.lastmod
    urls = [(catalog.url("/"), lastmod)]
    urls += [(catalog.url(hub.path), lastmod) for hub in catalog.hubs.values()]
    hidden = held_back(catalog)
    urls += [(catalog.url(path), lastmod) for path in catalog.pages if path not in hidden]
    return urls


def sitemap_files(catalog: Catalog, per_file: int = MAX_URLS_PER_FILE) -> dict[str, bytes]:
    """Path -> XML body. One /sitemap.xml up to ``per_file`` URLs; past that, an index over /sitemaps/N.xml."""
    urls = indexable_urls(catalog)
    if len(urls) <= per_file:
        return {"/sitemap.xml": urlset(urls)}
    files: dict[str, bytes] = {}
    parts = []
    for number, start in enumerate(range(0, len(urls), per_file), start=1):
        chunk = urls[start:start + per_file]
        path = f"/sitemaps/{number}.xml"
        files[path] = urlset(chunk)
        parts.append((catalog.url(path), max(lastmod for _, lastmod in chunk)))
    files["/sitemap.xml"] = sitemap_index(parts)
    return files


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
