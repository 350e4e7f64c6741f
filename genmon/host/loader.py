"""Loading the user's Faust app the way ``faust -A`` does, with one-line errors for every mistake.

``proj.module`` or ``proj.module:app``: the current directory goes on the import path, the module is
imported, and the named attribute (else the single ``faust.App`` in the module) is the app.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from genmon.model import one_line
from genmon.probe.touchpoints import datadir_is_default, discover, replace_broker


class AppLoadError(Exception):
    """The ``-A`` argument does not lead to a faust.App; the message is one line."""


class LoadedApp(NamedTuple):
    app: Any
    """the faust.App"""
    not_imported: tuple[str, ...] = ()
    """``module: error`` per module autodiscovery could not import: Faust runs without what they
    declare (it only logs a warning), so genmon says so on stderr, on the screen and in the JSON."""


def load_app(spec: str, cwd: str | None = None) -> LoadedApp:
    """Import ``spec`` (``module`` or ``module:attribute``): its faust.App, discovered."""
    import faust

    module_name, _, attribute = spec.strip().partition(":")
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise AppLoadError(f"-A {spec!r} is not a module path (expected e.g. proj.app or proj.app:app)")
    if attribute and not attribute.isidentifier():
        raise AppLoadError(f"-A {spec!r}: {attribute!r} is not an attribute name")
    folder = os.path.abspath(cwd or os.getcwd())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppLoadError(
                f"cannot import {module_name!r}: no module named {exc.name!r} (from {folder})"
            ) from None
        raise AppLoadError(f"importing {module_name!r} failed: {one_line(exc)}") from None
    except SyntaxError as exc:
        where = f"{Path(exc.filename).name}:{exc.lineno}" if exc.filename else module_name
        raise AppLoadError(f"syntax error in {where}: {exc.msg}") from None
    except BaseException as exc:  # the user's module raised while it was imported
        # KeyboardInterrupt included: the worker that imports handles SIGINT itself, so one raised
        # here is the module's own doing, not the user's Ctrl+C
        hint = ""
        if isinstance(exc, SystemExit):  # app.main() (or sys.exit) at import: Faust's own CLI ran
            hint = (
                "; does the module call app.main() when imported? guard it with "
                "if __name__ == '__main__': app.main()"
            )
        raise AppLoadError(f"importing {module_name!r} raised {one_line(exc)}{hint}") from None

    app: Any  # a faust.App, whose stubs type ``conf.autodiscover`` as a method
    if attribute:
        if not hasattr(module, attribute):
            raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}")
        app = getattr(module, attribute)
        if not isinstance(app, faust.App):
            raise AppLoadError(f"{module_name}:{attribute} is a {type(app).__name__}, not a faust.App")
    else:
        # one object under two names (``app = faust_app = faust.App(...)``) is one app, as for faust -A
        apps: dict[int, list[str]] = {}
        for name, value in vars(module).items():
            if isinstance(value, faust.App):
                apps.setdefault(id(value), []).append(name)
        if not apps:
            raise AppLoadError(
                f"no faust.App in module {module_name!r}; name it with -A {module_name}:ATTRIBUTE"
            )
        named = getattr(module, "app", None)
        if len(apps) > 1 and isinstance(named, faust.App):
            apps = {id(named): ["app"]}  # as faust -A takes it: Faust's find_app reads ``app`` first
        if len(apps) > 1:
            names = ", ".join(sorted(names[0] for names in apps.values()))
            raise AppLoadError(
                f"several faust.App in {module_name!r} ({names}); name one with -A {module_name}:NAME"
            )
        app = getattr(module, next(iter(apps.values()))[0])
    failed: tuple[str, ...] = ()
    if app.conf.autodiscover:
        try:
            failed = discover(app)  # what the faust worker does before it starts the app
        except Exception as exc:
            raise AppLoadError(f"autodiscovery of {module_name!r} failed: {one_line(exc)}") from None
    return LoadedApp(app, failed)


def prepare_app(
    app: Any, *, broker: str | None, broker_settings: Mapping[str, Any] | None, datadir: str
) -> Any:
    """The only changes genmon makes to a user's app: the broker when asked (``--broker`` or
    ``--embedded``), the embedded broker's fast group joins and ``reply_create_topic`` (on it only),
    and a data directory outside the working directory when the app left Faust's default
    (``<id>-data`` in the cwd)."""
    if broker is not None:
        replace_broker(app, broker)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "already configured": expected before the app starts
        for key, value in (broker_settings or {}).items():
            setattr(app.conf, key, value)
        if broker_settings:
            # genmon's embedded broker: the reply consumer reads the reply topic from the start, so
            # agent.ask/map/join get their first replies (see docs/ARCHITECTURE.md, "Replies").
            app.conf.reply_create_topic = True
        if datadir_is_default(app):
            app.conf.datadir = os.path.join(datadir, app.conf.id)
    return app
