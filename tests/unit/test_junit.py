"""``genmon check --junit``: JUnit XML that CI test reporters read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fakes import crashed_monitor

from genmon.cli.junit import junit_xml
from genmon.model import DEFAULT_FAIL_ON, problems


def test_a_test_case_per_pipeline_and_a_failure_per_problem_with_the_fix() -> None:
    snap = crashed_monitor().snap
    found = problems(snap, DEFAULT_FAIL_ON)
    root = ET.fromstring(junit_xml(snap, found))
    cases = root.findall("./testsuite/testcase")
    names = [case.get("name") for case in cases]
    assert sorted(n for n in names if n != "app") == sorted(p.name for p in snap.pipelines)
    assert "app" in names  # the crashed app has a case of its own, with its error
    failed = {case.get("name"): case.findall("failure") for case in cases if case.findall("failure")}
    assert root.get("tests") == str(len(cases)) and root.get("failures") == str(len(failed))
    assert sum(len(f) for f in failed.values()) == len(found)  # every problem line, under its row
    unwired = failed["unwired"][0]
    assert unwired.get("message") == "unwired: lost at sent: 212, ids 1-212"
    assert "why: yielded 212, sent 0" in (unwired.text or "") and "await topic.send" in (unwired.text or "")
    for suite in root.findall("testsuite"):
        assert suite.get("tests") == str(len(suite.findall("testcase")))


def test_a_junit_reader_reads_it_as_ci_tools_do() -> None:
    """junitparser (what several CI plugins build on) reads the suites, cases and failures back."""
    from junitparser import Failure, JUnitXml

    snap = crashed_monitor().snap
    found = problems(snap, DEFAULT_FAIL_ON)
    report = JUnitXml.fromstring(junit_xml(snap, found).decode())
    failed = {
        (suite.name, case.name)
        for suite in report
        for case in suite
        if any(isinstance(result, Failure) for result in case.result)
    }
    assert failed == {
        ("genmon-demo", "unwired"),
        ("genmon-demo-agent-without-stream", "agent-without-stream"),
    }
    assert sum(suite.tests for suite in report) == len(snap.pipelines) + 1  # and the crashed app's own case
