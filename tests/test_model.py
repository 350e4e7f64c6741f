"""The rules behind the verdicts: in flight versus lost, seen losses first, send failures."""

from __future__ import annotations

from genmon.model import Cause, Clocks, Counts, MissingIds, PipelineSnapshot, Stage, Verdict


def test_a_moving_backlog_is_in_flight_and_a_stuck_one_is_lost() -> None:
    clocks = Clocks(settle_seconds=5.0).observe({"p": Counts(10, 10, 10, 4, 4)}, now=0.0)
    for t in range(1, 20):  # received keeps moving: never lost, however long
        counts = Counts(10 + t, 10 + t, 10 + t, 4 + t, 4 + t)
        clocks = clocks.observe({"p": counts}, now=float(t))
        verdict = clocks.verdict("p", counts, on=True, now=float(t))
        assert verdict.state == "in_flight" and verdict.in_flight == 6
    stuck = Counts(40, 40, 40, 23, 23)
    for t in range(20, 26):
        clocks = clocks.observe({"p": stuck}, now=float(t))
    verdict = clocks.verdict("p", stuck, on=True, now=25.0)
    assert (verdict.state, verdict.stage, verdict.lost) == ("lost", "received", 17)
    assert verdict.text == "lost at received: 17"


def test_a_seen_loss_is_reported_at_once_and_named() -> None:
    counts = Counts(20, 20, 20, 20, 17)
    clocks = Clocks(settle_seconds=5.0).observe({"p": counts}, now=0.0)
    verdict = clocks.verdict("p", counts, on=True, now=0.1, seen={Stage.PROCESSED: (3, Cause.CRASHED)})
    assert (verdict.state, verdict.stage, verdict.lost, verdict.cause) == ("lost", "processed", 3, "crashed")
    assert verdict.text == "lost at processed: 3 (agent raised)"


def test_paused_and_final() -> None:
    counts = Counts(5, 5, 5, 5, 5)
    clocks = Clocks().observe({"p": counts}, now=0.0)
    assert clocks.verdict("p", counts, on=False, now=0.0).text == "paused"
    short = Counts(5, 5, 3, 3, 3)
    clocks = clocks.observe({"p": short}, now=0.1)
    final = clocks.verdict("p", short, on=False, now=0.2, final=True)
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
