"""``genmon check --junit FILE``: the check as JUnit XML, the report format GitLab, Jenkins and
GitHub's test reporters read — one test case per pipeline, grouped in a test suite per app, with a
failure per problem of a ``--fail-on`` kind (its line, then the verdict, the ids and the fix).

Written with the standard library's ``xml.etree.ElementTree`` (compared with the ``junit-xml``
package: the format is a few elements, and a dependency for them would be one more thing to keep).
"""

from __future__ import annotations

import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from genmon.model import Snapshot


def junit_xml(snapshot: Snapshot, found: Iterable[str]) -> bytes:
    """The snapshot's pipelines as test cases; ``found``: the check's problem lines (``row: …``)."""
    lines = list(found)
    apps = {pipe.app_id for pipe in snapshot.pipelines} | {app.app_id for app in snapshot.apps}
    root = ET.Element("testsuites", name="genmon check", time=f"{snapshot.uptime:.3f}")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    tests = failures = 0
    for app_id in sorted(apps):
        suite = ET.SubElement(
            root, "testsuite", name=app_id or "?", timestamp=stamp, time=f"{snapshot.uptime:.3f}"
        )
        cases = []
        app_lines = [line for line in lines if line.startswith(f"app {app_id}: ")]
        status = next((a for a in snapshot.apps if a.app_id == app_id), None)
        if app_lines or (status is not None and status.error):
            out = f"app {app_id}: {status.state if status else '?'}" + (
                f" ({status.error})" if status and status.error else ""
            )
            cases.append(("app", app_lines, out))
        for pipe in snapshot.pipelines:
            if pipe.app_id != app_id:
                continue
            mine = [line for line in lines if line.startswith(f"{pipe.name}: ")]
            counts = " ".join(
                f"{stage}={pipe.counts[stage]}"
                for stage in ("yielded", "sent", "acked", "received", "processed")
            )
            detail = snapshot.diagnose(pipe)
            text = f"verdict: {pipe.verdict.text}\ncounts: {counts}\nwhy: {detail.why}"
            if detail.fix:
                text += f"\nfix:\n{detail.fix}"
            cases.append((pipe.name, mine, text))
        for name, problems, text in cases:
            case = ET.SubElement(suite, "testcase", classname=app_id or "?", name=name, time="0")
            for line in problems:
                failure = ET.SubElement(case, "failure", message=line, type="genmon")
                failure.text = f"{line}\n\n{text}"
            ET.SubElement(case, "system-out").text = text
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for _, p, _ in cases if p)))
        tests += len(cases)
        failures += sum(1 for _, p, _ in cases if p)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(path: str, snapshot: Snapshot, found: Iterable[str]) -> None:
    """Write the report whole or not at all (a temporary file, then a rename)."""
    target = Path(path)
    data = junit_xml(snapshot, found)
    handle, temp = tempfile.mkstemp(prefix=".genmon-junit-", dir=target.parent or Path("."))
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
