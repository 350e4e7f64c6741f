"""``genmon serve``: the watcher's screen in a browser, served by textual-serve.

textual-serve starts a new copy of a command for every browser tab, so what it serves is
``genmon watch`` — never the demo or ``-A``: a tab must not start a Faust app or a broker, it
watches the workers that report to the broker. The screens it starts carry ``GENMON_SERVED`` in
their environment: the one screen genmon starts without a terminal (``genmon.tui.served``, which
also makes each of them end with its tab, its server or its parent).

There is no authentication (textual-serve has none, and a token in a URL leaks through browser
history and proxies): the server binds 127.0.0.1 unless told otherwise, and says so loudly when
told; reach it from elsewhere through an SSH tunnel.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from typing import Any

from genmon.listen import check_port, http_url

log = logging.getLogger("genmon")

DEFAULT_PORT = 8000
TAB_STOP_SECONDS = 10.0
"""How long a stopping server waits for its tabs' screens to end (each is bounded by its own
hard exit, genmon.tui.served.HARD_EXIT_SECONDS, well within this)."""


HEARTBEAT_SECONDS = 4.0
"""A tab's websocket is pinged this often; one that does not answer within half of it is closed,
and its screen ends. A browser that vanished without closing its connection (a network cut, a
laptop lid) is noticed within 6 s instead of textual-serve's 15 s + 7.5 s."""


class _Heartbeat:
    """``aiohttp.web`` as textual-serve's server module sees it, with every websocket it opens
    pinged every ``HEARTBEAT_SECONDS`` (it asks for 15, in the middle of its handler)."""

    def __init__(self, web: Any) -> None:
        self._web = web

        class WebSocketResponse(web.WebSocketResponse):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["heartbeat"] = HEARTBEAT_SECONDS
                super().__init__(*args, **kwargs)

        self.WebSocketResponse = WebSocketResponse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._web, name)


def watch_command(watch_args: Sequence[str]) -> str:
    """The shell command each tab runs: this Python's genmon, watching (``exec``: the screen is the
    server's own child, so that it can tell when its parent is gone)."""
    return shlex.join(["exec", sys.executable, "-m", "genmon", "watch", *watch_args])


def public_url(host: str, port: int) -> str:
    """The address browsers are given for the page's websocket: ``http://host:port``, except that a
    wildcard address (0.0.0.0, ::) is not one a browser elsewhere can connect to — this machine's
    name is used instead (``--public-url`` overrides both)."""
    if host in ("0.0.0.0", "::", ""):
        import socket

        host = socket.getfqdn()
    return http_url(host, port)


def serve(watch_args: Sequence[str], host: str, port: int, title: str, public: str | None = None) -> None:
    """Serve the watcher's screen on ``http://host:port`` until SIGINT/SIGTERM."""
    import textual_serve.server
    from textual_serve.server import Server

    from genmon.session import SIGNALLED
    from genmon.tui.served import SERVED_ENV

    check_port(host, port, "--host/--port")
    if not isinstance(textual_serve.server.web, _Heartbeat):
        textual_serve.server.web = _Heartbeat(textual_serve.server.web)  # type: ignore[assignment]
    os.environ[SERVED_ENV] = "1"  # inherited by every tab's screen (textual-serve copies os.environ)
    url = (public or public_url(host, port)).rstrip("/")
    tabs: set[asyncio.Task[Any]] = set()

    class GenmonServer(Server):
        def initialize_logging(self) -> None:  # genmon's log file, not rich on the terminal
            logging.getLogger("textual-serve").setLevel(logging.INFO)

        async def on_startup(self, app: object) -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):  # stop as Ctrl+C does, the status says why
                loop.add_signal_handler(sig, self._signalled, sig)
            print(f"genmon: serving {title} at {url}  (Ctrl+C stops it)", file=sys.stderr, flush=True)

        async def handle_websocket(self, request: Any) -> Any:
            """One tab: its handler is remembered so that a stop can end its screen at once."""
            task = asyncio.current_task()
            assert task is not None
            tabs.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                tabs.discard(task)

        async def on_shutdown(self, app: object) -> None:
            """The server stops: every tab's screen is told to quit now (textual-serve's own way: its
            handler, cancelled, sends "quit" and waits for the screen to end), not when the
            browser's connection times out (tens of seconds)."""
            for task in list(tabs):
                task.cancel()
            if tabs:
                await asyncio.wait(list(tabs), timeout=TAB_STOP_SECONDS)

        def _signalled(self, sig: int) -> None:
            SIGNALLED.append(sig)
            self.request_exit()

    server = GenmonServer(watch_command(watch_args), host=host, port=port, title=title, public_url=url)
    log.info("serving %s at %s: each tab runs %s", title, url, server.command)
    server.serve()
