"""A thread with an asyncio loop of its own, for genmon's Kafka clients (never Faust's loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from genmon.model import one_line


class OwnLoop:
    """Base of the publisher and the watcher: ``_main()`` runs on a thread and loop of its own.

    ``_ready`` is set once ``_main`` says so, or when it ended (then ``_error`` says why); an error
    is logged in one line — never a traceback from a thread of genmon's."""

    what = "genmon's Kafka thread"
    log = logging.getLogger("genmon.fleet")

    def __init__(self, name: str) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: str | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    async def _main(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # CancelledError is no Exception: caught too
            self._error = self._error or one_line(exc)
            self.log.warning("%s stopped: %s", self.what, one_line(exc))
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
