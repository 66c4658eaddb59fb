"""What the staff leads list adds for issue 15, on a SQLite lead store of 20,000 leads (a third still new):
the per-office time-to-first-contact summary over the latest 5,000 leads, one page's waits and repeats.

No target is set by an issue; the figures say what opening /admin/leads costs beyond the list itself.

    python benchmarks/speed_to_lead.py [--leads N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from landing.leads.duplicates import repeats_of  # noqa: E402
from landing.leads.model import Lead, LeadFilter, new_id  # noqa: E402
from landing.leads.speed import speed_by_office, waits  # noqa: E402
from landing.leads.store import store_for  # noqa: E402
from landing.site import load_site  # noqa: E402


def leads(count: int, chance: random.Random) -> list[Lead]:
    now = dt.datetime.now(dt.timezone.utc)
    made = []
    for n in range(count):
        created = now - dt.timedelta(minutes=chance.randint(1, 60 * 24 * 200))
        made.append(Lead(id=new_id(), created_at=created.isoformat(timespec="microseconds"), name=f"Patient {n}",
                         phone=f"+1847555{n % 9000:04d}", email=f"p{n}@example.com", contact="phone", message="",
                         treatment="intrathecal-pump-therapy", town="barrington-il",
                         office=chance.choice(["barrington", "crystal-lake"]), consent_text="I agree",
                         consent_version="2026-11-01", status=chance.choice(["new", "contacted", "scheduled"])))
    return made


async def run(count: int) -> None:
    chance = random.Random(15)
    site = load_site(ROOT / "site.toml")
    with tempfile.TemporaryDirectory() as folder:
        store = store_for(f"sqlite:///{Path(folder) / 'leads.sqlite3'}")
        await store.open()
        try:
            made = leads(count, chance)
            await asyncio.gather(*(store.add(lead, notify=False) for lead in made))
            await store.execute_many([
                ("INSERT INTO lead_events (id, lead_id, at, actor, status) VALUES (?, ?, ?, ?, ?)",
                 (new_id(), lead.id, (dt.datetime.fromisoformat(lead.created_at)
                                      + dt.timedelta(minutes=chance.randint(5, 600))).isoformat(), "bench", lead.status))
                for lead in made if lead.status != "new"])
            page = sorted(made, key=lambda lead: lead.created_at, reverse=True)[:50]
            for label, work in [
                (f"time-to-first-contact summary (latest 5,000 of {count:,} leads)",
                 lambda: speed_by_office(store, site, LeadFilter())),
                ("one page's waits (50 leads)", lambda: waits(store, site, page)),
                ("one page's repeats (50 leads)", lambda: repeats_of(store, page, 30)),
            ]:
                await work()  # warm
                started = time.perf_counter()
                for _ in range(5):
                    await work()
                print(f"{label}: {(time.perf_counter() - started) / 5 * 1000:.0f} ms")
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    asyncio.run(run(parser.parse_args().leads))


if __name__ == "__main__":
    main()
