"""`landing check`: load everything and render every page, so a marketer learns of problems before visitors do."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import jinja2

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
    problems: dict[str, str] = {}  # one message per template problem, not one per page
    paths = ["/", *(hub.path for hub in catalog.hubs.values()), *catalog.pages]
    for path in paths:
        try:
            renderer.render_path(path)
        except jinja2.TemplateError as exc:
            message = template_problem(exc, settings.templates_dir)
            problems.setdefault(message, f"{message} (first seen on {path})")
    try:
        renderer.render_not_found("/no-such-page/")
    except jinja2.TemplateError as exc:
        message = template_problem(exc, settings.templates_dir)
        problems.setdefault(message, message)
    if problems:
        raise ConfigError(list(problems.values()))
    return CheckReport(towns=len(catalog.locations), treatments=len(catalog.hubs), pages=len(catalog.pages))


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
