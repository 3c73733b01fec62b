"""The example of docs/testing.md (examples/agent) keeps passing: its suite runs here, in its
own pytest process with its own pytest.ini, exactly as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.conformance

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent"


def test_example_agent_suite_passes():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_BEDROCK_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 8, output
    assert "failed" not in output and "skipped" not in output, output


def test_docs_show_the_example_code_as_it_is():
    doc = (EXAMPLE.parents[1] / "docs" / "testing.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    agent = (EXAMPLE / "agent.py").read_text()
    suite = (EXAMPLE / "tests" / "test_agent.py").read_text()
    shown = [block for block in blocks if "def run_agent(" in block or "from agent import" in block]
    assert len(shown) == 2
    for block in shown:
        assert block in (agent if "def run_agent(" in block else suite), block[:80]
