"""The flow of an app as a graph: generators and sending code, topics, agents, and the values on each
edge — one model for every picture of it (the CI summary's Mermaid flowchart; the map screen).

A row is a path: its source sends to its topics, which its agents read. A hop's row is named after
the agent that sends (``enrich()``), so the agent node that reads one topic is also the source of the
next: the path of a multi-hop app joins up. The edge where a row's values die is marked: sent and
acked on the source's edge to its topic, received and processed on the topic's edge to its agents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from genmon.model.snapshot import PipelineSnapshot, Snapshot
from genmon.model.vocabulary import Cause, RowKind, Stage, VerdictState


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    kind: str
    """``source`` (a tracked generator or sending code), ``topic``, ``agent``, or ``nowhere`` (what a
    source's values never reached: nothing sends them)."""
    rows: tuple[str, ...] = ()
    """The pipelines this node is part of (the source's row first): what ``enter`` on it opens."""
    verdict: str = ""
    """Where values die at this node: the verdict of the row that loses them."""
    state: str = "ok"
    """``paused`` (a generator switched off), ``crashed`` (an agent that raised, or its app),
    ``lost`` or ``stuck`` (where a row's values die), else ``ok``."""
    internal: bool = False
    """A topic Faust made for itself (a repartition or changelog topic, a channel)."""


@dataclass(frozen=True)
class Edge:
    start: str
    end: str
    label: str
    lost: bool
    """Values die on this edge (the row's verdict names a stage it covers)."""
    verdict: str = ""
    """The verdict of the row whose values die here, to draw beside the edge."""


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _agent_key(name: str) -> str:
    return f"agent:{name}"


def flow_graph(snapshot: Snapshot) -> Graph:
    """The snapshot's rows as one graph (a node per source, topic and agent; an edge per hop)."""
    return graph_of(snapshot.pipelines, readers_of(snapshot))


def readers_of(snapshot: Snapshot) -> dict[str, set[str]]:
    """topic -> the agents that read it, over every app (a row's agents read some of its topics)."""
    readers: dict[str, set[str]] = {}
    for app in snapshot.apps:
        for topic, agents in app.readers.items():
            readers.setdefault(topic, set()).update(a.rsplit(".", 1)[-1] for a in agents)
    return readers


def graph_of(pipes: tuple[PipelineSnapshot, ...], readers: dict[str, set[str]] | None = None) -> Graph:
    """These rows as one graph (see :func:`flow_graph`); ``readers`` (topic -> agents) keeps an edge
    from a topic to only the agents that read it (a row sending to two topics has the agents of
    both)."""
    nodes: dict[str, Node] = {}
    rows: dict[str, list[str]] = {}
    states: dict[str, str] = {}
    edges: list[Edge] = []
    agents = {agent for pipe in pipes for agent in pipe.agents}

    def node(key: str, label: str, kind: str, row: str) -> None:
        if key not in nodes:
            internal = kind == "topic" and _internal(label)
            nodes[key] = Node(key, label, kind, internal=internal)
        if row not in rows.setdefault(key, []):
            rows[key].append(row)

    verdicts: dict[str, str] = {}

    def mark(key: str, state: str, why: str = "") -> None:
        if RANK[state] > RANK[states.get(key, "ok")]:
            states[key] = state
        if why and key not in verdicts:
            verdicts[key] = why

    for pipe in pipes:
        if pipe.kind == RowKind.TOPIC:
            if drawn(pipe):
                _outside(pipe, readers, node, mark, edges)
            continue
        source = _source_key(pipe, agents)
        hop = source.startswith("agent:")
        node(
            source,
            pipe.name.removesuffix("()") if hop else pipe.name,
            "agent" if hop else "source",
            pipe.name,
        )
        verdict = pipe.verdict
        lost = verdict.lost_at
        why = verdict.text if verdict.state in (VerdictState.LOST, VerdictState.STUCK) else ""
        stuck = "stuck" if verdict.state == VerdictState.STUCK else "lost"
        if not pipe.on and pipe.kind.switchable:
            mark(source, "paused")
        if verdict.state == VerdictState.CRASHED:
            mark(source, "crashed")
        if not pipe.topics:
            nowhere = f"nowhere:{pipe.name}"
            node(nowhere, "no topic", "nowhere", pipe.name)
            if lost is not None:
                mark(source, stuck, why)
            edges.append(
                Edge(source, nowhere, f"{pipe.counts.yielded:,} yielded, 0 sent", lost is not None, why)
            )
            continue
        # values that die reading: on the topic nobody reads, when that is where (a wrong name)
        unread = pipe.misnamed[0] if pipe.misnamed is not None else None
        shares = _shares(pipe, readers)
        for topic in pipe.topics:
            key = f"topic:{topic}"
            node(key, topic, "topic", pipe.name)
            sent = f"{pipe.counts.acked:,} acked" if pipe.counts.acked else f"{pipe.counts.sent:,} sent"
            if topic in shares:
                sent = f"{shares[topic]:,} acked"
            dies = lost in (Stage.SENT, Stage.ACKED)
            edges.append(Edge(source, key, sent, dies, why if dies else ""))
            if dies:
                mark(source, stuck, why)
            reading = lost in (Stage.RECEIVED, Stage.PROCESSED)
            if reading and topic == unread:
                mark(key, stuck, why)
            if topic == unread or topic in pipe.sinks:
                continue  # nobody reads it: its values end here
            known = readers.get(topic) if readers else None
            for agent in pipe.agents:
                if known is not None and agent not in known:
                    continue
                akey = _agent_key(agent)
                node(akey, agent, "agent", pipe.name)
                done = pipe.processed_by.get(agent, 0)
                dies = reading and unread is None
                edges.append(Edge(key, akey, f"{done:,} processed", dies, why if dies else ""))
                crashed = _raised(pipe, agent) or (
                    dies and verdict.cause == Cause.CRASHED and len(pipe.agents) == 1
                )
                if crashed:  # they died in the agent, not on the topic
                    mark(akey, "crashed", why or pipe.verdict.error or "")
                elif dies and not (
                    verdict.cause == Cause.CRASHED and any(_raised(pipe, a) for a in pipe.agents)
                ):
                    mark(key, stuck, why)
    out = tuple(
        replace(
            n, rows=tuple(rows.get(n.key, ())), state=states.get(n.key, "ok"), verdict=verdicts.get(n.key, "")
        )
        for n in nodes.values()
    )
    return Graph(out, tuple(dict.fromkeys(edges)))


def drawn(pipe: PipelineSnapshot) -> bool:
    """Whether a row is on the picture: every source's; a topic's once values from outside reach it
    (or wait for it): one that nothing sends to says nothing about the flow."""
    return pipe.kind != RowKind.TOPIC or pipe.verdict.state != VerdictState.IDLE


def _outside(pipe: PipelineSnapshot, readers: dict[str, set[str]] | None, node, mark, edges) -> None:  # type: ignore[no-untyped-def]
    """A topic fed by producers genmon does not follow: ``other producers → topic → agents``, the
    topic marked where its records wait (stuck)."""
    (topic,) = pipe.topics
    source, key = f"outside:{topic}", f"topic:{topic}"
    node(source, "other producers", "source", pipe.name)
    node(key, topic, "topic", pipe.name)
    verdict = pipe.verdict
    stuck = verdict.state == VerdictState.STUCK
    edges.append(Edge(source, key, f"{pipe.counts.received + verdict.in_flight:,} landed", False))
    if stuck:
        mark(key, "stuck", verdict.text)
    known = readers.get(topic) if readers else None
    for agent in pipe.agents:
        if known is not None and agent not in known:
            continue
        akey = _agent_key(agent)
        node(akey, agent, "agent", pipe.name)
        done = pipe.processed_by.get(agent, 0)
        edges.append(Edge(key, akey, f"{done:,} processed", stuck, verdict.text if stuck else ""))


def _shares(pipe: PipelineSnapshot, readers: dict[str, set[str]] | None) -> dict[str, int]:
    """A row that sends to several topics: how many of its values each took — what that topic's
    readers finished, and for the one topic nobody reads, the rest of what was acked (the snapshot
    counts a row's values, not per topic). Empty when that cannot be told."""
    if len(pipe.topics) < 2 or not readers:
        return {}
    shares, unread = {}, []
    for topic in pipe.topics:
        known = [a for a in pipe.agents if a in readers.get(topic, ())]
        if known:
            shares[topic] = min(pipe.processed_by.get(a, 0) for a in known)
        else:
            unread.append(topic)
    if len(unread) == 1:
        shares[unread[0]] = max(pipe.counts.acked - sum(shares.values()), 0)
    elif unread:
        return {}
    return shares


RANK = {"ok": 0, "paused": 1, "stuck": 2, "lost": 3, "crashed": 4}
"""How bad a node's state is: the worst of its rows' marks it (and the map selects the worst first)."""


def _raised(pipe: PipelineSnapshot, agent: str) -> bool:
    """Whether ``agent`` raised on a value of this row (its note names it: ``agent bill raised …``)."""
    said = f"agent {agent} raised"
    if Cause.CRASHED in pipe.damaged and said in (pipe.verdict.error or pipe.verdict.text):
        return True
    return any(said in loss.note for loss in (*pipe.downstream, *pipe.upstream))


def _internal(topic: str) -> bool:
    """A topic Faust makes for itself: a ``group_by`` repartition, a table's changelog, a channel."""
    return topic.endswith(("-repartition", "-changelog")) or topic.startswith("channel:")


def folded(pipes: tuple[PipelineSnapshot, ...], limit: int) -> tuple[tuple[PipelineSnapshot, ...], int]:
    """The rows a picture of at most ``limit`` nodes can hold, those with problems first (drawn
    first: at the top), then in flow order — and how many rows it leaves out (the picture says so)."""
    shown: list[PipelineSnapshot] = []
    seen: set[str] = set()
    ranked = sorted(pipes, key=lambda p: not p.verdict.state.problem)  # stable: flow order within
    for pipe in ranked:
        if not drawn(pipe):
            continue
        keys = {pipe.name, *(f"topic:{t}" for t in pipe.topics), *(f"agent:{a}" for a in pipe.agents)}
        if shown and len(seen | keys) > limit:
            continue
        shown.append(pipe)
        seen |= keys
    kept = {p.name for p in shown}
    return tuple(shown), sum(1 for p in pipes if drawn(p) and p.name not in kept)


def layers(graph: Graph) -> dict[str, int]:
    """Each node's column, left to right: its longest path from a node nothing points at (a cycle —
    replies back to an earlier topic — is cut where it closes)."""
    into: dict[str, list[str]] = {}
    for edge in graph.edges:
        into.setdefault(edge.end, []).append(edge.start)
    column: dict[str, int] = {}

    def depth(key: str, path: frozenset[str]) -> int:
        if key in column:
            return column[key]
        before = [start for start in into.get(key, ()) if start not in path]
        column[key] = 1 + max((depth(s, path | {key}) for s in before), default=-1)
        return column[key]

    for n in graph.nodes:
        depth(n.key, frozenset())
    return column


def _source_key(pipe: PipelineSnapshot, agents: set[str]) -> str:
    """A hop's row (``enrich()``, sent by agent ``enrich``) is that agent's node; any other row is a
    source of its own."""
    bare = pipe.name.removesuffix("()")
    if pipe.kind == RowKind.SENDER and pipe.name.endswith("()") and bare in agents:
        return _agent_key(bare)
    return f"source:{pipe.name}"
