"""`landing users` and `landing leads`, as an administrator runs them."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import stat
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
    assert added.returncode == 0 and added.stdout == "added front.desk@example.com as staff (every office)\n"
    listed = landing(env, "users", "list")
    assert listed.stdout.startswith("front.desk@example.com\tstaff (every office)\tactive\tsince ")
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


# -- staff accounts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("password", "says"), [
    ("Password123456!", "This is similar to a commonly used password"),
    ("qwertyuiopasdf", "too easy to guess"),
    ("aaaaaaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess'),
    ("Jennifer19851985", "Common names and surnames are easy to guess"),
    ("frontdesk@example.com1", "too easy to guess"),  # the account's own email
    ("TestPainSpineClinic!", "too easy to guess"),  # the practice's name (site.toml)
])
def test_passwords_easy_to_guess_are_refused_with_what_to_do_instead(env: dict[str, str], password: str,
                                                                      says: str) -> None:
    env = {**env, "LANDING_SITE_FILE": str(Path(__file__).parent / "data" / "site.toml")}
    result = landing(env, "users", "add", "frontdesk@example.com", stdin=password + "\n")
    assert result.returncode == 1 and result.stderr.startswith("error: this password is too easy to guess")
    assert says in result.stderr and "Use four or more words that do not belong together" in result.stderr
    assert landing(env, "users", "list").stdout == ""


@pytest.mark.parametrize(("email", "says"), [
    ("front desk@example.com", "'front desk@example.com' is not a usable email address"),
    ("frontdesk@", "is not a usable email address"),
    ("frontdesk@example..com", "is not a usable email address"),
    ("frontdesk", "is not a usable email address: An email address must have an @-sign."),
])
def test_staff_emails_are_checked_by_email_validator(env: dict[str, str], email: str, says: str) -> None:
    result = landing(env, "users", "add", email, stdin="a long enough password\n")
    assert result.returncode == 1 and says in result.stderr and "Traceback" not in result.stderr
    assert landing(env, "users", "list").stdout == ""


def test_a_staff_email_is_kept_as_email_validator_normalizes_it(env: dict[str, str]) -> None:
    added = landing(env, "users", "add", " Front.Desk@EXAMPLE.com ", stdin="a long enough password\n")
    assert added.returncode == 0 and added.stdout == "added front.desk@example.com as staff (every office)\n"


# -- files holding patients' details ---------------------------------------------------------------------

def landing_with_umask(env: dict[str, str], umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    old = os.umask(umask)  # inherited by the child
    try:
        return landing(env, *args)
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_an_export_file_is_private_whatever_the_umask(env: dict[str, str], tmp_path: Path) -> None:
    seed(env, a_lead(name="Kept"))
    target = tmp_path / "leads.csv"
    result = landing_with_umask(env, 0o000, "leads", "export", "-o", str(target))
    assert result.returncode == 0 and "Kept" in target.read_text(encoding="utf-8-sig")
    assert mode(target) == 0o600
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary file left


def test_an_export_never_overwrites_a_file_unless_forced(env: dict[str, str], tmp_path: Path) -> None:
    seed(env, a_lead(name="Kept"))
    target = tmp_path / "leads.csv"
    target.write_text("last month's export\n")
    target.chmod(0o644)
    refused = landing(env, "leads", "export", "-o", str(target))
    assert refused.returncode == 1
    assert refused.stderr == f"error: {target} already exists: add --force to replace it, or choose another name\n"
    assert target.read_text() == "last month's export\n"
    forced = landing(env, "leads", "export", "-o", str(target), "--force")
    assert forced.returncode == 0 and "Kept" in target.read_text(encoding="utf-8-sig") and mode(target) == 0o600


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_an_export_never_follows_a_symbolic_link(env: dict[str, str], tmp_path: Path, force: list[str]) -> None:
    seed(env, a_lead(name="Kept"))
    shared = tmp_path / "shared-with-everyone.csv"
    shared.write_text("")
    link = tmp_path / "leads.csv"
    link.symlink_to(shared)
    dangling = tmp_path / "new.csv"
    dangling.symlink_to(tmp_path / "not-there-yet.csv")
    for path in (link, dangling):
        result = landing(env, "leads", "export", "-o", str(path), *force)
        assert result.returncode == 1 and "is a symbolic link, which an export never follows" in result.stderr
    assert shared.read_text() == "" and not (tmp_path / "not-there-yet.csv").exists()


# -- absurd input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("days", "says"), [
    ("99999999", "'99999999' must be a whole number from 1 to 36,500"),
    ("0", "'0' must be a whole number from 1 to 36,500"),
    ("-1", "'-1' must be a whole number from 1 to 36,500"),
    ("36501", "'36501' must be a whole number from 1 to 36,500"),
    ("1e3", "'1e3' is not a whole number"),
    ("ten", "'ten' is not a whole number"),
    ("9" * 5000, "'" + "9" * 40 + "...' is not a whole number"),
])
def test_purge_refuses_a_number_of_days_it_cannot_use_and_says_which_it_can(env: dict[str, str], days: str,
                                                                          says: str) -> None:
    seed(env, a_lead(name="Kept"))
    result = landing(env, "leads", "purge", "--older-than", days, "--yes")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: argument --older-than: {says}" in result.stderr
    assert landing(env, "leads", "export").stdout.count("Kept") == 1


def test_purge_takes_the_largest_number_of_days(env: dict[str, str]) -> None:
    seed(env, a_lead(name="Kept"))
    result = landing(env, "leads", "purge", "--older-than", "36500", "--yes")
    assert result.returncode == 0 and result.stdout.startswith("deleted 0 leads received before ")


@pytest.mark.parametrize(("option", "says"), [
    (["--port", "99999"], "argument --port: '99999' must be a whole number from 1 to 65,535"),
    (["--port", "-1"], "argument --port: '-1' must be a whole number from 1 to 65,535"),
    (["--workers", "0"], "argument --workers: '0' must be a whole number from 1 to 64"),
    (["--workers", "four"], "argument --workers: 'four' is not a whole number"),
])
def test_serve_refuses_a_port_or_worker_count_it_cannot_use(env: dict[str, str], option: list[str], says: str) -> None:
    result = landing(env, "serve", *option)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr


def test_export_until_the_last_day_there_is_exports_everything(env: dict[str, str]) -> None:
    seed(env, a_lead(name="Kept"))
    result = landing(env, "leads", "export", "--since", "0001-01-01", "--until", "9999-12-31")
    assert result.returncode == 0 and "Kept" in result.stdout


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--since", "2026-02-30", "since: '2026-02-30' is not a date (use YYYY-MM-DD, e.g. 2026-11-27)"),
    ("--until", "99999-12-31", "until: '99999-12-31' is not a date"),
    ("--status", "archived", "status: 'archived' is not a status (use one of new, contacted, scheduled, closed, spam)"),
])
def test_export_refuses_a_filter_it_cannot_use_and_says_why(env: dict[str, str], option: str, value: str,
                                                             says: str) -> None:
    result = landing(env, "leads", "export", option, value)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {says}") and result.stdout == ""
