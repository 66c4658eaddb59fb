"""A new practice starts without cloning: `landing init` writes a site that checks and serves, and the
package works as a normal (non-editable) install, from a folder that holds no code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from landing.cli import main
from tests.servers import free_port, landing_environment, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def test_init_writes_a_site_that_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "clinic"]) == 0
    written = sorted(str(path.relative_to(tmp_path / "clinic")) for path in (tmp_path / "clinic").rglob("*")
                     if path.is_file())
    assert written == ["README.md", "locations.csv", "site.toml", "static/logo.svg",
                       "templates/treatments/example-treatment.html"]
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "clinic")
    assert main(["check"]) == 0
    assert capsys.readouterr().out == "ok: 1 town, 1 treatment, 1 page\n"


def test_init_overwrites_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clinic").mkdir()
    (tmp_path / "clinic" / "site.toml").write_text("# mine\n")
    assert main(["init", "clinic"]) == 1
    assert "already has site.toml" in capsys.readouterr().err
    assert (tmp_path / "clinic" / "site.toml").read_text() == "# mine\n"
    assert sorted(path.name for path in (tmp_path / "clinic").iterdir()) == ["site.toml"]


@pytest.mark.slow
async def test_the_built_wheel_runs_init_check_and_serve_outside_the_checkout(tmp_path: Path) -> None:
    """The wheel, installed on its own (its dependencies are this test's), from a folder without code."""
    dist, target, work = tmp_path / "dist", tmp_path / "installed", tmp_path / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
                   check=True, cwd=tmp_path, timeout=300)
    wheel = next(dist.glob("landing-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, cwd=tmp_path, timeout=300)
    # PYTHONPATH comes before site-packages, where an editable install of the checkout may sit.
    env = landing_environment(PYTHONPATH=str(target))
    env.pop("PYTHONSAFEPATH", None)

    def landing(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "landing", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    where = subprocess.run([sys.executable, "-c", "import landing; print(landing.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(target)
    assert landing("init", "clinic", cwd=work).returncode == 0
    site = work / "clinic"
    checked = landing("check", cwd=site)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "ok: 1 town, 1 treatment, 1 page\n"
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "landing", "serve", "--port", str(port)], cwd=site,
                              env={**env, "LANDING_RELOAD_INTERVAL": "0"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        await wait_until_up(port, server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            page = await client.get("/example-treatment/springfield-il/")
            assert page.status_code == 200
            assert "<h1>Example Treatment in Springfield, IL</h1>" in page.text
            css = page.text.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
            assert (await client.get(css)).status_code == 200  # the package's own stylesheet
            login = await client.get("/admin/login")
            assert login.status_code == 200 and 'name="password"' in login.text
    finally:
        stop(server)
    assert not any(path.suffix == ".py" for path in work.rglob("*"))
    assert os.stat(site / ".landing-secret").st_mode & 0o077 == 0
