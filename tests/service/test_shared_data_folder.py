"""Review regression: two servers on one data folder (or a ``sqlite3`` shell writing to it)
share the state file, but each cached model-access decisions and the logging configuration by
its own write count: after server A revoked a model, server B went on serving it. The store's
``generation`` now follows other connections' writes too (``StateStore`` Rule 6)."""

from __future__ import annotations

import json
import time

import pytest

from claude_bedrock.adapters.store import StateStore
from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings
from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, start_server

ACCOUNT, REGION, MODEL = "123456789012", "us-east-1", "anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_generation_follows_another_connections_writes(tmp_path):
    first, second = StateStore.open(tmp_path), StateStore.open(tmp_path)
    try:
        assert second.get_agreement(ACCOUNT, REGION, MODEL) is None  # what a server caches
        second.look_for_external_writes()
        before = second.generation
        second.look_for_external_writes()
        assert second.generation == before  # nothing written: caches stay valid
        first.set_agreement(ACCOUNT, REGION, MODEL, granted=False, offer_token=None)
        assert second.generation == before  # until the next look
        second.look_for_external_writes()
        assert second.generation != before
    finally:
        first.close()
        second.close()


def test_a_look_at_shutdown_leaves_no_connection_open(tmp_path):
    # The running app's look runs in a worker thread and may still run when the store closes.
    store = StateStore.open(tmp_path)
    store.get_agreement(ACCOUNT, REGION, MODEL)
    store.close()
    store.look_for_external_writes()
    assert store._reader is None and store._connection is None


@pytest.mark.parametrize("granted", [False, True])
def test_a_revoke_by_another_server_is_seen(tmp_path, granted):
    settings = Settings(data_dir=str(tmp_path), model_access="none" if granted else "granted")
    server_a, server_b = create_app(settings), create_app(settings)
    try:
        assert server_b.state.has_model_access(ACCOUNT, REGION, MODEL) is not granted  # cached
        server_a.state.store.set_agreement(ACCOUNT, REGION, MODEL, granted=granted, offer_token=None)
        server_b.state.store.look_for_external_writes()  # what the running server does every second
        assert server_b.state.has_model_access(ACCOUNT, REGION, MODEL) is granted
    finally:
        server_a.state.store.close()
        server_b.state.store.close()


def test_two_servers_on_one_data_folder_follow_each_others_revokes(tmp_path):
    import boto3
    from botocore.config import Config

    shared = str(tmp_path / "shared")
    servers = [start_server(tmp_path / name, "--data-dir", shared, config=CONFIG_TOML) for name in ("a", "b")]
    try:
        session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
        config = Config(retries={"max_attempts": 1})
        control_a = session.client("bedrock", endpoint_url=servers[0].url, config=config)
        runtime_b = session.client("bedrock-runtime", endpoint_url=servers[1].url, config=config)
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                           "messages": [{"role": "user", "content": "Hi"}]})
        runtime_b.invoke_model(modelId="us." + MODEL, body=body)  # B caches its access decision
        control_a.delete_foundation_model_agreement(modelId=MODEL)
        deadline = time.monotonic() + 15  # B looks for A's writes every second
        while True:
            try:
                runtime_b.invoke_model(modelId="us." + MODEL, body=body)
            except runtime_b.exceptions.AccessDeniedException:
                break
            assert time.monotonic() < deadline, "server B still serves the model server A revoked"
            time.sleep(0.1)
    finally:
        for server in servers:
            server.stop()


def test_audit_a_delete_that_finds_its_profile_gone_at_its_write_is_not_found(tmp_path):
    """Race audit: DeleteInferenceProfile looks the profile up, then deletes it in a worker
    thread. Two deletes of one profile (on two servers of one data folder, or two clients of
    one server) both passed the look-up and both answered 200, though only one deleted it;
    the other is a ResourceNotFoundException, as a delete of an unknown profile is."""
    import boto3
    from botocore.config import Config

    from support.inprocess import serve_in_thread

    settings = Settings(data_dir=str(tmp_path))
    app = create_app(settings)
    other_server = StateStore.open(tmp_path)
    store = app.state.store
    delete = store.delete_application_profile

    def deleted_by_the_other_server_first(account_id, region, profile_id):
        other_server.delete_application_profile(account_id, region, profile_id)
        return delete(account_id, region, profile_id)

    store.delete_application_profile = deleted_by_the_other_server_first
    try:
        with serve_in_thread(app) as url:
            session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                    region_name=REGION)
            bedrock = session.client("bedrock", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
            arn = bedrock.create_inference_profile(
                inferenceProfileName="raced",
                modelSource={"copyFrom": f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"},
            )["inferenceProfileArn"]
            with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
                bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)
    finally:
        other_server.close()
        store.close()
