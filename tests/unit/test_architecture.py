"""The rules of docs/ARCHITECTURE.md that are about imports: import-linter's contracts, and the
screen's process holding no Faust."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    declared = (ROOT / "pyproject.toml").read_text().count("[[tool.importlinter.contracts]]")
    assert declared >= 5
    assert f"Contracts: {declared} kept, 0 broken." in done.stdout


def test_the_screens_process_imports_no_faust() -> None:
    """Everything ``genmon``, ``check``, ``watch`` and ``serve`` load in their own process — the
    commands, the session, the watcher, the screen, the report, the metrics — without Faust: the
    apps run in worker processes (docs/ARCHITECTURE.md, "The screen never shares a process")."""
    modules = [
        "genmon.cli",
        "genmon.session",
        "genmon.fleet.watcher",
        "genmon.tui",
        "genmon.cli.report",
        "genmon.watch.metrics",
        "genmon.watch.offsets",
        "genmon.watch.sampler",
        "genmon.watch.readout",
        "genmon.watch.logs",
        "genmon.watch.waiting",
        "genmon.serve",
    ]
    code = f"import sys; [__import__(m) for m in {modules!r}]; print('faust' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_track_is_transparent_without_genmon() -> None:
    """A tracked generator in an app run without genmon: same values, no probe, nothing counted."""
    import asyncio

    import genmon
    from genmon.probe import active_probe

    assert active_probe() is None

    @genmon.track(name="plain-sync")
    def sync_values():  # type: ignore[no-untyped-def]
        yield from (1, "two", None, {"n": 3})

    @genmon.track
    async def async_values():  # type: ignore[no-untyped-def]
        for value in (1, "two", None, {"n": 3}):
            yield value

    async def collect() -> list[object]:
        return [value async for value in async_values()]

    assert list(sync_values()) == [1, "two", None, {"n": 3}]
    assert asyncio.run(collect()) == [1, "two", None, {"n": 3}]
    assert async_values.__name__ == "async_values"


def test_track_wraps_an_existing_async_iterable() -> None:
    """``genmon.track(iterable, name=...)``: same values, with and without a probe installed."""
    import asyncio

    import genmon
    from genmon.probe import Probe

    class Feed:
        def __init__(self) -> None:
            self.items = [3, 1, 4, 1, 5]

        def __aiter__(self):  # type: ignore[no-untyped-def]
            return self

        async def __anext__(self) -> int:
            if not self.items:
                raise StopAsyncIteration
            return self.items.pop(0)

    async def collect(iterable) -> list[int]:  # type: ignore[no-untyped-def]
        return [value async for value in iterable]

    assert asyncio.run(collect(genmon.track(Feed(), name="feed"))) == [3, 1, 4, 1, 5]
    probe = Probe()
    probe.install()
    try:
        assert asyncio.run(collect(genmon.track(Feed(), name="feed"))) == [3, 1, 4, 1, 5]
        assert probe.sources["feed"].read().yielded == 5
    finally:
        probe.uninstall()


def test_the_public_track_is_the_decorator_whatever_was_imported_before() -> None:
    import importlib

    import genmon

    importlib.import_module("genmon.probe.tracking")  # the module that holds it, imported first
    from genmon.probe import track

    assert callable(track) and track is genmon.track
