"""The lazily loaded CLI commands resolve to the command objects their modules define."""

from __future__ import annotations

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
