"""The staff pages of issue 15 (times, speed to lead, repeats, conversions, consent) are valid HTML as the Nu Html
Checker reads them (see tests/test_html_validity.py for the checker)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.leads_helpers import a_lead
from tests.test_admin import csrf_of, staff  # noqa: F401 - the signed-in client fixture
from tests.test_html_validity import vnu_errors, vnu_java


@pytest.mark.slow
async def test_the_staff_pages_are_valid_html(staff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    vnu_java()  # skips at once without the checker
    now = dt.datetime.now(dt.timezone.utc)
    first = a_lead(created_at=(now - dt.timedelta(days=3)).isoformat())
    repeat = a_lead(created_at=(now - dt.timedelta(hours=5)).isoformat(), gclid="CjClick")
    client = await staff(first, repeat)
    pages = {"leads": "/admin/leads", "first lead": f"/admin/leads/{first.id}", "repeat": f"/admin/leads/{repeat.id}"}
    files = {}
    for name, path in pages.items():
        files[name] = tmp_path / f"{len(files)}.html"
        files[name].write_text((await client.get(path)).text, encoding="utf-8")
    csrf = csrf_of(files["first lead"].read_text())
    await client.post(f"/admin/leads/{first.id}/revoke", data={"csrf": csrf, "revoked_at": "2026-11-24T09:15",
                                                               "method": "email", "note": "By email"})
    files["revoked lead"] = tmp_path / "revoked.html"
    files["revoked lead"].write_text((await client.get(f"/admin/leads/{first.id}")).text, encoding="utf-8")
    assert vnu_errors(files) == []
