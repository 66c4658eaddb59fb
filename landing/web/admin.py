"""The staff area under /admin/: sign-in, the leads list, a lead, status changes, export, audit log.

Every response is private (no-store, noindex, never framed, a CSP without inline code); every page but
the sign-in form needs a session; every form carries a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

import anyio
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from landing import clock
from landing.admin import auth, roles
from landing.admin.chart import weekly_chart
from landing.catalog import Catalog
from landing.coverage import coverage_svg
from landing.leads.form import first_values
from landing.leads.model import (
    STATUSES,
    AuditEntry,
    Lead,
    LeadEvent,
    LeadFilter,
    Session,
)
from landing.leads import consent, duplicates, speed
from landing.leads.query import filter_detail, filter_query, parse_filter, shown
from landing.leads.store import LeadStore
from landing.web.leads import Unreadable, client_address, desk, form_pairs, site

PAGE_SIZE = 50
ADMIN_HEADERS = {
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


def admin_headers(request: Request) -> dict[str, str]:
    headers = dict(ADMIN_HEADERS)
    if secure(request):
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return headers


def secure(request: Request) -> bool:
    return site(request).current.catalog.base_url.startswith("https://")


def store(request: Request) -> LeadStore:
    return desk(request).store


def cookies(request: Request) -> auth.Cookies:
    return auth.Cookies(desk(request).secret)


@dataclass
class AdminPage:
    """What every staff template gets."""

    title: str
    staff: Session | None
    catalog: Catalog
    assets: Any
    values: dict[str, Any] = field(default_factory=dict)

    def local(self, stamp: str, seconds: bool = False, label: bool = False) -> str:
        """A stored UTC time as the practice reads it, in its time zone (``label``: with CST, CDT...)."""
        return clock.local_text(stamp, self.catalog.site.practice.zone, seconds, label)

    @staticmethod
    def machine(stamp: str) -> str:
        """A stored time as HTML's datetime attribute takes it: UTC to the second (it refuses microseconds)."""
        try:
            return clock.parse_utc(stamp).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return ""

    @property
    def zone(self) -> str:
        """The practice's time zone, for column headings: America/Chicago."""
        return self.catalog.site.practice.timezone

    def treatment_name(self, slug: str) -> str:
        treatment = self.catalog.site.treatments_by_slug.get(slug)
        return treatment.name if treatment else slug

    def office_name(self, office_id: str) -> str:
        office = self.catalog.site.offices_by_id.get(office_id)
        return office.name if office else office_id

    @property
    def nav(self) -> list[tuple[str, str]]:
        return nav(self.staff)


def render(request: Request, template: str, title: str, staff: Session | None, status: int = 200,
           **values: Any) -> HTMLResponse:
    snapshot = site(request).current
    page = AdminPage(title=title, staff=staff, catalog=snapshot.catalog, assets=snapshot.renderer.assets, values=values)
    html = snapshot.renderer.env.get_template(template).render(page=page, **values)
    return HTMLResponse(html, status_code=status, headers=admin_headers(request))


async def read_admin_form(request: Request) -> dict[str, str] | None:
    """A staff form's fields (the first value of each), or None when it cannot be read."""
    pairs = await form_pairs(request)
    return None if isinstance(pairs, Unreadable) else first_values(pairs)


async def read_upload_form(request: Request, limit: int) -> dict[str, str] | None:
    """A multipart form's text fields (its files stay in ``request.form()``), or None when it is not one, or larger
    than ``limit`` and a little room for its other fields."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        return None
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit + 64 * 1024:
        return None
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception:  # noqa: BLE001 - a malformed body (starlette raises several kinds): not a form we can read
        return None
    return {name: value for name, value in form.items() if isinstance(value, str)}


async def current_staff(request: Request) -> Session | None:
    """The signed-in user's session, with their role and offices as they are now (a role change counts at once)."""
    session_id = cookies(request).session_id(request.cookies.get(auth.SESSION_COOKIE))
    if session_id is None:
        return None
    leads = store(request)
    session = await leads.get_session(session_id)
    if session is None:
        return None
    user = await leads.get_user(session.email)
    if auth.session_expired(session) or user is None or user.disabled:
        await leads.delete_session(session_id)
        return None
    if auth.needs_touch(session):
        await leads.touch_session(session_id)
    return replace(session, role=user.role, offices=user.offices)


Endpoint = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]
Guarded = Callable[[Request], Awaitable[Response]]


def allow(*allowed: str, download: bool = False, upload: int = 0) -> Callable[[Endpoint], Guarded]:
    """Only the roles ``allowed`` (landing/admin/roles.py): sign-in required (a redirect to it, or 401 for
    downloads), 403 for another role; POSTs need the session's CSRF token. Every staff route says its roles.
    ``upload``: the route takes a file of at most this many bytes (a multipart form; the endpoint reads the file
    with ``request.form()``, already parsed)."""
    assert allowed and set(allowed) <= set(roles.ROLES), allowed

    def guard(endpoint: Endpoint) -> Guarded:
        async def guarded(request: Request) -> Response:
            if not upload:
                return await checked(request)
            try:
                return await checked(request)
            finally:
                await request.close()  # an uploaded file's temporary copy, however the request ended

        async def checked(request: Request) -> Response:
            session = await current_staff(request)
            if session is None:
                if download:
                    return Response("Sign in to download this file.\n", status_code=401, media_type="text/plain",
                                    headers=admin_headers(request))
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/admin/login?next={quote(target)}", status_code=303,
                                        headers=admin_headers(request))
            if session.role not in allowed:
                return forbidden(request, session, download)
            form: dict[str, str] = {}
            declared = request.headers.get("content-length", "")
            if upload and declared.isdigit() and int(declared) > upload + 64 * 1024:
                return render(request, "admin/message.html", "File too large", session, status=413,
                              message=f"The file is larger than {upload // 2**20} MiB, the most that can be uploaded. "
                                      "Remove columns or rows it does not need (notes, worklist columns) and try "
                                      "again.")
            if request.method == "POST":
                posted = await (read_upload_form(request, upload) if upload else read_admin_form(request))
                if posted is None or not auth.csrf_matches(session, posted.get("csrf", "")):
                    return render(request, "admin/message.html", "Form expired", session, status=403,
                                  message="This form has expired or did not come from this site. Go back, reload the "
                                          "page and try again.")
                form = posted
            return await endpoint(request, session, form)

        return guarded

    return guard


def staff_only(endpoint: Endpoint, *, download: bool = False) -> Guarded:
    """The leads' roles (admin and staff): what every staff page allowed before roles."""
    return allow(*roles.LEADS, download=download)(endpoint)


def forbidden(request: Request, session: Session, download: bool = False) -> Response:
    text = (f"Your role ({session.role}) cannot open this page. If your work needs it, ask an administrator to "
            "change your role.")
    if download:
        return Response(text + "\n", status_code=403, media_type="text/plain; charset=utf-8",
                        headers=admin_headers(request))
    return render(request, "admin/message.html", "Not for your role", session, status=403, message=text)


def start_page(session: Session) -> str:
    """Where a user lands after signing in, or at /admin/: the first page of the navigation they may open."""
    return "/admin/leads" if session.role in roles.LEADS else "/admin/site/"


def nav(session: Session | None) -> list[tuple[str, str]]:
    """The navigation's links (label, path): only the pages the user's role may open."""
    if session is None:
        return []
    return [(label, path) for label, path, allowed in NAV if session.role in allowed]


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("Leads", "/admin/leads", roles.LEADS),
    ("Towns", "/admin/site/", roles.SITE),
    ("Coverage map", "/admin/coverage", roles.EVERYONE),
    ("Report", "/admin/report", (roles.ADMIN, roles.MARKETER)),  # landing/web/report.py: REPORT_ROLES
    ("Audit log", "/admin/audit", roles.LEADS),
]


# -- sign-in -----------------------------------------------------------------------------------------

def safe_next(target: str | None, default: str = "/admin/") -> str:
    """Only our own staff pages: never an open redirect to another site."""
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return default


def login_form(request: Request, error: str = "", status: int = 200, email: str = "") -> Response:
    cookie, token = cookies(request).login_value()
    response = render(request, "admin/login.html", "Staff sign-in", None, status=status, error=error, token=token,
                      email=email, next=safe_next(request.query_params.get("next"), ""))
    response.set_cookie(auth.LOGIN_COOKIE, cookie, max_age=3600, path="/admin/", httponly=True, samesite="strict",
                        secure=secure(request))
    return response


async def login_page(request: Request) -> Response:
    session = await current_staff(request)
    if session is not None:
        return RedirectResponse(safe_next(request.query_params.get("next"), start_page(session)), status_code=303,
                                headers=admin_headers(request))
    return login_form(request)


async def login(request: Request) -> Response:
    form = await read_admin_form(request)
    if form is None or not cookies(request).login_token_matches(request.cookies.get(auth.LOGIN_COOKIE), form.get("token", "")):
        return login_form(request, "The sign-in form expired. Please try again.", status=403)
    email = auth.normalize_email(form.get("email", ""))
    leads = store(request)
    keys = auth.sign_in_keys(desk(request).secret, email, client_address(request))
    # Counted before the password is checked: of a hundred tries at once, only five are checked.
    attempt = await auth.reserve_attempt(leads, keys)
    if attempt is None:
        return login_form(request, "Too many failed attempts. Please wait 15 minutes and try again, or ask a colleague "
                                   "to check your account.", status=429, email=email)
    user = await leads.get_user(email) if plain_text(email) else None
    if not await auth.check_password(user, form.get("password", "")):
        return login_form(request, "That email and password do not match an active account.", status=401, email=email)
    await auth.signed_in(leads, attempt, keys)
    old = cookies(request).session_id(request.cookies.get(auth.SESSION_COOKIE))
    if old:
        await leads.delete_session(old)  # a new id at every sign-in: a planted session id is worthless
    session = await leads.create_session(email)
    session = replace(session, role=user.role if user else session.role)
    response = RedirectResponse(safe_next(form.get("next"), start_page(session)), status_code=303,
                                headers=admin_headers(request))
    response.set_cookie(auth.SESSION_COOKIE, cookies(request).session_value(session.id), max_age=auth.IDLE_HOURS * 3600,
                        path="/", httponly=True, samesite="lax", secure=secure(request))
    response.delete_cookie(auth.LOGIN_COOKIE, path="/admin/")
    return response


async def logout(request: Request, session: Session, form: dict[str, str]) -> Response:
    await store(request).delete_session(session.id)
    response = RedirectResponse("/admin/login", status_code=303, headers=admin_headers(request))
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# -- leads -------------------------------------------------------------------------------------------

def plain_text(text: str, limit: int = 320) -> bool:
    """Text a person could have typed into a field: worth looking up (PostgreSQL refuses a NUL outright)."""
    return len(text) <= limit and not any(ord(char) < 32 or ord(char) == 127 for char in text)


def bad_filter(request: Request, session: Session, problems: list[str], download: bool = False) -> Response:
    """The answer to a list or an export asked for with filters that make no sense: 400, saying what to fix."""
    text = "These filters cannot be used: " + "; ".join(problems) + "."
    if download:
        return Response(text + "\n", status_code=400, media_type="text/plain; charset=utf-8",
                        headers=admin_headers(request))
    return render(request, "admin/message.html", "Filters not understood", session, status=400,
                  message=text + " Go back to the list and change them.")


async def home(request: Request, session: Session, form: dict[str, str]) -> Response:
    return RedirectResponse(start_page(session), status_code=303, headers=admin_headers(request))


async def leads_list(request: Request, session: Session, form: dict[str, str]) -> Response:
    lead_filter, problems = parse_filter(request.query_params)
    wanted = request.query_params.get("page", "").strip() or "1"
    if not (wanted.isascii() and wanted.isdigit()):  # no int(): it takes "١", "1_0" and 4,300 digits of work
        problems.append(f"page: '{shown(wanted)}' is not a page number (1, 2, ...)")
    if problems:
        return bad_filter(request, session, problems)
    lead_filter = scoped(lead_filter, session)
    leads = store(request)
    total = await leads.count_leads(lead_filter)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = min(max(1, int(wanted.lstrip("0")[:9] or "0")), pages)  # past the last page (a stale link): the last one
    rows = await leads.list_leads(lead_filter, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    catalog = site(request).current.catalog
    offices = [(office.id, office.name) for office in catalog.site.offices
               if roles.may_see_office(session.role, session.offices, office.id)]
    zone = catalog.site.practice.zone
    chart = weekly_chart(await leads.weekly_counts(lead_filter, zone), offices, only=lead_filter.office,
                         today=dt.datetime.now(zone).date(), since=lead_filter.since, until=lead_filter.until)
    query = filter_query(lead_filter)
    return render(request, "admin/leads.html", "Leads", session, leads=rows, total=total, page_number=number,
                  offices=offices, office_ids={office for office, _ in offices},
                  pages=pages, filter=lead_filter, query=query, chart=chart, statuses=STATUSES,
                  page_link=lambda n: "/admin/leads?" + urlencode({**query, "page": n}),
                  csv_link="/admin/leads.csv" + ("?" + urlencode(query) if query else ""),
                  conversions_since=(dt.datetime.now(zone).date() - dt.timedelta(days=30)).isoformat(),
                  waits=await speed.waits(leads, catalog.site, rows),
                  speed=await speed.speed_by_office(leads, catalog.site, lead_filter),
                  repeats=visible(await duplicates.repeats_of(leads, rows, catalog.site.leads.duplicate_days), session),
                  revoked=await consent.revoked_among(leads, [lead.id for lead in rows]),
                  town_name=town_namer(catalog))


def visible(repeats: dict[str, duplicates.Contact], session: Session) -> dict[str, duplicates.Contact]:
    """The repeats whose first lead is of an office the user may see (another office's lead is not named)."""
    return {lead_id: first for lead_id, first in repeats.items()
            if roles.may_see_office(session.role, session.offices, first.office)}


def scoped(lead_filter: LeadFilter, session: Session) -> LeadFilter:
    """A filter limited to the offices whose leads the user may see (the filters asked for still apply)."""
    return replace(lead_filter, offices=roles.lead_offices(session.role, session.offices))


def town_namer(catalog: Catalog) -> Callable[[Lead], str]:
    def name(lead: Lead) -> str:
        page = catalog.pages.get(f"/{lead.treatment}/{lead.town}/")
        return page.location.place if page else lead.town
    return name


async def lead_detail(request: Request, session: Session, form: dict[str, str]) -> Response:
    leads = store(request)
    lead_id = request.path_params["lead_id"]
    lead = await leads.get(lead_id) if plain_text(lead_id, 100) else None
    if lead is None or not roles.may_see_office(session.role, session.offices, lead.office):
        # Another office's lead answers as one that does not exist: its id tells nothing either.
        return render(request, "admin/message.html", "No such lead", session, status=404,
                      message="This lead does not exist, or was removed by a retention purge.")
    events: list[LeadEvent] = await leads.lead_events(lead.id)
    catalog = site(request).current.catalog
    days = catalog.site.leads.duplicate_days
    return render(request, "admin/lead.html", "Lead", session, lead=lead, events=events, statuses=STATUSES,
                  repeat_of=visible(await duplicates.repeats_of(leads, [lead], days), session).get(lead.id),
                  repeated_by=[later for later in await duplicates.later_repeats(leads, lead, days)
                               if roles.may_see_office(session.role, session.offices, later.office)],
                  revocation=await consent.revocation(leads, lead.id), methods=consent.METHODS,
                  now_local=dt.datetime.now(catalog.site.practice.zone).strftime("%Y-%m-%dT%H:%M"),
                  town_name=town_namer(catalog), office=catalog.site.offices_by_id.get(lead.office))


async def change_status(request: Request, session: Session, form: dict[str, str]) -> Response:
    lead_id = request.path_params["lead_id"]
    status = form.get("status", "")
    lead = await store(request).get(lead_id) if plain_text(lead_id, 100) else None
    # Another office's lead answers as a lead that does not exist.
    if (lead is None or not roles.may_see_office(session.role, session.offices, lead.office)
            or status not in STATUSES or not await store(request).set_status(lead_id, status, session.email)):
        return render(request, "admin/message.html", "Not changed", session, status=422,
                      message="That status could not be set. Go back and choose one from the list.")
    return RedirectResponse(f"/admin/leads/{lead_id}", status_code=303, headers=admin_headers(request))


async def export_leads(request: Request, session: Session, form: dict[str, str]) -> Response:
    lead_filter, problems = parse_filter(request.query_params)
    if problems:
        return bad_filter(request, session, problems, download=True)
    lead_filter = scoped(lead_filter, session)
    leads = store(request)
    rows = [0]
    detail = filter_detail(lead_filter)

    async def audit() -> None:
        await leads.audit(session.email, "export", detail, rows[0])

    filename = f"leads-{dt.date.today().isoformat()}.csv"
    headers = {**admin_headers(request), "content-disposition": f'attachment; filename="{filename}"'}
    zone = site(request).current.catalog.site.practice.zone
    return ClosingStreamingResponse(leads.export_csv(lead_filter, rows, zone), audit, media_type="text/csv; charset=utf-8",
                                    headers=headers)


class ClosingStreamingResponse(StreamingResponse):
    """A streamed body closed as soon as the response ends, however it ends, and then ``ended()`` awaited.

    Starlette leaves the body of a response whose client went away to the garbage collector (an export's
    thread and read transaction would wait for it), and runs ``background`` only after a whole response.
    """

    def __init__(self, chunks: AsyncGenerator[bytes, None], ended: Callable[[], Awaitable[None]],
                 **options: Any) -> None:
        super().__init__(chunks, **options)
        self.chunks, self.ended = chunks, ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):  # a request cancelled midway is still closed and audited
                try:
                    await self.chunks.aclose()
                finally:
                    await self.ended()


async def audit_page(request: Request, session: Session, form: dict[str, str]) -> Response:
    entries: list[AuditEntry] = await store(request).audit_log(200)
    return render(request, "admin/audit.html", "Audit log", session, entries=entries)


async def coverage_page(request: Request, session: Session, form: dict[str, str]) -> Response:
    return render(request, "admin/coverage.html", "Coverage map", session,
                  measuring=site(request).current.renderer.measuring)


async def coverage_map(request: Request, session: Session, form: dict[str, str]) -> Response:
    """Towns as dots coloured by serving office, hollow where the quality gate holds a page back."""
    snapshot = site(request).current
    svg = coverage_svg(snapshot.catalog, snapshot.renderer.held_back)
    return Response(svg, media_type="image/svg+xml", headers=admin_headers(request))


def routes() -> list[BaseRoute]:
    leads, everyone = allow(*roles.LEADS), allow(*roles.EVERYONE)
    return [
        Route("/admin/", everyone(home), name="admin_home"),
        Route("/admin", everyone(home)),
        Route("/admin/login", login_page, methods=["GET"], name="login_page"),
        Route("/admin/login", login, methods=["POST"], name="login"),
        Route("/admin/logout", everyone(logout), methods=["POST"], name="logout"),
        Route("/admin/leads", leads(leads_list), name="leads_list"),
        Route("/admin/leads.csv", allow(*roles.LEADS, download=True)(export_leads), name="export_leads"),
        Route("/admin/leads/{lead_id}", leads(lead_detail), name="lead_detail"),
        Route("/admin/leads/{lead_id}/status", leads(change_status), methods=["POST"], name="change_status"),
        Route("/admin/audit", leads(audit_page), name="audit_log"),
        Route("/admin/coverage", everyone(coverage_page), name="coverage_page"),
        Route("/admin/coverage.svg", allow(*roles.EVERYONE, download=True)(coverage_map), name="coverage_map"),
    ]
