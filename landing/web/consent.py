"""The staff area's consent pages: recording a revocation, and a lead's consent certificate (landing.leads.consent)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from landing.admin import roles
from landing.leads.consent import certificate, check_revocation, record_revocation, revocation
from landing.leads.model import Session
from landing.web.admin import admin_headers, allow, plain_text, render, store
from landing.web.leads import site


async def revoke_consent(request: Request, session: Session, form: dict[str, str]) -> Response:
    lead_id = request.path_params["lead_id"]
    leads = store(request)
    lead = await leads.get(lead_id) if plain_text(lead_id, 100) else None
    if lead is None or not roles.may_see_office(session.role, session.offices, lead.office):
        # Another office's lead answers as one that does not exist.
        return render(request, "admin/message.html", "No such lead", session, status=404,
                      message="This lead does not exist, or was removed by a retention purge.")
    zone = site(request).current.catalog.site.practice.zone
    revoked_at, problems = check_revocation(form.get("revoked_at", ""), form.get("method", ""), form.get("note", ""),
                                            zone)
    if problems:
        return render(request, "admin/message.html", "Revocation not recorded", session, status=422,
                      message="The revocation was not recorded: " + "; ".join(problems) + ". Go back and correct it.")
    await record_revocation(leads, lead.id, revoked_at, form["method"], form.get("note", ""), session.email)
    return RedirectResponse(f"/admin/leads/{lead.id}", status_code=303, headers=admin_headers(request))


async def consent_certificate(request: Request, session: Session, form: dict[str, str]) -> Response:
    lead_id = request.path_params["lead_id"]
    leads = store(request)
    lead = await leads.get(lead_id) if plain_text(lead_id, 100) else None
    if lead is None:
        return Response("No such lead.\n", status_code=404, media_type="text/plain; charset=utf-8",
                        headers=admin_headers(request))
    text = certificate(lead, await revocation(leads, lead.id), site(request).current.catalog, session.email)
    await leads.audit(session.email, "consent certificate", f"lead {lead.id}", 1)
    return Response(text, media_type="text/plain; charset=utf-8", headers={
        **admin_headers(request), "content-disposition": f'attachment; filename="consent-{lead.id}.txt"'})


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/leads/{lead_id}/revoke", allow(*roles.LEADS)(revoke_consent), methods=["POST"],
              name="revoke_consent"),
        # What the person agreed to, with the keyed hash of their address: admins alone.
        Route("/admin/leads/{lead_id}/consent.txt", allow(roles.ADMIN, download=True)(consent_certificate),
              name="consent_certificate"),
    ]
