"""Loading an app as ``faust -A`` does: what faust accepts is accepted, and what faust only logs is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from genmon.host.loader import AppLoadError, load_app

ROOT = Path(__file__).resolve().parents[2]


def test_one_app_under_two_names_is_one_app() -> None:
    loaded = load_app("tests.apps.aliased", cwd=str(ROOT))
    assert loaded.app.conf.id == "genmon-test-aliased" and loaded.not_imported == ()


def test_two_different_apps_are_still_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "twoapps.py").write_text(
        "import faust\n"
        "a = faust.App('genmon-two-a', broker='kafka://127.0.0.1:9')\n"
        "b = faust.App('genmon-two-b', broker='kafka://127.0.0.1:9')\n"
    )
    with pytest.raises(AppLoadError, match=r"several faust.App in 'twoapps' \(a, b\)"):
        load_app("twoapps", cwd=str(tmp_path))


def test_a_module_autodiscovery_cannot_import_is_named_and_the_rest_still_loads() -> None:
    loaded = load_app("tests.apps.halfdiscovered", cwd=str(ROOT))
    (line,) = loaded.not_imported
    assert line == (
        "tests.apps.halfdiscovered.invoices: ModuleNotFoundError: No module named 'genmon_test_not_installed'"
    )
    assert list(loaded.app.agents) == ["tests.apps.halfdiscovered.agents.book"]  # the rest is discovered
