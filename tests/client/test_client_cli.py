"""``claude-bedrock ask | models | whoami | count-tokens`` against the real server (CliRunner)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import suppress
from decimal import Decimal

import pytest
from click.testing import CliRunner

from claude_bedrock.cli.client_commands import DEFAULT_ENDPOINT_URL, _make_client
from claude_bedrock.client.config import ENDPOINT_VARIABLES
from claude_bedrock.cli.main import cli
from support.servers import ACCESS_KEY, ACCOUNT_ID, REGION, SECRET_KEY, at_default


@pytest.fixture
def signed_env(monkeypatch, server):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)
    return server.url


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_cli_ask_streams_answer_and_reports_cost(signed_env):
    result = _run("ask", "Hello, world", "--endpoint-url", signed_env, "--max-tokens", "40")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    assert "global.anthropic.claude-sonnet-4-5-20250929-v1:0" in result.stderr
    assert "cost $" in result.stderr and "(global)" in result.stderr


def test_cli_ask_regional_with_system_and_stdin(signed_env):
    result = _run("ask", "-", "--endpoint-url", signed_env, "--endpoint", "regional", "--system", "Be brief",
                  "--model", "claude-haiku-4-5", input="What is Bedrock?")
    assert result.exit_code == 0, result.output
    assert "us.anthropic.claude-haiku-4-5-20251001-v1:0" in result.stderr and "(regional)" in result.stderr



def test_cli_ask_takes_the_guide_s_1m_context_beta(signed_env):
    """Audit (guide): "Claude Sonnet 4 et 4.5 supportent la fenêtre de contexte de 1M de tokens
    ... incluez l'en-tête bêta `context-1m-2025-08-07`". `ask` had no way to send a beta, so a
    prompt over 200K tokens could not be asked at all."""
    prompt = "word " * 210_000
    refused = CliRunner().invoke(cli, ["ask", "-", "--endpoint-url", signed_env, "--max-tokens", "8"], input=prompt)
    assert refused.exit_code == 1 and "Input is too long for requested model." in refused.stderr
    result = _run("ask", "-", "--endpoint-url", signed_env, "--max-tokens", "8", "--beta", "context-1m-2025-08-07",
                  input=prompt)
    assert result.exit_code == 0, result.output
    assert "210007 in" in result.stderr and "(global)" in result.stderr
    other = CliRunner().invoke(cli, ["ask", "-", "--endpoint-url", signed_env, "--model", "claude-opus-4-5",
                                     "--beta", "context-1m-2025-08-07"], input="hi")
    assert other.exit_code == 1 and "invalid beta flag: context-1m-2025-08-07" in other.stderr

def test_cli_models_table_and_json(signed_env):
    result = _run("models", "--endpoint-url", signed_env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "ID", "NAME", "LIFECYCLE", "GLOBAL", "US", "EU", "JP", "APAC"]
    sonnet = next(line for line in lines if line.startswith("anthropic.claude-sonnet-4-5"))
    assert sonnet.split()[-5:] == ["yes", "yes", "yes", "yes", "no"]
    assert len(lines) == 11
    listed = json.loads(_run("models", "--json", "--endpoint-url", signed_env).stdout)
    assert {m["modelId"] for m in listed} >= {"anthropic.claude-opus-4-1-20250805-v1:0"}
    assert all(m["availability"] is not None for m in listed)


def test_cli_models_table_dates_the_deprecated_models_as_the_guide_s_table(signed_env):
    """Audit (guide): the table's tooltips date each deprecation ("Déprécié depuis le 28 octobre
    2025"); the `models` table, the guide's table on the command line, said LEGACY only."""
    lines = _run("models", "--endpoint-url", signed_env).stdout.splitlines()
    lifecycle = {line.split()[0]: line.split("Claude ", 1)[1].split("  ", 1)[1].split()[:3] for line in lines[1:]}
    assert lifecycle["anthropic.claude-3-7-sonnet-20250219-v1:0"] == ["LEGACY", "since", "2025-10-28"]
    assert lifecycle["anthropic.claude-3-opus-20240229-v1:0"] == ["LEGACY", "since", "2025-06-30"]
    assert lifecycle["anthropic.claude-3-5-haiku-20241022-v1:0"] == ["LEGACY", "since", "2025-12-19"]
    assert lifecycle["anthropic.claude-sonnet-4-5-20250929-v1:0"][0] == "ACTIVE"
    assert sum("LEGACY" in line for line in lines) == 3


def test_cli_models_says_why_the_list_is_empty(signed_env):
    for args in (("--region", "xx-nowhere-1"), ("--provider", "nobody")):
        result = CliRunner().invoke(cli, ["models", "--endpoint-url", signed_env, *args])
        assert result.exit_code == 1
        assert "No foundation models from provider" in result.stderr and "check --region" in result.stderr
    empty = CliRunner().invoke(cli, ["models", "--json", "--provider", "nobody", "--endpoint-url", signed_env])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []


def test_cli_whoami(signed_env):
    result = _run("whoami", "--endpoint-url", signed_env)
    assert result.exit_code == 0 and f"Account: {ACCOUNT_ID}" in result.stdout
    identity = json.loads(_run("whoami", "--json", "--endpoint-url", signed_env).stdout)
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/alice"


def test_cli_count_tokens_text_and_file(signed_env, tmp_path):
    short = _run("count-tokens", "Hello", "--endpoint-url", signed_env)
    assert short.exit_code == 0 and int(short.stdout) > 0
    text_file = tmp_path / "long.txt"
    text_file.write_text("Many more words to count in this file. " * 50)
    long = _run("count-tokens", "--file", str(text_file), "--endpoint-url", signed_env)
    assert long.exit_code == 0 and int(long.stdout) > int(short.stdout)
    assert _run("count-tokens", "--endpoint-url", signed_env).exit_code == 2


def _urls(monkeypatch, env: dict[str, str], endpoint_url: str | None = None, aws: bool = False) -> dict[str, str]:
    for name in (*ENDPOINT_VARIABLES, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    # keys of their own: without any, a command refuses an endpoint off loopback before its request
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDURLS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client, _ = _make_client(None, endpoint_url, None, aws)
    with client:
        return {service: client.config.url_for(service) for service in ("runtime", "control", "sts")}


def test_cli_endpoints_follow_the_option_then_each_service_variable_then_the_local_default(monkeypatch):
    local = dict.fromkeys(("runtime", "control", "sts"), DEFAULT_ENDPOINT_URL)
    assert DEFAULT_ENDPOINT_URL == "http://127.0.0.1:8787"
    assert _urls(monkeypatch, {}) == local
    assert _urls(monkeypatch, {"AWS_ENDPOINT_URL": "http://127.0.0.1:4"}) == dict.fromkeys(local, "http://127.0.0.1:4")
    # each service its own variable, as botocore resolves them (before: STS and the control
    # plane went to the runtime's URL, wrong against AWS, where they are other hosts)
    assert _urls(monkeypatch, {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:2",
                               "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5"}) == {
        "runtime": "http://127.0.0.1:2", "control": "http://127.0.0.1:2", "sts": "http://127.0.0.1:5"}
    assert _urls(monkeypatch, {"ANTHROPIC_BEDROCK_BASE_URL": "http://127.0.0.1:1",
                               "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5"}) == dict.fromkeys(local, "http://127.0.0.1:1")
    assert _urls(monkeypatch, {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5"}, "http://x:3") == dict.fromkeys(
        local, "http://x:3")


def test_cli_endpoint_url_help_gives_the_variables_in_the_order_they_win():
    """The help listed each service's $AWS_ENDPOINT_URL_<SERVICE> before $ANTHROPIC_BEDROCK_BASE_URL,
    which wins over them all (the test above): with both set, the command went to the latter."""
    help_text = " ".join(CliRunner().invoke(cli, ["whoami", "--help"]).output.split())
    assert ("[default: $ANTHROPIC_BEDROCK_BASE_URL, else each service's $AWS_ENDPOINT_URL_<SERVICE> (the "
            "runtime's for a service without one), else $AWS_ENDPOINT_URL, else the service's AWS endpoint in "
            "--region; with none of these variables set, http://127.0.0.1:8787]") in help_text


def test_cli_endpoint_url_help_says_a_service_no_variable_names_goes_to_aws(monkeypatch):
    """The help ended 'else http://127.0.0.1:8787', but the local server is the default only when no
    endpoint variable is set: with AWS_ENDPOINT_URL_STS alone, ask and count-tokens went to AWS."""
    assert _urls(monkeypatch, {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5"})["runtime"] == (
        "https://bedrock-runtime.eu-west-3.amazonaws.com")
    help_text = " ".join(CliRunner().invoke(cli, ["count-tokens", "--help"]).output.split())
    assert "else $AWS_ENDPOINT_URL, else http://127.0.0.1:8787]" not in help_text
    assert "else the service's AWS endpoint in --region; with none of these variables set, http://127.0.0.1:8787]" in help_text


def test_cli_endpoints_honour_botocores_switch_to_ignore_the_aws_variables(monkeypatch):
    local = dict.fromkeys(("runtime", "control", "sts"), DEFAULT_ENDPOINT_URL)
    assert _urls(monkeypatch, {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5",
                               "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}) == local


def test_cli_aws_flag_talks_to_each_aws_service_of_the_region(monkeypatch):
    assert _urls(monkeypatch, {"ANTHROPIC_BEDROCK_BASE_URL": "http://127.0.0.1:1"}, aws=True) == {
        "runtime": "https://bedrock-runtime.eu-west-3.amazonaws.com",
        "control": "https://bedrock.eu-west-3.amazonaws.com",
        "sts": "https://sts.eu-west-3.amazonaws.com",
    }
    assert os.environ["ANTHROPIC_BEDROCK_BASE_URL"] == "http://127.0.0.1:1"  # the process keeps it
    result = CliRunner().invoke(cli, ["whoami", "--aws", "--endpoint-url", "http://127.0.0.1:1"])
    assert result.exit_code == 2 and "either --endpoint-url or --aws" in result.output


@pytest.mark.parametrize("command", ["ask", "count-tokens", "models", "whoami"])
def test_cli_region_help_names_every_place_the_region_comes_from(command, clean_env, server):
    """--region's help said '$AWS_REGION, else us-east-1'; a chosen profile's region comes
    between them (docs/client.md), so `--profile work` of region eu-west-1 was not in us-east-1."""
    (clean_env / ".aws").mkdir()
    (clean_env / ".aws" / "config").write_text("[profile work]\nregion = eu-west-1\n")
    (clean_env / ".aws" / "credentials").write_text(f"[work]\naws_access_key_id = {ACCESS_KEY}\n"
                                                    f"aws_secret_access_key = {SECRET_KEY}\n")
    empty = CliRunner().invoke(cli, ["models", "--profile", "work", "--provider", "nobody", "--endpoint-url", server.url])
    assert "in region eu-west-1" in empty.stderr
    help_text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
    assert "AWS region [default: $AWS_REGION, else the region of the --profile or $AWS_PROFILE profile, " \
           "else us-east-1]" in help_text


def test_cli_whoami_calls_the_sts_endpoint_variable(signed_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", signed_env)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", signed_env)
    whoami = _run("whoami", "--json")
    assert whoami.exit_code == 0, whoami.output
    assert json.loads(whoami.stdout)["Account"] == ACCOUNT_ID
    assert _run("models", "--json").exit_code == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    refused = CliRunner().invoke(cli, ["whoami"])
    assert refused.exit_code == 1 and "cannot reach http://127.0.0.1:9" in refused.output


def test_cli_development_credentials_on_loopback(server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", server.url)
    result = _run("whoami")
    assert result.exit_code == 0, result.output
    assert "development credentials" in result.stderr and "Account:" in result.stdout


def test_cli_count_tokens_takes_text_or_file_not_both(tmp_path):
    """Mutation audit: neither or both of TEXT and --file is a usage error; neither case had a
    test, and with both the file was silently ignored once the check was loosened."""
    text_file = tmp_path / "prompt.txt"
    text_file.write_text("from the file")
    for args in ([], ["inline text", "--file", str(text_file)]):
        result = CliRunner().invoke(cli, ["count-tokens", *args, "--endpoint-url", "http://127.0.0.1:9"])
        assert result.exit_code == 2, result.output
        assert "give either TEXT or --file" in result.stderr


def test_cli_no_development_credentials_for_a_remote_endpoint():
    """Mutation audit: the development keys are for a loopback server only; handing them to any
    endpoint without credentials went unnoticed (a remote server would see them, and the user
    would not be told that no credentials were found)."""
    result = CliRunner().invoke(cli, ["whoami", "--endpoint-url", "http://bedrock.example.invalid"])
    assert result.exit_code == 1, result.output
    assert "development credentials" not in result.stderr
    assert "Error: No AWS credentials found" in result.stderr


@pytest.mark.parametrize("command", [["whoami"], ["models"], ["ask", "Hi"], ["count-tokens", "Hi"]])
def test_cli_no_credentials_error_names_what_a_command_user_can_set(clean_env, command):
    """Audit (docs walk): without credentials, against AWS or any non-loopback endpoint, the
    commands printed the client's own words, 'pass aws_access_key/aws_secret_key or api_key':
    constructor arguments no command has; the command's way, --profile, went unnamed."""
    result = CliRunner().invoke(cli, [*command, "--aws", "--region", "us-west-2"])
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert line.startswith("Error: No AWS credentials found") and "\n" not in line, line
    assert "--profile" in line and "AWS_ACCESS_KEY_ID" in line and "AWS_BEARER_TOKEN_BEDROCK" in line
    assert "aws_access_key" not in line and "api_key" not in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("ask", "Hi", "--endpoint-url", "http://127.0.0.1:9"), "cannot reach http://127.0.0.1:9"),
        (("ask", "Hi", "--model", "claude-opus-4-1", "--endpoint", "global"), "has no global endpoint"),
        (("ask", "Hi", "--model", "global.anthropic.claude-opus-4-1-20250805-v1:0"), "400 ValidationException"),
        (("models", "--endpoint-url", "not a url"), "base_url must look like"),
        (("ask", "Hi", "--endpoint-url", "http://127.0.0.1:99999"), "base_url must look like"),
        (("whoami", "--endpoint-url", "http://[::1"), "base_url must look like"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(signed_env, args, fragment):
    args = args if "--endpoint-url" in args else (*args, "--endpoint-url", signed_env)
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and fragment in error_lines[0]


@pytest.mark.parametrize("command", [("ask", "Hi"), ("count-tokens", "Hi"), ("models",), ("whoami",)])
def test_cli_error_of_a_5xx_without_an_aws_code_says_its_status_once(faults, command):
    """A proxy's 502 page (no x-amzn-ErrorType) printed 'Error: 502 502: Bad Gateway' from ask and
    count-tokens: botocore's code for such an error is the status itself, said twice."""
    from client.fault_server import Canned

    faults.script(Canned(status=502, headers=[("content-type", "text/html")], body=b"<html>Bad Gateway</html>"))
    result = CliRunner().invoke(cli, [*command, "--endpoint-url", faults.url])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: 502: ")


@pytest.mark.parametrize(("kind", "fragment"), [
    ("stream_error", "424 modelStreamErrorException"),
    ("drop_connection", "closed during the answer"),
])
def test_cli_ask_error_after_part_of_the_answer_is_on_its_own_line(signed_env, kind, fragment):
    from claude_bedrock.testing.admin import BedrockAdmin

    with BedrockAdmin(signed_env) as admin:
        admin.clear_faults()
        admin.inject_fault(kind, count=1, after_events=4, operation="InvokeModelWithResponseStream")
        try:
            result = CliRunner().invoke(cli, ["ask", "Hello", "--endpoint-url", signed_env, "--max-tokens", "60"])
        finally:
            admin.clear_faults()
    assert result.exit_code == 1
    assert result.stdout.endswith("\n") and result.stdout.strip()  # the part of the answer, ended
    assert fragment in result.stderr and "cannot reach" not in result.stderr
    assert result.stderr.startswith("Error: ")


@pytest.mark.skipif(os.name != "posix", reason="a POSIX signal to a child process")
@pytest.mark.parametrize("command", [("ask", "Hello"), ("count-tokens", "Hello"), ("whoami",)])
def test_cli_ctrl_c_ends_the_command_by_sigint_so_a_calling_script_stops_too(command):
    """Ctrl-C while a client command waited for its answer printed "Aborted!" and exited 1, click's
    way: bash, seeing a child that did not die of SIGINT, took the Ctrl-C as handled and went on
    with the script's next command (a `for` loop of asks ran its next ask). Python itself ends
    by SIGINT on an unhandled Ctrl-C for that reason (3.8, bpo-1054041)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:  # takes the request, never answers
        listener.settimeout(60)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        # SIGINT at its default in the child, as from a terminal, even when pytest runs as a
        # background job (``pytest &`` in a script ignores it: the child waited out the timeout)
        child = subprocess.Popen([sys.executable, "-m", "claude_bedrock", *command, "--endpoint-url", url],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=at_default(signal.SIGINT))
        try:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)  # the request arrived: the command waits for its answer
                child.send_signal(signal.SIGINT)
                _, stderr = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == -signal.SIGINT, stderr
    assert stderr.decode().endswith("\nAborted!\n") and "Traceback" not in stderr.decode()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device whose writes fail: ENOSPC)")
@pytest.mark.parametrize("command", [("--help",), ("--version",), ("ask", "Hello", "--max-tokens", "20"), ("whoami",)])
def test_cli_output_that_cannot_be_written_is_a_one_line_error(signed_env, command):
    """Output to a full disk (`logs list --json > month.jsonl`, here /dev/full) ended in an OSError
    traceback; click ends quietly only on a closed pipe (EPIPE)."""
    endpoint = ("--endpoint-url", signed_env) if command[0] in ("ask", "whoami") else ()
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "claude_bedrock", *command, *endpoint],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "Error: [Errno 28] No space left on device", done.stderr
    assert "Traceback" not in done.stderr


def test_cli_count_tokens_reads_stdin_for_a_dash(signed_env):
    piped = _run("count-tokens", "-", "--endpoint-url", signed_env, input="Hello there")
    direct = _run("count-tokens", "Hello there", "--endpoint-url", signed_env)
    assert piped.exit_code == 0 and piped.stdout == direct.stdout


def test_cli_ask_notes_a_deprecated_model_and_prints_the_exact_cost(signed_env):
    result = _run("ask", "Hi", "--endpoint-url", signed_env, "--model", "claude-3-7-sonnet", "--max-tokens", "10")
    assert result.exit_code == 0, result.output
    assert "warning: Claude Sonnet 3.7" in result.stderr and "is deprecated since" in result.stderr
    summary = result.stderr.splitlines()[-1]
    tokens_in, tokens_out = int(summary.split(" in / ")[0].split()[-1]), int(summary.split(" in / ")[1].split()[0])
    exact = (Decimal(tokens_in) * 3 + Decimal(tokens_out) * 15) / Decimal(1_000_000)  # Sonnet 3.7, no premium
    assert f"cost ${exact.normalize():f} " in summary  # exact, not rounded to 6 decimals



def test_cli_notes_a_deprecated_model_whatever_the_warning_filters(signed_env):
    """Mutation audit: the note shows on every call, also under ``PYTHONWARNINGS=ignore`` or
    after an earlier call of the same process (Python shows a warning once per line); without
    the CLI's own filter no test noticed."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            result = _run("count-tokens", "Hi", "--endpoint-url", signed_env, "--model", "claude-3-7-sonnet")
            assert result.exit_code == 0, result.output
            assert "warning: Claude Sonnet 3.7" in result.stderr and "is deprecated since" in result.stderr


def test_cli_max_tokens_below_one_is_a_usage_error():
    """Mutation audit: ``--max-tokens 0`` is refused by the CLI (exit 2) before any call; with
    the bound lowered it went to the server unnoticed."""
    result = CliRunner().invoke(cli, ["ask", "Hi", "--max-tokens", "0", "--endpoint-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2, result.output
    assert "--max-tokens" in result.stderr and "cannot reach" not in result.stderr


@pytest.mark.parametrize(("args", "stdin", "what"), [
    (("count-tokens", "--file", "{binary}"), None, "--file"),
    (("count-tokens", "-"), b"caf\xe9 \xff", "TEXT"),
    (("ask", "-"), b"caf\xe9 \xff", "PROMPT"),
    (("ask", "caf\udce9"), None, "PROMPT"),  # an argument with bytes the locale could not decode
    (("ask", "Hi", "--system", "\udcff"), None, "--system"),
    (("count-tokens", "Hi", "--system", "\udcff"), None, "--system"),
    # the other text options: each was a UnicodeEncodeError traceback (a header, a query string)
    (("ask", "Hi", "--model", "caf\udce9"), None, "--model"),
    (("count-tokens", "Hi", "--model", "caf\udce9"), None, "--model"),
    (("whoami", "--region", "caf\udce9"), None, "--region"),
    (("models", "--provider", "caf\udce9"), None, "--provider"),
    (("models", "--profile", "caf\udce9"), None, "--profile"),
])
def test_cli_text_that_is_not_utf8_is_a_usage_error(signed_env, tmp_path, args, stdin, what):
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xd8")
    args = [arg.replace("{binary}", str(binary)) for arg in args]
    result = CliRunner().invoke(cli, [*args, "--endpoint-url", signed_env], input=stdin)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"Error: {what}" in result.stderr and "is not UTF-8 text" in result.stderr


def test_cli_ask_writes_the_answer_as_the_model_gave_it(signed_env):
    """click.echo strips ANSI escape sequences from output that is not a terminal: `ask ... >
    answer.txt` lost bytes of the answer (the same answer reached a terminal whole)."""
    from claude_bedrock.testing.admin import BedrockAdmin

    answer = "Bold is \x1b[1mthis\x1b[0m."
    with BedrockAdmin(signed_env) as admin:
        rule = admin.add_rule(text=answer, user_text_contains="escape codes", times=1)
        try:
            result = CliRunner().invoke(cli, ["ask", "Show escape codes", "--endpoint-url", signed_env])
        finally:
            with suppress(Exception):
                admin.remove_rule(rule["id"])
    assert result.exit_code == 0, result.output
    assert result.stdout == answer + "\n"


def test_cli_endpoint_url_that_is_not_utf8_is_a_usage_error():
    result = CliRunner().invoke(cli, ["ask", "Hi", "--endpoint-url", "http://caf\udce9:1"])
    assert result.exit_code == 2, result.output
    assert "Error: --endpoint-url" in result.stderr and "is not UTF-8 text" in result.stderr


def test_cli_arguments_in_utf8_read_by_an_ascii_locale_are_text(signed_env):
    # LC_ALL=C with PYTHONUTF8=0: Python hands the UTF-8 bytes of "Café" over as "Caf\udcc3\udca9"
    escaped = _run("count-tokens", "Caf\udcc3\udca9 cr\udcc3\udca8me", "--endpoint-url", signed_env)
    direct = _run("count-tokens", "Café crème", "--endpoint-url", signed_env)
    assert escaped.exit_code == direct.exit_code == 0, escaped.output
    assert escaped.stdout == direct.stdout


def test_cli_count_tokens_reads_a_utf8_file_and_stdin_bytes(signed_env, tmp_path):
    text_file = tmp_path / "accents.txt"
    text_file.write_bytes("Café crème brûlée".encode())
    from_file = _run("count-tokens", "--file", str(text_file), "--endpoint-url", signed_env)
    piped = CliRunner().invoke(cli, ["count-tokens", "-", "--endpoint-url", signed_env],
                               input="Café crème brûlée".encode())
    direct = _run("count-tokens", "Café crème brûlée", "--endpoint-url", signed_env)
    assert from_file.exit_code == piped.exit_code == 0
    assert from_file.stdout == piped.stdout == direct.stdout


@pytest.mark.parametrize(("verify_code", "ca_file", "bundle", "hint"), [
    (18, None, None, "set SSL_CERT_FILE to its CA file"),
    (20, "/etc/ca.pem", None, "not issued by a CA of SSL_CERT_FILE=/etc/ca.pem"),
    (20, None, "/etc/corp.pem", "not issued by a CA of AWS_CA_BUNDLE=/etc/corp.pem"),
    (20, "/etc/ca.pem", "/etc/corp.pem", "not issued by a CA of SSL_CERT_FILE=/etc/ca.pem or AWS_CA_BUNDLE=/etc/corp.pem"),
    (10, "/etc/ca.pem", None, ""),  # expired: the error says so, and no CA file would help
    (10, None, None, ""),
    # mutation audit: the name-mismatch hint had no test, for a host name (62) or an IP address (64)
    (62, "/etc/ca.pem", None, "not issued for 127.0.0.1: its subjectAltName must name the URL's host"),
    (64, None, None, "not issued for 127.0.0.1: its subjectAltName must name the URL's host"),
])
def test_certificate_hint_fits_the_verify_error(monkeypatch, verify_code, ca_file, bundle, hint):
    """Audit: SSL_CERT_FILE already set to another CA was still told to 'set SSL_CERT_FILE', and so
    was an expired certificate, which no CA file makes valid."""
    import ssl

    from claude_bedrock.cli.client_commands import _connection_hint
    from claude_bedrock.client.errors import APIConnectionError

    for variable, value in (("SSL_CERT_FILE", ca_file), ("AWS_CA_BUNDLE", bundle)):
        if value:
            monkeypatch.setenv(variable, value)
        else:
            monkeypatch.delenv(variable, raising=False)
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_code = verify_code
    found = _connection_hint("https://127.0.0.1:8787", APIConnectionError(cause=cause))
    assert (hint in found) if hint else found == ""


def test_a_closed_connection_hints_https_only_for_an_http_url():
    """Mutation audit: a server closing an https:// connection (``RemoteDisconnected``) is not a
    plain-HTTP URL talking to a TLS server; without the scheme check it was told to 'use an
    https:// URL' all the same, unnoticed."""
    from http.client import RemoteDisconnected

    from claude_bedrock.cli.client_commands import _connection_hint
    from claude_bedrock.client.errors import APIConnectionError

    closed = APIConnectionError(cause=RemoteDisconnected("Remote end closed connection without response"))
    assert "use an https:// URL" in _connection_hint("http://127.0.0.1:8787", closed)
    assert _connection_hint("https://127.0.0.1:8787", closed) == " (is `claude-bedrock serve` running?)"
    # a remote server's closed door says nothing of `claude-bedrock serve` (untested before too)
    assert _connection_hint("https://bedrock.example.com", closed) == ""
    assert _connection_hint("http://bedrock.example.com", APIConnectionError(cause=ConnectionRefusedError())) == ""


def test_cli_a_refused_call_names_its_request_id():
    """Mutation audit: the request ID of a refused call (what AWS support asks for) is on its error
    line, one line; dropping it went unnoticed."""
    import click

    from claude_bedrock.cli.client_commands import _client_errors
    from claude_bedrock.client.errors import APIStatusError

    with pytest.raises(click.ClickException) as caught, _client_errors("http://127.0.0.1:8787"):
        raise APIStatusError("Too many requests,\n  please wait.", status_code=429, code="ThrottlingException",
                             request_id="0f4c2a9e-rid")
    assert caught.value.message == "429 ThrottlingException: Too many requests, please wait. [request 0f4c2a9e-rid]"


def test_cli_an_error_line_shows_the_control_characters_a_server_message_holds():
    """A server's message (a remote endpoint's, or one quoting what was sent) holding an escape
    sequence (a terminal title, a clipboard write) reached the terminal raw in the ``Error:``
    line: its control characters are now shown escaped, as the logs commands show them."""
    import click

    from claude_bedrock.cli.client_commands import _client_errors
    from claude_bedrock.client.errors import APIStatusError, ClaudeBedrockError

    with pytest.raises(click.ClickException) as caught, _client_errors("http://127.0.0.1:8787"):
        raise APIStatusError("bad \x1b]52;c;cHduZWQ=\x07 flag", status_code=400, code="ValidationException")
    assert caught.value.message == "400 ValidationException: bad \\x1b]52;c;cHduZWQ=\\x07 flag"
    with pytest.raises(click.ClickException) as caught, _client_errors("http://127.0.0.1:8787"):
        raise ClaudeBedrockError("odd \x9b2J reply")
    assert caught.value.message == "odd \\x9b2J reply"
