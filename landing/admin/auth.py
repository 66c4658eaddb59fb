"""Staff sign-in: argon2id passwords, server-side sessions in a signed cookie, CSRF tokens, throttling.

Sessions live in the database, so any instance behind a load balancer can answer; the cookie holds only
a signed, random session id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, Signer

from landing.errors import LandingError
from landing.leads.guard import limit_address
from landing.leads.model import Session, User, utc_in
from landing.leads.store import LeadStore

MIN_PASSWORD = 12
# zxcvbn's score 4: at least 10^10 guesses to find. Below it are passwords like "Summer2024!!" (score 3)
# that password sprayers and anyone holding a copy of the database try early, argon2 or not.
MIN_PASSWORD_SCORE = 4
IDLE_HOURS = 8
TOUCH_SECONDS = 60  # how stale last_seen may get before a request writes it again
MAX_FAILURES = 5
FAILURE_WINDOW_MINUTES = 15
SESSION_COOKIE = "landing_session"
LOGIN_COOKIE = "landing_login"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Checking a password takes argon2 ~0.1-0.4 s of CPU and 64 MiB, with the GIL released. Off the event loop,
# so pages keep answering while sign-ins are checked; in a few threads, so that a burst of sign-ins costs
# at most this many times 64 MiB and leaves cores for everything else (the rest wait their turn).
HASH_THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))
_hashing = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")


class PasswordError(LandingError):
    pass


def hash_password(password: str, known: Sequence[str] = ()) -> str:
    """An argon2id hash of a password strong enough for staff (see ``password_problem``)."""
    problem = password_problem(password, known)
    if problem:
        raise PasswordError(problem)
    return _hasher.hash(password)


def password_problem(password: str, known: Sequence[str] = ()) -> str:
    """Why a staff password is too weak, or "" when it is not.

    The strength is zxcvbn's estimate (Dropbox's): it knows the 30,000 most common passwords, English words,
    names, keyboard walks, dates, repeats and l33t spellings, which a length rule cannot. ``known`` are words
    an attacker would try first (the email, the practice's name).
    """
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters long"
    from zxcvbn import zxcvbn  # its word lists take a tenth of a second to load: only when a password is set

    words = [word for text in known for word in _words(text)]
    estimate = zxcvbn(password[:100], user_inputs=words)  # zxcvbn's time grows with length; 100 is plenty
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return ""
    feedback = estimate["feedback"]
    why = feedback["warning"] or "It is made of common words, names, dates or patterns."
    return (f"this password is too easy to guess: {why.rstrip('.')}. Use four or more words that do not belong "
            "together, or a long random password from a password manager")


def _words(text: str) -> list[str]:
    """A known text as zxcvbn should try it: whole, its words run together, and each word."""
    words = "".join(char if char.isalnum() else " " for char in text.lower()).split()
    return [text.lower(), "".join(words), *(word for word in words if len(word) > 2)]


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so that an unknown user takes as long as a wrong password. Made
    when first needed (it costs what a sign-in does), not by every command that imports this module."""
    return _hasher.hash(secrets.token_urlsafe(16))


def password_matches(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists or is disabled."""
    ok: bool
    try:
        ok = _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and not user.disabled


async def check_password(user: User | None, password: str) -> bool:
    """password_matches() in the hashing threads, so that the event loop keeps serving meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, password_matches, user, password)


def normalize_email(email: str) -> str:
    """How a typed email is compared with staff accounts: NFC, trimmed, lower case."""
    return unicodedata.normalize("NFC", email).strip().lower()


def staff_email(email: str) -> str:
    """A new staff account's email, checked by email-validator (syntax only: no DNS) and normalized."""
    try:
        valid = validate_email(unicodedata.normalize("NFC", email.strip()), check_deliverability=False)
    except EmailNotValidError as exc:
        raise LandingError(f"'{email}' is not a usable email address: {exc}") from None
    return normalize_email(valid.normalized)


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


def sign_in_keys(secret: str, email: str, address: str) -> list[str]:
    """What a sign-in attempt is counted against: its account and its client address, each as a keyed
    hash. Nothing a person typed is stored (an unknown email may be a patient's, or a password typed in the
    wrong field), and without the secret the hashes cannot be turned back into emails or addresses."""
    return [_keyed(secret, "account", normalize_email(email)), _keyed(secret, "address", limit_address(address))]


def _keyed(secret: str, kind: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"landing.sign-in.{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


async def reserve_attempt(store: LeadStore, keys: Sequence[str]) -> str | None:
    """Count a sign-in attempt before its password is checked: its id, or None when five attempts for its
    account or from its address within 15 minutes already close the door. A right password then forgets
    the account's attempts (``signed_in``); a wrong one leaves this attempt counted as a failure."""
    return await store.reserve_sign_in(keys, utc_in(-FAILURE_WINDOW_MINUTES * 60), MAX_FAILURES)


async def signed_in(store: LeadStore, attempt: str, keys: Sequence[str]) -> None:
    await store.forget_sign_in(attempt, keys[:1])  # the account's attempts; the address's other ones stay
