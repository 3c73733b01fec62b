"""The ``claude-bedrock`` command line. Commands only wire settings to the app or client."""

from __future__ import annotations

import errno
import importlib
import logging
import os
import signal
import sys
from contextlib import suppress
from typing import Any, Callable, NoReturn

import click

from claude_bedrock import __version__
from claude_bedrock.settings import SETTINGS, ConfigError, build_settings


def settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per entry of ``settings.SETTINGS`` (declared once, there)."""
    for spec in reversed(SETTINGS):
        flag = "--" + spec.name.replace("_", "-")
        shown = "" if spec.default is None else f" [default: {spec.default}]"
        kwargs: dict[str, Any] = {"default": None, "help": f"{spec.help}{shown}", "metavar": spec.metavar}
        if spec.type is bool:
            flag = f"{flag}/--no-{spec.name.replace('_', '-')}"
        elif spec.choices:
            kwargs["type"] = click.Choice(spec.choices)
        else:
            kwargs["type"] = spec.type
        func = click.option(flag, spec.name, **kwargs)(func)
    return func


class Interrupted(Exception):
    """Ctrl-C in a command that does not stop on it itself (``serve`` and ``logs tail`` do),
    carried past click, which makes it "Aborted!" and exit status 1, to ``main``."""


class LazyGroup(click.Group):
    """A group whose heavier commands are imported only when used (``serve`` must start
    fast; the client and log commands pull in their own modules). Click's documented
    lazy-loading pattern: ``lazy`` maps a command name to ``"module:attribute"``. A Ctrl-C
    its commands leave unhandled leaves it as ``Interrupted``."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None


LAZY_COMMANDS = {
    # Client commands (issue 7).
    "ask": "claude_bedrock.cli.client_commands:ask",
    "models": "claude_bedrock.cli.client_commands:models",
    "whoami": "claude_bedrock.cli.client_commands:whoami",
    "count-tokens": "claude_bedrock.cli.client_commands:count_tokens",
    # Invocation logs (issue 5).
    "logs": "claude_bedrock.cli.logs_commands:logs",
    "usage": "claude_bedrock.cli.logs_commands:usage",
}


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="claude-bedrock")
def cli() -> None:
    """Claude on Amazon Bedrock, runnable anywhere Python runs.

    Start a Bedrock-compatible server with `claude-bedrock serve`, then point boto3, the AWS
    CLI or the Anthropic SDKs at it by changing only the endpoint URL.

    \b
    Examples:
      claude-bedrock serve --port 0           # prints the `export ...` line to paste
      claude-bedrock ask "Why is the sky blue?" --model claude-haiku-4-5
      claude-bedrock count-tokens --file README.md
      claude-bedrock logs list --since 1h     # after put-model-invocation-logging-configuration
      claude-bedrock usage --format csv

    Run `claude-bedrock COMMAND --help` for a command's options.
    """


@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              envvar="CLAUDE_BEDROCK_CONFIG",
              help="TOML config file: [[credentials]] and [[api_keys]] (the keys verified; a strict server's "
                   "only ones), [server] settings, [testing] scenario (rules, faults, quotas), [upstream] "
                   "(gateway mode). Relative paths in it are read from the working directory.")
@settings_options
def serve(config_file: str | None, **options: Any) -> None:
    """Start the server (runtime, control plane and STS on one base URL).

    Every option can also be set with an environment variable CLAUDE_BEDROCK_<OPTION>
    (e.g. CLAUDE_BEDROCK_PORT=9000) or in the [server] table of the config file.
    Stop it with Ctrl-C.
    """
    try:
        settings = build_settings(options, dict(os.environ), config_file)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if settings.log_level != "debug":  # the gateway's libraries: httpx logs every request at INFO,
        logging.getLogger("httpx").setLevel(logging.WARNING)  # botocore where it found credentials
        logging.getLogger("botocore").setLevel(logging.WARNING)  # (the start-up line says it)
    if settings.access_log:  # its lines are INFO, and were asked for: written whatever --log-level
        from claude_bedrock.service.access_log import LOGGER_NAME

        logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    from claude_bedrock.adapters.store import StoreError
    from claude_bedrock.service.server import serve as run_server

    try:
        run_server(settings)
    except StoreError as exc:
        raise click.ClickException(f"cannot use data dir: {exc}") from None  # exc names the path
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:  # one more Ctrl-C during the final log flush: stop there
        pass
    click.echo("claude-bedrock stopped.", err=True)  # Ctrl-C and SIGTERM end here (server.serve)


def _end_by_sigint() -> NoReturn:
    """End as Python ends on an unhandled Ctrl-C (3.8+, bpo-1054041): by SIGINT, so the calling
    shell sees it and stops its script too (bash goes on after a child that exits 1)."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe, a closed stream
            stream.flush()
    if os.name == "posix":
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(128 + signal.SIGINT)  # elsewhere, the status shells give a process ended by Ctrl-C


#: The errors of output that cannot be written: a full disk or quota, a device error, a file too
#: big, a non-blocking output that would block.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EAGAIN})


def main() -> None:
    try:
        cli(prog_name="claude-bedrock")
    except Interrupted:
        click.echo("\nAborted!", err=True)  # click's words for a Ctrl-C, on a line of their own
        _end_by_sigint()
    except OSError as exc:  # output that cannot be written (a full disk); click ends quietly on EPIPE only
        if exc.errno not in _WRITE_ERRNOS:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
