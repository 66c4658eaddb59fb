"""Every kind of page is valid HTML as the Nu Html Checker (v.Nu, the W3C's validator) reads it: no errors.

v.Nu is a Java program; `.ci/run` installs Java and the pinned `vnu-jar` npm package into .ci/.vnu/. Without
them this test skips (and fails under CI). LANDING_TEST_VNU_JAR may point at another vnu.jar.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ClientFactory
from tests.leads_helpers import valid_form
from tests.parts import need

ROOT = Path(__file__).resolve().parent.parent
VNU_JAR = Path(os.environ.get("LANDING_TEST_VNU_JAR", ROOT / ".ci/.vnu/node_modules/vnu-jar/build/dist/vnu.jar"))

PAGES = {
    "home": "/",
    "treatment page with its whole article": "/intrathecal-pump-therapy/",
    "list of towns of a treatment whose town pages have the whole article": "/nerve-blocks/",
    "town page summarising the treatment, with local questions": "/intrathecal-pump-therapy/cary-il/",
    "town page with an office in town": "/intrathecal-pump-therapy/barrington-il/",
    "town page with the whole article": "/nerve-blocks/woodstock-il/",
    "not found": "/no-such-page/",
    "thank-you": "/thank-you/?office=barrington",
    "staff sign-in": "/admin/login",
}


def vnu_java() -> str:
    """Java, once Java and v.Nu are known to be there (skips, or fails under CI, without them)."""
    java = shutil.which("java")
    if java is None:
        need("Java is not installed (apt-get install default-jre-headless; .ci/run does it)")
    if not VNU_JAR.is_file():
        need(f"the Nu Html Checker is not at {VNU_JAR} (npm install --prefix .ci/.vnu vnu-jar; .ci/run does it)")
    assert java is not None
    return java


def vnu_errors(files: dict[str, Path]) -> list[str]:
    """What v.Nu finds wrong in each named HTML file."""
    checked = subprocess.run([vnu_java(), "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *map(str, files.values())],
                             capture_output=True, text=True, timeout=300)
    report = json.loads(checked.stderr or checked.stdout or '{"messages": []}')
    names = {path.resolve().as_uri().replace("file:///", "file:/"): name for name, path in files.items()}
    return [f"{names.get(message.get('url', ''), message.get('url'))}: line {message.get('lastLine')}: "
            f"{message['message']}" for message in report["messages"]]


@pytest.mark.slow
async def test_every_kind_of_page_is_valid_html(make_client: ClientFactory, tmp_path: Path) -> None:
    vnu_java()  # skips at once without the checker
    client = await make_client()
    files = {}
    for name, path in PAGES.items():
        response = await client.get(path)
        assert response.status_code in (200, 404), name
        files[name] = tmp_path / f"{len(files)}.html"
        files[name].write_text(response.text, encoding="utf-8")
    # The page a visitor gets back when the form needs correcting, with its errors beside the fields.
    again = await client.post("/leads", data=valid_form(phone="555-0199", email=""))
    assert again.status_code == 422
    files["the form shown again with its errors"] = tmp_path / "form-again.html"
    files["the form shown again with its errors"].write_text(again.text, encoding="utf-8")
    assert vnu_errors(files) == []
