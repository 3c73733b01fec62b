"""The SQLite state store: scoping, transactions, persistence, reset and concurrent writers."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from claude_bedrock.adapters.store import (
    DATABASE_FILE_NAME,
    SCHEMA_VERSION,
    StateStore,
    StoreConflict,
    StoreError,
    TooManyTags,
)

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-west-2"
SOURCE = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    opened = StateStore.open(tmp_path / "data", clock=FakeClock())
    yield opened
    opened.close()


def create(store: StateStore, profile_id: str, name: str, *, account: str = ACCOUNT, region: str = REGION,
           token: str | None = None, tags: dict[str, str] | None = None, max_tags: int = 200):
    return store.create_application_profile(
        account_id=account, region=region, profile_id=profile_id, name=name, description="d",
        source_arn=SOURCE, models=(SOURCE,), client_token=token, tags=tags or {}, max_tags=max_tags,
    )


def test_store_open_creates_folder_file_in_wal_mode(tmp_path: Path):
    folder = tmp_path / "nested" / "data"
    store = StateStore.open(folder)
    store.close()
    database = folder / DATABASE_FILE_NAME
    assert database.is_file()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_store_profile_round_trip(store: StateStore):
    record, created = create(store, "abcdefghij12", "my-profile", tags={"team": "a"})
    assert created
    assert record.arn == f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/abcdefghij12"
    assert store.get_application_profile(ACCOUNT, REGION, "abcdefghij12") == record
    assert record.models == (SOURCE,) and record.created_at == record.updated_at
    assert store.get_tags(ACCOUNT, REGION, record.arn) == {"team": "a"}


def test_store_profiles_are_scoped_by_account_and_region(store: StateStore):
    create(store, "aaaaaaaaaaaa", "same-name")
    create(store, "bbbbbbbbbbbb", "same-name", account=OTHER_ACCOUNT)
    create(store, "cccccccccccc", "same-name", region="eu-west-1")
    assert [r.profile_id for r in store.list_application_profiles(ACCOUNT, REGION)] == ["aaaaaaaaaaaa"]
    assert store.get_application_profile(OTHER_ACCOUNT, REGION, "aaaaaaaaaaaa") is None
    assert store.get_application_profile(ACCOUNT, "eu-west-1", "cccccccccccc") is not None


def test_store_duplicate_name_is_a_conflict(store: StateStore):
    create(store, "aaaaaaaaaaaa", "taken")
    with pytest.raises(StoreConflict) as info:
        create(store, "bbbbbbbbbbbb", "taken")
    assert info.value.field == "name"
    with pytest.raises(StoreConflict) as info:
        create(store, "aaaaaaaaaaaa", "other")
    assert info.value.field == "profile_id"


def test_store_client_token_returns_the_first_creation(store: StateStore):
    first, created = create(store, "aaaaaaaaaaaa", "p1", token="tok-1")
    again, created_again = create(store, "bbbbbbbbbbbb", "p1", token="tok-1")
    assert created and not created_again and again == first
    assert len(store.list_application_profiles(ACCOUNT, REGION)) == 1


def test_store_too_many_tags_rolls_the_profile_back(store: StateStore):
    with pytest.raises(TooManyTags):
        create(store, "aaaaaaaaaaaa", "p1", tags={f"k{i}": "v" for i in range(4)}, max_tags=3)
    assert store.get_application_profile(ACCOUNT, REGION, "aaaaaaaaaaaa") is None
    assert store.list_application_profiles(ACCOUNT, REGION) == []


def test_store_tagging_merges_limits_and_untags(store: StateStore):
    record, _ = create(store, "aaaaaaaaaaaa", "p1", tags={"a": "1"})
    store.tag_resource(ACCOUNT, REGION, record.arn, {"a": "2", "b": "3"}, max_tags=3)
    assert store.get_tags(ACCOUNT, REGION, record.arn) == {"a": "2", "b": "3"}
    with pytest.raises(TooManyTags):
        store.tag_resource(ACCOUNT, REGION, record.arn, {"c": "4", "d": "5"}, max_tags=3)
    assert store.get_tags(ACCOUNT, REGION, record.arn) == {"a": "2", "b": "3"}
    store.untag_resource(ACCOUNT, REGION, record.arn, ["a", "missing"])
    assert store.get_tags(ACCOUNT, REGION, record.arn) == {"b": "3"}


def test_store_delete_profile_removes_its_tags(store: StateStore):
    record, _ = create(store, "aaaaaaaaaaaa", "p1", tags={"a": "1"})
    assert store.delete_application_profile(ACCOUNT, REGION, "aaaaaaaaaaaa")
    assert not store.delete_application_profile(ACCOUNT, REGION, "aaaaaaaaaaaa")
    assert store.get_tags(ACCOUNT, REGION, record.arn) == {}
    create(store, "bbbbbbbbbbbb", "p1")  # the name is free again


def test_store_agreements_grant_and_revoke(store: StateStore):
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    assert store.get_agreement(ACCOUNT, REGION, model) is None
    store.set_agreement(ACCOUNT, REGION, model, granted=True, offer_token="tok")
    assert store.get_agreement(ACCOUNT, REGION, model).granted
    store.set_agreement(ACCOUNT, REGION, model, granted=False, offer_token=None)
    revoked = store.get_agreement(ACCOUNT, REGION, model)
    assert revoked is not None and not revoked.granted and revoked.offer_token is None
    assert store.get_agreement(ACCOUNT, "eu-west-1", model) is None
    assert [a.model_id for a in store.list_agreements(ACCOUNT, REGION)] == [model]


def test_store_use_case_form(store: StateStore):
    assert store.get_use_case(ACCOUNT) is None
    store.put_use_case(ACCOUNT, b"first form data")
    store.put_use_case(ACCOUNT, b"\x00\xffsecond form")
    assert store.get_use_case(ACCOUNT) == b"\x00\xffsecond form"
    assert store.get_use_case(OTHER_ACCOUNT) is None


def test_store_use_case_form_of_a_file_with_per_region_forms(tmp_path: Path):
    """A file written when forms were kept per region: the account's newest form is its form,
    and the next submission replaces them all."""
    StateStore.open(tmp_path).close()  # the schema
    path = tmp_path / DATABASE_FILE_NAME
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO use_case_forms VALUES (?,?,?,?)", (ACCOUNT, "eu-west-1", b"newer form", 50.0))
        db.execute("INSERT INTO use_case_forms VALUES (?,?,?,?)", (ACCOUNT, REGION, b"older form", 10.0))
    store = StateStore.open(tmp_path)
    assert store.get_use_case(ACCOUNT) == b"newer form"
    store.put_use_case(ACCOUNT, b"account form")
    assert store.get_use_case(ACCOUNT) == b"account form"
    store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM use_case_forms").fetchone() == (1,)


def test_store_logging_config(store: StateStore):
    config = {"s3Config": {"bucketName": "logs"}, "textDataDeliveryEnabled": True}
    assert store.get_logging_config(ACCOUNT, REGION) is None
    store.put_logging_config(ACCOUNT, REGION, config)
    assert store.get_logging_config(ACCOUNT, REGION) == config
    assert store.logging_configs() == [(ACCOUNT, REGION, config)]
    assert store.delete_logging_config(ACCOUNT, REGION)
    assert not store.delete_logging_config(ACCOUNT, REGION)
    assert store.get_logging_config(ACCOUNT, REGION) is None


def test_store_reset_clears_every_table(store: StateStore):
    record, _ = create(store, "aaaaaaaaaaaa", "p1", tags={"a": "1"})
    store.set_agreement(ACCOUNT, REGION, "m.x", granted=True, offer_token="t")
    store.put_use_case(ACCOUNT, b"0123456789")
    store.put_logging_config(ACCOUNT, REGION, {"s3Config": {"bucketName": "logs"}})
    store.reset()
    assert store.list_application_profiles(ACCOUNT, REGION) == []
    assert store.get_tags(ACCOUNT, REGION, record.arn) == {}
    assert store.get_agreement(ACCOUNT, REGION, "m.x") is None
    assert store.get_use_case(ACCOUNT) is None
    assert store.get_logging_config(ACCOUNT, REGION) is None
    create(store, "aaaaaaaaaaaa", "p1")  # still usable


def test_store_state_survives_reopening(tmp_path: Path):
    first = StateStore.open(tmp_path)
    record, _ = create(first, "aaaaaaaaaaaa", "kept", tags={"a": "1"})
    first.set_agreement(ACCOUNT, REGION, "m.x", granted=False, offer_token=None)
    first.put_logging_config(ACCOUNT, REGION, {"s3Config": {"bucketName": "logs"}})
    first.close()
    second = StateStore.open(tmp_path)
    assert second.get_application_profile(ACCOUNT, REGION, "aaaaaaaaaaaa") == record
    assert second.get_tags(ACCOUNT, REGION, record.arn) == {"a": "1"}
    assert second.get_agreement(ACCOUNT, REGION, "m.x").granted is False
    assert second.get_logging_config(ACCOUNT, REGION) == {"s3Config": {"bucketName": "logs"}}
    second.close()


def test_store_reopens_after_close(store: StateStore):
    create(store, "aaaaaaaaaaaa", "before-close")
    store.close()
    store.close()  # twice is fine
    assert store.get_application_profile(ACCOUNT, REGION, "aaaaaaaaaaaa") is not None
    create(store, "bbbbbbbbbbbb", "after-close")
    assert len(store.list_application_profiles(ACCOUNT, REGION)) == 2


def test_store_follows_a_data_folder_deleted_while_open(tmp_path: Path, caplog):
    """Review regression: after ``rm -rf`` of the data folder, writes went on into the deleted
    file: acknowledged, and gone at the next start."""
    data = tmp_path / "data"
    store = StateStore.open(data)
    create(store, "aaaaaaaaaaaa", "before")
    shutil.rmtree(data)
    create(store, "bbbbbbbbbbbb", "after")
    store.close()
    restarted = StateStore.open(data)
    assert [p.name for p in restarted.list_application_profiles(ACCOUNT, REGION)] == ["after"]
    restarted.close()
    assert "deleted or replaced" in caplog.text


def test_store_recreating_a_deleted_file_that_fails_leaves_no_open_transaction(
    tmp_path: Path, monkeypatch
):
    """A failure while recreating the tables of a deleted database (disk full...) must not
    leave the connection inside a transaction, where every later write would fail."""
    import claude_bedrock.adapters.store as store_module

    data = tmp_path / "data"
    store = StateStore.open(data)
    shutil.rmtree(data)
    real = store_module._create_schema
    calls = []

    def failing_once(db: sqlite3.Connection) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        real(db)

    monkeypatch.setattr(store_module, "_create_schema", failing_once)
    with pytest.raises(StoreError, match="database or disk is full"):
        create(store, "aaaaaaaaaaaa", "first")
    create(store, "bbbbbbbbbbbb", "second")
    assert [p.name for p in store.list_application_profiles(ACCOUNT, REGION)] == ["second"]
    store.close()


def test_store_refuses_a_newer_schema(tmp_path: Path):
    StateStore.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DATABASE_FILE_NAME) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        StateStore.open(tmp_path)


def test_store_refuses_a_file_that_is_not_a_database(tmp_path: Path):
    (tmp_path / DATABASE_FILE_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        StateStore.open(tmp_path)


def test_store_data_folder_that_cannot_be_created(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the data folder"):
        StateStore.open(blocker / "data")


def _hammer(stores: list[StateStore], threads: int, per_thread: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(index: int) -> None:
        store = stores[index % len(stores)]
        try:
            barrier.wait()
            for n in range(per_thread):
                key = f"{index:03d}{n:03d}"
                create(store, f"p{key:0>11}"[-12:], f"name-{key}", tags={"thread": str(index), "n": str(n)})
                store.set_agreement(ACCOUNT, REGION, f"model.{key}", granted=n % 2 == 0, offer_token=key)
                store.put_logging_config(ACCOUNT, f"region-{index}", {"n": n})
                store.get_application_profile(ACCOUNT, REGION, f"p{key:0>11}"[-12:])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def _assert_complete(store: StateStore, threads: int, per_thread: int) -> None:
    profiles = store.list_application_profiles(ACCOUNT, REGION)
    assert len(profiles) == threads * per_thread
    assert len({p.name for p in profiles}) == threads * per_thread
    for profile in profiles[:: max(1, len(profiles) // 20)]:
        assert len(store.get_tags(ACCOUNT, REGION, profile.arn)) == 2
    agreements = store.list_agreements(ACCOUNT, REGION)
    assert len(agreements) == threads * per_thread
    assert sum(a.granted for a in agreements) == threads * ((per_thread + 1) // 2)
    for index in range(threads):
        assert store.get_logging_config(ACCOUNT, f"region-{index}") == {"n": per_thread - 1}
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_store_concurrent_threads_sharing_one_store(store: StateStore):
    threads, per_thread = 16, 25
    assert _hammer([store], threads, per_thread) == []
    _assert_complete(store, threads, per_thread)


def test_store_concurrent_threads_on_separate_connections(tmp_path: Path):
    """Two stores on one file (as two server processes would have) wait for each other's locks."""
    stores = [StateStore.open(tmp_path), StateStore.open(tmp_path)]
    threads, per_thread = 8, 20
    assert _hammer(stores, threads, per_thread) == []
    _assert_complete(stores[0], threads, per_thread)
    for opened in stores:
        opened.close()


def test_store_refuses_a_database_damaged_inside_at_start(tmp_path: Path):
    """Damage inside a table is found when the server starts, with a clear message, rather
    than later as failed calls."""
    StateStore.open(tmp_path).close()
    path = tmp_path / DATABASE_FILE_NAME
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = DELETE")  # everything in the main file
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 3 * page
    data[page:2 * page] = b"\xff" * page  # page 2: a table's b-tree page, smashed
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"damaged \(Page 2: .*\); move it away"):
        StateStore.open(tmp_path)


def test_store_locked_at_start_says_another_process_holds_it(tmp_path: Path, monkeypatch):
    import claude_bedrock.adapters.store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
    StateStore.open(tmp_path).close()
    holder = sqlite3.connect(tmp_path / DATABASE_FILE_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"locked \(another process holds it: a second server"):
            StateStore.open(tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_store_unwritable_folder_is_named(tmp_path: Path, monkeypatch):
    """SQLite says "unable to open database file"; the message says why (as root, a folder's
    mode bits do not stop writes, so the access check is what is faked here)."""
    import claude_bedrock.adapters.sqlite_file as sqlite_file

    error = sqlite3.OperationalError("unable to open database file")
    monkeypatch.setattr(sqlite_file.os, "access", lambda path, mode: False)
    assert sqlite_file.hint(error, str(tmp_path / DATABASE_FILE_NAME)) == (
        f" (the data folder {tmp_path} is not writable)"
    )
