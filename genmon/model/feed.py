"""A feed: values genmon produces to a topic itself, for an app that is fed from outside Faust (other
services, a connector, ``faust send``) and has no generator of its own to follow.

``--feed TOPIC=FILE``: every line of FILE is one value in JSON, and its id is its line number, so a
loss reads ``lost at processed: lines 7, 14``. With ``--feed-key-separator SEP`` (kcat's ``-K``) a
line is ``KEY SEP VALUE``: the key is the text before the first SEP, the value the JSON after it.
A blank line is allowed only at the end (ids are line numbers: a gap would be a value never sent).
``TOPIC=-`` reads standard input to its end first. Everything here is pure: the file is read and
checked before the app starts, and a bad line is one error naming the file and the line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

FEED_PREFIX = "feed:"
"""A feed's row is named ``feed:<file name>`` (``feed:stdin``)."""


def is_feed(row: str) -> bool:
    """Whether a row is a feed's (its ids are line numbers)."""
    return row.startswith(FEED_PREFIX)


class FeedError(ValueError):
    """A feed that cannot be used; the message is one line naming the file and the line."""


@dataclass(frozen=True)
class FeedLine:
    number: int
    key: str | None
    value: Any


@dataclass(frozen=True)
class Feed:
    topic: str
    path: str
    """The file, absolute (``-``: standard input, already read into ``lines``)."""
    name: str
    lines: tuple[FeedLine, ...]
    rate: float | None = None
    """Values per second; None: as fast as the app takes them."""
    key_separator: str | None = None

    @property
    def code(self) -> str:
        """``path:1``: where a CI annotation about the feed points (a lost value: its own line)."""
        return f"{self.path}:1"

    def to_plan(self) -> dict[str, Any]:
        """What a worker process is told (it reads and checks the file again: one source of truth)."""
        return {
            "topic": self.topic,
            "path": self.path,
            "name": self.name,
            "rate": self.rate,
            "key_separator": self.key_separator,
        }


def parse_spec(spec: str) -> tuple[str, str]:
    """``TOPIC=FILE`` -> (topic, file)."""
    topic, sep, path = spec.partition("=")
    if not sep or not topic.strip() or not path.strip():
        raise FeedError(f"--feed {spec!r}: expected TOPIC=FILE (a JSON value per line; - for standard input)")
    return topic.strip(), path.strip()


def parse_lines(text: str, shown: str, key_separator: str | None = None) -> tuple[FeedLine, ...]:
    """Every line of ``text`` as a value (and key); ``shown`` names the file in errors."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        if not line.strip():
            raise FeedError(
                f"{shown}:{number}: a blank line (each line is one value; its id is its line number)"
            )
        key: str | None = None
        body = line
        if key_separator is not None:
            key, sep, body = line.partition(key_separator)
            if not sep:
                raise FeedError(
                    f"{shown}:{number}: no key separator {key_separator!r} (KEY{key_separator}VALUE)"
                )
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            at = exc.colno + (len(line) - len(body))  # the column in the line, key included
            raise FeedError(f"{shown}:{number}: not a JSON value ({exc.msg}, column {at})") from None
        out.append(FeedLine(number, key, value))
    if not out:
        raise FeedError(f"{shown}: no values (each line is one value in JSON)")
    return tuple(out)


def write_lines(feed: Feed, path: str) -> str:
    """``feed``'s lines as a file of the same format (a feed read from standard input, for the
    worker that produces it); returns ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        for line in feed.lines:
            value = json.dumps(line.value)
            f.write(f"{line.key}{feed.key_separator}{value}\n" if line.key is not None else f"{value}\n")
    return path


def read_feed(
    spec: str,
    *,
    rate: float | None = None,
    key_separator: str | None = None,
    stdin: Any = None,
    taken: set[str] | None = None,
) -> Feed:
    """``--feed TOPIC=FILE`` read and checked now; ``stdin``: the stream ``-`` reads."""
    topic, path = parse_spec(spec)
    if path == "-":
        if stdin is None:
            raise FeedError(f"--feed {spec}: standard input is not available here")
        text, shown, name = stdin.read(), "<stdin>", "stdin"
        where = "-"
    else:
        where = os.path.abspath(path)
        try:
            with open(where, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise FeedError(f"--feed {spec}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise FeedError(f"--feed {spec}: not a UTF-8 text file") from None
        shown, name = path, os.path.basename(path)
    lines = parse_lines(text, shown, key_separator)
    row = f"{FEED_PREFIX}{name}"
    if taken is not None:
        if row in taken:
            row = f"{row}:{topic}"
        taken.add(row)
    return Feed(topic, where, row, lines, rate, key_separator)
