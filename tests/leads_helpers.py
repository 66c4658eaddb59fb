"""Helpers for lead tests: tokens of a chosen age, a valid submission to vary, and the SQLite database read,
changed and seeded from outside the app (each connection closed: Python 3.13 warns of one that is not)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from itsdangerous import TimestampSigner

SECRET = "test-secret"
LANDING = "/intrathecal-pump-therapy/cary-il/"


def token(age: float = 60.0, secret: str = SECRET) -> str:
    """A form token as if the form had been served ``age`` seconds ago."""

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    return Backdated(secret, salt="landing.lead-form").sign(b"lead").decode()


def valid_form(**changes: str) -> dict[str, str]:
    form = {
        "treatment": "intrathecal-pump-therapy",
        "town": "cary-il",
        "form_token": token(),
        "name": "Jane Q. Patient",
        "phone": "(847) 555-0142",
        "email": "jane.patient@example.com",
        "contact": "phone",
        "message": "Is there an evening appointment?",
        "consent": "yes",
        "website": "",
        "utm_source": "google",
        "utm_campaign": "pumps-fall",
        "gclid": "gclid-123",
        "landing_referrer": "https://www.google.com/",
        "landing_query": "utm_source=google&utm_campaign=pumps-fall&gclid=gclid-123",
    }
    form.update(changes)
    return form


def a_lead(**changes: object):  # type: ignore[no-untyped-def]
    """A stored lead as the store keeps it, with any field changed."""
    from dataclasses import replace

    from landing.leads.model import Lead, new_id, utc_now

    lead = Lead(id=new_id(), created_at=utc_now(), name="Jane Q. Patient", phone="+18475550142",
                email="jane@example.com", contact="phone", message="Hello", treatment="intrathecal-pump-therapy",
                town="cary-il", office="crystal-lake", consent_text="I agree", consent_version="2026-11-01")
    return replace(lead, **changes)  # type: ignore[arg-type]


def rows(database: Path, table: str = "leads") -> list[dict[str, object]]:
    """What a table of the SQLite lead database holds, oldest first where rows have a time."""
    order = " ORDER BY created_at" if table == "leads" else ""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(f"SELECT * FROM {table}{order}")]


def change(database: Path, statement: str, parameters: Sequence[object] = ()) -> None:
    """Run one statement on the SQLite lead database at ``database`` and commit it, as an outside writer."""
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as db, db:  # the inner ``db`` commits
        db.execute(statement, parameters)


async def seed(database: Path, *leads: object, users: Sequence[tuple[str, str]] = (), notify: bool = False) -> None:
    """Put staff users and leads straight into the SQLite lead database at ``database``."""
    from landing.admin.auth import hash_password
    from landing.leads.store import SQLiteLeadStore

    store = SQLiteLeadStore(database)
    await store.open()
    try:
        for email, password in users:
            await store.add_user(email, hash_password(password))
        for lead in leads:
            await store.add(lead, notify=notify)  # type: ignore[arg-type]
    finally:
        await store.close()
