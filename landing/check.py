"""`landing check`: load everything and render every page, so a marketer learns of problems before visitors do.

Besides the problems that stop the site (raised as one ConfigError), the check reports on page quality:
how similar each landing page is to its closest sibling, which pages the quality gate holds back, and
findings that do not stop the site but cost it in search (long titles, towns far from their office, a
slug changed without an alias...). With ``--diff`` it previews what a changed locations.csv would do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from landing import quality, structured_data
from landing.build import page_facts, read_manifest, site_fingerprint, town_record
from landing.catalog import Catalog, load_catalog
from landing.errors import ConfigError, LandingError
from landing.gazetteer import GAZETTEER
from landing.locations import COLUMNS, WORKLIST_COLUMNS
from landing.pages import Renderer
from landing.quality_cache import Run
from landing.settings import Settings
from landing.snapshot import load_snapshot, source_files
from landing.toml_lines import TomlLines

SHOWN = 10  # pages listed per section of the text report (--json lists all)

@dataclass(frozen=True)
class QualityReport:
    """What `landing check` says about page quality; nothing in it stops the site."""

    similarity: dict[str, quality.Distribution]  # by treatment slug
    pages: tuple[quality.Similar, ...]  # every landing page, most similar first
    facts: dict[str, quality.PageFacts]  # by path
    gate: float | None
    held_back: frozenset[str]
    findings: tuple[quality.Finding, ...]
    slug_record: dict[str, list[str]]  # what the next check compares slugs with
    far: frozenset[str] = frozenset()  # pages held back because their office is farther than max_office_miles

    @property
    def far_towns(self) -> list[quality.Finding]:
        """The towns held back as too far from their office: `landing check` fails until each is seen to."""
        return [finding for finding in self.findings if finding.kind == "far-office"]

    def above(self, threshold: float) -> list[quality.Similar]:
        return quality.held_back(self.pages, threshold)


@dataclass(frozen=True)
class CheckReport:
    towns: int
    treatments: int
    pages: int
    quality: QualityReport | None = None
    catalog: Catalog | None = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> str:
        return f"ok: {_count(self.towns, 'town')}, {_count(self.treatments, 'treatment')}, {_count(self.pages, 'page')}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def check_site(settings: Settings, previous_slugs: Mapping[str, Sequence[str]] | None = None) -> CheckReport:
    """Raise ConfigError with every problem found, or return what was checked and the quality report.

    ``previous_slugs`` is the record an earlier check left (town -> slugs), to report slug changes.
    """
    snapshot = load_snapshot(settings)
    renderer = snapshot.renderer
    catalog = snapshot.catalog
    # With a gate, the renderer measured every page already; without, measure the pages rendered here (those
    # the quality cache does not know as they are).
    with contextlib.ExitStack() as stack:
        run = stack.enter_context(renderer.quality_cache.run(renderer)) \
            if catalog.site.quality.gate is None and renderer.quality_cache is not None else None
        problems, findings = render_everything(renderer, settings, run)
    measured = run.results if run is not None else renderer.similarity
    source = settings.site_file.read_text(encoding="utf-8-sig")
    # Markup the pages lack because site.toml leaves something out: pointed at the line to fix.
    for message in structured_data.markup_problems(catalog, source, settings.site_file.name):
        problems.setdefault(message, message)
    if problems:
        raise ConfigError(list(problems.values()))
    report = quality_report(catalog, measured, renderer.held_back, findings, source, settings,
                            previous_slugs or {}, far=renderer.held_back_as_far)
    return CheckReport(towns=len(catalog.locations), treatments=len(catalog.hubs), pages=len(catalog.pages),
                       quality=report, catalog=catalog)


def render_everything(renderer: Renderer, settings: Settings,
                      run: Run | None) -> tuple[dict[str, str], list[quality.Finding]]:
    """Render every page: the template and markup problems (one message each, not one per page), the findings of
    each page's head, and each landing page ``run`` wants for the similarity measure."""
    catalog = renderer.catalog
    problems: dict[str, str] = {}
    findings: list[quality.Finding] = []
    for path in ["/", *(part.path for part in catalog.hub_parts), *catalog.pages]:
        try:
            html = renderer.render_path(path)
        except jinja2.TemplateError as exc:
            message = template_problem(exc, settings.templates_dir)
            problems.setdefault(message, f"{message} (first seen on {path})")
            continue
        for message in page_markup_problems(html, catalog.url(path)):
            problems.setdefault(message, f"{message} (first seen on {path})")
        findings += quality.length_findings(path, *quality.head_texts(html))
        if run is not None and (page := catalog.pages.get(path)) is not None and run.wants(page):
            run.add(page, html)
    try:
        html = renderer.render_not_found("/no-such-page/")
    except jinja2.TemplateError as exc:
        message = template_problem(exc, settings.templates_dir)
        problems.setdefault(message, message)
    else:
        for message in page_markup_problems(html):
            problems.setdefault(message, f"{message} (first seen on the not-found page)")
    return problems, findings


def quality_report(catalog: Catalog, measured: Mapping[str, quality.Measured],
                   held_back: frozenset[str],
                   findings: list[quality.Finding], site_source: str, settings: Settings,
                   previous_slugs: Mapping[str, Sequence[str]], far: frozenset[str] = frozenset()) -> QualityReport:
    facts = {path: quality.PageFacts(
        path=path, place=page.location.place, line=page.location.line, intro=bool(page.location.intro),
        county=bool(page.location.county), coordinates=page.location.has_coordinates, office=page.office.id,
        # The advice compares a page's nearby towns with its twin's.
        nearby=tuple(other.path for _, other in catalog.nearby(page))) for path, page in catalog.pages.items()}
    pages = sorted(
        (quality.Similar(path, found.twin, found.similarity,
                         quality.advice(facts[path], facts[found.twin] if found.twin else None))
         for path, found in measured.items()),
        key=lambda page: (-page.similarity, page.path))
    similarity = {slug: quality.distribution([measured[page.path].similarity for page in hub.pages])
                  for slug, hub in catalog.hubs.items() if hub.pages}
    towns = town_facts(catalog)
    locations_file = settings.locations_file.name
    site_file = settings.site_file.name
    findings = findings + quality.town_findings(towns, locations_file, catalog.site.quality.max_office_miles,
                                                catalog.site.quality.allow_far_towns)
    lines = TomlLines(site_source)
    empty = [(slug, lines.line(("treatments", index, "slug")))
             for index, (slug, hub) in enumerate(catalog.hubs.items()) if not hub.pages]
    findings += quality.empty_treatment_findings(empty, site_file)
    findings += quality.unused_question_findings(unused_questions(catalog), catalog.local_faqs.file)
    findings += quality.slug_findings(towns, previous_slugs, locations_file, str(settings.check_record))
    return QualityReport(similarity=similarity, pages=tuple(pages), facts=facts, gate=catalog.site.quality.gate,
                         held_back=held_back, findings=tuple(findings),
                         slug_record=quality.slug_record(towns, previous_slugs), far=far)


def unused_questions(catalog: Catalog) -> list[tuple[int, str, str]]:
    """The local questions no page shows, with why: (line in the file, question, what it names that matches nothing)."""
    shown = {faq for page in catalog.pages.values() for faq in catalog.faqs_for(page)}
    unused = []
    for entry in catalog.local_faqs.entries:
        if entry.faq in shown:
            continue
        if entry.slug:
            where = f"no town has the slug '{entry.slug}'"
        elif entry.county:
            where = f"no town is in {entry.county.title()}, {entry.state}"
        else:
            where = f"office '{entry.office}' serves no town"
        if entry.treatment:
            where += f" with the treatment '{entry.treatment}'"
        unused.append((entry.line, entry.faq.question, where))
    return unused


def town_facts(catalog: Catalog) -> list[quality.TownFacts]:
    """Each town with its serving office and distance (the same on all its pages)."""
    towns = []
    for location in catalog.locations:
        page = catalog.town_pages.get(location.slug)
        towns.append(quality.TownFacts(
            key=quality.town_key(location.town, location.state), place=location.place, slug=location.slug,
            aliases=location.aliases, line=location.line, coordinates=location.has_coordinates,
            office=page.office.name if page else "", office_miles=page.distance_miles if page else None,
            fill_note=location.fill_note))
    return towns


# -- the slug record ------------------------------------------------------------------------------------


def read_slug_record(path: Path) -> dict[str, list[str]]:
    """The slugs an earlier check saw, by town; none when there was no earlier check."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LandingError(f"{path}: cannot read the record of the last check ({exc}); delete the file and "
                           "run landing check again") from None
    towns = data.get("towns", {}) if isinstance(data, dict) else {}
    return {str(key): [str(slug) for slug in slugs] for key, slugs in towns.items() if isinstance(slugs, list)}


def write_slug_record(path: Path, record: Mapping[str, Sequence[str]]) -> None:
    from landing.build import write_atomically

    text = json.dumps({"version": 1, "towns": record}, ensure_ascii=False, indent=1, sort_keys=True)
    write_atomically(path, (text + "\n").encode())


# -- previewing a change of locations.csv -----------------------------------------------------------------

_FIELD_NAMES = {"town": "town name", "state": "state", "county": "county", "zip": "zip", "coordinates": "coordinates",
                "intro": "intro", "extra": "own columns", "office": "office", "distance_miles": "distance",
                "direction": "direction", "alternative": "other office", "nearby": "nearby towns",
                "county_towns": "towns of the county", "questions": "local questions"}


@dataclass(frozen=True)
class Move:
    """A town whose slug changes: its old pages need a 301 each to the new ones."""

    place: str
    old: str
    new: str
    redirects: tuple[tuple[str, str], ...]  # (old path, new path)
    aliased: bool  # the new file lists the old slug in 'aliases', so the 301s are there


@dataclass(frozen=True)
class SiteDiff:
    against: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[tuple[str, tuple[str, ...]], ...]  # path, what changed
    moves: tuple[Move, ...]
    site_changed: bool = False  # site.toml, templates or static files differ too: every page changes

    def as_json(self) -> dict[str, Any]:
        return {
            "against": self.against, "added": list(self.added), "removed": list(self.removed),
            "changed": [{"path": path, "fields": list(fields)} for path, fields in self.changed],
            "slug_changes": [{"town": move.place, "old": move.old, "new": move.new, "aliased": move.aliased,
                              "redirects": [{"from": old, "to": new} for old, new in move.redirects]}
                             for move in self.moves],
            "site_changed": self.site_changed,
        }


def compare_pages(against: str, old_pages: Mapping[str, Mapping[str, Any]], old_towns: Mapping[str, Mapping[str, Any]],
                  new_pages: Mapping[str, Mapping[str, Any]], new_towns: Mapping[str, Mapping[str, Any]],
                  site_changed: bool = False) -> SiteDiff:
    """Pages added, removed and changed, and towns moved to a new slug, from each side's page facts."""
    moves = []
    moved_paths: set[str] = set()
    for key, town in sorted(new_towns.items()):
        before = old_towns.get(key)
        if before is None or before["slug"] == town["slug"]:
            continue
        redirects = tuple(sorted((path, path.replace(f"/{before['slug']}/", f"/{town['slug']}/"))
                                 for path in old_pages if path.endswith(f"/{before['slug']}/")))
        redirects = tuple((old, new) for old, new in redirects if new in new_pages)
        moved_paths.update(path for pair in redirects for path in pair)
        moves.append(Move(town["place"], before["slug"], town["slug"], redirects, before["slug"] in town["aliases"]))
    added = tuple(path for path in new_pages if path not in old_pages and path not in moved_paths)
    removed = tuple(path for path in old_pages if path not in new_pages and path not in moved_paths)
    changed = []
    for path, facts in new_pages.items():
        before = old_pages.get(path)
        if before is not None and before != facts:
            fields = tuple(_FIELD_NAMES.get(name, name) for name in facts if before.get(name) != facts.get(name))
            changed.append((path, fields))
    return SiteDiff(against, added, removed, tuple(changed), tuple(moves), site_changed)


def diff_site(settings: Settings, against: Path, catalog: Catalog | None = None) -> SiteDiff:
    """What replacing ``against`` (an older locations.csv, or the folder of an earlier `landing build`) with the
    current files changes. ``catalog``: the current one, if already loaded."""
    catalog = catalog or load_catalog(source_files(settings), settings.base_url)
    new_pages = {path: page_facts(catalog, page) for path, page in catalog.pages.items()}
    new_towns = town_record(catalog.locations)
    if against.is_dir():
        manifest = read_manifest(against)
        if manifest is None:
            raise LandingError(f"{against} holds no record of a landing build (.landing-build.json); give the "
                               "folder a build was made into, or an older locations.csv")
        return compare_pages(str(against), manifest["pages"], manifest["towns"], new_pages, new_towns,
                             site_changed=manifest.get("site") != site_fingerprint(settings))
    old = load_catalog(dataclasses.replace(source_files(settings), locations=against), settings.base_url)
    old_pages = {path: page_facts(old, page) for path, page in old.pages.items()}
    return compare_pages(str(against), old_pages, town_record(old.locations), new_pages, new_towns)


# -- the text report ----------------------------------------------------------------------------------------


def quality_text(report: QualityReport, catalog: Catalog, locations_file: str, shown: int = SHOWN) -> str:
    """The report in plain words (the technical terms are in --json and the README)."""
    lines = ["How much of each page's text is also on its closest sibling (the same treatment in another town), "
             "its own town's name left out:"]
    for slug, found in report.similarity.items():
        lines.append(f"  {slug}: {found.pages:,} page{'s' if found.pages != 1 else ''}: half of them share "
                     f"{quality.percent(found.median)} or less, nine in ten {quality.percent(found.p90)} or less, the "
                     f"most alike {quality.percent(found.max)}")
    if report.pages:
        lines.append("The pages most like a sibling, and what would make each one its own:")
        for page in report.pages[:shown]:
            lines.append(similar_line(page, report.facts, locations_file))
    if report.gate is None:
        advice = quality.gate_advice([page.similarity for page in report.pages])
        if advice.gate is None and advice.pages:
            lines.append("Quality gate: off. Most pages share much of their text with a sibling, so a gate would hide "
                         "most of the site: give them local content first (landing check --worklist worklist.csv lists "
                         "what each town needs).")
        elif advice.gate is not None:
            lines.append(f"Quality gate: off. gate = {advice.gate:g} under [quality] in site.toml would hold back the "
                         f"{advice.held:,} page{'s' if advice.held != 1 else ''} most like a sibling (of "
                         f"{advice.pages:,}; noindex and out of the sitemap) until they get local content.")
    else:
        held = [page for page in report.pages if page.path in report.held_back]
        lines.append(f"Quality gate (gate = {report.gate:g} in site.toml's [quality]): {len(held):,} of "
                     f"{len(report.pages):,} pages held back (noindex, follow; not in the sitemap) until they get "
                     "local content" + (":" if held else ""))
        lines += [similar_line(page, report.facts, locations_file) for page in held[:shown]]
        if len(held) > shown:
            lines.append(f"  ... and {len(held) - shown:,} more (landing check --json lists them all)")
    lines += filled_lines(catalog, locations_file, shown)
    if report.findings:
        lines.append("Other findings:")
        lines += [f"  {finding.message}" for finding in report.findings[:shown * 5]]
        if len(report.findings) > shown * 5:
            lines.append(f"  ... and {len(report.findings) - shown * 5:,} more (landing check --json lists them all)")
    else:
        lines.append("Other findings: none")
    return "\n".join(lines)


def filled_lines(catalog: Catalog, locations_file: str, shown: int = SHOWN) -> list[str]:
    """What the ZIP code data filled in, and from which of its records."""
    filled = [location for location in catalog.locations if location.filled]
    if not filled:
        return []
    counts = {column: sum(column in location.filled for location in filled) for column in ("county", "zip", "latitude")}
    lines = [f"Filled in from the ZIP code data (the zipcodes package {GAZETTEER.version()}): {len(filled):,} "
             f"town{'s' if len(filled) != 1 else ''}: county {counts['county']:,}, zip {counts['zip']:,}, coordinates "
             f"{counts['latitude']:,} (given values always win; check them, and write one in to change it):"]
    for location in filled[:shown]:
        values = []
        if "county" in location.filled:
            values.append(location.county)
        if "zip" in location.filled:
            values.append(f"ZIP {location.zip}")
        if "latitude" in location.filled:
            values.append(f"{location.latitude}, {location.longitude}")
        lines.append(f"  {locations_file}:{location.line}: {location.place}: {'; '.join(values)} (from "
                     f"{location.filled_from})")
    if len(filled) > shown:
        lines.append(f"  ... and {len(filled) - shown:,} more (landing check --json lists them all)")
    return lines


def similar_line(page: quality.Similar, facts: Mapping[str, quality.PageFacts], locations_file: str) -> str:
    own = facts[page.path]
    twin = f"; twin {page.twin}" if page.twin else ""
    advice = f": {', '.join(page.advice)}" if page.advice else ""
    return f"  {quality.percent(page.similarity):>4} alike  {page.path} ({locations_file}:{own.line}){twin}{advice}"


def diff_text(diff: SiteDiff, shown: int = SHOWN * 2) -> str:
    lines = [f"Compared with {diff.against}:"]
    if diff.site_changed:
        lines.append("  site.toml, the templates or the static files changed since that build: every page changes")

    def section(one: str, many: str, items: Sequence[str]) -> None:
        lines.append(f"  {len(items):,} {one if len(items) == 1 else many}" + (":" if items else ""))
        lines.extend(f"    {item}" for item in items[:shown])
        if len(items) > shown:
            lines.append(f"    ... and {len(items) - shown:,} more (--json lists them all)")

    section("page added", "pages added", diff.added)
    section("page removed (it will answer 404)", "pages removed (they will answer 404)", diff.removed)
    section("page changed", "pages changed", [f"{path}: {', '.join(fields)}" for path, fields in diff.changed])
    moves = []
    for move in diff.moves:
        needs = ("the old pages answer 301 through its aliases" if move.aliased else
                 f"add '{move.old}' to its aliases so the old pages answer 301")
        moves.append(f"{move.place}: {move.old} -> {move.new}: {needs}: "
                     + ", ".join(f"{old} -> {new}" for old, new in move.redirects))
    section("town with a new slug", "towns with a new slug", moves)
    return "\n".join(lines)


def report_json(report: CheckReport, max_similarity: float | None = None, diff: SiteDiff | None = None) -> dict[str, Any]:
    found = report.quality
    assert found is not None
    data: dict[str, Any] = {
        "ok": True, "towns": report.towns, "treatments": report.treatments, "pages": report.pages,
        "similarity": {slug: {"pages": d.pages, "median": round(d.median, 4), "p90": round(d.p90, 4),
                              "max": round(d.max, 4)} for slug, d in found.similarity.items()},
        "gate": found.gate,
        "held_back": sorted(found.held_back),
        "pages_by_similarity": [{"path": page.path, "twin": page.twin, "similarity": round(page.similarity, 4),
                                 "held_back": page.path in found.held_back, "advice": list(page.advice)}
                                for page in found.pages],
        "findings": [{"kind": f.kind, "subject": f.subject, "message": f.message} for f in found.findings],
        "far_towns": [finding.subject for finding in found.far_towns],
        "filled": [{"town": location.place, "line": location.line, "columns": list(location.filled),
                    "values": {column: getattr(location, column) for column in location.filled},
                    "from": location.filled_from, "note": location.fill_note}
                   for location in (report.catalog.locations if report.catalog else ()) if location.filled],
    }
    if found.gate is None:
        advice = quality.gate_advice([page.similarity for page in found.pages])
        data["gate_advice"] = {"gate": advice.gate, "held": advice.held, "pages": advice.pages}
    if found.far_towns:
        data["ok"] = False
    if max_similarity is not None:
        data["max_similarity"] = {"threshold": max_similarity,
                                  "above": [page.path for page in found.above(max_similarity)]}
        data["ok"] = data["ok"] and not data["max_similarity"]["above"]
    if diff is not None:
        data["diff"] = diff.as_json()
    return data


def page_markup_problems(html: str, url: str | None = None) -> list[str]:
    """A rendered page's JSON-LD: exactly one block, parseable, well-formed.

    site.py already demands what these checks need from the files, so a problem here is a bug in the code
    or in templates/base.html. The page's own URL is taken out of the messages so that one bug on every
    page is reported once.
    """
    try:
        graphs = structured_data.graphs_in(html)
    except ValueError as exc:
        return [f"structured data: the JSON-LD does not parse ({exc})"]
    if len(graphs) != 1:
        return [f"structured data: expected one JSON-LD block, found {len(graphs)} (check templates/base.html)"]
    problems = structured_data.graph_problems(graphs[0])
    return [f"structured data: {problem.replace(url, '{page}') if url else problem}" for problem in problems]


def template_problem(exc: jinja2.TemplateError, templates: Path) -> str:
    """'templates/x.html:12: what is wrong', finding the template line in the traceback when Jinja gives none."""
    filename, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if not filename:
        for frame, frame_line in traceback.walk_tb(sys.exc_info()[2] or exc.__traceback__):
            name = frame.f_code.co_filename
            if name.endswith((".html", ".txt", ".xml")):
                filename, line = name, frame_line
    where = filename or str(templates)
    try:
        where = str(Path(where).resolve().relative_to(Path.cwd()))
    except ValueError:
        pass
    message = exc.message or exc.__class__.__name__
    if isinstance(exc, jinja2.UndefinedError):
        message += " (check the variable's spelling; the variables a treatment template can use are listed in the README)"
    return f"{where}:{line}: {message}" if line else f"{where}: {message}"


# -- the worklist: what each town needs, as a locations.csv to fill in ------------------------------------------

_ADVICE_WORDS = {
    "no intro": "an intro (a few sentences of your own for patients from this town: how they reach the office, "
                "what is near it)",
    "no county": "its county",
    "no coordinates": "its latitude and longitude (or its zip)",
}


def worklist_rows(catalog: Catalog, report: QualityReport) -> list[dict[str, str]]:
    """Every town as a row of locations.csv (the values the file gives: none filled in from the ZIP code data),
    the towns whose pages are most like a sibling first, then those lacking most, each with what to add."""
    pages_of: dict[str, list[quality.Similar]] = {}
    for similar in report.pages:
        page = catalog.pages[similar.path]
        pages_of.setdefault(page.location.slug, []).append(similar)
    own_columns = [column.name for column in catalog.site.locations.columns]
    far = {finding.subject for finding in report.far_towns}
    ranked = []
    for location in catalog.locations:
        worst = max(pages_of.get(location.slug, []), key=lambda similar: similar.similarity, default=None)
        needs: list[str] = []
        if location.place in far:
            needs.append("a closer office in its 'office' column (its office is farther than max_office_miles), or "
                         "remove the row")
        if worst is not None:
            for said in worst.advice:
                if said in _ADVICE_WORDS:
                    needs.append(_ADVICE_WORDS[said])
                elif said.startswith("same ") and worst.twin:
                    twin = catalog.pages[worst.twin].location.place
                    needs.append(f"what sets it apart from {twin} ({said.removeprefix('same ').removesuffix(' as its twin')} "
                                 "are the same)")
        if location.fill_note:
            needs.append(f"its county ({location.fill_note.split(';')[0]})")
        ranked.append((-(worst.similarity if worst else 0.0), -len(needs), location.line, location, worst, needs))
    ranked.sort(key=lambda item: item[:3])
    rows = []
    for priority, (_, _, _, location, worst, needs) in enumerate(ranked, start=1):
        given = {
            "town": location.town, "state": location.state, "county": location.county, "zip": location.zip,
            "latitude": "" if location.latitude is None else repr(location.latitude),
            "longitude": "" if location.longitude is None else repr(location.longitude),
            "slug": location.slug, "aliases": ";".join(location.aliases), "office": location.office or "",
            "treatments": ";".join(location.treatments or ()), "intro": location.intro, "notes": location.notes,
            **location.extra,
        }
        for column in location.filled:  # the file's own values only: the ZIP code data fills them again
            given[column] = ""
        rows.append({
            "priority": str(priority),
            "similar_to": catalog.pages[worst.twin].location.place if worst and worst.twin else "",
            "shared_words": quality.percent(worst.similarity) if worst else "",
            "what_to_add": "; ".join(needs),
            **{column: given.get(column, "") for column in (*COLUMNS, *own_columns)},
        })
    return rows


def write_worklist(path: Path, catalog: Catalog, report: QualityReport) -> int:
    """Write the worklist as a CSV Excel opens as it is (UTF-8 with a BOM); how many towns it lists."""
    import csv
    import io

    rows = worklist_rows(catalog, report)
    columns = [*WORKLIST_COLUMNS, *COLUMNS, *(column.name for column in catalog.site.locations.columns)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    from landing.build import write_atomically

    write_atomically(path, ("\ufeff" + out.getvalue()).encode("utf-8"))
    return len(rows)
