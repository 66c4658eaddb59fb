"""Live reload: a marketer's edit goes live without a restart; a broken edit takes nothing down."""

from __future__ import annotations

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
