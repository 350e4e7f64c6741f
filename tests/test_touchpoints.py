"""Contract tests: every assumption genmon makes about faust-streaming's, mode's and aiokafka's
private parts (genmon/probe/touchpoints.py), checked without a broker.

When an upgrade of one of those libraries breaks an assumption, a test here fails and names it;
the end-to-end tests on the real broker would only show wrong counts.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from typing import Any

import faust
import pytest
from faust.app.base import App
from faust.channels import Channel
from faust.sensors import Sensor
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
    assert _params(Channel.on_decode_error) == ["self", "exc", "message"]
    assert inspect.iscoroutinefunction(Channel.on_decode_error)
    assert inspect.iscoroutinefunction(Topic.send)
    assert Topic.send.__qualname__ == "Topic.send"  # what the unawaited warning names


def test_sensor_hooks_have_the_signatures_the_sensor_implements() -> None:
    from genmon.probe.sensor import GenmonSensor

    for hook in (
        "on_send_initiated",
        "on_send_completed",
        "on_send_error",
        "on_message_in",
        "on_stream_event_out",
    ):
        assert _params(getattr(GenmonSensor, hook)) == _params(getattr(Sensor, hook)), hook


def test_faust_context_helpers_exist() -> None:
    from faust.agents.agent import current_agent
    from faust.streams import current_event

    assert current_agent() is None and current_event() is None  # outside any agent


def test_install_patches_and_uninstall_restores_every_original() -> None:
    originals = (
        App._on_agent_error,
        Channel.on_decode_error,
        Topic.send,
        warnings.showwarning,
        list(warnings.filters),
    )
    probe = Probe()
    probe.install()
    try:
        assert touchpoints.installed()
        assert App._on_agent_error is not originals[0]
        assert Channel.on_decode_error is not originals[1]
        assert Topic.send is not originals[2] and Topic.send.__qualname__ == "Topic.send"
        assert warnings.showwarning is not originals[3]
        assert warnings.filters[0][0] == "always"
    finally:
        probe.uninstall()
    assert not touchpoints.installed()
    assert App._on_agent_error is originals[0]
    assert Channel.on_decode_error is originals[1]
    assert Topic.send is originals[2]
    assert warnings.showwarning is originals[3]
    assert list(warnings.filters) == originals[4]


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


def test_an_unawaited_topic_send_reaches_the_hook_by_its_warning_text() -> None:
    """Python names the dropped coroutine ``Topic.send`` (the wrapper keeps the qualname)."""
    seen: list[str] = []
    touchpoints.install(
        touchpoints.Hooks(
            on_crash=lambda event: None,
            on_decode_error=lambda message: None,
            on_unawaited=lambda: seen.append("unawaited"),
            after_send=lambda: None,
        )
    )
    try:
        topic = _app("unawaited").topic("t", value_type=int)
        coroutine = topic.send(value=1)
        del coroutine
        gc.collect()
        assert seen == ["unawaited"]  # called only when the warning's text names Topic.send
    finally:
        touchpoints.uninstall()


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


def test_the_frame_walk_skips_library_frames() -> None:
    def user_code() -> Any:
        return touchpoints.sender_frame(1)

    code, module = user_code()
    assert code.co_name == "user_code" and module == __name__


def test_agent_readers_and_crash_state_of_an_app() -> None:
    app = _app("readers")
    topic = app.topic("orders", value_type=int)

    @app.agent(topic)
    async def charge(stream):  # type: ignore[no-untyped-def]
        async for _ in stream:
            pass

    assert touchpoints.agent_readers(app) == {"orders": ("charge",)}
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
