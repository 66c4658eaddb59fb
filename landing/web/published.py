"""Every instance serves the newest published version of the towns: at startup, after a publish it handled
itself, and within one reload interval of a publish another instance handled (it asks the database)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from landing.leads.site_versions import SiteVersionStore
from landing.publish import unstage, version_settings
from landing.web.live import LiveSite

log = logging.getLogger("landing.reload")
KEEP_VERSION_FILES = 3


class Follower:
    """Loads the newest version when it changes; one that fails to load is logged once and the previous pages
    keep serving (it is tried again when site.toml, the templates or a newer version change)."""

    def __init__(self, site: LiveSite, store: SiteVersionStore) -> None:
        self.site = site
        self.store = store
        self.disk_file = site.settings.locations_file  # the towns before any publish ("version 0")
        self.failed: tuple[int, object] | None = None  # (version, the site files' stamp) that did not load
        self.lock = asyncio.Lock()
        self.kept: list[Path] = []  # the files of the versions served lately, newest last

    async def catch_up(self, announce: bool = True, early: bool = False) -> bool:
        """Serve the newest version if it is not served yet; True when it now is (or already was). ``announce``:
        tell the site's listeners (not when a starting instance catches up); ``early``: at startup (LiveSite._load)."""
        async with self.lock:
            number = await self.store.latest_version_number()
            if number == self.site.published:
                return True
            stamp = self.site.stamp()
            if self.failed == (number, stamp):
                return False
            version = await self.store.site_version(number)
            if version is None:
                return False
            path = version_settings(self.site.settings, version).locations_file
            if await asyncio.to_thread(self.site.use_locations, path, version.number, announce,
                                       early):
                log.info("now serving published version %d of the towns (%s)", version.number, version.summary)
                self.failed = None
                # The towns served before stay a while (a preview may be reading them); older ones go.
                self.kept.append(path)
                while len(self.kept) > KEEP_VERSION_FILES:
                    unstage(self.kept.pop(0))
                return True
            unstage(path)
            self.failed = (number, stamp)
            log.error("published version %d of the towns does not load with the current site files; still serving "
                      "the previous pages (see the problems above)", number)
            return False

    async def start(self) -> None:
        """At startup: serve the newest version, if one was published (else the file on disk stays the source)."""
        try:
            await self.catch_up(announce=False, early=True)
        except Exception:  # the store answered its migrations a moment ago; if not now, the follower retries
            log.exception("could not read the published version of the towns; serving the file on disk for now")

    async def follow(self, interval: float) -> None:
        """Ask the database every ``interval`` seconds, forever (cancelled at shutdown)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.catch_up()
            except Exception:  # a database hiccup must not end following for the life of the process
                log.exception("could not read the published version of the towns; still serving the previous pages")
