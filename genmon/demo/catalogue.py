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
from genmon.demo.app import BUILDERS, create_app, new_app
from genmon.demo.names import DESCRIPTIONS, ORIGINAL, UnknownScenario, descriptions, select

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
        Scenario("unwired", DESCRIPTIONS["unwired"]),
        Scenario("sync-pump", DESCRIPTIONS["sync-pump"]),
        Scenario("async-pump", DESCRIPTIONS["async-pump"]),
        Scenario(
            "unawaited-send",
            DESCRIPTIONS["unawaited-send"],
            bugs.unawaited_send,
        ),
        Scenario("wrong-topic", DESCRIPTIONS["wrong-topic"], bugs.wrong_topic),
        Scenario(
            "bad-payload",
            DESCRIPTIONS["bad-payload"],
            bugs.bad_payload,
        ),
        Scenario("crashing-agent", DESCRIPTIONS["crashing-agent"], bugs.crashing_agent),
        Scenario(
            "slow-consumer",
            DESCRIPTIONS["slow-consumer"],
            bugs.slow_consumer,
        ),
        Scenario(
            "blocking-generator",
            DESCRIPTIONS["blocking-generator"],
            bugs.blocking_generator,
        ),
        Scenario(
            "late-consumer",
            DESCRIPTIONS["late-consumer"],
            bugs.late_producer,
            consumer=bugs.late_consumer,
            consumer_settings={"consumer_auto_offset_reset": "latest"},
            consumer_delay=3.0,
        ),
        Scenario(
            "agent-without-stream",
            DESCRIPTIONS["agent-without-stream"],
            bugs.agent_without_stream,
        ),
        Scenario(
            "async-for-sync-generator",
            DESCRIPTIONS["async-for-sync-generator"],
            bugs.async_for_sync_generator,
        ),
    )
}


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


assert list(SCENARIOS) == list(DESCRIPTIONS), "genmon.demo.names lists every scenario, in order"
assert all(SCENARIOS[n].description == DESCRIPTIONS[n] for n in SCENARIOS)
__all__ = [
    "ORIGINAL",
    "SCENARIOS",
    "AppPlan",
    "UnknownScenario",
    "create_app",
    "descriptions",
    "plan",
    "select",
]
