"""State scoped per account and region, as AWS scopes it, seen through boto3 against a real
server configured with two accounts (alice 111111111111, bob 222222222222): what one account
does in one region is invisible to the other account, and to the same account in another
region; the caller's identity (GetCallerIdentity) is the same in every region.

Covers what the per-module tests check with one account only: application profiles (by ARN and
by ID, tags, deletion, idempotency token, runtime use), model-access agreements, the logging
configuration and where the records go, the prompt cache and the toolkit's quota counters.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.servers import RunningServer, start_server

pytestmark = pytest.mark.conformance

ALICE, BOB = "111111111111", "222222222222"
KEYS = {ALICE: ("AKIAALICE0000000001", "alice-secret"), BOB: ("AKIABOB000000000002", "bob-secret")}
CONFIG = f"""
[[credentials]]
access_key_id = "{KEYS[ALICE][0]}"
secret_access_key = "{KEYS[ALICE][1]}"
account_id = "{ALICE}"
user_name = "alice"
admin = true

[[credentials]]
access_key_id = "{KEYS[BOB][0]}"
secret_access_key = "{KEYS[BOB][1]}"
account_id = "{BOB}"
user_name = "bob"
"""
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HOME, ABROAD = "us-west-2", "eu-west-1"
HELLO = [{"role": "user", "content": [{"text": "Hello"}]}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("isolation"), "--log-flush-interval-ms", "50", config=CONFIG)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def clean_state(server: RunningServer) -> Iterator[None]:
    admin(server, "POST", "/reset")
    yield
    admin(server, "POST", "/reset")


def admin(server: RunningServer, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(server.url + "/_claude-bedrock" + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def client(server: RunningServer, account: str, region: str = HOME, service: str = "bedrock") -> Any:
    import boto3

    key, secret = KEYS[account]
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    return session.client(service, endpoint_url=server.url,
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def error_code(call, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response["Error"]["Code"]


def create_profile(bedrock: Any, region: str, **extra: Any) -> str:
    return bedrock.create_inference_profile(
        inferenceProfileName="team-profile", clientRequestToken="same-token-0001",
        modelSource={"copyFrom": f"arn:aws:bedrock:{region}::foundation-model/{SONNET}"}, **extra,
    )["inferenceProfileArn"]


def test_identity_is_global_and_arns_carry_the_callers_account_and_region(server):
    for account, user in ((ALICE, "alice"), (BOB, "bob")):
        for region in (HOME, ABROAD):
            sts = client(server, account, region, "sts")
            assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:user/{user}"
            profile = client(server, account, region).get_inference_profile(
                inferenceProfileIdentifier=f"global.{SONNET}")
            assert profile["inferenceProfileArn"] == (
                f"arn:aws:bedrock:{region}:{account}:inference-profile/global.{SONNET}")


def test_application_profile_is_its_account_and_regions_alone(server):
    alice = client(server, ALICE)
    arn = create_profile(alice, HOME, tags=[{"key": "team", "value": "search"}])
    assert arn.startswith(f"arn:aws:bedrock:{HOME}:{ALICE}:application-inference-profile/")
    profile_id = arn.rsplit("/", 1)[1]
    for account, region in ((BOB, HOME), (ALICE, ABROAD)):
        other = client(server, account, region)
        for identifier in (arn, profile_id):
            assert error_code(other.get_inference_profile, inferenceProfileIdentifier=identifier) == \
                "ResourceNotFoundException"
            assert error_code(other.delete_inference_profile, inferenceProfileIdentifier=identifier) == \
                "ResourceNotFoundException"
        assert other.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
        assert error_code(other.list_tags_for_resource, resourceARN=arn) == "ResourceNotFoundException"
        assert error_code(other.tag_resource, resourceARN=arn, tags=[{"key": "team", "value": "x"}]) == \
            "ResourceNotFoundException"
        assert error_code(other.untag_resource, resourceARN=arn, tagKeys=["team"]) == "ResourceNotFoundException"
        runtime = client(server, account, region, "bedrock-runtime")
        assert error_code(runtime.converse, modelId=arn, messages=HELLO) == "ValidationException"
        # the same name and idempotency token make a profile of its own, not alice's
        own = create_profile(other, region)
        assert own.startswith(f"arn:aws:bedrock:{region}:{account}:application-inference-profile/") and own != arn
    assert alice.get_inference_profile(inferenceProfileIdentifier=arn)["inferenceProfileArn"] == arn
    assert alice.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "search"}]
    assert create_profile(alice, HOME) == arn  # her token still names her profile
    assert client(server, ALICE, service="bedrock-runtime").converse(modelId=arn, messages=HELLO)["output"]


def test_model_access_revoked_in_one_account_and_region_only(server):
    client(server, ALICE).delete_foundation_model_agreement(modelId=SONNET)
    assert error_code(client(server, ALICE, HOME, "bedrock-runtime").converse,
                      modelId=f"global.{SONNET}", messages=HELLO) == "AccessDeniedException"
    for account, region in ((BOB, HOME), (ALICE, ABROAD)):
        bedrock = client(server, account, region)
        assert bedrock.get_foundation_model_availability(modelId=SONNET)["agreementAvailability"] == {
            "status": "AVAILABLE"}
        runtime = client(server, account, region, "bedrock-runtime")
        assert runtime.converse(modelId=f"global.{SONNET}", messages=HELLO)["output"]


def s3_records(data_dir: Path, bucket: str) -> list[dict]:
    root = data_dir / "s3" / bucket
    batches = [path for path in sorted(root.rglob("*.json.gz")) if "data" not in path.relative_to(root).parts]
    return [json.loads(line) for path in batches for line in gzip.decompress(path.read_bytes()).splitlines()]


def test_logging_configuration_and_records_stay_in_their_account_and_region(server):
    alice = client(server, ALICE)
    alice.put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": "alice-logs"}, "textDataDeliveryEnabled": True})
    for account, region in ((BOB, HOME), (ALICE, ABROAD)):
        other = client(server, account, region)
        assert "loggingConfig" not in other.get_model_invocation_logging_configuration()
        other.delete_model_invocation_logging_configuration()
    assert alice.get_model_invocation_logging_configuration()["loggingConfig"]["s3Config"] == {
        "bucketName": "alice-logs"}
    sent = {}
    for account, region in ((BOB, HOME), (ALICE, ABROAD), (ALICE, HOME)):
        reply = client(server, account, region, "bedrock-runtime").converse(
            modelId=f"global.{SONNET}", messages=[{"role": "user", "content": [{"text": f"from {account} {region}"}]}])
        sent[(account, region)] = reply["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 20
    while not (records := s3_records(server.data_dir, "alice-logs")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # records of the other calls, had they been logged, were flushed with hers
    records = s3_records(server.data_dir, "alice-logs")
    assert [(r["requestId"], r["accountId"], r["region"]) for r in records] == [(sent[(ALICE, HOME)], ALICE, HOME)]
    assert sorted(p.name for p in (server.data_dir / "s3").iterdir()) == ["alice-logs"]


def cached_usage(server: RunningServer, account: str, region: str = HOME) -> dict:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
            "system": [{"type": "text", "text": "Shared context. " * 600, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Hello"}]}
    runtime = client(server, account, region, "bedrock-runtime")
    return json.loads(runtime.invoke_model(modelId=f"global.{SONNET}", body=json.dumps(body))["body"].read())["usage"]


def test_prompt_cache_is_per_account(server):
    """AWS user guide, "Prompt caching": cache entries are kept per account; another account
    sending the very same prompt writes its own."""
    first = cached_usage(server, ALICE)
    assert first["cache_creation_input_tokens"] > 0
    assert cached_usage(server, ALICE)["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    bob = cached_usage(server, BOB)
    assert (bob["cache_read_input_tokens"], bob["cache_creation_input_tokens"]) == (
        0, first["cache_creation_input_tokens"])
    assert cached_usage(server, BOB)["cache_read_input_tokens"] == first["cache_creation_input_tokens"]


def test_quota_counters_are_per_account_and_region(server):
    admin(server, "PUT", "/quotas", {"requests_per_minute": 1})
    alice = client(server, ALICE, HOME, "bedrock-runtime")
    assert alice.converse(modelId=f"global.{SONNET}", messages=HELLO)["output"]
    assert error_code(alice.converse, modelId=f"global.{SONNET}", messages=HELLO) == "ThrottlingException"
    for account, region in ((BOB, HOME), (ALICE, ABROAD)):
        runtime = client(server, account, region, "bedrock-runtime")
        assert runtime.converse(modelId=f"global.{SONNET}", messages=HELLO)["output"]
    usage = {(row["account_id"], row["region"]): row["requests"] for row in admin(server, "GET", "/quotas")["usage"]}
    assert usage == {(ALICE, HOME): 1, (BOB, HOME): 1, (ALICE, ABROAD): 1}


def test_a_fault_with_an_account_strikes_that_accounts_calls_alone(server):
    """On a server several teams share, a fault written for one account (``account``, as a
    rule's match has) leaves the other account's calls alone and keeps its count for its own."""
    admin(server, "POST", "/faults", {"kind": "ThrottlingException", "account": BOB, "count": 1})
    alice = client(server, ALICE, HOME, "bedrock-runtime")
    assert alice.converse(modelId=f"global.{SONNET}", messages=HELLO)["output"]
    assert admin(server, "GET", "/faults")["faults"][0]["remaining"] == 1
    bob = client(server, BOB, HOME, "bedrock-runtime")  # (which retries once: the throttled call is in the history)
    assert bob.converse(modelId=f"global.{SONNET}", messages=HELLO)["output"]
    calls = [(call["account_id"], call["status"]) for call in admin(server, "GET", "/calls")["calls"]]
    assert calls == [(ALICE, 200), (BOB, 429), (BOB, 200)]
    assert admin(server, "GET", "/faults")["faults"][0]["remaining"] == 0
