"""The CloudWatch sink: log events as JSON lines, one file per log stream and UTC day.

Each line is one event as ``aws logs get-log-events`` shows it::

    {"timestamp": 1764180000000, "message": "<the record as a JSON string>", "ingestionTime": 1764180000412}

Invariants
    Rule 1: a flush appends all of its lines for one file with a single ``write`` call, so a
            reader sees whole batches; a line cut short by a crash is skipped by readers and
            dropped by the next purge that rewrites the file. (A SIGKILL can cut a large write
            short: Linux stops it between two pages.) The next append first ends such a line,
            so the event it appends is not glued to it and lost.
    Rule 2: purge deletes a day file once the whole day is older than the cutoff and rewrites
            (temporary file + rename, under the data dir lock) the one day that straddles it.
            A temporary copy left by a purge that was interrupted is removed by the next one.
"""

from __future__ import annotations

import functools
import json
import os
import re
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from claude_bedrock.adapters.invocation_log.layout import LogLayout, remove_empty_folder, remove_file

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
        """Append ``data`` (whole lines) to one day file in a single write (Rule 1), after
        ending a line a crash left torn. A write that fails is undone (the file is cut back to
        its old size), so a retry never duplicates the lines that did get written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_BINARY: Windows opens in text mode without it, writing each "\n" as "\r\n"
        # O_RDWR: the last byte is read (a torn line); O_APPEND still writes at the end
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and _last_byte(fd, size) != b"\n":  # a line a killed writer left torn (Rule 1)
                data = b"\n" + data
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
        return sum(remove() for remove in self.purge_removals(cutoff_s))

    def purge_removals(self, cutoff_s: float) -> Iterator[Callable[[], int]]:
        """The removals of a purge, found as the folders are read (bottom-up): the copies of
        day files an interrupted purge left (Rule 2: they hold expired records no reader lists),
        each expired day file, deleted whole or rewritten without its expired lines, then each
        folder left empty. Each returns the lines it removed; run each under the layout lock
        (no rewrite is then under way, and no flush appends to the file rewritten)."""
        root = self.layout.cloudwatch_root
        if not root.is_dir():
            return
        cutoff_ms = cutoff_s * 1000
        for folder, _dirs, names in os.walk(root, topdown=False):
            gone = 0
            for name in sorted(names):
                path = Path(folder, name)
                match = _DAY_FILE.match(name.removesuffix(_REWRITE_SUFFIX))
                if match is None:
                    continue
                day_start = timegm((int(match[1]), int(match[2]), int(match[3]), 0, 0, 0, 0, 0, 0))
                if name.endswith(_REWRITE_SUFFIX):
                    gone += 1
                    yield functools.partial(self._remove_copy, path)
                elif day_start + _DAY_S <= cutoff_s:
                    gone += 1
                    yield functools.partial(self._delete_day, path)
                elif day_start < cutoff_s:
                    yield functools.partial(self._rewrite, path, cutoff_ms)
            if gone == len(names) and Path(folder) != root:
                yield functools.partial(remove_empty_folder, Path(folder))

    @staticmethod
    def _remove_copy(path: Path) -> int:
        """Delete an interrupted rewrite's copy: 0 lines removed, none of them was listed."""
        remove_file(path)
        return 0

    @staticmethod
    def _delete_day(path: Path) -> int:
        try:
            with open(path, "rb") as handle:
                lines = sum(1 for _ in handle)
        except FileNotFoundError:
            return 0
        return lines * remove_file(path)

    def _rewrite(self, path: Path, cutoff_ms: float) -> int:
        kept: list[bytes] = []
        dropped = 0
        try:
            handle = open(path, "rb")
        except FileNotFoundError:  # another purge removed it after this one read the folder
            return 0
        with handle:
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


def _last_byte(fd: int, size: int) -> bytes:
    """The last byte of the open file (``os.pread`` is not on Windows)."""
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1)


def _day(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%d")
