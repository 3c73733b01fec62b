"""Invocation logging end to end: configured through boto3 and the AWS CLI, calls made through
boto3, the AWS CLI and the anthropic SDK against a real server, records read back from the
index, the S3 folder and the CloudWatch lines. Also: secrets never reach a sink, and the usage
report shows the regional premium exactly."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest

from support.servers import ACCESS_KEY, ACCOUNT_ID, API_KEY, SECRET_KEY, SESSION_TOKEN

pytestmark = pytest.mark.conformance

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL = f"global.{SONNET}"
US = f"us.{SONNET}"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/BedrockLogging"
ALICE = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"


def full_config(bucket: str, group: str, **flags) -> dict:
    config = {
        "s3Config": {"bucketName": bucket, "keyPrefix": "runs/"},
        "cloudWatchConfig": {"logGroupName": group, "roleArn": ROLE},
        "textDataDeliveryEnabled": True,
        "imageDataDeliveryEnabled": True,
    }
    config.update(flags)
    return config


def by_request(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(record["requestId"], []).append(record)
    return out


def anthropic_body(text: str = "Hello") -> bytes:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                       "messages": [{"role": "user", "content": text}]}).encode()


def test_logging_boto3_every_runtime_operation_reaches_every_sink(clients, sinks):
    bedrock, runtime = clients(region="us-west-2")
    bedrock.put_model_invocation_logging_configuration(loggingConfig=full_config("boto-logs", "/aws/bedrock/boto"))
    ids: dict[str, str] = {}

    reply = runtime.invoke_model(modelId=GLOBAL, body=anthropic_body(), requestMetadata=json.dumps({"team": "search"}))
    ids["InvokeModel"] = reply["ResponseMetadata"]["RequestId"]
    invoke_out = json.loads(reply["body"].read())

    stream = runtime.invoke_model_with_response_stream(modelId=US, body=anthropic_body("stream please"))
    ids["InvokeModelWithResponseStream"] = stream["ResponseMetadata"]["RequestId"]
    chunks = [json.loads(event["chunk"]["bytes"]) for event in stream["body"]]

    converse = runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                                requestMetadata={"project": "alpha"})
    ids["Converse"] = converse["ResponseMetadata"]["RequestId"]

    converse_stream = runtime.converse_stream(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Yo"}]}])
    ids["ConverseStream"] = converse_stream["ResponseMetadata"]["RequestId"]
    converse_events = list(converse_stream["stream"])

    with pytest.raises(runtime.exceptions.ValidationException) as failure:
        runtime.invoke_model(modelId=GLOBAL, body=json.dumps({"anthropic_version": "bedrock-2023-05-31",
                                                               "messages": []}))
    failed_id = failure.value.response["ResponseMetadata"]["RequestId"]

    index = sinks.wait_for([*ids.values(), failed_id])
    s3 = by_request(sinks.s3_records())
    cloudwatch = by_request(sinks.cloudwatch_records())
    for operation, request_id in ids.items():
        record = index[request_id]
        assert s3[request_id] == [record], operation  # exactly one record per call, the same everywhere
        assert cloudwatch[request_id] == [record], operation
        assert record["operation"] == operation
        assert record["identity"] == {"arn": ALICE}
        assert record["accountId"] == ACCOUNT_ID and record["region"] == "us-west-2"
        assert "errorCode" not in record
        assert record["claudeBedrock"]["cost"]["currency"] == "USD"

    invoke = index[ids["InvokeModel"]]
    assert invoke["modelId"] == GLOBAL
    assert invoke["requestMetadata"] == {"team": "search"}
    assert invoke["input"]["inputBodyJson"] == json.loads(anthropic_body())
    assert invoke["output"]["outputBodyJson"] == invoke_out
    assert invoke["input"]["inputTokenCount"] == invoke_out["usage"]["input_tokens"]
    assert invoke["output"]["outputTokenCount"] == invoke_out["usage"]["output_tokens"]
    assert invoke["claudeBedrock"]["endpointType"] == "global"

    streamed = index[ids["InvokeModelWithResponseStream"]]
    assert streamed["modelId"] == US
    assert streamed["output"]["outputBodyJson"] == chunks
    assert streamed["claudeBedrock"]["endpointType"] == "regional"

    conversed = index[ids["Converse"]]
    assert conversed["requestMetadata"] == {"project": "alpha"}
    assert conversed["output"]["outputBodyJson"]["output"] == converse["output"]
    assert conversed["output"]["outputTokenCount"] == converse["usage"]["outputTokens"]

    converse_streamed = index[ids["ConverseStream"]]
    assert converse_streamed["modelId"] == SONNET
    # AWS logs a ConverseStream's output as the Converse response its events add up to
    text = "".join(event["contentBlockDelta"]["delta"].get("text", "")
                   for event in converse_events if "contentBlockDelta" in event)
    metadata = next(event["metadata"] for event in converse_events if "metadata" in event)
    stop = next(event["messageStop"] for event in converse_events if "messageStop" in event)
    assert converse_streamed["output"]["outputBodyJson"] == {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop["stopReason"],
        "usage": metadata["usage"],
        "metrics": metadata["metrics"],
    }

    failed = index[failed_id]
    assert failed["errorCode"] == "ValidationException"
    assert failed["claudeBedrock"]["status"] == 400
    assert failed["input"]["inputBodyJson"]["messages"] == []

    # S3 layout and CloudWatch stream, as AWS lays them out
    # (only this test's objects: one that ran before on the module's server logged to us-east-1)
    batch_files = sinks.s3_batch_keys([*ids.values(), failed_id])
    layout = re.compile(r"^boto-logs/runs/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2/"
                        r"\d{4}/\d{2}/\d{2}/\d{2}/\d{8}T\d{9}Z_[0-9a-f]{16}\.json\.gz$")
    assert batch_files and all(layout.match(p) for p in batch_files), batch_files
    stream_files = {p.relative_to(sinks.data_dir / "cloudwatch").parent.as_posix()
                    for p, _ in sinks.cloudwatch_events()}
    assert "111122223333/us-west-2/%2Faws%2Fbedrock%2Fboto/aws%2Fbedrock%2Fmodelinvocations" in stream_files


def test_logging_request_id_equals_the_response_header(log_server, clients, sinks):
    bedrock, _ = clients(region="us-east-1")  # bearer calls to 127.0.0.1 land in the default region
    bedrock.put_model_invocation_logging_configuration(loggingConfig=full_config("boto-logs", "/aws/bedrock/boto"))
    response = httpx.post(f"{log_server.url}/model/{quote(GLOBAL, safe='')}/invoke", content=anthropic_body(),
                          headers={"Authorization": f"Bearer {API_KEY}", "content-type": "application/json"})
    assert response.status_code == 200
    request_id = response.headers["x-amzn-RequestId"]
    record = sinks.wait_for([request_id])[request_id]
    assert record["requestId"] == request_id
    assert record["identity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/api-key-user"


def test_logging_delete_configuration_stops_logging(clients, sinks):
    bedrock, runtime = clients(region="eu-west-1")
    bedrock.put_model_invocation_logging_configuration(loggingConfig={"s3Config": {"bucketName": "eu-logs"},
                                                                      "textDataDeliveryEnabled": True})
    first = runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "on"}]}])
    sinks.wait_for([first["ResponseMetadata"]["RequestId"]])
    bedrock.delete_model_invocation_logging_configuration()
    second = runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "off"}]}])
    marker = runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "marker"}]}])
    bedrock_us, runtime_us = clients(region="us-west-2")
    bedrock_us.put_model_invocation_logging_configuration(loggingConfig=full_config("boto-logs", "/aws/bedrock/boto"))
    later = runtime_us.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "later"}]}])
    sinks.wait_for([later["ResponseMetadata"]["RequestId"]])  # written after the eu calls
    index = sinks.index_records()
    assert second["ResponseMetadata"]["RequestId"] not in index
    assert marker["ResponseMetadata"]["RequestId"] not in index


def test_logging_text_and_image_delivery_flags(clients, sinks):
    bedrock, runtime = clients(region="ap-southeast-2")
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": [{"role": "user",
                       "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                 "data": png}},
                                   {"type": "text", "text": "describe"}]}]})
    bedrock.put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": "ap-logs"}, "textDataDeliveryEnabled": True, "imageDataDeliveryEnabled": False})
    no_image = runtime.invoke_model(modelId=GLOBAL, body=body)["ResponseMetadata"]["RequestId"]
    bedrock.put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": "ap-logs"}, "textDataDeliveryEnabled": False, "imageDataDeliveryEnabled": True})
    no_text = runtime.invoke_model(modelId=GLOBAL, body=body)["ResponseMetadata"]["RequestId"]
    records = sinks.wait_for([no_image, no_text])
    image_block = records[no_image]["input"]["inputBodyJson"]["messages"][0]["content"][0]
    assert image_block == {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
    assert "outputBodyJson" in records[no_image]["output"]
    assert "inputBodyJson" not in records[no_text]["input"] and "outputBodyJson" not in records[no_text]["output"]
    assert records[no_text]["input"]["inputTokenCount"] > 0 and records[no_text]["output"]["outputTokenCount"] > 0


def test_logging_image_delivery_off_also_keeps_document_data_out(clients, sinks):
    # AWS user guide: "When using the Converse API, any image or document data that you pass is
    # logged in Amazon S3 (if you have enabled delivery and image logging ...)".
    bedrock, runtime = clients(region="ap-northeast-1")
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
    encoded = base64.b64encode(pdf).decode()
    bedrock.put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": "ap-logs"}, "textDataDeliveryEnabled": True, "imageDataDeliveryEnabled": False})
    conversed = runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [
        {"document": {"format": "pdf", "name": "report", "source": {"bytes": pdf}}}, {"text": "summarize"}]}])
    invoked = runtime.invoke_model(modelId=GLOBAL, body=json.dumps({
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": encoded}},
            {"type": "text", "text": "summarize"}]}]}))
    ids = [conversed["ResponseMetadata"]["RequestId"], invoked["ResponseMetadata"]["RequestId"]]
    records = sinks.wait_for(ids)
    converse_block = records[ids[0]]["input"]["inputBodyJson"]["messages"][0]["content"][0]
    assert converse_block == {"document": {"format": "pdf", "name": "report", "source": {}}}
    invoke_block = records[ids[1]]["input"]["inputBodyJson"]["messages"][0]["content"][0]
    assert invoke_block == {"type": "document", "source": {"type": "base64", "media_type": "application/pdf"}}
    assert encoded not in json.dumps(records[ids[0]]) + json.dumps(records[ids[1]])


def test_logging_large_input_goes_to_a_data_object(clients, sinks):
    bedrock, runtime = clients(region="us-west-2")
    bedrock.put_model_invocation_logging_configuration(loggingConfig=full_config("boto-logs", "/aws/bedrock/boto"))
    big_text = "lorem ipsum " * 10_000  # ~120 KB
    reply = runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": big_text}]}])
    request_id = reply["ResponseMetadata"]["RequestId"]
    record = sinks.wait_for([request_id])[request_id]
    uri = record["input"]["inputBodyS3Path"]
    assert uri.startswith("s3://boto-logs/runs/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2/data/")
    assert json.loads(sinks.s3_object(uri))["messages"][0]["content"][0]["text"] == big_text
    assert "outputBodyJson" in record["output"]


def test_logging_a_converse_stream_cut_short_logs_its_events_without_their_padding(log_server, clients, sinks):
    # The ``p`` member pads each event on the wire (as Bedrock pads them); it is no data, and the
    # chunks of an InvokeModelWithResponseStream are logged without theirs too.
    from botocore.exceptions import EventStreamError

    from claude_bedrock.testing import BedrockAdmin

    bedrock, runtime = clients(region="us-east-2")
    bedrock.put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": "cut-logs"}, "textDataDeliveryEnabled": True})
    admin = BedrockAdmin(log_server.url, aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, region="us-east-2")
    fault = admin.inject_fault("stream_error", after_events=3, count=1)
    try:
        response = runtime.converse_stream(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
        with pytest.raises(EventStreamError):
            for _ in response["stream"]:
                pass
    finally:
        admin.remove_fault(fault["id"])
    request_id = response["ResponseMetadata"]["RequestId"]
    record = sinks.wait_for([request_id])[request_id]
    assert record["errorCode"] == "ModelStreamErrorException"
    events = record["output"]["outputBodyJson"]
    assert events[0] == {"messageStart": {"role": "assistant"}} and "contentBlockDelta" in events[-1]
    assert all("p" not in payload for event in events for payload in event.values())


# -- the AWS CLI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(log_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("clihome")
    env = {k: v for k, v in os.environ.items() if not (k.startswith("AWS_") or k.startswith("ANTHROPIC"))}
    env.update(HOME=str(home), AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_ACCESS_KEY_ID="AKIDCLAUDEBEDROCK01", AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=log_server.url,
               AWS_ENDPOINT_URL_BEDROCK=log_server.url)
    return env


def aws(env, *args: str, debug: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "awscli", *args] + (["--debug"] if debug else [])
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_logging_aws_cli_configures_and_its_calls_are_logged(cli_env, sinks, tmp_path):
    config = {"cloudWatchConfig": {"logGroupName": "cli-group", "roleArn": ROLE},
              "s3Config": {"bucketName": "cli-logs"}, "textDataDeliveryEnabled": True}
    aws(cli_env, "bedrock", "put-model-invocation-logging-configuration", "--logging-config", json.dumps(config))
    shown = json.loads(aws(cli_env, "bedrock", "get-model-invocation-logging-configuration").stdout)
    assert shown["loggingConfig"] == config
    out = tmp_path / "out.json"
    body = tmp_path / "body.json"
    body.write_bytes(anthropic_body())
    result = aws(cli_env, "bedrock-runtime", "invoke-model", "--model-id", US, "--body", f"fileb://{body}",
                 str(out), debug=True)
    request_id = re.search(r"'x-amzn-requestid': '([0-9a-f-]{36})'", result.stderr, re.I).group(1)
    record = sinks.wait_for([request_id])[request_id]
    assert record["operation"] == "InvokeModel"
    assert record["modelId"] == US
    assert record["region"] == "us-east-1"
    assert record["output"]["outputBodyJson"] == json.loads(out.read_text())
    assert [r for r in sinks.cloudwatch_records() if r["requestId"] == request_id] == [record]
    # and the CLI reads it back
    listed = subprocess.run([sys.executable, "-m", "claude_bedrock", "logs", "list", "--data-dir",
                             str(sinks.data_dir), "--request-id", request_id, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [record]


# -- the anthropic SDK ---------------------------------------------------------------------------


def test_logging_anthropic_sdk_calls_are_logged(log_server, clients, sinks):
    from anthropic import AnthropicBedrock

    bedrock, _ = clients(region="us-east-2")
    bedrock.put_model_invocation_logging_configuration(loggingConfig=full_config("sdk-logs", "sdk-group"))
    client = AnthropicBedrock(aws_access_key="AKIDCLAUDEBEDROCK01", aws_secret_key=SECRET_KEY,
                              aws_region="us-east-2", base_url=log_server.url, max_retries=0)
    raw = client.messages.with_raw_response.create(model=GLOBAL, max_tokens=50,
                                                   messages=[{"role": "user", "content": "Hello SDK"}])
    message = raw.parse()
    with client.messages.with_streaming_response.create(
            model=GLOBAL, max_tokens=50, stream=True, messages=[{"role": "user", "content": "stream SDK"}]) as streamed:
        stream_id = streamed.headers["x-amzn-requestid"]
        events = [event.type for event in streamed.parse()]
    plain_id = raw.headers["x-amzn-requestid"]
    records = sinks.wait_for([plain_id, stream_id])
    assert records[plain_id]["operation"] == "InvokeModel"
    assert records[plain_id]["output"]["outputBodyJson"]["content"][0]["text"] == message.content[0].text
    assert records[stream_id]["operation"] == "InvokeModelWithResponseStream"
    assert [chunk["type"] for chunk in records[stream_id]["output"]["outputBodyJson"]] == events
    assert records[stream_id]["region"] == "us-east-2"


# -- secrets -------------------------------------------------------------------------------------


def test_logging_secrets_never_reach_any_sink_or_the_server_log(log_server, clients, sinks):
    authorizations: list[str] = []
    for region in ("us-west-1", "us-east-1"):  # SigV4 calls, then bearer calls (default region)
        bedrock, _ = clients(region=region)
        bedrock.put_model_invocation_logging_configuration(loggingConfig=full_config("secret-logs", "secret-group"))
    _, runtime = clients(region="us-west-1", access_key="ASIATEMPORARYKEY01", token=SESSION_TOKEN)
    runtime.meta.events.register("before-send.*", lambda request, **_: authorizations.append(
        request.headers["Authorization"].decode() if isinstance(request.headers["Authorization"], bytes)
        else request.headers["Authorization"]))
    ids = [runtime.converse(modelId=GLOBAL, messages=[{"role": "user", "content": [{"text": "sigv4"}]}])
           ["ResponseMetadata"]["RequestId"]]
    stream = runtime.invoke_model_with_response_stream(modelId=GLOBAL, body=anthropic_body("token"))
    list(stream["body"])
    ids.append(stream["ResponseMetadata"]["RequestId"])
    bearer = httpx.post(f"{log_server.url}/model/{quote(GLOBAL, safe='')}/converse",
                        json={"messages": [{"role": "user", "content": [{"text": "bearer"}]}]},
                        headers={"Authorization": f"Bearer {API_KEY}"})
    ids.append(bearer.headers["x-amzn-RequestId"])
    refused = httpx.post(f"{log_server.url}/model/{quote(GLOBAL, safe='')}/invoke", content=b"not json",
                         headers={"Authorization": f"Bearer {API_KEY}"})
    assert refused.status_code == 400
    ids.append(refused.headers["x-amzn-RequestId"])
    sinks.wait_for(ids)
    assert len(authorizations) == 2 and all(a.startswith("AWS4-HMAC-SHA256 ") for a in authorizations)
    signatures = [a.rsplit("Signature=", 1)[1] for a in authorizations]
    secrets = [SECRET_KEY, SESSION_TOKEN, API_KEY, f"Bearer {API_KEY}", *authorizations, *signatures]
    searched = list(sinks.all_bytes()) + [(log_server.log_path, log_server.log_path.read_bytes())]
    assert any(path.name.endswith(".json.gz") for path, _ in searched)
    assert any(path.suffix == ".jsonl" for path, _ in searched)
    assert any(path.name.startswith("invocation-logs.sqlite3") for path, _ in searched)
    for path, data in searched:
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:12]}... found in {path}"
        assert b"Authorization" not in data and b"authorization" not in data, path


# -- usage ---------------------------------------------------------------------------------------


def test_logging_usage_report_shows_the_regional_premium_exactly(clients, sinks):
    # An unlisted key in development mode is the default account: usage of its own.
    bedrock, runtime = clients(region="us-west-2", access_key="AKIDUSAGEREPORT", secret="any")
    bedrock.put_model_invocation_logging_configuration(loggingConfig={"s3Config": {"bucketName": "usage-logs"}})
    messages = [{"role": "user", "content": [{"text": "Same prompt for both endpoints"}]}]
    global_reply = runtime.converse(modelId=GLOBAL, messages=messages)
    regional_reply = runtime.converse(modelId=US, messages=messages)
    assert global_reply["usage"]["inputTokens"] == regional_reply["usage"]["inputTokens"]
    assert global_reply["usage"]["outputTokens"] == regional_reply["usage"]["outputTokens"]
    records = sinks.wait_for([global_reply["ResponseMetadata"]["RequestId"],
                              regional_reply["ResponseMetadata"]["RequestId"]])
    account = next(iter(records.values()))["accountId"]
    assert account != ACCOUNT_ID
    result = subprocess.run([sys.executable, "-m", "claude_bedrock", "usage", "--data-dir", str(sinks.data_dir),
                             "--account", account, "--format", "json"], capture_output=True, text=True, timeout=60)
    rows = {row["endpoint_type"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"global", "regional"}
    assert rows["global"]["model"] == rows["regional"]["model"] == SONNET
    usage = global_reply["usage"]
    expected_global = (Decimal(usage["inputTokens"]) * 3 + Decimal(usage["outputTokens"]) * 15) / 1_000_000
    assert Decimal(rows["global"]["cost_usd"]) == expected_global
    assert Decimal(rows["regional"]["cost_usd"]) == expected_global * Decimal("1.1")
    table = subprocess.run([sys.executable, "-m", "claude_bedrock", "usage", "--data-dir", str(sinks.data_dir),
                            "--account", account], capture_output=True, text=True, timeout=60).stdout
    regional_line = next(line for line in table.splitlines() if " regional " in line)
    assert regional_line.split()[-1] == format((expected_global * Decimal("1.1")).normalize(), "f")
