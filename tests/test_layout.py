"""The shape of the code: HTTP lives in landing/web/ alone, and the plain modules never reach into it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "landing"
WEB_ONLY = ("starlette", "uvicorn", "httpx", "anyio", "asgi_lifespan")


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def plain_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "web" not in path.relative_to(PACKAGE).parts[:1])


@pytest.mark.parametrize("path", plain_modules(), ids=lambda path: str(path.relative_to(PACKAGE.parent)))
def test_only_landing_web_speaks_http(path: Path) -> None:
    web = sorted(name for name in imports(path) if name.split(".")[0] in WEB_ONLY)
    assert not web, f"{path.name} imports {web}: HTTP belongs in landing/web/"


@pytest.mark.parametrize("path", plain_modules(), ids=lambda path: str(path.relative_to(PACKAGE.parent)))
def test_plain_modules_do_not_depend_on_the_web_layer(path: Path) -> None:
    # The command line starts the server, so it alone may reach for the app (inside the command).
    allowed = {"cli.py"}
    uses_web = sorted(name for name in imports(path) if name == "landing.web" or name.startswith("landing.web."))
    assert path.name in allowed or not uses_web, f"{path.name} imports {uses_web}"


def test_the_rules_see_the_web_layer() -> None:
    """The rules above would pass vacuously if the walk found nothing: it finds Starlette in the web layer."""
    web = [path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] == "web"]
    assert any("starlette.applications" in imports(path) for path in web)
    assert len(plain_modules()) > 20
