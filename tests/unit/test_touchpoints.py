"""Contract tests: every assumption genmon makes about faust-streaming's, mode's and aiokafka's
private parts (genmon/probe/touchpoints.py), checked without a broker.

When an upgrade of one of those libraries breaks an assumption, a test here fails and names it;
the end-to-end tests on the real broker would only show wrong counts.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import threading
import warnings
from typing import Any

import faust
import pytest
from faust.app.base import App
from faust.channels import Channel
from faust.sensors import Sensor
from faust.streams import Stream
from faust.topics import Topic

from genmon.probe import touchpoints
from genmon.probe.runtime import HEADER, Probe


def _params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _app(name: str = "contract") -> faust.App:
    return faust.App(name, broker="kafka://127.0.0.1:1", web_enabled=False, datadir=None)


def test_patched_methods_have_the_signatures_genmon_wraps() -> None:
    assert _params(App._on_agent_error) == ["self", "agent", "exc"]
    assert inspect.iscoroutinefunction(App._on_agent_error)
    from faust.agents.agent import Agent

    assert _params(Agent._execute_actor) == ["self", "coro", "aref"]
    assert inspect.iscoroutinefunction(Agent._execute_actor)
    assert _params(Channel.on_decode_error) == ["self", "exc", "message"]
    assert inspect.iscoroutinefunction(Channel.on_decode_error)
    assert inspect.iscoroutinefunction(Topic.send)
    assert Topic.send.__qualname__ == "Topic.send"  # what the unawaited warning names
    assert not inspect.iscoroutinefunction(Topic.send_soon)  # buffers, returns a FutureMessage
    assert callable(warnings._warn_unawaited_coroutine)  # type: ignore[attr-defined]
    # a faust worker that gives up logs "Error: %r" with the exception, on faust.worker's logger
    import faust.worker
    import mode.worker

    from genmon.fleet.fixup import WORKER_LOGGER

    assert faust.worker.logger.name == WORKER_LOGGER
    assert 'self.log.exception("Error: %r", exc)' in inspect.getsource(
        mode.worker.Worker.execute_from_commandline
    )
    # autodiscovery: venusian's onerror is this method, called inside the failed import's except
    assert _params(App._on_autodiscovery_error) == ["self", "name"]
    assert "onerror=self._on_autodiscovery_error" in inspect.getsource(App.discover)


def test_sensor_hooks_have_the_signatures_the_sensor_implements() -> None:
    from genmon.probe.sensor import GenmonSensor

    for hook in (
        "on_send_initiated",
        "on_send_completed",
        "on_send_error",
        "on_message_in",
        "on_stream_event_in",
        "on_stream_event_out",
    ):
        assert _params(getattr(GenmonSensor, hook)) == _params(getattr(Sensor, hook)), hook


def test_faust_context_helpers_exist() -> None:
    from faust.agents.agent import current_agent
    from faust.streams import current_event

    assert current_agent() is None and current_event() is None  # outside any agent
    # the sensor reads current_agent()'s variable itself: it must be the one agents set
    variable = touchpoints.current_agent_var()
    token = variable.set("agent")
    try:
        assert current_agent() == "agent"
    finally:
        variable.reset(token)


def test_install_patches_and_uninstall_restores_every_original() -> None:
    originals = (
        App._on_agent_error,
        Channel.on_decode_error,
        Topic.send,
        warnings._warn_unawaited_coroutine,  # type: ignore[attr-defined]
        list(warnings.filters),
        Topic.send_soon,
        *(getattr(Stream, name) for name in touchpoints.TAKES),
    )
    probe = Probe()
    probe.install()
    try:
        assert touchpoints.installed()
        assert App._on_agent_error is not originals[0]
        assert Channel.on_decode_error is not originals[1]
        assert Topic.send is not originals[2] and Topic.send.__qualname__ == "Topic.send"
        assert warnings._warn_unawaited_coroutine is not originals[3]  # type: ignore[attr-defined]
        assert warnings.filters[0][0] == "always"
        assert Topic.send_soon is not originals[5]
        assert all(getattr(Stream, n) is not o for n, o in zip(touchpoints.TAKES, originals[6:], strict=True))
    finally:
        probe.uninstall()
    assert not touchpoints.installed()
    assert App._on_agent_error is originals[0]
    assert Channel.on_decode_error is originals[1]
    assert Topic.send is originals[2]
    assert warnings._warn_unawaited_coroutine is originals[3]  # type: ignore[attr-defined]
    assert list(warnings.filters) == originals[4]
    assert Topic.send_soon is originals[5]
    assert all(getattr(Stream, n) is o for n, o in zip(touchpoints.TAKES, originals[6:], strict=True))


def test_install_twice_patches_once() -> None:
    probe = Probe()
    probe.install()
    wrapped = Topic.send
    try:
        probe.install()
        assert Topic.send is wrapped
    finally:
        probe.uninstall()
    assert Topic.send is not wrapped


CURRENT_FOR_TEST: contextvars.ContextVar[Any] = contextvars.ContextVar("test_current", default=None)


def _hooks(**given: Any) -> touchpoints.Hooks:
    defaults: dict[str, Any] = {
        "on_crash": lambda agent, exc, events: None,
        "on_decode_error": lambda message: None,
        "on_unawaited": lambda captured, hop: None,
        "after_send": lambda: None,
        "current": CURRENT_FOR_TEST,
    }
    return touchpoints.Hooks(**{**defaults, **given})


def test_an_unawaited_topic_send_is_blamed_on_the_value_current_when_it_was_made() -> None:
    """CPython hands the dropped coroutine to ``warnings._warn_unawaited_coroutine``; its frame still
    holds the value captured when ``topic.send(...)`` was called."""
    seen: list[Any] = []
    touchpoints.install(
        _hooks(on_unawaited=lambda captured, hop: seen.append((captured, hop)), hop=lambda: "hop 9")
    )
    try:
        topic = _app("unawaited").topic("t", value_type=int)
        CURRENT_FOR_TEST.set("value 3")
        coroutine = topic.send(value=1)
        CURRENT_FOR_TEST.set(None)  # nothing current: an agent's send, the hop is asked
        hop_send = topic.send(value=2)
        CURRENT_FOR_TEST.set("value 4")  # current when it is dropped: not the one to blame
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del coroutine, hop_send
            gc.collect()
        assert seen == [("value 3", None), (None, "hop 9")]
        assert any("coroutine 'Topic.send' was never awaited" in str(w.message) for w in caught)
    finally:
        touchpoints.uninstall()


def test_a_take_generator_keeps_its_batch_events_in_a_local_named_events() -> None:
    """The batch note reads ``events`` from the suspended generator's frame (``Stream.take`` and
    siblings build the list there and ack it in a ``finally``)."""
    for name in touchpoints.TAKES:
        code = inspect.unwrap(getattr(Stream, name)).__code__  # under faust's _tracks_buffer_agen
        assert inspect.isasyncgenfunction(inspect.unwrap(getattr(Stream, name))), name
        assert "events" in code.co_varnames + code.co_cellvars, name


def test_send_soon_hands_the_buffered_message_and_the_current_value_to_the_hook() -> None:
    seen: list[Any] = []

    async def run() -> Any:
        app = _app("soon")
        topic = app.topic("buffered", value_type=int, value_serializer="json")
        CURRENT_FOR_TEST.set("value 9")
        return topic.send_soon(value=1)

    touchpoints.install(_hooks(on_send_soon=lambda message, captured: seen.append((message, captured))))
    try:
        fut = asyncio.run(run())
    finally:
        touchpoints.uninstall()
    assert seen == [(fut.message, "value 9")]  # the same PendingMessage reaches on_send_initiated


class _Recorder:
    """Stands in for the aiokafka producer at the very edge, to see what Faust hands it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def send(self, topic: str, key: Any, value: Any, **kwargs: Any) -> asyncio.Future:
        self.sent.append((topic, kwargs.get("headers")))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


@pytest.mark.parametrize("headers", [None, {"mine": b"1"}, [("mine", b"1"), (HEADER, b"upstream:1:2")]])
def test_a_header_stamped_in_on_send_initiated_reaches_the_producer(headers: Any) -> None:
    """``Topic.publish_message`` hands the producer the same headers object the sensor saw."""

    class Stamper(Sensor):
        def on_send_initiated(self, producer, topic, message, keysize, valsize):  # type: ignore[no-untyped-def]
            touchpoints.stamp_header(message, HEADER, b"src@run:7:1")

    async def run() -> list[tuple[str, Any]]:
        app = _app("stamp")
        app.sensors.add(Stamper())
        topic = app.topic("stamped", value_type=int, value_serializer="json")
        recorder = _Recorder()

        async def producer() -> _Recorder:
            return recorder

        topic._get_producer = producer  # type: ignore[method-assign]
        await topic.publish_message(topic.as_future_message(value=1, headers=headers))
        return recorder.sent

    ((name, sent),) = asyncio.run(run())
    assert name == "stamped"
    pairs = list(sent.items()) if isinstance(sent, dict) else list(sent)
    assert [v for k, v in pairs if k == HEADER] == [b"src@run:7:1"]  # stamped once, upstream's replaced
    if headers:
        assert ("mine", b"1") in pairs


def test_the_frame_walk_names_the_outermost_user_function_never_the_stdlib() -> None:
    """A thread's target calls a helper that sends: the row is named after the target, not the
    helper (innermost) nor ``threading.Thread.run`` (the standard library, outermost)."""
    found: list[Any] = []

    def apply_async() -> None:
        found.append(touchpoints.sender_frame(1))

    def reconcile() -> None:
        apply_async()

    thread = threading.Thread(target=reconcile)
    thread.start()
    thread.join()
    ((code, module),) = found
    assert code.co_name == "reconcile" and module == __name__


def test_agent_readers_and_crash_state_of_an_app() -> None:
    app = _app("readers")
    topic = app.topic("orders", value_type=int)

    @app.agent(topic)
    async def charge(stream):  # type: ignore[no-untyped-def]
        async for _ in stream:
            pass

    assert touchpoints.agent_readers(app) == {"orders": ("charge",), str(app.conf.reply_to): ("replies",)}
    assert touchpoints.crash_of(app) is None


def test_broker_and_datadir_of_an_app_not_started() -> None:
    app = _app("broker")
    assert touchpoints.datadir_is_default(app)
    faust.App("custom", broker="kafka://127.0.0.1:1", datadir="/tmp/x")
    assert not touchpoints.datadir_is_default(faust.App("custom2", datadir="/tmp/elsewhere"))
    touchpoints.replace_broker(app, "kafka://127.0.0.1:2")
    assert [str(url) for url in app.conf.broker] == ["kafka://127.0.0.1:2"]
    assert [str(url) for url in app.conf.broker_consumer] == ["kafka://127.0.0.1:2"]
    assert [str(url) for url in app.conf.broker_producer] == ["kafka://127.0.0.1:2"]
    assert app._producer_transport is None
    assert app.transport.url[0].port == 2


def test_aiokafka_consumer_has_the_metadata_client_genmon_reads() -> None:
    from aiokafka import AIOKafkaConsumer

    async def client() -> Any:
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", group_id=None)
        return consumer._client

    assert inspect.iscoroutinefunction(asyncio.run(client()).fetch_all_metadata)


def test_faust_loads_genmons_fixup_once_from_one_thread() -> None:
    """Apps built on several threads at once must not race over the entry-point registry."""
    import threading

    from faust.fixups import FIXUPS

    from genmon.probe.touchpoints import load_fixups

    load_fixups()
    assert "genmon" in FIXUPS.aliases  # the entry point is installed, and read
    errors: list[BaseException] = []

    def iterate() -> None:
        try:
            for _ in range(200):
                list(FIXUPS.iterate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=iterate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
