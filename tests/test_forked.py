"""Work spread over forked processes (landing.forked): what happens to the workers when their parent goes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

SPREADS = """
import os, sys, time
from landing import forked

def work(part):
    with open(sys.argv[1], "a") as pids:
        pids.write(f"{os.getpid()}\\n")
    time.sleep(60)  # a long render
    return b""

forked.spread(work, 1000, jobs=2)
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody has reaped yet is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_workers_of_a_process_killed_during_a_measure_stop_with_it(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    parent = subprocess.Popen([sys.executable, "-c", SPREADS, str(pids_file)], cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(pids_file.read_text().split() if pids_file.exists() else ()) < 2:
            time.sleep(0.05)
        workers = [int(pid) for pid in pids_file.read_text().split()]
        assert len(workers) == 2 and all(running(pid) for pid in workers)
    finally:
        parent.kill()  # as a stopped service's last resort (SIGKILL: no handler of its own runs)
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(running(pid) for pid in workers)
