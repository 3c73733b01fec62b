"""Unit tests of ``domain.invocation_log``: the AWS ModelInvocationLog record, delivery flags,
the 100 KB split, S3 key naming and the cost extension."""

from __future__ import annotations

import copy
from decimal import Decimal

import orjson
import pytest

from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.domain.invocation_log import (
    LARGE_BODY_BYTES,
    DeliveryConfig,
    S3Location,
    batch_object_key,
    call_cost,
    iso_timestamp,
    plan_deliveries,
    plan_record,
    strip_image_data,
)
from claude_bedrock.service.calls import CallRecord

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
EPOCH = 1_795_716_000.25  # 2026-11-26T18:00:00.250Z
CATALOG = default_catalog()
BUCKET = S3Location("my-logs", "logs/")
FULL = DeliveryConfig(s3=BUCKET, text=True, image=True)


def make_call(**changes) -> CallRecord:
    values = dict(
        request_id="11111111-2222-3333-4444-555555555555",
        operation="InvokeModel",
        account_id="111122223333",
        region="us-west-2",
        identity_arn="arn:aws:iam::111122223333:user/alice",
        model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        started_at=EPOCH,
        resolved_model_id=SONNET_45,
        endpoint_type="global",
        input_body={"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                    "messages": [{"role": "user", "content": "hi"}]},
        output_body={"id": "msg_1", "type": "message", "content": [{"type": "text", "text": "hello"}]},
        usage={"inputTokens": 7, "outputTokens": 3, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0},
        latency_ms=12,
    )
    values.update(changes)
    return CallRecord(**values)


def record_of(call: CallRecord, config: DeliveryConfig = FULL, overflow: S3Location | None = BUCKET):
    return plan_record(call, config, overflow=overflow, call_price=None)


def test_record_schema_invoke_model_fields_and_order():
    record = record_of(make_call()).record
    assert list(record) == ["schemaType", "schemaVersion", "timestamp", "accountId", "identity", "region",
                            "requestId", "operation", "modelId", "input", "output", "claudeBedrock"]
    assert record["schemaType"] == "ModelInvocationLog"
    assert record["schemaVersion"] == "1.0"
    assert record["timestamp"] == "2026-11-26T18:00:00Z"
    assert record["identity"] == {"arn": "arn:aws:iam::111122223333:user/alice"}
    assert record["modelId"] == "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert record["input"] == {
        "inputContentType": "application/json",
        "inputBodyJson": make_call().input_body,
        "inputTokenCount": 7,
        "cacheReadInputTokenCount": 0,
        "cacheWriteInputTokenCount": 0,
    }
    assert record["output"]["outputBodyJson"]["content"][0]["text"] == "hello"
    assert record["output"]["outputTokenCount"] == 3


def test_record_optional_members_request_metadata_and_inference_region():
    routed = record_of(make_call(inference_region="us-east-2", request_metadata={"team": "search"})).record
    assert routed["inferenceRegion"] == "us-east-2"
    assert routed["requestMetadata"] == {"team": "search"}
    local = record_of(make_call(inference_region="us-west-2")).record
    assert "inferenceRegion" not in local and "requestMetadata" not in local


def test_record_failed_call_carries_error_code_and_raw_input():
    call = make_call(status=400, error_code="ValidationException", error_message="bad model",
                     input_body=None, input_bytes=b'{"messages": []}', output_body=None, usage={},
                     resolved_model_id=None, endpoint_type=None)
    record = record_of(call).record
    assert record["errorCode"] == "ValidationException"
    assert record["input"]["inputBodyJson"] == {"messages": []}
    assert "outputBodyJson" not in record["output"]
    assert record["output"]["outputTokenCount"] == 0
    assert record["claudeBedrock"]["status"] == 400
    assert record["claudeBedrock"]["errorMessage"] == "bad model"


def test_record_raw_input_keeps_integers_beyond_64_bits():
    """A failed call's raw body is logged as the standard parser reads it: -2**63 - 1 stays an
    integer (orjson would make it a float)."""
    raw = b'{"top_k": -9223372036854775809, "big": 18446744073709551616}'
    call = make_call(status=400, error_code="ValidationException", input_body=None, input_bytes=raw)
    assert record_of(call).record["input"]["inputBodyJson"] == {"top_k": -2**63 - 1, "big": 2**64}


def test_record_stream_output_is_the_list_of_chunks():
    chunks = [{"type": "message_start"}, {"type": "content_block_delta", "delta": {"text": "a"}}, {"type": "message_stop"}]
    record = record_of(make_call(operation="InvokeModelWithResponseStream", output_body=chunks, streamed=True)).record
    assert record["output"]["outputBodyJson"] == chunks
    assert record["claudeBedrock"]["streamed"] is True


def test_record_converse_stream_output_is_the_converse_response_it_adds_up_to():
    # AWS's ConverseStream records carry a Converse response, not the stream's events.
    events = [{"messageStart": {"role": "assistant"}}, {"contentBlockDelta": {"delta": {"text": "a"}}},
              {"messageStop": {"stopReason": "end_turn"}}]
    response = {"output": {"message": {"role": "assistant", "content": [{"text": "a"}]}},
                "stopReason": "end_turn", "usage": {}, "metrics": {"latencyMs": 5}}
    whole = make_call(operation="ConverseStream", output_body=events, logged_output=response, streamed=True)
    assert record_of(whole).record["output"]["outputBodyJson"] == response
    cut_short = make_call(operation="ConverseStream", output_body=events[:2], streamed=True, status=0)
    assert record_of(cut_short).record["output"]["outputBodyJson"] == events[:2]


def test_record_text_delivery_off_omits_bodies_keeps_counts():
    config = DeliveryConfig(s3=BUCKET, text=False, image=True)
    planned = record_of(make_call(), config)
    assert "inputBodyJson" not in planned.record["input"] and "outputBodyJson" not in planned.record["output"]
    assert planned.record["input"]["inputTokenCount"] == 7
    assert planned.record["output"]["outputTokenCount"] == 3
    assert planned.objects == ()


PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


def anthropic_image_body():
    return {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "text", "text": "what is this?"},
        {"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}]},
    ]}]}


def test_record_image_delivery_off_strips_anthropic_image_data_only():
    body = anthropic_image_body()
    original = copy.deepcopy(body)
    config = DeliveryConfig(s3=BUCKET, text=True, image=False)
    logged = record_of(make_call(input_body=body), config).record["input"]["inputBodyJson"]
    content = logged["messages"][0]["content"]
    assert content[0] == {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
    assert content[1] == {"type": "text", "text": "what is this?"}
    assert content[2]["content"][0]["source"] == {"type": "base64", "media_type": "image/png"}
    assert PNG_B64 not in orjson.dumps(logged).decode()
    assert body == original  # the call's own body is untouched


def test_record_image_delivery_off_strips_converse_bytes():
    body = {"messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": PNG_B64}}},
                                                      {"text": "hi"}]}]}
    stripped = strip_image_data(body)
    assert stripped["messages"][0]["content"][0] == {"image": {"format": "png", "source": {}}}
    assert body["messages"][0]["content"][0]["image"]["source"]["bytes"] == PNG_B64


def test_record_image_delivery_off_strips_document_data_but_not_plain_text_documents():
    text_document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}
    body = {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PNG_B64}},
        text_document,
        {"document": {"format": "pdf", "name": "r", "source": {"bytes": PNG_B64}}},
        {"document": {"format": "txt", "name": "t", "source": {"text": "notes"}}},
    ]}]}
    content = strip_image_data(body)["messages"][0]["content"]
    assert content[0] == {"type": "document", "source": {"type": "base64", "media_type": "application/pdf"}}
    assert content[1] == text_document
    assert content[2] == {"document": {"format": "pdf", "name": "r", "source": {}}}
    assert content[3] == {"document": {"format": "txt", "name": "t", "source": {"text": "notes"}}}


def test_record_image_delivery_off_strips_images_inside_a_content_document():
    # A document whose source is {"type": "content"} may hold image blocks: their data goes too
    # (the document rule must not stop the walk into the source's content).
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    body = {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "a"}, image]}},
    ]}]}
    stripped = strip_image_data(body)
    assert stripped["messages"][0]["content"][0]["source"]["content"] == [
        {"type": "text", "text": "a"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}]
    assert image["source"]["data"] == PNG_B64  # the call's own body is untouched


def test_record_image_delivery_on_keeps_image_data():
    logged = record_of(make_call(input_body=anthropic_image_body())).record["input"]["inputBodyJson"]
    assert logged["messages"][0]["content"][0]["source"]["data"] == PNG_B64


def _body_of_size(size: int) -> dict:
    """A JSON object whose compact encoding is exactly ``size`` bytes."""
    empty = len(orjson.dumps({"t": ""}))
    return {"t": "x" * (size - empty)}


def test_record_large_body_boundary_is_100_kb():
    at_limit = _body_of_size(LARGE_BODY_BYTES)
    assert len(orjson.dumps(at_limit)) == LARGE_BODY_BYTES
    inline = record_of(make_call(input_body=at_limit))
    assert inline.record["input"]["inputBodyJson"] == at_limit and inline.objects == ()
    over = _body_of_size(LARGE_BODY_BYTES + 1)
    split = record_of(make_call(input_body=over))
    assert "inputBodyJson" not in split.record["input"]
    (obj,) = split.objects
    assert split.record["input"]["inputBodyS3Path"] == (
        "s3://my-logs/logs/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2/data/2026/11/26/18/"
        "11111111-2222-3333-4444-555555555555_input.json.gz"
    )
    assert obj.uri == split.record["input"]["inputBodyS3Path"]
    assert orjson.loads(obj.body) == over
    assert split.record["output"]["outputBodyJson"]  # the small output stays inline


def test_record_large_output_goes_to_its_own_object():
    big_stream = [{"type": "content_block_delta", "delta": {"text": "y" * 1000}}] * 120
    planned = record_of(make_call(output_body=big_stream, streamed=True))
    assert planned.record["output"]["outputBodyS3Path"].endswith("_output.json.gz")
    assert orjson.loads(planned.objects[0].body) == big_stream


def test_record_binary_input_goes_to_data_object_or_is_omitted():
    raw = b"\x89PNG\r\n\x1a\n\x00\xff"
    call = make_call(input_body=None, input_bytes=raw, error_code="ValidationException", status=400)
    planned = record_of(call)
    assert planned.record["input"]["inputBodyS3Path"].endswith("_input.bin.gz")
    assert planned.objects[0].body == raw
    omitted = record_of(call, DeliveryConfig(log_group="g", text=True), overflow=None)
    assert "inputBodyS3Path" not in omitted.record["input"] and "inputBodyJson" not in omitted.record["input"]
    assert omitted.record["claudeBedrock"]["inputBodyOmitted"] == "binary"


def test_record_cloudwatch_without_large_data_keeps_large_body_inline():
    over = _body_of_size(LARGE_BODY_BYTES + 10)
    config = DeliveryConfig(log_group="/aws/bedrock/x", text=True, image=True)
    planned = plan_deliveries(make_call(input_body=over), config, None)
    assert planned.s3 is None
    assert planned.cloudwatch is not None and planned.cloudwatch.record["input"]["inputBodyJson"] == over
    assert planned.index is planned.cloudwatch


def test_record_both_sinks_share_data_objects_once():
    over = _body_of_size(LARGE_BODY_BYTES + 10)
    config = DeliveryConfig(s3=BUCKET, log_group="g", large_data=BUCKET, text=True, image=True)
    planned = plan_deliveries(make_call(input_body=over), config, None)
    assert planned.s3.record["input"]["inputBodyS3Path"] == planned.cloudwatch.record["input"]["inputBodyS3Path"]
    assert len(planned.objects) == 1
    assert planned.index is planned.s3


@pytest.mark.parametrize(
    ("prefix", "expected_root"),
    [
        ("", "AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2"),
        ("logs/", "logs/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2"),
        ("a/b", "a/b/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2"),
    ],
)
def test_record_batch_key_layout(prefix, expected_root):
    key = batch_object_key(S3Location("b", prefix), "111122223333", "us-west-2", EPOCH, "0a1b2c3d4e5f6789")
    assert key == f"{expected_root}/2026/11/26/18/20261126T180000250Z_0a1b2c3d4e5f6789.json.gz"


def test_record_iso_timestamp_is_utc_whole_seconds():
    assert iso_timestamp(0) == "1970-01-01T00:00:00Z"
    assert iso_timestamp(EPOCH) == "2026-11-26T18:00:00Z"


def test_record_delivery_config_from_logging_config():
    config = DeliveryConfig.from_logging_config({
        "s3Config": {"bucketName": "b", "keyPrefix": "p"},
        "cloudWatchConfig": {"logGroupName": "g", "roleArn": "arn:aws:iam::1:role/r",
                             "largeDataDeliveryS3Config": {"bucketName": "big"}},
        "textDataDeliveryEnabled": True,
    })
    assert config.s3 == S3Location("b", "p")
    assert config.log_group == "g"
    assert config.large_data == S3Location("big", "")
    assert config.text is True and config.image is False  # absent flag: off
    assert not DeliveryConfig.from_logging_config({}).enabled


# -- cost -------------------------------------------------------------------------------------


def test_record_cost_regional_is_exactly_1_1_times_global_for_sonnet_4_5():
    model = CATALOG.get(SONNET_45)
    usage = {"inputTokens": 1000, "outputTokens": 500, "cacheReadInputTokens": 200, "cacheWriteInputTokens": 100,
             "cacheWrite5mInputTokens": 100}
    glob = call_cost(make_call(usage=usage), model)
    regional = call_cost(make_call(usage=usage, endpoint_type="regional",
                                   model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0"), model)
    # 1000*3 + 500*15 + 100*3*1.25 + 200*3*0.1 = 10935 per million
    assert glob.total == Decimal("0.010935")
    assert regional.total == Decimal("1.1") * glob.total == Decimal("0.0120285")


def test_record_cost_no_premium_for_older_models():
    model = CATALOG.get("anthropic.claude-sonnet-4-20250514-v1:0")
    usage = {"inputTokens": 1000, "outputTokens": 1000}
    assert call_cost(make_call(usage=usage, endpoint_type="regional"), model).total == Decimal("0.018")


def test_record_cost_cache_write_ttls_and_long_context():
    model = CATALOG.get(SONNET_45)
    usage = {"inputTokens": 150_000, "outputTokens": 1000, "cacheReadInputTokens": 40_000,
             "cacheWriteInputTokens": 20_000, "cacheWrite5mInputTokens": 5_000, "cacheWrite1hInputTokens": 15_000}
    price = call_cost(make_call(usage=usage), model)
    assert price.long_context  # 210K total input > 200K
    assert price.cache_write_1h == Decimal(15_000) * Decimal(6) * 2 / Decimal(1_000_000)
    assert price.output == Decimal(1000) * Decimal("22.50") / Decimal(1_000_000)


def test_record_cost_untyped_cache_writes_count_as_5m():
    model = CATALOG.get(SONNET_45)
    price = call_cost(make_call(usage={"inputTokens": 0, "outputTokens": 0, "cacheWriteInputTokens": 1000}), model)
    assert price.cache_write_5m == Decimal("0.00375")


def test_record_cost_attached_as_exact_strings():
    planned = plan_deliveries(make_call(), FULL, CATALOG.get(SONNET_45))
    cost = planned.s3.record["claudeBedrock"]["cost"]
    assert cost == {"currency": "USD", "total": "0.000066", "input": "0.000021", "output": "0.000045",
                    "cacheWrite5m": "0", "cacheWrite1h": "0", "cacheRead": "0", "regionalMultiplier": "1",
                    "longContext": False}
    assert call_cost(make_call(resolved_model_id=None, endpoint_type=None), None) is None


def test_record_cost_of_count_tokens_is_zero():
    """'Using the CountTokens API doesn't incur charges.' (Bedrock user guide, count-tokens)"""
    price = call_cost(make_call(operation="CountTokens", usage={"inputTokens": 1000, "outputTokens": 0}),
                      CATALOG.get(SONNET_45))
    assert price.total == price.input == 0
