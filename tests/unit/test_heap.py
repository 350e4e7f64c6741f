"""A watcher runs on the C library's allocator: ``genmon watch`` runs its own command again with
``PYTHONMALLOC=malloc`` — only as a process of its own, once, and never when called from Python."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genmon.watch.heap import give_back

UNREACHABLE = "kafka://127.0.0.1:1"
SAY = "import os, sys; print('image', os.environ.get('PYTHONMALLOC', 'pymalloc'), flush=True); "


def _run(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"} | env
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, env=environ
    )


@pytest.mark.skipif(os.name != "posix", reason="exec keeps the process only on POSIX")
def test_genmon_watch_runs_again_on_malloc_once_with_the_same_arguments() -> None:
    done = _run(SAY + "from genmon.cli import main; main()", "watch", "-b", UNREACHABLE)
    # the first image, then the same command on malloc, which does not run itself again
    assert done.stdout.splitlines() == ["image pymalloc", "image malloc"], done
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done  # its one-line error, once
    assert "127.0.0.1:1" in done.stderr


def test_a_user_choice_of_allocator_is_kept() -> None:
    done = _run(
        SAY + "from genmon.cli import main; main()", "watch", "-b", UNREACHABLE, PYTHONMALLOC="pymalloc"
    )
    assert done.stdout.splitlines() == ["image pymalloc"], done
    assert done.returncode == 2, done


def test_genmon_called_from_python_never_replaces_the_process() -> None:
    done = _run(SAY + "from genmon.cli import main; main(sys.argv[1:])", "watch", "-b", UNREACHABLE)
    assert done.stdout.splitlines() == ["image pymalloc"], done
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done


def test_other_commands_keep_pythons_allocator() -> None:
    done = _run(SAY + "from genmon.cli import main; main()", "check", "-A", "no_such_module:app")
    assert done.stdout.splitlines() == ["image pymalloc"], done
    assert done.returncode == 2, done


def test_give_back_trims_where_glibc_is() -> None:
    glibc = "CS_GNU_LIBC_VERSION" in getattr(os, "confstr_names", {}) and bool(
        os.confstr("CS_GNU_LIBC_VERSION")
    )
    assert give_back() is glibc
