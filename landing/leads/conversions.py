"""Offline conversions for the ads platforms: leads that staff moved to the practice's conversion status,
written as Google Ads' and Microsoft Advertising's click-conversion import files.

A lead becomes a conversion when staff first set it to the status site.toml's ``[conversions]`` names
(default ``scheduled``), at the time of that change. The files carry only what the platforms match on: the
click id, the conversion's name, its time and the configured value. Never a name, phone, email or message:
health advertisers may not send them. A lead without the platform's click id is not in its file.

Google Ads (Upload click conversions, its CSV template): a first line ``Parameters:TimeZone=<IANA zone>``,
then ``Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency``, times as
``yyyy-MM-dd HH:mm:ss`` in that zone: the practice's.

Microsoft Advertising (its offline conversion import template): a first line ``Parameters:TimeZone=<+HHMM>``
(a fixed offset from GMT, e.g. -0500), then ``Microsoft Click ID,Conversion Name,Conversion Time,Conversion
Value,Conversion Currency``. A fixed offset cannot follow daylight saving time, so this file is written in
GMT (``+0000``) and every time is exact whatever the season.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from landing.clock import local_day_start, parse_utc
from landing.leads.duplicates import Contact, counted_once
from landing.leads.export import neutralize
from landing.site import Site

if TYPE_CHECKING:
    from landing.leads.store import LeadStore

FORMATS = ("google", "microsoft")
HEADERS = {
    "google": ("Google Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency"),
    "microsoft": ("Microsoft Click ID", "Conversion Name", "Conversion Time", "Conversion Value",
                  "Conversion Currency"),
}
# Click ids as the platforms make them (base64url text, hex): letters, digits, - and _, starting with a letter or
# digit, so that no spreadsheet can take one for a formula and none needs quoting. Others are left out (counted).
_CLICK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,499}")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # yyyy-MM-dd HH:mm:ss

# Every converted lead: the first time it got the conversion status; spam and revoked consent never count. All of them, not only
# those since the day asked for or with the click id, so that a repeat enquiry counts once with its first lead.
_QUERY = ("SELECT leads.id, leads.created_at, leads.phone, lower(leads.email), leads.gclid, leads.msclkid, "
          "MIN(lead_events.at), leads.office FROM leads JOIN lead_events ON lead_events.lead_id = leads.id "
          "WHERE lead_events.status = ? AND leads.spam = 0 "
          "AND NOT EXISTS (SELECT 1 FROM consent_revocations WHERE consent_revocations.lead_id = leads.id) "
          "GROUP BY leads.id, leads.created_at, leads.phone, lower(leads.email), leads.gclid, leads.msclkid, "
          "leads.office "
          "ORDER BY leads.created_at, leads.id")


def platform_conversions(rows: Sequence[Sequence[object]], platform: str, since: str, duplicate_days: int,
                         offices: Collection[str] | None = None) -> list[tuple[str, str]]:
    """(click id, converted at) of ``platform`` since ``since`` from _QUERY's rows, each repeat enquiry counted
    once with the first lead it repeats (landing.leads.duplicates); with ``offices``, only their leads."""
    contacts = [Contact(str(row[0]), str(row[1]), str(row[2]), str(row[3] or "")) for row in rows]
    counted = counted_once(contacts, duplicate_days) if duplicate_days > 0 else {c.id for c in contacts}
    column = 4 if platform == "google" else 5
    found = [(str(row[column]), str(row[6])) for row in rows
             if str(row[0]) in counted and row[column] and str(row[6]) >= since
             and (offices is None or str(row[7]) in offices)]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


@dataclass(frozen=True)
class ConversionFile:
    text: str
    rows: int  # conversions in the file
    left_out: int  # conversions whose click id is not one a platform makes


def since_moment(day: str, site: Site) -> str:
    """'2026-11-01' -> the UTC stamp of midnight starting that day in the practice's time zone; ValueError when
    ``day`` is not a date."""
    start = local_day_start(dt.date.fromisoformat(day.strip()), site.practice.zone)
    return start.isoformat(timespec="microseconds")


def conversion_file(platform: str, conversions: Sequence[tuple[str, str]], site: Site) -> ConversionFile:
    """The import file of ``platform`` for (click id, converted at: ISO UTC) pairs."""
    settings = site.conversions
    if platform == "google":
        zone: dt.tzinfo = site.practice.zone
        parameters = f"Parameters:TimeZone={site.practice.timezone}"
    else:
        zone, parameters = dt.timezone.utc, "Parameters:TimeZone=+0000"
    value = "" if settings.value is None else f"{settings.value:g}"
    currency = settings.currency if settings.value is not None else ""
    name = neutralize(settings.name)
    out = io.StringIO()
    out.write(parameters + "\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS[platform])
    rows = left_out = 0
    for click_id, converted_at in conversions:
        if not _CLICK_ID.fullmatch(click_id):
            left_out += 1
            continue
        writer.writerow([click_id, name, parse_utc(converted_at).astimezone(zone).strftime(TIME_FORMAT), value,
                         currency])
        rows += 1
    return ConversionFile(out.getvalue(), rows, left_out)


def audit_detail(platform: str, day: str, result: ConversionFile) -> str:
    left = f"; {result.left_out} left out (a click id no platform makes)" if result.left_out else ""
    return f"{platform} conversions since {day}{left}"


async def export_conversions(store: LeadStore, platform: str, day: str, site: Site, actor: str,
                             offices: Collection[str] | None = None) -> ConversionFile:
    """The import file of ``platform`` for the conversions since ``day`` (the practice's date), audited; with
    ``offices`` (a member of staff limited to some), only their leads."""
    rows = await store.fetch(_QUERY, (site.conversions.status,))
    found = platform_conversions(rows, platform, since_moment(day, site), site.leads.duplicate_days, offices)
    result = conversion_file(platform, found, site)
    limited = f" (limited to offices: {', '.join(sorted(offices))})" if offices is not None else ""
    await store.audit(actor, "conversions export", audit_detail(platform, day, result) + limited, result.rows)
    return result
