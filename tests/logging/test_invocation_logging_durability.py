"""No acknowledged invocation goes missing: 1,000 concurrent requests are each logged exactly
once in every sink; SIGINT, SIGTERM and SIGHUP (a closed terminal) flush what is queued; SIGKILL during writes leaves an
index that opens and holds every record flushed before the kill."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from urllib.parse import quote

import httpx
import pytest

from support.servers import ACCESS_KEY, API_KEY, CONFIG_TOML, SECRET_KEY, start_server

pytestmark = pytest.mark.conformance

MODEL = quote("global.anthropic.claude-haiku-4-5-20251001-v1:0", safe="")
BEARER = {"Authorization": f"Bearer {API_KEY}"}
INVOKE_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32,
                          "messages": [{"role": "user", "content": "load"}]}).encode()
CONVERSE_BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "load"}]}],
                            "inferenceConfig": {"maxTokens": 32}}).encode()
#: (path suffix, body, expected status): the four logged operations and a failing call.
CALLS = [
    ("invoke", INVOKE_BODY, 200),
    ("invoke-with-response-stream", INVOKE_BODY, 200),
    ("converse", CONVERSE_BODY, 200),
    ("converse-stream", CONVERSE_BODY, 200),
    ("invoke", b'{"anthropic_version": "bedrock-2023-05-31"}', 400),
]


def configure_logging(url: str, region: str = "us-east-1") -> None:
    import boto3

    bedrock = boto3.client("bedrock", endpoint_url=url, region_name=region, aws_access_key_id=ACCESS_KEY,
                           aws_secret_access_key=SECRET_KEY)
    bedrock.put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": "load-logs", "keyPrefix": "load"},
        "cloudWatchConfig": {"logGroupName": "load-group", "roleArn": "arn:aws:iam::111122223333:role/r"},
        "textDataDeliveryEnabled": True,
    })


def one_call(client: httpx.Client, url: str, n: int) -> str:
    suffix, body, status = CALLS[n % len(CALLS)]
    response = client.post(f"{url}/model/{MODEL}/{suffix}", content=body, headers=BEARER)
    assert response.status_code == status, response.text
    return response.headers["x-amzn-requestid"]


async def fire(url: str, count: int) -> list[str]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        async def call(n: int) -> str:
            suffix, body, status = CALLS[n % len(CALLS)]
            response = await client.post(f"{url}/model/{MODEL}/{suffix}", content=body, headers=BEARER)
            assert response.status_code == status, response.text
            return response.headers["x-amzn-requestid"]

        return list(await asyncio.gather(*(call(n) for n in range(count))))


def s3_ids(data_dir) -> Counter:
    ids: Counter = Counter()
    root = data_dir / "s3"
    for path in root.rglob("*.json.gz"):
        if "/data/" not in path.relative_to(root).as_posix():
            ids.update(json.loads(line)["requestId"] for line in gzip.decompress(path.read_bytes()).splitlines())
    return ids


def cloudwatch_ids(data_dir) -> Counter:
    ids: Counter = Counter()
    for path in (data_dir / "cloudwatch").rglob("*.jsonl"):
        ids.update(json.loads(json.loads(line)["message"])["requestId"] for line in path.read_text().splitlines())
    return ids


def index_ids(data_dir) -> Counter:
    result = subprocess.run([sys.executable, "-m", "claude_bedrock", "logs", "list", "--data-dir", str(data_dir),
                             "--json", "--limit", "1000000"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(r["schemaType"] == "ModelInvocationLog" for r in records)
    return Counter(r["requestId"] for r in records)


def test_logging_thousand_concurrent_requests_each_logged_once_everywhere(tmp_path, capsys):
    server = start_server(tmp_path, "--log-flush-interval-ms", "200", config=CONFIG_TOML)
    try:
        configure_logging(server.url)
        started = time.perf_counter()
        acknowledged = asyncio.run(fire(server.url, 1000))
        requests_s = time.perf_counter() - started
    finally:
        stop_started = time.perf_counter()
        assert server.stop() == 0
        stop_s = time.perf_counter() - stop_started
    assert len(set(acknowledged)) == 1000
    expected = Counter(acknowledged)
    assert index_ids(server.data_dir) == expected
    assert s3_ids(server.data_dir) == expected
    assert cloudwatch_ids(server.data_dir) == expected
    with capsys.disabled():
        print(f"\n[load] 1000 concurrent requests answered in {requests_s:.1f}s; shutdown with flush {stop_s:.1f}s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_logging_clean_shutdown_flushes_queued_records(tmp_path, signum):
    # A flush interval far beyond the test: only the shutdown hook can write these records.
    # SIGHUP at its default even under ``nohup pytest`` (which the server inherits, and then
    # rightly ignores a hangup: the test waited 30 s and left the server running).
    server = start_server(tmp_path, "--log-flush-interval-ms", "600000", "--log-batch-size", "100000",
                          config=CONFIG_TOML, hangup_stops=True)
    try:
        configure_logging(server.url)
        with httpx.Client(timeout=60) as client:
            acknowledged = [one_call(client, server.url, n) for n in range(60)]
        assert _read_index(server.data_dir) == []  # nothing written yet
    finally:
        # uvicorn re-raises a captured SIGTERM after its clean shutdown (lifespan hooks included)
        assert server.stop(signum, timeout=30) in (0, -signal.SIGTERM)
    assert index_ids(server.data_dir) == Counter(acknowledged)
    assert s3_ids(server.data_dir) == Counter(acknowledged)
    assert cloudwatch_ids(server.data_dir) == Counter(acknowledged)


SLOW_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
LONG_STREAM_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2000,
                               "messages": [{"role": "user", "content": "a long story"}]}).encode()


def test_logging_second_ctrl_c_still_writes_queued_records(tmp_path):
    """Review regression: the second Ctrl-C (uvicorn's force quit, while it waits for open
    streams) skipped the lifespan shutdown: every queued record was lost, with exit code 0."""
    # Only the shutdown can write these records (flush interval); the Sonnet stream trickles
    # one token a second, so the graceful shutdown waits on it until the second Ctrl-C.
    server = start_server(tmp_path, "--log-flush-interval-ms", "600000",
                          "--simulator-latency", f"{SLOW_MODEL}=0:1", config=CONFIG_TOML)
    try:
        configure_logging(server.url)
        with httpx.Client(timeout=60) as client:
            acknowledged = [one_call(client, server.url, n) for n in range(10)]
            url = f"{server.url}/model/{quote('global.' + SLOW_MODEL, safe='')}/invoke-with-response-stream"
            with client.stream("POST", url, content=LONG_STREAM_BODY, headers=BEARER) as stream:
                assert stream.status_code == 200
                assert server.force_quit() == 0
                cut = stream.headers["x-amzn-requestid"]
    finally:
        server.stop()
    assert s3_ids(server.data_dir) == Counter([*acknowledged, cut])


class EndsAfterTheShutdownHooks:
    """The simulator; but a stream gives its first events, then waits forever; cancelled (the
    server's graceful-shutdown time is up), it takes until ``release`` is set to end, as a
    gateway closing its upstream or a stream still writing to a slow client does."""

    def __init__(self) -> None:
        from claude_bedrock.domain.simulator import SimulatorEngine

        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.release: asyncio.Event | None = None

    async def stream(self, call):
        if call.operation != "InvokeModelWithResponseStream":
            for event in self.inner.events(call):
                yield event
            return
        self.release = asyncio.Event()
        for event in self.inner.events(call)[:3]:
            yield event
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.release.wait()
            raise


@pytest.mark.parametrize("writer_built", [True, False], ids=["writer-running", "writer-not-built-yet"])
def test_logging_call_ending_after_the_shutdown_hooks_is_still_logged(tmp_path, writer_built):
    """Race regression: uvicorn cancels the calls still running when its graceful-shutdown time
    is up and runs the shutdown hooks without waiting for them to end. A stream that ended after
    the writer's close (here: once the last hook ran) had its record dropped ("invocation log
    writer is closed; record ... not written"), although its client had part of the answer; and
    when no logged call had ended before (the writer is built on first use), the late record
    built a new writer whose thread nobody closed: a daemon, killed with the record at exit.
    Driven as uvicorn drives the app: lifespan startup, calls, cancel, lifespan shutdown."""
    from claude_bedrock.service.app import create_app
    from claude_bedrock.service.invocation_logging import InvocationLogObserver
    from claude_bedrock.service.state import ServiceState
    from claude_bedrock.settings import Settings

    engine = EndsAfterTheShutdownHooks()
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    app = create_app(state=state)
    (observer,) = [o for o in state.observers if isinstance(o, InvocationLogObserver)]
    state.store.put_logging_config(state.settings.account_id, "us-east-1",
                                   {"s3Config": {"bucketName": "load-logs"}, "textDataDeliveryEnabled": True})
    app.shutdown_hooks.append(lambda: engine.release.set())  # after the writer's close

    async def call(suffix: str, started: asyncio.Event) -> str:
        scope = {"type": "http", "method": "POST", "path": f"/model/{MODEL}/{suffix}",
                 "raw_path": f"/model/{MODEL}/{suffix}".encode(), "query_string": b"", "client": ("127.0.0.1", 5000),
                 "headers": [(b"authorization", BEARER["Authorization"].encode()), (b"host", b"localhost")]}
        bodies = [{"type": "http.request", "body": INVOKE_BODY, "more_body": False}]
        head: list[dict] = []

        async def receive() -> dict:
            if bodies:
                return bodies.pop()
            await asyncio.Event().wait()  # the client stays to the end
            raise AssertionError  # pragma: no cover

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                head.append(message)
            elif message.get("body"):
                started.set()  # some of the answer reached the client

        await app(scope, receive, send)
        return dict(head[0]["headers"])[b"x-amzn-requestid"].decode()

    async def serve_then_stop() -> list[str]:
        lifespan = asyncio.ensure_future(app({"type": "lifespan"}, _messages([{"type": "lifespan.startup"}]), _ignore))
        acknowledged = []
        if writer_built:
            acknowledged.append(await call("invoke", asyncio.Event()))
            assert observer.writer.built
        started = asyncio.Event()
        stream = asyncio.ensure_future(call("invoke-with-response-stream", started))
        await started.wait()
        stream.cancel()  # the graceful-shutdown time is up
        await app.shutdown()  # the lifespan shutdown, not waiting for the call
        acknowledged.append(await stream)  # it ends only now
        lifespan.cancel()
        await lifespan
        return acknowledged

    acknowledged = asyncio.run(serve_then_stop())
    writer = observer.writer.writer()
    assert writer._thread is None or not writer._thread.is_alive()  # nothing left to die with the process
    assert Counter(_read_index(tmp_path)) == Counter(acknowledged)


def _messages(messages: list[dict]):
    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()
        raise AssertionError  # pragma: no cover

    return receive


async def _ignore(message: dict) -> None:
    pass


def test_logging_sigkill_during_writes_leaves_a_valid_index(tmp_path, capsys):
    server = start_server(tmp_path, "--log-flush-interval-ms", "10", "--log-batch-size", "25", config=CONFIG_TOML)
    stop = threading.Event()
    acknowledged: list[str] = []

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not stop.is_set():
                try:
                    acknowledged.append(one_call(client, server.url, n))
                except (httpx.HTTPError, AssertionError):
                    return
                n += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    try:
        configure_logging(server.url)
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        flushed: set[str] = set()
        while len(flushed) < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
            flushed = set(_read_index(server.data_dir))
        assert len(flushed) >= 300
        server.process.send_signal(signal.SIGKILL)  # mid-stream of writes
        server.process.wait(timeout=10)
    finally:
        stop.set()
        for worker in workers:
            if worker.is_alive():
                worker.join(timeout=20)
        if server.process.poll() is None:
            server.process.kill()
    assert server.process.returncode == -signal.SIGKILL
    survived = index_ids(server.data_dir)  # the CLI opens it: WAL recovery works
    assert flushed <= set(survived)
    assert max(survived.values()) == 1
    assert set(survived) <= set(acknowledged) | _in_flight_margin(acknowledged, survived)
    from claude_bedrock.adapters.invocation_log import InvocationIndex

    index = InvocationIndex(server.data_dir / "invocation-logs.sqlite3")
    assert index.integrity_ok()
    index.close()
    with capsys.disabled():
        print(f"\n[kill] seen in the index before SIGKILL {len(flushed)}, after {len(survived)}, "
              f"acknowledged {len(acknowledged)}")
    # S3 objects are renamed into place whole: every one still decompresses and parses.
    for path in (server.data_dir / "s3").rglob("*.json.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            json.loads(line)


def _read_index(data_dir) -> list[str]:
    import sqlite3

    path = data_dir / "invocation-logs.sqlite3"
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return [row[0] for row in db.execute("SELECT request_id FROM invocations")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def _in_flight_margin(acknowledged: list[str], survived: Counter) -> set[str]:
    """Responses the server sent but the clients had not read when it died: at most one per
    worker thread (each waits for its answer before sending the next request)."""
    extra = set(survived) - set(acknowledged)
    assert len(extra) <= 4, extra
    return extra


def test_logging_server_applies_its_retention_window_at_start(tmp_path):
    from claude_bedrock.adapters.invocation_log import InvocationLogWriter, LogLayout
    from claude_bedrock.domain.catalog import default_catalog
    from claude_bedrock.domain.invocation_log import DeliveryConfig, S3Location
    from claude_bedrock.service.calls import CallRecord

    data_dir = tmp_path / "data"
    writer = InvocationLogWriter(LogLayout(data_dir), catalog=default_catalog(), retention_days=0)
    config = DeliveryConfig(s3=S3Location("old-logs"), log_group="old-group", text=True)
    for n, days_ago in enumerate((10, 3, 0.5)):
        writer.submit(CallRecord(request_id=f"old-{n}", operation="Converse", account_id="111122223333",
                                 region="us-east-1", identity_arn="arn:aws:iam::111122223333:user/alice",
                                 model_id="m", started_at=time.time() - days_ago * 86_400), config)
    writer.close()
    assert set(index_ids(data_dir)) == {"old-0", "old-1", "old-2"}
    server = start_server(tmp_path, "--log-retention-days", "2", config=CONFIG_TOML)
    try:
        deadline = time.monotonic() + 20
        while set(_read_index(data_dir)) != {"old-2"} and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    assert set(index_ids(data_dir)) == {"old-2"}
    assert set(s3_ids(data_dir)) == {"old-2"}
    assert set(cloudwatch_ids(data_dir)) == {"old-2"}
