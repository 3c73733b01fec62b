"""The pytest plugin, used as a user would: test files run by pytester in a fresh pytest
process that finds the plugin through its ``pytest11`` entry point."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

FIXTURES = ("bedrock_server", "bedrock", "bedrock_env", "bedrock_runtime", "bedrock_control", "anthropic_bedrock")

USER_TESTS = '''
import json, os, pathlib

import boto3

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
ENDPOINTS = ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_STS",
             "ANTHROPIC_BEDROCK_BASE_URL")


def test_env_points_unmodified_clients_at_the_server(bedrock, bedrock_env, bedrock_server):
    pathlib.Path("server.pid").write_text(str(bedrock_server.process.pid))
    assert all(os.environ[name] == bedrock.url for name in ENDPOINTS)
    assert os.environ["AWS_REGION"] == os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull
    assert os.environ["AWS_ACCESS_KEY_ID"] and "AWS_PROFILE" not in os.environ
    assert "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" not in os.environ
    client = boto3.client("bedrock-runtime")  # created the way application code does
    assert client.meta.endpoint_url == bedrock.url  # not real AWS
    bedrock.add_rule(text="scripted", user_text_contains="ping")
    reply = client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "ping"}]}])
    assert reply["output"]["message"]["content"][0]["text"] == "scripted"
    sts = boto3.client("sts").get_caller_identity()
    assert sts["Account"]


def test_the_environment_is_restored_after_a_test():
    assert os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") != "set-by-plugin"
    assert "127.0.0.1" not in os.environ.get("ANTHROPIC_BEDROCK_BASE_URL", "")


def test_server_is_reset_between_tests(bedrock):
    assert bedrock.rules() == [] and bedrock.calls() == []


def test_ready_clients(bedrock, bedrock_runtime, bedrock_control, anthropic_bedrock):
    bedrock.inject_fault("ThrottlingException")
    body = json.dumps({"max_tokens": 20, "messages": [{"role": "user", "content": "hi"}],
                       "anthropic_version": "bedrock-2023-05-31"})
    bedrock_runtime.invoke_model(modelId=MODEL, body=body)  # boto3 retried the throttle
    message = anthropic_bedrock.messages.create(model=MODEL, max_tokens=20,
                                                messages=[{"role": "user", "content": "hi"}])
    assert message.content
    assert bedrock_control.list_foundation_models()["modelSummaries"]
    assert [c.status for c in bedrock.calls()] == [429, 200, 200]
'''


def test_plugin_lists_its_fixtures(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    for name in FIXTURES:
        result.stdout.fnmatch_lines([f"{name}*"])
    result.stdout.fnmatch_lines(["*claude-bedrock*"])


def test_plugin_starts_resets_and_stops_its_own_server(pytester: pytest.Pytester, monkeypatch):
    # Audit: with this one set, botocore ignored the endpoint variables and went to real AWS.
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    pid = int((pytester.path / "server.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the session server was stopped at the end


def test_a_proxy_of_the_environment_is_not_used_for_the_server(pytester: pytest.Pytester, monkeypatch):
    """Audit: with a CI's HTTP_PROXY (and no NO_PROXY for 127.0.0.1), the bedrock fixture and the
    application's boto3 and anthropic clients all went to the proxy and failed to connect."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.delenv("no_proxy", raising=False)
    pytester.makepyfile(test_proxied='''
import json, os

import anthropic
import boto3

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_clients_reach_the_server(bedrock, bedrock_env):
    bedrock.add_rule(text="direct")
    runtime = boto3.client("bedrock-runtime")
    body = json.dumps({"max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
                       "anthropic_version": "bedrock-2023-05-31"})
    assert json.loads(runtime.invoke_model(modelId=MODEL, body=body)["body"].read())["content"][0]["text"] == "direct"
    message = anthropic.AnthropicBedrock().messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].text == "direct"
    assert len(bedrock.calls()) == 2
    assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "internal.example,127.0.0.1"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Made before any test's pytester fixture, which forgets the modules a test imported:
    cryptography imported again in a second test refuses its own curve classes."""
    from support.certificates import self_signed

    return self_signed(tmp_path_factory.mktemp("tls"))


def test_the_plugins_server_takes_no_server_settings_of_the_environment(pytester: pytest.Pytester, monkeypatch,
                                                                       certificate):
    """Audit: on a machine whose environment configures a deployed server (CLAUDE_BEDROCK_*),
    the plugin's own server inherited it: HTTPS (the plugin waited a minute for an http://
    announce and failed with 'did not start'), strict authentication (every fixture call a 403
    with no hint), no model access, the echo simulator (other answers than in CI)."""
    monkeypatch.setenv("CLAUDE_BEDROCK_TLS_CERT", str(certificate.cert))
    monkeypatch.setenv("CLAUDE_BEDROCK_TLS_KEY", str(certificate.key))
    monkeypatch.setenv("CLAUDE_BEDROCK_STRICT_AUTH", "true")
    monkeypatch.setenv("CLAUDE_BEDROCK_MODEL_ACCESS", "none")
    monkeypatch.setenv("CLAUDE_BEDROCK_SIMULATOR_MODE", "echo")
    pytester.makepyfile(test_plain='''
def test_plain_http(bedrock, bedrock_runtime, bedrock_server):
    assert bedrock.url.startswith("http://127.0.0.1:")
    answer = bedrock_runtime.converse(modelId="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                      messages=[{"role": "user", "content": [{"text": "Hi there"}]}])
    assert answer["output"]["message"]["content"][0]["text"] != "Hi there"  # prose, not echo
    assert bedrock_server.data_dir.is_dir()
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_plugins_server_serves_https_when_its_ini_args_ask_for_it(pytester: pytest.Pytester, monkeypatch,
                                                                     certificate):
    """Audit: with ``--tls-cert``/``--tls-key`` in ``claude_bedrock_args`` the server started and
    announced its https:// URL, but the plugin looked for an http:// one: it waited its full minute
    and failed with 'did not start'. Trusted as docs/testing.md says (SSL_CERT_FILE for the
    ``bedrock`` helper, AWS_CA_BUNDLE for boto3), the fixtures work over HTTPS."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate.cert))
    pytester.makeini(f"[pytest]\nclaude_bedrock_args = --tls-cert {certificate.cert} --tls-key {certificate.key}\n")
    pytester.makepyfile(test_https='''
def test_https(bedrock, bedrock_runtime):
    assert bedrock.url.startswith("https://127.0.0.1:")
    assert bedrock_runtime.converse(modelId="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                    messages=[{"role": "user", "content": [{"text": "Hi"}]}])["output"]
    assert bedrock.last_call().operation == "Converse"
''')
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert time.monotonic() - started < 30  # not the plugin's minute of waiting


def test_boto3_retries_as_by_default_whatever_the_machines_retry_settings(pytester: pytest.Pytester, monkeypatch):
    """Audit: AWS_MAX_ATTEMPTS or AWS_RETRY_MODE of the CI's environment changed the retries of
    the fixtures' boto3 clients (the same settings in ~/.aws/config were already ignored)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    pytester.makepyfile(test_retries='''
def test_three_attempts(bedrock, bedrock_runtime):
    bedrock.inject_fault("ThrottlingException", count=2)
    bedrock_runtime.converse(modelId="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                             messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert [call.status for call in bedrock.calls()] == [429, 429, 200]
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_reuses_a_running_server_given_by_url(pytester: pytest.Pytester, bedrock_server, bedrock):
    bedrock.add_rule(id="outer", text="from the outer session")
    pytester.makepyfile(test_reuse=f'''
def test_uses_the_given_server(bedrock, bedrock_server):
    assert bedrock.url == {bedrock_server.url!r}
    assert bedrock_server.process is None
    assert bedrock.rules() == []  # reset before the test, like any other
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--claude-bedrock-url={bedrock_server.url}")
    result.assert_outcomes(passed=1)
    assert bedrock.rules() == []


def test_a_server_url_given_with_a_trailing_slash_is_used_without_it(pytester: pytest.Pytester, bedrock_server):
    """Mutation audit: ``--claude-bedrock-url http://host:port/`` gives ``bedrock_server.url``
    without the slash (the URL the fixtures point clients at); untested before."""
    pytester.makepyfile(test_slash=f'''
def test_url(bedrock_server):
    assert bedrock_server.url == {bedrock_server.url!r}
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--claude-bedrock-url={bedrock_server.url}/")
    result.assert_outcomes(passed=1)


def test_the_lower_case_no_proxy_of_the_environment_wins_as_in_urllib(pytester: pytest.Pytester, monkeypatch,
                                                                     bedrock_server):
    """Mutation audit: with both ``no_proxy`` and ``NO_PROXY`` set, ``bedrock_env`` extends the
    lower-case one, which urllib (and so httpx and requests) reads first; untested before."""
    monkeypatch.setenv("NO_PROXY", "upper.example")
    monkeypatch.setenv("no_proxy", "lower.example")
    pytester.makepyfile(test_bypass='''
import os

def test_bypass(bedrock_env):
    assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "lower.example,127.0.0.1"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--claude-bedrock-url={bedrock_server.url}")
    result.assert_outcomes(passed=1)


def test_plugin_serve_arguments_from_ini_load_a_rules_file(pytester: pytest.Pytester):
    pytester.makefile(".toml", rules='''
[[rules]]
id = "greeting"
match = { user_text_contains = "hello" }
respond = { text = "Hello from the rules file" }
''')
    pytester.makeini("[pytest]\nclaude_bedrock_args = --rules-file rules.toml --seed 7\nclaude_bedrock_region = eu-west-3\n")
    pytester.makepyfile(test_rules='''
import os

def test_rules_file_survives_reset(bedrock, anthropic_bedrock, bedrock_env):
    assert os.environ["AWS_REGION"] == "eu-west-3"
    assert [rule["id"] for rule in bedrock.rules()] == ["greeting"]
    message = anthropic_bedrock.messages.create(
        model="eu.anthropic.claude-sonnet-4-5-20250929-v1:0", max_tokens=50,
        messages=[{"role": "user", "content": "hello!"}])
    assert message.content[0].text == "Hello from the rules file"
    (call,) = bedrock.calls()
    assert call.rule == "greeting" and call.region == "eu-west-3"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_anthropic_fixture_skips_clearly_without_the_sdk(pytester: pytest.Pytester, bedrock_server):
    pytester.makeconftest("import sys\nsys.modules['anthropic'] = None\n")
    pytester.makepyfile(test_skip="def test_needs_sdk(anthropic_bedrock):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs",
                                           f"--claude-bedrock-url={bedrock_server.url}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*anthropic_bedrock fixture needs the anthropic SDK*"])


def test_server_that_cannot_start_fails_with_its_log(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nclaude_bedrock_args = --rules-file missing.toml\n")
    pytester.makepyfile(test_broken="def test_x(bedrock):\n    pass\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not start*", "*rules file not found*"])
    # as soon as the server exits, not after the plugin's minute of waiting for its URL
    # (mutation audit: without the exit check the test passed all the same, a minute later)
    assert time.monotonic() - started < 30


def test_ini_paths_are_relative_to_the_ini_file_whatever_folder_pytest_runs_in(pytester: pytest.Pytester):
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "rules.toml").write_text(
        '[[rules]]\nid = "greeting"\nmatch = { user_text_contains = "hello" }\nrespond = { text = "Hi" }\n')
    pytester.makeini("[pytest]\nclaude_bedrock_args = --rules-file tests/rules.toml\n")
    (pytester.path / "tests" / "test_sub.py").write_text(
        'def test_rules_loaded(bedrock):\n    assert [rule["id"] for rule in bedrock.rules()] == ["greeting"]\n')
    import os

    os.chdir(pytester.path / "tests")  # as an IDE or `cd tests && pytest` would
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_sub.py")
    result.assert_outcomes(passed=1)


def test_an_unreachable_server_url_is_named(pytester: pytest.Pytester):
    pytester.makepyfile(test_x="def test_x(bedrock):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--claude-bedrock-url=http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--claude-bedrock-url http://127.0.0.1:9 does not answer*"])


def test_without_autoload_the_plugin_is_enabled_by_its_entry_point_name(pytester: pytest.Pytester, monkeypatch):
    """As docs/testing.md tells CI setups that disable autoloading: ``-p claude_bedrock``."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_x="def test_x(bedrock):\n    assert bedrock.calls() == []\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "claude_bedrock")
    result.assert_outcomes(passed=1)


def test_an_external_server_is_refused_with_xdist_workers(pytester: pytest.Pytester):
    pytester.makepyfile(test_x="def test_x(bedrock):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           "--claude-bedrock-url=http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--claude-bedrock-url cannot be shared by pytest-xdist workers*"])


def test_the_servers_data_dir_is_the_one_its_ini_args_give(tmp_path: Path):
    """Review: ``claude_bedrock_args`` come after the plugin's own ``--data-dir``, so one there
    wins; ``BedrockServer.data_dir`` named the plugin's folder all the same."""
    from claude_bedrock.testing.pytest_plugin import data_dir_of

    default = tmp_path / "data"
    assert data_dir_of(default, ["--seed", "3"], tmp_path) == default
    assert data_dir_of(default, ["--data-dir", "logs"], tmp_path) == tmp_path / "logs"
    assert data_dir_of(default, ["--data-dir=/abs", "--seed", "1"], tmp_path) == Path("/abs")
    # a repeated option: the last one wins, as for click (mutation audit: the first was taken unnoticed)
    assert data_dir_of(default, ["--data-dir", "first", "--data-dir=second"], tmp_path) == tmp_path / "second"
    assert data_dir_of(default, ["--data-dir=first", "--data-dir", "second"], tmp_path) == tmp_path / "second"


def test_the_servers_data_dir_expands_a_tilde_as_the_server_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Audit: serve expands ``~`` in its folder settings (``claude_bedrock_args = --data-dir
    ~/bedrock-data`` writes to the home folder), but ``BedrockServer.data_dir`` named
    ``<ini folder>/~/bedrock-data``, a folder that does not exist."""
    from claude_bedrock.testing.pytest_plugin import data_dir_of

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ini_folder = tmp_path / "project"
    assert data_dir_of(tmp_path / "data", ["--data-dir", "~/bedrock-data"], ini_folder) == (
        tmp_path / "home" / "bedrock-data")
    assert data_dir_of(tmp_path / "data", ["--data-dir=~/logs"], ini_folder) == tmp_path / "home" / "logs"


def test_the_plugin_stops_its_server_where_there_is_no_sigint_to_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Audit regression: on Windows ``Popen.send_signal`` takes SIGTERM and the console events
    only; the plugin sent SIGINT, so stopping its server raised ValueError at the end of every
    session and left the server running. Here ``send_signal`` refuses SIGINT as it does there."""
    import signal
    import subprocess
    import sys

    from claude_bedrock.testing.pytest_plugin import BedrockServer

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    real_send_signal = process.send_signal

    def windows_send_signal(sig: int) -> None:
        if sig == signal.SIGINT:
            raise ValueError(f"Unsupported signal: {sig}")
        real_send_signal(sig)

    monkeypatch.setattr(process, "send_signal", windows_send_signal)
    closed = []
    admin = type("Admin", (), {"close": lambda self: closed.append(True)})()
    try:
        with monkeypatch.context() as windows:
            windows.setattr(os, "name", "nt")
            BedrockServer("http://127.0.0.1:1", admin, process).stop()
        assert closed and process.poll() is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
