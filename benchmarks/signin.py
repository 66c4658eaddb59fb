"""Landing pages while 100 staff sign-ins are checked: page latency during the burst beside without it.

Issue 12: argon2 ran on the event loop, so while 100 sign-ins were checked a landing page waited 11.7 s.
Now it runs in a small thread pool (landing/admin/auth.py, HASH_THREADS) and pages should barely notice.

What it does, on the example site copied into a temporary folder, against the real `landing serve` on
loopback:

1. wrk -t1 -c4 --latency GETs a landing page for SECONDS: p50 and p99 with no sign-ins (the baseline).
2. wrk again, and one second in, 100 sign-ins are posted at once, each for another (unknown) account
   from another address (X-Forwarded-For, from a trusted proxy), so that the throttle lets every one
   through to the password check; wrk is stopped when the last is answered: p50 and p99 during the burst.

    python benchmarks/signin.py [--seconds 5]       # needs wrk (apt-get install wrk)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks._common import (  # noqa: E402
    busy_cores,
    clean_environment,
    figure,
    heading,
    start_server,
    stop_server,
    wait_ready,
)
from landing.admin.auth import HASH_THREADS  # noqa: E402

PAGE = "/intrathecal-pump-therapy/barrington-il/"
SIGN_INS = 100
WRK = ["wrk", "-t1", "-c4", "--latency"]


def copy_site(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in ("site.toml", "locations.csv"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("templates", "static"):
        shutil.copytree(ROOT / name, folder / name)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def percentiles(wrk_output: str) -> tuple[float, float, float, int]:
    """(p50, p99, max in ms, requests) from wrk --latency's report."""
    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s|m)\s*$", wrk_output, re.M)
        if found is None:
            raise RuntimeError(f"no {label} latency in wrk's output:\n{wrk_output}")
        return float(found.group(1)) * UNITS[found.group(2)]

    latency = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", wrk_output, re.M)
    requests = re.search(r"(\d+) requests in", wrk_output)
    longest = float(latency.group(1)) * UNITS[latency.group(2)] if latency else float("nan")
    return ms("50%"), ms("99%"), longest, int(requests.group(1)) if requests else 0


async def sign_in_burst(base: str) -> tuple[float, Counter[int]]:
    """Post SIGN_INS sign-ins at once, each with its own form, account and address: (seconds, statuses)."""
    limits = httpx.Limits(max_connections=SIGN_INS, max_keepalive_connections=SIGN_INS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=600) as client:
        async def form(n: int) -> tuple[str, str, str]:
            address = f"10.1.{n // 250}.{n % 250 + 1}"
            page = await client.get("/admin/login", headers={"x-forwarded-for": address})
            token = re.search(r'name="token" value="([^"]+)"', page.text)
            assert token is not None, page.text
            return address, page.cookies["landing_login"], token.group(1)

        forms = await asyncio.gather(*(form(n) for n in range(SIGN_INS)))
        client.cookies.clear()

        async def post(n: int, address: str, cookie: str, token: str) -> int:
            answer = await client.post("/admin/login", headers={"x-forwarded-for": address,
                                                                "cookie": f"landing_login={cookie}"},
                                       data={"email": f"guess{n}@example.com", "password": "not the password",
                                             "token": token})
            return answer.status_code

        started = time.perf_counter()
        statuses = await asyncio.gather(*(post(n, *each) for n, each in enumerate(forms)))
        return time.perf_counter() - started, Counter(statuses)


def benchmark(folder: Path, seconds: float) -> None:
    copy_site(folder)
    env = clean_environment(LANDING_DATABASE_URL=f"sqlite:///{folder / 'leads.sqlite3'}", LANDING_SECRET_KEY="bench",
                            LANDING_RELOAD_INTERVAL="0", LANDING_TRUSTED_PROXIES="127.0.0.1")
    heading(f"Landing pages ({' '.join(WRK)}) while {SIGN_INS} staff sign-ins are checked")
    figure("CPUs; cores busy with other work", f"{os.cpu_count()}; {busy_cores():.1f}", "wrk and the server share them")
    figure("argon2 threads (HASH_THREADS)", str(HASH_THREADS))
    server = start_server("landing", [sys.executable, "-m", "landing", "serve"], env, folder)
    try:
        wait_ready(server)
        url = server.url(PAGE)
        quiet = subprocess.run([*WRK, f"-d{seconds:g}s", url], capture_output=True, text=True, check=True)
        p50, p99, longest, requests = percentiles(quiet.stdout)
        figure("page p50 / p99 / max, no sign-ins", f"{p50:.1f} / {p99:.1f} / {longest:.0f} ms", f"{requests:,} requests")

        wrk = subprocess.Popen([*WRK, "-d600s", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        took, statuses = asyncio.run(sign_in_burst(server.url("")))
        wrk.send_signal(signal.SIGINT)  # wrk stops and reports what it measured
        out, _ = wrk.communicate(timeout=30)
        b50, b99, burst_longest, burst_requests = percentiles(out)
        figure(f"{SIGN_INS} sign-ins answered in", f"{took:.1f} s",
               f"{statuses.get(401, 0)} checked (401), others: {dict(statuses - Counter({401: statuses[401]}))}")
        figure("page p50 / p99 / max, during the burst", f"{b50:.1f} / {b99:.1f} / {burst_longest:.0f} ms",
               f"{burst_requests:,} requests")
        figure("p99 during the burst / p99 without", f"{b99 / p99:.1f}x",
               "target: p99 < 250 ms (was 11.7 s)", b99 < 250)
    finally:
        stop_server(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the baseline wrk run (default 5)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="landing-signin-bench-") as tmp:
        benchmark(Path(tmp) / "site", args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
