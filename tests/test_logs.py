"""Logs an operator can use: one line per event (text or JSON), each with its request's id; a failure that repeats
summarised rather than logged per try; a storage failure's cause in plain words; never a patient's details."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest

from landing.logs import REQUEST_ID, JsonFormatter, Repeated, TextFormatter, install_request_ids
from tests.conftest import ClientFactory
from tests.leads_helpers import change, valid_form
from tests.servers import free_port, start_server, stop, until, wait_until_up

PERSONAL = ("Zebediah", "zebediah.quux", "555-0199", "5550199", "private question")
REFUSE_INSERTS = "CREATE TRIGGER refuse BEFORE INSERT ON leads BEGIN SELECT RAISE(ABORT, 'Zebediah'); END"


def personal_form(**changes: str) -> dict[str, str]:
    return valid_form(**{"name": "Zebediah Quux", "email": "zebediah.quux@example.com", "phone": "(847) 555-0199",
                         "message": "My private question", **changes})


def a_record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    install_request_ids()
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.getLogger("landing.test").makeRecord("landing.test", logging.ERROR, __file__, 1, message, args,
                                                         exc_info)


def raised() -> ValueError:
    try:
        raise ValueError("first line\nsecond line")
    except ValueError as exc:
        return exc


def test_a_text_line_is_one_line_whatever_the_message_or_traceback_and_names_the_request() -> None:
    token = REQUEST_ID.set("3f2a9c")
    try:
        record = a_record("site files are invalid:\n%s", "locations.csv:12: bad state\nlocations.csv:13: bad zip",
                          exc=raised())
    finally:
        REQUEST_ID.reset(token)
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert " ERROR landing.test request=3f2a9c site files are invalid: | locations.csv:12: bad state | " in line
    assert "Traceback (most recent call last): | " in line and "ValueError: first line | second line" in line


def test_a_json_line_is_one_object_with_the_request_id_and_the_traceback() -> None:
    token = REQUEST_ID.set("3f2a9c")
    try:
        record = a_record("could not store lead %s", "0190abc", exc=raised())
    finally:
        REQUEST_ID.reset(token)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    event = json.loads(line)
    assert event["level"] == "ERROR" and event["logger"] == "landing.test"
    assert event["message"] == "could not store lead 0190abc" and event["request_id"] == "3f2a9c"
    assert event["time"].endswith("Z") and "ValueError: first line\nsecond line" in event["exception"]
    assert "request_id" not in json.loads(JsonFormatter().format(a_record("outside a request")))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_repeated_failure_is_logged_once_then_summarised_once_a_minute_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    repeated = Repeated(logging.getLogger("landing.test"), every=60, clock=clock)
    caplog.set_level(logging.INFO, logger="landing.test")
    repeated.success("fine")  # nothing was failing: nothing to say
    for _ in range(100):  # a poll every half second for 50 s
        repeated.failure("disk full", "could not write: %s", "disk full")
        clock.now += 0.5
    clock.now += 10
    repeated.failure("disk full", "could not write: %s", "disk full")
    repeated.failure("timed out", "could not write: %s", "timed out")  # another cause: said at once
    clock.now += 5
    repeated.success("writes work again")
    assert [record.getMessage() for record in caplog.records] == [
        "could not write: disk full",
        "could not write: disk full (again: 100 more times in the last 60 s)",
        "could not write: timed out",
        "writes work again (after 1 failure over 5 s)",
    ]


async def test_a_request_s_log_lines_carry_its_id_which_the_response_gives_back(
    make_client: ClientFactory, site_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="landing")
    client = await make_client()
    await asyncio.to_thread(change, site_dir / "leads.sqlite3", REFUSE_INSERTS)
    response = await client.post("/leads", data=personal_form())
    assert response.status_code == 503
    request_id = response.headers["x-request-id"]
    (failure,) = [record for record in caplog.records if "could not store lead" in record.getMessage()]
    assert f"request={request_id} " in TextFormatter().format(failure)
    assert json.loads(JsonFormatter().format(failure))["request_id"] == request_id
    # A proxy's well-formed id is kept (nginx sends $request_id), so its log and ours match; a forged one is not.
    kept = await client.get("/no-such-page/", headers={"x-request-id": "7d2c0c6b9a1e4f0e8c3b5a4d2e1f0a9b"})
    assert kept.headers["x-request-id"] == "7d2c0c6b9a1e4f0e8c3b5a4d2e1f0a9b"
    forged = await client.get("/no-such-page/", headers={"x-request-id": "x" * 65})
    assert forged.headers["x-request-id"] != "x" * 65 and len(forged.headers["x-request-id"]) == 16


async def test_no_personal_field_reaches_any_log_line_in_either_format_even_when_storing_fails(
    make_client: ClientFactory, site_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client()
    assert (await client.post("/leads", data=personal_form())).status_code == 303
    assert (await client.post("/leads", data=personal_form(phone="bad"))).status_code == 422
    assert (await client.post("/leads", data=personal_form(website="x"))).status_code == 303
    await asyncio.to_thread(change, site_dir / "leads.sqlite3", REFUSE_INSERTS)  # its message quotes the name
    assert (await client.post("/leads", data=personal_form())).status_code == 503
    await asyncio.sleep(1.05)
    assert (await client.get("/healthz")).status_code == 503
    lines = [formatter.format(record) for record in caplog.records for formatter in (TextFormatter(), JsonFormatter())]
    assert any("could not store lead" in line for line in lines)
    assert any("leads cannot be stored" in line for line in lines)
    for secret in PERSONAL:
        assert not any(secret in line for line in lines), secret


async def test_an_outbox_that_keeps_failing_is_one_log_line_not_a_traceback_per_poll(
    make_client: ClientFactory, site_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="landing")
    client = await make_client(notify_retry_seconds=0.05)  # a poll every 50 ms
    await asyncio.to_thread(change, site_dir / "leads.sqlite3",
                            "CREATE TRIGGER stuck BEFORE UPDATE ON outbox BEGIN SELECT RAISE(ABORT, 'no'); END")
    assert (await client.post("/leads", data=valid_form())).status_code == 303
    await asyncio.sleep(1.5)  # about 30 polls, each failing
    await asyncio.to_thread(change, site_dir / "leads.sqlite3", "DROP TRIGGER stuck")
    await until(lambda: any("outbox answers again" in record.getMessage() for record in caplog.records))
    worker = [record for record in caplog.records if record.name == "landing.notify"]
    failures = [record for record in worker if "notification worker" in record.getMessage()
                and "answers again" not in record.getMessage()]
    assert len(failures) == 1 and not any(record.exc_info for record in worker)
    assert failures[0].getMessage().startswith("notification worker: could not write to the lead database: ")
    (recovered,) = [record for record in worker if "answers again" in record.getMessage()]
    assert "failures over" in recovered.getMessage()


@pytest.mark.slow
async def test_landing_serve_logs_one_json_object_per_line_with_log_format_json(site_dir: Path) -> None:
    port = free_port()
    log = site_dir / "server.log"
    server = start_server(site_dir, port, log_format="json", reload_interval="0.05", reload_settle_seconds="0.05",
                          log=log)
    try:
        await wait_until_up(port, server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.post("/leads", data=personal_form())).status_code == 303
            with (site_dir / "locations.csv").open("a", encoding="utf-8") as csv:
                csv.write("Nowhere,XX,,,,,,,,,,\n")  # an invalid edit: a multi-line message of every problem

            async def reported() -> bool:
                return bool((await client.get("/healthz")).json()["reload_error"])

            await until(reported)
    finally:
        stop(server)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= event.keys() for event in events)
    assert any(event["logger"] == "uvicorn.error" and "Uvicorn running" in event["message"] for event in events)
    assert any("is not a US state" in event["message"] for event in events)
    assert any("no SMTP configured" in event["message"] for event in events)
    assert not any(secret in "\n".join(lines) for secret in PERSONAL)
