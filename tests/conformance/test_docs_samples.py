"""The README's and the docs' samples run as written against a real server: only the address
``127.0.0.1:8787`` (and ``localhost:8787``) becomes the test server's, as a user's shell would
have it. A sample that drifts from the code fails here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.servers import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADDRESSES = ("http://127.0.0.1:8787", "127.0.0.1:8787", "localhost:8787")

pytestmark = pytest.mark.conformance


def blocks(page: str, language: str) -> list[str]:
    """The fenced code blocks of ``page`` in ``language``, in order."""
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / page).read_text(), re.S)


def section(page: str, heading: str) -> str:
    return (ROOT / page).read_text().split(heading, 1)[1].split("\n## ", 1)[0]


def at(server: RunningServer, text: str) -> str:
    """``text`` pointed at ``server`` instead of the default address."""
    host = server.url.removeprefix("http://")
    for address in DEFAULT_ADDRESSES:
        text = text.replace(address, server.url if address.startswith("http") else host)
    return text


def run(command: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done


def shell_env(aws_env: dict[str, str]) -> dict[str, str]:
    """The environment before the README's ``export`` lines: no AWS or Anthropic settings."""
    return {k: v for k, v in aws_env.items() if not k.startswith(("AWS_", "ANTHROPIC"))}


def test_readme_follow_the_guide_shell_and_python_samples(server, aws_env, tmp_path):
    guide = section("README.md", "## Follow the guide against it")
    [shell] = re.findall(r"```bash\n(.*?)```", guide, re.S)
    done = run(["bash", "-euc", at(server, shell)], shell_env(aws_env), cwd=tmp_path)
    assert '"Arn": "arn:aws:iam::' in done.stdout  # sts get-caller-identity
    assert "global.anthropic.claude-sonnet-4-5" not in done.stdout  # base IDs only
    assert "anthropic.claude-sonnet-4-5-20250929-v1:0" in done.stdout
    exports = "\n".join(line for line in at(server, shell).splitlines() if not line.startswith("aws "))
    for sample in re.findall(r"```python\n(.*?)```", guide, re.S):
        script = tmp_path / "sample.py"
        script.write_text(sample)
        printed = run(["bash", "-euc", f"{exports}\n{sys.executable} {script}"], shell_env(aws_env), cwd=tmp_path)
        assert "'type': 'text'" in printed.stdout or "type='text'" in printed.stdout, printed.stdout


@pytest.mark.parametrize("index", range(2))
def test_readme_config_examples_are_configs_the_server_takes(tmp_path, index):
    configs = blocks("README.md", "toml")
    assert len(configs) == 2  # authentication, gateway mode
    running = start_server(tmp_path / "server", config=configs[index].replace("…", "x" * 20))
    try:
        assert running.process.poll() is None
    finally:
        assert running.stop() == 0


def test_readme_throwaway_certificate_serves_https_to_its_announced_url(aws_env, tmp_path):
    """Audit: the README named --tls-cert but not how to make a certificate the clients accept
    for the announced https://127.0.0.1 URL (a common-name-only one is refused there)."""
    import ssl
    import urllib.request

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    [sample] = [b for b in blocks("README.md", "bash") if "openssl req" in b]
    make, serve = sample.rsplit("\n", 2)[0], sample.strip().splitlines()[-1]
    run(["bash", "-euc", make], aws_env, cwd=tmp_path)
    assert serve.startswith("python -m claude_bedrock serve ")
    tls_args = [str(tmp_path / arg) if arg.endswith(".pem") else arg for arg in serve.split()[4:]]
    running = start_server(tmp_path / "server", *tls_args)
    try:
        assert running.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with urllib.request.urlopen(running.url + "/_claude-bedrock/health", context=trusting) as health:
            assert health.status == 200
    finally:
        assert running.stop() == 0


def test_client_doc_sample(server, aws_env, tmp_path):
    sample = blocks("docs/client.md", "python")[0]
    script = tmp_path / "client_sample.py"
    script.write_text(sample)
    done = run([sys.executable, str(script)], aws_env, cwd=tmp_path)
    text_line, cost_line = done.stdout.strip().splitlines()[-2:]
    assert text_line.split()[-1].isdigit()  # the output token count
    assert cost_line.endswith(" global")


def test_testing_doc_admin_api_samples(aws_env, tmp_path):
    """The curl and BedrockAdmin samples, on a server of their own: they leave rules, faults
    and quotas behind, as a user's session would."""
    server = start_server(tmp_path / "admin")
    env = {**aws_env, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url, "ANTHROPIC_BEDROCK_BASE_URL": server.url}
    try:
        [curl] = [b for b in blocks("docs/testing.md", "bash") if "curl" in b]
        done = run(["bash", "-euc", at(server, curl)], env, cwd=tmp_path)
        assert done.stdout.count("{") >= 4, done.stdout  # every call answered with JSON
        [admin] = [b for b in blocks("docs/testing.md", "python") if "BedrockAdmin" in b]
        call = ('    from anthropic import AnthropicBedrock\n'
                '    AnthropicBedrock().messages.create(model="global.anthropic.claude-sonnet-4-5-20250929-v1:0", '
                'max_tokens=64, system="You are a helpful assistant.", messages=[{"role": "user", "content": "hello"}])')
        assert "    ...  # your code calls Claude here" in admin
        script = tmp_path / "admin_sample.py"
        script.write_text(at(server, re.sub(r"    \.\.\.  # your code calls Claude here.*", call, admin)))
        run([sys.executable, str(script)], env, cwd=tmp_path)
    finally:
        assert server.stop() == 0


def test_testing_doc_rules_file_and_quota_config_load(tmp_path):
    rules, quotas = blocks("docs/testing.md", "toml")
    rules_path = tmp_path / "rules.toml"
    rules_path.write_text(rules)
    running = start_server(tmp_path / "rules", "--rules-file", str(rules_path), config=quotas)
    try:
        assert running.process.poll() is None
    finally:
        assert running.stop() == 0


def test_testing_doc_excerpts_are_the_example_agent():
    """The agent and its tests shown in docs/testing.md are the files the suite runs."""
    example = "\n".join(path.read_text() for path in sorted((ROOT / "examples" / "agent").rglob("*.py")))
    for excerpt in blocks("docs/testing.md", "python"):
        if "BedrockAdmin" in excerpt:
            continue
        for paragraph in excerpt.strip().split("\n\n\n"):
            assert paragraph.strip() in example, paragraph[:200]


def test_invocation_logging_doc_samples(aws_env, tmp_path):
    """docs/invocation-logging.md: the AWS CLI block turns logging on, reads it back and turns it
    off; with it on again, a call is logged and the purge command, run as written from the
    folder above the server's ./data, keeps it (it is younger than 30 days)."""
    server = start_server(tmp_path / "logging")
    env = {**aws_env, **{name: server.url for name in ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_BEDROCK",
                                                      "AWS_ENDPOINT_URL_STS", "ANTHROPIC_BEDROCK_BASE_URL")}}
    cli = f"{sys.executable} -m claude_bedrock "
    try:
        turn_on_and_off, purge = blocks("docs/invocation-logging.md", "sh")[:2]
        done = run(["bash", "-euc", turn_on_and_off], env, cwd=tmp_path)
        assert '"bucketName": "my-bedrock-logs"' in done.stdout  # the get printed the configuration
        run(["bash", "-euc", turn_on_and_off.split("\naws bedrock get-")[0]], env, cwd=tmp_path)
        run(["aws", "bedrock-runtime", "converse", "--model-id", "global.anthropic.claude-haiku-4-5-20251001-v1:0",
             "--messages", '[{"role": "user", "content": [{"text": "hi"}]}]'], env, cwd=tmp_path)
        listed = ""
        for _ in range(50):  # the writer flushes within --log-flush-interval-ms
            listed = subprocess.run(["bash", "-euc", f"{cli}logs list --data-dir {server.data_dir}"], env=env,
                                    capture_output=True, text=True, timeout=120).stdout
            if "Converse" in listed:
                break
            time.sleep(0.1)
        assert "Converse" in listed, listed
        purged = run(["bash", "-euc", purge.replace("claude-bedrock ", cli)], env, cwd=server.data_dir.parent)
        assert purged.stdout.startswith("purged 0 records"), purged.stdout
    finally:
        assert server.stop() == 0


def test_readme_gateway_model_access_sample_revokes_one_account_before_the_upstream(gateway, upstream_admin,
                                                                                    aws_env, tmp_path):
    """Audit (gwwalk): the README said model access "decides which calls it relays" but not how
    a platform team takes a model from one team, nor that it is per account and region."""
    from support.gateway import US_HAIKU, boto3_runtime

    [sample] = [b for b in blocks("README.md", "bash") if "delete-foundation-model-agreement" in b]
    revoke, grant = sample.split("# and to give it back")
    env = {**aws_env, "AWS_ENDPOINT_URL_BEDROCK": gateway.url}
    converse = {"modelId": US_HAIKU, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    team, other_team = boto3_runtime(gateway.url), boto3_runtime(gateway.url, "AKIDANOTHERTEAM01", "x" * 20)
    run(["bash", "-euc", revoke], env, cwd=tmp_path)
    try:
        with pytest.raises(team.exceptions.AccessDeniedException):
            team.converse(**converse)
        assert upstream_admin.calls() == []  # refused by the gateway, not relayed
        assert other_team.converse(**converse)["stopReason"] == "end_turn"
    finally:
        run(["bash", "-euc", grant], env, cwd=tmp_path)
    assert team.converse(**converse)["stopReason"] == "end_turn"


def test_client_doc_cost_estimate_sample_prices_as_the_reply_is_billed(server, aws_env, tmp_path):
    """Audit (client use): pricing a call before sending it had no documented way; the sample
    that shows one must price the input as the reply's ``cost`` does, output at ``max_tokens``."""
    opening, estimate = blocks("docs/client.md", "python")[:2]
    script = tmp_path / "estimate_sample.py"
    script.write_text(opening.split("message = ", 1)[0]
                      + 'messages = [{"role": "user", "content": "Hello, world"}]\nmax_tokens = 256\n'
                      + estimate
                      + "message = client.messages.create(model='claude-sonnet-4-5', endpoint='regional',"
                        " max_tokens=max_tokens, messages=messages)\n"
                        "print(worst.input == message.cost.input, worst.total >= message.cost.total,"
                        " worst.endpoint_type, worst.multiplier)\n")
    done = run([sys.executable, str(script)], aws_env, cwd=tmp_path)
    assert done.stdout.split() == ["True", "True", "regional", "1.1"]
