"""The Prometheus view of a snapshot, from hand-built fleets (no broker): every series docs/REFERENCE.md
lists, with the snapshot's own numbers (the live endpoint is tested in tests/integration/test_served.py)."""

from __future__ import annotations

from dataclasses import replace

from fakes import fleet_monitor, lost_monitor
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_text import samples

from genmon.model import STAGES, Snapshot, Stage
from genmon.watch.metrics import SnapshotCollector


def exposed(snap: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """What a scrape gets for ``snap``, parsed back."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: snap))  # type: ignore[arg-type]
    return samples(generate_latest(registry).decode())


def test_every_pipeline_and_worker_series_carries_the_snapshots_numbers() -> None:
    fleet = fleet_monitor().snapshot()
    (merged,) = [p for p in fleet.pipelines if p.name == "numbers"]
    pipe = replace(  # what a busier fleet shows besides: redeliveries, reorders, latency
        merged,
        duplicates={Stage.RECEIVED: 3, Stage.PROCESSED: 2},
        reorders=5,
        latency_ms={"count": 120.0, "p50": 12.5, "p95": 40.0, "p99": 80.0, "max": 95.0},
    )
    gone = next(w for w in fleet.workers if not w.alive)
    stopped = replace(gone, number=9, name="host:99", final=True)  # said goodbye
    snap = replace(fleet, pipelines=(pipe,), workers=(*fleet.workers, stopped))
    metrics = exposed(snap)
    row = (("app", pipe.app_id), ("pipeline", "numbers"))
    for stage in STAGES:
        assert metrics[("genmon_values_total", (*row, ("stage", str(stage))))] == pipe.counts[stage]
    for quantile, key in (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"), ("1", "max")):
        latency = metrics[("genmon_latency_seconds", (*row, ("quantile", quantile)))]
        assert latency == pipe.latency_ms[key] / 1000
    assert metrics[("genmon_latency_observations_total", row)] == 120
    for stage in STAGES:
        dups = metrics[("genmon_duplicates_total", (*row, ("stage", str(stage))))]
        assert dups == pipe.duplicates.get(stage, 0)
    assert metrics[("genmon_values_lost", row)] == pipe.verdict.lost
    assert metrics[("genmon_values_in_flight", row)] == pipe.verdict.in_flight
    assert metrics[("genmon_reorders_total", row)] == pipe.reorders
    assert metrics[("genmon_generator_on", row)] == (1.0 if pipe.on else 0.0)
    states = {
        labels[-1][1]: value for (name, labels), value in metrics.items() if name == "genmon_pipeline_state"
    }
    assert states[str(pipe.verdict.state)] == 1.0 and sum(states.values()) == 1.0
    assert metrics[("genmon_workers", (("state", "alive"),))] == 2
    assert metrics[("genmon_workers", (("state", "stopped"),))] == 1
    assert metrics[("genmon_workers", (("state", "gone"),))] == 1
    for w in snap.workers:
        labels = (("name", w.name), ("worker", w.label))
        assert metrics[("genmon_worker_up", labels)] == (1.0 if w.alive else 0.0)
        assert metrics[("genmon_worker_report_age_seconds", labels)] == w.age
        assert metrics[("genmon_loop_stalls_total", labels)] == w.stalls.count
    assert metrics[("genmon_broker_up", (("broker", snap.broker.url),))] == 1.0
    assert ("genmon_info", (("version", "0.1.0"),)) in metrics


def test_a_loss_is_exported_at_its_stage_with_its_count() -> None:
    snap = lost_monitor().snapshot()
    metrics = exposed(snap)
    lost = [p for p in snap.pipelines if p.verdict.lost]
    assert lost, "the fake has a losing row"
    for pipe in lost:
        row = (("app", pipe.app_id), ("pipeline", pipe.name))
        assert metrics[("genmon_values_lost", row)] == pipe.verdict.lost
        stage = (*row, ("stage", str(pipe.verdict.stage)))
        assert metrics[("genmon_values_lost_at", stage)] == pipe.verdict.lost
    kept = {labels for name, labels in metrics if name == "genmon_values_lost_at"}
    assert len(kept) == len(lost), "only losing rows have a lost-at series"


def test_values_lost_beside_a_seen_loss_count_at_their_own_stage_and_unverifiable_ones_do_not() -> None:
    from genmon.model import Verdict

    snap = lost_monitor().snapshot()
    pipe = next(p for p in snap.pipelines if p.verdict.lost)
    also = Verdict("lost", "lost at processed: 10", "processed", lost=10, proof="quiet")
    seen = Verdict(
        "lost", "lost at acked: 1 (send raised) · lost at processed: 10", "acked", lost=1, also=also
    )
    doubt = replace(also, state="unverifiable", text="unverifiable: 10 at processed (w2 gone)", lost=0)
    waiting = Verdict(
        "stuck", "stuck at received: 10 (agent raised …)", "received", in_flight=10, cause="agent_dead"
    )
    spread = replace(  # missing at two stages: each counted at its own
        also, text="lost: 2 at sent, 8 at processed", stage="sent", shortfalls=(("sent", 2), ("processed", 8))
    )
    row = (("app", pipe.app_id), ("pipeline", pipe.name))
    for verdict, lost, at, stuck in (
        (seen, 11, {"acked": 1, "processed": 10}, 0),
        (replace(seen, also=spread), 11, {"acked": 1, "sent": 2, "processed": 8}, 0),
        (replace(seen, also=doubt), 1, {"acked": 1}, 0),
        (replace(seen, also=waiting), 1, {"acked": 1}, 10),  # behind a decode failure: stuck, apart
    ):
        metrics = exposed(replace(snap, pipelines=(replace(pipe, verdict=verdict),)))
        assert metrics[("genmon_values_lost", row)] == lost
        assert metrics[("genmon_values_stuck", row)] == stuck
        assert {
            dict(labels)["stage"]: value
            for (name, labels), value in metrics.items()
            if name == "genmon_values_lost_at"
        } == at
