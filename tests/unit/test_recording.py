"""The recording's format: frames read back exactly, a cut tail tolerated, damage refused in words."""

from __future__ import annotations

import pytest
from fakes import demo_reading

from genmon.model.recording import (
    INFLATED_FLOOR,
    LOG,
    MAGIC,
    REPORT,
    SAMPLE,
    Blocks,
    RecordingError,
    Sample,
    frame,
    packed,
    read_frames,
    sample_from,
    unpacked,
)
from genmon.model.snapshot import Outage, TopicOffsets


def _sample() -> Sample:
    reading = demo_reading()
    broker = reading.broker.__class__(
        reading.broker.url,
        True,
        False,
        "down",
        (Outage("down", 90.0, None, "17:40:03"),),
        1234,
        9999,
        ("17:41:00",),
    )
    offsets = {"t": TopicOffsets("t", 2, 40, "g", 38, {0: 20, 1: 18}, {1: 3})}
    return Sample(
        100.5, 1_700_000_000.25, 30.0, broker, offsets, {"g": 2}, 5.0, "/tmp/x.log", True, 3, {"k": 1}, "over"
    )


def test_a_sample_round_trips_exactly() -> None:
    sample = _sample()
    assert sample_from(unpacked(packed(sample.to_doc()))) == sample


def block(frames: bytes) -> bytes:
    """A block of its own stream (the first block of a recording)."""
    return Blocks().block(frames)


def test_frames_read_back_in_order_and_a_cut_tail_is_tolerated() -> None:
    blocks = Blocks()
    first = blocks.block(frame(REPORT, 1.0, b"abc") + frame(SAMPLE, 2.0, packed(_sample().to_doc())))
    data = MAGIC + first + blocks.block(frame(REPORT, 3.0, b"def"))
    read = read_frames(data)
    assert [(f.kind, f.at) for f in read.frames] == [(REPORT, 1.0), (SAMPLE, 2.0), (REPORT, 3.0)]
    assert not read.cut
    cut = read_frames(data[:-5])  # killed while writing the last block: the ones before are whole
    assert [f.kind for f in cut.frames] == [REPORT, SAMPLE] and cut.cut


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "not a genmon recording"),
        (b"PK\x03\x04 a zip", "not a genmon recording"),
        (b"GENMON-RECORDING 99\n", "another format"),
        (MAGIC + b"\xff\xff\xff\xff\x01" + bytes(8), "a damaged block at byte"),
        (MAGIC + block(frame(77, 1.0, b"x")), "a damaged block at byte"),
        (MAGIC + b"\x00\x00\x00\x05" + b"notzs", "a damaged block at byte"),
        (b"GENMON-RECORDING 2\n", "another format"),
    ],
)
def test_what_is_not_a_recording_is_refused_in_words(data: bytes, said: str) -> None:
    with pytest.raises(RecordingError, match=said):
        read_frames(data)


def test_a_damaged_sample_is_refused_in_words() -> None:
    doc = _sample().to_doc()
    doc["offsets"] = [["t", "two"]]
    with pytest.raises(RecordingError, match="a damaged sample"):
        sample_from(doc)
    with pytest.raises(RecordingError, match="a damaged frame"):
        unpacked(b"not json")


def test_the_stream_spans_blocks_so_a_second_like_the_last_costs_little() -> None:
    """Reports repeat from second to second: the second block of the same frames is a fraction."""
    blocks = Blocks()
    frames = b"".join(
        frame(REPORT, float(n), packed({"row": n % 7, "ids": list(range(400))})) for n in range(40)
    )
    first, second = blocks.block(frames), blocks.block(frames)
    assert len(second) * 10 < len(first)
    assert len(read_frames(MAGIC + first + second).frames) == 80


def test_a_file_built_to_inflate_to_gigabytes_is_refused_before_it_does() -> None:
    """Whole frames, a megabyte of log line each, past the floor: refused at the cap, not inflated
    on (the cap bounds what a hostile file can make the reader hold)."""
    blocks = Blocks()
    line = frame(LOG, 1.0, bytes(2**20 - 20))
    bomb = MAGIC + b"".join(blocks.block(line * 4) for _ in range(INFLATED_FLOOR // 2**22 + 2))
    assert len(bomb) < 64 * 1024
    with pytest.raises(RecordingError, match="inflates past 64 MB"):
        read_frames(bomb)


def test_a_replay_holds_the_file_not_the_run_inflated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Forty seconds of a megabyte each inflate to 40 MB; opening the replay (which plays to the
    end) and going back to the start never holds more than a few of them."""
    import tracemalloc

    from genmon.watch.replay import Replay

    doc = _sample().to_doc()
    blocks, data = Blocks(), bytearray(MAGIC)
    for second in range(40):
        padded = {**doc, "now": 100.0 + second, "pad": f"{second:>{2**20}}"}  # kept by no reader
        data += blocks.block(frame(SAMPLE, 100.0 + second, packed(padded)))
    path = tmp_path / "run.genmon"
    path.write_bytes(data)
    assert len(data) < 2**20
    tracemalloc.start()
    try:
        replay = Replay(str(path))
        assert (replay.position, replay.length) == (39, 39.0)
        assert replay.seek(0) is replay.snapshot() and replay.at == 0.0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * 2**20, f"{peak / 2**20:.1f} MB"
