"""genmon's data model: immutable snapshots and their JSON form. No Faust, no Textual."""

from genmon.model.diagnosis import Diagnosis, diagnose, flow, short_name, switch_symbol
from genmon.model.snapshot import (
    CAUSE_WORDS,
    STAGES,
    AppStatus,
    BrokerInfo,
    Counts,
    LoopStalls,
    MissingIds,
    PipelineSnapshot,
    Snapshot,
    TopicOffsets,
    Verdict,
)

__all__ = [
    "CAUSE_WORDS",
    "STAGES",
    "AppStatus",
    "BrokerInfo",
    "Counts",
    "Diagnosis",
    "LoopStalls",
    "MissingIds",
    "PipelineSnapshot",
    "Snapshot",
    "TopicOffsets",
    "Verdict",
    "diagnose",
    "flow",
    "short_name",
    "switch_symbol",
]
