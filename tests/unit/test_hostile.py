"""Hostile records never hurt the watcher: whatever bytes arrive on genmon's topics (a report, a
control record) or in a ``genmon-id`` header on the user's topics, decoding refuses them in one
line or yields something the merge and the verdicts take without raising, in bounded memory.

Property tests (hypothesis): garbage, truncation, zlib bombs, deep nesting, huge and negative
numbers, id sets claiming 2^32 ids, and every field of a real report replaced by a wrong value.
"""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
import zlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap, FrozenBitMap

from genmon.model import AppReading, AppState, BrokerInfo, Clocks, Made, RowKind, SourceState, build
from genmon.model.control_record import ControlRecord
from genmon.model.merge import Fleet
from genmon.model.wire import MAX_INFLATED, ZDICT, WireError, WorkerReport, decode, encode
from genmon.probe import Probe

FUZZ = settings(
    max_examples=int(os.environ.get("GENMON_FUZZ_EXAMPLES", "300")),
    derandomize=not os.environ.get("GENMON_FUZZ_EXAMPLES"),  # CI: the same examples every run
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.too_slow],
)
BROKER = BrokerInfo("kafka://127.0.0.1:9", embedded=False, up=True)


def _report() -> WorkerReport:
    src = SourceState(
        name="numbers",
        function="app.numbers",
        kind=RowKind.ASYNC,
        owner="app0",
        seq=50,
        token="tok",
        sent=FrozenBitMap(range(1, 51)),
        acked=FrozenBitMap(range(1, 51)),
        received=FrozenBitMap(range(1, 41)),
        processed={("t", "agent"): FrozenBitMap(range(1, 41))},
        topics=("t",),
        agents=("agent",),
        made_from=(Made(41, 50, "numbers@tok", 1, 1_000_000, 2_000_000),),  # a hop of itself: any row
    )
    app = AppReading("app0", "app", AppState.RUNNING, readers={"t": ("agent",)}, declared={"t": 4})
    return WorkerReport(
        worker="host:1:tok",
        host="host",
        pid=1,
        started=1000.0,
        at=1001.0,
        number=1,
        apps=(app,),
        sources=(src,),
    )


def _pack(doc: Any) -> bytes:
    packer = zlib.compressobj(6, zdict=ZDICT)
    return packer.compress(json.dumps(doc).encode()) + packer.flush()


def _doc() -> dict[str, Any]:
    unpacker = zlib.decompressobj(zdict=ZDICT)
    return dict(json.loads(unpacker.decompress(encode(_report())) + unpacker.flush()))


def _survives(data: bytes) -> None:
    """Decoding refuses the bytes, or what they decode to merges and is judged without raising."""
    try:
        report = decode(data)
    except WireError:
        return
    fleet = Fleet()
    fleet.add(report, 0.0)
    reading = fleet.reading(20.0, broker=BROKER)
    snap, _ = build(reading, Clocks(5.0))
    snap.to_dict()


@FUZZ
@given(st.binary(max_size=4096))
def test_garbage_bytes_are_refused(data: bytes) -> None:
    _survives(data)


@FUZZ
@given(st.integers(min_value=0, max_value=10_000))
def test_a_truncated_report_is_refused(cut: int) -> None:
    data = encode(_report())
    _survives(data[: cut % len(data)])


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a report document."""
    found = [at] if at else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*at, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*at, index))
    return found


PATHS = _paths(_doc())


@FUZZ
@given(st.sampled_from(PATHS), VALUES)
def test_every_field_of_a_report_with_a_wrong_value_is_refused_or_harmless(
    path: tuple[Any, ...], value: Any
) -> None:
    doc = _doc()
    inner = doc
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = value
    _survives(_pack(doc))


@FUZZ
@given(
    st.sampled_from(["seq", "floor"]),
    st.integers(min_value=-(2**40), max_value=2**64),
)
def test_huge_and_negative_ids_are_refused_or_harmless(field: str, value: int) -> None:
    doc = _doc()
    doc["sources"][0][field] = value
    _survives(_pack(doc))


def test_an_id_set_claiming_every_32_bit_id_is_harmless() -> None:
    doc = _doc()
    every = BitMap()
    every.add_range(0, 2**32)
    doc["sources"][0]["sent"] = base64.b64encode(every.serialize()).decode()
    tracemalloc.start()
    try:
        _survives(_pack(doc))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, peak


def test_a_zlib_bomb_is_refused_in_bounded_memory() -> None:
    """About 1 MB that inflates to 1 GB: refused without inflating it."""
    packer = zlib.compressobj(9, zdict=ZDICT)
    chunk = b" " * (64 * 2**20)
    bomb = packer.compress(b'{"format": 2, "pad": "') + b"".join(packer.compress(chunk) for _ in range(16))
    bomb += packer.flush()
    assert len(bomb) < 2 * 2**20
    tracemalloc.start()
    try:
        try:
            decode(bomb)
        except WireError as exc:
            assert "too big" in str(exc)
        else:
            raise AssertionError("a bomb decoded")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_INFLATED + 16 * 2**20, peak  # never more than a report may inflate to


def test_deeply_nested_json_is_refused() -> None:
    for depth in (1_000, 100_000):
        try:
            decode(_pack(json.loads("[" * 100 + "]" * 100)) if depth < 0 else _deep(depth))
        except WireError:
            continue
        raise AssertionError("decoded")


def _deep(depth: int) -> bytes:
    packer = zlib.compressobj(6, zdict=ZDICT)
    return packer.compress(b"[" * depth + b"]" * depth) + packer.flush()


@FUZZ
@given(st.one_of(st.none(), st.binary(max_size=200)), st.one_of(st.none(), st.binary(max_size=400)))
def test_control_records_are_refused_or_exact(key: bytes | None, value: bytes | None) -> None:
    try:
        record = ControlRecord.decode(key, value)
    except WireError:
        return
    assert record.key == key and isinstance(record.on, bool) and isinstance(record.stamp, int)


NUMBERS = st.sampled_from([b"1", b"-1", b"9" * 5000, b"", b"0", b"4294967296", b"x", b"99999999999999999999"])


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300),
        st.builds(
            lambda name, seq, at: b"%s:%s:%s" % (name, seq, at), st.binary(max_size=40), NUMBERS, NUMBERS
        ),
        st.builds(lambda seq, at: (seq, at), NUMBERS, NUMBERS),  # this run's own source, any numbers
    )
)
def test_a_hostile_genmon_id_header_is_not_ours_and_never_raises(raw: Any) -> None:
    probe = Probe()
    src = probe.declare("numbers")
    src.seq = 10
    if isinstance(raw, tuple):
        raw = src.header_value_prefix + b"%s:%s" % raw
    found = probe.from_header(raw)
    assert found is None or (found[0] is src and 0 < found[1] <= 10) or found[0].foreign
