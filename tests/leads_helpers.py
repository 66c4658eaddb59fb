"""Helpers for lead tests: tokens of a chosen age, and a valid submission to vary."""

from __future__ import annotations

import time

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
