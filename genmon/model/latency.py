"""A value's latency, yield to processed: the one histogram shape, and the percentiles of a fleet's.

The probe counts latencies into this shape, reports carry it encoded, and the watcher sums the
histograms of every worker that processed a source's values before reading percentiles: one shape
everywhere is what makes the workers' histograms add up exactly.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

from hdrh.codec import HdrHistogramEncoder
from hdrh.histogram import HdrHistogram

LATENCY_MAX_US = 3_600_000_000
"""One hour: anything slower is clamped, not dropped."""
JOIN = "\n"
"""Between the encoded histograms of a merged source's parts (base64 never holds a newline)."""


SHAPE = (1, LATENCY_MAX_US, 2)
"""Every latency histogram's: 1 µs to an hour, two significant digits."""


def histogram() -> HdrHistogram:
    """An empty latency histogram of the one shape."""
    return HdrHistogram(*SHAPE)


ENCODED_MAX = 64 * 1024
"""The longest encoded histogram read (genmon's own encode to a few KB)."""


def decoded(text: str) -> HdrHistogram | None:
    """An encoded histogram of genmon's one shape, or None for anything else: a report anyone may
    write must not make the watcher build a histogram of any size it claims."""
    if len(text) > ENCODED_MAX:
        return None
    try:
        payload = HdrHistogramEncoder.decode(text.encode(), True)
        head = payload.payload
        if (head.lowest_trackable_value, head.highest_trackable_value, head.significant_figures) != SHAPE:
            return None
        return HdrHistogram(*SHAPE, hdr_payload=payload)
    except Exception:
        return None


def latency_summary(encoded: str) -> dict[str, float]:
    """p50/p95/p99/max in ms of the sum of the HdrHistograms in ``encoded`` (each worker's own,
    joined by ``JOIN``)."""
    total: HdrHistogram | None = None
    for text in encoded.split(JOIN):
        if not text:
            continue
        hist = decoded(text)
        if hist is None:
            continue
        if total is None:
            total = hist
        else:
            total.add(hist)
    if total is None or not total.get_total_count():
        return {}
    values = percentiles(total, (50, 95, 99))
    return {
        "count": float(total.get_total_count()),
        **{f"p{p}": values[p] / 1000.0 for p in (50, 95, 99)},
        "max": total.get_max_value() / 1000.0,
    }


def percentiles(histogram: HdrHistogram, wanted: Iterable[float]) -> dict[float, int]:
    """``HdrHistogram.get_percentile_to_value_dict``, the same values, in C where it counts: hdrh
    walks its ~3,300 counters in Python (twice the time of this, which with hundreds of busy rows
    was most of a snapshot's latency work); here they are summed by ``itertools.accumulate`` and
    searched by ``bisect``, and only the indexes found become values in Python."""
    size = min(histogram.counts_len, histogram.encoder.payload.counts_len)
    cumulative = list(itertools.accumulate(histogram.counts[:size]))
    found: dict[float, int] = {}
    for percentile in sorted(set(wanted)):
        if percentile > 100:
            break
        index = bisect.bisect_left(cumulative, histogram.get_target_count_at_percentile(percentile))
        if index >= len(cumulative):
            break
        value = histogram.get_value_from_index(index)
        found[percentile] = (
            histogram.get_highest_equivalent_value(value)
            if percentile
            else histogram.get_lowest_equivalent_value(value)
        )
    return found
