"""The screen served to a browser tab (``genmon serve``): it must end when the tab, the server or
its parent goes away.

textual-serve starts one ``genmon watch`` per tab, talking to it over pipes: the tab's keys arrive
on stdin, the screen leaves on stdout. Textual's web driver handles a clean close (the server sends
"quit"), but nothing else: when the server is killed, stdin reaches its end and the driver's input
thread just stops, and writes to the closed stdout raise in the middle of a refresh: a screen whose
tab went away abruptly would spin at nearly a core and ignore SIGTERM. So :class:`ServedDriver`
treats each of these as a hang-up — the end of input, a failed write, a parent that is no longer its
parent — and ends the screen as a SIGHUP does (exit status 129). If that does not end the process
within :data:`HARD_EXIT_SECONDS` (a refresh blocked on the dead pipe, a stop that waits on the
broker), it ends with ``os._exit``: a served screen holds no Faust app and no broker, nothing is
lost by it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from textual.drivers.web_driver import WebDriver

SERVED_ENV = "GENMON_SERVED"
"""Set by ``genmon serve`` in the environment of the screens it starts: the one case in which a
screen without a terminal is allowed (with Textual's web driver named in ``TEXTUAL_DRIVER``)."""
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
HARD_EXIT_SECONDS = 5.0
QUIT_SECONDS = 0.25
"""After the server's "quit" (its tab's websocket closed, or the server stops) the process ends within
this, whatever the screen is doing: Textual may drop a quit that arrives while the screen still
starts (a headless browser that took its screenshot and left) and render on for nobody."""
PARENT_POLL_SECONDS = 0.5


def served() -> bool:
    """Whether this process is a screen started by ``genmon serve`` for a browser tab."""
    return bool(os.environ.get(SERVED_ENV)) and os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER


class ServedDriver(WebDriver):
    """Textual's web driver, ending the screen when its tab, server or parent is gone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parent = os.getppid()
        self._gone = threading.Event()
        self._deadline: threading.Timer | None = None
        write = self._write

        def forgiving_write(data: bytes) -> int:
            if self._gone.is_set():
                return len(data)
            try:
                return int(write(data))
            except OSError:  # the server closed our stdout: nobody reads the screen any more
                self.hang_up("the server stopped reading the screen")
                return len(data)

        self._write = forgiving_write  # type: ignore[assignment]  # Textual types it as the partial it made

    def start_application_mode(self) -> None:
        super().start_application_mode()
        threading.Thread(target=self._watch_parent, name="genmon-served-parent", daemon=True).start()

    def stop_application_mode(self) -> None:
        """The screen ended (quit, its tab closed, the server stopping): the process follows within
        :data:`HARD_EXIT_SECONDS` whatever holds it (a watcher stop waiting on a broker)."""
        super().stop_application_mode()
        self._hard_exit(0)

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        finally:
            if not self.exit_event.is_set():  # stdin ended, not by our own stop: the server is gone
                self.hang_up("the server closed the screen's input")

    def on_meta(self, packet_type: str, payload: dict[str, object]) -> None:
        super().on_meta(packet_type, payload)
        if packet_type == "quit":
            logging.getLogger("genmon").info("served screen: its tab is gone; exiting")
            self._hard_exit(0, QUIT_SECONDS)

    def _watch_parent(self) -> None:
        while not self.exit_event.wait(PARENT_POLL_SECONDS):
            if os.getppid() != self._parent:
                self.hang_up("the server that started this screen is gone")
                return

    def hang_up(self, why: str) -> None:
        """End the screen as a SIGHUP does (once), and the process for sure soon after."""
        if self._gone.is_set():
            return
        self._gone.set()
        logging.getLogger("genmon").warning("served screen: %s; exiting", why)
        self._hard_exit(128 + signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGHUP)

    def _hard_exit(self, status: int, seconds: float = HARD_EXIT_SECONDS) -> None:
        """``os._exit(status)`` in ``seconds``, unless the process ends first (a sooner deadline
        replaces a later one)."""
        deadline = self._deadline
        if deadline is not None and deadline.interval <= seconds:
            return
        if deadline is not None:
            deadline.cancel()
        self._deadline = threading.Timer(seconds, os._exit, args=(status,))
        self._deadline.daemon = True
        self._deadline.start()
