"""What the benchmarks share: printing figures, reading CPU time and memory from /proc, and starting,
waiting for and stopping servers on 127.0.0.1.

The scripts import it as `benchmarks._common`, with the project root on sys.path (each script puts it
there: `python benchmarks/x.py` puts only benchmarks/ on the path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

READY_TIMEOUT_SECONDS = 120.0  # a server loading a 25,000-town site takes a while
STOP_TIMEOUT_SECONDS = 10.0


# -- printing --------------------------------------------------------------------------------------


def heading(title: str) -> None:
    print(f"\n== {title}", flush=True)


def figure(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
    """One figure a line: what, how much, the target, and whether it is met (when there is a target)."""
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    print(f"  {label:<44} {value:>20}   {target:<24} {verdict}".rstrip(), flush=True)


# -- child processes --------------------------------------------------------------------------------


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any LANDING_* setting of the machine's, plus ``variables``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LANDING_")}, **variables}


# -- /proc -----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, all its threads."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(field: str, pid: int | str = "self") -> int:
    """A size from /proc/PID/status (VmRSS, VmHWM, ...) in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise KeyError(field)


def machine_ticks() -> tuple[int, int]:
    """(all, idle + iowait) clock ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    return sum(values), values[3] + values[4]


def cores_busy_between(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores the machine kept busy between two machine_ticks() readings."""
    total, idle = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * (1 - idle / total) if total else 0.0


def busy_cores(seconds: float = 1.0) -> float:
    """How many cores the machine kept busy over ``seconds``: the load of everything else."""
    before = machine_ticks()
    time.sleep(seconds)
    return cores_busy_between(before, machine_ticks())


# -- servers ---------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server process started by ``start_server``, its standard error in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        return proc_status_kib("VmRSS", self.process.pid) / 1024

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(name: str, command: list[str], env: dict[str, str], folder: Path) -> Server:
    """Start ``command --host 127.0.0.1 --port N`` in ``folder``, in its own session (so that stopping it
    reaches nothing else), with its standard error in ``folder/{name}.log``."""
    log = folder / f"{name}.log"
    port = free_port()
    with open(log, "wb") as errors:
        process = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=folder,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                                   start_new_session=True)
    return Server(name, process, port, log)


def wait_ready(server: Server, path: str = "/healthz", timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Until ``path`` answers 200; RuntimeError with the end of the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url(path), timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """SIGTERM, then SIGKILL after a grace period, to the server's own process group (start_new_session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if server.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def uvicorn_options_used(server: Server) -> str:
    """The options line a bare server logged: the ones `landing serve` passes to uvicorn.run, so that both
    servers of a comparison run under the same."""
    for line in server.log.read_text(errors="replace").splitlines():
        if line.startswith("uvicorn options: "):
            return line.removeprefix("uvicorn options: ")
    return "(not reported)"


def serve_like_landing(app: Any, host: str, port: int) -> NoReturn:
    """Serve ``app`` under exactly the uvicorn options `landing serve` passes to uvicorn.run, whatever cli.py
    says today: `landing.cli.main(["serve", ...])` runs as usual, except that it loads no site and builds no
    app of its own, and uvicorn.run serves ``app``. The options are logged for ``uvicorn_options_used``."""
    import uvicorn

    import landing.web.serve
    from landing import cli

    real_run = uvicorn.run

    def run_bare(_app: Any, **options: Any) -> None:
        print(f"uvicorn options: {summarize_options(options)}", file=sys.stderr, flush=True)
        real_run(lambda: app, **{**options, "factory": True})

    uvicorn.run = run_bare
    landing.web.serve.load_snapshot = lambda *args, **kwargs: None  # type: ignore[assignment]
    landing.web.serve.create_app = lambda *args, **kwargs: None  # type: ignore[assignment]
    sys.exit(cli.main(["serve", "--host", host, "--port", str(port)]))


def summarize_options(options: dict[str, Any]) -> str:
    """uvicorn.run's options but the address and the log config (access_log says whether requests are logged)."""
    return ", ".join(f"{key}={value}" for key, value in options.items() if key not in ("log_config", "host", "port"))
