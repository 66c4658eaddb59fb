"""The `landing` command line, run as a marketer or an operator would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from landing.cli import main
from tests.servers import free_port, start_server, stop, wait_until_up


def test_check_prints_one_ok_line(in_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out == "ok: 10 towns, 2 treatments, 18 pages\n"


def test_check_lists_every_problem_and_exits_non_zero(in_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_site / "locations.csv").write_text("town,state,lattitude\nBarrington,XX,1\nCary,IL,2\nNowhereville,IL,3\n",
                                            encoding="utf-8")
    assert main(["check"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    # The misspelt column is said once, not again as an empty latitude on every row; Cary is found in the
    # ZIP code data, so its nearest office can be worked out; a town that is nowhere cannot.
    assert out.err.splitlines() == [
        "locations.csv:1: column 'lattitude': unknown column (did you mean 'latitude'?)",
        "locations.csv:2: column 'state': 'XX' is not a US state or territory code (expected e.g. IL)",
        "locations.csv:4: column 'town': Nowhereville, IL is not in the ZIP code data: check the spelling (as the "
        "USPS writes it, e.g. 'Saint Charles'), or give the town's zip, or its latitude and longitude",
        "3 problems found; nothing was changed.",
    ]


def test_check_reports_site_toml_and_csv_problems_together(in_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = in_site / "site.toml"
    site.write_text(site.read_text().replace('state = "IL"', 'state = "ZZ"', 1))
    (in_site / "locations.csv").write_text("town,state\nBarrington,QQ\n", encoding="utf-8")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "site.toml:19: office 'barrington': state 'ZZ' is not a US state or territory code (e.g. IL)" in err
    assert "locations.csv:2: column 'state': 'QQ' is not a US state" in err


def test_check_names_the_template_line_of_a_typo(in_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = in_site / "templates" / "treatments" / "nerve-blocks.html"
    template.write_text("<p>About {{ location.twon }}.</p>\n<p>{{ place }}</p>\n")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "templates/treatments/nerve-blocks.html:1:" in err and "twon" in err
    assert "Traceback" not in err


def test_check_reports_a_template_syntax_error_with_its_line(in_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = in_site / "templates" / "treatments" / "nerve-blocks.html"
    template.write_text("<p>ok</p>\n<p>{% if place %}unclosed</p>\n")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "nerve-blocks.html:2:" in err and "Traceback" not in err


def test_check_can_check_another_csv(in_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "new-towns.csv"
    other.write_text("town,state,latitude,longitude\nCary,IL,42.2120,-88.2381\n", encoding="utf-8")
    assert main(["check", "--locations", str(other)]) == 0
    assert capsys.readouterr().out == "ok: 1 town, 2 treatments, 2 pages\n"


def test_a_missing_site_file_is_a_message_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "site.toml: cannot read the file" in err and "Traceback" not in err


@pytest.mark.slow
async def test_landing_serve_answers_on_a_loopback_port(in_site: Path) -> None:
    port = free_port()
    server = start_server(in_site, port)
    try:
        await wait_until_up(port, server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            page = await client.get("/intrathecal-pump-therapy/barrington-il/")
            assert page.status_code == 200
            assert "<h1>Intrathecal Pump Therapy in Barrington, IL</h1>" in page.text
            head = await client.head("/nerve-blocks/")
            assert head.status_code == 200 and head.content == b""
    finally:
        stop(server)


def test_serve_with_a_broken_site_exits_with_the_problems(in_site: Path) -> None:
    (in_site / "locations.csv").write_text("town,state\nBarrington,XX\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "landing", "serve", "--port", str(free_port())], cwd=in_site,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "locations.csv:2: column 'state': 'XX' is not a US state" in result.stderr


def test_serve_whose_lead_database_cannot_be_opened_exits_instead_of_hanging(in_site: Path) -> None:
    # Each open SQLite connection has a thread of its own that keeps the process alive until it is closed.
    (in_site / "leads.sqlite3").write_text("not a database\n" * 100, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "landing", "serve", "--port", str(free_port())], cwd=in_site,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "file is not a database" in result.stderr


def test_serve_whose_startup_fails_exits_instead_of_hanging(in_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDING_REDIS_URL", "redis://127.0.0.1:99999")  # a URL, but no port redis can use
    result = subprocess.run([sys.executable, "-m", "landing", "serve", "--port", str(free_port())], cwd=in_site,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "port" in result.stderr.lower()
