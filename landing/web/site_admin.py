"""The staff area's towns under /admin/site/ (marketers and admins): upload locations.csv or a workbook, read
its problems or its preview, publish it, see the history, download any version, roll back.

Every check is landing.check's (through landing.publish); nothing is public until Publish.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from landing import publish
from landing.admin import roles
from landing.errors import ConfigError, LandingError
from landing.leads.model import Session
from landing.leads.site_versions import Draft, SiteVersion
from landing.web.admin import admin_headers, allow, plain_text, render, store
from landing.web.leads import site
from landing.web.live import LiveSite
from landing.web.published import Follower

MAX_VERSIONS_SHOWN = 200


def follower(request: Request) -> Follower:
    return request.state.published  # type: ignore[no-any-return]


def current_text(request: Request) -> str:
    """The towns served now, as CSV text (the published version's, or the file on disk's)."""
    return site(request).settings.locations_file.read_text(encoding="utf-8-sig")


async def site_page(request: Request, session: Session, form: dict[str, str]) -> Response:
    return await overview(request, session)


async def overview(request: Request, session: Session, problems: list[publish.Problem] | None = None,
                   upload_name: str = "", status: int = 200) -> Response:
    live = site(request)
    version = await store(request).site_version(live.published) if live.published else None
    return render(request, "admin/site.html", "Towns", session, status=status, version=version,
                  disk=live.settings.locations_file.name if version is None else "",
                  towns=len(live.current.catalog.locations), pages=len(live.current.catalog.pages),
                  problems=problems or [], upload_name=upload_name, max_mib=publish.MAX_UPLOAD // 2**20)


async def upload(request: Request, session: Session, form: dict[str, str]) -> Response:
    upload_file = (await request.form()).get("towns")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        return await overview(request, session, [publish.Problem("", None, "", "Choose a file (locations.csv or an "
                                                                               "Excel workbook) to upload.")],
                              status=422)
    name = publish.safe_name(upload_file.filename)
    data = await upload_file.read(publish.MAX_UPLOAD + 1)
    try:
        text = await asyncio.to_thread(publish.upload_text, name, data)
        # Checked now: every problem at once, with the site files served now.
        await follower(request).catch_up()
        live = site(request)
        with publish.staged_for(text, name) as staged:  # checked and compared (kept for the preview page)
            await asyncio.to_thread(publish.preview, live.settings, live.settings.replace(locations_file=staged))
    except ConfigError as exc:
        return await overview(request, session, publish.problems_of(exc), upload_name=name, status=422)
    draft = await store(request).add_draft(text, session.email, f"{name} uploaded", site(request).published)
    return RedirectResponse(f"/admin/site/drafts/{draft.id}", status_code=303, headers=admin_headers(request))


async def own_draft(request: Request, session: Session) -> Draft | None:
    draft_id = request.path_params["draft_id"]
    return await store(request).get_draft(draft_id) if plain_text(draft_id, 100) else None


def no_draft(request: Request, session: Session) -> Response:
    return render(request, "admin/message.html", "No such draft", session, status=404,
                  message="This draft does not exist: it was published, discarded, or is older than two days. "
                          "Upload the file again from the Towns page.")


async def draft_page(request: Request, session: Session, form: dict[str, str]) -> Response:
    draft = await own_draft(request, session)
    if draft is None:
        return no_draft(request, session)
    await follower(request).catch_up()
    live = site(request)
    try:
        with publish.staged_for(draft.locations, draft.source.removesuffix(" uploaded")) as staged:
            found = await asyncio.to_thread(publish.preview, live.settings, live.settings.replace(locations_file=staged))
    except ConfigError as exc:  # site.toml or a template changed since the upload: the draft no longer loads
        return await overview(request, session, publish.problems_of(exc),
                              upload_name=draft.source.removesuffix(" uploaded"), status=422)
    return render(request, "admin/site_draft.html", "Preview", session, draft=draft, preview=found,
                  base=live.published, before_name=before_name(live.published))


def before_name(published: int) -> str:
    return f"published version {published}" if published else "the file on disk"


async def summary_of(live: LiveSite, locations: str) -> str:
    """What publishing ``locations`` would change, checked against the site served now; a ConfigError when the
    towns do not load (a publish and a roll back refuse alike)."""
    try:
        with publish.staged_for(locations) as staged:
            return await asyncio.to_thread(publish.summarize, live.settings, live.settings.replace(locations_file=staged))
    except ConfigError:
        raise
    except LandingError as exc:  # towns that cannot be read at all: shown like any other problem
        raise ConfigError([str(exc)]) from exc


async def publish_draft(request: Request, session: Session, form: dict[str, str]) -> Response:
    draft = await own_draft(request, session)
    if draft is None:
        return no_draft(request, session)
    leads = store(request)
    await follower(request).catch_up()
    live = site(request)
    try:
        summary = await summary_of(live, draft.locations)
    except ConfigError as exc:
        return await overview(request, session, publish.problems_of(exc), draft.source, status=422)
    base = form.get("base", "")
    # The version the preview was compared with: publishing is refused if another was published since.
    number = await leads.publish_version(draft.locations, session.email, summary, draft.source,
                                         base=int(base) if base.isdigit() and len(base) < 10 else -1)
    if number is None:
        return render(request, "admin/message.html", "Not published", session, status=409,
                      message="Another version of the towns was published after this preview was made, so it no "
                              "longer shows what publishing would change. Open the preview again: it compares with "
                              "the newest version.")
    await leads.audit(session.email, "publish towns", f"version {number}: {summary} ({draft.source})")
    await leads.delete_draft(draft.id)
    await follower(request).catch_up()
    return RedirectResponse(f"/admin/site/history?published={number}", status_code=303, headers=admin_headers(request))


async def add_alias(request: Request, session: Session, form: dict[str, str]) -> Response:
    """One click: the old slug of a town becomes its alias (its old pages answer 301), as a new draft."""
    draft = await own_draft(request, session)
    if draft is None:
        return no_draft(request, session)
    line, alias = form.get("line", ""), form.get("alias", "").strip()
    if not (line.isascii() and line.isdigit() and plain_text(alias, 200) and alias):
        return render(request, "admin/message.html", "Not changed", session, status=422,
                      message="That alias could not be added. Go back to the preview and use its button.")
    try:
        text = publish.add_alias(draft.locations, int(line), alias)
    except LandingError as exc:
        return render(request, "admin/message.html", "Not changed", session, status=422, message=f"{exc}.")
    leads = store(request)
    changed = await leads.add_draft(text, session.email, draft.source, draft.base)
    await leads.delete_draft(draft.id)
    return RedirectResponse(f"/admin/site/drafts/{changed.id}", status_code=303, headers=admin_headers(request))


async def discard_draft(request: Request, session: Session, form: dict[str, str]) -> Response:
    draft = await own_draft(request, session)
    if draft is not None:
        await store(request).delete_draft(draft.id)
    return RedirectResponse("/admin/site/", status_code=303, headers=admin_headers(request))


async def history(request: Request, session: Session, form: dict[str, str]) -> Response:
    versions = await store(request).site_versions(MAX_VERSIONS_SHOWN)
    published = request.query_params.get("published", "")
    return render(request, "admin/site_history.html", "Published versions", session, versions=versions,
                  disk=follower(request).disk_file.name,
                  served=site(request).published, just=int(published) if published.isdigit() and len(published) < 10
                  else None)


async def numbered_version(request: Request) -> SiteVersion | None:
    """The version the path names; 0 is the file on disk, the towns before the first publish."""
    number = request.path_params["number"]
    if not (number.isascii() and number.isdigit() and len(number) < 10):
        return None
    if int(number) == 0:
        path = follower(request).disk_file
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
        except OSError:
            return None
        return SiteVersion(0, "", "", "", f"{path.name} on the server", text)
    return await store(request).site_version(int(number))


async def download_version(request: Request, session: Session, form: dict[str, str]) -> Response:
    version = await numbered_version(request)
    if version is None:
        return Response("No such version of the towns.\n", status_code=404, media_type="text/plain; charset=utf-8",
                        headers=admin_headers(request))
    return csv_download(request, version.locations, f"locations-v{version.number}.csv")


async def download_current(request: Request, session: Session, form: dict[str, str]) -> Response:
    number = site(request).published
    return csv_download(request, current_text(request), f"locations-v{number}.csv" if number else "locations.csv")


def csv_download(request: Request, text: str, filename: str) -> Response:
    # With a BOM, so that Excel reads the accents (the loader takes files with or without one).
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers={
        **admin_headers(request), "content-disposition": f'attachment; filename="{filename}"'})


async def roll_back(request: Request, session: Session, form: dict[str, str]) -> Response:
    leads = store(request)
    version = await numbered_version(request)
    if version is None:
        return render(request, "admin/message.html", "No such version", session, status=404,
                      message="That version does not exist. Choose one from the history.")
    await follower(request).catch_up()
    live = site(request)
    try:
        summary = await summary_of(live, version.locations)
    except ConfigError as exc:
        return await overview(request, session, publish.problems_of(exc), f"version {version.number}", status=422)
    source = f"roll back to version {version.number}" + (f" ({version.source})" if version.number == 0 else "")
    published = await leads.publish_version(version.locations, session.email, summary, source, base=live.published)
    if published is None:
        return render(request, "admin/message.html", "Not rolled back", session, status=409,
                      message="Another version was published meanwhile. Look at the history again and choose.")
    await leads.audit(session.email, "roll back towns", f"version {published} = version {version.number}: {summary}")
    await follower(request).catch_up()
    return RedirectResponse(f"/admin/site/history?published={published}", status_code=303,
                            headers=admin_headers(request))


def routes() -> list[BaseRoute]:
    towns = allow(*roles.SITE)
    files = allow(*roles.SITE, download=True)
    return [
        Route("/admin/site/", towns(site_page), name="site_page"),
        Route("/admin/site/upload", allow(*roles.SITE, upload=publish.MAX_UPLOAD)(upload), methods=["POST"],
              name="upload_towns"),
        Route("/admin/site/drafts/{draft_id}", towns(draft_page), name="draft_page"),
        Route("/admin/site/drafts/{draft_id}/publish", towns(publish_draft), methods=["POST"], name="publish_draft"),
        Route("/admin/site/drafts/{draft_id}/alias", towns(add_alias), methods=["POST"], name="add_alias"),
        Route("/admin/site/drafts/{draft_id}/discard", towns(discard_draft), methods=["POST"], name="discard_draft"),
        Route("/admin/site/history", towns(history), name="site_history"),
        Route("/admin/site/locations.csv", files(download_current), name="download_towns"),
        Route("/admin/site/versions/{number}.csv", files(download_version), name="download_version"),
        Route("/admin/site/versions/{number}/rollback", towns(roll_back), methods=["POST"], name="roll_back"),
    ]

