"""Live reload: a marketer's edit goes live without a restart; a broken edit takes nothing down."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import ClientFactory
from tests.servers import until

NEW_TOWN = "/intrathecal-pump-therapy/fox-river-grove-il/"


def without_token(html: str) -> str:
    return re.sub(r'name="form_token" value="[^"]*"', 'name="form_token" value=""', html)


async def status(client: httpx.AsyncClient, path: str) -> int:
    return (await client.get(path)).status_code


async def test_an_added_town_is_served_without_a_restart(site_dir: Path, make_client: ClientFactory) -> None:
    client = await make_client(reload_interval=0.05)
    assert await status(client, NEW_TOWN) == 404
    with (site_dir / "locations.csv").open("a", encoding="utf-8") as csv:
        csv.write("Fox River Grove,IL,McHenry County,60021,42.2009,-88.2145,,,,,,\n")

    async def served() -> bool:
        return await status(client, NEW_TOWN) == 200

    await until(served)
    assert "fox-river-grove-il" in (await client.get("/sitemap.xml")).text


async def test_an_edited_site_toml_is_served_without_a_restart(site_dir: Path, make_client: ClientFactory) -> None:
    client = await make_client(reload_interval=0.05)
    site = site_dir / "site.toml"
    site.write_text(site.read_text().replace('phone = "(815) 555-0167"', 'phone = "(815) 555-0199"'))

    async def served() -> bool:
        return "(815) 555-0199" in (await client.get("/intrathecal-pump-therapy/cary-il/")).text

    await until(served)


async def test_an_invalid_edit_keeps_the_old_pages_and_logs_why(
    site_dir: Path, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(reload_interval=0.05)
    before = (await client.get("/intrathecal-pump-therapy/cary-il/")).text
    with (site_dir / "locations.csv").open("a", encoding="utf-8") as csv:
        csv.write("Nowhere,XX,,,,,,,,,,\n")

    async def reported() -> bool:
        return bool((await client.get("/healthz")).json()["reload_error"])

    with caplog.at_level(logging.ERROR, logger="landing.reload"):
        await until(reported)
    # The same page, but for the form's token, which is issued afresh (to the second) for each visitor.
    assert without_token((await client.get("/intrathecal-pump-therapy/cary-il/")).text) == without_token(before)
    assert any("locations.csv:12: column 'state': 'XX' is not a US state" in record.getMessage() for record in caplog.records)
    assert any("still serving the previous version" in record.getMessage() for record in caplog.records)


async def test_fixing_the_edit_recovers(site_dir: Path, make_client: ClientFactory) -> None:
    client = await make_client(reload_interval=0.05)
    csv = site_dir / "locations.csv"
    good = csv.read_text()
    csv.write_text(good + "Nowhere,XX,,,,,,,,,,\n")

    async def broken() -> bool:
        return bool((await client.get("/healthz")).json()["reload_error"])

    await until(broken)
    csv.write_text(good + "Fox River Grove,IL,McHenry County,60021,42.2009,-88.2145,,,,,,\n")

    async def served() -> bool:
        return await status(client, NEW_TOWN) == 200 and not (await client.get("/healthz")).json()["reload_error"]

    await until(served)


async def test_a_template_edit_is_served_without_a_restart(site_dir: Path, make_client: ClientFactory) -> None:
    client = await make_client(reload_interval=0.05)
    template = site_dir / "templates" / "treatments" / "nerve-blocks.html"
    # In the summary block: the part of the article town pages show.
    template.write_text(template.read_text().replace("{% endblock %}", "<p>Now with weekend appointments.</p>{% endblock %}"))

    async def served() -> bool:
        return "Now with weekend appointments." in (await client.get("/nerve-blocks/cary-il/")).text

    await until(served)


LAST_TOWN = "/intrathecal-pump-therapy/st-charles-il/"
FOX_RIVER_GROVE = "Fox River Grove,IL,McHenry County,60021,42.2009,-88.2145,,,,,,\n"


async def write_in_place_with_a_pause(csv: Path, text: str, rows_before_pause: int, pause: float) -> None:
    """What an editor that writes in place does: the file emptied, then written, with a stop at a row boundary."""
    lines = text.splitlines(keepends=True)
    with csv.open("w", encoding="utf-8") as file:
        file.write("".join(lines[:1 + rows_before_pause]))
        file.flush()
        await asyncio.sleep(pause)
        file.write("".join(lines[1 + rows_before_pause:]))


async def statuses_while(client: httpx.AsyncClient, path: str, writing: asyncio.Task[None]) -> set[int]:
    """Every status ``path`` answered while the file was being written, and then until the new town is served."""
    statuses = set()
    while not writing.done() or await status(client, NEW_TOWN) != 200:
        statuses.add(await status(client, path))
        await asyncio.sleep(0.02)
    return statuses


async def test_a_file_written_in_place_with_a_long_pause_at_a_row_boundary_never_takes_pages_down(
    site_dir: Path, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="landing.reload")
    client = await make_client(reload_interval=0.05, reload_settle_seconds=0.2)
    csv = site_dir / "locations.csv"
    # Paused for longer than the settle time: the four-town file is stable long enough to be read, and valid.
    writing = asyncio.create_task(write_in_place_with_a_pause(csv, csv.read_text() + FOX_RIVER_GROVE, 4, pause=1.5))
    assert await asyncio.wait_for(statuses_while(client, LAST_TOWN, writing), 30) == {200}
    refused = [r.getMessage() for r in caplog.records if "would remove" in r.getMessage()]
    assert refused and "would remove 11 of the 18 town pages (61%; LANDING_RELOAD_MAX_DROP is 25%)" in refused[0]
    assert "run `landing confirm` in the site folder" in refused[0]


async def test_a_pause_shorter_than_the_settle_time_is_simply_waited_out(
    site_dir: Path, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="landing.reload")
    client = await make_client(reload_interval=0.05, reload_settle_seconds=1.0)
    csv = site_dir / "locations.csv"
    writing = asyncio.create_task(write_in_place_with_a_pause(csv, csv.read_text() + FOX_RIVER_GROVE, 4, pause=0.4))
    assert await asyncio.wait_for(statuses_while(client, LAST_TOWN, writing), 30) == {200}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # the half-file was never even read


async def test_a_deliberate_large_removal_waits_for_landing_confirm_and_its_404s_are_not_cached(
    site_dir: Path, make_client: ClientFactory
) -> None:
    import subprocess
    import sys

    from tests.servers import landing_environment

    client = await make_client(reload_interval=0.05, reload_settle_seconds=0.05)
    csv = site_dir / "locations.csv"
    kept = csv.read_text().splitlines(keepends=True)[:4]  # the header and three towns
    replacement = csv.with_name("locations.new")
    replacement.write_text("".join(kept), encoding="utf-8")
    replacement.replace(csv)  # written whole, then renamed: a finished file, and meant

    async def refused() -> bool:
        return bool((await client.get("/healthz")).json()["reload_error"])

    await until(refused)
    assert await status(client, LAST_TOWN) == 200
    confirmed = subprocess.run([sys.executable, "-m", "landing", "confirm"], cwd=site_dir, env=landing_environment(),
                               capture_output=True, text=True, timeout=60)
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.startswith("confirmed site version ")

    async def removed() -> bool:
        return await status(client, LAST_TOWN) == 404

    await until(removed)
    assert not (await client.get("/healthz")).json()["reload_error"]
    gone = await client.get(LAST_TOWN)
    assert gone.headers["cache-control"] == "no-store" and gone.headers["x-robots-tag"] == "noindex"
    never = await client.get("/intrathecal-pump-therapy/nowhere-il/")
    assert never.status_code == 404 and never.headers["cache-control"] == "public, max-age=60"


async def test_a_small_removal_is_served_and_its_404s_stay_uncached_even_past_the_suggestion_budget(
    site_dir: Path, make_client: ClientFactory
) -> None:
    client = await make_client(reload_interval=0.05, reload_settle_seconds=0.05)
    csv = site_dir / "locations.csv"
    csv.write_text("".join(line for line in csv.read_text().splitlines(keepends=True) if not line.startswith("Cary,")))
    cary = "/intrathecal-pump-therapy/cary-il/"

    async def removed() -> bool:
        return await status(client, cary) == 404

    await until(removed)
    answers = await asyncio.gather(*(client.get(cary) for _ in range(30)))  # past 20 a second: the prepared 404
    assert {answer.status_code for answer in answers} == {404}
    assert {answer.headers["cache-control"] for answer in answers} == {"no-store"}
