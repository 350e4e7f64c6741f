"""A watcher folds the reports topic's history one report at a time, letting go of the hops' runs of
processed values as it goes — the same fleet as folding it all and settling at the end, without
holding every worker run's origins at once (no broker: the records are handed to the fold)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from genmon.broker.address import parse_broker_url
from genmon.fleet import watcher as watching
from genmon.fleet.watcher import Watcher
from genmon.model.state import Made
from genmon.model.wire import encode
from tests.unit.test_fleet_merge import ids, receiver, report, sender

RUNS, SIZE, WORKERS = 100, 10, 6


@dataclass(frozen=True)
class Record:
    offset: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def history() -> list[Record]:
    """Worker ``wN`` hops 1,000 values (100 runs of origins) that ``wN+1`` processes, as in a fleet
    whose runs end one after another: each run's final checkpoint names the origins of values only
    the next run processed."""
    records = []
    for n in range(1, WORKERS + 1):
        token = f"t{n}"
        made = tuple(Made(i, i + SIZE - 1, f"numbers@{token}", i, i, i) for i in range(1, RUNS * SIZE, SIZE))
        hop = replace(sender(token, RUNS * SIZE), name="double()", made_from=made)
        sources = [hop]
        if n > 1:
            sources.append(replace(receiver(f"t{n - 1}", ids(1, RUNS * SIZE)), name="double()"))
        whole = report(f"w{n}", *sources, final=True, interval=60.0)
        records.append(Record(len(records), whole.key, encode(whole)))
    return records


def folded(monkeypatch: pytest.MonkeyPatch, settle_at: int) -> tuple[Watcher, int]:
    """A watcher that folded the history (settling every ``settle_at`` runs), and the most runs of
    origins its fleet held at once."""
    monkeypatch.setattr(watching, "HISTORY_SETTLE_RUNS", settle_at)
    watcher = Watcher(parse_broker_url("kafka://127.0.0.1:9"))  # never started: no broker reached
    most = 0
    add = watcher.fleet.add

    def counting(report, arrived):  # type: ignore[no-untyped-def]
        nonlocal most
        add(report, arrived)
        most = max(most, held(watcher))

    monkeypatch.setattr(watcher.fleet, "add", counting)
    records = history()
    watcher._backlog = len(records)
    watcher._take_reports(records, now=100.0)
    most = max(most, held(watcher))
    return watcher, most


def held(watcher: Watcher) -> int:
    return sum(len(src.made_from) for h in watcher.fleet.heard.values() for src in h.report.sources)


def test_the_history_is_settled_as_it_is_folded_into_the_same_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    at_once, most_at_once = folded(monkeypatch, settle_at=10**9)
    assert most_at_once == WORKERS * RUNS  # every run's origins held together
    at_once.fleet.settle_hops()
    as_it_goes, most_as_it_goes = folded(monkeypatch, settle_at=RUNS)
    assert most_as_it_goes <= 2 * RUNS  # what the newest run holds, and the one before it
    assert held(as_it_goes) == held(at_once) == RUNS  # the last run's values nobody processed
    assert {w: h.report for w, h in as_it_goes.fleet.heard.items()} == {
        w: h.report for w, h in at_once.fleet.heard.items()
    }
    assert as_it_goes.merged().sources == at_once.merged().sources
