"""The request-path observer: which calls are queued, the configuration cache, never raising."""

from __future__ import annotations

from claude_bedrock.adapters.store import StateStore
from claude_bedrock.domain.invocation_log import DeliveryConfig, S3Location
from claude_bedrock.service.app import create_app
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.invocation_logging import InvocationLogObserver, config_changed
from claude_bedrock.settings import Settings

CONFIG = {"s3Config": {"bucketName": "b"}, "textDataDeliveryEnabled": True}


class FakeWriter:
    def __init__(self) -> None:
        self.queued: list[tuple[CallRecord, DeliveryConfig]] = []

    def submit(self, call, config) -> None:
        self.queued.append((call, config))

    def start(self) -> None: ...

    def close(self) -> None: ...


class CountingStore:
    """A store without a write generation (the TTL fallback), counting reads."""

    def __init__(self) -> None:
        self.configs: dict[tuple[str, str], dict] = {}
        self.reads = 0

    def get_logging_config(self, account_id, region):
        self.reads += 1
        return self.configs.get((account_id, region))


def call(operation: str = "Converse", account: str = "111122223333", region: str = "us-east-1") -> CallRecord:
    return CallRecord(request_id="r", operation=operation, account_id=account, region=region,
                      identity_arn="arn:aws:iam::111122223333:user/a", model_id="m", started_at=0.0)


def test_observer_queues_logged_operations_only_when_configured():
    store = StateStore(":memory:")
    writer = FakeWriter()
    observer = InvocationLogObserver(lambda: store, writer)
    observer(call())
    assert writer.queued == []  # logging off
    store.put_logging_config("111122223333", "us-east-1", CONFIG)
    for operation in ("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream", "CountTokens"):
        observer(call(operation))
    assert [c.operation for c, _ in writer.queued] == [
        "InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"]
    assert writer.queued[0][1] == DeliveryConfig(s3=S3Location("b"), text=True)
    observer(call(region="eu-west-1"))
    assert len(writer.queued) == 4  # configuration is per account and region


def test_observer_cache_follows_store_writes_and_reset():
    store = StateStore(":memory:")
    writer = FakeWriter()
    observer = InvocationLogObserver(lambda: store, writer)
    store.put_logging_config("111122223333", "us-east-1", CONFIG)
    observer(call())
    store.delete_logging_config("111122223333", "us-east-1")
    observer(call())
    store.put_logging_config("111122223333", "us-east-1", CONFIG)
    observer(call())
    store.reset()
    observer(call())
    assert len(writer.queued) == 2


def test_observer_caches_config_reads():
    store = CountingStore()
    store.configs[("111122223333", "us-east-1")] = CONFIG
    clock = {"now": 100.0}
    writer = FakeWriter()
    observer = InvocationLogObserver(lambda: store, writer, monotonic=lambda: clock["now"])
    for _ in range(50):
        observer(call())
    assert store.reads == 1 and len(writer.queued) == 50
    del store.configs[("111122223333", "us-east-1")]
    clock["now"] += 1.5  # the TTL fallback expires
    observer(call())
    assert store.reads == 2 and len(writer.queued) == 50
    store.configs[("111122223333", "us-east-1")] = CONFIG
    observer.invalidate()
    observer(call())
    assert len(writer.queued) == 51


def test_observer_never_raises():
    class BrokenWriter(FakeWriter):
        def submit(self, call, config) -> None:
            raise RuntimeError("boom")

    store = StateStore(":memory:")
    store.put_logging_config("111122223333", "us-east-1", CONFIG)
    InvocationLogObserver(lambda: store, BrokenWriter())(call())  # logged, not raised


def test_observer_installed_once_by_create_app(tmp_path):
    app = create_app(Settings(data_dir=str(tmp_path)))
    again = create_app(Settings(data_dir=str(tmp_path)), state=app.state)
    observers = [o for o in again.state.observers if isinstance(o, InvocationLogObserver)]
    assert len(observers) == 1
    writer = observers[0].writer
    assert writer.close in again.shutdown_hooks and writer.start_later in again.startup_hooks
    assert not writer.built  # built on first use (Rule 4)
    config_changed(again.state)  # drops the cache without error


def test_deferred_writer_is_built_on_first_use_and_started_after_startup():
    import asyncio

    from claude_bedrock.service.invocation_logging import DeferredWriter

    built: list[FakeWriter] = []

    class StartableWriter(FakeWriter):
        started = closed = False

        def start(self) -> None:
            self.started = True

        def close(self) -> None:
            self.closed = True

    def factory() -> StartableWriter:
        built.append(StartableWriter())
        return built[-1]

    deferred = DeferredWriter(factory)
    assert not deferred.built and not built

    async def startup_then_wait() -> None:
        deferred.start_later(0.01)
        for _ in range(500):
            if built and built[0].started:
                return
            await asyncio.sleep(0.01)

    asyncio.run(startup_then_wait())
    assert len(built) == 1 and built[0].started
    deferred.submit(call(), CONFIG)  # the same writer takes records
    assert len(built) == 1 and len(built[0].queued) == 1
    deferred.close()
    assert built[0].closed


def test_deferred_writer_first_record_builds_it_and_close_before_start_never_starts():
    from claude_bedrock.service.invocation_logging import DeferredWriter

    writers: list[FakeWriter] = []
    deferred = DeferredWriter(lambda: writers.append(FakeWriter()) or writers[-1])
    deferred.close()  # shutting down before the delayed start fired
    deferred.start()
    assert not writers  # nothing built, nothing started
    logged = DeferredWriter(lambda: writers.append(FakeWriter()) or writers[-1])
    logged.submit(call(), CONFIG)
    assert len(writers) == 1 and len(writers[0].queued) == 1


def test_deferred_writer_closed_while_the_delayed_start_runs_is_never_left_running():
    # The delayed start checked "closed" under the lock, then built and started the writer
    # outside it: a shutdown in between found no writer to close, and the writer was started
    # afterwards (a writer thread purging after close). The shutdown is made to come exactly
    # when the start first lets the lock go.
    import threading

    from claude_bedrock.service.invocation_logging import DeferredWriter

    events: list[str] = []

    class OrderedWriter(FakeWriter):
        def start(self) -> None:
            events.append("start")

        def close(self) -> None:
            events.append("close")

    deferred = DeferredWriter(OrderedWriter)

    class ShutdownAtFirstRelease:
        def __init__(self) -> None:
            self.inner, self.fired = threading.Lock(), False

        def __enter__(self) -> None:
            self.inner.acquire()

        def __exit__(self, *exc: object) -> None:
            self.inner.release()
            if not self.fired:
                self.fired = True
                deferred.close()

    deferred._lock = ShutdownAtFirstRelease()
    deferred.start()
    assert events == ["start", "close"]  # started, then closed by the shutdown; not left running
