"""The quality cache: a reload measures only the pages whose text changed, and gets what measuring every page gets."""

from __future__ import annotations

import csv
import os
import pickle
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from landing import forked, quality, quality_cache
from landing.check import check_site
from landing.pages import Renderer, StaticAssets
from landing.quality_cache import QualityCache
from landing.settings import Settings
from landing.snapshot import Snapshot, load_snapshot
from tests.parts import need

COUNTIES = [f"County {number}" for number in range(25)]  # a handful of towns each


def write_towns(csv_file: Path, count: int, seed: int = 3) -> list[list[str]]:
    """``count`` towns around the test offices, a third of them with an intro of their own."""
    rng = random.Random(seed)
    rows = [["town", "state", "county", "latitude", "longitude", "intro"]]
    for number in range(count):
        intro = (f"Patients from town {number} often mention the {rng.choice(['river', 'lake', 'mill', 'park'])} "
                 f"trail and the {rng.choice(['market', 'festival', 'library'])} on {rng.choice(['Main', 'Oak'])} "
                 "Street." if rng.random() < 0.3 else "")
        rows.append([f"Town {number}", "IL", rng.choice(COUNTIES), f"{rng.uniform(40.0, 44.0):.4f}",
                     f"{rng.uniform(-91.0, -86.0):.4f}", intro])
    save(csv_file, rows)
    return rows


def save(csv_file: Path, rows: list[list[str]]) -> None:
    with csv_file.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)


def full_measure(snapshot: Snapshot, settings: Settings) -> dict[str, quality.Measured]:
    """Every page rendered, shingled and compared: no cache."""
    return Renderer(snapshot.catalog, settings.templates_dir, StaticAssets(settings.static_dir)).measure_similarity()


def cached(settings: Settings, cache: QualityCache) -> tuple[Snapshot, dict[str, quality.Measured]]:
    snapshot = load_snapshot(settings)
    renderer = Renderer(snapshot.catalog, settings.templates_dir, StaticAssets(settings.static_dir), quality_cache=cache)
    return snapshot, renderer.measure_similarity()


def same_figures(got: dict[str, quality.Measured], want: dict[str, quality.Measured]) -> None:
    assert sorted(got) == sorted(want)
    assert {path: found.similarity for path, found in got.items()} == pytest.approx(
        {path: found.similarity for path, found in want.items()}, abs=1e-12)
    for path, found in got.items():  # the twin named is one as similar as the full measure's (ties may differ)
        assert (found.twin is None) == (want[path].twin is None)


@pytest.fixture
def towns(site_dir: Path, settings: Settings) -> list[list[str]]:
    return write_towns(settings.locations_file, 150)


@pytest.fixture
def compare_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compare changed pages with every page however many there are (on a small site, a few edits are more than
    the share past which everything is measured again)."""
    monkeypatch.setattr(quality_cache, "REMEASURE_SHARE", 1.0)


def test_a_reload_after_one_towns_edit_measures_only_its_pages_and_matches_measuring_everything(
        towns: list[list[str]], settings: Settings, tmp_path: Path) -> None:
    cache = QualityCache(tmp_path / "quality.cache")
    snapshot, first = cached(settings, cache)
    assert cache.measured == len(snapshot.catalog.pages)
    same_figures(first, full_measure(snapshot, settings))
    # The page most like another gets an intro of its own: its pages are measured again, and the pages that
    # had it as their closest sibling are compared with every page again.
    top = max(first.values(), key=lambda found: found.similarity)
    row = snapshot.catalog.pages[top.path].location.line - 1
    towns[row][5] = ("Our patients from here often mention the river trail, the old mill on Main Street, the Saturday "
                     "farmers market by the train station, and the lake where the summer festival is held in July.")
    save(settings.locations_file, towns)
    snapshot, second = cached(settings, cache)
    assert cache.measured == sum(page.location.line - 1 == row for page in snapshot.catalog.pages.values())
    same_figures(second, full_measure(snapshot, settings))
    assert second[top.path].similarity < top.similarity


def test_renamed_removed_and_added_towns_give_what_measuring_everything_gives(
        towns: list[list[str]], settings: Settings, tmp_path: Path, compare_changed: None) -> None:
    cache = QualityCache(tmp_path / "quality.cache")
    cached(settings, cache)
    towns[5][0] = "Renamed Town"  # its pages move; its county's and its neighbours' pages name it
    del towns[20]
    towns.append(["New Town", "IL", "County 3", "42.0000", "-88.0000", ""])
    towns.append(["Twin Of Town 7", *towns[8][1:]])  # a twin of a page that had another closest sibling
    save(settings.locations_file, towns)
    snapshot, measured = cached(settings, cache)
    assert 0 < cache.measured < len(snapshot.catalog.pages) / 2
    same_figures(measured, full_measure(snapshot, settings))


@pytest.mark.parametrize("share", [0.5, 0.9])
def test_the_gates_decisions_are_those_of_measuring_everything(
        towns: list[list[str]], settings: Settings, tmp_path: Path, share: float, compare_changed: None) -> None:
    cache = QualityCache(tmp_path / "quality.cache")
    _, first = cached(settings, cache)
    values = sorted(found.similarity for found in first.values())
    gate = values[int(len(values) * share)]
    site = settings.site_file
    site.write_text(site.read_text() + f"\n[quality]\ngate = {gate}\n")
    for number in (3, 40, 77):
        towns[number][5] = f"Town {number} has a new clinic on the square, open since the spring of {2000 + number}."
    save(settings.locations_file, towns)
    snapshot, measured = cached(settings, cache)
    full = full_measure(snapshot, settings)
    assert {path for path, found in measured.items() if found.similarity > gate} == \
        {path for path, found in full.items() if found.similarity > gate}


def test_a_new_process_starts_from_the_cache_file(towns: list[list[str]], settings: Settings, tmp_path: Path) -> None:
    _, first = cached(settings, QualityCache(tmp_path / "quality.cache"))
    later = QualityCache(tmp_path / "quality.cache")  # what a restart, landing check or landing build finds
    _, again = cached(settings, later)
    assert later.measured == 0
    assert again == first


def test_a_damaged_cache_file_is_measured_afresh_and_replaced(
        towns: list[list[str]], settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "quality.cache"
    file.write_bytes(b"not a cache")
    cache = QualityCache(file)
    snapshot, measured = cached(settings, cache)
    assert cache.measured == len(snapshot.catalog.pages)
    same_figures(measured, full_measure(snapshot, settings))
    assert QualityCache(file).measure(snapshot.renderer) == measured


class Planted:
    """What a file an attacker planted at the cache's path would make the service do when unpickled."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(Planted.proof),))

    proof = Path()


def test_a_cache_file_that_would_run_code_is_refused_and_measured_afresh(
        towns: list[list[str]], settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "quality.cache"
    Planted.proof = tmp_path / "ran"
    file.write_bytes(pickle.dumps({"format": (quality_cache.FORMAT, sys.version), "groups": Planted()}))
    cache = QualityCache(file)
    snapshot, measured = cached(settings, cache)
    assert not Planted.proof.exists()
    assert cache.measured == len(snapshot.catalog.pages)
    same_figures(measured, full_measure(snapshot, settings))


def test_an_edited_template_measures_every_page_again(
        towns: list[list[str]], settings: Settings, tmp_path: Path) -> None:
    cache = QualityCache(tmp_path / "quality.cache")
    cached(settings, cache)
    template = next((settings.templates_dir / "treatments").glob("*.html"))
    template.write_text(template.read_text().replace("<p>", "<p>Ask us about it. ", 1))
    snapshot, measured = cached(settings, cache)
    assert cache.measured == len(snapshot.catalog.pages)
    same_figures(measured, full_measure(snapshot, settings))


def test_landing_check_reports_the_same_figures_from_the_cache(
        towns: list[list[str]], settings: Settings, tmp_path: Path) -> None:
    settings = settings.replace(quality_cache=tmp_path / "quality.cache")
    first = check_site(settings).quality
    towns[9][5] = "A town with a story of its own, told by the patients who come from it."
    save(settings.locations_file, towns)
    cache = QualityCache(settings.quality_cache)  # as a second `landing check` process would start
    snapshot = load_snapshot(settings)
    with cache.run(snapshot.renderer) as run:
        wanted = [page.path for page in snapshot.catalog.pages.values() if run.wants(page)]
    assert wanted == [page.path for page in snapshot.catalog.pages.values() if page.location.line == 10]
    second = check_site(settings).quality
    assert first is not None and second is not None
    full = full_measure(snapshot, settings)
    assert {page.path: page.similarity for page in second.pages} == pytest.approx(
        {path: found.similarity for path, found in full.items()}, abs=1e-12)


def test_pages_measured_in_worker_processes_get_the_figures_of_one_process(
        towns: list[list[str]], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "MIN_ITEMS", 10**9)
    one = QualityCache()
    _, alone = cached(settings, one)
    monkeypatch.setattr(forked, "MIN_ITEMS", 2)
    monkeypatch.setattr(forked, "cores", lambda: 2)
    several = QualityCache()
    _, spread = cached(settings, several)
    assert spread == alone
    # and the index kept for the next edit (made here while the workers find the twins) is the same
    assert [vars(group.index) for group in several.groups.values()] == [vars(group.index) for group in one.groups.values()]


def test_a_reload_thread_beside_a_busy_one_measures_in_worker_processes(
        towns: list[list[str]], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the service: the measure runs in a thread while another works and holds a lock of its own."""
    monkeypatch.setattr(forked, "MIN_ITEMS", 2)
    monkeypatch.setattr(forked, "cores", lambda: 2)
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    lock, done = threading.Lock(), threading.Event()

    def busy() -> None:
        with lock:
            while not done.is_set():
                sum(range(1000))

    other = threading.Thread(target=busy)
    other.start()
    found: list[dict[str, quality.Measured]] = []
    try:
        reload = threading.Thread(target=lambda: found.append(cached(settings, QualityCache())[1]))
        reload.start()
        reload.join(300)
    finally:
        done.set()
        other.join()
    assert forks and found
    same_figures(found[0], full_measure(load_snapshot(settings), settings))


def test_a_worker_that_fails_leaves_the_work_to_this_process() -> None:
    assert forked.spread(lambda part: str(list(part)).encode(), 1000, jobs=2) == \
        [str(list(range(500))).encode(), str(list(range(500, 1000))).encode()]
    assert forked.spread(lambda part: bytes(1 // 0), 1000, jobs=2) is None
    assert forked.spread(lambda part: os._exit(0), 1000, jobs=2) is None  # no answer at all


def test_a_large_cache_file_is_written_by_a_child_process_and_found_by_the_next_one(
        towns: list[list[str]], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pickling 25,000 pages would hold the GIL for most of a second: the service would answer nothing meanwhile."""
    monkeypatch.setattr(quality_cache, "BACKGROUND_SAVE", 1)
    writers: list[forked.Child | None] = []
    real_detach = forked.detach

    def detach(work: Callable[[], bytes]) -> forked.Child | None:
        writers.append(real_detach(work))
        return writers[-1]

    monkeypatch.setattr(forked, "detach", detach)
    file = tmp_path / "quality.cache"
    _, first = cached(settings, QualityCache(file))
    later = QualityCache(file)  # a restart: it waits for the file if the child is still writing it
    _, again = cached(settings, later)
    assert writers and later.measured == 0
    assert again == first
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary file left


def test_a_cache_file_that_cannot_be_written_is_reported_and_the_cache_works_in_memory(
        towns: list[list[str]], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "not-a-folder").write_text("")
    file = tmp_path / "not-a-folder" / "quality.cache"  # even root cannot write under a file
    for background in (1, 10**9):  # written by a child process, and in this one
        monkeypatch.setattr(quality_cache, "BACKGROUND_SAVE", background)
        caplog.clear()
        cache = QualityCache(file)
        _, first = cached(settings, cache)
        quality_cache._wait_for_writer(file)
        written = [record.getMessage() for record in caplog.records if "could not be written" in record.getMessage()]
        assert len(written) == 1 and written[0].startswith(f"quality cache {file} could not be written ([Errno 20] Not a directory")
        assert not cache.on_disk
        _, again = cached(settings, cache)
        assert cache.measured == 0 and again == first  # measured once, kept in memory
        quality_cache._wait_for_writer(file)  # it tried to write the file again
        assert not cache.on_disk


def test_fingerprints_worked_out_on_several_cores_are_those_of_one(
        towns: list[list[str]], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = load_snapshot(settings).catalog
    monkeypatch.setattr(forked, "MIN_ITEMS", 2)
    alone = quality_cache.text_keys(catalog, settings.templates_dir, 1)
    spread = quality_cache.text_keys(catalog, settings.templates_dir, 3)
    assert spread == alone and len(alone) == len(catalog.pages) and len(set(alone.values())) == len(alone)


def test_a_page_kept_between_measures_comes_back_as_it_was() -> None:
    """Shingles are 64-bit hashes of either sign; a page may have none of its own, or lack none of the boilerplate."""
    for page in (quality._Page(frozenset(), frozenset()), quality._Page(frozenset({7}), frozenset()),
                 quality._Page(frozenset({-2**63, 2**63 - 1, 0, 5}), frozenset({1, 2})),
                 quality._Page(frozenset(), frozenset({3}))):
        assert quality_cache.unpack(quality_cache.pack(page)) == page


def test_a_service_stopped_while_its_cache_file_is_written_leaves_the_file_whole(
        towns: list[list[str]], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """systemd stops every process of a service at once; the writer finishes (a second or two), and a writer that was
    killed all the same leaves a temporary file that the next one removes."""
    monkeypatch.setattr(quality_cache, "BACKGROUND_SAVE", 1)
    real_write = quality_cache._write

    def slow_write(file: Path, state: Mapping[str, object]) -> str:
        time.sleep(0.5)
        return real_write(file, state)

    monkeypatch.setattr(quality_cache, "_write", slow_write)
    file = tmp_path / "quality.cache"
    beyond = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1 if Path("/proc/sys/kernel/pid_max").exists() else 2**31 - 1
    stale = tmp_path / f".quality.cache.{beyond}.tmp"  # no process has that pid
    stale.write_bytes(b"half a file")
    _, first = cached(settings, QualityCache(file))
    _, pid = quality_cache._WRITERS[file.resolve()]
    os.kill(pid, signal.SIGTERM)  # while it is still writing (the sleep above)
    quality_cache._wait_for_writer(file)
    later = QualityCache(file)
    assert cached(settings, later)[1] == first and later.measured == 0
    assert not stale.exists()


def resident_bytes() -> int:
    return int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmRSS:"))) * 1024


def test_memory_a_large_measure_freed_is_handed_back_to_the_system() -> None:
    """Freed blocks stay with the C library otherwise: a service that measured 25,000 pages held 610 MB, not 370."""
    if quality_cache._malloc_trim() is None or not Path("/proc/self/status").exists():
        need("glibc's malloc_trim and /proc (Linux)")
    blocks = [bytes(1000) + bytes([number % 256]) for number in range(200_000)]  # 200 MB from the C heap
    last = blocks[-1]  # still in use, above the rest: the heap cannot just shrink from its top
    del blocks
    freed = resident_bytes()
    quality_cache._give_back_memory()
    assert resident_bytes() < freed - 100 * 2**20 and last


def test_a_detached_child_gives_its_answer_even_when_someone_else_reaped_it() -> None:
    assert forked.detach(lambda: b"written").result() == b"written"  # type: ignore[union-attr]
    child = forked.detach(lambda: b"written")
    assert child is not None
    os.waitpid(child.pid, 0)  # as a library that waits for any child of the process would
    assert child.result() == b"written"
    assert forked.detach(lambda: bytes(1 // 0)).result() is None  # type: ignore[union-attr]
