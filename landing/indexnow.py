"""IndexNow: which URLs a change of the site added, changed or removed, in batches as the protocol takes them.

Plain Python (landing/web/indexnow.py sends them). Only indexable pages are submitted: never a page the quality
gate or the distance limit holds back (noindex), before or after the change. A town whose slug changed submits
its old address (now a 301, or a 404) and its new one; towns added or removed also change the home page and the
treatments' hubs that list them; an edit of site.toml, a template or a static file changes every page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from landing.build import page_facts, town_record
from landing.check import compare_pages
from landing.snapshot import Snapshot

MAX_URLS = 10_000  # per request (the protocol's limit)


@dataclass(frozen=True)
class Side:
    """One side of a change: the snapshot, and the digest of the site's files other than the towns."""

    snapshot: Snapshot
    site_digest: str


def indexable(snapshot: Snapshot) -> dict[str, Any]:
    """The landing pages search engines may index, with the facts each shows."""
    catalog, held = snapshot.catalog, snapshot.renderer.held_back
    return {path: page_facts(catalog, page) for path, page in catalog.pages.items() if path not in held}


def changed_urls(old: Side, new: Side) -> list[str]:
    """The absolute URLs to submit after ``old`` was replaced by ``new``: sorted, each once."""
    catalog = new.snapshot.catalog
    before, after = indexable(old.snapshot), indexable(new.snapshot)
    if old.site_digest != new.site_digest:  # every page is rendered anew
        paths = set(after) | set(before) | {"/", *(part.path for part in catalog.hub_parts)}
    else:
        diff = compare_pages("", before, town_record(old.snapshot.catalog.locations), after,
                             town_record(catalog.locations))
        paths = {*diff.added, *diff.removed, *(path for path, _ in diff.changed)}
        paths |= {path for move in diff.moves for pair in move.redirects for path in pair}
        if paths - {path for path, _ in diff.changed}:  # towns came, went or moved: the lists of towns changed
            old_hubs = {part.path for part in old.snapshot.catalog.hub_parts}
            paths |= {"/", *(part.path for part in catalog.hub_parts), *old_hubs}
    held = new.snapshot.renderer.held_back  # a page held back now is never submitted, not even as gone
    return sorted(catalog.url(path) for path in paths if path not in held)


def batches(urls: Sequence[str], size: int = MAX_URLS) -> Iterator[list[str]]:
    for start in range(0, len(urls), size):
        yield list(urls[start:start + size])


def batch_id(old_version: str, new_version: str, number: int, urls: Sequence[str]) -> str:
    """The same for every instance that sees the same change: the database keeps one submission of it."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (old_version, new_version, str(number), *urls):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def request_body(base_url: str, key: str, urls: Sequence[str]) -> dict[str, Any]:
    """The JSON body of one submission."""
    return {"host": urlsplit(base_url).hostname or "", "key": key, "keyLocation": f"{base_url.rstrip('/')}/{key}.txt",
            "urlList": list(urls)}
