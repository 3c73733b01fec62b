"""Retention: the rolling window over every sink (index rows, S3 objects, CloudWatch lines).

The seed guide asks for activity logs kept on at least a 30-day rolling basis; the window is
``log_retention_days`` (default 30, 0 keeps everything). ``purge`` runs in the server at start
and every ``PURGE_INTERVAL_S``, and on demand through ``claude-bedrock logs purge``.

Invariants
    Rule 1: the cutoff comes from the caller's clock (tests inject one); nothing newer than the
            cutoff is ever removed.
    Rule 2: index rows go first, then the data objects they reference, then the time-dated
            sweep of S3 objects and CloudWatch lines; all under the data dir's log lock, so a
            purge never interleaves with a flush.
    Rule 3: the index gives the space of purged rows back once it is a large share of the file
            (``InvocationIndex.compact``), so purging most of the logs shrinks the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from claude_bedrock.adapters.invocation_log.cloudwatch import CloudWatchSink
from claude_bedrock.adapters.invocation_log.index import InvocationIndex
from claude_bedrock.adapters.invocation_log.layout import LogLayout
from claude_bedrock.adapters.invocation_log.s3_folder import S3FolderSink

__all__ = ["DAY_S", "DEFAULT_RETENTION_DAYS", "PURGE_INTERVAL_S", "PurgeResult", "cutoff_for", "purge"]

DAY_S = 86_400
DEFAULT_RETENTION_DAYS = 30
PURGE_INTERVAL_S = 3_600


@dataclass(frozen=True)
class PurgeResult:
    cutoff_s: float
    index_rows: int
    s3_objects: int
    cloudwatch_lines: int
    #: bytes the index file shrank by (Rule 3); 0 when it was not compacted
    index_bytes_freed: int = 0


def cutoff_for(now_s: float, retention_days: float) -> float:
    return now_s - retention_days * DAY_S


def purge(layout: LogLayout, cutoff_s: float, index: InvocationIndex | None) -> PurgeResult:
    """Remove everything older than ``cutoff_s`` (Rule 2). ``index`` None: files only."""
    s3 = S3FolderSink(layout)
    cloudwatch = CloudWatchSink(layout)
    with layout.locked():
        rows, uris = (0, []) if index is None else index.purge(cutoff_s)
        objects = 0
        for uri in uris:
            parts = urlsplit(uri)
            if s3.delete_object(parts.netloc, parts.path.lstrip("/")):
                objects += 1
        objects += s3.purge(cutoff_s)
        lines = cloudwatch.purge(cutoff_s)
        freed = 0 if index is None else index.compact()
    return PurgeResult(cutoff_s, rows, objects, lines, freed)
