"""Parts of templates rendered once and reused ({% cache %}): pages come out exactly as if every part were
rendered for every page, and nothing a visitor typed is ever kept for the next visitor."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from markupsafe import Markup

from benchmarks.pages import generate_site
from landing import fragments
from landing.leads.form import Submission
from landing.pages import Renderer
from landing.settings import Settings
from landing.snapshot import load_snapshot


def every_page(renderer: Renderer) -> dict[str, str]:
    """Every page of the snapshot, as a visitor (or a static build) gets it, and a form shown again."""
    catalog = renderer.catalog
    paths = [*catalog.pages, *(part.path for part in catalog.hub_parts), "/"]
    pages = {path: renderer.render_path(path) for path in paths}
    pages["404"] = renderer.render_not_found("/nowhere/")
    first = next(iter(catalog.pages.values()))
    pages["thanks"] = renderer.render_message("Thank you", "We will call you.", first.office)
    answers = Submission({"name": "Ann Example", "phone": "", "email": "", "contact": "email", "message": "Hi", "consent": "yes"},
                         {"phone": "Please give a phone number or an email address."})
    pages["form again"] = renderer.render_landing(first, answers)
    return pages


def renders(settings: Settings, *, keep: bool) -> dict[str, str]:
    renderer = load_snapshot(settings).renderer
    if not keep:
        renderer.env.fragment_cache = None  # type: ignore[attr-defined]
    return every_page(renderer)


def test_pages_are_the_same_with_parts_kept_as_rendered_whole(settings: Settings) -> None:
    # The test practice: several offices and treatments, local questions, towns without coordinates.
    kept, whole = renders(settings, keep=True), renders(settings, keep=False)
    assert kept.keys() == whole.keys()
    assert [path for path in kept if kept[path] != whole[path]] == []


@pytest.mark.slow
def test_pages_of_a_big_generated_site_are_the_same_with_parts_kept(tmp_path: Path) -> None:
    settings = generate_site(tmp_path / "site", 1500)
    kept, whole = renders(settings, keep=True), renders(settings, keep=False)
    assert [path for path in kept if kept[path] != whole[path]] == []


def test_a_form_shown_again_is_never_kept_for_the_next_visitor(settings: Settings) -> None:
    renderer = load_snapshot(settings).renderer
    page = next(iter(renderer.catalog.pages.values()))
    answers = Submission({"name": "Ann Example", "phone": "", "email": "ann@example.com", "contact": "email",
                          "message": "My back hurts", "consent": ""}, {"consent": "Please tick the box to agree."})
    again = renderer.render_landing(page, answers)
    assert "Ann Example" in again and "My back hurts" in again and "Please tick the box" in again
    fresh = renderer.render_landing(page)
    assert "Ann Example" not in fresh and "My back hurts" not in fresh and "Please tick the box" not in fresh
    assert 'value="phone" checked' in fresh  # the fresh form's own default, not the visitor's choice


def test_a_part_keyed_per_item_stops_being_kept_at_the_limit() -> None:
    # A key that names something per page keeps memory bounded: past the limit, parts are rendered each time.
    env = jinja2.Environment(extensions=[fragments.FragmentCache], autoescape=True)
    template = env.from_string("{% cache 'row', n %}<b>{{ n }}</b>{% endcache %}")
    for n in range(fragments.LIMIT + 50):
        assert template.render(n=n) == f"<b>{n}</b>"
    assert len(env.fragment_cache) == fragments.LIMIT  # type: ignore[attr-defined]
    assert template.render(n=fragments.LIMIT + 10) == f"<b>{fragments.LIMIT + 10}</b>"
    assert template.render(n="<i>") == "<b>&lt;i&gt;</b>"
    assert isinstance(env.fragment_cache[("row", 0)], Markup)  # type: ignore[attr-defined]
