"""Which demo pipelines exist, what each reproduces, and how they are grouped into Faust apps.

The three original pipelines share one app. Every bug of the catalogue gets an app of its own:
a worker that crashes at start, a consumer group with ``auto_offset_reset='latest'`` or a loop
blocked by a generator must not take the other pipelines down with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from genmon.demo import bugs
from genmon.demo.app import BUILDERS, ORIGINAL, create_app, new_app

Builder = Callable[[Any, float, str], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    builder: Builder | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    consumer: Builder | None = None
    """A second app that consumes the pipeline's topic (started ``consumer_delay`` s later)."""
    consumer_settings: dict[str, Any] = field(default_factory=dict)
    consumer_delay: float = 0.0


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("unwired", "a generator is iterated, but nothing sends its values to the agent's topic"),
        Scenario("sync-pump", "a plain generator; a task sends each value with await topic.send(value=...)"),
        Scenario("async-pump", "an async generator that sleeps between values; a task sends each one"),
        Scenario(
            "unawaited-send",
            "every 4th value goes through topic.send(...) without await: the send never runs",
            bugs.unawaited_send,
        ),
        Scenario("wrong-topic", "values are sent to 'orders'; the agent consumes 'order'", bugs.wrong_topic),
        Scenario(
            "bad-payload",
            "every 5th value is raw bytes that do not decode as the agent's value_type",
            bugs.bad_payload,
        ),
        Scenario("crashing-agent", "the agent raises on every 7th value", bugs.crashing_agent),
        Scenario(
            "slow-consumer",
            "the agent is slower than the generator: lag grows, nothing is lost",
            bugs.slow_consumer,
        ),
        Scenario(
            "blocking-generator",
            "time.sleep inside a sync generator stalls Faust's whole event loop",
            bugs.blocking_generator,
        ),
        Scenario(
            "late-consumer",
            "the consumer starts later with consumer_auto_offset_reset='latest': earlier values are skipped",
            bugs.late_producer,
            consumer=bugs.late_consumer,
            consumer_settings={"consumer_auto_offset_reset": "latest"},
            consumer_delay=3.0,
        ),
        Scenario(
            "agent-without-stream",
            "@app.agent() on a function with no stream parameter: the worker crashes at start",
            bugs.agent_without_stream,
        ),
        Scenario(
            "async-for-sync-generator",
            "async for over a plain generator: TypeError before the first value",
            bugs.async_for_sync_generator,
        ),
    )
}


class UnknownScenario(ValueError):
    """A ``--scenarios`` name that does not exist; the message lists the ones that do."""


def select(spec: str | None) -> list[str]:
    """``None`` -> the three originals; ``all``; or a comma list of names (unknown -> error)."""
    if spec is None or not spec.strip():
        return list(ORIGINAL)
    if spec.strip() == "all":
        return list(SCENARIOS)
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise UnknownScenario(
            f"unknown scenario {', '.join(map(repr, unknown))}; choose from: all, {', '.join(SCENARIOS)}"
        )
    return list(dict.fromkeys(names))


def descriptions(names: Iterable[str]) -> dict[str, str]:
    return {name: SCENARIOS[name].description for name in names}


@dataclass(frozen=True)
class AppPlan:
    """One app to run: how to build it, and how long to wait before starting it."""

    factory: Callable[[], Any]
    delay: float = 0.0


def plan(
    names: Iterable[str],
    *,
    app_id: str,
    broker: str,
    rate: float,
    datadir: str,
    broker_settings: Mapping[str, Any],
    topic_prefix: str = "",
) -> list[AppPlan]:
    """The apps that run the chosen pipelines (originals together, each bug alone)."""
    chosen = list(names)
    period = 1.0 / rate
    plans: list[AppPlan] = []
    originals = [name for name in chosen if name in BUILDERS]
    if originals:
        plans.append(
            AppPlan(
                lambda: create_app(
                    app_id,
                    broker,
                    rate,
                    os.path.join(datadir, app_id),
                    broker_settings,
                    topic_prefix,
                    originals,
                )
            )
        )
    for name in chosen:
        scenario = SCENARIOS[name]
        if scenario.builder is None:
            continue
        plans.append(
            AppPlan(
                _factory(
                    scenario.builder,
                    f"{app_id}-{name}",
                    scenario.settings,
                    broker,
                    period,
                    datadir,
                    broker_settings,
                    topic_prefix,
                )
            )
        )
        if scenario.consumer is not None:
            plans.append(
                AppPlan(
                    _factory(
                        scenario.consumer,
                        f"{app_id}-{name}-consumer",
                        scenario.consumer_settings,
                        broker,
                        period,
                        datadir,
                        broker_settings,
                        topic_prefix,
                    ),
                    delay=scenario.consumer_delay,
                )
            )
    return plans


def _factory(
    builder: Builder,
    app_id: str,
    settings: dict[str, Any],
    broker: str,
    period: float,
    datadir: str,
    broker_settings: Mapping[str, Any],
    prefix: str,
) -> Callable[[], Any]:
    def build() -> Any:
        app = new_app(app_id, broker, os.path.join(datadir, app_id), broker_settings, **settings)
        builder(app, period, prefix)
        return app

    return build
