"""Staff sign-in: argon2id passwords, server-side sessions in a signed cookie, CSRF tokens, throttling.

Sessions live in the database, so any instance behind a load balancer can answer; the cookie holds only
a signed, random session id.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, Signer

from landing.errors import LandingError
from landing.leads.model import Session, User, utc_in
from landing.leads.store import LeadStore

MIN_PASSWORD = 12
IDLE_HOURS = 8
TOUCH_SECONDS = 60  # how stale last_seen may get before a request writes it again
MAX_FAILURES = 5
FAILURE_WINDOW_MINUTES = 15
SESSION_COOKIE = "landing_session"
LOGIN_COOKIE = "landing_login"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the email is unknown, so that an unknown user takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordError(LandingError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"the password must be at least {MIN_PASSWORD} characters long")
    return _hasher.hash(password)


def password_matches(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists or is disabled."""
    ok: bool
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and not user.disabled


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Cookies:
    """Signs and reads the session and login cookies."""

    secret: str

    def _signer(self, salt: str) -> Signer:
        return Signer(self.secret, salt=salt)

    def session_value(self, session_id: str) -> str:
        return self._signer("landing.session").sign(session_id).decode()

    def session_id(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self._signer("landing.session").unsign(value).decode()
        except BadSignature:
            return None

    def login_value(self) -> tuple[str, str]:
        """(cookie value, form token): a double-submit CSRF pair for the sign-in form, before any session."""
        token = secrets.token_urlsafe(24)
        return self._signer("landing.login").sign(token).decode(), token

    def login_token_matches(self, cookie: str | None, token: str) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._signer("landing.login").unsign(cookie).decode()
        except BadSignature:
            return False
        return hmac.compare_digest(expected, token)


def csrf_matches(session: Session, token: str) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token)


def session_expired(session: Session, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.timezone.utc)
    return dt.datetime.fromisoformat(session.last_seen) < now - dt.timedelta(hours=IDLE_HOURS)


def needs_touch(session: Session, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.timezone.utc)
    return dt.datetime.fromisoformat(session.last_seen) < now - dt.timedelta(seconds=TOUCH_SECONDS)


def failure_keys(email: str, client: str) -> list[str]:
    return [f"account:{normalize_email(email)}", f"address:{client}"]


async def throttled(store: LeadStore, email: str, client: str) -> bool:
    """Five failures for an account or from an address within 15 minutes close the door for a while."""
    since = utc_in(-FAILURE_WINDOW_MINUTES * 60)
    for key in failure_keys(email, client):
        if await store.login_failures(key, since) >= MAX_FAILURES:
            return True
    return False
