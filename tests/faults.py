"""Faults a test injects between the service and a real part: a loopback TCP proxy that can go silent (as a network
partition or a stuck server does: connections stay open, bytes stay in flight) and then heal (delivering what it
held, late, as TCP would after a partition)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class SilentProxy:
    """127.0.0.1:<port> -> target. ``hold()`` stops every byte in both directions, and stalls new connections
    before they reach the target; ``heal()`` lets everything through again, held bytes first."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def hold(self) -> None:
        self.flowing.clear()

    def heal(self) -> None:
        self.flowing.set()

    @property
    def url_part(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> SilentProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self.flowing.wait()  # a stuck server: the connection is accepted, then nothing
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self._writers.add(upstream_writer)
            await asyncio.gather(self._pump(client_reader, upstream_writer),
                                 self._pump(upstream_reader, client_writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            client_writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()  # held, not dropped: delivered late when the network heals
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def silent_proxy(host: str, port: int) -> AsyncIterator[SilentProxy]:
    proxy = await SilentProxy(host, port).start()
    try:
        yield proxy
    finally:
        await proxy.close()
