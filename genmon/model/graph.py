"""The flow of an app as a graph: generators and sending code, topics, agents, and the values on each
edge — one model for every picture of it (the CI summary's Mermaid flowchart; the map screen).

A row is a path: its source sends to its topics, which its agents read. A hop's row is named after
the agent that sends (``enrich()``), so the agent node that reads one topic is also the source of the
next: the path of a multi-hop app joins up. The edge where a row's values die is marked: sent and
acked on the source's edge to its topic, received and processed on the topic's edge to its agents.
"""

from __future__ import annotations

from dataclasses import dataclass

from genmon.model.snapshot import PipelineSnapshot, Snapshot
from genmon.model.vocabulary import RowKind, Stage


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    kind: str
    """``source`` (a tracked generator or sending code), ``topic``, ``agent``, or ``nowhere`` (what a
    source's values never reached: nothing sends them)."""


@dataclass(frozen=True)
class Edge:
    start: str
    end: str
    label: str
    lost: bool
    """Values die on this edge (the row's verdict names a stage it covers)."""


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _agent_key(name: str) -> str:
    return f"agent:{name}"


def flow_graph(snapshot: Snapshot) -> Graph:
    """The snapshot's rows as one graph (a node per source, topic and agent; an edge per hop)."""
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    agents = {agent for pipe in snapshot.pipelines for agent in pipe.agents}
    for pipe in snapshot.pipelines:
        if pipe.kind == RowKind.TOPIC:
            continue
        source = _source_key(pipe, agents)
        if source not in nodes:
            nodes[source] = Node(
                source,
                pipe.name.removesuffix("()") if source.startswith("agent:") else pipe.name,
                "agent" if source.startswith("agent:") else "source",
            )
        lost = pipe.verdict.lost_at
        if not pipe.topics:
            nowhere = f"nowhere:{pipe.name}"
            nodes[nowhere] = Node(nowhere, "no topic", "nowhere")
            edges.append(Edge(source, nowhere, f"{pipe.counts.yielded:,} yielded, 0 sent", lost is not None))
            continue
        for topic in pipe.topics:
            key = f"topic:{topic}"
            nodes.setdefault(key, Node(key, topic, "topic"))
            sent = f"{pipe.counts.acked:,} acked" if pipe.counts.acked else f"{pipe.counts.sent:,} sent"
            edges.append(Edge(source, key, sent, lost in (Stage.SENT, Stage.ACKED)))
            for agent in pipe.agents:
                akey = _agent_key(agent)
                nodes.setdefault(akey, Node(akey, agent, "agent"))
                done = pipe.processed_by.get(agent, 0)
                edges.append(
                    Edge(key, akey, f"{done:,} processed", lost in (Stage.RECEIVED, Stage.PROCESSED))
                )
    return Graph(tuple(nodes.values()), tuple(dict.fromkeys(edges)))


def _source_key(pipe: PipelineSnapshot, agents: set[str]) -> str:
    """A hop's row (``enrich()``, sent by agent ``enrich``) is that agent's node; any other row is a
    source of its own."""
    bare = pipe.name.removesuffix("()")
    if pipe.kind == RowKind.SENDER and pipe.name.endswith("()") and bare in agents:
        return _agent_key(bare)
    return f"source:{pipe.name}"
