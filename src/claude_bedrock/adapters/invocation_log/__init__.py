"""Invocation-log delivery under ``--data-dir``: S3-layout folders, CloudWatch-style JSON lines
and a SQLite index, written off the request path by ``InvocationLogWriter``; retention purges
all three. Record content is built by ``claude_bedrock.domain.invocation_log``; the observer that
feeds the writer is ``claude_bedrock.service.invocation_logging``. See docs/invocation-logging.md.
"""

from claude_bedrock.adapters.invocation_log.cloudwatch import CloudWatchSink, LogEvent
from claude_bedrock.adapters.invocation_log.index import (
    IndexEntry,
    IndexedRecord,
    IndexMissing,
    InvocationIndex,
    LogQuery,
    UsageRow,
)
from claude_bedrock.adapters.invocation_log.layout import LogLayout
from claude_bedrock.adapters.invocation_log.retention import Purge, PurgeResult, cutoff_for, purge
from claude_bedrock.adapters.invocation_log.s3_folder import S3FolderSink
from claude_bedrock.adapters.invocation_log.writer import InvocationLogWriter, WriterStats

__all__ = [
    "CloudWatchSink",
    "IndexEntry",
    "IndexMissing",
    "IndexedRecord",
    "InvocationIndex",
    "InvocationLogWriter",
    "LogEvent",
    "LogLayout",
    "LogQuery",
    "Purge",
    "PurgeResult",
    "S3FolderSink",
    "UsageRow",
    "WriterStats",
    "cutoff_for",
    "purge",
]
