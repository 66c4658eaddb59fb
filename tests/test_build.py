"""`landing build`: the site as static files, and the service accepting their forms."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from landing import build
from landing.build import build_site
from landing.cli import main
from landing.leads.guard import FormTokens, TokenVerdict
from landing.settings import Settings
from tests.html import Page
from tests.leads_helpers import SECRET, rows, valid_form

LEAD_URL = "https://service.example.com/leads"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "public"


@pytest.fixture
def static_settings(settings: Settings) -> Settings:
    return settings.replace(lead_url=LEAD_URL)


def files_in(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_build_writes_every_page_hub_home_404_sitemap_robots_and_asset(static_settings: Settings, out: Path) -> None:
    result = build_site(static_settings, out)
    files = files_in(out)
    pages = {name for name in files if name.count("/") == 2 and "illinois" not in name}  # not the moved-page stubs
    assert len(pages) == 18 and "intrathecal-pump-therapy/barrington-il/index.html" in pages
    assert {"index.html", "404.html", "sitemap.xml", "robots.txt", "intrathecal-pump-therapy/index.html",
            "nerve-blocks/index.html", ".landing-build.json"} <= files
    assert any(re.fullmatch(r"static/site\.[0-9a-f]{10}\.css", name) for name in files)
    assert (result.pages, result.written, result.unchanged, result.removed) == (18, len(files) - 1, 0, 0)
    assert "Sitemap: https://pain.example.com/sitemap.xml" in (out / "robots.txt").read_text()
    assert (out / "sitemap.xml").read_text().count("<url>") == 21
    assert Page((out / "404.html").read_text()).meta("robots") == "noindex, follow"


async def test_a_built_page_is_the_service_page_with_its_form_posting_to_the_lead_url(
        static_settings: Settings, out: Path, client: httpx.AsyncClient) -> None:
    build_site(static_settings, out)
    path = "/intrathecal-pump-therapy/cary-il/"
    built = (out / path.strip("/") / "index.html").read_text()
    served = (await client.get(path)).text
    assert f'<form method="post" action="{LEAD_URL}#enquire"' in built
    token = re.compile(r'<input type="hidden" name="form_token" value="([^"]+)">')
    assert token.search(built).group(1).startswith("build.")  # type: ignore[union-attr]
    counter = f'<img src="/v{path}" alt="" width="1" height="1" hidden>\n'  # counts its views: test_pageviews.py
    assert built.count(counter) == 1
    same = token.sub("TOKEN", built).replace(LEAD_URL, "/leads").replace(counter, "")
    assert same == token.sub("TOKEN", served)


def test_a_rebuild_writes_only_what_changed_and_removes_what_is_gone(static_settings: Settings, out: Path,
                                                                    site_dir: Path) -> None:
    build_site(static_settings, out)
    (out / "notes.txt").write_text("not the build's")  # the host's own file
    before = {name: (out / name).stat().st_mtime_ns for name in files_in(out)}
    again = build_site(static_settings, out)
    assert (again.written, again.removed) == (0, 0) and again.unchanged == again.files
    csv = site_dir / "locations.csv"
    csv.write_text(csv.read_text().replace("Barrington has its own office on the test road.", "A new intro."))
    changed = build_site(static_settings, out)
    after = {name: (out / name).stat().st_mtime_ns for name in files_in(out)}
    rewritten = {name for name in after if after[name] != before[name]} - {".landing-build.json"}
    assert rewritten == {"intrathecal-pump-therapy/barrington-il/index.html", "nerve-blocks/barrington-il/index.html"}
    assert changed.written == 2
    csv.write_text(csv.read_text().replace("Elgin,IL,Kane County,60120,42.0354,-88.2826,,,,,,\n", ""))
    assert build_site(static_settings, out).removed == 2
    assert not (out / "intrathecal-pump-therapy/elgin-il").exists()
    assert (out / "notes.txt").read_text() == "not the build's"


def test_files_are_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "index.html"
    build.write_atomically(page, b"<p>old page</p>")

    def crash(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(build.os, "replace", crash)
    with pytest.raises(OSError):
        build.write_atomically(page, b"<p>new page, never seen half-written</p>")
    assert page.read_bytes() == b"<p>old page</p>"
    assert [path.name for path in tmp_path.iterdir()] == ["index.html"]  # no temporary file left behind


def test_build_refuses_a_folder_it_did_not_make(static_settings: Settings, out: Path) -> None:
    out.mkdir()
    (out / "index.html").write_text("someone else's site")
    with pytest.raises(Exception, match="is not empty and holds no .landing-build.json"):
        build_site(static_settings, out)
    assert (out / "index.html").read_text() == "someone else's site"


def test_a_towns_former_slug_leads_to_its_page_on_a_static_host(static_settings: Settings, out: Path) -> None:
    build_site(static_settings, out)
    moved = Page((out / "intrathecal-pump-therapy/crystal-lake-illinois/index.html").read_text())
    target = "https://pain.example.com/intrathecal-pump-therapy/crystal-lake-il/"
    assert moved.all("link", rel="canonical") == [{"rel": "canonical", "href": target}]
    assert moved.meta("robots") == "noindex, follow" and moved.links() == [target]


def test_pages_the_gate_holds_back_are_noindex_in_the_build_and_not_in_its_sitemap(
        static_settings: Settings, out: Path, site_dir: Path) -> None:
    site = site_dir / "site.toml"
    site.write_text(site.read_text() + "\n[quality]\ngate = 0.7\n")  # between the test site's pages (0.52-0.74)
    result = build_site(static_settings, out)
    sitemap = (out / "sitemap.xml").read_text()
    held = [name for name in files_in(out) if name.count("/") == 2 and "illinois" not in name  # not the moved stubs
            and Page((out / name).read_text()).meta("robots") == "noindex, follow"]
    assert held and len(held) == result.held_back
    for name in held:
        assert f"/{name.removesuffix('index.html')}<" not in sitemap


def test_the_lead_url_must_be_absolute(settings: Settings, out: Path) -> None:
    with pytest.raises(Exception, match=r"LANDING_LEAD_URL='/leads' must be an absolute address .*https://"):
        build_site(settings.replace(lead_url="/leads"), out)


def test_without_a_lead_url_forms_post_to_the_base_urls_leads(settings: Settings, out: Path) -> None:
    assert build_site(settings, out).lead_url == "https://pain.example.com/leads"


def test_landing_build_shows_a_summary_and_quiet_shows_nothing(in_site: Path, out: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANDING_SECRET_KEY", SECRET)
    assert main(["build", str(out)]) == 0
    printed = capsys.readouterr()
    assert re.fullmatch(r"built 18 pages \(\d+ files, [\d.]+ MB\) into \S+ in [\d.]+ s \([\d,]+ pages/s\): \d+ written, "
                        r"0 unchanged, 0 removed; forms post to https://pain.example.com/leads\n", printed.out)
    assert main(["build", str(out), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_building_without_the_services_secret_warns(in_site: Path, out: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(out), "--quiet"]) == 0
    assert "warning: LANDING_SECRET_KEY is not set" in capsys.readouterr().err


# -- the service and the static pages' forms ---------------------------------------------------------------


def test_a_static_forms_token_is_accepted_at_once_until_it_expires() -> None:
    tokens = FormTokens(SECRET)
    built = time.time()
    token = tokens.issue_build(30, now=built).decode()
    assert tokens.verify(token, now=built) is TokenVerdict.OK  # no 3-second wait: the page was built, not served
    assert tokens.verify(token, now=built + 30 * 86400) is TokenVerdict.OK
    assert tokens.verify(token, now=built + 38 * 86400) is TokenVerdict.BUILD_EXPIRED
    assert FormTokens("another-secret").verify(token) is TokenVerdict.FORGED
    assert tokens.verify("build.99999999999.forged") is TokenVerdict.FORGED


def test_rebuilds_in_the_same_week_carry_the_same_token() -> None:
    tokens = FormTokens(SECRET)
    week = 7 * 86400
    start = 1_800_000_000 - 1_800_000_000 % week - 30 * 86400  # a build then is valid to a week's end exactly
    assert tokens.issue_build(30, now=start + 60) == tokens.issue_build(30, now=start + 6 * 86400)
    assert tokens.issue_build(30, now=start + 60) != tokens.issue_build(30, now=start + week + 60)


def stored(site_dir: Path) -> list[dict[str, object]]:
    return rows(site_dir / "leads.sqlite3")


async def test_the_service_takes_a_lead_from_a_static_page(static_settings: Settings, out: Path,
                                                           client: httpx.AsyncClient, site_dir: Path) -> None:
    build_site(static_settings, out)
    html = (out / "intrathecal-pump-therapy/cary-il/index.html").read_text()
    token = re.search(r'name="form_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    response = await client.post("/leads", data=valid_form(form_token=token),
                                 headers={"origin": "https://static.example.com"})
    assert response.status_code == 303 and response.headers["location"] == "/thank-you/?office=crystal-lake"
    (lead,) = stored(site_dir)
    assert lead["spam"] == 0


async def test_a_static_page_past_its_expiry_asks_to_send_again(client: httpx.AsyncClient, site_dir: Path) -> None:
    old = FormTokens(SECRET).issue_build(1, now=time.time() - 30 * 86400).decode()
    response = await client.post("/leads", data=valid_form(form_token=old))
    assert response.status_code == 422
    assert "This copy of the page is out of date" in response.text
    assert re.search(r'name="form_token" value="(?!build\.)', response.text)  # the page shown again is the service's
    assert stored(site_dir) == []


async def test_a_bot_filling_the_honeypot_on_a_static_page_is_still_flagged(static_settings: Settings, out: Path,
                                                                            client: httpx.AsyncClient,
                                                                            site_dir: Path) -> None:
    build_site(static_settings, out)
    html = (out / "nerve-blocks/cary-il/index.html").read_text()
    token = re.search(r'name="form_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    response = await client.post("/leads", data=valid_form(form_token=token, website="http://spam.example"))
    assert response.status_code == 303
    (lead,) = stored(site_dir)
    assert lead["spam"] == 1 and lead["spam_reason"] == "honeypot filled"


def test_the_build_record_lists_pages_towns_and_files(static_settings: Settings, out: Path) -> None:
    build_site(static_settings, out)
    record = json.loads((out / ".landing-build.json").read_text())
    assert record["pages"]["/intrathecal-pump-therapy/barrington-il/"]["intro"] == "Barrington has its own office on the test road."
    assert record["towns"]["crystal lake|IL"] == {"place": "Crystal Lake, IL", "slug": "crystal-lake-il",
                                                  "aliases": ["crystal-lake-illinois"]}
    assert "internal note" not in (out / ".landing-build.json").read_text()  # notes are never published


def test_a_rebuild_renders_only_pages_whose_inputs_changed(static_settings: Settings, out: Path, site_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from landing.pages import Renderer

    build_site(static_settings, out)
    rendered: list[str] = []
    real = Renderer.render_path

    def counting(self: Renderer, path: str) -> str:
        rendered.append(path)
        return real(self, path)

    monkeypatch.setattr(Renderer, "render_path", counting)
    build_site(static_settings, out)
    assert [path for path in rendered if path.count("/") == 3] == []  # hubs and home are always rendered
    template = site_dir / "templates" / "treatments" / "nerve-blocks.html"
    # Inside the summary block, which town pages show (the rest of the article is on the treatment's page).
    template.write_text(template.read_text().replace("{% endblock %}", "<p>Now with parking details.</p>{% endblock %}"))
    result = build_site(static_settings, out)
    # Every nerve-blocks page (they carry the whole article): a template is an input of all its pages.
    assert result.written == 9
    assert "Now with parking details." in (out / "nerve-blocks/cary-il/index.html").read_text()


def test_a_build_in_worker_processes_writes_the_same_bytes_as_one_process(
        static_settings: Settings, tmp_path: Path, site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "PARALLEL_FROM", 1)  # workers even for the test site's few pages
    monkeypatch.setattr(build, "CHUNK", 3)
    now = time.time()
    one = build_site(static_settings, tmp_path / "one", now=now, jobs=1)
    several = build_site(static_settings, tmp_path / "several", now=now, jobs=3)
    names = files_in(tmp_path / "one")
    assert names == files_in(tmp_path / "several") and len(names) > 20
    for name in names - {build.MANIFEST}:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "several" / name).read_bytes(), name
    records = [json.loads((tmp_path / folder / build.MANIFEST).read_text()) for folder in ("one", "several")]
    assert [{**record, "files": sorted(record["files"])} for record in records][0] == \
        [{**record, "files": sorted(record["files"])} for record in records][1]
    assert (one.written, one.files, one.size) == (several.written, several.files, several.size)
    # A rebuild by workers writes only what changed, as one process does.
    csv_file = site_dir / "locations.csv"
    csv_file.write_text(csv_file.read_text().replace("Barrington has its own office", "Barrington has an office"))
    again = build_site(static_settings, tmp_path / "several", now=now, jobs=3)
    assert 0 < again.written < again.files // 2 and again.unchanged == again.files - again.written


def test_check_diff_reads_a_build_record_of_the_previous_release(static_settings: Settings, out: Path,
                                                                  site_dir: Path) -> None:
    from landing.catalog import load_catalog
    from landing.check import diff_site
    from landing.snapshot import source_files

    build_site(static_settings, out)
    # What the previous release recorded: version 1, each page listing its county's towns in full.
    catalog = load_catalog(source_files(static_settings), static_settings.base_url)
    record = json.loads((out / build.MANIFEST).read_text())
    record["version"] = 1
    for path, facts in record["pages"].items():
        facts["county_towns"] = [[other.path, other.location.town]
                                 for other in catalog.county_pages(catalog.pages[path])]
    (out / build.MANIFEST).write_text(json.dumps(record))
    csv_file = site_dir / "locations.csv"
    csv_file.write_text(csv_file.read_text().replace("Barrington has its own office", "Barrington has an office"))
    diff = diff_site(static_settings, out)
    assert diff.changed == (("/intrathecal-pump-therapy/barrington-il/", ("intro",)),
                            ("/nerve-blocks/barrington-il/", ("intro",)))
    assert not diff.added and not diff.removed and not diff.moves and not diff.site_changed
    # A town moved to another county changes the list of towns on its county's pages, as before.
    csv_file.write_text(csv_file.read_text().replace("Cary,IL,McHenry County", "Cary,IL,Lake County"))
    changed = dict(diff_site(static_settings, out).changed)
    assert "towns of the county" in changed["/intrathecal-pump-therapy/cary-il/"]


def test_a_town_moving_county_rebuilds_the_pages_that_list_its_old_and_new_county(
        static_settings: Settings, out: Path, site_dir: Path) -> None:
    build_site(static_settings, out)
    pages = {name: out / name / "index.html" for name in (
        "nerve-blocks/crystal-lake-il", "nerve-blocks/wauconda-il", "intrathecal-pump-therapy/crystal-lake-il")}
    before = {name: (path.read_text(), path.stat().st_mtime_ns) for name, path in pages.items()}
    csv_file = site_dir / "locations.csv"
    # Woodstock offers nerve blocks only: the other treatment's county lists do not name it.
    csv_file.write_text(csv_file.read_text().replace("Woodstock,IL,McHenry County", "Woodstock,IL,Lake County"))
    build_site(static_settings, out)
    after = {name: (path.read_text(), path.stat().st_mtime_ns) for name, path in pages.items()}
    assert "We serve 4 towns in McHenry County" in before["nerve-blocks/crystal-lake-il"][0]
    assert "We serve 3 towns in McHenry County" in after["nerve-blocks/crystal-lake-il"][0]
    assert "We serve 3 towns in Lake County" in after["nerve-blocks/wauconda-il"][0]
    assert after["intrathecal-pump-therapy/crystal-lake-il"] == before["intrathecal-pump-therapy/crystal-lake-il"]
