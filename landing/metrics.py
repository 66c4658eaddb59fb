"""The figures an operator watches, in the Prometheus text format (prometheus-client): leads, notifications,
the page cache, reloads, the site version and request latency.

One registry per app (tests build many apps in one process). Labels are fixed words (a route family, a
refusal reason, the site version): never a path, a query string or anything a visitor typed.
Figures that already live elsewhere (the page cache's hit counts, the outbox) are read when scraped rather
than counted on the request path.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Route families, the only label of request latency.
FAMILIES = ("page", "not_found", "redirect", "lead", "thank_you", "admin", "static", "feed", "health", "metrics", "other")
# Why a lead post was not stored as a lead (labels of landing_leads_refused_total).
REFUSALS = ("rate_limited", "invalid", "expired", "page_gone", "unreadable", "too_large", "not_a_form", "store_failed")
# Seconds: a cached page answers in well under a millisecond; a lead waits for a commit; a stuck part takes seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _CacheCollector(Collector):
    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        hits, misses = self.counts()
        yield CounterMetricFamily("landing_page_cache_hits", "Page requests answered from the render cache", value=hits)
        yield CounterMetricFamily("landing_page_cache_misses", "Page requests that rendered the page (then cached)",
                                  value=misses)


class Latency(Collector):
    """Request latency by route family, a Prometheus histogram counted without a lock.

    It is counted on the hot path (a cached page costs about 100 us of CPU in all): prometheus_client's
    Histogram.observe takes a lock and costs about 2 us there; every request is answered on the event loop's
    one thread, so plain counters are exact, and they cost a fifth of that. tests/test_metrics.py checks the
    exposition against the library's own Histogram fed the same observations.
    """

    def __init__(self, name: str, documentation: str, families: tuple[str, ...], buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = buckets
        self.counts = {family: [0] * (len(buckets) + 1) for family in families}  # per bucket, the last is +Inf
        self.sums = {family: [0.0] for family in families}

    def observe(self, family: str, seconds: float) -> None:
        self.counts[family][bisect_left(self.bounds, seconds)] += 1  # the first bound >= seconds: "le"
        self.sums[family][0] += seconds

    def timer(self, family: str) -> Callable[[float], None]:
        """``observe`` for one family, with everything it needs bound: the cached-page path calls it."""
        counts, total, bounds = self.counts[family], self.sums[family], self.bounds

        def observe(seconds: float) -> None:
            counts[bisect_left(bounds, seconds)] += 1
            total[0] += seconds

        return observe

    def collect(self) -> Iterator[Metric]:
        histogram = HistogramMetricFamily(self.name, self.documentation, labels=["family"])
        for family, counts in self.counts.items():
            cumulative, buckets = 0, []
            for bound, count in zip([*map(float_text, self.bounds), "+Inf"], counts):
                cumulative += count
                buckets.append((bound, cumulative))
            histogram.add_metric([family], buckets, self.sums[family][0])
        yield histogram


def float_text(value: float) -> str:
    """A bucket bound as prometheus_client writes it."""
    return repr(float(value))


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.leads_accepted = Counter("landing_leads_accepted", "Leads stored and thanked", registry=registry)
        self.leads_spam = Counter("landing_leads_spam", "Posts flagged as spam (answered like a person's); stored: "
                                  "whether the spam budget let them be kept", ["stored"], registry=registry)
        self.leads_refused = Counter("landing_leads_refused", "Lead posts not stored, by reason", ["reason"],
                                     registry=registry)
        for reason in REFUSALS:
            self.leads_refused.labels(reason)
        for stored in ("true", "false"):
            self.leads_spam.labels(stored)
        self.notifications_sent = Counter("landing_notifications_sent", "Notifications a mail server accepted",
                                          registry=registry)
        self.notifications_failed = Counter("landing_notifications_failed", "Notification sends that failed (each is "
                                            "retried later)", registry=registry)
        self.notifications_pending = Gauge("landing_notifications_pending", "Notifications not sent yet (read when "
                                           "scraped)", registry=registry)
        self.notifications_oldest = Gauge("landing_notifications_oldest_age_seconds", "Age of the oldest unsent "
                                          "notification's lead, 0 when none (read when scraped)", registry=registry)
        self.leads_storable = Gauge("landing_leads_storable", "1 when a lead could be stored at the scrape (the "
                                    "/healthz check), else 0", registry=registry)
        self.reloads = Counter("landing_site_reloads", "Site files loaded again after an edit", registry=registry)
        self.reload_failures = Counter("landing_site_reload_failures", "Edits not loaded (invalid files, or a drop of "
                                       "pages not confirmed), the previous version still serving", registry=registry)
        self.site = Info("landing_site", "The site version being served (a digest of its files) and its pages",
                         registry=registry)
        self.pages = Gauge("landing_site_pages", "Pages of the site being served", registry=registry)
        self.measuring = Gauge("landing_site_measuring", "1 while the town pages answer 503 until the quality gate has "
                               "measured them (a large gated site starting), else 0", registry=registry)
        self.load_seconds = Gauge("landing_site_load_seconds", "Seconds the last load of the site files took, the "
                                  "quality gate's measure included", registry=registry)
        self.latency = Latency("landing_request_duration_seconds", "Time to answer a request, by route family",
                               FAMILIES, LATENCY_BUCKETS)
        registry.register(self.latency)

    def watch_cache(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Report the page cache's (hits, misses), read at each scrape."""
        self.registry.register(_CacheCollector(counts))

    def observe(self, family: str, seconds: float) -> None:
        self.latency.observe(family if family in self.latency.sums else "other", seconds)

    def site_loaded(self, version: str, pages: int) -> None:
        self.site.info({"version": version})
        self.pages.set(pages)

    def site_measured(self, measuring: bool, seconds: float) -> None:
        """A load (or the startup's measure) that took ``seconds``; whether town pages still await the gate."""
        self.measuring.set(int(measuring))
        self.load_seconds.set(seconds)

    def health(self, storable: bool, pending: int | None, oldest_seconds: float | None) -> None:
        """What the last health check found (the backlog only when the database told it)."""
        self.leads_storable.set(int(storable))
        if pending is not None:
            self.notifications_pending.set(pending)
            self.notifications_oldest.set(oldest_seconds or 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
