"""The demo's pipelines by name and what each reproduces: no Faust here, so the command line can
check ``--scenarios`` and the help can list them without importing Faust (the screen's process
holds no Faust app; genmon's worker processes build them from :mod:`genmon.demo.catalogue`)."""

from __future__ import annotations

from collections.abc import Iterable

ORIGINAL = ("unwired", "sync-pump", "async-pump")

DESCRIPTIONS: dict[str, str] = {
    "unwired": "a generator is iterated, but nothing sends its values to the agent's topic",
    "sync-pump": "a plain generator; a task sends each value with await topic.send(value=...)",
    "async-pump": "an async generator that sleeps between values; a task sends each one",
    "unawaited-send": "every 4th value goes through topic.send(...) without await: the send never runs",
    "wrong-topic": "values are sent to 'orders'; the agent consumes 'order'",
    "bad-payload": "every 5th value is raw bytes that do not decode as the agent's value_type",
    "crashing-agent": "the agent raises on every 7th value (jobs come 8 times slower: Faust "
    "restarts a crashed agent up to 5 s later)",
    "slow-consumer": "the agent is slower than the generator: lag grows, nothing is lost",
    "blocking-generator": "time.sleep inside a sync generator stalls Faust's whole event loop",
    "late-consumer": "the consumer starts later with consumer_auto_offset_reset='latest': "
    "earlier values are skipped",
    "agent-without-stream": "@app.agent() on a function with no stream parameter: "
    "the worker crashes at start",
    "async-for-sync-generator": "async for over a plain generator: TypeError before the first value",
}


class UnknownScenario(ValueError):
    """A ``--scenarios`` name that does not exist; the message lists the ones that do."""


def select(spec: str | None) -> list[str]:
    """``None`` -> the three originals; ``all``; or a comma list of names (unknown -> error)."""
    if spec is None:
        return list(ORIGINAL)
    if spec.strip() == "all":
        return list(DESCRIPTIONS)
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:  # given, but empty ('' or ','): a slip, never "the defaults"
        raise UnknownScenario(
            f"--scenarios {spec!r} names no scenario; choose from: all, {', '.join(DESCRIPTIONS)}"
        )
    unknown = [name for name in names if name not in DESCRIPTIONS]
    if unknown:
        raise UnknownScenario(
            f"unknown scenario {', '.join(map(repr, unknown))}; choose from: all, {', '.join(DESCRIPTIONS)}"
        )
    return list(dict.fromkeys(names))


def descriptions(names: Iterable[str]) -> dict[str, str]:
    return {name: DESCRIPTIONS[name] for name in names}
