"""Retention: the rolling window over every sink (index rows, S3 objects, CloudWatch lines).

The seed guide asks for activity logs kept on at least a 30-day rolling basis; the window is
``log_retention_days`` (default 30, 0 keeps everything). ``purge`` runs in the server at start
and every ``PURGE_INTERVAL_S``, and on demand through ``claude-bedrock logs purge``.

Invariants
    Rule 1: the cutoff comes from the caller's clock (tests inject one); nothing newer than the
            cutoff is ever removed.
    Rule 2: index rows go first, then the data objects they reference, then the time-dated
            sweep of S3 objects and CloudWatch lines; every removal is made under the data dir's
            log lock, so it never interleaves with a flush.
    Rule 3: the index gives the space of purged rows back once it is a large share of the file
            (``InvocationIndex.compact``), so purging most of the logs shrinks the folder.
    Rule 4: a purge works in bounded steps (``STEP_ROWS`` index rows with their data objects, or
            ``STEP_FILES`` file removals) and releases the lock between them: flushes, of this
            server's writer (``Purge.step``) or of another process, wait for one step, not for
            the whole purge (a month of logs is hundreds of thousands of records). The folders
            are read outside the lock; only removals hold it. Each step leaves the state of a
            finished purge with an older cutoff (rows before their objects, Rule 2), so a purge
            stopped between steps, even killed, is finished by the next one. A step that removes
            files first removes the expired rows a flush indexed since the rows' steps (a call
            that began before the cutoff and ended meanwhile), so none is listed without its files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from urllib.parse import urlsplit

from claude_bedrock.adapters.invocation_log.cloudwatch import CloudWatchSink
from claude_bedrock.adapters.invocation_log.index import InvocationIndex
from claude_bedrock.adapters.invocation_log.layout import LogLayout
from claude_bedrock.adapters.invocation_log.s3_folder import S3FolderSink

__all__ = ["DAY_S", "PURGE_INTERVAL_S", "Purge", "PurgeResult", "cutoff_for", "purge"]

DAY_S = 86_400
PURGE_INTERVAL_S = 3_600
#: Rule 4: index rows (with their data objects) removed per step of a purge (about 0.05 s).
STEP_ROWS = 1_000
#: Rule 4: S3 objects (or empty folders) removed per step (0.05 s to 0.2 s); a CloudWatch day
#: file, read whole (a day of events), is a step of its own.
STEP_FILES = 100


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
    """Remove everything older than ``cutoff_s`` (Rule 2), step by step (Rule 4). ``index``
    None: files only."""
    return Purge(layout, cutoff_s, index).run()


class Purge:
    """One purge, run a step at a time (Rule 4): ``step`` holds the log lock once."""

    def __init__(self, layout: LogLayout, cutoff_s: float, index: InvocationIndex | None) -> None:
        self.cutoff_s = cutoff_s
        self._layout = layout
        self._index = index
        self._counts = {"rows": 0, "objects": 0, "lines": 0, "freed": 0}
        self._steps = self._run_steps()
        self.done = False

    @property
    def result(self) -> PurgeResult:
        counts = self._counts
        return PurgeResult(self.cutoff_s, counts["rows"], counts["objects"], counts["lines"], counts["freed"])

    def step(self) -> bool:
        """Run the next step; False once the purge is over (``result`` is then final)."""
        if not self.done:
            try:
                next(self._steps)
            except StopIteration:
                self.done = True
        return not self.done

    def run(self) -> PurgeResult:
        while self.step():
            pass
        return self.result

    def close(self) -> None:
        """Stop between two steps (shutdown): the next purge finishes the work."""
        self._steps.close()
        self.done = True

    def _run_steps(self) -> Iterator[None]:
        """The steps; each yields once it has released the lock."""
        layout, index, counts = self._layout, self._index, self._counts
        s3 = S3FolderSink(layout)
        while index is not None:
            with layout.locked():
                rows = self._remove_rows(index, s3)
            yield
            if rows < STEP_ROWS:
                break
        for key, removals, size in (("objects", s3.purge_removals(self.cutoff_s), STEP_FILES),
                                    ("lines", CloudWatchSink(layout).purge_removals(self.cutoff_s), 1)):
            while chunk := list(islice(removals, size)):  # the walk reads folders outside the lock
                with layout.locked():
                    # Rule 2 at every step: rows older than the cutoff that a flush indexed since
                    # (a call that began before it ended meanwhile) go before the files that hold them.
                    while index is not None and self._remove_rows(index, s3) == STEP_ROWS:
                        pass
                    counts[key] += sum(remove() for remove in chunk)
                yield
        if index is not None:
            with layout.locked():
                counts["freed"] = index.compact()

    def _remove_rows(self, index: InvocationIndex, s3: S3FolderSink) -> int:
        """Under the lock: remove the oldest ``STEP_ROWS`` expired index rows, then their data
        objects (Rule 2); returns the rows removed."""
        rows, uris = index.purge(self.cutoff_s, limit=STEP_ROWS)
        self._counts["rows"] += rows
        for uri in uris:
            parts = urlsplit(uri)
            self._counts["objects"] += s3.delete_object(parts.netloc, parts.path.lstrip("/"))
        return rows
