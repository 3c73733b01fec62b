"""The CloudWatch sink: log events as JSON lines, one file per log stream and UTC day.

Each line is one event as ``aws logs get-log-events`` shows it::

    {"timestamp": 1764180000000, "message": "<the record as a JSON string>", "ingestionTime": 1764180000412}

Invariants
    Rule 1: a flush appends all of its lines for one file with a single ``write`` call, so a
            reader sees whole batches; a line cut short by a crash is skipped by readers and
            dropped by the next purge that rewrites the file.
    Rule 2: purge deletes a day file once the whole day is older than the cutoff and rewrites
            (temporary file + rename, under the data dir lock) the one day that straddles it.
            A temporary copy left by a purge that was interrupted is removed by the next one.
"""

from __future__ import annotations

import json
import os
import re
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from claude_bedrock.adapters.invocation_log.layout import LogLayout

__all__ = ["CloudWatchSink", "LogEvent"]

_DAY_FILE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.jsonl$")
_DAY_S = 86_400
_REWRITE_SUFFIX = ".tmp"


@dataclass(frozen=True)
class LogEvent:
    account_id: str
    region: str
    log_group: str
    log_stream: str
    timestamp_ms: int
    message: str


@dataclass
class CloudWatchSink:
    layout: LogLayout

    def day_file(self, event: LogEvent) -> Path:
        day = _day(event.timestamp_ms / 1000)
        return self.layout.stream_dir(event.account_id, event.region, event.log_group, event.log_stream) / f"{day}.jsonl"

    @staticmethod
    def line(event: LogEvent, ingestion_ms: int) -> bytes:
        """The JSON line of one event in its day file."""
        line = json.dumps(
            {"timestamp": event.timestamp_ms, "message": event.message, "ingestionTime": ingestion_ms},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return line.encode() + b"\n"

    @staticmethod
    def append_file(path: Path, data: bytes) -> None:
        """Append ``data`` (whole lines) to one day file in a single write (Rule 1). A write
        that fails is undone (the file is cut back to its old size), so a retry never
        duplicates the lines that did get written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:  # one write, unless the kernel takes less
                    view = view[os.write(fd, view):]
            except BaseException:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def files(self) -> list[Path]:
        root = self.layout.cloudwatch_root
        if not root.is_dir():
            return []
        return sorted(Path(folder, name) for folder, _d, names in os.walk(root) for name in names
                      if _DAY_FILE.match(name))

    @staticmethod
    def read(path: Path) -> Iterator[dict[str, Any]]:
        """The whole events of one file (a torn last line is skipped)."""
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue

    def purge(self, cutoff_s: float) -> int:
        """Drop events older than ``cutoff_s``; returns how many lines were removed.

        Call with the layout lock held (Rule 2).
        """
        removed = 0
        cutoff_ms = cutoff_s * 1000
        self._remove_interrupted_rewrites()
        for path in self.files():
            match = _DAY_FILE.match(path.name)
            assert match is not None
            day_start = timegm((int(match[1]), int(match[2]), int(match[3]), 0, 0, 0, 0, 0, 0))
            if day_start + _DAY_S <= cutoff_s:
                removed += sum(1 for _ in open(path, "rb"))
                path.unlink(missing_ok=True)
            elif day_start < cutoff_s:
                removed += self._rewrite(path, cutoff_ms)
        self._prune_empty_folders()
        return removed

    def _remove_interrupted_rewrites(self) -> None:
        """Delete the copies of day files that an interrupted purge left (Rule 2): they hold
        expired records that no reader lists. Under the lock no rewrite is under way."""
        root = self.layout.cloudwatch_root
        if not root.is_dir():
            return
        for folder, _dirs, names in os.walk(root):
            for name in names:
                if name.endswith(_REWRITE_SUFFIX) and _DAY_FILE.match(name.removesuffix(_REWRITE_SUFFIX)):
                    Path(folder, name).unlink(missing_ok=True)

    def _rewrite(self, path: Path, cutoff_ms: float) -> int:
        kept: list[bytes] = []
        dropped = 0
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    event = json.loads(raw)
                except ValueError:
                    dropped += 1
                    continue
                if event.get("timestamp", 0) + 1 <= cutoff_ms:  # its whole millisecond is older
                    dropped += 1
                else:
                    kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
        if dropped:
            tmp = path.with_name(path.name + _REWRITE_SUFFIX)
            with open(tmp, "wb") as handle:
                handle.write(b"".join(kept))
            os.replace(tmp, path)
        return dropped

    def _prune_empty_folders(self) -> None:
        root = self.layout.cloudwatch_root
        if not root.is_dir():
            return
        for folder, _dirs, files in os.walk(root, topdown=False):
            path = Path(folder)
            if path != root and not files:
                try:
                    path.rmdir()
                except OSError:
                    pass


def _day(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%d")
