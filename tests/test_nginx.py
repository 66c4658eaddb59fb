"""The deployment recipe, run: a real nginx with deploy/nginx/landing.conf (the very file deployed, with this test's
certificate, ports and folders put in) terminating TLS in front of two `landing serve` instances on PostgreSQL and
Redis, and serving a static build whose form posts to them. Everything goes through nginx over TLS, as a visitor's
browser would; visitors come from 127.0.0.2 and 127.0.0.3 (loopback), nginx from 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from landing.leads.guard import client_hash
from tests.html import Page
from tests.leads_helpers import token, valid_form
from tests.parts import need
from tests.servers import free_port, landing_environment, server_environment, start_server, stop, wait_until_up
from tests.test_rate_limits import REDIS_URL, redis_or_skip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SITE_CONF = ROOT / "deploy" / "nginx" / "landing.conf"
HOST = "pain.example.com"
STATIC_HOST = "static.pain.example.com"
PAGE = "/intrathecal-pump-therapy/cary-il/"
PASSWORD = "correct horse battery"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        need("nginx is not installed (Debian: apt-get install nginx-light; .ci/run installs it)")
    return found


def site_config(a: int, b: int, http: int, https: int, cert: Path, key: Path, build: Path) -> str:
    """deploy/nginx/landing.conf with this test's ports, certificate and build folder (each replaced value must be
    in the file as deployed: a change to the recipe cannot slip past this test)."""
    text = SITE_CONF.read_text()
    replacements = [
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{a} "),  # in both upstreams
        ("server 127.0.0.1:8001 ", f"server 127.0.0.1:{b} "),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("    listen [::]:80;\n", ""),  # loopback IPv4 only here
        ("    listen [::]:443 ssl http2;\n", ""),
        ("/etc/letsencrypt/live/pain.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/pain.example.com/privkey.pem", str(key)),
        ("/srv/landing/build", str(build)),
    ]
    for old, new in replacements:
        assert old in text, f"{SITE_CONF.name} no longer has {old!r}: update this test with the recipe"
        text = text.replace(old, new)
    return text


def main_config(folder: Path, site: Path) -> str:
    temporary = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    mime = "    include /etc/nginx/mime.types;\n" if Path("/etc/nginx/mime.types").exists() else ""
    return (("user root;\n" if os.geteuid() == 0 else "")  # the workers read this test's private temporary folders
            + f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
            + "events { worker_connections 256; }\n"
            + f"http {{\n{mime}    default_type application/octet-stream;\n{temporary}\n    include {site};\n}}\n")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        need("openssl is not installed: the nginx test makes its certificate with it")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST},DNS:{STATIC_HOST},IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class Stack:
    https: int
    http: int
    ports: list[int]
    servers: list[subprocess.Popen[bytes]]
    cert: Path
    secret: str
    postgres_url: str

    def client(self, source: str = "127.0.0.2", host: str = HOST) -> httpx.AsyncClient:
        """A visitor at ``source`` (a loopback address), reaching nginx over TLS for ``host``."""
        transport = httpx.AsyncHTTPTransport(local_address=source, verify=ssl.create_default_context(cafile=self.cert))
        return httpx.AsyncClient(base_url=f"https://127.0.0.1:{self.https}", transport=transport, headers={"host": host},
                                 timeout=15)

    def form(self, **changes: str) -> dict[str, str]:
        return valid_form(form_token=token(secret=self.secret), **changes)


async def postgres_rows(postgres_url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    import asyncpg

    parts = urlsplit(postgres_url)
    connection = await asyncpg.connect(urlunsplit(parts._replace(query="")), timeout=5,
                                       server_settings={"search_path": parts.query.removeprefix("search_path=")})
    try:
        return [tuple(row) for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


@pytest.fixture
async def stack(site_dir: Path, postgres_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    nginx = nginx_binary()
    await redis_or_skip()
    cert, key = make_certificate(tmp_path)
    # A secret of this run only: the rate limits in the shared Redis are keyed by a hash made with it.
    secret = secrets.token_hex(16)
    settings = {"database_url": postgres_url, "redis_url": REDIS_URL, "secret_key": secret, "base_url": f"https://{HOST}",
                "trusted_proxies": "127.0.0.1", "leads_per_address": "3", "leads_per_minute": "1000"}
    build = tmp_path / "build"
    subprocess.run([sys.executable, "-m", "landing", "build", str(build), "--quiet"], cwd=site_dir, check=True,
                   env=landing_environment(LANDING_SECRET_KEY=secret, LANDING_LEAD_URL=f"https://{HOST}/leads"),
                   capture_output=True, timeout=120)
    ports = [free_port(), free_port()]
    servers = [start_server(site_dir, port, **settings) for port in ports]
    folder = tmp_path / "nginx"
    folder.mkdir()
    http, https = free_port(), free_port()
    (folder / "landing.conf").write_text(site_config(*ports, http, https, cert, key, build))
    (folder / "nginx.conf").write_text(main_config(folder, folder / "landing.conf"))
    proxy = None
    try:
        await asyncio.gather(*(wait_until_up(port, server) for port, server in zip(ports, servers)))
        checked = subprocess.run([nginx, "-t", "-c", str(folder / "nginx.conf"), "-p", str(folder)], capture_output=True,
                                 text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        proxy = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = Stack(https, http, ports, servers, cert, secret, postgres_url)
        async with found.client() as client:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                assert proxy.poll() is None, (folder / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not come up"
                await asyncio.sleep(0.1)
        yield found
    finally:
        if proxy is not None:
            proxy.send_signal(signal.SIGQUIT)
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
        for server in servers:
            stop(server)


async def test_pages_come_through_tls_with_their_cache_headers_and_hsts(stack: Stack) -> None:
    async with stack.client() as client:
        page = await client.get(PAGE, headers={"accept-encoding": "gzip"})
        assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
        assert page.headers["cache-control"] == "public, max-age=600, stale-while-revalidate=86400"
        assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert page.headers["vary"] == "Accept-Encoding" and page.headers["etag"]
        assert f'<link rel="canonical" href="https://{HOST}{PAGE}">' in page.text
        again = await client.get(PAGE, headers={"if-none-match": page.headers["etag"], "accept-encoding": "gzip"})
        assert again.status_code == 304
        assert (await client.get("/metrics")).status_code == 404  # never through the public name
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.http}", headers={"host": HOST}) as plain:
        redirect = await plain.get(PAGE)
        assert redirect.status_code == 301 and redirect.headers["location"] == f"https://{HOST}{PAGE}"


async def test_a_lead_is_stored_once_and_limited_by_the_real_address_which_a_forged_header_cannot_change(
    stack: Stack,
) -> None:
    async with stack.client("127.0.0.2") as visitor, stack.client("127.0.0.3") as neighbour:
        for n, forged in enumerate(["203.0.113.7", "198.51.100.1, 203.0.113.8", "127.0.0.9"]):
            response = await visitor.post("/leads", data=stack.form(name=f"Forger {n}"), headers={"x-forwarded-for": forged})
            assert response.status_code == 303 and response.headers["location"].startswith("/thank-you/")
        limited = await visitor.post("/leads", data=stack.form(name="Forger 3"), headers={"x-forwarded-for": "192.0.2.50"})
        assert limited.status_code == 429  # LANDING_LEADS_PER_ADDRESS=3, counted in Redis across both instances
        assert (await neighbour.post("/leads", data=stack.form(name="Neighbour"))).status_code == 303
    stored = await postgres_rows(stack.postgres_url, "SELECT name, client_hash FROM leads ORDER BY name")
    assert [name for name, _ in stored] == ["Forger 0", "Forger 1", "Forger 2", "Neighbour"]  # each once
    hashes = {name: hashed for name, hashed in stored}
    assert {hashes[f"Forger {n}"] for n in range(3)} == {client_hash(stack.secret, "127.0.0.2")}  # not nginx's, not forged
    assert hashes["Neighbour"] == client_hash(stack.secret, "127.0.0.3")


async def test_staff_sign_in_through_the_proxy_gets_a_secure_cookie_and_hsts(stack: Stack) -> None:
    env = landing_environment(LANDING_DATABASE_URL=stack.postgres_url)
    subprocess.run([sys.executable, "-m", "landing", "users", "add", "staff@example.com"], input=PASSWORD + "\n",
                   text=True, env=env, check=True, capture_output=True, timeout=60)
    async with stack.client() as client:
        login = Page((await client.get("/admin/login")).text)
        form = {"email": "staff@example.com", "password": PASSWORD,
                "token": login.all("input", name="token")[0]["value"], "next": login.all("input", name="next")[0]["value"]}
        signed_in = await client.post("/admin/login", data=form)
        assert signed_in.status_code == 303
        cookie = next(value for name, value in signed_in.headers.multi_items() if name == "set-cookie"
                      and value.startswith("landing_session="))
        assert "; secure" in cookie.lower() and "; httponly" in cookie.lower()
        assert signed_in.headers["strict-transport-security"].startswith("max-age=31536000")
        leads = await client.get("/admin/leads")
        assert leads.status_code == 200 and leads.headers["cache-control"] == "no-store"


async def test_the_static_build_is_served_by_the_same_nginx_and_its_form_posts_to_the_service(stack: Stack) -> None:
    async with stack.client("127.0.0.4", host=STATIC_HOST) as static, stack.client("127.0.0.4") as service:
        page = await static.get(PAGE)
        assert page.status_code == 200 and "script-src 'none'" in page.headers["content-security-policy"]
        form = Page(page.text).all("form", method="post")[0]
        assert form["action"] == f"https://{HOST}/leads#enquire"
        hidden = {field["name"]: field.get("value", "") for field in Page(page.text).all("input", type="hidden")}
        assert hidden["form_token"].startswith("build.")
        assert (await static.get("/no-such-town/")).status_code == 404
        await asyncio.sleep(3.1)  # a person takes more than 3 seconds (the service's own pages check it; a build cannot)
        answer = await service.post(urlsplit(form["action"]).path,
                                    data={**valid_form(name="Static Visitor"), **hidden, "website": ""},
                                    headers={"origin": f"https://{STATIC_HOST}"})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/thank-you/")
    stored = await postgres_rows(stack.postgres_url, "SELECT spam FROM leads WHERE name = $1", "Static Visitor")
    assert stored == [(0,)]


async def test_with_one_instance_gone_pages_and_leads_go_to_the_other(stack: Stack) -> None:
    stop(stack.servers[0])
    async with stack.client("127.0.0.5") as client:
        for _ in range(4):  # both upstreams are tried in turn: the dead one is skipped
            assert (await client.get(PAGE)).status_code == 200
        for n in range(2):
            assert (await client.post("/leads", data=stack.form(name=f"Failover {n}"))).status_code == 303
    stored = await postgres_rows(stack.postgres_url, "SELECT name FROM leads WHERE name LIKE 'Failover %' ORDER BY name")
    assert stored == [("Failover 0",), ("Failover 1",)]


# `landing serve` as a large gated site starts: its town pages answer 503 until the quality gate is measured,
# which here never ends (this small site is counted as large, and its measure waits forever).
MEASURING = """
import sys, threading
from landing.cli import main
from landing.pages import Renderer
from landing.web import live
live.PROVISIONAL_PAGES = 1
Renderer.measure_similarity = lambda renderer: threading.Event().wait()
sys.exit(main(["serve", *sys.argv[1:]]))
"""


def start_measuring(stack: Stack, number: int, site_dir: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Instance ``number`` replaced by one that is starting a gated site, on the same port and database."""
    stop(stack.servers[number])
    folder = tmp_path / f"measuring-{number}"
    shutil.copytree(site_dir, folder, ignore=shutil.ignore_patterns("leads.sqlite3*"))
    (folder / "site.toml").write_text((folder / "site.toml").read_text() + "\n[quality]\ngate = 0.5\n")
    env = server_environment(folder, database_url=stack.postgres_url, redis_url=REDIS_URL, secret_key=stack.secret,
                             base_url=f"https://{HOST}", trusted_proxies="127.0.0.1", leads_per_address="10",
                             leads_per_minute="1000")
    port = stack.ports[number]
    stack.servers[number] = subprocess.Popen(
        [sys.executable, "-c", MEASURING, "--host", "127.0.0.1", "--port", str(port)], cwd=folder, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # (stopped with the stack's own)
    return stack.servers[number]


async def test_an_instance_starting_sends_its_pages_visitors_to_the_other_and_takes_leads(
        stack: Stack, site_dir: Path, tmp_path: Path) -> None:
    measuring = start_measuring(stack, 0, site_dir, tmp_path)
    await wait_until_up(stack.ports[0], measuring)
    async with httpx.AsyncClient() as direct:
        assert (await direct.get(f"http://127.0.0.1:{stack.ports[0]}{PAGE}")).status_code == 503  # measuring
    async with stack.client("127.0.0.6") as client:
        for n in range(3):  # (the other instance takes 3 leads an address) each instance in turn: the one
            for _ in range(2):  # measuring answers a page 503, and the other is asked
                assert (await client.get(PAGE)).status_code == 200
            assert (await client.post("/leads", data=stack.form(name=f"Starting {n}"))).status_code == 303
            assert (await client.get("/")).status_code == 200
    stored = await postgres_rows(stack.postgres_url, "SELECT name FROM leads WHERE name LIKE 'Starting %' ORDER BY name")
    assert stored == [(f"Starting {n}",) for n in range(3)]  # each once, whichever instance took it


async def test_with_both_instances_starting_pages_say_so_and_leads_are_taken(
        stack: Stack, site_dir: Path, tmp_path: Path) -> None:
    for number in (0, 1):
        await wait_until_up(stack.ports[number], start_measuring(stack, number, site_dir, tmp_path))
    async with stack.client("127.0.0.8") as client:
        for n in range(6):  # never nginx's own 502, however many 503s came before
            page = await client.get(PAGE)
            assert page.status_code == 503 and page.headers["retry-after"] == "30", page.text[:200]
            assert "(847) 555-0142" in page.text  # the town's office: a visitor may call instead
            assert (await client.post("/leads", data=stack.form(name=f"Both {n}"))).status_code == 303
            assert (await client.get("/")).status_code == 200
    stored = await postgres_rows(stack.postgres_url, "SELECT name FROM leads WHERE name LIKE 'Both %' ORDER BY name")
    assert stored == [(f"Both {n}",) for n in range(6)]


def test_the_recipe_passes_nginx_s_own_check_as_deployed_apart_from_its_files(tmp_path: Path) -> None:
    nginx = nginx_binary()
    cert, key = make_certificate(tmp_path)
    site = tmp_path / "landing.conf"
    site.write_text(site_config(8000, 8001, free_port(), free_port(), cert, key, tmp_path))
    (tmp_path / "nginx.conf").write_text(main_config(tmp_path, site))
    checked = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert re.search(r"warn|emerg", checked.stderr) is None, checked.stderr


async def test_a_marketer_uploads_towns_larger_than_a_form_through_the_proxy(stack: Stack, site_dir: Path) -> None:
    env = landing_environment(LANDING_DATABASE_URL=stack.postgres_url)
    subprocess.run([sys.executable, "-m", "landing", "users", "add", "marketing@example.com", "--role", "marketer"],
                   input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True, timeout=60)
    text = (site_dir / "locations.csv").read_text(encoding="utf-8")
    # Notes are never published: a megabyte of them makes the file larger than any form (64 KiB at nginx).
    big = "\n".join(line + "x" * 100_000 if index else line
                    for index, line in enumerate(text.rstrip("\n").split("\n"))) + "\n"
    assert len(big) > 1_000_000
    async with stack.client() as client:
        login = Page((await client.get("/admin/login")).text)
        form = {"email": "marketing@example.com", "password": PASSWORD,
                "token": login.all("input", name="token")[0]["value"], "next": "/admin/site/"}
        assert (await client.post("/admin/login", data=form)).status_code == 303
        csrf = Page((await client.get("/admin/site/")).text).all("input", name="csrf")[0]["value"]
        uploaded = await client.post("/admin/site/upload", data={"csrf": csrf},
                                     files={"towns": ("locations.csv", big.encode(), "text/csv")})
        assert uploaded.status_code == 303, uploaded.text
        preview = await client.get(uploaded.headers["location"])  # either instance: the draft is in the database
        assert preview.status_code == 200 and "0 pages added" in preview.text
