"""Every place genmon reaches into faust-streaming's, mode's or aiokafka's private parts — and only here.

Faust's public Sensor API sees most stages; a few losses happen where no hook fires, and a few
settings can only be changed through private attributes. Each such touchpoint is one function below,
whose docstring names the library behaviour it relies on. ``tests/unit/test_touchpoints.py`` checks every
one of them without a broker, so an upgrade of faust-streaming or aiokafka that breaks an assumption
fails loudly there. :func:`install` patches, :func:`uninstall` puts every original back.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import sys
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from genmon.model.vocabulary import CHANNEL, REPLIES

UNAWAITED_SEND = "coroutine 'Topic.send' was never awaited"
"""What Python says when a ``Topic.send(...)`` coroutine is dropped unawaited: matched by text."""

LIBRARIES = ("faust.", "mode.", "aiokafka.", "genmon.probe", "genmon.host", "asyncio", "contextlib")
"""Modules whose frames are never named as the code that sent (see :func:`sender_frame`); so are
the standard library's and installed packages' (by file location)."""
USERS = ("genmon.demo",)
"""genmon's own demo app: user code, wherever genmon is installed."""


@dataclass
class Hooks:
    """What genmon does at each touchpoint; every callable must be cheap and must not raise."""

    on_crash: Callable[[Any, BaseException, list[Any]], None]
    """``App._on_agent_error``: ``agent`` raised ``exc`` while holding ``events`` (the current
    event, or a ``take()`` batch's events; empty when none is known)."""
    on_decode_error: Callable[[Any], None]
    """``Channel.on_decode_error``: this message's value could not be deserialized."""
    on_unawaited: Callable[[Any, Any], None]
    """A ``Topic.send`` coroutine was dropped unawaited; called with what ``current`` held when the
    coroutine was *created* (the value it carried), not when it was dropped, and — for an agent's
    send, where nothing is current — what ``hop`` returned then."""
    after_send: Callable[[], Awaitable[None] | None]
    """Awaited after every ``Topic.send`` (the pause point of a sync generator), or None."""
    current: contextvars.ContextVar[Any]
    """The probe's current-value variable: captured when a send is created or buffered, and put
    back while that send runs (a send awaited later, or published by Faust's producer task)."""
    on_send_soon: Callable[[Any, Any], None] = lambda message, captured: None
    """``Topic.send_soon`` buffered ``message`` (a ``PendingMessage``) while ``captured`` was current."""
    on_channel_send: Callable[[Any, Any], Any] = lambda channel, message: None
    """An in-memory channel is about to deliver ``message``: returns a state for ``on_channel_put``."""
    on_channel_put: Callable[[Any], None] = lambda state: None
    """The channel's subscribers' queues took the message (a channel's "ack")."""
    on_window: Callable[[Any, float], None] = lambda agent, seconds: None
    """An agent batches with ``take(n, within=W)``: its values wait up to W seconds by design."""
    on_agent_end: Callable[[Any], None] = lambda agent: None
    """An agent's function returned (``break`` or ``return`` out of its ``async for``) while the app
    runs: Faust does not restart it and logs nothing; its topic is no longer read."""
    hop: Callable[[], Any] = lambda: None
    """Called when a ``Topic.send`` is created with nothing current: the hop that sends (an agent
    holding an event), kept with the coroutine for ``on_unawaited``; None outside an agent."""
    on_send_raised: Callable[[Any, str, BaseException], None] = lambda captured, topic, exc: None
    """``Topic.send`` raised ``exc`` for the value ``captured`` (what ``current`` held when the
    send was made; None for code that is not a tracked generator) on its way to ``topic``: a value
    the codec cannot serialize, a record over the producer's size limit."""


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
    _patch_agent_end()
    _patch_decode_error()
    _patch_topic_send()
    _patch_send_soon()
    _patch_channel_publish()
    _patch_take()
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
    the event the agent raised on. Inside a ``take()`` batch there is no current event in the
    agent's task (Faust's drainer task reads the events): the batch's events, noted by
    :func:`_patch_take`, are the ones the agent held. A ``DecodeError`` is thrown into the agent
    *between* events, so the current event is stale then and is not blamed: the crash is reported
    holding no value (the value that failed to decode is counted by :func:`_patch_decode_error`),
    so the values waiting behind the restarted agent are known to wait on a crash."""
    from faust.app.base import App
    from faust.exceptions import DecodeError
    from faust.streams import current_event

    original = App._on_agent_error

    async def on_agent_error(self: Any, agent: Any, exc: BaseException) -> None:
        hooks = _hooks
        if hooks is not None:
            with contextlib.suppress(Exception):
                batch = BATCH.get()
                event = current_event()
                events = list(batch) if batch else ([event] if event is not None else [])
                hooks.on_crash(agent, exc, [] if isinstance(exc, DecodeError) else events)
        return await original(self, agent, exc)

    _replace(App, "_on_agent_error", on_agent_error)


def _patch_agent_end() -> None:
    """``faust.agents.agent.Agent._execute_actor(self, coro, aref)`` awaits the agent's coroutine
    (its function, or ``_slurp`` of an agent that yields) and handles its exceptions; when the
    coroutine simply returns, the actor is done for good: the supervisor restarts only crashed
    actors. The coroutine is wrapped so that a return while the agent is not stopping is told."""
    from faust.agents.agent import Agent

    original = Agent._execute_actor

    async def execute_actor(self: Any, coro: Any, aref: Any) -> None:
        async def watched() -> Any:
            result = await coro
            hooks = _hooks
            if hooks is not None and not self.should_stop:
                with contextlib.suppress(Exception):
                    hooks.on_agent_end(self)
            return result

        return await original(self, watched(), aref)

    _replace(Agent, "_execute_actor", execute_actor)


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
    """``faust.topics.Topic.send`` is a coroutine function. genmon's replacement is a plain function
    that captures the current value when the coroutine is *created* and returns a coroutine named
    ``Topic.send`` (Python's "never awaited" warning names it; see ``UNAWAITED_SEND``): a send kept
    and awaited later still belongs to the value it carried, and one dropped unawaited is blamed on
    that value, not on whichever value is current when the garbage collector drops it. After the
    send returned it awaits ``hooks.after_send``: the point where a paused sync generator can wait
    without blocking the event loop."""
    from faust.topics import Topic

    original = Topic.send

    async def send_coroutine(topic: Any, captured: Any, args: Any, kwargs: Any, hop: Any = None) -> Any:
        hooks = _hooks
        if hooks is None:
            return await original(topic, *args, **kwargs)
        current = hooks.current
        try:
            if current.get() is captured:  # awaited where it was made (the usual case): nothing to set
                result = await original(topic, *args, **kwargs)
            else:
                token = current.set(captured)
                try:
                    result = await original(topic, *args, **kwargs)
                finally:
                    current.reset(token)
        except Exception as exc:  # the send raised in the caller's task: the value never left
            with contextlib.suppress(Exception):
                hooks.on_send_raised(captured, topic.get_topic_name(), exc)
            raise
        waiting = hooks.after_send()
        if waiting is not None:
            await waiting
        return result

    send_coroutine.__name__, send_coroutine.__qualname__ = original.__name__, original.__qualname__

    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = _hooks
        if hooks is None:
            return send_coroutine(self, None, args, kwargs)
        captured = hooks.current.get()
        # an agent's send (a hop): who sends and the origin of the event it holds, named if dropped
        hop = hooks.hop() if captured is None else None
        return send_coroutine(self, captured, args, kwargs, hop)

    send.__doc__ = original.__doc__
    send.__name__, send.__qualname__ = original.__name__, original.__qualname__
    send.__wrapped__ = original  # type: ignore[attr-defined]
    _replace(Topic, "send", send)


def _patch_send_soon() -> None:
    """``faust.topics.Topic.send_soon`` only puts a ``FutureMessage`` into the producer's buffer;
    Faust's producer task publishes it later (``publish_message`` -> ``on_send_initiated``), in a
    task where nothing of the caller's context is current. The value the caller was working on is
    handed to ``hooks.on_send_soon`` with the buffered message (the same ``PendingMessage`` object
    reaches the sensor), so the send is credited to it."""
    from faust.topics import Topic

    original = Topic.send_soon

    @functools.wraps(original)
    def send_soon(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = _hooks
        fut = original(self, *args, **kwargs)
        if hooks is not None:
            with contextlib.suppress(Exception):
                hooks.on_send_soon(fut.message, hooks.current.get())
        return fut

    _replace(Topic, "send_soon", send_soon)


def _patch_channel_publish() -> None:
    """``faust.channels.Channel.publish_message(fut, wait)`` delivers to an in-memory channel
    (``app.channel()``): it builds the event from ``fut.message.headers`` (the same object, so a
    header stamped before it runs travels with the event) and awaits ``put`` into each
    subscriber's queue. No sensor hook fires on this path. ``Topic`` overrides the method, so
    topics never come here."""
    from faust.channels import Channel

    original = Channel.publish_message

    @functools.wraps(original)
    async def publish_message(self: Any, fut: Any, wait: bool = True) -> Any:
        hooks = _hooks
        state = None
        if hooks is not None:
            with contextlib.suppress(Exception):
                state = hooks.on_channel_send(self, fut.message)
        result = await original(self, fut, wait)
        if state is not None and hooks is not None:
            with contextlib.suppress(Exception):
                hooks.on_channel_put(state)
        return result

    _replace(Channel, "publish_message", publish_message)


_channel_names: dict[int, tuple[Any, str]] = {}


def channel_name(app: Any, channel: Any) -> str:
    """``channel:handle`` for a channel (or an iterator cloned from it, ``Channel._root``) that the
    agent ``handle`` reads; ``channel:a+b`` for two agents; ``channel:anon-1f2e`` for none. Channels
    have no names of their own (``str()`` of each is ``<ANON>``)."""
    root = getattr(channel, "_root", None) or channel
    cached = _channel_names.get(id(root))
    if cached is not None and cached[0] is root:
        return cached[1]
    readers = sorted(
        agent.name.rsplit(".", 1)[-1]
        for agent in app.agents.values()
        if (getattr(agent.channel, "_root", None) or agent.channel) is root
    )
    name = CHANNEL + ("+".join(readers) if readers else f"anon-{id(root) & 0xFFFF:04x}")
    if readers:  # agents are all defined before an app starts: a name with readers is final
        _channel_names[id(root)] = (root, name)
    return name


def is_channel(channel: Any) -> bool:
    """An in-memory channel, not a Kafka topic (a ``Topic`` has topics; a channel has none)."""
    return not (getattr(channel, "topics", None) or ())


BATCH: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("genmon_take_batch", default=None)
"""The events of the ``take()`` batch the current task's agent holds (None between batches)."""

TAKES = ("take", "take_events", "take_with_timestamp")
"""``Stream`` methods that buffer events and hand the agent a batch (``noack_take`` leaves acking
to the agent, and so is not followed)."""


def _patch_take() -> None:
    """``Stream.take`` and its siblings are async generators that buffer values in a processor run by
    Faust's drainer task, keep the batch's events in a local list named ``events``, and ack all of
    them in a ``finally`` once the agent asks for the next batch — or once the generator is
    finalized after the agent raised. The wrapper notes that list (read from the suspended
    generator's frame) in ``BATCH`` while the agent holds the batch; the async generator runs in
    the agent task's context, so the crash hook sees it."""
    from faust.streams import Stream

    for name in TAKES:
        _replace(Stream, name, _noting_batches(getattr(Stream, name)))


def _noting_batches(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def take(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = _hooks
        within = kwargs.get("within", args[1] if len(args) > 1 else None)
        if hooks is not None and within is not None:
            with contextlib.suppress(Exception):
                from faust.agents.agent import current_agent
                from mode.utils.times import want_seconds

                hooks.on_window(current_agent(), float(want_seconds(within)))
        batches = original(self, *args, **kwargs)
        try:
            async for batch in batches:
                frame = batches.ag_frame
                BATCH.set(frame.f_locals.get("events") if frame is not None else None)
                yield batch
                BATCH.set(None)
        finally:
            BATCH.set(None)
            await batches.aclose()

    return take


def _watch_unawaited_sends() -> None:
    """When a coroutine is finalized unawaited, CPython calls ``warnings._warn_unawaited_coroutine
    (coro)`` (looked up on the module each time), which emits ``RuntimeWarning: coroutine
    'Topic.send' was never awaited``. The wrapper reads the value the send was created for from the
    unstarted coroutine's frame (its ``captured`` argument, see :func:`_patch_topic_send`) before
    the warning goes on its way; a filter makes the warning fire every time (by default once per
    line), so each one still reaches genmon's log."""
    warnings.filterwarnings("always", message=UNAWAITED_SEND, category=RuntimeWarning)
    _saved.append((warnings.filters, "", warnings.filters[0]))  # filterwarnings inserts at the front
    previous = warnings._warn_unawaited_coroutine  # type: ignore[attr-defined]

    def warn_unawaited(coro: Any) -> None:
        hooks = _hooks
        if hooks is not None and getattr(coro, "__qualname__", "") == "Topic.send":
            with contextlib.suppress(Exception):
                frame = coro.cr_frame
                if frame is not None:
                    hooks.on_unawaited(frame.f_locals.get("captured"), frame.f_locals.get("hop"))
        if getattr(coro, "cr_origin", None) is not None:
            previous(coro)  # origin tracking on: the stdlib formats where the coroutine was made
            return
        # The stdlib's own message, with stacklevel=2 from *here*: the warning still points at the
        # user's line that dropped the coroutine, not at this wrapper.
        warnings.warn(
            f"coroutine '{coro.__qualname__}' was never awaited", RuntimeWarning, stacklevel=2, source=coro
        )

    _replace(warnings, "_warn_unawaited_coroutine", warn_unawaited)


# -- reading Faust's state ------------------------------------------------------------------------
def current_agent_var() -> contextvars.ContextVar[Any]:
    """``faust.agents.agent._current_agent``: the context variable ``current_agent()`` reads (an
    agent's actor task sets it). Read directly by a hook that runs once per event: one C call
    instead of a Python function's frame."""
    from faust.agents import agent

    return agent._current_agent


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
    """``(code object, module name)`` of the *outermost* frame of the user's code on the stack
    (starting ``skip`` frames up; CPython's ``sys._getframe``): the task, timer or thread target
    that led to the send, not a helper it called. Frames of Faust, mode, aiokafka, genmon's probe,
    the standard library and installed packages are never named. None when only library frames
    send (Faust's own changelog writes)."""
    frame: FrameType | None = sys._getframe(skip)
    found: FrameType | None = None
    while frame is not None:
        code = frame.f_code
        library = _library_code.get(code)
        if library is None:
            library = _library_code[code] = _is_library(code, frame.f_globals.get("__name__", ""))
        if not library:
            found = frame
        frame = frame.f_back
    return (found.f_code, found.f_globals.get("__name__", "")) if found is not None else None


_library_code: dict[Any, bool] = {}


def _library_dirs() -> tuple[str, ...]:
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    dirs = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    return tuple(d.rstrip("/") + "/" for d in dirs if d)


_LIBRARY_DIRS = _library_dirs()


def _is_library(code: Any, module: str) -> bool:
    if module.startswith(USERS):
        return False
    if module.startswith(LIBRARIES):
        return True
    filename = code.co_filename
    return filename.startswith("<") or filename.startswith(_LIBRARY_DIRS)


def agent_readers(app: Any) -> dict[str, tuple[str, ...]]:
    """topic -> short names of the app's agents that read it, from ``app.agents`` and each agent's
    ``channel.topics``; an agent on an in-memory channel reads ``channel:<agent>``, and Faust's reply
    consumer (``replies``) the app's ``conf.reply_to``."""
    readers: dict[str, list[str]] = {}
    try:
        for agent in app.agents.values():
            short = agent.name.rsplit(".", 1)[-1]
            if is_channel(agent.channel):
                readers.setdefault(channel_name(app, agent.channel), []).append(short)
            for topic in getattr(agent.channel, "topics", ()) or ():
                readers.setdefault(topic, []).append(short)
        reply_to = str(getattr(app.conf, "reply_to", "") or "")
        if reply_to:  # agent.ask/map/join: Faust's reply consumer reads it (once the app asks)
            readers.setdefault(reply_to, []).append(REPLIES)
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


def topic_object(app: Any, name: str) -> Any:
    """The ``faust.Topic`` an agent of ``app`` reads ``name`` through (``agent.channel``, its
    ``topics``), so a value produced with it goes through the app's own key and value types and
    serializers; else a plain ``app.topic(name)``."""
    for agent in app.agents.values():
        channel = getattr(agent, "channel", None)
        if name in (getattr(channel, "topics", ()) or ()):
            return channel
    return app.topic(name)


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
def worker_gave_up(record: Any) -> BaseException | None:
    """The exception of a log record with which mode's ``Worker.execute_from_commandline`` gives up
    (``self.log.exception("Error: %r", exc)`` when the worker's start raised; a service's log
    prefixes its label, ``[^Worker]: ``), else None."""
    message = str(record.msg).rpartition("]: ")[2]
    if record.exc_info and message.startswith("Error: ") and record.name.endswith("worker"):
        exc = record.exc_info[1]
        return exc if isinstance(exc, BaseException) else None
    return None


def discover(app: Any) -> tuple[str, ...]:
    """``app.discover()`` as the faust worker runs it, and the modules it could not import
    (``module: error``): Faust's ``App._on_autodiscovery_error`` only logs them, and the app runs
    without the agents and tasks they declare."""
    failed: list[str] = []
    original = app._on_autodiscovery_error

    def on_error(name: str) -> None:
        error = sys.exc_info()[1]
        failed.append(f"{name}: {type(error).__name__}: {error}" if error is not None else name)
        original(name)

    app._on_autodiscovery_error = on_error
    try:
        app.discover()
    finally:
        del app._on_autodiscovery_error
    return tuple(failed)


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


def kafka_auth(app: Any) -> dict[str, Any]:
    """The keyword arguments Faust's aiokafka driver gives every client of ``app``:
    ``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth(conf.broker_credentials,
    conf.ssl_context)`` (``security_protocol``, ``ssl_context``, ``sasl_mechanism``,
    ``sasl_plain_username``/``sasl_plain_password``, ``sasl_oauth_token_provider``) — so genmon's
    own clients authenticate exactly as the app's do."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    return dict(credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context))
