"""`landing users` and `landing leads`, as an administrator runs them."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.leads_helpers import a_lead, rows, seed as seed_database
from tests.servers import landing_environment


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return landing_environment(LANDING_DATABASE_URL=f"sqlite:///{tmp_path / 'leads.sqlite3'}", LANDING_SECRET_KEY="s")


def landing(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "landing", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60)


def database(env: dict[str, str]) -> Path:
    return Path(env["LANDING_DATABASE_URL"].removeprefix("sqlite:///"))


def seed(env: dict[str, str], *leads: object) -> None:
    asyncio.run(seed_database(database(env), *leads, notify=True))


def test_users_add_list_and_disable(env: dict[str, str]) -> None:
    added = landing(env, "users", "add", "Front.Desk@Example.com", stdin="a long enough password\n")
    assert added.returncode == 0 and added.stdout == "added front.desk@example.com\n"
    listed = landing(env, "users", "list")
    assert listed.stdout.startswith("front.desk@example.com\tactive\tsince ")
    assert landing(env, "users", "disable", "front.desk@example.com").returncode == 0
    assert "\tdisabled\t" in landing(env, "users", "list").stdout


def test_passwords_under_12_characters_are_refused(env: dict[str, str]) -> None:
    result = landing(env, "users", "add", "a@example.com", stdin="short\n")
    assert result.returncode == 1
    assert result.stderr == "error: the password must be at least 12 characters long\n"
    assert landing(env, "users", "list").stdout == ""


def test_the_same_user_cannot_be_added_twice(env: dict[str, str]) -> None:
    landing(env, "users", "add", "a@example.com", stdin="a long enough password\n")
    again = landing(env, "users", "add", "A@example.com", stdin="another long password\n")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_disabling_an_unknown_user_says_so(env: dict[str, str]) -> None:
    result = landing(env, "users", "disable", "ghost@example.com")
    assert result.returncode == 1 and "no user ghost@example.com" in result.stderr


def test_a_lead_database_that_cannot_be_opened_ends_the_command(env: dict[str, str]) -> None:
    database(env).write_text("not a database\n" * 100, encoding="utf-8")
    result = landing(env, "users", "list")  # fails the test by its timeout if a connection is left open
    assert result.returncode != 0 and "file is not a database" in result.stderr


def test_leads_export_writes_the_filtered_csv_and_is_audited(env: dict[str, str], tmp_path: Path) -> None:
    today = dt.datetime.now(dt.timezone.utc)
    seed(env,
         a_lead(name="Kept", office="barrington", created_at=today.isoformat(timespec="microseconds")),
         a_lead(name="Other office", office="crystal-lake"),
         a_lead(name="=cmd|' /C calc'!A0", office="barrington"),
         a_lead(name="Spam", office="barrington", spam=True, spam_reason="honeypot filled"))
    target = tmp_path / "out.csv"
    result = landing(env, "leads", "export", "--office", "barrington", "--since", today.date().isoformat(), "-o", str(target))
    assert result.returncode == 0 and result.stderr == f"exported 2 leads to {target}\n"
    exported = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert sorted(row["name"] for row in exported) == ["'=cmd|' /C calc'!A0", "Kept"]
    (entry,) = rows(database(env), "audit_log")
    assert str(entry["actor"]).startswith("command line") and entry["action"] == "export" and entry["rows"] == 2
    assert entry["detail"] == f"since={today.date().isoformat()}&office=barrington"


def test_leads_export_to_standard_output(env: dict[str, str]) -> None:
    seed(env, a_lead(name="Kept"))
    result = landing(env, "leads", "export")
    assert result.stdout.startswith("\ufeffid,created_at,status,name") and "Kept" in result.stdout


def test_purge_removes_old_leads_and_their_notices_after_confirmation(env: dict[str, str]) -> None:
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)).isoformat(timespec="microseconds")
    seed(env, a_lead(name="Old", created_at=old), a_lead(name="Recent"))
    refused = landing(env, "leads", "purge", "--older-than", "365")
    assert refused.returncode == 1 and "add --yes to confirm" in refused.stderr
    done = landing(env, "leads", "purge", "--older-than", "365", "--yes")
    assert done.returncode == 0 and done.stdout.startswith("deleted 1 leads received before ")
    assert [row["name"] for row in rows(database(env))] == ["Recent"]
    assert len(rows(database(env), "outbox")) == 1
    assert [(row["action"], row["rows"]) for row in rows(database(env), "audit_log")] == [("purge", 1)]
