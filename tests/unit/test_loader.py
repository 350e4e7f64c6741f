"""Loading an app as ``faust -A`` does: what faust accepts is accepted, and what faust only logs is named."""

from __future__ import annotations

import sys
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


def test_of_several_apps_the_one_named_app_is_taken_as_faust_does(tmp_path: Path) -> None:
    """faust-streaming's examples/livecheck.py: ``app`` and ``livecheck = app.LiveCheck()`` (an App
    too); ``faust -A livecheck`` takes ``app``, and so does genmon."""
    (tmp_path / "livecheckish.py").write_text(
        "import faust\n"
        "app = faust.App('genmon-live', broker='kafka://127.0.0.1:9')\n"
        "livecheck = faust.App('genmon-live-check', broker='kafka://127.0.0.1:9')\n"
    )
    assert load_app("livecheckish", cwd=str(tmp_path)).app.conf.id == "genmon-live"


def test_a_module_that_runs_app_main_when_imported_is_told_how_to_guard_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mainatimport.py").write_text(
        "import faust\napp = faust.App('genmon-main', broker='kafka://127.0.0.1:9')\napp.main()\n"
    )
    monkeypatch.setattr(sys, "argv", ["mainatimport", "--no-such-option"])  # Faust's CLI refuses it
    with pytest.raises(AppLoadError) as caught:
        load_app("mainatimport", cwd=str(tmp_path))
    said = str(caught.value)
    assert said.startswith("importing 'mainatimport' raised SystemExit")
    assert "guard it with if __name__ == '__main__': app.main()" in said


def test_a_module_autodiscovery_cannot_import_is_named_and_the_rest_still_loads() -> None:
    loaded = load_app("tests.apps.halfdiscovered", cwd=str(ROOT))
    (line,) = loaded.not_imported
    assert line == (
        "tests.apps.halfdiscovered.invoices: ModuleNotFoundError: No module named 'genmon_test_not_installed'"
    )
    assert list(loaded.app.agents) == ["tests.apps.halfdiscovered.agents.book"]  # the rest is discovered
