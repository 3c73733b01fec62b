"""Quotas over a real socket: refusals as Bedrock words them, the clients' retries, burndown."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.conformance

SONNET_45 = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_35 = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
THROTTLE_TEXT = "Too many requests, please wait before trying again."
TOKENS_THROTTLE_TEXT = "Too many tokens, please wait before trying again."


def body(max_tokens: int = 100) -> str:
    return json.dumps({"max_tokens": max_tokens, "messages": [{"role": "user", "content": "Hello"}],
                       "anthropic_version": "bedrock-2023-05-31"})


def test_quotas_are_off_by_default(bedrock, bedrock_runtime):
    for _ in range(5):
        bedrock_runtime.invoke_model(modelId=SONNET_45, body=body())
    assert bedrock.quotas() == {"limits": {"requests_per_minute": None, "tokens_per_minute": None}, "usage": []}


def test_requests_per_minute_with_boto3_retries(bedrock, bedrock_runtime):
    bedrock.set_quotas(requests_per_minute=2)
    bedrock_runtime.invoke_model(modelId=SONNET_45, body=body())
    bedrock_runtime.converse(modelId=SONNET_45, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    with pytest.raises(bedrock_runtime.exceptions.ThrottlingException) as info:
        bedrock_runtime.invoke_model(modelId=SONNET_45, body=body())
    assert info.value.response["Error"]["Message"] == THROTTLE_TEXT
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    refused = bedrock.calls()[2:]
    assert len(refused) == 3  # boto3 tried three times, all within the minute
    assert all(c.error_code == "ThrottlingException" and c.injected_fault == "quota:requests_per_minute"
               for c in refused)
    # another model has its own counter
    bedrock_runtime.invoke_model(modelId=HAIKU_35, body=body())


def test_requests_per_minute_with_the_anthropic_sdk(bedrock, anthropic_bedrock):
    import anthropic

    bedrock.set_quotas(requests_per_minute=1)
    anthropic_bedrock.messages.create(model=SONNET_45, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(anthropic.RateLimitError) as info:
        anthropic_bedrock.messages.create(model=SONNET_45, max_tokens=50,
                                          messages=[{"role": "user", "content": "Hi"}])
    assert info.value.body == {"message": THROTTLE_TEXT}
    assert len(bedrock.calls()) == 1 + 3  # the SDK's 2 retries were refused too


def test_tokens_per_minute_reserve_max_tokens_and_burn_output_five_times(bedrock, bedrock_runtime):
    bedrock.add_rule(text="one two three four five six seven eight nine ten")
    bedrock.set_quotas(tokens_per_minute=5000)

    sonnet = bedrock_runtime.invoke_model(modelId=SONNET_45, body=body(max_tokens=1000))
    haiku = bedrock_runtime.invoke_model(modelId=HAIKU_35, body=body(max_tokens=1000))
    usage = {row["model_id"]: row["tokens"] for row in bedrock.quotas()["usage"]}

    def tokens(response, burndown: int) -> int:
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        return (int(headers["x-amzn-bedrock-input-token-count"])
                + burndown * int(headers["x-amzn-bedrock-output-token-count"]))

    assert usage["anthropic.claude-sonnet-4-5-20250929-v1:0"] == tokens(sonnet, 5)
    assert usage["anthropic.claude-3-5-haiku-20241022-v1:0"] == tokens(haiku, 1)

    # input + max_tokens is reserved up front: 4999 more tokens cannot fit in the minute
    with pytest.raises(bedrock_runtime.exceptions.ThrottlingException) as info:
        bedrock_runtime.converse(modelId=SONNET_45, messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                                 inferenceConfig={"maxTokens": 4999})
    assert info.value.response["Error"]["Message"] == TOKENS_THROTTLE_TEXT
    assert bedrock.last_call().injected_fault == "quota:tokens_per_minute"
    bedrock_runtime.converse(modelId=SONNET_45, messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                             inferenceConfig={"maxTokens": 100})


def test_reset_restores_the_quota_baseline(bedrock, bedrock_runtime):
    bedrock.set_quotas(requests_per_minute=1)
    bedrock_runtime.invoke_model(modelId=SONNET_45, body=body())
    bedrock.reset()
    assert bedrock.quotas()["limits"]["requests_per_minute"] is None
    bedrock_runtime.invoke_model(modelId=SONNET_45, body=body())
