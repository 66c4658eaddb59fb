"""Named schema migrations, applied in order at startup and recorded, for every lead store.

The SQL is kept to what SQLite and PostgreSQL share, so one list serves both. Never edit a migration
that has shipped: add a new one.
"""

from __future__ import annotations

from collections.abc import Collection

MIGRATIONS: list[tuple[str, list[str]]] = [
    ("0001_leads_and_outbox", [
        """CREATE TABLE leads (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'new',
            spam INTEGER NOT NULL DEFAULT 0,
            spam_reason TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL,
            phone TEXT NOT NULL,
            email TEXT NOT NULL,
            contact TEXT NOT NULL,
            message TEXT NOT NULL,
            treatment TEXT NOT NULL,
            town TEXT NOT NULL,
            office TEXT NOT NULL,
            consent_text TEXT NOT NULL,
            consent_version TEXT NOT NULL,
            landing_url TEXT NOT NULL DEFAULT '',
            referrer TEXT NOT NULL DEFAULT '',
            user_agent TEXT NOT NULL DEFAULT '',
            client_hash TEXT NOT NULL DEFAULT '',
            utm_source TEXT NOT NULL DEFAULT '',
            utm_medium TEXT NOT NULL DEFAULT '',
            utm_campaign TEXT NOT NULL DEFAULT '',
            utm_term TEXT NOT NULL DEFAULT '',
            utm_content TEXT NOT NULL DEFAULT '',
            gclid TEXT NOT NULL DEFAULT '',
            msclkid TEXT NOT NULL DEFAULT '',
            fbclid TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX leads_by_time ON leads (created_at)",
        "CREATE INDEX leads_by_office ON leads (office, created_at)",
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
            office TEXT NOT NULL,
            treatment TEXT NOT NULL,
            town TEXT NOT NULL,
            lead_created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            claimed_until TEXT,
            claimed_by TEXT NOT NULL DEFAULT '',
            sent_at TEXT,
            last_error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at)",
    ]),
]

MIGRATIONS.append(("0002_staff", [
    """CREATE TABLE users (
        email TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL
    )""",
    "CREATE TABLE login_failures (key TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE INDEX login_failures_by_key ON login_failures (key, at)",
    """CREATE TABLE lead_events (
        id TEXT PRIMARY KEY,
        lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL
    )""",
    "CREATE INDEX lead_events_by_lead ON lead_events (lead_id, at)",
    """CREATE TABLE audit_log (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        rows INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX audit_log_by_time ON audit_log (at)",
]))

# Newest-first lists and keyset-paged exports walk this index instead of sorting the table per page.
MIGRATIONS.append(("0003_leads_by_time_and_id", ["CREATE INDEX leads_by_time_and_id ON leads (created_at, id)"]))

# Sign-in attempts replace sign-in failures: an attempt is counted before its password is checked (so that
# many at once cannot all be checked), and its keys are keyed hashes, never the text typed as an email.
# The old table's rows (which held typed emails) go with it: at most 15 minutes of throttling is forgotten.
MIGRATIONS.append(("0004_sign_in_attempts", [
    "DROP TABLE login_failures",
    """CREATE TABLE sign_in_attempts (
        attempt TEXT NOT NULL,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (attempt, key)
    )""",
    "CREATE INDEX sign_in_attempts_by_key ON sign_in_attempts (key, at)",
    "CREATE INDEX sign_in_attempts_by_time ON sign_in_attempts (at)",
]))

# Roles (landing/admin/roles.py): every user there was could see everything, so each becomes an admin; a staff
# member may be limited to some offices' leads (no row here: every office).
MIGRATIONS.append(("0005_roles", [
    "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'staff'",
    "UPDATE users SET role = 'admin'",
    """CREATE TABLE user_offices (
        email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
        office TEXT NOT NULL,
        PRIMARY KEY (email, office)
    )""",
]))

# Towns published from the staff area (landing/leads/site_versions.py): every version of locations.csv, and the
# drafts waiting for their preview to be read.
MIGRATIONS.append(("0006_site_versions", [
    """CREATE TABLE site_versions (
        number INTEGER PRIMARY KEY,
        published_at TEXT NOT NULL,
        author TEXT NOT NULL,
        summary TEXT NOT NULL,
        source TEXT NOT NULL,
        locations TEXT NOT NULL
    )""",
    """CREATE TABLE site_drafts (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        author TEXT NOT NULL,
        source TEXT NOT NULL,
        locations TEXT NOT NULL,
        base INTEGER NOT NULL
    )""",
]))

# IndexNow submissions waiting to be sent (landing/leads/indexnow_outbox.py): one row per batch of URLs.
MIGRATIONS.append(("0007_indexnow_outbox", [
    """CREATE TABLE indexnow_outbox (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        urls TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        claimed_until TEXT,
        sent_at TEXT,
        last_error TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX indexnow_outbox_due ON indexnow_outbox (sent_at, next_attempt_at)",
]))


# Page views counted at the origin (landing/pageviews.py): per page, day (UTC) and campaign, views by people,
# their unique visitors and views by known crawlers, added to by every instance. A visitor is a keyed hash
# made with the day's salt; both live only for their day (and a few minutes past it) and are then deleted.
MIGRATIONS.append(("0010_page_views", [
    """CREATE TABLE page_views (
        day TEXT NOT NULL,
        path TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        campaign TEXT NOT NULL DEFAULT '',
        views INTEGER NOT NULL DEFAULT 0,
        visitors INTEGER NOT NULL DEFAULT 0,
        bot_views INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, path, source, campaign)
    )""",
    """CREATE TABLE page_visitors (
        day TEXT NOT NULL,
        path TEXT NOT NULL,
        source TEXT NOT NULL,
        campaign TEXT NOT NULL,
        visitor TEXT NOT NULL,
        flush TEXT NOT NULL,
        PRIMARY KEY (day, path, source, campaign, visitor)
    )""",
    "CREATE INDEX page_visitors_by_flush ON page_visitors (flush)",
    "CREATE TABLE view_salts (day TEXT PRIMARY KEY, salt TEXT NOT NULL)",
]))

# What the marketing report reads over long periods: page views per page and month, and all views per day (for its
# chart), kept by every flush beside the daily counts. A year's report reads 12 rows a page instead of 365.
ROLLUPS_FROM_DAILY = [
    "DELETE FROM page_views_monthly",
    "DELETE FROM views_by_day",
    """INSERT INTO page_views_monthly (month, path, source, campaign, views, visitors, bot_views)
        SELECT substr(day, 1, 7), path, source, campaign, SUM(views), SUM(visitors), SUM(bot_views) FROM page_views
        GROUP BY substr(day, 1, 7), path, source, campaign""",
    """INSERT INTO views_by_day (day, views, visitors, bot_views)
        SELECT day, SUM(views), SUM(visitors), SUM(bot_views) FROM page_views GROUP BY day""",
]
MIGRATIONS.append(("0011_page_view_rollups", [
    """CREATE TABLE page_views_monthly (
        month TEXT NOT NULL,
        path TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        campaign TEXT NOT NULL DEFAULT '',
        views INTEGER NOT NULL DEFAULT 0,
        visitors INTEGER NOT NULL DEFAULT 0,
        bot_views INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (month, path, source, campaign)
    )""",
    """CREATE TABLE views_by_day (
        day TEXT PRIMARY KEY,
        views INTEGER NOT NULL DEFAULT 0,
        visitors INTEGER NOT NULL DEFAULT 0,
        bot_views INTEGER NOT NULL DEFAULT 0
    )""",
    *ROLLUPS_FROM_DAILY,
]))

# Which migrations a database has had: the same table in every store.
CREATE_RECORD = "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
READ_RECORD = "SELECT name FROM schema_migrations"
RECORD = "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)"


def pending(applied: Collection[str]) -> list[tuple[str, list[str]]]:
    """The migrations not yet applied, in order."""
    return [(name, statements) for name, statements in MIGRATIONS if name not in applied]
