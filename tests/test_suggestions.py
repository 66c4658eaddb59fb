"""The 404 page's closest towns: sensible, in agreement with difflib's measure, and bounded work per question."""

from __future__ import annotations

import csv
import difflib
from pathlib import Path
from typing import Any

import httpx
import pytest
from slugify import slugify

from landing import suggestions
from landing.suggestions import SlugIndex
from tests.html import Page

ROOT = Path(__file__).resolve().parent.parent


def example_slugs() -> list[str]:
    """The example site's 38 real towns, as their pages' slugs."""
    with open(ROOT / "locations.csv", encoding="utf-8") as file:
        return [slugify(f"{row['town']} {row['state']}") for row in csv.DictReader(file)]


def typos(slug: str) -> list[str]:
    """What people and crawlers get wrong: a letter dropped, doubled, swapped with the next, or replaced, and
    the state left off."""
    middle = len(slug) // 2
    return [slug[:middle] + slug[middle + 1:], slug[:middle] + slug[middle] + slug[middle:],
            slug[:middle] + slug[middle + 1] + slug[middle] + slug[middle + 2:], slug[:middle] + "x" + slug[middle + 1:],
            slug[:-3]]


SLUGS = example_slugs()
QUESTIONS = [(slug, typo) for slug in SLUGS for typo in typos(slug)]


@pytest.mark.parametrize(("slug", "asked"), QUESTIONS)
def test_a_mistyped_town_is_suggested_first_as_difflib_would(slug: str, asked: str) -> None:
    ours = SlugIndex(SLUGS).closest(asked, 6)
    assert ours[0] == slug
    assert difflib.get_close_matches(asked, SLUGS, n=1, cutoff=0.5) == [slug]  # the measure it replaces agrees


def test_the_towns_difflib_finds_most_similar_are_among_the_suggestions() -> None:
    """Over every question, difflib's three most similar towns are among the six suggested, in nearly every case
    (the measures differ only near the cutoff, where difflib's heuristic misses part of a match)."""
    index = SlugIndex(SLUGS)
    kept = sum(set(difflib.get_close_matches(asked, SLUGS, n=3, cutoff=0.5)) <= set(index.closest(asked, 6))
               for _, asked in QUESTIONS)
    assert kept >= 0.9 * len(QUESTIONS)


def test_nothing_like_any_town_suggests_nothing() -> None:
    assert SlugIndex(SLUGS).closest("wp-login.php", 6) == []
    assert SlugIndex(SLUGS).closest("", 6) == []


def test_work_per_question_is_bounded_however_many_towns_share_its_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    slugs = [f"town-{n}-il" for n in range(25_000)]  # every slug shares most trigrams with every question
    index = SlugIndex(slugs)
    ranked: list[int] = []
    real_extract = suggestions.process.extract

    def counting_extract(query: str, choices: list[str], **options: Any) -> Any:
        ranked.append(len(choices))
        return real_extract(query, choices, **options)

    monkeypatch.setattr(suggestions.process, "extract", counting_extract)
    for asked in ["town-il", "town-12345-il", "town-" + "1" * 500, "t" * 100_000, "-".join(["town"] * 5000)]:
        assert len(index.closest(asked, 6)) <= 6
    assert ranked and max(ranked) <= suggestions.POSTINGS_BUDGET
    assert index.closest("town-12345-ill", 6)[0] == "town-12345-il"  # and still sensible


@pytest.mark.parametrize("path", [
    "/intrathecal-pump-therapy/" + "barrington-il" * 5000,
    "/" + "/".join(["a"] * 10_000) + "/barington-il/",
    "/-/--/---/",
    "/intrathecal-pump-therapy/%00%ff/",
    "/intrathecal-pump-therapy/caf\u00e9-\u202e-il/",
])
async def test_absurd_paths_get_a_plain_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "We could not find that page" in Page(response.text).text_of("h1")


async def test_a_path_naming_only_the_town_suggests_its_pages(client: httpx.AsyncClient) -> None:
    page = Page((await client.get("/barington/")).text)
    assert "/intrathecal-pump-therapy/barrington-il/" in page.links()
    within = Page((await client.get("/nerve-blocks/barington-il/")).text)
    assert "/nerve-blocks/barrington-il/" in within.links()
    assert "/intrathecal-pump-therapy/barrington-il/" not in within.links()  # within the treatment asked
