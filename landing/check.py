"""`landing check`: load everything and render every page, so a marketer learns of problems before visitors do."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import jinja2

from landing import structured_data
from landing.errors import ConfigError
from landing.settings import Settings
from landing.snapshot import load_snapshot


@dataclass(frozen=True)
class CheckReport:
    towns: int
    treatments: int
    pages: int

    @property
    def summary(self) -> str:
        plural = "s" if self.treatments != 1 else ""
        return f"ok: {self.towns} towns, {self.treatments} treatment{plural}, {self.pages} pages"


def check_site(settings: Settings) -> CheckReport:
    """Raise ConfigError with every problem found, or return what was checked."""
    snapshot = load_snapshot(settings)
    renderer = snapshot.renderer
    catalog = snapshot.catalog
    problems: dict[str, str] = {}  # one message per template or markup problem, not one per page
    paths = ["/", *(hub.path for hub in catalog.hubs.values()), *catalog.pages]
    for path in paths:
        try:
            html = renderer.render_path(path)
        except jinja2.TemplateError as exc:
            message = template_problem(exc, settings.templates_dir)
            problems.setdefault(message, f"{message} (first seen on {path})")
            continue
        for message in page_markup_problems(html, catalog.url(path)):
            problems.setdefault(message, f"{message} (first seen on {path})")
    try:
        html = renderer.render_not_found("/no-such-page/")
    except jinja2.TemplateError as exc:
        message = template_problem(exc, settings.templates_dir)
        problems.setdefault(message, message)
    else:
        for message in page_markup_problems(html):
            problems.setdefault(message, f"{message} (first seen on the not-found page)")
    # Markup the pages lack because site.toml leaves something out: pointed at the line to fix.
    source = settings.site_file.read_text(encoding="utf-8-sig")
    for message in structured_data.markup_problems(catalog, source, settings.site_file.name):
        problems.setdefault(message, message)
    if problems:
        raise ConfigError(list(problems.values()))
    return CheckReport(towns=len(catalog.locations), treatments=len(catalog.hubs), pages=len(catalog.pages))


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
