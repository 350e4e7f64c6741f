"""``genmon.track``: mark a generator whose values genmon follows.

Usage::

    @genmon.track                      # name defaults to the function's name
    async def numbers(): ...

    @genmon.track(name="orders")
    def orders(): ...                  # sync generators work too

    async for event in genmon.track(client.events(), name="events"): ...   # an async iterable

Without genmon's probe installed the wrapper only checks one module variable per value and passes
values (and ``StopIteration``) through unchanged. With the probe installed it counts each value,
gives it an id, and obeys the on/off switch genmon's screen toggles.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from time import time_ns
from typing import Any, TypeVar, overload

from genmon.model import RowKind
from genmon.probe import runtime
from genmon.probe.runtime import CURRENT, PAUSE_POLL_SECONDS, STALL_SECONDS

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

declared: dict[str, tuple[str, RowKind]] = {}
"""Every generator ``track`` has wrapped in this process: name -> (function, kind)."""
where: dict[str, str] = {}
"""name -> ``path:line`` of the generator function's definition."""


@overload
def track(fn: AsyncIterable[T], *, name: str | None = None) -> AsyncIterator[T]: ...
@overload
def track(fn: F, *, name: str | None = None) -> F: ...
@overload
def track(fn: None = None, *, name: str | None = None) -> Callable[[F], F]: ...


def track(fn: Any = None, *, name: str | None = None) -> Any:
    """Follow the values of a sync or async generator function (or an async iterable) through
    the pipeline.

    ``name`` is the pipeline's name on genmon's screen (default: the function's name, or the
    iterable's type name).
    """
    if fn is None:
        return functools.partial(track, name=name)
    if hasattr(fn, "__aiter__") and not callable(fn):
        # An existing async iterable (e.g. a stream of records from a client library): wrap it
        # as a one-shot async generator so its values are followed like a tracked generator's.
        iterable = fn
        label = name or type(iterable).__name__
        declared[label] = (label, RowKind.ASYNC)
        probe = runtime.active_probe()
        if probe is not None:
            probe.declare(label, label, RowKind.ASYNC)
        return _async_wrapper(lambda: iterable, label)()
    if inspect.isasyncgenfunction(fn):
        kind = RowKind.ASYNC
    elif inspect.isgeneratorfunction(fn):
        kind = RowKind.SYNC
    else:
        raise TypeError(f"genmon.track wraps generator functions and async iterables; {fn!r} is neither")
    label = name or fn.__name__
    function = getattr(fn, "__qualname__", label)
    declared[label] = (function, kind)
    where[label] = _code_of(fn)
    probe = runtime.active_probe()
    if probe is not None:
        probe.declare(label, function, kind, where[label])
    wrapper = _async_wrapper(fn, label) if kind == RowKind.ASYNC else _sync_wrapper(fn, label)
    return wrapper


def track_feed(fn: Callable[..., Any], name: str, code: str) -> Callable[..., AsyncIterator[Any]]:
    """An async generator function of a feed's lines, tracked as ``name`` with ``code`` (the feed
    file, for CI annotations): its values' ids are 1, 2, … — the lines' numbers."""
    declared[name] = (name, RowKind.ASYNC)
    where[name] = code
    probe = runtime.active_probe()
    if probe is not None:
        probe.declare(name, name, RowKind.ASYNC, code)
    return _async_wrapper(fn, name)


def _source(label: str) -> Any:
    """The probe's source for ``label`` (declared on first use), None without a probe. Called per
    value, in the app's hot path: one module attribute and one dict look-up when it exists."""
    probe = runtime._active
    if probe is None:
        return None
    src = probe.sources.get(label)
    if src is not None:
        return src
    function, kind = declared.get(label, (label, RowKind.ASYNC))
    return probe.declare(label, function, kind, where.get(label, ""))


def _code_of(fn: Callable[..., Any]) -> str:
    """``path:line`` of the generator function's definition (what a CI annotation points at)."""
    try:
        return f"{inspect.getsourcefile(fn) or fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"
    except (TypeError, AttributeError):
        return ""


def _async_wrapper(fn: Callable[..., Any], label: str) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        agen = fn(*args, **kwargs).__aiter__()
        try:
            while True:
                src = _source(label)
                if src is None:
                    try:
                        value = await agen.__anext__()
                    except StopAsyncIteration:
                        return
                    yield value
                    continue
                while not src.on:
                    await asyncio.sleep(PAUSE_POLL_SECONDS)
                try:
                    value = await agen.__anext__()
                except StopAsyncIteration:
                    return
                # A value made while the switch went off is held, not yielded, until it is on.
                while not src.on:
                    await asyncio.sleep(PAUSE_POLL_SECONDS)
                CURRENT.set((src, src.next_seq(), time_ns() // 1000))
                yield value
        finally:
            close = getattr(agen, "aclose", None)
            if close is not None:
                await close()

    return wrapper


def _sync_wrapper(fn: Callable[..., Any], label: str) -> Callable[..., Iterator[Any]]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        gen = fn(*args, **kwargs)
        try:
            while True:
                src = _source(label)
                # Off the event loop a paused sync generator can simply wait; on the loop it waits
                # at its consumer's next ``topic.send`` instead (see Probe._after_send).
                if src is not None and not src.on and not runtime.in_event_loop():
                    while not src.on and runtime.active_probe() is not None:
                        time.sleep(PAUSE_POLL_SECONDS)
                started = time.perf_counter()
                try:
                    value = next(gen)
                except StopIteration:
                    return
                if src is not None:
                    # A sync generator runs on whatever thread iterates it: if that is Faust's
                    # loop, every agent waited this long too (blocking code in a generator).
                    took = time.perf_counter() - started
                    if took >= STALL_SECONDS:
                        src.note_stall(took)
                    CURRENT.set((src, src.next_seq(), time_ns() // 1000))
                yield value
        finally:
            gen.close()

    return wrapper
