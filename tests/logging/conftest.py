"""Fixtures of the invocation-logging tests: read every sink of a data dir back."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator

import pytest

from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, RunningServer, start_server


class LogSinks:
    """The three sinks of one data dir, read the way a user would read them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)

    def index_records(self) -> dict[str, dict]:
        path = self.data_dir / "invocation-logs.sqlite3"
        if not path.is_file():
            return {}
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT request_id, record_json FROM invocations").fetchall()
        except sqlite3.OperationalError:
            return {}
        finally:
            db.close()
        return {request_id: json.loads(text) for request_id, text in rows}

    def s3_records(self) -> list[dict]:
        records: list[dict] = []
        root = self.data_dir / "s3"
        for path in sorted(root.rglob("*.json.gz")) if root.is_dir() else []:
            if "/data/" in path.relative_to(root).as_posix():
                continue
            records += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        return records

    def s3_batch_keys(self, request_ids: Iterable[str]) -> list[str]:
        """The bucket/key of each batch object holding a record of ``request_ids`` (the server is
        shared by a module's tests: other tests' objects, in other buckets or regions, are left out)."""
        wanted = set(request_ids)
        root = self.data_dir / "s3"
        keys = []
        for path in sorted(root.rglob("*.json.gz")) if root.is_dir() else []:
            key = path.relative_to(root).as_posix()
            lines = [] if "/data/" in key else gzip.decompress(path.read_bytes()).splitlines()
            if any(json.loads(line)["requestId"] in wanted for line in lines):
                keys.append(key)
        return keys

    def s3_object(self, uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return gzip.decompress((self.data_dir / "s3" / bucket / key).read_bytes())

    def cloudwatch_events(self) -> list[tuple[Path, dict]]:
        root = self.data_dir / "cloudwatch"
        events = []
        for path in sorted(root.rglob("*.jsonl")) if root.is_dir() else []:
            events += [(path, json.loads(line)) for line in path.read_text().splitlines() if line]
        return events

    def cloudwatch_records(self) -> list[dict]:
        return [json.loads(event["message"]) for _, event in self.cloudwatch_events()]

    def wait_for(self, request_ids: Iterable[str], timeout: float = 20) -> dict[str, dict]:
        """Poll the index until it holds every one of ``request_ids``; their records."""
        wanted = set(request_ids)
        deadline = time.monotonic() + timeout
        while True:
            found = self.index_records()
            if wanted <= set(found):
                return {rid: found[rid] for rid in wanted}
            if time.monotonic() > deadline:
                raise AssertionError(f"records missing from the index: {sorted(wanted - set(found))[:5]}")
            time.sleep(0.05)

    def all_bytes(self) -> Iterator[tuple[Path, bytes]]:
        """Every file of the data dir, gzip files decompressed."""
        for folder, _dirs, files in os.walk(self.data_dir):
            for name in files:
                path = Path(folder, name)
                data = path.read_bytes()
                if name.endswith(".gz"):
                    data = gzip.decompress(data)
                yield path, data


@pytest.fixture(scope="module")
def log_server(tmp_path_factory) -> Iterator[RunningServer]:
    """A server of this module's own, flushing logs every 50 ms."""
    running = start_server(tmp_path_factory.mktemp("logserver"), "--log-flush-interval-ms", "50", config=CONFIG_TOML)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sinks(log_server) -> LogSinks:
    return LogSinks(log_server.data_dir)


@pytest.fixture(scope="module")
def session_for():
    import boto3

    def make(region: str = REGION, access_key: str = ACCESS_KEY, secret: str = SECRET_KEY, token: str | None = None):
        return boto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret, aws_session_token=token,
                             region_name=region)

    return make


@pytest.fixture(scope="module")
def clients(log_server, session_for):
    """``clients(region=..., ...)`` -> (bedrock, bedrock-runtime) boto3 clients on ``log_server``."""
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1, "mode": "standard"})

    def make(**session_args):
        session = session_for(**session_args)
        return (session.client("bedrock", endpoint_url=log_server.url, config=config),
                session.client("bedrock-runtime", endpoint_url=log_server.url, config=config))

    return make
