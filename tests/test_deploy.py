"""deploy/: the systemd unit is hardened and valid (systemd's own check, where systemd-analyze is available); the nginx
recipe is run by tests/test_nginx.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "landing@.service"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_runs_as_its_own_user_with_private_files_and_a_read_only_system() -> None:
    unit = directives(UNIT.read_text())
    assert unit["User"] == ["landing"] and unit["Group"] == ["landing"]
    assert unit["UMask"] == ["0077"] and unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/landing"] and unit["StateDirectory"] == ["landing"]
    assert unit["EnvironmentFile"] == ["/etc/landing/landing.env"]
    assert unit["ExecStart"] == ["/opt/landing/venv/bin/landing serve --host 127.0.0.1 --port %i"]
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateUsers", "ProtectKernelTunables",
                   "ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality",
                   "MemoryDenyWriteExecute", "RestrictNamespaces", "RestrictRealtime"):
        assert unit[option] == ["yes"], option
    assert unit["CapabilityBoundingSet"] == [""] and "@system-service" in unit["SystemCallFilter"]


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed here: the unit's own check is skipped")
    return found


def unit_here(tmp_path: Path) -> Path:
    """The unit as an instance, with ExecStart pointing at this checkout's `landing` (verify checks it exists)."""
    landing = Path(sys.executable).with_name("landing")
    assert landing.exists(), f"{landing} is missing: install the package (pip install -e .)"
    unit = tmp_path / "landing@8000.service"
    unit.write_text(UNIT.read_text().replace("/opt/landing/venv/bin/landing", str(landing)))
    return unit


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    unit = unit_here(tmp_path)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    said = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line or "landing@" in line]
    assert result.returncode == 0 and said == [], result.stdout + result.stderr


def test_systemd_rates_the_unit_s_exposure_low(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    unit = unit_here(tmp_path)
    result = subprocess.run([analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    if result.returncode != 0 and "offline" in result.stderr:
        pytest.skip("this systemd-analyze cannot rate a unit file offline (systemd 250 or later can)")
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert level is not None, result.stdout + result.stderr
    assert float(level.group(1)) <= 2.0  # systemd calls up to 2 "OK"; an unhardened service rates 9.6


def test_the_readme_s_deployment_guide_names_the_recipe_files() -> None:
    assert "deploy/nginx/landing.conf" in README and "deploy/systemd/landing@.service" in README
