"""docs/REFERENCE.md says what the code does: the exit statuses are the ones ``outcome.py`` defines,
and every option of every command is listed."""

from __future__ import annotations

from pathlib import Path

import click

from genmon.cli import cli
from genmon.cli.outcome import statuses_table

REFERENCE = (Path(__file__).resolve().parents[2] / "docs" / "REFERENCE.md").read_text()


def test_the_exit_statuses_are_the_ones_the_code_defines() -> None:
    assert statuses_table() in REFERENCE


def test_every_option_of_every_command_is_in_the_reference() -> None:
    commands: dict[str, click.Command] = {
        "genmon": cli,
        **{f"genmon {n}": c for n, c in cli.commands.items()},
    }
    missing = [
        f"{name} {option}"
        for name, command in commands.items()
        for param in command.params
        if isinstance(param, click.Option)
        for option in param.opts
        if f"`{option}" not in REFERENCE and f", `{option}" not in REFERENCE
    ]
    assert not missing, missing
    for name in cli.commands:
        assert f"genmon {name}" in REFERENCE
