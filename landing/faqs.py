"""faqs.csv: questions and answers of a town, a county or an office, shown on their pages before the
treatment's own FAQ (and in the pages' FAQPage markup, word for word).

One row per question, as a marketer keeps them in Excel:

| column | meaning |
| --- | --- |
| slug | the town (its slug, as in its page's address) whose pages show the question |
| county, state | or: every town of that county (`Lake County`, `IL`) |
| office | or: every town that office serves (its id in site.toml) |
| treatment | optional: only that treatment's pages (its slug); empty: all |
| question, answer | the text, as it is to be shown |

Each row names exactly one of slug, county (with state) or office. The file is optional.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from landing.errors import ConfigError
from landing.locations import Location, csv_rows, decode_csv
from landing.site import Faq
from landing.states import STATES

COLUMNS = ("slug", "county", "state", "office", "treatment", "question", "answer")
MAX_QUESTION = 300
MAX_ANSWER = 2000


@dataclass(frozen=True, slots=True)
class LocalFaq:
    faq: Faq
    slug: str = ""
    county: str = ""  # case-folded, with state
    state: str = ""
    office: str = ""
    treatment: str = ""  # "" for every treatment
    line: int = 0


@dataclass(frozen=True)
class LocalFaqs:
    """Every local question, found by the page it belongs to."""

    entries: tuple[LocalFaq, ...]
    file: str = "faqs.csv"

    def for_page(self, location: Location, office: str, treatment: str) -> tuple[Faq, ...]:
        """The town's questions, then its county's, then its office's, each in file order."""
        if not self.entries:
            return ()
        county = location.county.casefold()
        chosen: list[tuple[int, int, Faq]] = []
        for order, entry in enumerate(self.entries):
            if entry.treatment and entry.treatment != treatment:
                continue
            if entry.slug:
                rank = 0 if entry.slug == location.slug else -1
            elif entry.county:
                rank = 1 if (entry.county, entry.state) == (county, location.state) and county else -1
            else:
                rank = 2 if entry.office == office else -1
            if rank >= 0:
                chosen.append((rank, order, entry.faq))
        return tuple(faq for _, _, faq in sorted(chosen, key=lambda item: item[:2]))


def load_faqs(path: Path | None, offices: Collection[str], treatments: Collection[str]) -> LocalFaqs:
    """Read and check the local FAQ file; no file (or none configured) is no local questions."""
    if path is None or not path.exists():
        return LocalFaqs(())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path.name}: cannot read the file ({exc.strerror}); check LANDING_FAQS_FILE"]) from None
    return parse_faqs(data, path.name, offices, treatments)


def parse_faqs(data: bytes, name: str, offices: Collection[str], treatments: Collection[str]) -> LocalFaqs:
    """The file's questions; a slug or county that names no town is not an error here (a town taken out of
    locations.csv must not stop the site), but a question shown nowhere, which `landing check` reports."""
    text = decode_csv(data, name)
    problems: list[str] = []
    rows = csv_rows(text, name)
    header_line, header = next(rows, (1, []))
    columns = [column.strip().lower() for column in header]
    for column in columns:
        if column not in COLUMNS:
            problems.append(f"{name}:{header_line}: column '{column}': unknown column (known columns: "
                            f"{', '.join(COLUMNS)})")
    for column in ("question", "answer"):
        if column not in columns:
            problems.append(f"{name}:{header_line}: column '{column}': required column is missing from the header")
    entries = []
    for line, values in rows:
        if len(values) != len(columns):
            problems.append(f"{name}:{line}: has {len(values)} values but the header has {len(columns)} columns "
                            "(put values that contain commas in double quotes)")
            continue
        raw = {column: value.strip() for column, value in zip(columns, values)}
        before = len(problems)

        def problem(column: str, message: str) -> None:
            problems.append(f"{name}:{line}: column '{column}': {message}")

        scopes = [column for column in ("slug", "county", "office") if raw.get(column)]
        if len(scopes) != 1:
            problem("slug", "name exactly one of slug (a town), county (with state) or office, so the question "
                            f"has one place to go ({'none' if not scopes else ' and '.join(scopes)} given)")
        slug, county, office = raw.get("slug", ""), raw.get("county", ""), raw.get("office", "")
        state = raw.get("state", "").upper()
        if county and state not in STATES:
            problem("state", f"'{raw.get('state', '')}' is not a US state code: a county needs its state (e.g. IL)")
        if office and office not in offices:
            problem("office", f"'{office}' is not an office id in site.toml (known: {', '.join(sorted(offices))})")
        treatment = raw.get("treatment", "")
        if treatment and treatment not in treatments:
            problem("treatment", f"'{treatment}' is not a treatment slug in site.toml")
        question, answer = raw.get("question", ""), raw.get("answer", "")
        for column, value, limit in (("question", question, MAX_QUESTION), ("answer", answer, MAX_ANSWER)):
            if not value:
                problem(column, "is empty")
            elif len(value) > limit:
                problem(column, f"is {len(value)} characters long (keep it under {limit})")
        if len(problems) == before:
            entries.append(LocalFaq(Faq(question, answer), slug=slug, county=county.casefold(),
                                    state=state if county else "", office=office, treatment=treatment, line=line))
    if problems:
        raise ConfigError(problems)
    return LocalFaqs(tuple(entries), name)
