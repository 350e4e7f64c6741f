"""A real headless Chromium, driven over the Chrome DevTools protocol (CDP) with aiohttp.

The served screen is drawn by xterm.js on a WebGL canvas, so its text is not in the page's DOM:
the page's terminal is rebuilt from the bytes the page's websocket received (CDP's
``Network.webSocketFrameReceived``), fed to pyte, a VT100 emulator, at the size the page asked
for. Keys are typed into the page as a user's are (``Input.dispatchKeyEvent``), and the PNG
screenshot is the page as drawn.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pyte

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Page:
    """One tab: its terminal as the page drew it, its keys, its screenshot."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser, self.session = browser, session
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.frames = 0
        self.socket_url: str | None = None
        self.target = ""
        """The tab's CDP target id."""

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.webSocketCreated":
            self.socket_url = params["url"]
            query = parse_qs(urlparse(self.socket_url).query)
            if "width" in query and "height" in query:
                self.screen.resize(int(query["height"][0]), int(query["width"][0]))
        elif method == "Network.webSocketFrameSent":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                kind, data = json.loads(params["response"]["payloadData"])
                if kind == "resize":
                    self.screen.resize(int(data["height"]), int(data["width"]))
        elif method == "Network.webSocketFrameReceived":
            response = params["response"]
            payload = response["payloadData"]
            if response.get("opcode") == 2:  # binary: the screen's bytes
                self.stream.feed(base64.b64decode(payload))
                self.frames += 1

    def text(self) -> str:
        """The page's terminal as text, one line per row."""
        return "\n".join(line.rstrip() for line in self.screen.display)

    async def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first match of ``pattern`` in the page's terminal, waiting until it appears."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text())
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on the page after {timeout:.0f}s:\n{self.text()}")
            await asyncio.sleep(0.2)

    async def press(self, key: str, code: str, text: str = "", key_code: int = 0) -> None:
        """Type one key into the page's terminal, as a keyboard does."""
        await self.call("Runtime.evaluate", {"expression": "document.querySelector('textarea').focus()"})
        for kind in ("keyDown", "keyUp"):
            event = {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": key_code}
            if kind == "keyDown" and text:
                event["text"] = text
            await self.call("Input.dispatchKeyEvent", event)

    async def close(self) -> None:
        """Close the tab, as a user does (the page's websocket closes cleanly)."""
        await self.browser.call("Target.closeTarget", {"targetId": self.target})

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.call(method, params, session=self.session)


class Chromium:
    """``async with Chromium() as browser``: a headless Chromium of its own (profile in a temporary
    folder), in a process group of its own so that :meth:`kill` ends it abruptly, as a crash does."""

    def __init__(self, width: int = 1400, height: int = 860) -> None:
        self.size = (width, height)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}

    async def __aenter__(self) -> Chromium:
        assert CHROMIUM is not None, "Chromium is not installed (Debian: apt-get install chromium)"
        self._profile = tempfile.TemporaryDirectory(prefix="genmon-chromium-")
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--enable-unsafe-swiftshader",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        endpoint = await asyncio.get_running_loop().run_in_executor(None, self._endpoint)
        self._http = aiohttp.ClientSession()
        self._socket = await self._http.ws_connect(endpoint, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    def _endpoint(self) -> str:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            if "DevTools listening on" in line:
                threading_drain(self.proc.stderr)
                return line.split("DevTools listening on", 1)[1].strip()
        raise AssertionError(f"Chromium exited ({self.proc.wait()}) before its DevTools endpoint opened")

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif data.get("sessionId") in self._pages:
                self._pages[data["sessionId"]].on_event(data["method"], data.get("params", {}))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("Chromium's DevTools connection closed"))

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self._socket.send_str(json.dumps(message))
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise AssertionError(f"CDP {method}: {answer['error']}")
        return dict(answer.get("result", {}))

    async def open(self, url: str) -> Page:
        """A new tab on ``url``, with its websocket traffic recorded from the start."""
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        page.target = target["targetId"]
        self._pages[page.session] = page
        await page.call("Network.enable")
        await page.call("Page.enable")
        await page.call("Page.navigate", {"url": url})
        return page

    def kill(self) -> None:
        """End the browser at once (every tab goes away abruptly: no websocket close)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    async def __aexit__(self, *exc: object) -> None:
        self.kill()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._http.close()
        self._profile.cleanup()


def threading_drain(stream: Any) -> None:
    """Keep reading Chromium's stderr so that it never blocks on a full pipe."""
    import threading

    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
