"""The seed guide, walked end to end against a real server with the real clients.

The guide's own code blocks are read from the seed file and run unchanged (the endpoint comes
from the standard environment variables, as a user would set them): the identity check, the
listing samples, the boto3 and AnthropicBedrock request samples with the global and the
regional (bare) model IDs. The server starts with ``--model-access none`` so the guide's
"subscribe to the Anthropic models" step is needed and is done with the real clients.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from support.seed_guide import code_blocks, seed_models
from support.servers import (
    ACCESS_KEY,
    ACCOUNT_ID,
    CONFIG_TOML,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    USER_NAME,
    RunningServer,
    start_server,
)

pytestmark = pytest.mark.conformance

GLOBAL_SONNET_45 = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
BARE_SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
ACCESS_DENIED = "You don't have access to the model with the specified model ID."


@pytest.fixture(scope="module")
def guide_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("guide"), "--model-access", "none", config=CONFIG_TOML)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def env(aws_env: dict[str, str], guide_server: RunningServer) -> dict[str, str]:
    """The user's shell: credentials and region set, every endpoint pointing at the guide server."""
    endpoints = ("AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_STS",
                 "ANTHROPIC_BEDROCK_BASE_URL")
    return {**aws_env, **dict.fromkeys(endpoints, guide_server.url)}


def run_shell_sample(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    """Run a guide ``aws ...`` command line with the AWS CLI v1 (``python -m awscli``)."""
    argv = shlex.split(command)
    assert argv[0] == "aws"
    return subprocess.run([sys.executable, "-m", "awscli", *argv[1:]], env=env, capture_output=True, text=True,
                          timeout=120)


def run_python_sample(env: dict[str, str], code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / f"sample_{abs(hash(code))}.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)


def only(blocks: list[str], needle: str) -> str:
    matching = [b for b in blocks if needle in b]
    assert len(matching) == 1, f"expected one guide sample containing {needle!r}, found {len(matching)}"
    return matching[0]


def test_guide_walkthrough(env, guide_server, shared_dir, tmp_path):
    import boto3
    from anthropic import AnthropicBedrock

    seed = seed_models(shared_dir)
    seed_ids = [m.model_id for m in seed]
    boto3_samples = code_blocks(shared_dir, "python Boto3 (Python)")
    sdk_samples = code_blocks(shared_dir, "python Python")

    # 1. "Vérifiez que vos identifiants fonctionnent": aws sts get-caller-identity.
    identity_command = only(code_blocks(shared_dir, "bash Shell"), "get-caller-identity").strip()
    result = run_shell_sample(env, identity_command)
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    assert identity["Account"] == ACCOUNT_ID and identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"

    # 2. Before subscribing, the guide's boto3 request sample is refused.
    invoke_sample = only(boto3_samples, "invoke_model(")
    refused = run_python_sample(env, invoke_sample, tmp_path)
    assert refused.returncode != 0
    assert "AccessDeniedException" in refused.stderr and ACCESS_DENIED in refused.stderr

    # 3. "S'abonner aux modèles Anthropic": accept each model's offer (CLI for the first, boto3 for the rest).
    token = run_shell_sample(env, f"aws bedrock list-foundation-model-agreement-offers --model-id {seed_ids[0]} "
                                  "--query offers[0].offerToken --output text")
    assert token.returncode == 0, token.stderr
    created = run_shell_sample(env, f"aws bedrock create-foundation-model-agreement --model-id {seed_ids[0]} "
                                    f"--offer-token {token.stdout.strip()}")
    assert created.returncode == 0 and json.loads(created.stdout) == {"modelId": seed_ids[0]}
    session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
    bedrock = session.client("bedrock", endpoint_url=guide_server.url)
    for model_id in seed_ids[1:]:
        offer = bedrock.list_foundation_model_agreement_offers(modelId=model_id)["offers"][0]
        bedrock.create_foundation_model_agreement(modelId=model_id, offerToken=offer["offerToken"])
    for model_id in seed_ids:
        availability = bedrock.get_foundation_model_availability(modelId=model_id)
        assert availability["agreementAvailability"]["status"] == "AVAILABLE"
        assert availability["regionAvailability"] == "AVAILABLE"

    # 4. "Lister les modèles disponibles": both samples print exactly the table's 10 IDs.
    listing_command = only(code_blocks(shared_dir, "bash AWS CLI"), "list-foundation-models").strip()
    listed = run_shell_sample(env, listing_command)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == seed_ids
    printed = run_python_sample(env, only(boto3_samples, "list_foundation_models("), tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == seed_ids

    # 5. "Effectuer des demandes": the boto3 sample now answers and prints the content blocks.
    answered = run_python_sample(env, invoke_sample, tmp_path)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.startswith("[{'type': 'text', 'text': '")

    # The AnthropicBedrock samples: the first with the reader's credentials filled in, then the
    # "global vs regional" samples with the global and the bare (regional) ID, unchanged.
    credentials_sample = only(sdk_samples, 'aws_access_key="<access key>"')
    credentials_sample = (credentials_sample.replace("<access key>", "ASIATEMPORARYKEY01")
                          .replace("<secret key>", SECRET_KEY).replace("<session_token>", SESSION_TOKEN))
    result = run_python_sample(env, credentials_sample, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "TextBlock(" in result.stdout
    endpoint_samples = [b for b in sdk_samples if 'AnthropicBedrock(aws_region="us-west-2")' in b]
    assert [GLOBAL_SONNET_45 in b for b in endpoint_samples] == [True, False]
    assert f'model="{BARE_SONNET_45}"' in endpoint_samples[1]
    for sample in endpoint_samples:
        result = run_python_sample(env, sample + "print(message.model, message.content[0].text != '')\n", tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "claude-sonnet-4-5-20250929 True"

    # The same calls in-process, with both ID forms, through boto3 and the Anthropic SDK.
    runtime = session.client("bedrock-runtime", endpoint_url=guide_server.url)
    sdk = AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                           base_url=guide_server.url, max_retries=0)
    hello = {"max_tokens": 256, "messages": [{"role": "user", "content": "Hello, world"}],
             "anthropic_version": "bedrock-2023-05-31"}
    for model_id in (GLOBAL_SONNET_45, BARE_SONNET_45):
        body = json.loads(runtime.invoke_model(body=json.dumps(hello), modelId=model_id)["body"].read())
        assert body["model"] == "claude-sonnet-4-5-20250929" and body["content"][0]["text"]
        message = sdk.messages.create(model=model_id, max_tokens=256,
                                      messages=[{"role": "user", "content": "Hello, world"}])
        assert message.model == "claude-sonnet-4-5-20250929" and message.content[0].text

    # 6. Streaming: boto3's InvokeModelWithResponseStream and the SDK's stream helper.
    stream = runtime.invoke_model_with_response_stream(body=json.dumps(hello), modelId=GLOBAL_SONNET_45)
    events = [json.loads(e["chunk"]["bytes"]) for e in stream["body"]]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    streamed_text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert streamed_text
    with sdk.messages.stream(model=BARE_SONNET_45, max_tokens=256,
                             messages=[{"role": "user", "content": "Hello, world"}]) as sdk_stream:
        text = "".join(sdk_stream.text_stream)
        final = sdk_stream.get_final_message()
    assert text and final.stop_reason in ("end_turn", "max_tokens")
