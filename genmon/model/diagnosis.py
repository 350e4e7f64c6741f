"""Why a pipeline looks the way it does, and what to change: plain words from the counts.

Kept next to the Snapshot because the screen, ``--json`` readers and the README all explain
a verdict the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from genmon.model.snapshot import PipelineSnapshot

PUMP_FIX = """\
@app.task
async def pump():
    async for value in {gen}():
        await topic.send(value=value)"""


@dataclass(frozen=True)
class Diagnosis:
    why: str
    fix: str = ""


def short_name(qualname: str) -> str:
    """``create_app.<locals>.numbers`` -> ``numbers``."""
    return qualname.rsplit(".", 1)[-1]


def diagnose(pipe: PipelineSnapshot) -> Diagnosis:
    c, v = pipe.counts, pipe.verdict
    gen = short_name(pipe.generator)
    topic = pipe.topics[0] if pipe.topics else "the topic"
    if v.state == "lost" and v.stage == "sent":
        if c.sent == 0:
            return Diagnosis(
                f"yielded {c.yielded}, sent 0: nothing sends this generator's values to a topic. "
                "Iterating a generator does not publish anything; an agent only receives what "
                "some code sends to its topic.",
                PUMP_FIX.format(gen=gen),
            )
        return Diagnosis(
            f"yielded {c.yielded}, sent {c.sent}: {v.lost} values were made but never sent. "
            "A send that is not awaited, or a code path that skips the send, drops them.",
            "await topic.send(value=value)  # every send must be awaited",
        )
    if v.state == "lost" and v.stage == "acked":
        failed = f" ({pipe.send_failed} delivery errors)" if pipe.send_failed else ""
        return Diagnosis(
            f"sent {c.sent}, acked {c.acked}{failed}: the broker never confirmed {v.lost} values. "
            "The broker went away, the topic cannot be written, or the process stopped before the "
            "producer flushed.",
            "await app.producer.flush()  # before the process exits; check the log panel for errors",
        )
    if v.state == "lost" and v.stage == "received":
        return Diagnosis(
            f"acked {c.acked}, received {c.received}: {v.lost} values are on {topic} but no agent "
            "took them. No agent consumes this topic, the group joined with "
            "auto_offset_reset='latest', or the values could not be deserialized.",
            f"@app.agent(app.topic({topic!r}, value_type=...))",
        )
    if v.state == "lost" and v.stage == "processed":
        return Diagnosis(
            f"received {c.received}, processed {c.processed}: the agent took {v.lost} values but "
            "did not finish them: it raised or is stuck. See the log panel (l).",
            "wrap the agent body in try/except and log, or fix the exception it raises",
        )
    if v.state == "paused":
        return Diagnosis(f"the generator is switched off after {c.yielded} values; space resumes it.")
    if v.state == "in_flight":
        return Diagnosis(
            f"{v.in_flight} values are between yielded and processed and still moving; a shortfall "
            "only counts as lost once the pipeline is quiet for the settle timeout."
        )
    if c.yielded == 0:
        return Diagnosis("waiting for the generator's first value.")
    return Diagnosis(f"every one of the {c.yielded} values yielded was sent, acked, received and processed.")
