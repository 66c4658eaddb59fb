"""The development secret: made once, whole, private, and the same for every worker that starts at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from landing.settings import Settings, resolve_secret
from tests.servers import landing_environment

MAKE = "from pathlib import Path; from landing.settings import Settings, resolve_secret; " \
       "print(resolve_secret(Settings(), Path('.landing-secret')))"


def test_workers_starting_together_agree_on_one_secret_never_an_empty_one(tmp_path: Path) -> None:
    env = landing_environment(PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    for _ in range(3):  # a fresh folder each round, every process racing to make the file
        folder = tmp_path / f"round-{_}"
        folder.mkdir()
        workers = [subprocess.Popen([sys.executable, "-c", MAKE], cwd=folder, env=env, stdout=subprocess.PIPE,
                                    text=True) for _ in range(8)]
        secrets = {worker.communicate(timeout=60)[0].strip() for worker in workers}
        assert len(secrets) == 1 and len(secrets.pop()) >= 32
        secret_file = folder / ".landing-secret"
        assert os.stat(secret_file).st_mode & 0o777 == 0o600
        assert [path.name for path in folder.iterdir()] == [".landing-secret"]  # no temporary file left


def test_an_empty_secret_file_left_by_an_older_version_is_replaced(tmp_path: Path) -> None:
    secret_file = tmp_path / ".landing-secret"
    secret_file.write_text("")
    secret = resolve_secret(Settings(), secret_file)
    assert len(secret) >= 32 and secret_file.read_text() == secret
    assert resolve_secret(Settings(), secret_file) == secret


def test_a_configured_secret_writes_no_file(tmp_path: Path) -> None:
    assert resolve_secret(Settings(secret_key="from the environment"), tmp_path / ".landing-secret") == "from the environment"
    assert not (tmp_path / ".landing-secret").exists()
