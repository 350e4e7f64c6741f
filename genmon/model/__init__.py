"""genmon's data model: the vocabulary, raw readings, their pure assembly into immutable snapshots,
the diagnosis and the JSON form. No Faust, no Textual (see docs/ARCHITECTURE.md)."""

from genmon.model.assemble import build
from genmon.model.control import Monitor, NotSwitchable, Refused, UnknownPipeline
from genmon.model.diagnosis import Diagnosis, diagnose
from genmon.model.ids import MissingIds
from genmon.model.problems import parse_fail_on, problems
from genmon.model.settle import Clocks
from genmon.model.snapshot import (
    AppStatus,
    BrokerInfo,
    Counts,
    LoopStalls,
    Outage,
    PipelineSnapshot,
    Snapshot,
    TopicOffsets,
    Verdict,
)
from genmon.model.state import (
    AckLog,
    AppReading,
    InboundState,
    Made,
    Reading,
    SourceState,
    downstream_key,
    split_downstream,
)
from genmon.model.text import count_text, flow, header_line, one_line, plural, short_name, switch_symbol
from genmon.model.vocabulary import (
    CAUSES,
    DEFAULT_FAIL_ON,
    PROBLEMS,
    STAGES,
    AppState,
    Cause,
    Problem,
    Proof,
    RowKind,
    Stage,
    VerdictState,
)

__all__ = [
    "CAUSES",
    "DEFAULT_FAIL_ON",
    "PROBLEMS",
    "STAGES",
    "AckLog",
    "AppReading",
    "AppState",
    "AppStatus",
    "BrokerInfo",
    "Cause",
    "Clocks",
    "Counts",
    "Diagnosis",
    "InboundState",
    "LoopStalls",
    "Made",
    "MissingIds",
    "Monitor",
    "NotSwitchable",
    "Outage",
    "PipelineSnapshot",
    "Problem",
    "Proof",
    "Reading",
    "Refused",
    "RowKind",
    "Snapshot",
    "SourceState",
    "Stage",
    "TopicOffsets",
    "UnknownPipeline",
    "Verdict",
    "VerdictState",
    "build",
    "count_text",
    "diagnose",
    "downstream_key",
    "flow",
    "header_line",
    "one_line",
    "parse_fail_on",
    "plural",
    "problems",
    "short_name",
    "split_downstream",
    "switch_symbol",
]
