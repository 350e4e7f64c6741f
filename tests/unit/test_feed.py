"""Feeds read before the app starts (genmon.model.feed): a value per line, its id its line number,
keys as kcat takes them, standard input, and every bad line one error naming the file and line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from genmon.cli.summary import github_annotations
from genmon.model.feed import FeedError, parse_lines, read_feed, write_lines


def test_every_line_is_a_value_whose_id_is_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text('{"id": 1}\n2\n"three"\n[4]\n\n\n')  # blank lines at the end: the file's end
    feed = read_feed(f"orders={path}")
    assert feed.topic == "orders" and feed.name == "feed:orders.jsonl" and feed.path == str(path)
    assert [(line.number, line.value) for line in feed.lines] == [
        (1, {"id": 1}),
        (2, 2),
        (3, "three"),
        (4, [4]),
    ]
    assert feed.code == f"{path}:1"


def test_keys_as_kcat_takes_them() -> None:
    lines = parse_lines('alice:{"n": 1}\nbob:2\n', "f", key_separator=":")
    assert [(line.key, line.value) for line in lines] == [("alice", {"n": 1}), ("bob", 2)]


@pytest.mark.parametrize(
    ("text", "separator", "said"),
    [
        ("1\n\n2\n", None, "f:2: a blank line"),
        ("1\n{oops\n", None, "f:2: not a JSON value"),
        ("alice 1\n", ":", "f:1: no key separator ':'"),
        ("\n\n", None, "f: no values"),
    ],
)
def test_a_bad_line_is_one_error_naming_file_and_line(text: str, separator: str | None, said: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_lines(text, "f", separator)
    assert str(caught.value).startswith(said) and "\n" not in str(caught.value)


def test_bad_specs_and_files_are_one_line(tmp_path: Path) -> None:
    for spec, said in (
        ("orders", "expected TOPIC=FILE"),
        ("=x", "expected TOPIC=FILE"),
        (f"orders={tmp_path / 'none.jsonl'}", "No such file"),
    ):
        with pytest.raises(FeedError, match=said):
            read_feed(spec)


def test_standard_input_is_read_once_and_handed_over_as_a_file(tmp_path: Path) -> None:
    feed = read_feed("orders=-", stdin=io.StringIO('k|{"a": 1}\nj|2\n'), key_separator="|")
    assert feed.name == "feed:stdin" and feed.path == "-"
    path = write_lines(feed, str(tmp_path / "stdin.jsonl"))
    again = parse_lines(Path(path).read_text(), path, "|")
    assert again == feed.lines


def test_two_feeds_of_one_file_name_get_two_rows(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jsonl").write_text("1\n")
    (tmp_path / "x.jsonl").write_text("1\n")
    taken: set[str] = set()
    first = read_feed(f"t1={tmp_path / 'x.jsonl'}", taken=taken)
    second = read_feed(f"t2={tmp_path / 'a' / 'x.jsonl'}", taken=taken)
    assert (first.name, second.name) == ("feed:x.jsonl", "feed:x.jsonl:t2")


def test_a_feeds_lost_values_are_annotated_on_their_own_lines(tmp_path: Path) -> None:
    """Under GitHub Actions each lost line of the feed file gets its own annotation."""
    from genmon.model import AppState, BrokerInfo, Counts, MissingIds, PipelineSnapshot, RowKind, Snapshot
    from genmon.model.snapshot import Verdict
    from genmon.model.vocabulary import Cause, VerdictState

    path = tmp_path / "lines.jsonl"
    path.write_text("".join(f"{json.dumps(n)}\n" for n in range(1, 31)))
    pipe = PipelineSnapshot(
        name="feed:lines.jsonl",
        generator="feed:lines.jsonl",
        kind=RowKind.ASYNC,
        on=True,
        counts=Counts(30, 30, 30, 30, 26),
        verdict=Verdict(VerdictState.LOST, "lost at processed: 4"),
        code=f"{path}:1",
        damaged={Cause.CRASHED: MissingIds(4, ((7, 7), (14, 14), (21, 21), (28, 28)))},
    )
    snapshot = Snapshot("fed", BrokerInfo("kafka://h:1", True, True), AppState.RUNNING, pipelines=(pipe,))
    lines = github_annotations(
        ["feed:lines.jsonl: agent charge raised ValueError on lines 7, 14, 21, 28"],
        snapshot,
        root=str(tmp_path),
    )
    assert [line.split(",")[1] for line in lines] == ["line=7", "line=14", "line=21", "line=28"]
    assert all(line.startswith("::error file=lines.jsonl,") for line in lines)
