"""Every place genmon reaches into faust-streaming's, mode's or aiokafka's private parts — and only here.

Faust's public Sensor API sees most stages; a few losses happen where no hook fires, and a few
settings can only be changed through private attributes. Each such touchpoint is one function below,
whose docstring names the library behaviour it relies on. ``tests/test_touchpoints.py`` checks every
one of them without a broker, so an upgrade of faust-streaming or aiokafka that breaks an assumption
fails loudly there. :func:`install` patches, :func:`uninstall` puts every original back.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

UNAWAITED_SEND = "coroutine 'Topic.send' was never awaited"
"""What Python says when a ``Topic.send(...)`` coroutine is dropped unawaited: matched by text."""

LIBRARIES = ("faust.", "mode.", "aiokafka.", "genmon.probe", "genmon.host", "asyncio", "contextlib")
"""Modules whose frames are never named as the code that sent (see :func:`sender_frame`)."""


@dataclass
class Hooks:
    """What genmon does at each touchpoint; every callable must be cheap and must not raise."""

    on_crash: Callable[[Any], None]
    """``App._on_agent_error``: the agent raised while ``event`` (or None) was current."""
    on_decode_error: Callable[[Any], None]
    """``Channel.on_decode_error``: this message's value could not be deserialized."""
    on_unawaited: Callable[[], None]
    """A ``Topic.send`` coroutine was dropped unawaited, in the current task."""
    after_send: Callable[[], Awaitable[None] | None]
    """Awaited after every ``Topic.send`` (the pause point of a sync generator), or None."""


_saved: list[tuple[Any, str, Any]] = []
_hooks: Hooks | None = None


def installed() -> bool:
    return bool(_saved)


def install(hooks: Hooks) -> None:
    """Patch every touchpoint to call ``hooks`` (idempotent: a second install only swaps the hooks)."""
    global _hooks
    _hooks = hooks
    if _saved:
        return
    _patch_agent_error()
    _patch_decode_error()
    _patch_topic_send()
    _watch_unawaited_sends()


def uninstall() -> None:
    """Put back every original this module replaced, in reverse order."""
    global _hooks
    _hooks = None
    while _saved:
        owner, name, original = _saved.pop()
        if owner is warnings.filters:
            if original in warnings.filters:
                warnings.filters.remove(original)
                warnings._filters_mutated()  # type: ignore[attr-defined]
            continue
        setattr(owner, name, original)


def _replace(owner: Any, name: str, new: Any) -> None:
    _saved.append((owner, name, getattr(owner, name)))
    setattr(owner, name, new)


# -- losses no sensor hook sees -------------------------------------------------------------------
def _patch_agent_error() -> None:
    """``faust.app.base.App._on_agent_error(self, agent, exc)`` is awaited by an agent's supervisor
    in the agent's own task, before the stream lets go of the event: ``current_event()`` is still
    the event the agent raised on. A ``DecodeError`` is thrown into the agent *between* events, so
    the current event is stale then and is not blamed."""
    from faust.app.base import App
    from faust.exceptions import DecodeError
    from faust.streams import current_event

    original = App._on_agent_error

    async def on_agent_error(self: Any, agent: Any, exc: BaseException) -> None:
        hooks = _hooks
        if hooks is not None and not isinstance(exc, DecodeError):
            with contextlib.suppress(Exception):
                hooks.on_crash(current_event())
        return await original(self, agent, exc)

    _replace(App, "_on_agent_error", on_agent_error)


def _patch_decode_error() -> None:
    """``faust.channels.Channel.on_decode_error(self, exc, message)`` is awaited by the conductor
    for a message whose key or value cannot be deserialized; Faust then acks (commits) it, so the
    value is gone for good. ``message.headers`` still carries genmon's id."""
    from faust.channels import Channel

    original = Channel.on_decode_error

    async def on_decode_error(self: Any, exc: Exception, message: Any) -> None:
        hooks = _hooks
        if hooks is not None:
            with contextlib.suppress(Exception):
                hooks.on_decode_error(message)
        return await original(self, exc, message)

    _replace(Channel, "on_decode_error", on_decode_error)


def _patch_topic_send() -> None:
    """``faust.topics.Topic.send`` is a coroutine function; the wrapper keeps its ``__qualname__``
    (``Topic.send``) so Python's "never awaited" warning still names it (see ``UNAWAITED_SEND``),
    and awaits ``hooks.after_send`` once the send returned: the point where a paused sync
    generator can wait without blocking the event loop."""
    from faust.topics import Topic

    original = Topic.send

    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, *args, **kwargs)
        hooks = _hooks
        if hooks is not None:
            waiting = hooks.after_send()
            if waiting is not None:
                await waiting
        return result

    send.__doc__ = original.__doc__
    send.__name__, send.__qualname__ = original.__name__, original.__qualname__
    send.__wrapped__ = original  # type: ignore[attr-defined]
    _replace(Topic, "send", send)


def _watch_unawaited_sends() -> None:
    """Python emits ``RuntimeWarning: coroutine 'Topic.send' was never awaited`` through
    ``warnings.showwarning`` in the task that dropped the coroutine. A filter makes it fire every
    time (by default once per line); the wrapper calls whatever ``showwarning`` was there before
    (logging's, a test runner's), so the warning still reaches genmon's log."""
    warnings.filterwarnings("always", message=UNAWAITED_SEND, category=RuntimeWarning)
    _saved.append((warnings.filters, "", warnings.filters[0]))  # filterwarnings inserts at the front
    previous = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        hooks = _hooks
        if hooks is not None and category is RuntimeWarning and UNAWAITED_SEND in str(message):
            with contextlib.suppress(Exception):
                hooks.on_unawaited()
        return previous(message, category, filename, lineno, file, line)

    _replace(warnings, "showwarning", showwarning)


# -- reading Faust's state ------------------------------------------------------------------------
def stamp_header(message: Any, key: str, value: bytes) -> None:
    """Set header ``key`` on a ``faust.types.tuples.PendingMessage`` in place, from
    ``Sensor.on_send_initiated``: the same ``message.headers`` object is then handed to the producer
    (a dict from ``topic.send(headers={...})``/Faust's default, or a list of pairs when an event is
    forwarded — which carries the upstream value's header: replaced, not duplicated)."""
    headers = message.headers
    if isinstance(headers, dict):
        headers[key] = value
    elif isinstance(headers, list):
        headers[:] = [(k, v) for k, v in headers if k != key]
        headers.append((key, value))


def sender_frame(skip: int = 2) -> tuple[Any, str] | None:
    """``(code object, module name)`` of the first frame up the stack (starting ``skip`` frames
    up) whose module is not Faust's, mode's, aiokafka's, asyncio's or genmon's own (CPython's
    ``sys._getframe``). None when only library frames send (Faust's own changelog writes)."""
    frame = sys._getframe(skip)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(LIBRARIES):
            return frame.f_code, module
        frame = frame.f_back
    return None


def agent_readers(app: Any) -> dict[str, tuple[str, ...]]:
    """topic -> short names of the app's agents that read it, from ``app.agents`` and each agent's
    ``channel.topics`` (an agent on an in-memory channel has no topics and is left out)."""
    readers: dict[str, list[str]] = {}
    try:
        for agent in app.agents.values():
            for topic in getattr(agent.channel, "topics", ()) or ():
                readers.setdefault(topic, []).append(agent.name.rsplit(".", 1)[-1])
    except Exception:
        pass
    return {topic: tuple(names) for topic, names in readers.items()}


def agent_topics(app: Any) -> dict[str, int]:
    """topic -> partitions for every topic an agent of the app reads: the topic's own ``partitions``
    (``app.topic(..., partitions=N)``), else the app's ``topic_partitions`` — what Faust itself uses
    when it declares a topic (``Topic.declare``)."""
    found: dict[str, int] = {}
    try:
        default = int(app.conf.topic_partitions)
        for agent in app.agents.values():
            channel = agent.channel
            for topic in getattr(channel, "topics", ()) or ():
                found[topic] = int(getattr(channel, "partitions", None) or default)
    except Exception:
        pass
    return found


def assigned_topics(app: Any) -> frozenset[str]:
    """Topics with at least one partition assigned to the app's consumer (``Consumer.assignment()``;
    call it on the app's loop: the set changes during a rebalance)."""
    try:
        return frozenset(tp.topic for tp in app.consumer.assignment())
    except Exception:
        return frozenset()


def crash_of(app: Any) -> BaseException | None:
    """``mode.Service.crashed`` / ``crash_reason``: set when an app's service tree crashed after start."""
    if app is not None and getattr(app, "crashed", False):
        return getattr(app, "crash_reason", None) or RuntimeError("the Faust app crashed")
    return None


def load_fixups() -> None:
    """``faust.fixups.FIXUPS`` (mode's ``FactoryMapping``) reads the ``faust.fixups`` entry points on
    first use, in ``App.__init__``, and fills its dict *after* marking itself done: two threads
    building apps at once (genmon runs each app on its own thread) then iterate a dict that another
    is filling ("dictionary changed size during iteration"). genmon's own fixup is such an entry
    point, so genmon loads them once, on one thread, before any app is built."""
    from faust.fixups import FIXUPS

    list(FIXUPS.iterate())


# -- changing a user's app before it starts (genmon -A) -------------------------------------------
def replace_broker(app: Any, url: str) -> None:
    """Point an app that is not started yet at ``url``. Faust copied ``broker`` into
    ``broker_consumer``/``broker_producer`` when configured, and defining agents already built the
    consumer's transport (``App._new_transport``); the producer's (``App._producer_transport``) is
    built lazily. No client has connected yet, so nothing used the old address."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "already configured": known, handled just below
        app.conf.broker = url
        app.conf.broker_consumer = url
        app.conf.broker_producer = url
    app.transport = app._new_transport()
    app._producer_transport = None


def datadir_is_default(app: Any, default: str = "{conf.name}-data") -> bool:
    """Whether the app left ``datadir`` at Faust's default (``<id>-data`` in the working directory):
    ``Settings._datadir`` holds the unformatted template the user (or the default) gave."""
    return str(getattr(app.conf, "_datadir", "")) == default


# -- aiokafka -------------------------------------------------------------------------------------
async def fresh_metadata(consumer: Any) -> Any:
    """A ``ClusterMetadata`` fetched now: ``AIOKafkaConsumer._client.fetch_all_metadata()``.
    ``consumer.topics()`` lists new topics but does not refresh ``partitions_for_topic``."""
    return await consumer._client.fetch_all_metadata()
