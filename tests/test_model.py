"""The rules behind the verdicts: in flight versus lost, seen losses first, send failures."""

from __future__ import annotations

from genmon.host.settle import SettleTracker
from genmon.model import Counts, MissingIds, PipelineSnapshot, Verdict


def test_a_moving_backlog_is_in_flight_and_a_stuck_one_is_lost() -> None:
    tracker = SettleTracker(settle_seconds=5.0)
    tracker.observe("p", Counts(10, 10, 10, 4, 4), now=0.0)
    for t in range(1, 20):  # received keeps moving: never lost, however long
        counts = Counts(10 + t, 10 + t, 10 + t, 4 + t, 4 + t)
        tracker.observe("p", counts, now=float(t))
        verdict = tracker.verdict("p", counts, on=True, now=float(t))
        assert verdict.state == "in_flight" and verdict.in_flight == 6
    stuck = Counts(40, 40, 40, 23, 23)
    for t in range(20, 26):
        tracker.observe("p", stuck, now=float(t))
    verdict = tracker.verdict("p", stuck, on=True, now=25.0)
    assert (verdict.state, verdict.stage, verdict.lost) == ("lost", "received", 17)
    assert verdict.text == "lost at received: 17"


def test_a_seen_loss_is_reported_at_once_and_named() -> None:
    tracker = SettleTracker(settle_seconds=5.0)
    counts = Counts(20, 20, 20, 20, 17)
    tracker.observe("p", counts, now=0.0)
    verdict = tracker.verdict("p", counts, on=True, now=0.1, definite={"processed": (3, "crashed")})
    assert (verdict.state, verdict.stage, verdict.lost, verdict.cause) == ("lost", "processed", 3, "crashed")
    assert verdict.text == "lost at processed: 3 (agent raised)"


def test_paused_and_final() -> None:
    tracker = SettleTracker()
    counts = Counts(5, 5, 5, 5, 5)
    tracker.observe("p", counts, now=0.0)
    assert tracker.verdict("p", counts, on=False, now=0.0).text == "paused"
    short = Counts(5, 5, 3, 3, 3)
    tracker.observe("p", short, now=0.1)
    final = tracker.verdict("p", short, on=False, now=0.2, final=True)
    assert (final.stage, final.lost) == ("acked", 2)


def test_sends_with_no_outcome_count_as_send_failed_once_settled() -> None:
    lost = Verdict("lost", "lost at acked: 2", "acked", lost=2)
    pipe = PipelineSnapshot(
        "p",
        "gen",
        "async",
        False,
        Counts(5, 5, 3, 3, 3),
        lost,
        missing={"acked": MissingIds(2, ((4, 5),))},
        damaged={"send_failed": MissingIds(1, ((9, 9),))},
    )
    assert pipe.send_failed == 3
    assert pipe.to_dict()["send_failed"] == 3
    in_flight = PipelineSnapshot("p", "gen", "async", True, Counts(5, 5, 3, 3, 3), Verdict("in_flight", "ok"))
    assert in_flight.send_failed == 0
    assert MissingIds(4, ((1, 3), (7, 7)), more=True).text() == "1-3, 7, …"
