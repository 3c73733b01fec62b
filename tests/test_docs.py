"""The README stays true to the code: its quick start is .ci/run's command, and every server
setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from claude_bedrock.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_docs_readme_lists_every_server_setting():
    for spec in SETTINGS:
        assert f"`--{spec.name.replace('_', '-')}" in README, spec.name


def test_docs_quick_start_has_two_commands_and_ci_runs_the_second():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quick_start)
    assert len(commands) == 2
    assert "claude_bedrock serve" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_docs_linked_pages_exist():
    for link in re.findall(r"\]\(((?:docs|bench)/[^)]+)\)", README):
        assert (ROOT / link).is_file(), link


def test_docs_readme_gateway_config_shows_every_upstream_key():
    """Audit (gwwalk): the [upstream] table's max_retries, timeout and session_token were taken
    but not shown anywhere."""
    from claude_bedrock.settings import _UPSTREAM_SECRETS, _UPSTREAM_SETTINGS

    gateway = README.split("### Gateway mode", 1)[1].split("\n## ", 1)[0]
    for key in (*_UPSTREAM_SETTINGS, *_UPSTREAM_SECRETS):
        assert re.search(rf"\b{key} = ", gateway), key


def test_docs_readme_connection_deadlines_are_the_servers():
    """Audit (docs walk): the README said a request head is cut once it 'receives no byte for 60 s',
    the old per-byte rule; the server gives a head one deadline from its first byte (a slowloris
    trickling a byte a minute is cut), and a body a per-byte one."""
    from claude_bedrock.service.server import MAX_HEAD_BYTES, REQUEST_READ_TIMEOUT_S, RESPONSE_WRITE_TIMEOUT_S

    quiet = " ".join(README.split("Connections that go quiet are closed", 1)[1].split("\n\n", 1)[0].split())
    assert f"head is not whole {REQUEST_READ_TIMEOUT_S:g} s after its first byte" in quiet
    assert f"body receives no byte for {REQUEST_READ_TIMEOUT_S:g} s" in quiet
    assert f"takes no byte of the response for {RESPONSE_WRITE_TIMEOUT_S:g} s" in quiet
    assert f"a head over {MAX_HEAD_BYTES // 1024} KB" in README


def test_docs_testing_names_every_recorded_call_field_and_helper():
    """Audit (docs walk): ``RecordedCall.started_at`` (the history's order) was a field that
    docs/testing.md's list of fields left out."""
    import dataclasses

    from claude_bedrock.testing import RecordedCall

    history = (ROOT / "docs" / "testing.md").read_text().split("## Call history", 1)[1].split("\n## ", 1)[0]
    helpers = [name for name, value in vars(RecordedCall).items() if isinstance(value, property)]
    for name in [field.name for field in dataclasses.fields(RecordedCall)] + helpers:
        assert f"`{name}`" in history, name


def test_docs_readme_gives_the_upper_bound_of_every_bounded_setting():
    """Audit (docs walk): --upstream-timeout (1 to 3600) and --upstream-max-retries (at most 10)
    refused values past bounds that neither the README's table nor --help gave, unlike
    --log-retention-days and --log-flush-interval-ms. (The port's 65535 goes without saying.)"""
    for spec in SETTINGS:
        refusal = spec.check(10**12) if spec.type is int and spec.check and spec.name != "port" else None
        if refusal and (bound := re.search(r"between \d+ and (\d+)", refusal)):
            [row] = [line for line in README.splitlines() if line.startswith(f"| `--{spec.name.replace('_', '-')}`")]
            assert bound.group(1) in row, spec.name
            assert bound.group(1) in spec.help or (bound.group(1) == "3600000" and "an hour" in spec.help), spec.name


def test_docs_name_every_claude_bedrock_variable_the_code_reads():
    """Audit (docs walk): the README's test command needs the shared data folder, which
    tests/conftest.py finds at ../shared or in CLAUDE_BEDROCK_SHARED, a variable no document named."""
    documents = README + "".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    sources = [*(ROOT / "src").rglob("*.py"), ROOT / "tests" / "conftest.py"]
    read = {name for path in sources for name in re.findall(r"\bCLAUDE_BEDROCK_[A-Z_]*[A-Z]\b", path.read_text())}
    assert "CLAUDE_BEDROCK_SHARED" in read
    settings = {f"CLAUDE_BEDROCK_{spec.name.upper()}" for spec in SETTINGS}  # the README's CLAUDE_BEDROCK_<OPTION>
    assert sorted(name for name in read - settings if name not in documents) == []


def test_docs_bench_readme_and_each_script_give_its_full_run_the_same_duration():
    """Audit (docs walk): bench/README.md said client_bench.py's full run takes about 1 minute, its
    --help about 2 (the quick run takes 18 s, the full one three times its repetitions)."""
    bench_readme = (ROOT / "bench" / "README.md").read_text()
    checked = []
    for script in sorted((ROOT / "bench").glob("*.py")):
        # the option-less command line, with its duration: "# full run (about 2 minutes)", "(~6 min)"
        full_run = re.compile(rf"^ *python bench/{re.escape(script.name)} +#.*?(?:about |~)(\d+) min", re.M)
        said = full_run.search(script.read_text())
        if said:
            assert full_run.search(bench_readme).group(1) == said.group(1), script.name
            checked.append(script.name)
    assert len(checked) == 4, checked


def test_docs_client_models_list_row_names_every_filter():
    """Audit (docs walk): ``models.list`` takes ``project_identifier`` (botocore's
    ``projectIdentifier``), which docs/client.md's methods table left out."""
    from claude_bedrock.client.core import LIST_MODELS_FILTERS

    [row] = [line for line in (ROOT / "docs" / "client.md").read_text().splitlines() if line.startswith("| `models.list(")]
    for keyword in ("by_provider", *LIST_MODELS_FILTERS):
        assert f"{keyword}=" in row, keyword
