"""The lazily loaded CLI commands resolve to the command objects their modules define."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from claude_bedrock.cli.client_commands import CLIENT_COMMANDS
from claude_bedrock.cli.logs_commands import LOGS_COMMANDS
from claude_bedrock.cli.main import LAZY_COMMANDS, cli


def test_cli_lazy_commands_match_their_modules():
    assert {command.name for command in (*CLIENT_COMMANDS, *LOGS_COMMANDS)} == set(LAZY_COMMANDS)
    for name in LAZY_COMMANDS:
        assert cli.get_command(None, name).name == name  # type: ignore[arg-type]


def test_cli_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", *LAZY_COMMANDS):
        assert name in result.output



@pytest.mark.parametrize(("args", "message"), [
    (["--port", "70000"], "--port: port must be between 0 and 65535, got 70000"),
    (["--port", "-1"], "--port: port must be between 0 and 65535, got -1"),
    (["--account-id", "abc"], "--account-id: account_id must be 12 digits, got 'abc'"),
    (["--log-retention-days", "-5"], "log_retention_days must be at least 0, got -5"),
    (["--log-batch-size", "0"], "log_batch_size must be at least 1, got 0"),
])
def test_serve_refuses_out_of_range_settings_in_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_serve_refuses_a_config_file_port_out_of_range(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[server]\nport = 70000\n")
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--config", str(config)])
    assert result.exit_code != 0
    assert "port must be between 0 and 65535, got 70000" in result.output


def test_setting_of_the_wrong_type_names_the_type(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path)],
                                env={"CLAUDE_BEDROCK_PORT": "notanumber"})
    assert "environment CLAUDE_BEDROCK_PORT: port must be an integer, got 'notanumber'" in result.output


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8787"), ("0.0.0.0", "http://127.0.0.1:8787"), ("::", "http://[::1]:8787"),
    ("::1", "http://[::1]:8787"), ("192.0.2.7", "http://192.0.2.7:8787"),
])
def test_serve_announces_a_url_clients_on_this_machine_can_use(host, url):
    import io

    from claude_bedrock.service.server import announce, client_url
    from claude_bedrock.settings import Settings

    assert client_url(host, 8787) == url
    out = io.StringIO()
    announce(url, Settings(host=host), out)
    line = out.getvalue()
    assert line.startswith(f"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url} ")
    assert (" (bound to all interfaces)" in line) == (host in ("0.0.0.0", "::"))
