"""``claude-bedrock logs list|show|tail|purge`` and ``usage`` on a data dir written by the writer."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import sys
import threading
import time
import tracemalloc
from decimal import Decimal
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from claude_bedrock.adapters.invocation_log import IndexEntry, InvocationIndex, InvocationLogWriter, LogLayout, LogQuery
from claude_bedrock.cli.logs_commands import parse_time
from claude_bedrock.cli.main import cli
from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.domain.invocation_log import DeliveryConfig, S3Location
from claude_bedrock.service.calls import CallRecord

HOUR = 3600
NOW = time.time()
CONFIG = DeliveryConfig(s3=S3Location("bucket"), log_group="grp", text=True, image=True)
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def call(n: int, *, ago_s: float = 0, **changes) -> CallRecord:
    values = dict(
        request_id=f"req-{n:04d}", operation="InvokeModel", account_id="111122223333", region="us-east-1",
        identity_arn="arn:aws:iam::111122223333:user/alice", model_id=f"global.{SONNET}",
        started_at=NOW - ago_s, resolved_model_id=SONNET, endpoint_type="global",
        input_body={"messages": []}, output_body={"content": []},
        usage={"inputTokens": 1000, "outputTokens": 100}, latency_ms=5,
    )
    values.update(changes)
    return CallRecord(**values)


def write(data_dir, calls) -> None:
    writer = InvocationLogWriter(LogLayout(data_dir), catalog=default_catalog(), retention_days=0)
    for c in calls:
        writer.submit(c, CONFIG)
    writer.close()


@pytest.fixture()
def data_dir(tmp_path):
    write(tmp_path, [
        call(1, ago_s=3 * 24 * HOUR),
        call(2, ago_s=2 * HOUR, operation="Converse", model_id=f"us.{SONNET}", endpoint_type="regional"),
        call(3, ago_s=HOUR, account_id="444455556666", status=400, error_code="ValidationException",
             usage={}, resolved_model_id=None, endpoint_type=None, model_id="nope"),
        call(4, ago_s=60, operation="ConverseStream", request_metadata={"team": "a"}, region="eu-west-3"),
    ])
    return tmp_path


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ids(result) -> list[str]:
    return [json.loads(line)["requestId"] for line in result.output.splitlines()]


def test_logs_cli_list_table_by_default(data_dir):
    result = run("logs", "list", "--data-dir", str(data_dir))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["TIME", "REQUEST", "ID", "OPERATION", "MODEL", "STATUS", "IN", "OUT", "CACHE",
                                "R/W", "COST", "USD", "MS"]
    assert [line.split()[2] for line in lines[1:]] == ["req-0001", "req-0002", "req-0003", "req-0004"]
    assert "ValidationException" in lines[3]
    assert "0.0045" in lines[1]  # 1000*3 + 100*15 per million, global


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["req-0001", "req-0002", "req-0003", "req-0004"]),
        (("--account", "444455556666"), ["req-0003"]),
        (("--region", "eu-west-3"), ["req-0004"]),
        (("--region", "us-east-1", "--operation", "Converse"), ["req-0002"]),
        (("--model", f"us.{SONNET}"), ["req-0002"]),
        (("--model", SONNET), ["req-0001", "req-0002", "req-0004"]),
        (("--operation", "Converse"), ["req-0002"]),
        (("--errors",), ["req-0003"]),
        (("--request-id", "req-0004"), ["req-0004"]),
        (("--since", "1d"), ["req-0002", "req-0003", "req-0004"]),
        (("--since", "90m", "--until", "30m"), ["req-0003"]),
        (("--limit", "2"), ["req-0003", "req-0004"]),
    ],
)
def test_logs_cli_list_filters(data_dir, args, expected):
    result = run("logs", "list", "--data-dir", str(data_dir), "--json", *args)
    assert result.exit_code == 0
    assert ids(result) == expected


def test_logs_cli_list_iso_time_range(data_dir):
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 4 * 24 * HOUR))
    until = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - 24 * HOUR))
    result = run("logs", "list", "--data-dir", str(data_dir), "--json", "--since", since, "--until", until)
    assert ids(result) == ["req-0001"]


def test_logs_cli_show_prints_the_full_record(data_dir):
    result = run("logs", "show", "--data-dir", str(data_dir), "req-0004")
    assert result.exit_code == 0
    record = json.loads(result.output)
    assert record["schemaType"] == "ModelInvocationLog"
    assert record["requestMetadata"] == {"team": "a"}
    missing = CliRunner().invoke(cli, ["logs", "show", "--data-dir", str(data_dir), "nope"])
    assert missing.exit_code == 1 and "no invocation record with request ID nope" in missing.output


def test_logs_cli_missing_index_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["logs", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no invocation logs in" in result.output


def test_logs_cli_tail_follows_new_records(data_dir):
    def later() -> None:
        time.sleep(0.4)
        write(data_dir, [call(10), call(11, operation="Converse")])

    thread = threading.Thread(target=later)
    thread.start()
    result = run("logs", "tail", "--data-dir", str(data_dir), "--json", "--lines", "1", "--count", "2",
                 "--interval", "0.05", "--max-wait", "20")
    thread.join()
    assert ids(result) == ["req-0004", "req-0010", "req-0011"]


def test_logs_cli_tail_stops_at_max_wait(data_dir):
    started = time.monotonic()
    result = run("logs", "tail", "--data-dir", str(data_dir), "--lines", "0", "--max-wait", "0.3",
                 "--interval", "0.05")
    assert result.exit_code == 0 and result.output == ""
    assert time.monotonic() - started < 5


def test_logs_cli_purge_applies_the_window(data_dir):
    result = run("logs", "purge", "--data-dir", str(data_dir), "--older-than-days", "1", "--yes")
    assert result.exit_code == 0
    assert result.output.startswith("purged 1 records, 1 S3 objects and 1 CloudWatch events older than 1 day\n")
    assert ids(run("logs", "list", "--data-dir", str(data_dir), "--json")) == ["req-0002", "req-0003", "req-0004"]


def test_logs_cli_purge_below_the_guide_window_asks_first(data_dir):
    refused = CliRunner().invoke(cli, ["logs", "purge", "--data-dir", str(data_dir), "--older-than-days", "0"],
                                 input="n\n")
    assert refused.exit_code == 1 and "the guide keeps 30" in refused.output
    assert "older than 0 days from" in refused.output
    assert len(ids(run("logs", "list", "--data-dir", str(data_dir), "--json"))) == 4  # nothing deleted
    agreed = CliRunner().invoke(cli, ["logs", "purge", "--data-dir", str(data_dir), "--older-than-days", "0"],
                                input="y\n")
    assert agreed.exit_code == 0 and "purged 4 records" in agreed.output


def test_logs_cli_purge_of_a_folder_without_logs_says_so_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo"
    result = CliRunner().invoke(cli, ["logs", "purge", "--data-dir", str(missing)])
    assert result.exit_code == 1 and "no invocation logs in" in result.output
    assert not missing.exists()


def test_logs_cli_purge_keeps_the_window_the_server_was_given_in_its_environment(tmp_path, monkeypatch):
    """Audit (seedwalk): ``logs purge`` says it applies "the retention window", and reads the
    server's folder from CLAUDE_BEDROCK_DATA_DIR, but it purged at 30 days whatever
    CLAUDE_BEDROCK_LOG_RETENTION_DAYS kept: a 60-day-old record of a 90-day server was deleted,
    and a server keeping its logs forever (0) lost everything past 30 days."""
    write(tmp_path, [call(1, ago_s=60 * 24 * HOUR), call(2, ago_s=100 * 24 * HOUR), call(3)])
    monkeypatch.setenv("CLAUDE_BEDROCK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS", "0")
    kept = run("logs", "purge")
    assert kept.exit_code == 0 and "kept forever" in kept.output and "nothing purged" in kept.output
    assert len(ids(run("logs", "list", "--json"))) == 3
    monkeypatch.setenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS", "90")
    assert run("logs", "purge").output.startswith("purged 1 records, 1 S3 objects and 1 CloudWatch events older "
                                                  "than 90 days")
    assert ids(run("logs", "list", "--json")) == ["req-0001", "req-0003"]
    monkeypatch.setenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS", "ninety")
    refused = CliRunner().invoke(cli, ["logs", "purge"])
    assert refused.exit_code != 0 and "CLAUDE_BEDROCK_LOG_RETENTION_DAYS" in refused.output
    assert "Traceback" not in refused.output
    monkeypatch.delenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS")
    assert run("logs", "purge").output.startswith("purged 1 records")  # the default 30 days
    assert ids(run("logs", "list", "--json")) == ["req-0003"]


def test_logs_cli_usage_formats_show_the_regional_premium_exactly(tmp_path):
    write(tmp_path, [call(1), call(2, model_id=f"us.{SONNET}", endpoint_type="regional"), call(3)])
    as_json = json.loads(run("usage", "--data-dir", str(tmp_path), "--format", "json").output)
    by_endpoint = {row["endpoint_type"]: row for row in as_json}
    assert by_endpoint["global"]["calls"] == 2 and by_endpoint["regional"]["calls"] == 1
    assert Decimal(by_endpoint["global"]["cost_usd"]) == Decimal("0.009")
    assert Decimal(by_endpoint["regional"]["cost_usd"]) == Decimal("0.00495") == Decimal("1.1") * Decimal("0.0045")
    rows = list(csv.DictReader(io.StringIO(run("usage", "--data-dir", str(tmp_path), "--format", "csv").output)))
    assert [(r["endpoint_type"], r["input_tokens"], r["cost_usd"]) for r in rows] == [
        ("global", "2000", "0.009"), ("regional", "1000", "0.00495")]
    table = run("usage", "--data-dir", str(tmp_path)).output.splitlines()
    assert table[0].split()[:3] == ["DAY", "MODEL", "ENDPOINT"]
    assert table[-1].split() == ["total", "3", "3000", "300", "0", "0", "0.01395"]


def test_logs_cli_usage_csv_cells_never_start_a_formula(tmp_path):
    """Audit: model IDs are logged as callers sent them (a refused call's too), so a caller could
    put a spreadsheet formula into the operator's usage CSV."""
    write(tmp_path, [call(1), call(2, model_id='=HYPERLINK("http://x","y")', resolved_model_id=None,
                                   endpoint_type=None, status=400, error_code="ValidationException")])
    rows = list(csv.DictReader(io.StringIO(run("usage", "--data-dir", str(tmp_path), "--format", "csv").output)))
    assert sorted(row["model"] for row in rows) == ["'=HYPERLINK(\"http://x\",\"y\")", SONNET]
    as_json = json.loads(run("usage", "--data-dir", str(tmp_path), "--format", "json").output)
    assert '=HYPERLINK("http://x","y")' in [row["model"] for row in as_json]  # JSON keeps the data as it is


def test_logs_cli_parse_time():
    assert parse_time("1h", 10_000.0) == 6_400.0
    assert parse_time("2d", 200_000.0) == 200_000.0 - 172_800
    assert parse_time("1970-01-02", 0) == 86_400
    assert parse_time("1970-01-01T01:00:00+01:00", 0) == 0
    with pytest.raises(click.BadParameter):
        parse_time("yesterday", 0)


def test_logs_cli_parse_time_reads_a_time_without_offset_as_utc_whatever_the_local_zone(monkeypatch):
    """Mutation audit: on a machine in UTC (CI) reading a naive time in the local zone gives the
    same instant, so dropping the UTC default went unnoticed; in Tokyo it is 9 hours off."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert parse_time("1970-01-02", 0) == parse_time("1970-01-02T00:00:00", 0) == 86_400
    finally:
        monkeypatch.undo()
        time.tzset()


def test_logs_cli_sizes_and_columns():
    """Mutation audit: a size under 500 bytes showed as ``0 kB`` and number columns lost their
    right alignment, and no test noticed either."""
    from claude_bedrock.cli.logs_commands import _size, _table

    assert [_size(n) for n in (1, 499, 1_500, 999_999, 1_000_000, 462_300_000)] == [
        "1 kB", "1 kB", "2 kB", "1000 kB", "1.0 MB", "462.3 MB"]
    assert _table(["A", "N"], [["x", "5"], ["yy", "10"]], right={1}) == "A    N\nx    5\nyy  10"



@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)"])
def test_logs_cli_csv_cells_that_a_spreadsheet_would_run_are_quoted(value):
    from claude_bedrock.cli.logs_commands import _csv_cell

    assert _csv_cell(value) == "'" + value and _csv_cell("claude-" + value) == "claude-" + value


@pytest.mark.parametrize("value", ["\t=1", "\r=1"])
def test_logs_cli_csv_cells_starting_with_tab_or_cr_are_escaped_not_run(value):
    """Mutation audit: the tab and carriage return starts (OWASP's list) had no test. They are
    control characters, written visibly (``\\t``) as the table writes them: no formula start."""
    from claude_bedrock.cli.logs_commands import _csv_cell

    assert _csv_cell(value) == repr(value)[1:-1] and not _csv_cell(value).startswith(("=", "'", "\t", "\r"))


def test_logs_cli_money_is_exact_with_at_least_two_decimals():
    """Mutation audit: ``usd`` pads to two decimals (``12.50``); padding to one went unnoticed."""
    from claude_bedrock.cli.money import usd

    assert [usd(Decimal(text)) for text in ("0", "12.5", "3", "0.0001914", "1E+1")] == [
        "0.00", "12.50", "3.00", "0.0001914", "10.00"]


@pytest.mark.parametrize("since, until", [
    ("1h", "99999999999d"),  # a duration reaching back before year 1
    ("1h", "0001-01-01T00:00:00+05:00"),  # year 0 in UTC
    ("9999-12-31T23:00:00-05:00", None),  # year 10000 in UTC
    # review: its last microsecond, a float timestamp of year 10000, passed the bound
    ("9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999"),
])
def test_logs_cli_time_outside_the_calendar_is_a_usage_error(data_dir, since, until):
    """No traceback: the --since/--until message cannot print a time before year 1 or after 9999."""
    args = ["logs", "list", "--data-dir", str(data_dir), "--since", since]
    result = CliRunner().invoke(cli, args + (["--until", until] if until else []))
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--" in result.output and "year 1" in result.output
    usage = CliRunner().invoke(cli, ["usage", "--data-dir", str(data_dir), "--since", since]
                               + (["--until", until] if until else []))
    assert usage.exit_code == 2 and not isinstance(usage.exception, ValueError)


def test_logs_cli_operation_is_a_choice_and_model_takes_an_alias(data_dir):
    from claude_bedrock.cli.logs_commands import _OPERATIONS
    from claude_bedrock.service.invocation_logging import LOGGED_OPERATIONS

    assert set(_OPERATIONS) == LOGGED_OPERATIONS
    wrong = CliRunner().invoke(cli, ["logs", "list", "--data-dir", str(data_dir), "--operation", "Nonsense"])
    assert wrong.exit_code == 2 and "Invalid value for '--operation'" in wrong.output
    any_case = run("logs", "list", "--data-dir", str(data_dir), "--json", "--operation", "invokemodel")
    exact = run("logs", "list", "--data-dir", str(data_dir), "--json", "--operation", "InvokeModel")
    assert ids(any_case) == ids(exact)
    by_alias = run("logs", "list", "--data-dir", str(data_dir), "--json", "--model", "claude-sonnet-4-5")
    by_id = run("logs", "list", "--data-dir", str(data_dir), "--json", "--model", SONNET)
    assert ids(by_alias) == ids(by_id) and ids(by_id)


def test_logs_cli_help_says_times_without_offset_are_utc():
    """``--since 2026-03-08T02:30`` is UTC, not the local time of TZ (docs/invocation-logging.md)."""
    for command in (["logs", "list"], ["usage"]):
        text = " ".join(run(*command, "--help").output.split())
        assert "--since TEXT From this time: ISO 8601 (UTC unless it has an offset)" in text
        assert "--until TEXT Before this time: ISO 8601 (UTC unless it has an offset)" in text


def test_logs_cli_operation_help_shows_the_names_as_aws_spells_them():
    result = run("logs", "list", "--help")
    assert "[InvokeModel|InvokeModelWithResponseStream|Converse|ConverseStream]" in result.output


def test_logs_cli_tail_keeps_its_rows_under_one_header(data_dir):
    def later() -> None:
        time.sleep(0.3)
        write(data_dir, [call(20, operation="InvokeModelWithResponseStream")])

    thread = threading.Thread(target=later)
    thread.start()
    result = run("logs", "tail", "--data-dir", str(data_dir), "--lines", "1", "--count", "1",
                 "--interval", "0.05", "--max-wait", "20")
    thread.join()
    header, first, followed = result.output.splitlines()
    starts = [header.index(name) for name in ("REQUEST ID", "OPERATION", "MODEL", "STATUS")]
    for row in (first, followed):  # each column starts where its header does
        cells = row.split()
        positions = [row.index(cells[2]), row.index(cells[3]), row.index(cells[4]), row.index(cells[5])]
        assert positions == starts, (header, row)
    assert "InvokeModelWithResponseStream" in followed  # wider than the first row's operation


@pytest.mark.parametrize(("option", "value"), [("--interval", "-1"), ("--interval", "0"), ("--max-wait", "-2")])
def test_logs_cli_tail_refuses_negative_times(data_dir, option, value):
    result = CliRunner().invoke(cli, ["logs", "tail", "--data-dir", str(data_dir), option, value])
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output


def test_logs_cli_purge_of_a_damaged_index_is_one_line(tmp_path):
    (tmp_path / "invocation-logs.sqlite3").write_bytes(b"garbage, not a database" * 100)
    result = CliRunner().invoke(cli, ["logs", "purge", "--data-dir", str(tmp_path), "--yes"])
    assert result.exit_code == 1
    assert "cannot read" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("logs", "tail", "--max-wait", "0"), ("usage",)])
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_logs_cli_a_bad_time_names_its_option(data_dir, command, option):
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(data_dir), option, "yesterday"])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': 'yesterday' is neither a duration" in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("logs", "tail", "--max-wait", "0"), ("usage",)])
@pytest.mark.parametrize("period", [("--since", "2h", "--until", "3h"), ("--since", "1h", "--until", "1h")])
def test_logs_cli_a_period_that_ends_before_it_starts_is_a_usage_error(data_dir, command, period):
    """Helper finding: `usage --since 2h --until 3h` said "no usage in the selected period" and
    exited 0, though it asked for an empty period (a duration counts back from now)."""
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(data_dir), *period])
    assert result.exit_code == 2, result.output
    assert "Error: --since (" in result.output and ") must be before --until (" in result.output
    assert "no usage" not in result.output and "no matching" not in result.output


@pytest.mark.parametrize(("args", "what"), [
    (("logs", "list", "--model", "caf\udce9"), "--model"),
    (("logs", "list", "--request-id", "caf\udce9"), "--request-id"),
    (("logs", "tail", "--max-wait", "0", "--model", "caf\udce9"), "--model"),
    (("logs", "show", "caf\udce9"), "REQUEST_ID"),
    (("usage", "--model", "caf\udce9"), "--model"),
])
def test_logs_cli_text_that_is_not_utf8_is_a_usage_error(data_dir, args, what):
    """Bytes the locale could not decode arrive as lone surrogates, which SQLite cannot take:
    the query failed with a UnicodeEncodeError traceback."""
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"Error: {what} is not UTF-8 text" in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("logs", "show", "req-0001"),
                                     ("logs", "tail", "--max-wait", "0"), ("usage",)])
def test_logs_cli_reading_a_damaged_index_is_one_line(data_dir, command):
    """Review regression: an index whose header is sound but whose pages are damaged opened,
    then the query failed with a Python traceback ("database disk image is malformed")."""
    index = LogLayout(data_dir).index_path
    content = bytearray(index.read_bytes())
    content[4096:] = b"\xff" * (len(content) - 4096)  # every page but the first (the header)
    index.write_bytes(bytes(content))
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(data_dir)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output == f"Error: cannot read {index}: database disk image is malformed\n"


def test_logs_cli_a_read_only_data_folder_is_named(data_dir, monkeypatch):
    """Review regression: on a read-only mount SQLite cannot create the index's -wal/-shm files
    and says only "unable to open database file" about a file that is there. What a read-only
    mount does is faked (tests may run as root, whom mode bits do not stop): the folder's access
    check, and SQLite's answer there."""
    import claude_bedrock.adapters.sqlite_file as sqlite_file
    from claude_bedrock.adapters.invocation_log import InvocationIndex

    def unable(path):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite_file, "os", SimpleNamespace(access=lambda path, mode: False, W_OK=2))
    monkeypatch.setattr(InvocationIndex, "open_existing", unable)
    result = CliRunner().invoke(cli, ["logs", "list", "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    assert result.output == (f"Error: cannot read {LogLayout(data_dir).index_path}: unable to open database file "
                             f"(the data folder {data_dir} is not writable)\n")


def test_logs_cli_usage_filters_by_region(tmp_path):
    write(tmp_path, [call(1), call(2, region="eu-west-3"), call(3, region="eu-west-3")])
    rows = json.loads(run("usage", "--data-dir", str(tmp_path), "--format", "json", "--region", "eu-west-3").output)
    assert [row["calls"] for row in rows] == [2]


@pytest.mark.parametrize("command", [("logs", "list"), ("logs", "tail", "--max-wait", "0"), ("usage",)])
@pytest.mark.parametrize("value", ["EU-WEST-3", "eu-west", "paris"])
def test_logs_cli_a_value_that_is_no_region_name_is_refused(data_dir, command, value):
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(data_dir), "--region", value])
    assert result.exit_code == 2
    assert f"Invalid value for '--region': {value!r} is not an AWS region name such as 'eu-west-1'." in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("logs", "tail", "--max-wait", "0"), ("usage",)])
@pytest.mark.parametrize("value", ["44445555666", "4444-5555-6666", "alice"])
def test_logs_cli_a_value_that_is_no_account_id_is_refused(data_dir, command, value):
    """A mistyped account was an empty listing, as if the account had made no call."""
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(data_dir), "--account", value])
    assert result.exit_code == 2
    assert f"Invalid value for '--account': {value!r} is not an AWS account ID (12 digits)." in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("usage",)])
def test_logs_cli_nothing_matched_for_a_misspelt_model_says_so(tmp_path, command):
    # Logs may hold models the catalog does not know, so a name is not refused; but when nothing
    # matched a name no model answers to, the closest one is suggested (it said only "no matching").
    write(tmp_path, [call(1)])
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(tmp_path), "--model", "claude-sonet-4-5"])
    assert result.exit_code == 0
    assert "unknown model 'claude-sonet-4-5' (did you mean 'claude-sonnet-4-5'?)" in result.output
    known = CliRunner().invoke(cli, [*command, "--data-dir", str(tmp_path), "--model", "claude-opus-4-5"])
    assert "unknown model" not in known.output


@pytest.mark.parametrize("command", [("logs", "list"), ("usage",)])
def test_logs_cli_model_hint_offers_no_glob_the_index_cannot_match(tmp_path, command):
    # The hint for a name no model answers to ended "or a glob such as '*sonnet*'", the rules'
    # wording; --model matches names only, so that glob matched nothing and got no hint at all.
    write(tmp_path, [call(1)])
    for value in ("claude-sonet-4-5", "*sonnet*"):
        result = CliRunner().invoke(cli, [*command, "--data-dir", str(tmp_path), "--model", value])
        assert result.exit_code == 0
        assert f"--model: unknown model {value!r}" in result.output
        assert "or an Anthropic name or alias such as 'claude-sonnet-4-5'" in result.output
        assert "glob" not in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("usage",)])
def test_logs_cli_an_account_without_any_record_is_told_apart_from_a_quiet_period(tmp_path, command):
    # A gateway operator's chargeback: `usage --account` of a team whose account never turned
    # invocation logging on said "no usage in the selected period", as if the team had made no
    # call, though the access log showed its calls.
    write(tmp_path, [call(1)])
    silent = CliRunner().invoke(cli, [*command, "--data-dir", str(tmp_path), "--account", "222222222222"])
    assert silent.exit_code == 0
    assert ("account 222222222222 has no invocation record at all: only the calls of an account and region "
            "with invocation logging on are recorded") in silent.output
    quiet = CliRunner().invoke(cli, [*command, "--data-dir", str(tmp_path), "--account", "111122223333",
                                     "--until", "2d"])
    assert "no invocation record at all" not in quiet.output


@pytest.mark.parametrize("args", [("logs", "list", "--limit", "99999999999999999999"),
                                  ("logs", "tail", "--lines", "99999999999999999999", "--max-wait", "0"),
                                  ("logs", "tail", "--lines", "0", "--count", "99999999999999999999",
                                   "--max-wait", "0.2", "--interval", "0.05")])
def test_logs_cli_a_huge_record_count_means_every_record(data_dir, args):
    """A count past SQLite's largest integer ("every record") failed with a traceback:
    OverflowError: Python int too large to convert to SQLite INTEGER."""
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    expected = [] if "--count" in args else ["req-0001", "req-0002", "req-0003", "req-0004"]
    assert ids(result) == expected


@pytest.mark.parametrize(("command", "option", "value"), [
    (("logs", "tail", "--max-wait", "0"), "--interval", "nan"),
    (("logs", "tail", "--max-wait", "0"), "--interval", "inf"),
    (("logs", "tail", "--max-wait", "0"), "--interval", "1e10"),
    (("logs", "tail",), "--max-wait", "nan"),
    (("logs", "purge", "--yes"), "--older-than-days", "nan"),
    (("logs", "purge", "--yes"), "--older-than-days", "inf"),  # mutation audit: only nan was tried
])
def test_logs_cli_refuses_times_no_clock_can_keep(data_dir, command, option, value):
    """--interval nan / inf / 1e10 failed with a traceback from time.sleep, --max-wait nan
    followed forever (no time is past nan), and purge --older-than-days nan purged nothing
    yet reported success "older than nan days"."""
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(data_dir), option, value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [("logs", "list"), ("usage",)])
def test_logs_cli_tables_show_control_characters_escaped(tmp_path, command):
    """The model ID is logged as the caller sent it: a newline in it split the row in two, and
    a terminal escape sequence reached the terminal of whoever read the logs."""
    write(tmp_path, [call(1, status=400, error_code="ValidationException", usage={}, resolved_model_id=None,
                          endpoint_type=None, model_id="bad\nline\x1b[31mred")])
    result = run(*command, "--data-dir", str(tmp_path))
    lines = result.output.splitlines()
    assert "\x1b" not in result.output
    assert len(lines) == (2 if command == ("logs", "list") else 3)  # header, row (usage: and total)
    assert "bad\\nline\\x1b[31mred" in lines[1]


HOSTILE = "m\x1b]52;c;aGk=\x07\x9b2J\u202eC\u2028D\x7f\U000e0001\u65e5"  # OSC 52, C1 CSI, bidi, tag


def hostile_record(tmp_path):
    write(tmp_path, [call(1, status=400, error_code="ValidationException", usage={}, resolved_model_id=None,
                          endpoint_type=None, model_id=HOSTILE, request_metadata={"k": HOSTILE},
                          input_body={"messages": [{"role": "user", "content": HOSTILE}]})])


@pytest.mark.parametrize("command", [("logs", "show", "req-0001"), ("logs", "list", "--json"),
                                     ("logs", "tail", "--json", "--max-wait", "0")])
def test_logs_cli_json_escapes_what_a_terminal_would_act_on_and_stays_exact(tmp_path, command):
    """Audit: JSON escapes C0 controls but ``ensure_ascii=False`` left C1 controls (``\\x9b`` is
    CSI to xterm), bidi overrides and line separators raw, so a caller's model ID or prompt
    drove the terminal of whoever ran ``logs show``. They are ``\\u`` escapes now: same JSON."""
    hostile_record(tmp_path)
    output = run(*command, "--data-dir", str(tmp_path)).output
    assert all(line.isprintable() for line in output.splitlines()), ascii(output)
    record = json.loads(output)
    assert record["modelId"] == HOSTILE and record["requestMetadata"] == {"k": HOSTILE}
    assert "\u65e5" in output  # printable text of other scripts stays as it is


@pytest.mark.parametrize("output_format", ["csv", "table"])
def test_logs_cli_usage_csv_escapes_control_characters_as_the_table_does(tmp_path, output_format):
    """Audit: ``usage --format csv`` wrote a caller's model ID raw, escape sequences and all, to
    the operator's terminal (or into a spreadsheet cell, hidden)."""
    hostile_record(tmp_path)
    output = run("usage", "--data-dir", str(tmp_path), "--format", output_format).output
    assert all(line.isprintable() for line in output.splitlines()), ascii(output)
    assert "m\\x1b]52;c;aGk=\\x07\\x9b2J\\u202eC" in output


@pytest.mark.parametrize("has_index", [True, False])
def test_logs_cli_tail_ctrl_c_stops_it_alike_before_and_after_the_index_exists(tmp_path, data_dir, monkeypatch,
                                                                               has_index):
    """Ctrl-C while tail waited for a new server's index printed "Aborted!" and exited 1; once
    following, the same Ctrl-C stops it quietly with status 0."""
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("claude_bedrock.cli.logs_commands.time.sleep", interrupted)
    folder = data_dir if has_index else tmp_path / "new-server"
    result = CliRunner().invoke(cli, ["logs", "tail", "--data-dir", str(folder), "--lines", "0"])
    waiting = "" if has_index else f"no invocation logs in {folder} yet: waiting for a server to write some (Ctrl-C stops)\n"
    assert (result.exit_code, result.output) == (0, waiting)


def test_logs_cli_tail_of_a_folder_without_logs_says_it_waits(tmp_path):
    # logs list / show / usage / purge refuse a folder without logs (a mistyped --data-dir shows);
    # tail waits for a server to create the index, and did so without a word, forever.
    folder = tmp_path / "no-such-folder"
    result = CliRunner().invoke(cli, ["logs", "tail", "--data-dir", str(folder), "--max-wait", "0.1",
                                      "--interval", "0.05"])
    assert result.exit_code == 0
    assert f"no invocation logs in {folder} yet: waiting for a server to write some" in result.output
    assert not folder.exists()


def test_logs_cli_usage_leaves_the_endpoint_of_unresolved_calls_empty(data_dir):
    """A call refused before its model resolved has no endpoint type: null in JSON, "" in CSV, "-" in the table."""
    rows = json.loads(run("usage", "--data-dir", str(data_dir), "--format", "json").output)
    failed = [r for r in rows if r["model"] == "nope"]
    assert [(r["endpoint_type"], r["calls"], Decimal(r["cost_usd"])) for r in failed] == [(None, 1, 0)]
    csv_rows = list(csv.DictReader(io.StringIO(run("usage", "--data-dir", str(data_dir), "--format", "csv").output)))
    assert [r["endpoint_type"] for r in csv_rows if r["model"] == "nope"] == [""]
    table = run("usage", "--data-dir", str(data_dir)).output.splitlines()
    assert [line.split()[2] for line in table if " nope " in line] == ["-"]


def test_logs_cli_list_json_streams_records_without_holding_them(tmp_path, monkeypatch):
    """An export (``--json`` with a large --limit) of a month of logs: each record is written as
    the index yields it, so memory stays at about one record, whatever the number of records.
    Here 40 records of 90 KB each (3.6 MB) must peak far below their total."""
    body = {"messages": [{"role": "user", "content": "x" * 90_000}]}  # inline: under the 100 KB of a data object
    write(tmp_path, [call(n, ago_s=100 - n, input_body=body) for n in range(40)])
    monkeypatch.setattr(sys, "stdout", open(os.devnull, "w"))
    tracemalloc.start()
    try:
        cli.main(["logs", "list", "--data-dir", str(tmp_path), "--json", "--limit", "1000"], standalone_mode=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sys.stdout.close()
    assert peak < 1_000_000, peak


@pytest.mark.parametrize("options", [{}, {"limit": 3}, {"limit": 3, "newest": True}])
def test_index_query_holds_no_read_open_between_records(tmp_path, options):
    """A reader paused between records (``logs list --json --limit 100000 | less`` left open)
    kept one SQLite read open: the server's writer could not checkpoint past it, so the WAL
    grew with every call (4 MB to 33 MB over 3,000 calls in a soak test). Between the records
    it hands out nothing stays open: a full checkpoint succeeds and empties the WAL; the
    records indexed meanwhile are not listed (the query lists those indexed when it began)."""
    write(tmp_path, [call(n, ago_s=100 - n) for n in range(1, 6)])
    path = LogLayout(tmp_path).index_path
    reader = InvocationIndex.open_existing(path)
    try:
        records = reader.query(LogQuery(), **options)
        first = next(records)
        write(tmp_path, [call(n, ago_s=100 - n) for n in range(6, 40)])
        other = sqlite3.connect(path, timeout=0)  # no busy wait: a reader in the way answers at once
        try:
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            other.close()
        assert busy == 0
        assert os.path.getsize(f"{path}-wal") == 0
        listed = [first.record["requestId"], *(r.record["requestId"] for r in records)]
        expected = range(3, 6) if options.get("newest") else range(1, 1 + options.get("limit", 5))
        assert listed == [f"req-{n:04d}" for n in expected]
    finally:
        reader.close()


def test_index_gives_a_wal_spike_back(tmp_path, monkeypatch):
    """While a reader stalls, the WAL grows past its usual size (the writer cannot restart it);
    once the reader lets go SQLite writes the WAL from its start again but kept the file at its
    peak size for good. The index's connection sets ``journal_size_limit``: the spike is given back."""
    from claude_bedrock.adapters.invocation_log import index as index_module

    monkeypatch.setattr(index_module, "WAL_SIZE_LIMIT", 512 * 1024)
    path = LogLayout(tmp_path).index_path
    index = InvocationIndex(path)

    def add(first: int, count: int, size: int) -> None:
        entries = []
        for n in range(first, first + count):
            record = {"requestId": f"r{n}", "accountId": "1", "region": "us-east-1", "operation": "InvokeModel",
                      "modelId": "m", "padding": "x" * size}
            entries.append(IndexEntry(record, json.dumps(record), (), NOW))
        index.add(entries)

    try:
        add(0, 1, 10)
        stalled = sqlite3.connect(path, timeout=0)
        stalled.execute("BEGIN")
        stalled.execute("SELECT count(*) FROM invocations").fetchone()
        for batch in range(6):  # 6 MB: past the 1,000 pages at which SQLite checkpoints
            add(1 + batch * 10, 10, 100_000)
        spike = os.path.getsize(f"{path}-wal")
        stalled.execute("COMMIT")
        stalled.close()
        add(100, 1, 10)  # checkpoints the whole WAL (nobody reads it any more)
        add(101, 1, 10)  # writes the WAL from its start again
        assert spike > 5_000_000
        assert os.path.getsize(f"{path}-wal") <= 512 * 1024
    finally:
        index.close()


def test_logs_cli_list_limit_keeps_the_newest_even_on_time_ties(tmp_path):
    """--limit N lists the newest N oldest first; records of the same instant are ordered as
    they were indexed, and the limit cuts between them as a newest-first listing would."""
    write(tmp_path, [call(n, ago_s=10 if n < 4 else 5) for n in range(1, 7)])
    assert ids(run("logs", "list", "--data-dir", str(tmp_path), "--json", "--limit", "4")) == [
        "req-0003", "req-0004", "req-0005", "req-0006"]
    assert ids(run("logs", "list", "--data-dir", str(tmp_path), "--json", "--limit", "9")) == [
        f"req-{n:04d}" for n in range(1, 7)]


@pytest.mark.parametrize("newest", [False, True])
def test_index_query_limit_zero_yields_nothing(tmp_path, newest):
    """``limit=0`` is no record, newest or not (the newest-N bound once read it as OFFSET -1,
    which SQLite takes as 0: the newest record)."""
    write(tmp_path, [call(n, ago_s=10 - n) for n in range(1, 4)])
    index = InvocationIndex.open_existing(LogLayout(tmp_path).index_path)
    try:
        assert list(index.query(LogQuery(), limit=0, newest=newest)) == []
        assert [r.record["requestId"] for r in index.query(LogQuery(), limit=1, newest=newest)] == [
            "req-0003" if newest else "req-0001"]
    finally:
        index.close()


def _plans(data_dir, query: LogQuery, **options) -> list[str]:
    """The query plan of every SELECT ``InvocationIndex.query`` runs for ``query``."""
    return [plan for _, plan in _statement_plans(data_dir, query, **options)]


def _statement_plans(data_dir, query: LogQuery, **options) -> list[tuple[str, str]]:
    """(statement, its query plan) of every SELECT ``InvocationIndex.query`` runs for ``query``."""
    index = InvocationIndex.open_existing(LogLayout(data_dir).index_path)
    statements: list[str] = []
    try:
        index._db.set_trace_callback(statements.append)
        list(index.query(query, **options))
        return [(sql, " | ".join(row[3] for row in index._db.execute("EXPLAIN QUERY PLAN " + sql)))
                for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    finally:
        index.close()


@pytest.mark.parametrize("options", [{}, {"limit": 2, "newest": True}])
@pytest.mark.parametrize("query", [LogQuery(region="us-east-1"), LogQuery(region="us-east-1", since=NOW - 86_400)])
def test_index_query_by_region_searches_the_region(data_dir, query, options):
    """``logs list --region`` and ``usage --region`` search the region's own rows. Without an
    index on it SQLite walked the time index and read every record of the period to test its
    region: a region with few calls in 500,000 records took 2 s (20 s from disk) to list."""
    keys = [plan for sql, plan in _statement_plans(data_dir, query, **options) if "region =" in sql]
    assert keys and all("(region=?" in plan for plan in keys), keys
    index = InvocationIndex.open_existing(LogLayout(data_dir).index_path)
    statements: list[str] = []
    try:
        index._db.set_trace_callback(statements.append)
        index.usage(query)
        (sql,) = statements
        plan = " | ".join(row[3] for row in index._db.execute("EXPLAIN QUERY PLAN " + sql))
    finally:
        index.close()
    assert "(region=?" in plan, plan


def test_index_opened_from_an_older_file_gets_the_region_index(data_dir):
    """A data folder written before the region index existed gets it when it is next opened
    (by the server or a ``logs`` command), so its ``--region`` listings are searched too; its
    records stay as they were."""
    path = LogLayout(data_dir).index_path
    db = sqlite3.connect(path)
    db.execute("DROP INDEX invocations_region")
    db.close()
    before = ids(run("logs", "list", "--data-dir", str(data_dir), "--json", "--region", "us-east-1"))
    assert before
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'invocations_region'").fetchone() == (1,)
    finally:
        db.close()
    assert ids(run("logs", "list", "--data-dir", str(data_dir), "--json", "--region", "us-east-1")) == before


def test_index_an_older_file_that_cannot_take_the_new_index_is_read_without_it(data_dir, monkeypatch, caplog):
    """A reader that cannot add the index (another process holds the file's write lock past the
    busy timeout, or the file is read-only) reads the file without it, with a warning line; it
    failed with "database is locked" or "attempt to write a readonly database"."""
    from claude_bedrock.adapters.invocation_log import index as index_module

    path = LogLayout(data_dir).index_path
    db = sqlite3.connect(path)
    db.execute("DROP INDEX invocations_region")
    db.close()
    monkeypatch.setattr(index_module, "BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer in another process, busy
    try:
        index = InvocationIndex(path)
        try:
            assert [entry for entry in index.query(LogQuery(region="us-east-1"))]
        finally:
            index.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "could not add the newer indexes" in caplog.text


@pytest.mark.parametrize("query", [
    LogQuery(model=SONNET), LogQuery(account_id="111122223333"), LogQuery(operation="InvokeModel"),
    LogQuery(region="us-east-1"), LogQuery(errors_only=True), LogQuery(since=NOW - 86_400),
    LogQuery(model=SONNET, account_id="111122223333", since=NOW - 86_400),
])
def test_logs_cli_tail_polls_only_the_new_rows(data_dir, query):
    """``logs tail`` polls for rows after the last one it printed: SQLite must walk those by seq.
    With --model, --account or --operation it picked that column's index instead and read (and
    sorted) the whole history of the model or account at every poll, twice a second."""
    follow = LogQuery(**{**query.__dict__, "after_seq": 2})
    keys, *records = _plans(data_dir, follow)  # a page of keys, then each record by its key
    assert keys.startswith("SEARCH invocations USING INTEGER PRIMARY KEY (rowid>?)"), keys
    assert "TEMP B-TREE" not in keys, keys
    assert records and set(records) == {"SEARCH invocations USING INTEGER PRIMARY KEY (rowid=?)"}


@pytest.mark.parametrize("query", [
    LogQuery(model=SONNET), LogQuery(account_id="111122223333"), LogQuery(operation="InvokeModel"),
    LogQuery(errors_only=True), LogQuery(since=NOW - 86_400),
    LogQuery(model=SONNET, account_id="111122223333", since=NOW - 86_400),
])
@pytest.mark.parametrize("options", [{}, {"limit": 2, "newest": True}])
def test_index_query_pages_walk_an_index_in_time_order(data_dir, monkeypatch, query, options):
    """``query`` reads the keys of its matches a page at a time: each page must walk an index in
    time order from where the last one ended, never read and sort all the remaining matches (a
    month-long export would sort the rest of the month for every page). A model is matched in
    two columns: a UNION of two ordered walks."""
    from claude_bedrock.adapters.invocation_log import index as index_module

    monkeypatch.setattr(index_module, "QUERY_PAGE", 1)
    pages = [plan for sql, plan in _statement_plans(data_dir, query, **options) if "ORDER BY ts, seq LIMIT" in sql]
    assert len(pages) >= 2
    for plan in pages:  # a SCAN here walks an index (the errors' partial one), stopping at the page's end
        assert "TEMP B-TREE" not in plan and not re.search(r"SCAN invocations(?! USING)", plan), plan


@pytest.mark.parametrize("query", [
    LogQuery(), LogQuery(model=SONNET), LogQuery(account_id="111122223333"), LogQuery(errors_only=True),
    LogQuery(model="nope"), LogQuery(region="eu-west-3"), LogQuery(after_seq=1), LogQuery(up_to_seq=3),
    LogQuery(model=SONNET, after_seq=2),
])
@pytest.mark.parametrize("options", [{}, {"limit": 1}, {"limit": 2}, {"limit": 3, "newest": True},
                                     {"limit": 2, "newest": True}, {"limit": 50, "newest": True}])
def test_index_query_lists_the_same_records_page_by_page(tmp_path, monkeypatch, query, options):
    """Read a page of keys at a time, ``query`` lists what one read lists: order (time, then as
    indexed on ties), filters, limit, the newest N oldest first."""
    from claude_bedrock.adapters.invocation_log import index as index_module

    write(tmp_path, [call(n, ago_s=10 if n < 5 else 5, model_id=SONNET if n % 2 else f"us.{SONNET}",
                          account_id="111122223333" if n % 3 else "444455556666",
                          error_code="ThrottlingException" if n in (2, 6, 7) else None,
                          region="eu-west-3" if n > 3 else "us-east-1") for n in range(1, 9)])
    index = InvocationIndex.open_existing(LogLayout(tmp_path).index_path)
    try:
        whole = [r.seq for r in index.query(query, **options)]
        monkeypatch.setattr(index_module, "QUERY_PAGE", 1)
        assert [r.seq for r in index.query(query, **options)] == whole
        monkeypatch.setattr(index_module, "QUERY_PAGE", 2)
        assert [r.seq for r in index.query(query, **options)] == whole
    finally:
        index.close()


def test_logs_cli_tail_prints_a_record_indexed_as_it_starts_once(data_dir, monkeypatch):
    """``tail`` notes where following starts, then prints its backlog: a record a busy server
    indexed in between was printed twice, in the backlog and again as new. Here req-0004 is
    indexed right after that point."""
    real = InvocationIndex.last_seq
    monkeypatch.setattr(InvocationIndex, "last_seq", lambda self: real(self) - 1)
    result = run("logs", "tail", "--data-dir", str(data_dir), "--json", "--lines", "2", "--max-wait", "0.3",
                 "--interval", "0.05")
    assert ids(result) == ["req-0002", "req-0003", "req-0004"]


def test_logs_cli_purge_says_a_small_shrink_in_kilobytes(tmp_path):
    """Audit: purging a small folder compacted its index and said 'the index shrank by 0.0 MB'."""
    body = {"messages": [{"role": "user", "content": "x" * 1_500}]}
    write(tmp_path, [call(n, ago_s=5 * 24 * HOUR, input_body=body) for n in range(8)])
    result = run("logs", "purge", "--data-dir", str(tmp_path), "--older-than-days", "1", "--yes")
    assert result.output.startswith("purged 8 records") and "; the index shrank by " in result.output
    assert "0.0 MB" not in result.output and result.output.rstrip().endswith(" kB")


def test_logs_cli_purge_gives_the_space_of_purged_records_back(tmp_path):
    """Purging most of the logs left the index file at its size: SQLite keeps deleted rows'
    pages for reuse (a month of logs purged down to three days kept 462 MB of a 462 MB file)."""
    body = {"messages": [{"role": "user", "content": "x" * 20_000}]}
    write(tmp_path, [call(n, ago_s=(5 * 24 * HOUR if n < 40 else 60), input_body=body) for n in range(50)])
    index_file = LogLayout(tmp_path).index_path
    before = index_file.stat().st_size
    result = run("logs", "purge", "--data-dir", str(tmp_path), "--older-than-days", "1", "--yes")
    assert result.output.startswith("purged 40 records") and "; the index shrank by" in result.output
    assert index_file.stat().st_size < before / 2
    db = sqlite3.connect(index_file)
    try:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM invocations").fetchone()[0] == 10
    finally:
        db.close()
    again = run("logs", "purge", "--data-dir", str(tmp_path), "--older-than-days", "1", "--yes")
    assert again.output == "purged 0 records, 0 S3 objects and 0 CloudWatch events older than 1 day\n"


@pytest.mark.parametrize("command", [("logs", "list", "--json"), ("usage",), ("logs", "tail", "--max-wait", "0")])
def test_logs_cli_reads_the_data_folder_from_the_servers_config_file(data_dir, tmp_path_factory, monkeypatch,
                                                                     command):
    """Helper finding: a server whose data folder is set only in its config's [server] table
    needed --data-dir repeated for logs and usage, which looked in ./data and found nothing.
    The order is serve's: --data-dir, CLAUDE_BEDROCK_DATA_DIR, the config file, ./data."""
    monkeypatch.delenv("CLAUDE_BEDROCK_DATA_DIR", raising=False)
    config = tmp_path_factory.mktemp("cfg") / "config.toml"
    config.write_text(f'[server]\ndata_dir = "{data_dir}"\n')
    by_option = CliRunner().invoke(cli, [*command, "--config", str(config)])
    assert by_option.exit_code == 0, by_option.output
    by_variable = CliRunner().invoke(cli, list(command), env={"CLAUDE_BEDROCK_CONFIG": str(config)})
    assert by_variable.output == by_option.output
    elsewhere = tmp_path_factory.mktemp("other")
    overridden = CliRunner().invoke(cli, [*command, "--config", str(config), "--data-dir", str(elsewhere)])
    assert str(elsewhere) in overridden.output  # --data-dir wins: no logs there


def test_logs_cli_a_bad_config_file_is_named():
    result = CliRunner().invoke(cli, ["logs", "list", "--config", "/nonexistent/config.toml"])
    assert result.exit_code == 2
    assert "Invalid value for --config: config file not found: /nonexistent/config.toml" in result.output


def test_logs_cli_tail_started_before_the_index_prints_every_record_written_since(tmp_path, monkeypatch):
    """Race audit: ``tail`` started on a new server's folder waits for the index; the records a
    busy server indexed before tail's next look were then taken for the backlog, and all but
    the last ``--lines`` of them were never printed, though written after tail started."""
    folder = tmp_path / "new-server"
    real_sleep = time.sleep

    def server_writes_meanwhile(seconds: float) -> None:
        if not LogLayout(folder).index_path.exists():
            write(folder, [call(n) for n in range(1, 13)])
        real_sleep(0.01)

    monkeypatch.setattr("claude_bedrock.cli.logs_commands.time.sleep", server_writes_meanwhile)
    result = run("logs", "tail", "--data-dir", str(folder), "--json", "--lines", "2", "--count", "12",
                 "--max-wait", "5")
    records = [json.loads(line)["requestId"] for line in result.output.splitlines() if line.startswith("{")]
    assert records == [f"req-{n:04d}" for n in range(1, 13)]


def test_logs_cli_purge_keeps_the_window_of_the_servers_config_file(tmp_path, tmp_path_factory, monkeypatch):
    """A server whose window is in its config file: ``logs purge --config`` keeps that window
    (its environment's variable, when set, still comes first, as for the server)."""
    write(tmp_path, [call(1, ago_s=60 * 24 * HOUR), call(2, ago_s=100 * 24 * HOUR), call(3)])
    monkeypatch.delenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS", raising=False)
    config = tmp_path_factory.mktemp("cfg") / "config.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path}"\nlog_retention_days = 0\n')
    kept = run("logs", "purge", "--config", str(config))
    assert "kept forever" in kept.output and len(ids(run("logs", "list", "--json", "--data-dir", str(tmp_path)))) == 3
    config.write_text(f'[server]\ndata_dir = "{tmp_path}"\nlog_retention_days = 90\n')
    monkeypatch.setenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS", "120")
    assert run("logs", "purge", "--config", str(config)).output.startswith("purged 0 records")  # 120 days: none
    monkeypatch.delenv("CLAUDE_BEDROCK_LOG_RETENTION_DAYS")
    assert run("logs", "purge", "--config", str(config)).output.startswith("purged 1 records")  # 90 days
    assert ids(run("logs", "list", "--json", "--data-dir", str(tmp_path))) == ["req-0001", "req-0003"]
