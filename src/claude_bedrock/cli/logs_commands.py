"""``claude-bedrock logs list|show|tail|purge`` and ``claude-bedrock usage``.

They read the invocation-log index in ``--data-dir`` directly (no server needed; a running
server may keep writing meanwhile). ``list`` and ``tail`` print a table, or one JSON record per
line with ``--json``; ``show`` prints one record; ``usage`` sums tokens and exact cost per
day, model and endpoint type as a table, CSV or JSON. See docs/invocation-logging.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from claude_bedrock.adapters.invocation_log import (
    IndexedRecord,
    IndexMissing,
    InvocationIndex,
    LogLayout,
    LogQuery,
    UsageRow,
    cutoff_for,
    purge,
)
from claude_bedrock.adapters.sqlite_file import hint
from claude_bedrock.cli.money import usd
from claude_bedrock.cli.utf8 import UTF8_TEXT
from claude_bedrock.domain.account_id import is_account_id
from claude_bedrock.domain.log_text import one_line, terminal_json
from claude_bedrock.domain.region_name import REGION_NAME_RE
from claude_bedrock.settings import GUIDE_RETENTION_DAYS, SETTINGS, ConfigError, coerce

__all__ = ["LOGS_COMMANDS", "logs", "parse_time", "usage"]

_DEFAULTS = {spec.name: spec.default for spec in SETTINGS}
#: The operations invocation logging records (service.invocation_logging.LOGGED_OPERATIONS).
_OPERATIONS = ("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
#: The POSIX times a UTC datetime can show (years 1 to 9999): messages print the times given.
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc).timestamp()
#: The start of year 10000 (``datetime.max``'s own timestamp rounds up to it).
_AFTER_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp() + 1


def parse_time(text: str, now: float) -> float:
    """``7d`` / ``1h`` / ``30m`` (that long before ``now``) or an ISO 8601 date or time (UTC
    unless it carries an offset), in UTC years 1 to 9999. Raises click.BadParameter."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        moment = now - float(relative.group(1)) * _UNIT_S[relative.group(2)]
    else:
        try:
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{text!r} is neither a duration like 1h / 7d nor an ISO 8601 time") from None
        moment = (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)).timestamp()
    if not _EARLIEST <= moment < _AFTER_LATEST:
        raise click.BadParameter(f"{text!r} is not between year 1 and year 9999 (UTC)")
    return moment


# --------------------------------------------------------------------------- shared options


class _FiniteFloatRange(click.FloatRange):
    """click's FloatRange, refusing ``nan`` and ``inf`` (``nan`` passes every bound check)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def _remember_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--config`` is read first (eager): ``_data_dir`` may need it."""
    ctx.meta["claude_bedrock.config"] = value


def _config_setting(ctx: click.Context, name: str) -> Any:
    """The ``[server]`` setting ``name`` of the ``--config`` file, or None (no file, or not set there)."""
    config = ctx.meta.get("claude_bedrock.config")
    if not config:
        return None
    if "claude_bedrock.server_table" not in ctx.meta:
        from claude_bedrock.settings import load_config_file

        try:
            ctx.meta["claude_bedrock.server_table"] = load_config_file(config)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param_hint="--config") from None
    return ctx.meta["claude_bedrock.server_table"].get(name)


def _data_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """``--data-dir`` (or ``CLAUDE_BEDROCK_DATA_DIR``), else the ``--config`` file's
    ``[server] data_dir``, else the server's default: the order ``serve`` reads them in."""
    if value:
        return os.path.expanduser(value)
    return _config_setting(ctx, "data_dir") or _DEFAULTS["data_dir"]


def _data_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        callback=_data_dir,
        show_default=f"the --config file's [server] data_dir, else {_DEFAULTS['data_dir']}",
        envvar="CLAUDE_BEDROCK_DATA_DIR",
        show_envvar=True,
        help="The server's data folder (holds invocation-logs.sqlite3).",
    )(func)
    return click.option(
        "--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
        callback=_remember_config,
        envvar="CLAUDE_BEDROCK_CONFIG", show_envvar=True,
        help="The server's TOML config file: its [server] data_dir is the data folder when --data-dir is not given.",
    )(func)


def _operation(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The logged operation named ``value`` in any case (click's case-insensitive Choice would
    show the names lower-cased in --help)."""
    if value is None:
        return None
    for name in _OPERATIONS:
        if name.lower() == value.lower():
            return name
    raise click.BadParameter(f"{value!r} is not one of {', '.join(_OPERATIONS)}.")


def _account(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--account``: an account ID as the server writes them (12 digits)."""
    if value is not None and not is_account_id(value):
        raise click.BadParameter(f"{value!r} is not an AWS account ID (12 digits).")
    return value


def _region(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--region``: a region name as the server reads them off requests."""
    if value is not None and not REGION_NAME_RE.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an AWS region name such as 'eu-west-1'.")
    return value


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``--since`` / ``--until`` as a POSIX time; a bad value is an error naming the option.
    Both durations count back from the same moment, so ``--since 1h --until 1h`` is empty."""
    return None if value is None else parse_time(value, ctx.meta.setdefault("claude_bedrock.now", time.time()))


_SINCE = click.option("--since", callback=_moment,
                      help="From this time: ISO 8601 (UTC unless it has an offset), or a duration back from now (1h, 7d).")
_UNTIL = click.option("--until", callback=_moment,
                      help="Before this time: ISO 8601 (UTC unless it has an offset), or a duration back from now.")
_ACCOUNT = click.option("--account", callback=_account, help="Only this account ID (12 digits).")
_REGION = click.option("--region", callback=_region, help="Only calls made in this region (e.g. eu-west-1).")


def _filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        _ACCOUNT,
        _REGION,
        click.option("--model", type=UTF8_TEXT,
                     help="Only this model (the ID as sent, the resolved base model ID, or an "
                          "alias or Anthropic name such as claude-sonnet-4-5)."),
        click.option("--operation", metavar=f"[{'|'.join(_OPERATIONS)}]", callback=_operation,
                     help="Only this operation (any case)."),
        _SINCE,
        _UNTIL,
        click.option("--request-id", type=UTF8_TEXT, help="Only this request ID."),
        click.option("--errors", is_flag=True, help="Only failed calls."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _model_hint(model: str | None) -> str:
    """When nothing matched a ``--model`` that no catalog model answers to (a typo?), why: logs
    may hold models the catalog does not know, so such a name is not refused, only explained."""
    if model is None:
        return ""
    from claude_bedrock.domain.scripting import ScriptError, model_filter

    try:
        model_filter(model, "--model", globs=False)  # the index matches names, not globs
    except ScriptError as unknown:
        return f"; {unknown}"
    return ""


def _why_nothing(index: InvocationIndex, account: str | None, model: str | None) -> str:
    """Why nothing matched, when it can be told: a misspelt ``--model`` (``_model_hint``), or an
    ``--account`` without a single record, whose calls were never logged (a gateway's team that
    did not turn invocation logging on) rather than absent from the period."""
    why = _model_hint(model)
    if account is not None and next(iter(index.query(LogQuery(account_id=account), limit=1)), None) is None:
        why += (f"; account {account} has no invocation record at all: only the calls of an account and region "
                "with invocation logging on are recorded (PutModelInvocationLoggingConfiguration); the server's "
                "access log (--access-log) shows every call")
    return why


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _query(account: str | None, region: str | None, model: str | None, operation: str | None,
           since: float | None, until: float | None, request_id: str | None, errors: bool) -> LogQuery:
    if since is not None and until is not None and since >= until:  # an empty period is a mistake, not "no usage"
        raise click.UsageError(f"--since ({_utc(since)}) must be before --until ({_utc(until)}); "
                               "a duration counts back from now, so --since 3h --until 2h is the hour before last.")
    if model is not None:  # an alias or Anthropic name stands for its base model ID
        from claude_bedrock.domain.catalog import default_catalog

        found = default_catalog().find(model)
        model = found.model_id if found is not None else model
    return LogQuery(
        account_id=account,
        region=region,
        model=model,
        operation=operation,
        since=since,
        until=until,
        request_id=request_id,
        errors_only=errors,
    )


def _open(data_dir: str) -> InvocationIndex:
    path = LogLayout(Path(data_dir)).index_path
    try:
        return InvocationIndex.open_existing(path)
    except IndexMissing:
        raise click.ClickException(
            f"no invocation logs in {data_dir} (turn logging on with PutModelInvocationLoggingConfiguration)"
        ) from None
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}{hint(exc, path)}") from None


@contextmanager
def _reading(data_dir: str) -> Iterator[InvocationIndex]:
    """The index of ``data_dir``, closed after use; a failed query (damaged pages, a lock held
    past the busy timeout) is a one-line error, as a failed open is."""
    index = _open(data_dir)
    try:
        yield index
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot read {index.path}: {exc}{hint(exc, index.path)}") from None
    finally:
        index.close()


# --------------------------------------------------------------------------- rendering


def _table(headers: list[str], rows: Iterable[list[str]], right: set[int], widths: list[int] | None = None) -> str:
    """``widths``, when given, are the columns' widths so far: they only grow, and are updated
    (``logs tail`` keeps its rows under one header)."""
    rows = [[one_line(cell) for cell in row] for row in rows]  # a model ID is as the caller sent it
    if widths is None:
        widths = []
    fitted = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    widths[:] = [max(pair) for pair in zip(widths, fitted)] if widths else fitted

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


_RECORD_HEADERS = ["TIME", "REQUEST ID", "OPERATION", "MODEL", "STATUS", "IN", "OUT", "CACHE R/W", "COST USD", "MS"]


def _record_row(item: IndexedRecord) -> list[str]:
    record = item.record
    extension = record.get("claudeBedrock", {})
    record_input = record.get("input", {})
    cost = extension.get("cost")
    status = record.get("errorCode") or str(extension.get("status", ""))
    return [
        datetime.fromtimestamp(item.epoch_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        record["requestId"],
        record["operation"],
        record["modelId"],
        status,
        str(record_input.get("inputTokenCount", 0)),
        str(record.get("output", {}).get("outputTokenCount", 0)),
        f"{record_input.get('cacheReadInputTokenCount', 0)}/{record_input.get('cacheWriteInputTokenCount', 0)}",
        "-" if cost is None else cost["total"],
        str(extension.get("latencyMs", "")),
    ]


#: The widths ``logs tail`` starts with, so that its first rows seldom set them: a time, a
#: request ID, the longest operation, a global model ID, an error code.
_TAIL_WIDTHS = [19, 36, 29, 48, 22, 6, 6, 9, 10, 6]


def _print_records(items: Iterable[IndexedRecord], as_json: bool, header: bool = True,
                   widths: list[int] | None = None) -> int:
    """Print ``items``; returns how many. JSON lines are written as the index yields them, so an
    export of a month of logs runs in constant memory; a table is laid out once every row is in."""
    if as_json:
        shown = 0
        for item in items:
            click.echo(terminal_json(json.dumps(item.record, ensure_ascii=False, separators=(",", ":"))))
            shown += 1
        return shown
    rows = [_record_row(i) for i in items]
    if not rows:
        return 0
    text = _table(_RECORD_HEADERS, rows, {5, 6, 7, 8, 9}, widths)
    lines = text.splitlines()
    click.echo("\n".join(lines if header else lines[1:]))
    return len(rows)


# --------------------------------------------------------------------------- logs


@click.group()
def logs() -> None:
    """Read and purge the invocation logs a server wrote to its data folder."""


@logs.command("list")
@_data_dir_option
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest records shown.")
@click.option("--json", "as_json", is_flag=True, help="One full record (JSON) per line.")
def list_records(data_dir: str, limit: int, as_json: bool, **filters: Any) -> None:
    """List invocation records, oldest first (the newest --limit of them)."""
    with _reading(data_dir) as index:
        shown = _print_records(index.query(_query(**filters), limit=limit, newest=True), as_json)
        if not shown and not as_json:
            click.echo("no matching invocation records" + _why_nothing(index, filters["account"], filters["model"]),
                       err=True)


@logs.command("show")
@_data_dir_option
@click.argument("request_id", type=UTF8_TEXT)
def show(data_dir: str, request_id: str) -> None:
    """Print the full record of REQUEST_ID (the x-amzn-RequestId of the response)."""
    with _reading(data_dir) as index:
        record = index.get(request_id)
    if record is None:
        raise click.ClickException(f"no invocation record with request ID {request_id}")
    click.echo(terminal_json(json.dumps(record, ensure_ascii=False, indent=2)))  # prompts are as callers sent them


def _index_appeared(path: Path, deadline: float | None, interval: float) -> bool:
    """Wait until the index exists (a server creates it at start-up); False at ``deadline`` or
    on Ctrl-C, which stops ``logs tail`` as quietly here as while it follows. The wait is said
    once on stderr: a mistyped ``--data-dir`` would otherwise wait in silence."""
    if not path.is_file():
        click.echo(f"no invocation logs in {path.parent} yet: waiting for a server to write some "
                   "(Ctrl-C stops)", err=True)
    try:
        while not path.is_file():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(interval)
    except KeyboardInterrupt:
        return False
    return True


@logs.command("tail")
@_data_dir_option
@_filter_options
@click.option("--lines", "backlog", type=click.IntRange(min=0), default=10, show_default=True,
              help="Records shown before following.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many new records.")
@click.option("--max-wait", type=_FiniteFloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--interval", type=_FiniteFloatRange(min=0, min_open=True, max=3600), default=0.5, show_default=True,
              help="Polling interval in seconds.")
@click.option("--json", "as_json", is_flag=True, help="One full record (JSON) per line.")
def tail(data_dir: str, backlog: int, count: int | None, max_wait: float | None, interval: float,
         as_json: bool, **filters: Any) -> None:
    """Follow new invocation records as the server writes them (Ctrl-C stops)."""
    query = _query(**filters)
    deadline = None if max_wait is None else time.monotonic() + max_wait
    path = LogLayout(Path(data_dir)).index_path
    waited = not path.is_file()
    if not _index_appeared(path, deadline, interval):
        return
    seen = 0
    header = True
    widths = list(_TAIL_WIDTHS)
    with _reading(data_dir) as index, suppress(KeyboardInterrupt):
        # An index that appeared while tail waited holds only records written since it started:
        # all are followed, none is backlog.
        last = 0 if waited else index.last_seq()
        if backlog and not waited:
            up_to_last = LogQuery(**{**query.__dict__, "up_to_seq": last})  # the rest is followed
            shown = _print_records(index.query(up_to_last, limit=backlog, newest=True), as_json, header, widths)
            header = header and not shown
        while count is None or seen < count:
            if deadline is not None and time.monotonic() >= deadline:
                break
            follow = LogQuery(**{**query.__dict__, "after_seq": last})
            items = list(index.query(follow, limit=None if count is None else count - seen))
            if items:
                last = max(item.seq for item in items)
                _print_records(items, as_json, header, widths)
                header = False
                seen += len(items)
                continue
            time.sleep(interval)


_RETENTION_ENV = "CLAUDE_BEDROCK_LOG_RETENTION_DAYS"


def _server_retention_days(ctx: click.Context) -> int:
    """The server's window as its environment sets it (as ``--data-dir`` follows
    CLAUDE_BEDROCK_DATA_DIR), else its ``--config`` file, else the default; 0 keeps every log."""
    value = os.environ.get(_RETENTION_ENV)
    if not value:  # set but empty counts as unset, as for the server
        configured = _config_setting(ctx, "log_retention_days")
        return _DEFAULTS["log_retention_days"] if configured is None else configured
    try:
        return coerce("log_retention_days", value, f"environment {_RETENTION_ENV}")
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@logs.command("purge")
@_data_dir_option
@click.option("--older-than-days", type=_FiniteFloatRange(min=0), default=None,
              help=f"Delete records, S3 objects and CloudWatch events older than this (0: all of them).  "
                   f"[default: the server's {_RETENTION_ENV}, else the --config file's "
                   f"log_retention_days, where 0 keeps every log; else {_DEFAULTS['log_retention_days']}]")
@click.option("--yes", is_flag=True, help=f"Do not ask before deleting logs younger than {GUIDE_RETENTION_DAYS} days.")
def purge_command(data_dir: str, older_than_days: float | None, yes: bool) -> None:
    """Apply the retention window now (the server also does it hourly).

    The window is --older-than-days, else the server's CLAUDE_BEDROCK_LOG_RETENTION_DAYS,
    else the log_retention_days of its --config file (a server given --log-retention-days:
    pass its window). A window
    shorter than the guide's 30 days (0 deletes every log) is asked for confirmation
    unless --yes is given.
    """
    layout = LogLayout(Path(data_dir))
    if not any(path.exists() for path in (layout.index_path, layout.s3_root, layout.cloudwatch_root)):
        raise click.ClickException(f"no invocation logs in {data_dir}: nothing to purge")
    if older_than_days is None:
        older_than_days = float(_server_retention_days(click.get_current_context()))
        if not older_than_days:
            click.echo("the server's log_retention_days is 0: invocation logs are kept forever, nothing purged "
                       "(--older-than-days purges anyway)")
            return
    if older_than_days < GUIDE_RETENTION_DAYS and not yes:
        click.confirm(
            f"Delete every invocation log older than {_days(older_than_days)} from {data_dir} "
            f"(the guide keeps {GUIDE_RETENTION_DAYS})?", abort=True, err=True,
        )
    index = _open(data_dir) if layout.index_path.is_file() else None
    try:
        result = purge(layout, cutoff_for(time.time(), older_than_days), index)
    except (sqlite3.DatabaseError, OSError) as exc:
        hinted = hint(exc, layout.index_path) if isinstance(exc, sqlite3.DatabaseError) else ""
        raise click.ClickException(f"cannot purge {data_dir}: {exc}{hinted}") from None
    finally:
        if index is not None:
            index.close()
    click.echo(
        f"purged {result.index_rows} records, {result.s3_objects} S3 objects and "
        f"{result.cloudwatch_lines} CloudWatch events older than {_days(older_than_days)}"
        + (f"; the index shrank by {_size(result.index_bytes_freed)}" if result.index_bytes_freed else "")
    )


def _size(size: int) -> str:
    """``462.3 MB``; under a megabyte in kilobytes (``36 kB``), not ``0.0 MB``."""
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(1, round(size / 1000))} kB"


def _days(days: float) -> str:
    return f"{days:g} day" if days == 1 else f"{days:g} days"


# --------------------------------------------------------------------------- usage

_USAGE_FIELDS = ["day", "model", "endpoint_type", "calls", "input_tokens", "output_tokens",
                 "cache_read_tokens", "cache_write_tokens", "cost_usd"]


def _usage_values(row: UsageRow, unresolved: str) -> list[str]:
    return [row.day, row.model_id, row.endpoint_type or unresolved, str(row.calls), str(row.input_tokens), str(row.output_tokens),
            str(row.cache_read_tokens), str(row.cache_write_tokens), usd(row.cost)]


#: What a spreadsheet reads as a formula at the start of a cell (OWASP, "CSV Injection"; its
#: tab and carriage return are escaped first, by ``one_line``).
_FORMULA_STARTS = ("=", "+", "-", "@")


def _csv_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it, never run: model IDs are logged as callers sent
    them, so a refused call's could be ``=HYPERLINK(...)``. Such a cell starts with ``'``.
    Control characters are escaped as in the table (``one_line``): the CSV is often read on a
    terminal, and no model ID a call can be billed for holds one."""
    value = one_line(value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


@click.command()
@_data_dir_option
@_ACCOUNT
@_REGION
@click.option("--model", type=UTF8_TEXT,
              help="Only this model (as sent, the resolved base model ID, or an alias or Anthropic name).")
@_SINCE
@_UNTIL
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="A table with a total line, or CSV / JSON rows (costs as exact decimal strings).")
def usage(data_dir: str, account: str | None, region: str | None, model: str | None, since: float | None,
          until: float | None, output_format: str) -> None:
    """Tokens and cost per model, endpoint type (global or regional) and UTC day, from the logs.

    Costs are exact USD from the catalog prices, the regional 1.1x premium included.
    """
    with _reading(data_dir) as index:
        rows = index.usage(_query(account, region, model, None, since, until, None, False))
        why = "" if rows or output_format != "table" else _why_nothing(index, account, model)
    if output_format == "json":
        click.echo(json.dumps([dict(zip(_USAGE_FIELDS, _usage_json(r))) for r in rows], indent=2))
    elif output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_USAGE_FIELDS)
        writer.writerows([_csv_cell(value) for value in _usage_values(r, "")] for r in rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        if not rows:
            click.echo("no usage in the selected period" + why, err=True)
            return
        total = sum((r.cost for r in rows), Decimal(0))
        body = [_usage_values(r, "-") for r in rows]
        body.append(["total", "", "", str(sum(r.calls for r in rows)), str(sum(r.input_tokens for r in rows)),
                     str(sum(r.output_tokens for r in rows)), str(sum(r.cache_read_tokens for r in rows)),
                     str(sum(r.cache_write_tokens for r in rows)), usd(total)])
        headers = ["DAY", "MODEL", "ENDPOINT", "CALLS", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "COST USD"]
        click.echo(_table(headers, body, {3, 4, 5, 6, 7, 8}))


def _usage_json(row: UsageRow) -> list[Any]:
    return [row.day, row.model_id, row.endpoint_type, row.calls, row.input_tokens, row.output_tokens,
            row.cache_read_tokens, row.cache_write_tokens, usd(row.cost)]


LOGS_COMMANDS = (logs, usage)
