"""The CI summary: the flow graph of a multi-hop app, its Mermaid chart, the Markdown and GitHub's
annotations."""

from __future__ import annotations

import re
from dataclasses import replace

from genmon.cli.summary import github_annotations, markdown, mermaid
from genmon.model import Counts, PipelineSnapshot, RowKind, Verdict, VerdictState
from genmon.model.graph import flow_graph
from genmon.model.snapshot import BrokerInfo, Snapshot
from genmon.model.vocabulary import AppState


def _row(
    name: str, kind: RowKind, topic: str, agents: tuple[str, ...], verdict: Verdict, done: int = 20
) -> PipelineSnapshot:
    return PipelineSnapshot(
        name=name,
        generator=name,
        kind=kind,
        on=True,
        counts=Counts(20, 20, 20, 20, done),
        verdict=verdict,
        app_id="shop",
        topics=(topic,),
        agents=agents,
        processed_by={agent: done for agent in agents},
    )


def _snapshot() -> Snapshot:
    ok = Verdict(VerdictState.OK, "ok")
    lost = Verdict(VerdictState.LOST, "lost at processed: 2 (agent bill raised …)", "processed", lost=2)
    rows = (
        _row("orders", RowKind.ASYNC, "orders", ("enrich",), ok),
        _row("enrich()", RowKind.SENDER, "enriched", ("route",), ok),
        _row("route()", RowKind.SENDER, "routed", ("bill",), lost, done=18),
    )
    return Snapshot(
        "shop", BrokerInfo("kafka://127.0.0.1:9092", embedded=False, up=True), AppState.RUNNING, rows
    )


def test_a_multi_hop_app_is_one_path_and_the_edge_where_values_die_is_marked() -> None:
    graph = flow_graph(_snapshot())
    labels = {node.key: node.label for node in graph.nodes}
    path = [(labels[e.start], labels[e.end], e.lost) for e in graph.edges]
    assert path == [
        ("orders", "orders", False),
        ("orders", "enrich", False),
        ("enrich", "enriched", False),  # the hop's row starts at the agent that sends it
        ("enriched", "route", False),
        ("route", "routed", False),
        ("routed", "bill", True),
    ]


def test_the_mermaid_chart_parses_back_to_the_graph() -> None:
    graph = flow_graph(_snapshot())
    chart = mermaid(graph)
    lines = chart.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = [
        m
        for line in lines
        if (m := re.fullmatch(r'  (n\d+)(\["|\[\("|\{\{"|\(\[")(.*?)("\]|"\)\]|"\}\}|"\]\))', line))
    ]
    edges = [m for line in lines if (m := re.fullmatch(r'  (n\d+) -->\|"(.*?)"\| (n\d+)', line))]
    styles = [m for line in lines if (m := re.fullmatch(r"  linkStyle ([\d,]+) stroke:#d73a49.*", line))]
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges) and len(styles) == 1
    assert len(nodes) + len(edges) + len(styles) + 1 == len(lines)  # nothing else in the chart
    red = [int(i) for i in styles[0].group(1).split(",")]
    assert [edges[i].group(2) for i in red] == ["18 processed"]


def test_the_markdown_and_the_annotations() -> None:
    found = ["route(): agent bill raised RuntimeError('x') on ids 9, 18 — from orders 9, 18"]
    text = markdown(_snapshot(), found)
    assert text.startswith("### genmon check: 1 problem\n")
    assert "| route() | 20 | 20 | 20 | 20 | 18 | lost at processed: 2 (agent bill raised …) |" in text
    assert "```mermaid\nflowchart LR\n" in text
    assert github_annotations(found) == [
        "::error title=genmon: route()::agent bill raised RuntimeError('x') on ids 9, 18 — from orders 9, 18"
    ]
    assert github_annotations(["a,b: 100% done\nnext"]) == ["::error title=genmon: a%2Cb::100%25 done%0Anext"]
    # on the generator's line when it lies in the checkout; outside it, without a place
    snap = _snapshot()
    rows = tuple(
        replace(p, code="/repo/app/flows.py:12") if p.name == "route()" else p for p in snap.pipelines
    )
    placed = replace(snap, pipelines=rows)
    assert github_annotations(found, placed, root="/repo") == [
        "::error file=app/flows.py,line=12,title=genmon: route()::agent bill raised RuntimeError('x')"
        " on ids 9, 18 — from orders 9, 18"
    ]
    assert github_annotations(found, placed, root="/elsewhere")[0].startswith(
        "::error title=genmon: route()::"
    )
