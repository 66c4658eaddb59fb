"""Rendering: the Jinja2 environment, each page's context, and the bounded cache of rendered pages."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from landing import quality, structured_data
from landing.catalog import Catalog, Hub, HubPart, LandingPage, Reach, files_in
from landing.fragments import FragmentCache
from landing.geo import bearing, compass
from landing.leads.form import CONTACT_CHOICES, Submission
from landing.maps import office_map
from landing.site import Faq, Office, Practice, Treatment
from landing.suggestions import SlugIndex

if TYPE_CHECKING:
    from landing.quality_cache import QualityCache

NOT_FOUND_SUGGESTIONS = 6
# Where a landing page's per-visitor hidden fields go (the form's token and campaign fields): the service
# splices them in per request (landing.web.responses), a static build puts its build token there.
SLOT = b"<!--landing:slot-->"
# The product's own templates and static files, shipped in the package; a site's own files of the same
# name win (templates/ and static/ of the site folder).
PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
PACKAGE_STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True, slots=True)
class Crumb:
    name: str
    url: str  # absolute


@dataclass(frozen=True, slots=True)
class Meta:
    """What goes into <head>: the same for every kind of page."""

    title: str
    description: str
    canonical: str | None  # absolute URL; None for pages that are not indexed (404)
    robots: str = "index, follow"
    og_type: str = "website"


@dataclass(frozen=True)
class PageContext:
    """Fields every template gets."""

    catalog: Catalog
    meta: Meta
    crumbs: tuple[Crumb, ...]
    assets: StaticAssets
    graph: structured_data.Graph  # printed once, as JSON-LD, in <head>

    @property
    def practice(self) -> Practice:
        return self.catalog.site.practice

    @property
    def call(self) -> Call:
        """The one number this page asks a visitor to call: the practice's, or its first office's."""
        practice = self.catalog.site.practice
        if practice.phone:
            return Call(practice.name, practice.phone, practice.phone_href)
        office = self.catalog.site.offices[0]
        return Call(office.name, office.phone, office.phone_href)

    @property
    def logo_src(self) -> str:
        """The logo as an <img> src: a file of the static folders by its fingerprinted URL."""
        logo = self.catalog.site.practice.logo
        if logo.startswith("/static/") and logo.removeprefix("/static/") in self.assets.urls:
            return self.assets.url(logo.removeprefix("/static/"))
        return logo


@dataclass(frozen=True, slots=True)
class Call:
    """Whose phone a page puts in its header and call bar."""

    label: str  # "Barrington office"
    phone: str
    href: str  # tel:+1...


@dataclass(frozen=True)
class LocalFacts:
    """What a town page says of its town that no sibling says: each from the practice's data or the ZIP data."""

    direction: str = ""  # from the town to its office ("southeast"); "" when in town or unknown
    alternative: Reach | None = None  # another office nearly as close
    other_offices: tuple[Reach, ...] = ()  # the other offices within reach, nearest first, but the alternative
    directions: dict[str, str] = dataclasses.field(default_factory=dict)  # nearby town's path -> which way it is
    county_pages: tuple[LandingPage, ...] = ()  # the treatment's other towns in the county, nearest first
    county_total: int = 0  # towns of the county with this treatment's page, this one included
    extras: tuple[tuple[str, str], ...] = ()  # (label, value) of the practice's own columns that have both
    map: Markup = Markup("")  # the town and its office, drawn as SVG (empty without coordinates)


@dataclass(frozen=True)
class HomeContext(PageContext):
    hubs: tuple[Hub, ...] = ()


@dataclass(frozen=True)
class HubContext(PageContext):
    part: HubPart | None = None  # the page of the hub shown
    article: Markup = Markup("")  # the treatment's whole article, on the first page when town pages summarise it

    @property
    def hub(self) -> Hub | None:
        return self.part.hub if self.part else None


@dataclass(frozen=True)
class LandingContext(PageContext):
    """A landing page. The treatment's content template sees these fields too."""

    page: LandingPage | None = None
    nearby: tuple[tuple[int, LandingPage], ...] = ()  # (miles, page), nearest first
    form: Submission | None = None  # a submission shown again with its errors; None for a fresh form
    form_slot: Markup = Markup(SLOT.decode())  # where each visitor's hidden fields go
    form_action: str = "/leads"
    contact_choices: dict[str, str] = dataclasses.field(default_factory=lambda: dict(CONTACT_CHOICES))
    facts: LocalFacts = LocalFacts()
    local_faqs: tuple[Faq, ...] = ()  # the town's, county's and office's own questions, shown first
    article: Markup = Markup("")  # the content template: its summary block, or all of it (treatment.article)

    @property
    def call(self) -> Call:
        """A town page's number is its serving office's: one number per page, the one that answers."""
        if self.page is None:
            return super().call
        office = self.page.office
        return Call(office.name, office.phone, office.phone_href)

    @property
    def full_article(self) -> bool:
        return bool(self.page and self.page.treatment.article == "full")

    # Short names the marketer's content template uses.
    @property
    def treatment(self) -> Any:
        return self.page.treatment if self.page else None

    @property
    def location(self) -> Any:
        return self.page.location if self.page else None

    @property
    def hub_path(self) -> str:
        """The page of the treatment's hub that lists this town (the hub itself unless it runs to several)."""
        if self.page is None:
            return "/"
        hub = self.catalog.hubs[self.page.treatment.slug]
        return hub.part_listing(self.page).path

    @property
    def office(self) -> Any:
        return self.page.office if self.page else None

    @property
    def place(self) -> str:
        return self.page.location.place if self.page else ""

    @property
    def distance_miles(self) -> int | None:
        return self.page.distance_miles if self.page else None

    @property
    def office_in_town(self) -> bool:
        return bool(self.page and self.page.office_in_town)


@dataclass(frozen=True)
class MessageContext(PageContext):
    title: str = ""
    message: str = ""
    office: Office | None = None  # whose phone to show
    kind: str = "message"  # thank-you | too-many | message

    @property
    def call(self) -> Call:
        if self.office is None:
            return super().call
        return Call(self.office.name, self.office.phone, self.office.phone_href)


@dataclass(frozen=True)
class NotFoundContext(PageContext):
    suggestions: tuple[LandingPage, ...] = ()


def template_vars(context: PageContext) -> dict[str, Any]:
    """A context's fields and properties as template variables (without deep-copying the catalog)."""
    return {name: getattr(context, name) for name in _variable_names(type(context))}


_NAMES: dict[type[PageContext], tuple[str, ...]] = {}


def _variable_names(kind: type[PageContext]) -> tuple[str, ...]:
    if kind not in _NAMES:
        names = [spec.name for spec in dataclasses.fields(kind)]
        for base in kind.__mro__:
            names += [name for name, value in vars(base).items() if isinstance(value, property)]
        _NAMES[kind] = tuple(names)
    return _NAMES[kind]


def fit(text: str, limit: int) -> str:
    """Shorten to at most ``limit`` characters at a word boundary, with an ellipsis if cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return cut + "…"


def page_title(subject: str, practice: Practice) -> str:
    """'{subject} | {practice}' within 60 characters: the short practice name when the full one does not
    fit, and no practice name when neither does, since the treatment and the town are what a searcher
    scans a result for (the practice is named on the page and in og:site_name)."""
    for name in (practice.name, practice.short_name):
        if len(title := f"{subject} | {name}") <= quality.TITLE_LIMIT:
            return title
    return subject


def own_names(page: LandingPage) -> tuple[str, ...]:
    """The names taken out of a page's text before it is compared with its siblings."""
    location = page.location
    return quality.own_names(location.town, location.state, location.state_name, page.treatment.name)


def landing_description(page: LandingPage) -> str:
    place = page.location.place
    where = f"at our {page.office.town} office"
    if page.distance_miles is not None and not page.office_in_town:
        where += f", about {page.distance_miles} mi away"
    return fit(f"{page.treatment.name} for patients in {place} {where}. {page.treatment.description}", quality.DESCRIPTION_LIMIT)


@dataclass(frozen=True, slots=True)
class StaticFile:
    data: bytes
    media_type: str


class StaticAssets:
    """The static files, in memory, under fingerprinted names (site.css -> site.1a2b3c4d.css): the site's
    own folder first, then the package's (a site file of the same name wins)."""

    def __init__(self, folder: Path | None, package: Path = PACKAGE_STATIC) -> None:
        self.urls: dict[str, str] = {}
        self.files: dict[str, StaticFile] = {}  # by fingerprinted name
        for root in ([folder] if folder is not None else []) + [package]:
            for path in files_in(root):
                name = path.relative_to(root).as_posix()
                if name in self.urls:
                    continue
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()[:10]
                stem, dot, suffix = name.rpartition(".")
                fingerprinted = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
                media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                if media_type.startswith("text/") or media_type == "image/svg+xml":
                    media_type += "; charset=utf-8"
                self.urls[name] = f"/static/{fingerprinted}"
                self.files[fingerprinted] = StaticFile(data, media_type)

    def url(self, name: str) -> str:
        """The fingerprinted URL of a static file, for templates: {{ assets.url('site.css') }}."""
        try:
            return self.urls[name]
        except KeyError:
            raise jinja2.TemplateError(f"static file '{name}' does not exist in the static folder") from None


def make_environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        # The site's templates first: a file there overrides the package's of the same name.
        loader=jinja2.FileSystemLoader([templates, PACKAGE_TEMPLATES]),
        autoescape=True,
        extensions=[FragmentCache],
        undefined=jinja2.StrictUndefined,  # a typo in a marketer's template is an error in `landing check`
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["jsonld"] = structured_data.jsonld
    env.globals.update(field_error=field_error, invalid=invalid)
    env.filters["miles"] = lambda miles: f"{miles} mile" if miles == 1 else f"{miles} miles"
    return env


# The lead form's error markup, as functions rather than template macros: a macro call costs more than
# the rest of a field, and every cached or built page calls them a dozen times with no form to report on.


def field_error(form: Submission | None, name: str) -> Markup:
    """The message to show above a field the visitor must correct; nothing when it is fine."""
    message = form.errors.get(name) if form else None
    if not message:
        return Markup("")
    return Markup('<p class="field-error" id="lead-{0}-error">{1}</p>').format(name, message)


def invalid(form: Submission | None, name: str, hint: str = "") -> Markup:
    """A field's aria attributes: marked invalid and tied to its message, or only to its ``hint``."""
    if form and form.errors.get(name):
        return Markup(' aria-invalid="true" aria-describedby="{0}"').format(f"lead-{name}-error" + (f" {hint}" if hint else ""))
    if hint:
        return Markup(' aria-describedby="{0}"').format(hint)
    return Markup("")


class Renderer:
    """Renders the pages of one catalog snapshot, keeping the most recently used ones ready to send."""

    def __init__(self, catalog: Catalog, templates: Path, assets: StaticAssets, *, form_action: str = "/leads",
                 quality_cache: QualityCache | None = None, measure: bool = True) -> None:
        self.catalog = catalog
        self.templates = templates
        self.quality_cache = quality_cache  # measures kept between snapshots: only changed pages are measured again
        self.form_action = form_action  # a static build posts to the running service's absolute /leads
        self.assets = assets
        self.env = make_environment(templates)
        self._suggestion_indexes: dict[str | None, tuple[SlugIndex, dict[str, LandingPage]]] = {}
        # The quality gate: measured once per snapshot, before any page is served, so that a page is never
        # served indexable and then not. Off (no cost) unless site.toml has [quality] gate. With ``measure``
        # false it is left for later (``measured``): until then every landing page counts as held back, and the
        # service answers them 503 (landing.web.live), so that none is ever served or listed unmeasured.
        self.similarity: dict[str, quality.Measured] = {}
        self.held_back: frozenset[str] = frozenset()  # (measuring renders <main>, which does not read it)
        self.measuring = catalog.site.quality.gate is not None and not measure
        if catalog.site.quality.gate is not None and measure:
            self.similarity = self.measure_similarity()
        self._hold_back()

    def _hold_back(self) -> None:
        # Held back (noindex, not in the sitemap): pages too much like a sibling, and towns served from farther
        # than max_office_miles (unless the site allows far towns): a page promising an office hundreds of miles
        # away helps nobody.
        catalog, gate = self.catalog, self.catalog.site.quality.gate
        self.held_back_by_gate = frozenset(catalog.pages) if self.measuring else frozenset(
            path for path, found in self.similarity.items() if gate is not None and found.similarity > gate)
        self.held_back_as_far = frozenset() if catalog.site.quality.allow_far_towns else frozenset(
            path for path, page in catalog.pages.items() if page.far)
        self.held_back = self.held_back_by_gate | self.held_back_as_far

    def measured(self) -> Renderer:
        """This renderer with its quality gate measured: itself if it was, else a copy (the one in use keeps
        answering meanwhile) sharing its templates and catalog."""
        if not self.measuring:
            return self
        done = copy.copy(self)
        done.measuring = False
        done.similarity = done.measure_similarity()
        done._hold_back()
        return done

    # -- finding pages -------------------------------------------------------------------------

    def is_page(self, path: str) -> bool:
        return path == "/" or path in self.catalog.pages or self.catalog.hub_part(path) is not None

    def render_path(self, path: str) -> str:
        if path == "/":
            return self.render_home()
        if (page := self.catalog.pages.get(path)) is not None:
            return self.render_landing(page)
        if (part := self.catalog.hub_part(path)) is not None:
            return self.render_hub(part)
        raise KeyError(path)

    # -- rendering -------------------------------------------------------------------------------

    def render(self, template: str, context: PageContext) -> str:
        return self.env.get_template(template).render(template_vars(context))

    def home_crumb(self) -> Crumb:
        return Crumb("Home", self.catalog.url("/"))

    def render_home(self) -> str:
        practice = self.catalog.site.practice
        names = ", ".join(t.name for t in self.catalog.site.treatments)
        offices = " and ".join(o.town for o in self.catalog.site.offices)
        meta = Meta(
            title=fit(f"{practice.name}: {names}", quality.TITLE_LIMIT),
            description=fit(f"{practice.name} offers {names} from offices in {offices}, serving "
                            f"{len(self.catalog.locations)} towns nearby.", quality.DESCRIPTION_LIMIT),
            canonical=self.catalog.url("/"),
        )
        context = HomeContext(self.catalog, meta, (self.home_crumb(),), self.assets,
                              structured_data.home_graph(self.catalog), hubs=tuple(self.catalog.hubs.values()))
        return self.render("home.html", context)

    def render_hub(self, part: HubPart) -> str:
        hub, treatment, practice = part.hub, part.hub.treatment, self.catalog.site.practice
        hub_url, url = self.catalog.url(hub.path), self.catalog.url(part.path)
        crumbs: tuple[Crumb, ...] = (self.home_crumb(), Crumb(treatment.name, hub_url))
        if part.number == 1:
            states = ", ".join(dict.fromkeys(page.location.state_name for page in hub.pages))  # in hub order
            title = f"{treatment.name}: Towns We Serve"
            description = (f"{treatment.name} near you: {len(hub.pages)} towns in {states} served by "
                           f"{practice.name}. {treatment.description}")
            if treatment.article == "summary":
                # Town pages summarise the treatment and link here: the treatment's page carries the whole article.
                title = treatment.name
                description = f"{treatment.description} {practice.name} offers it in {len(hub.pages)} towns in {states}."
        else:
            title = f"{treatment.name}: Towns We Serve, Page {part.number} of {len(hub.parts)}"
            description = (f"{treatment.name} near you: towns {part.first_position:,} to "
                           f"{part.first_position + len(part.pages) - 1:,} of {len(hub.pages):,} served by "
                           f"{practice.name}, {part.label}.")
            crumbs += (Crumb(f"Page {part.number}", url),)
        meta = Meta(title=page_title(title, practice), description=fit(description, quality.DESCRIPTION_LIMIT), canonical=url)
        graph = structured_data.hub_graph(self.catalog, part, meta, crumbs)
        context = HubContext(self.catalog, meta, crumbs, self.assets, graph, part=part)
        if part.number == 1 and treatment.article == "summary":
            # No town: the template's town sentences are skipped ({% if location %}), the rest is the article.
            variables = {**template_vars(context), "treatment": treatment, "location": None, "office": None,
                         "place": "", "distance_miles": None, "office_in_town": False, "facts": LocalFacts(),
                         "nearby": ()}
            context = dataclasses.replace(context, article=self.article(treatment, variables, whole=True))
        return self.render("hub.html", context)

    def local_facts(self, page: LandingPage) -> LocalFacts:
        location, office = page.location, page.office
        county = self.catalog.county_pages(page)
        others = self.catalog.county_neighbours(page)
        labels = {column.name: column.label for column in self.catalog.site.locations.columns}
        extras = tuple((labels[name], value) for name, value in location.extras if labels.get(name) and value)
        drawing = Markup("")
        if page.distance_miles is not None and office.latitude is not None and office.longitude is not None:
            drawing = office_map(location.town, (location.latitude, location.longitude),  # type: ignore[arg-type]
                                 office.name, (office.latitude, office.longitude), page.distance_miles, page.direction)
        directions = {}
        if location.has_coordinates:
            for _, other in self.catalog.nearby(page):
                there = other.location
                directions[other.path] = compass(bearing(location.latitude, location.longitude,  # type: ignore[arg-type]
                                                         there.latitude, there.longitude))  # type: ignore[arg-type]
        return LocalFacts(direction=page.direction, alternative=page.alternative,
                          other_offices=tuple(reach for reach in page.others if reach != page.alternative),
                          county_pages=others, county_total=len(county), extras=extras, map=drawing,
                          directions=directions)

    def article(self, treatment: Treatment, variables: dict[str, Any], *, whole: bool) -> Markup:
        """The treatment's content template, rendered with ``variables``: all of it, or its summary block (none
        if it has none: the page's own description says what the treatment is)."""
        template = self.env.get_template(treatment.template)
        if whole:
            return Markup(template.render(variables))
        if "summary" not in template.blocks:
            return Markup("")
        return Markup("".join(template.blocks["summary"](template.new_context(variables))))

    def landing_context(self, page: LandingPage, form: Submission | None = None,
                        form_slot: Markup = Markup(SLOT.decode()), *, graph: bool = True) -> LandingContext:
        """The page's template context; ``graph=False`` skips the JSON-LD, for rendering <main> only."""
        meta = Meta(
            title=page_title(page.name, self.catalog.site.practice),
            description=landing_description(page),
            canonical=self.catalog.url(page.path),
            robots="noindex, follow" if page.path in self.held_back else "index, follow",
            og_type="article",
        )
        crumbs = (
            self.home_crumb(),
            Crumb(page.treatment.name, self.catalog.url(f"/{page.treatment.slug}/")),
            Crumb(page.location.place, self.catalog.url(page.path)),
        )
        nearby = tuple((round(miles), other) for miles, other in self.catalog.nearby(page))
        nodes = structured_data.landing_graph(self.catalog, page, meta, crumbs) if graph else {}
        context = LandingContext(self.catalog, meta, crumbs, self.assets, nodes, page=page, nearby=nearby, form=form,
                                 form_slot=form_slot, form_action=self.form_action, facts=self.local_facts(page),
                                 local_faqs=self.catalog.faqs_for(page))
        article = self.article(page.treatment, template_vars(context), whole=page.treatment.article == "full")
        return dataclasses.replace(context, article=article)

    def render_main(self, page: LandingPage) -> str:
        """Only what a landing page puts in <main>, which is what the quality measure reads: the same
        template and context as the whole page, without the cost of <head> and its JSON-LD."""
        template = self.env.get_template("landing.html")
        context = template.new_context(template_vars(self.landing_context(page, graph=False)))
        return "".join(template.blocks["main"](context))

    def measure_similarity(self) -> dict[str, quality.Measured]:
        """Each landing page's most similar sibling (same treatment), by the visible text of its <main>."""
        if self.quality_cache is not None:
            return self.quality_cache.measure(self)
        meter = quality.SimilarityMeter()
        for page in self.catalog.pages.values():
            meter.add(page.treatment.slug, page.path, self.render_main(page), own_names(page), (page.treatment.name,))
        return meter.results()

    def render_landing(self, page: LandingPage, form: Submission | None = None,
                       form_slot: Markup = Markup(SLOT.decode())) -> str:
        """A landing page; with ``form``, the visitor's submission shown again beside its errors."""
        return self.render("landing.html", self.landing_context(page, form, form_slot))

    def render_message(self, title: str, message: str, office: Office | None = None, *, kind: str = "message") -> str:
        """A small noindex page: thank-you, too many requests, a form that could not be read."""
        meta = Meta(title=page_title(title, self.catalog.site.practice), description=fit(message, quality.DESCRIPTION_LIMIT),
                    canonical=None, robots="noindex, nofollow")
        context = MessageContext(self.catalog, meta, (self.home_crumb(),), self.assets,
                                 structured_data.site_graph(self.catalog), title=title, message=message,
                                 office=office, kind=kind)
        return self.render("message.html", context)

    def render_not_found(self, path: str, *, suggest: bool = True) -> str:
        """The 404 page; with ``suggest``, listing the landing pages closest to ``path``."""
        meta = Meta(
            title=page_title("Page not found", self.catalog.site.practice),
            description="This page does not exist. Here are the closest pages we have.",
            canonical=None,
            robots="noindex, follow",
        )
        context = NotFoundContext(self.catalog, meta, (self.home_crumb(),), self.assets,
                                  structured_data.site_graph(self.catalog),
                                  suggestions=tuple(self.closest_pages(path)) if suggest else ())
        return self.render("404.html", context)

    def closest_pages(self, path: str, n: int = NOT_FOUND_SUGGESTIONS) -> list[LandingPage]:
        """Landing pages whose town slug is closest to what was asked, within the asked treatment if any."""
        asked = path.strip("/").lower()
        if not asked:
            return []
        first, _, rest = asked.partition("/")
        treatment = first if rest and first in self.catalog.hubs else None
        index, by_slug = self.suggestion_index(treatment)
        return [by_slug[slug] for slug in index.closest(rest.rpartition("/")[2] if rest else first, n)]

    def suggestion_index(self, treatment: str | None) -> tuple[SlugIndex, dict[str, LandingPage]]:
        """The town slugs of a treatment's pages (or of all pages), indexed once per snapshot."""
        if treatment not in self._suggestion_indexes:
            pages = self.catalog.hubs[treatment].pages if treatment is not None else self.catalog.pages.values()
            by_slug: dict[str, LandingPage] = {}
            for page in pages:
                by_slug.setdefault(page.location.slug, page)
            # A treatment offered in every town (the default) shares the index of all towns: same slugs.
            shared = self._suggestion_indexes.get(None) if treatment is not None else None
            index = shared[0] if shared is not None and by_slug.keys() == set(shared[0].slugs) else SlugIndex(by_slug)
            self._suggestion_indexes[treatment] = (index, by_slug)
        return self._suggestion_indexes[treatment]

    def prepare_suggestions(self) -> None:
        """Build every index the 404 page can ask (done where a snapshot is loaded, off the event loop)."""
        for treatment in [None, *self.catalog.hubs]:
            self.suggestion_index(treatment)
