"""``genmon check --summary FILE`` (and ``$GITHUB_STEP_SUMMARY`` by itself): the check as Markdown —
the table of pipelines, the problems, and the flow as a Mermaid flowchart that GitHub renders, the
edges where values die in red. GitHub annotations (``::error …``) go with it under GitHub Actions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from genmon.model import STAGES, Snapshot
from genmon.model.feed import is_feed
from genmon.model.graph import Graph, flow_graph

SHAPES = {"source": ('["', '"]'), "topic": ('[("', '")]'), "agent": ('{{"', '"}}'), "nowhere": ('(["', '"])')}
"""Mermaid node shapes: a box for sending code, a cylinder for a topic, a hexagon for an agent."""


def _quoted(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(graph: Graph) -> str:
    """The graph as a Mermaid flowchart, left to right; ids ``n0``…, labels quoted."""
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        start, end = SHAPES[node.kind]
        lines.append(f"  {ids[node.key]}{start}{_quoted(node.label)}{end}")
    red = []
    for index, edge in enumerate(graph.edges):
        lines.append(f'  {ids[edge.start]} -->|"{_quoted(edge.label)}"| {ids[edge.end]}')
        if edge.lost:
            red.append(str(index))
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:#d73a49,stroke-width:3px,color:#d73a49")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(snapshot: Snapshot, found: Iterable[str]) -> str:
    """The summary: a headline, the problems, the table and the flow."""
    lines = list(found)
    head = (
        f"### genmon check: {len(lines)} problem{'s' if len(lines) != 1 else ''}"
        if lines
        else "### genmon check: passed"
    )
    parts = [head, ""]
    if lines:
        parts += [f"- {_cell(line)}" for line in lines] + [""]
    parts += ["| pipeline | " + " | ".join(STAGES) + " | verdict |", "|---|" + "---:|" * len(STAGES) + "---|"]
    for pipe in snapshot.pipelines:
        counts = " | ".join(f"{pipe.counts[stage]:,}" for stage in STAGES)
        parts.append(f"| {_cell(pipe.name)} | {counts} | {_cell(pipe.verdict.text)} |")
    parts += ["", "```mermaid", mermaid(flow_graph(snapshot)), "```", ""]
    return "\n".join(parts)


def write_summary(path: str, snapshot: Snapshot, found: Iterable[str]) -> None:
    """Append the summary to ``path`` (GitHub's step summary is one file a job's steps append to)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown(snapshot, found))


def github_annotations(
    found: Iterable[str], snapshot: Snapshot | None = None, root: str | None = None
) -> list[str]:
    """GitHub workflow commands: one ``::error`` per problem, the row in its title, on the line of
    the row's generator function when it lies under ``root`` (the checkout: the working directory)."""
    here = os.path.abspath(root or os.getcwd())
    pipes = {pipe.name: pipe for pipe in (snapshot.pipelines if snapshot else ())}
    code = {name: pipe.code for name, pipe in pipes.items() if pipe.code}
    out = []
    for line in found:
        row, _, what = line.partition(": ")
        if row in pipes and is_feed(row):  # a feed's ids are its file's lines: each one annotated
            out += _feed_annotations(pipes[row], what, here)
            continue
        escaped = what.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        title = _property(row)
        where = ""
        path, _, number = code.get(row, "").rpartition(":")
        if path and number.isdigit() and os.path.abspath(path).startswith(here + os.sep):
            where = f"file={_property(os.path.relpath(path, here))},line={number},"
        out.append(f"::error {where}title=genmon: {title}::{escaped}")
    return out


FEED_ANNOTATIONS = 20
"""Lines of a feed annotated one by one at most (then the first line says how many more)."""


def _feed_annotations(pipe: Any, what: str, here: str) -> list[str]:
    """One ``::error`` on each lost or stuck line of a feed's file (the line is the value's id)."""
    path = pipe.code.rpartition(":")[0]
    if not path or not os.path.abspath(path).startswith(here + os.sep):
        return [f"::error title=genmon: {_property(pipe.name)}::{_message(what)}"]
    found: set[int] = set()
    for ids in (*pipe.damaged.values(), *pipe.missing.values()):
        for first, last in ids.ranges:
            found.update(range(first, min(last, first + FEED_ANNOTATIONS) + 1))
    numbers = sorted(found)[:FEED_ANNOTATIONS]
    where = f"file={_property(os.path.relpath(path, here))}"
    title = f"title=genmon: {_property(pipe.name)}::{_message(what)}"
    return [f"::error {where},line={n},{title}" for n in numbers or [1]]


def _message(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return (
        text.replace("%", "%25")
        .replace("\r", "%0D")
        .replace("\n", "%0A")
        .replace(",", "%2C")
        .replace(":", "%3A")
    )


def github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
