"""Who may do what in the staff area: three roles, and staff limited to some offices.

- ``admin``: users and everything else.
- ``staff``: leads (the list, a lead, its status, the export, the audit log), of every office or only of the
  offices they are given.
- ``marketer``: the site's content (towns, publishing), the coverage map, the quality report and page
  figures; never a lead, an export or the audit of leads (minimum necessary: leads are health data).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from landing.errors import LandingError

ADMIN, STAFF, MARKETER = "admin", "staff", "marketer"
ROLES = (ADMIN, STAFF, MARKETER)
EVERYONE = ROLES
LEADS = (ADMIN, STAFF)  # the leads list, a lead, status changes, the export, the audit log
SITE = (ADMIN, MARKETER)  # towns: upload, preview, publish, history, roll back


class RoleError(LandingError):
    pass


def check_role(role: str, offices: Sequence[str], known_offices: Iterable[str] | None = None) -> None:
    """Refuse a role that does not exist, offices given to a role that has no use for them, and offices that
    site.toml does not know (when it is known), each with the fix."""
    if role not in ROLES:
        raise RoleError(f"'{role}' is not a role: use one of {', '.join(ROLES)}")
    if offices and role != STAFF:
        raise RoleError(f"--office limits a staff member's leads; a{'n' if role == ADMIN else ''} {role} sees "
                        f"{'every lead' if role == ADMIN else 'no lead'} (drop --office, or use --role staff)")
    if known_offices is not None:
        known = sorted(set(known_offices))
        unknown = [office for office in offices if office not in known]
        if unknown:
            raise RoleError(f"no office {', '.join(repr(office) for office in unknown)} in site.toml (offices: "
                            f"{', '.join(known) or 'none'})")


def lead_offices(role: str, offices: Sequence[str]) -> tuple[str, ...] | None:
    """The offices whose leads a user may see: None for all of them, () for none."""
    if role == ADMIN or (role == STAFF and not offices):
        return None
    if role == STAFF:
        return tuple(offices)
    return ()


def may_see_office(role: str, offices: Sequence[str], office: str) -> bool:
    allowed = lead_offices(role, offices)
    return allowed is None or office in allowed


def describe(role: str, offices: Sequence[str]) -> str:
    """A role as `landing users list` and the audit log show it: 'staff (barrington, crystal-lake)'."""
    if role == STAFF:
        return f"staff ({', '.join(offices)})" if offices else "staff (every office)"
    return role
