"""/metrics: the Prometheus figures an operator watches, only for the addresses allowed, with no visitor's data in
any label."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from landing.errors import LandingError
from landing.metrics import FAMILIES, REFUSALS
from landing.settings import Settings
from landing.snapshot import site_version
from tests.conftest import ClientFactory
from tests.leads_helpers import valid_form
from tests.servers import until

PAGE = "/intrathecal-pump-therapy/cary-il/"
PERSONAL = ("Zebediah", "zebediah.quux", "555-0199", "5550199", "private question")


def personal_form(**changes: str) -> dict[str, str]:
    return valid_form(**{"name": "Zebediah Quux", "email": "zebediah.quux@example.com", "phone": "(847) 555-0199",
                         "message": "My private question", **changes})


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


async def test_metrics_count_leads_pages_cache_and_latency_with_no_visitor_data_in_labels(
    make_client: ClientFactory, settings: Settings
) -> None:
    client = await make_client(leads_per_address=2)
    for _ in range(2):  # a miss, then a hit
        assert (await client.get(f"{PAGE}?utm_source=secret-campaign&gclid=click-123")).status_code == 200
    assert (await client.get("/intrathecal-pump-therapy/nowhere-il/?q=Zebediah")).status_code == 404
    assert (await client.post("/leads", data=personal_form())).status_code == 303
    assert (await client.post("/leads", data=personal_form(website="http://bot.example"))).status_code == 303
    assert (await client.post("/leads", data=personal_form(phone="bad"))).status_code == 422
    assert (await client.post("/leads", data=personal_form())).status_code == 429
    assert (await client.post("/leads", content=b"<xml/>", headers={"content-type": "text/xml"})).status_code == 415
    figures = await scrape(client)

    assert figures[("landing_leads_accepted_total", ())] == 1
    assert figures[("landing_leads_spam_total", (("stored", "true"),))] == 1
    refused = {reason: figures[("landing_leads_refused_total", (("reason", reason),))] for reason in REFUSALS}
    assert refused == {**dict.fromkeys(REFUSALS, 0.0), "invalid": 1, "rate_limited": 1, "not_a_form": 1}
    assert figures[("landing_page_cache_misses_total", ())] >= 1 and figures[("landing_page_cache_hits_total", ())] >= 1
    assert figures[("landing_site_info", (("version", site_version(settings)),))] == 1
    assert figures[("landing_site_pages", ())] == 18
    assert figures[("landing_leads_storable", ())] == 1
    assert figures[("landing_notifications_pending", ())] in (0, 1)
    counts = {family: figures.get(("landing_request_duration_seconds_count", (("family", family),)), 0)
              for family in FAMILIES}
    assert counts["page"] == 2 and counts["not_found"] == 1 and counts["lead"] == 5

    labels = {value for (_, pairs) in figures for _, value in pairs}
    assert labels <= {*FAMILIES, *REFUSALS, "true", "false", site_version(settings), *(f"{b}" for b in _buckets())}
    text = (await client.get("/metrics")).text
    for secret in (*PERSONAL, "secret-campaign", "click-123", "nowhere", "cary", "?"):
        assert secret not in text, secret


def _buckets() -> list[str]:
    from landing.metrics import LATENCY_BUCKETS

    return [*(str(float(bucket)) for bucket in LATENCY_BUCKETS), "+Inf"]


async def test_notifications_pending_and_their_age_are_read_from_the_outbox(make_client: ClientFactory) -> None:
    from tests.mail import free_port

    client = await make_client(smtp_url=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    for _ in range(3):
        assert (await client.post("/leads", data=valid_form())).status_code == 303
    await asyncio.sleep(1.1)
    figures = await scrape(client)
    assert figures[("landing_notifications_pending", ())] == 3
    assert 1 <= figures[("landing_notifications_oldest_age_seconds", ())] < 30
    assert figures[("landing_notifications_failed_total", ())] >= 1


async def test_reloads_and_refused_reloads_are_counted_and_the_version_follows(
    make_client: ClientFactory, site_dir: Path, settings: Settings
) -> None:
    client = await make_client(reload_interval=0.05, reload_settle_seconds=0.05)
    site = site_dir / "site.toml"
    site.write_text(site.read_text().replace('phone = "(815) 555-0167"', 'phone = "(815) 555-0199"'))

    async def reloaded() -> bool:
        return (await scrape(client)).get(("landing_site_reloads_total", ()), 0) == 1

    await until(reloaded)
    assert (await scrape(client))[("landing_site_info", (("version", site_version(settings)),))] == 1
    with (site_dir / "locations.csv").open("a", encoding="utf-8") as csv:
        csv.write("Nowhere,XX,,,,,,,,,,\n")

    async def refused() -> bool:
        return (await scrape(client)).get(("landing_site_reload_failures_total", ()), 0) == 1

    await until(refused)


async def test_metrics_answer_only_the_addresses_allowed(make_client: ClientFactory) -> None:
    stranger = await make_client(client_address="203.0.113.9")
    refused = await stranger.get("/metrics")
    assert refused.status_code == 403 and "LANDING_METRICS_ALLOW" in refused.text
    assert refused.headers["cache-control"] == "no-store"
    assert (await (await make_client(client_address="::1")).get("/metrics")).status_code == 200
    assert (await (await make_client(client_address="10.1.2.3", metrics_allow="10.0.0.0/8")).get("/metrics")).status_code == 200
    assert (await (await make_client(metrics_allow="")).get("/metrics")).status_code == 403


def test_the_metrics_allow_setting_is_checked_and_none_allows_nobody() -> None:
    assert Settings.from_env({"LANDING_METRICS_ALLOW": "none"}).metrics_allow == ""
    assert Settings.from_env({"LANDING_METRICS_ALLOW": "10.0.0.0/8, ::1"}).metrics_allow == "10.0.0.0/8, ::1"
    with pytest.raises(LandingError, match="'localhost' is not an IP address or network"):
        Settings.from_env({"LANDING_METRICS_ALLOW": "127.0.0.1, localhost"})


def test_the_lock_free_latency_histogram_writes_what_prometheus_client_s_histogram_writes() -> None:
    import random

    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from landing.metrics import LATENCY_BUCKETS, Latency

    ours, theirs = CollectorRegistry(), CollectorRegistry()
    latency = Latency("landing_request_duration_seconds", "Time to answer a request, by route family", FAMILIES,
                      LATENCY_BUCKETS)
    ours.register(latency)
    reference = Histogram("landing_request_duration_seconds", "Time to answer a request, by route family", ["family"],
                          buckets=LATENCY_BUCKETS, registry=theirs)
    for family in FAMILIES:
        reference.labels(family)
    rng = random.Random(19)
    samples = [*LATENCY_BUCKETS, 0.0, 20.0, *(rng.expovariate(1 / 0.01) for _ in range(5000))]  # bounds themselves too
    timers = {family: latency.timer(family) for family in FAMILIES}  # what the cached-page path calls
    for n, seconds in enumerate(samples):
        family = rng.choice(FAMILIES)
        if n % 2:
            latency.observe(family, seconds)
        else:
            timers[family](seconds)
        reference.labels(family).observe(seconds)

    def without_created(registry: CollectorRegistry) -> str:
        return "\n".join(line for line in generate_latest(registry).decode().splitlines() if "_created" not in line)

    assert without_created(ours) == without_created(theirs)
