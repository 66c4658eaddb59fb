"""Export 1,000,000 leads as CSV through `landing leads export` and print time, rate and peak memory.

Targets (issue 5): peak resident memory under 150 MB, at least 50,000 rows/s. The leads are written
straight into a fresh SQLite file (the store's own schema, made by opening the store once), then the
real command runs in a child process so its peak RSS can be read on its own.

    python benchmarks/export.py [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import clean_environment  # noqa: E402
from landing.leads.model import LEAD_COLUMNS, new_id  # noqa: E402
from landing.leads.store import SQLiteLeadStore  # noqa: E402


def make_database(path: Path, rows: int) -> float:
    async def migrate() -> None:
        store = SQLiteLeadStore(path)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # the inner ``db`` commits
        db.execute("PRAGMA synchronous=OFF")
        sql = f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' * len(LEAD_COLUMNS))})"
        batch = []
        for n in range(rows):
            values = {column: "" for column in LEAD_COLUMNS}
            values.update(id=new_id() + f"{n:08d}", created_at=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:{n % 60:02d}.{n % 1_000_000:06d}+00:00",
                          name=f"Patient {n}", phone="+18475550142", email=f"patient{n}@example.com", contact="phone",
                          message="Is there an evening appointment? =1+1", treatment="intrathecal-pump-therapy",
                          town="barrington-il", office="barrington", consent_text="I agree", consent_version="2026-11-01",
                          status="new", spam=0, utm_source="google", landing_url="https://pain.example.com/x/")
            batch.append(tuple(values[column] for column in LEAD_COLUMNS))
            if len(batch) == 50_000:
                db.executemany(sql, batch)
                batch = []
        if batch:
            db.executemany(sql, batch)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database, output = Path(folder) / "leads.sqlite3", Path(folder) / "leads.csv"
        print(f"writing {args.rows:,} leads ... ", end="", flush=True)
        print(f"{make_database(database, args.rows):.1f} s")
        env = clean_environment(LANDING_DATABASE_URL=f"sqlite:///{database}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "landing", "leads", "export", "-o", str(output)], env=env, check=True,
                       cwd=ROOT, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        with output.open("rb") as csv_file:
            lines = sum(1 for _ in csv_file) - 1
        print(f"exported rows:      {lines:,} ({output.stat().st_size / 1e6:.0f} MB of CSV)")
        print(f"time:               {seconds:.1f} s (including interpreter start)")
        print(f"rate:               {lines / seconds:,.0f} rows/s of wall time   (target >= 50,000)")
        print(f"CPU time:           {cpu:.1f} s = {lines / cpu:,.0f} rows per CPU-second (the rate on an idle core; "
              f"this machine's load average is {os.getloadavg()[0]:.1f})")
        print(f"peak resident:      {peak_mb:.0f} MB   (target < 150 MB)")


if __name__ == "__main__":
    main()
