"""Work spread over forked processes that share what this one has loaded, for the quality gate's measure.

A forked child starts with the loaded site (catalog, templates, memos) for free, where a spawned one would
load it again. The measure also runs in a live reload, a thread of the serving process beside the event
loop and the lead store's thread, where forking needs care; what this module does about it:

- A child runs only the given function on objects the forking thread built (the new snapshot), so no lock
  another thread held at the fork is ever waited for; it never logs, prints or touches the event loop.
- It puts back the default signal handlers first: the server's handlers (copied by the fork) would
  otherwise keep a child alive on SIGTERM, or wake the parent's loop.
- It never runs the cyclic garbage collector: a collection visits every object the parent had, which
  copies the parent's whole heap into the child (copy on write), and the child's life is short.
- It leaves with ``os._exit``: no atexit handler, finalizer or buffered output of the parent runs twice.
- A ``spread`` child dies with the thread that forked it (Linux's parent-death signal): a service stopped during
  a measure leaves no worker rendering on for nobody. A ``detach``ed child outlives it on purpose.
- Its answer is bytes on a pipe of its own. A child that fails, is killed or answers short makes
  ``spread`` return None, and the caller does the work in this process: nothing is lost, only time.

Python 3.12 warns that fork in a threaded process may deadlock; that is the case above, and the warning
is silenced for this fork alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence

MIN_ITEMS = 400  # below this, forking costs more than the work
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def slices(count: int, parts: int) -> list[range]:
    """``range(count)`` cut into ``parts`` consecutive ranges of nearly equal length (none empty)."""
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    found, start = [], 0
    for number in range(parts):
        end = start + size + (number < extra)
        found.append(range(start, end))
        start = end
    return found


def spread(work: Callable[[range], bytes], count: int, jobs: int | None = None,
           meanwhile: Callable[[], object] | None = None) -> list[bytes] | None:
    """``work`` of each consecutive slice of ``range(count)``, each in a forked child, in order; None when
    forking is not worth it or not possible here, or a child failed (then the caller works in-process).
    ``meanwhile()`` runs here while the children work (not at all when none were started)."""
    jobs = cores() if jobs is None else jobs
    if jobs < 2 or count < MIN_ITEMS or not hasattr(os, "fork"):
        return None
    children: list[tuple[int, int]] = []  # pid, read end of its pipe
    try:
        for part in slices(count, jobs):
            children.append(_start(work, part, orphaned=signal.SIGKILL))
    except OSError:  # no more processes or memory: the caller works in-process
        _reap(children)
        return None
    try:
        if meanwhile is not None:
            meanwhile()
    except BaseException:
        _reap(children)
        raise
    answers = [Child(pid, reader).result() for pid, reader in children]
    if any(answer is None for answer in answers):
        return None
    return answers  # type: ignore[return-value]


class Child:
    """A forked child doing one piece of work (``spread``'s, or ``detach``'s), waited for when its answer is asked."""

    def __init__(self, pid: int, reader: int) -> None:
        self.pid, self._reader = pid, reader
        self._answer: bytes | None = None
        self._done = False

    def result(self) -> bytes | None:
        """The child's bytes once it has finished (waiting for it), or None when it failed or was killed."""
        if not self._done:
            self._done = True
            with os.fdopen(self._reader, "rb") as pipe:
                data = pipe.read()
            try:
                _, status = os.waitpid(self.pid, 0)
                finished = os.waitstatus_to_exitcode(status) == 0
            except ChildProcessError:  # reaped by whoever waited for any child: its answer on the pipe tells
                finished = True
            self._answer = _answer(data) if finished else None
        return self._answer


def detach(work: Callable[[], bytes]) -> Child | None:
    """``work()`` in a forked child, while this process goes on; None when forking is not possible here (then the
    caller does the work itself). Whoever detaches a child calls its ``result()``, at the latest before exiting."""
    if not hasattr(os, "fork"):
        return None
    try:
        return Child(*_start(lambda _: work(), range(0)))
    except OSError:  # no more processes or memory
        return None


def _start(work: Callable[[range], bytes], part: range, orphaned: int | None = None) -> tuple[int, int]:
    """Fork a child doing ``work(part)``; with ``orphaned``, the signal it gets when the forking thread ends."""
    parent = os.getpid()
    reader, writer = os.pipe()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        raise
    if pid == 0:  # the child
        code = 1
        try:
            gc.disable()
            os.close(reader)
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(number, signal.SIG_DFL)
            if orphaned is not None:
                _on_parent_death(orphaned)
            if orphaned is None or os.getppid() == parent:  # else the parent went before it could be asked
                data = work(part)
                with os.fdopen(writer, "wb") as pipe:
                    pipe.write(len(data).to_bytes(8, "little"))
                    pipe.write(data)
                code = 0
        finally:
            os._exit(code)
    os.close(writer)
    return pid, reader


def _on_parent_death(number: int) -> None:
    """Ask Linux for signal ``number`` when the thread that forked this process ends (elsewhere the child works on
    to the end, as it would here if asking failed)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, number, 0, 0, 0)


def _answer(data: bytes) -> bytes | None:
    """The child's bytes, or None when it wrote fewer than it announced."""
    if len(data) < 8 or int.from_bytes(data[:8], "little") != len(data) - 8:
        return None
    return data[8:]


def _reap(children: Sequence[tuple[int, int]]) -> None:
    for pid, reader in children:
        os.close(reader)
        os.kill(pid, signal.SIGKILL)  # its work is done in this process instead
        os.waitpid(pid, 0)
