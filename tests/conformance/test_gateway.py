"""Gateway mode (``serve --upstream``): a claude-bedrock server answering from an upstream
Bedrock. The upstream here is a second, strict claude-bedrock server on its own socket (the
only Bedrock this offline machine has), holding the gateway's own credentials; callers use the
unmodified official clients against the gateway, as they would against AWS (fixtures in
``conftest``, set-up in ``support.gateway``)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from claude_bedrock.testing.admin import BedrockAdmin
from support.gateway import (
    GATEWAY_KEY,
    GATEWAY_SECRET,
    UPSTREAM_CONFIG,
    GLOBAL_SONNET,
    SONNET,
    UPSTREAM_ACCOUNT,
    US_HAIKU,
    boto3_runtime,
    gateway_config,
    invoke_body,
)
from support.fake_upstream import TEXT_ANSWER, Reply, chunk, fake_upstream
from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, RunningServer, start_server


def test_gateway_invoke_model_answers_as_the_upstream_does(via_gateway, direct, upstream_admin):
    relayed = via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    answer = json.loads(relayed["body"].read())
    expected = json.loads(direct.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())["body"].read())
    assert answer["content"] == expected["content"] and answer["content"][0]["text"]
    assert answer["usage"] == expected["usage"]
    assert answer["stop_reason"] == expected["stop_reason"] == "max_tokens"
    assert answer["model"] == "claude-sonnet-4-5-20250929"
    # the id is the gateway's own, from its request id
    assert answer["id"].startswith("msg_bdrk_01") and answer["id"] != expected["id"]
    headers = relayed["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(expected["usage"]["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(expected["usage"]["output_tokens"])
    # upstream: one streamed call, on the profile the caller named, with the gateway's account,
    # in the caller's region
    first = upstream_admin.calls()[0]
    assert first.operation == "InvokeModelWithResponseStream"
    assert first.model_id == GLOBAL_SONNET
    assert first.account_id == UPSTREAM_ACCOUNT and first.region == REGION


def test_gateway_stream_relays_every_event_with_the_gateway_metrics(via_gateway, direct, upstream_admin):
    events = list(via_gateway.invoke_model_with_response_stream(modelId=US_HAIKU, body=invoke_body())["body"])
    expected = list(direct.invoke_model_with_response_stream(modelId=US_HAIKU, body=invoke_body())["body"])
    decoded = [json.loads(e["chunk"]["bytes"]) for e in events]
    wanted = [json.loads(e["chunk"]["bytes"]) for e in expected]
    assert [e["type"] for e in decoded] == [e["type"] for e in wanted]
    assert decoded[0]["type"] == "message_start" and decoded[-1]["type"] == "message_stop"
    assert decoded[1:-1] == wanted[1:-1]  # every content event, and message_delta's usage
    metrics = decoded[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == wanted[-2]["usage"]["output_tokens"]
    assert upstream_admin.last_call().model_id == US_HAIKU


def test_gateway_converse_and_converse_stream(via_gateway, direct, upstream_admin):
    messages = [{"role": "user", "content": [{"text": "Name three rivers"}]}]
    relayed = via_gateway.converse(modelId=GLOBAL_SONNET, messages=messages, inferenceConfig={"maxTokens": 80})
    expected = direct.converse(modelId=GLOBAL_SONNET, messages=messages, inferenceConfig={"maxTokens": 80})
    assert relayed["output"] == expected["output"]
    assert relayed["usage"] == expected["usage"] and relayed["stopReason"] == expected["stopReason"]
    stream = via_gateway.converse_stream(modelId=GLOBAL_SONNET, messages=messages, inferenceConfig={"maxTokens": 80})
    kinds = [next(iter(event)) for event in stream["stream"]]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert "contentBlockDelta" in kinds
    # Converse reached the upstream as an Anthropic stream, as every call does
    assert {call.operation for call in upstream_admin.calls()} == {"InvokeModelWithResponseStream", "Converse"}


def test_gateway_count_tokens_asks_the_upstream(via_gateway, upstream_admin):
    messages = [{"role": "user", "content": [{"text": "How many tokens is this sentence?"}]}]
    relayed = via_gateway.count_tokens(modelId=SONNET, input={"converse": {"messages": messages}})
    assert relayed["inputTokens"] > 0
    recorded = upstream_admin.last_call()
    assert recorded.operation == "CountTokens" and recorded.model_id == SONNET
    assert recorded.usage["inputTokens"] == relayed["inputTokens"]


def test_gateway_passes_upstream_throttling_through(via_gateway, upstream_admin):
    upstream_admin.inject_fault("ThrottlingException", message="Too many tokens, please wait before trying again.")
    with pytest.raises(via_gateway.exceptions.ThrottlingException) as caught:
        via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert caught.value.response["Error"]["Message"] == "Too many tokens, please wait before trying again."


def test_gateway_stream_error_mid_stream_becomes_the_same_frame(via_gateway, upstream_admin):
    from botocore.exceptions import EventStreamError

    upstream_admin.inject_fault("stream_error", exception="modelStreamErrorException", after_events=3)
    body = via_gateway.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"]
    received = []
    with pytest.raises(EventStreamError) as caught:
        for event in body:
            received.append(json.loads(event["chunk"]["bytes"]))
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert [event["type"] for event in received][:1] == ["message_start"] and len(received) == 3


def test_gateway_stream_error_as_first_frame(via_gateway, upstream_admin):
    from botocore.exceptions import EventStreamError

    upstream_admin.inject_fault("stream_error", exception="throttlingException", after_events=0)
    body = via_gateway.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"]
    with pytest.raises(EventStreamError) as caught:
        list(body)
    assert caught.value.response["Error"]["Code"] == "throttlingException"
    # InvokeModel, whole: the same upstream failure is a plain 429
    upstream_admin.inject_fault("stream_error", exception="throttlingException", after_events=0)
    with pytest.raises(via_gateway.exceptions.ThrottlingException):
        via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())


def test_gateway_bad_request_never_reaches_the_upstream(via_gateway, upstream_admin):
    bad = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 0,
                      "messages": [{"role": "user", "content": "x"}]})
    with pytest.raises(via_gateway.exceptions.ValidationException):
        via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=bad)
    assert upstream_admin.calls() == []


def test_gateway_anthropic_sdk_streams_through(gateway: RunningServer, upstream_admin):
    from anthropic import AnthropicBedrock

    client = AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                              base_url=gateway.url, max_retries=0)
    with client.messages.stream(model=GLOBAL_SONNET, max_tokens=40,
                                messages=[{"role": "user", "content": "Stream please"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text
    assert final.usage.output_tokens == upstream_admin.last_call().usage["outputTokens"]


def test_gateway_records_the_upstream_usage(gateway: RunningServer, via_gateway, upstream_admin):
    via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body("Count me in the gateway's records"))
    with BedrockAdmin(gateway.url) as admin:
        mine = admin.last_call()
    assert mine.operation == "InvokeModel" and mine.account_id != UPSTREAM_ACCOUNT
    assert mine.usage["inputTokens"] == upstream_admin.last_call().usage["inputTokens"]
    assert mine.usage["outputTokens"] == upstream_admin.last_call().usage["outputTokens"]


# --------------------------------------------------------------------------- the operator's mistakes


def test_gateway_with_refused_credentials_says_so_without_the_upstream_words(upstream, tmp_path: Path):
    running = start_server(tmp_path, config=gateway_config(upstream.url, secret="not-the-secret"))
    try:
        client = boto3_runtime(running.url)
        with pytest.raises(client.exceptions.InternalServerException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        message = caught.value.response["Error"]["Message"]
        assert "gateway's credentials" in message and "InvalidSignatureException" in message
        assert "canonical" not in message.lower()  # the upstream's own words stay in the log
    finally:
        running.stop()
    log = running.log_text()
    assert "refused the gateway's credentials" in log
    assert "not-the-secret" not in log and GATEWAY_SECRET not in log


def test_gateway_account_without_upstream_model_access_is_the_operators_to_fix(gateway, via_gateway, upstream,
                                                                               upstream_admin):
    """Audit (gwwalk): the upstream's "You don't have access to the model" is about the gateway's
    own account (callers' model access is decided by the gateway first). It reached callers as if
    their account lacked access, which their own GetFoundationModelAvailability denied, and the
    operator's log held no line telling it from the gateway's own refusals."""
    import boto3

    control = boto3.client("bedrock", endpoint_url=upstream.url, region_name=REGION, aws_access_key_id=GATEWAY_KEY,
                           aws_secret_access_key=GATEWAY_SECRET)
    control.delete_foundation_model_agreement(modelId="anthropic.claude-haiku-4-5-20251001-v1:0")
    try:
        with pytest.raises(via_gateway.exceptions.AccessDeniedException) as caught:
            via_gateway.converse(modelId=US_HAIKU, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    finally:
        upstream_admin.reset()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "gateway's own account has no access" in caught.value.response["Error"]["Message"]
    assert "upstream refused the gateway's account access to the model" in gateway.log_text()


def test_gateway_with_an_unreachable_upstream_answers_503(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    running = start_server(tmp_path, config=gateway_config(dead))
    try:
        client = boto3_runtime(running.url)
        with pytest.raises(client.exceptions.ServiceUnavailableException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert "could not reach its upstream" in caught.value.response["Error"]["Message"]
        events = client.invoke_model_with_response_stream
        with pytest.raises(client.exceptions.ServiceUnavailableException):
            events(modelId=GLOBAL_SONNET, body=invoke_body())
    finally:
        running.stop()
    assert "Traceback" not in running.log_text()


def test_gateway_with_an_upstream_that_never_accepts_the_connection_answers_503(tmp_path: Path):
    """Audit regression: an upstream whose connections are never accepted (a firewall that
    drops them, a host that is down: here a listening socket whose queue is full, so its SYNs
    are dropped) was answered, after the 5 s connect timeout, ``408 ModelTimeoutException``
    ("did not answer in time"), where the README promises an unreachable upstream's 503."""
    import time

    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        address, queued = full.getsockname(), []
        try:
            while True:  # fill the accept queue until a connection is no longer taken
                probe = socket.socket()
                probe.settimeout(0.5)
                queued.append(probe)
                try:
                    probe.connect(address)
                except OSError:
                    break
                assert len(queued) < 50
            running = start_server(tmp_path, config=gateway_config(f"http://127.0.0.1:{address[1]}"))
            try:
                client = boto3_runtime(running.url)
                began = time.monotonic()
                with pytest.raises(client.exceptions.ServiceUnavailableException) as caught:
                    client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
                assert time.monotonic() - began < 15
                assert "could not reach its upstream" in caught.value.response["Error"]["Message"]
            finally:
                running.stop()
        finally:
            for probe in queued:
                probe.close()
    assert "upstream unreachable" in running.log_text() and "Traceback" not in running.log_text()


def test_gateway_start_up_says_where_calls_go(gateway: RunningServer, upstream: RunningServer):
    assert f"gateway mode: model calls are answered by {upstream.url}, each caller's region" in gateway.log_text()


def test_gateway_upstream_silent_past_its_timeout_answers_408(upstream, upstream_admin, tmp_path: Path):
    running = start_server(tmp_path, "--upstream-timeout", "1", config=gateway_config(upstream.url))
    try:
        upstream_admin.inject_fault("latency", latency_ms=4000)
        client = boto3_runtime(running.url)
        with pytest.raises(client.exceptions.ModelTimeoutException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408
        assert "did not answer in time" in caught.value.response["Error"]["Message"]
    finally:
        running.stop()


def test_gateway_pointed_at_itself_refuses_to_start(tmp_path: Path):
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "claude_bedrock", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
         "--upstream", f"http://localhost:{port}"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "AWS_ACCESS_KEY_ID": GATEWAY_KEY, "AWS_SECRET_ACCESS_KEY": GATEWAY_SECRET},
    )
    assert done.returncode == 2
    assert "is this server itself" in done.stderr and "Traceback" not in done.stderr


def test_gateway_thinking_blocks_go_back_upstream_which_checks_them(via_gateway, upstream_admin):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    question = {"role": "user", "content": "Think, then answer"}
    first = json.loads(via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=json.dumps({
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 2000, "thinking": thinking,
        "messages": [question]}))["body"].read())
    assert first["content"][0]["type"] == "thinking" and first["content"][0]["signature"]
    follow_up = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2000, "thinking": thinking,
                 "messages": [question, {"role": "assistant", "content": first["content"]},
                              {"role": "user", "content": "And then?"}]}
    second = json.loads(via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=json.dumps(follow_up))["body"].read())
    assert second["content"][-1]["type"] == "text"
    # a forged block is refused by the upstream, and the caller hears it as the upstream said it
    forged = json.loads(json.dumps(follow_up))
    forged["messages"][1]["content"][0]["thinking"] += " (edited)"
    with pytest.raises(via_gateway.exceptions.ValidationException) as caught:
        via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=json.dumps(forged))
    assert upstream_admin.last_call().error_code == "ValidationException"
    assert caught.value.response["Error"]["Message"] == upstream_admin.last_call().error_message


# --------------------------------------------------------------------------- settings that are not the body


@pytest.fixture()
def recorded_upstream(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An upstream (a claude-bedrock app, development mode) that records every request's headers."""
    from claude_bedrock.service.app import create_app
    from claude_bedrock.settings import Settings
    from support.inprocess import serve_in_thread

    seen: list[dict[str, str]] = []
    upstream_app = create_app(Settings(data_dir=str(tmp_path / "upstream")))

    async def recording(scope, receive, send):
        if scope["type"] == "http":
            seen.append({name.decode(): value.decode() for name, value in scope["headers"]})
        await upstream_app(scope, receive, send)

    with serve_in_thread(recording) as url:  # type: ignore[arg-type]
        yield url, seen


def test_gateway_asks_the_upstream_for_the_callers_tier_and_latency(recorded_upstream, tmp_path: Path):
    url, seen = recorded_upstream
    running = start_server(tmp_path / "gateway", config=gateway_config(url))
    try:
        client = boto3_runtime(running.url)
        reply = client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body(), serviceTier="priority",
                                    performanceConfigLatency="optimized")
        assert reply["serviceTier"] == "priority"
        assert seen[-1]["x-amzn-bedrock-service-tier"] == "priority"
        assert seen[-1]["x-amzn-bedrock-performanceconfig-latency"] == "optimized"
        client.converse(modelId=GLOBAL_SONNET, messages=[{"role": "user", "content": [{"text": "hi"}]}],
                        serviceTier={"type": "flex"}, performanceConfig={"latency": "standard"})
        assert seen[-1]["x-amzn-bedrock-service-tier"] == "flex"
        assert seen[-1]["x-amzn-bedrock-performanceconfig-latency"] == "standard"
        client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert "x-amzn-bedrock-service-tier" not in seen[-1]
    finally:
        running.stop()


def test_gateway_refuses_a_guardrail_rather_than_answer_unguarded(recorded_upstream, tmp_path: Path):
    url, seen = recorded_upstream
    running = start_server(tmp_path / "gateway", config=gateway_config(url))
    try:
        client = boto3_runtime(running.url)
        with pytest.raises(client.exceptions.ValidationException, match="without guardrails"):
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body(), guardrailIdentifier="abc123",
                                guardrailVersion="1")
        with pytest.raises(client.exceptions.ValidationException, match="without guardrails"):
            client.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body(),
                                                     guardrailIdentifier="abc123", guardrailVersion="1")
        with pytest.raises(client.exceptions.ValidationException, match="without guardrails"):
            client.converse(modelId=GLOBAL_SONNET, messages=[{"role": "user", "content": [{"text": "hi"}]}],
                            guardrailConfig={"guardrailIdentifier": "abc123", "guardrailVersion": "1"})
        assert seen == []  # nothing reached the upstream
    finally:
        running.stop()


def test_gateway_upstream_connection_cut_mid_stream_says_so(via_gateway, upstream_admin):
    from botocore.exceptions import EventStreamError

    upstream_admin.inject_fault("drop_connection", after_events=3)
    body = via_gateway.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"]
    received = []
    with pytest.raises(EventStreamError) as caught:
        for event in body:
            received.append(event)
    assert len(received) == 3
    assert caught.value.response["Error"]["Code"] == "serviceUnavailableException"
    assert "broke during the answer" in caught.value.response["Error"]["Message"]


def test_gateway_upstream_connection_cut_after_its_head_is_not_unreachable(gateway, via_gateway, upstream_admin):
    """Audit (gwsoak): an upstream that answered (its 200 head came) and then dropped the
    connection before the first event was reported as unreachable, to callers ("could not
    reach its upstream") and in the operator's log ("upstream unreachable"), which sends the
    operator looking for a network fault where the upstream is up and cut an answer."""
    upstream_admin.inject_fault("drop_connection", after_events=0)
    with pytest.raises(via_gateway.exceptions.ServiceUnavailableException) as caught:
        via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body("Cut me after the head"))
    assert "broke during the answer" in caught.value.response["Error"]["Message"]
    assert upstream_admin.last_call().error_code == "ConnectionDropped"  # the upstream was reached
    line = next(line for line in reversed(gateway.log_text().splitlines()) if "claude_bedrock.upstream" in line)
    assert "upstream connection broke" in line and "unreachable" not in line


def _serve_until_it_stops(tmp_path: Path, config: str, env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    """``serve`` a gateway that is expected to refuse to start; its exit."""
    import sys

    (tmp_path / "c.toml").write_text(config)
    process_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_BEDROCK_", "AWS_"))}
    process_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "claude_bedrock", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--config", str(tmp_path / "c.toml")],
        capture_output=True, text=True, timeout=60, env=process_env,
    )  # fmt: skip


#: The gateway's credential mistakes, and what botocore's chain (installed with the tests, as
#: boto3's) says of each; the package's own static rules say the second message.
CREDENTIAL_MISTAKES = [
    ('profile = "nope"\n', {}, "The config profile (nope) could not be found", "AWS profile 'nope' not found"),
    ("", {"AWS_PROFILE": "sso"}, "no credentials for the gateway's own calls",
     "obtains credentials through sso_session"),
    ("", {"AWS_ACCESS_KEY_ID": "AKIAHALF"}, "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY",
     "AWS_SECRET_ACCESS_KEY is not set"),
    ("", {}, "no credentials for the gateway's own calls", "no credentials for the gateway's own calls"),
]


def _gateway_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile sso]\nsso_session = corp\nsso_start_url = https://x\n")
    return home


@pytest.mark.parametrize(("table", "env", "message", "_static_message"), CREDENTIAL_MISTAKES)
def test_gateway_without_usable_credentials_refuses_to_start_in_one_line(tmp_path: Path, table, env, message,
                                                                         _static_message):
    """Audit regression: a profile the client cannot use (missing, SSO) or half a key pair in
    the environment made every call an unhandled 500 with a traceback in the log; none at all
    was found only at the first call. The gateway now finds its credentials at start-up."""
    home = _gateway_home(tmp_path)
    config = CONFIG_TOML + '\n[upstream]\nendpoint = "http://127.0.0.1:9"\n' + table
    done = _serve_until_it_stops(tmp_path, config, {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true", **env})
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert "--upstream" in done.stderr


@pytest.mark.parametrize(("bundle", "reason"), [("missing.pem", "No such file or directory"),
                                               ("empty.pem", "")])
def test_gateway_with_an_unusable_aws_ca_bundle_refuses_to_start_in_one_line(tmp_path: Path, bundle, reason):
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    config = CONFIG_TOML + '\n[upstream]\nendpoint = "https://127.0.0.1:9"\n'
    done = _serve_until_it_stops(tmp_path, config, {"AWS_ACCESS_KEY_ID": "AKIAGATEWAY", "AWS_SECRET_ACCESS_KEY": "s",
                                                    "AWS_CA_BUNDLE": str(tmp_path / bundle)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "--upstream: the CA bundle" in done.stderr
    assert str(tmp_path / bundle) in done.stderr and reason in done.stderr


def test_gateway_reads_its_ca_bundle_once(tmp_path: Path, monkeypatch):
    # The context checked at start-up is the one its upstream connections use: the bundle was
    # read and a context built (tens of ms) again on the first upstream call.
    import asyncio

    from claude_bedrock.adapters.bedrock_upstream import BedrockUpstreamEngine
    from claude_bedrock.client import connections, httpx_transport
    from claude_bedrock.settings import build_settings
    from support.certificates import self_signed

    cert = self_signed(tmp_path / "certs")
    built = []
    real = connections.tls_context

    def counting(bundle):
        built.append(bundle)
        return real(bundle)

    monkeypatch.setattr(connections, "tls_context", counting)
    monkeypatch.setattr(httpx_transport, "tls_context", counting, raising=False)
    (tmp_path / "c.toml").write_text('[upstream]\nendpoint = "https://127.0.0.1:9"\n')
    engine = BedrockUpstreamEngine(build_settings({}, {}, str(tmp_path / "c.toml")),
                                   env={"AWS_ACCESS_KEY_ID": "AKIAGW", "AWS_SECRET_ACCESS_KEY": "s",
                                        "AWS_CA_BUNDLE": str(cert.cert)})
    asyncio.run(engine._client_for("us-east-1"))
    assert built == [str(cert.cert)]


@pytest.mark.parametrize(("table", "env", "_botocore_message", "message"), CREDENTIAL_MISTAKES)
def test_gateway_without_botocore_finds_its_credentials_by_the_clients_static_rules(tmp_path: Path, table, env,
                                                                                   _botocore_message, message):
    from claude_bedrock.adapters.bedrock_upstream import BedrockUpstreamEngine
    from claude_bedrock.settings import ConfigError, build_settings

    (tmp_path / "c.toml").write_text('[upstream]\nendpoint = "http://127.0.0.1:9"\n' + table)
    settings = build_settings({}, {}, str(tmp_path / "c.toml"))
    home = _gateway_home(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        BedrockUpstreamEngine(settings, env={"HOME": str(home), **env})  # not os.environ: botocore is not asked
    engine = BedrockUpstreamEngine(settings.replace(upstream_credentials=None),
                                   env={"AWS_ACCESS_KEY_ID": "AKIAGW", "AWS_SECRET_ACCESS_KEY": "s"})
    assert engine.describe().endswith("with credentials from environment")


def test_gateway_takes_its_credentials_from_the_environment_and_says_so(upstream, upstream_admin, tmp_path: Path):
    config = CONFIG_TOML + f'\n[upstream]\nendpoint = "{upstream.url}"\n'
    running = start_server(tmp_path, config=config, env={
        "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": GATEWAY_KEY, "AWS_SECRET_ACCESS_KEY": GATEWAY_SECRET})
    try:
        boto3_runtime(running.url).invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    finally:
        running.stop()
    assert upstream_admin.last_call().account_id == UPSTREAM_ACCOUNT
    assert "with credentials from the AWS credential chain (env)" in running.log_text()  # static: not refreshed
    assert GATEWAY_SECRET not in running.log_text()


def test_gateway_table_profile_goes_through_botocore_whatever_the_environment_api_key(upstream, upstream_admin,
                                                                                      tmp_path: Path):
    """Audit regression: an AWS_BEARER_TOKEN_BEDROCK in the gateway's environment made the
    [upstream] table's profile go to the static rules, which refuse a profile that runs a
    process, assumes a role or uses SSO: the server did not start. The table's profile is the
    explicit choice (as for the client and botocore) and goes through botocore's chain."""
    import stat
    import sys

    keys = json.dumps({"Version": 1, "AccessKeyId": GATEWAY_KEY, "SecretAccessKey": GATEWAY_SECRET})
    process = tmp_path / "gateway-credentials"
    process.write_text(f"#!{sys.executable}\nprint({keys!r})\n")
    process.chmod(process.stat().st_mode | stat.S_IXUSR)
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(f"[profile gateway]\ncredential_process = {process}\n")
    config = CONFIG_TOML + f'\n[upstream]\nendpoint = "{upstream.url}"\nprofile = "gateway"\n'
    running = start_server(tmp_path, config=config, env={
        "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", "AWS_BEARER_TOKEN_BEDROCK": "a-callers-key"})
    try:
        boto3_runtime(running.url).invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    finally:
        running.stop()
    assert upstream_admin.last_call().account_id == UPSTREAM_ACCOUNT
    assert "credentials from the AWS credential chain (custom-process" in running.log_text()


# --------------------------------------------------------------------------- a misbehaving upstream


@pytest.fixture(scope="module")
def odd_upstream() -> Iterator[tuple[str, Reply]]:
    reply = Reply()
    with fake_upstream(reply) as url:
        yield url, reply


@pytest.fixture(scope="module")
def odd_gateway(odd_upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("odd-gateway"), config=gateway_config(odd_upstream[0]))
    yield running
    running.stop()


def test_gateway_reports_the_tier_and_latency_the_upstream_served_not_the_ones_asked(odd_upstream, odd_gateway):
    """``serviceTier`` is "the processing tier type used for serving the request" (botocore's
    InvokeModelResponse): an upstream that served a priority call at the standard tier says so
    in its response headers, and every rendering tells the caller what it said (the gateway
    echoed what the caller had asked)."""
    reply = odd_upstream[1]
    reply.body = b"".join(chunk(event) for event in TEXT_ANSWER)
    reply.headers = {"X-Amzn-Bedrock-Service-Tier": "standard", "X-Amzn-Bedrock-PerformanceConfig-Latency": "standard"}
    client = boto3_runtime(odd_gateway.url)
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    asked = {"serviceTier": "priority", "performanceConfigLatency": "optimized"}
    converse_asked = {"serviceTier": {"type": "priority"}, "performanceConfig": {"latency": "optimized"}}
    try:
        whole = client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body(), **asked)
        streamed = client.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body(), **asked)
        list(streamed["body"])
        for response in (whole, streamed):
            assert (response["serviceTier"], response["performanceConfigLatency"]) == ("standard", "standard")
        answer = client.converse(modelId=GLOBAL_SONNET, messages=messages, **converse_asked)
        assert (answer["serviceTier"], answer["performanceConfig"]) == ({"type": "standard"}, {"latency": "standard"})
        events = list(client.converse_stream(modelId=GLOBAL_SONNET, messages=messages, **converse_asked)["stream"])
        metadata = next(event["metadata"] for event in events if "metadata" in event)
        assert (metadata["serviceTier"], metadata["performanceConfig"]) == ({"type": "standard"},
                                                                            {"latency": "standard"})
        reply.headers = {}  # an upstream that reports neither: nor does the gateway
        answer = client.converse(modelId=GLOBAL_SONNET, messages=messages, **converse_asked)
        assert "serviceTier" not in answer and "performanceConfig" not in answer
        assert "serviceTier" not in client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body(), **asked)
    finally:
        reply.headers = {}


def test_gateway_upstream_stream_ending_before_message_stop_is_an_error(odd_upstream, odd_gateway):
    """Audit regression: an upstream stream that ended cleanly before ``message_stop`` reached
    stream callers as a complete stream, cut short (a truncated answer taken for whole), and
    InvokeModel and Converse callers as an unhandled 500 with a traceback in the log."""
    from botocore.exceptions import EventStreamError

    odd_upstream[1].body = b"".join(chunk(event) for event in TEXT_ANSWER[:3])
    client = boto3_runtime(odd_gateway.url)
    with pytest.raises(EventStreamError) as caught:
        list(client.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"])
    assert caught.value.response["Error"]["Code"] == "internalServerException"
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    with pytest.raises(EventStreamError):
        list(client.converse_stream(modelId=GLOBAL_SONNET, messages=messages)["stream"])
    with pytest.raises(client.exceptions.InternalServerException) as whole:
        client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    assert "could not read its upstream" in whole.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.InternalServerException):
        client.converse(modelId=GLOBAL_SONNET, messages=messages)
    odd_upstream[1].body = b""  # nothing at all
    with pytest.raises(client.exceptions.InternalServerException):
        client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    log = odd_gateway.log_text()
    assert "Traceback" not in log and "ended before message_stop" in log


def test_gateway_skips_upstream_event_types_it_does_not_know(odd_upstream, odd_gateway):
    """Anthropic may add event types; one the gateway does not know is left out of the answer
    (it crashed InvokeModel and Converse, and reached stream callers as it was)."""
    novel = {"type": "brand_new_event", "index": 0}
    odd_upstream[1].body = b"".join(chunk(event) for event in [*TEXT_ANSWER[:3], novel, *TEXT_ANSWER[3:]])
    client = boto3_runtime(odd_gateway.url)
    answer = json.loads(client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())["body"].read())
    assert answer["content"] == [{"type": "text", "text": "Hello"}]
    events = client.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"]
    kinds = [json.loads(event["chunk"]["bytes"])["type"] for event in events]
    assert kinds == [event["type"] for event in TEXT_ANSWER]
    converse = client.converse(modelId=GLOBAL_SONNET, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert converse["output"]["message"]["content"] == [{"text": "Hello"}]


@pytest.mark.parametrize("status", [403, 404, 502])
def test_gateway_upstream_error_page_without_an_aws_error_type_is_not_relayed_as_one(odd_upstream, odd_gateway,
                                                                                    status):
    """Audit regression: an error page from a web server or proxy (no AWS error type: a wrong
    --upstream URL, a proxy refusing the gateway) reached callers as ``ValidationException:
    Not Found`` or ``Forbidden`` (their request blamed) or as the proxy's words, and the server
    log said nothing."""
    odd_upstream[1].status, odd_upstream[1].content_type = status, "text/html"
    odd_upstream[1].body = b"<html><body><h1>Sorry</h1></body></html>"
    try:
        client = boto3_runtime(odd_gateway.url)
        with pytest.raises(client.exceptions.InternalServerException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert "could not read its upstream" in caught.value.response["Error"]["Message"]
        with pytest.raises(client.exceptions.InternalServerException):
            client.count_tokens(modelId=SONNET, input={"invokeModel": {"body": invoke_body()}})
    finally:
        odd_upstream[1].status, odd_upstream[1].content_type = 200, "application/vnd.amazon.eventstream"
    assert f"upstream response unreadable: HTTP {status} without an AWS error type" in odd_gateway.log_text()


def test_gateway_log_of_refused_credentials_holds_no_session_token_and_is_one_line(odd_upstream, odd_gateway):
    """Audit regression: when the upstream refused the gateway's signature, the server log
    repeated the upstream's message as received: AWS's InvalidSignatureException quotes the
    canonical request, whose ``x-amz-security-token`` line is the gateway's session token (the
    README: no session token is ever written), over twenty log lines."""
    token = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"
    message = ("The request signature we calculated does not match the signature you provided.\n\n"
               "The Canonical String for this request should have been\n'POST\n/model/x/invoke\n\n"
               f"host:bedrock-runtime.us-west-2.amazonaws.com\nx-amz-date:20260101T000000Z\n"
               f"x-amz-security-token:{token}\n\nhost;x-amz-date;x-amz-security-token\nabc'")
    reply = odd_upstream[1]
    reply.status, reply.content_type = 403, "application/json"
    reply.headers = {"x-amzn-errortype": "InvalidSignatureException"}
    reply.body = json.dumps({"message": message}).encode()
    try:
        client = boto3_runtime(odd_gateway.url)
        with pytest.raises(client.exceptions.InternalServerException):
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    finally:
        reply.status, reply.content_type, reply.headers = 200, "application/vnd.amazon.eventstream", {}
        reply.body = b""
    lines = [line for line in odd_gateway.log_text().splitlines() if "refused the gateway's credentials" in line]
    assert lines, odd_gateway.log_text()
    assert token not in odd_gateway.log_text()
    assert "x-amz-security-token:<redacted>" in lines[-1] and "(request " in lines[-1]


def test_gateway_trusts_a_private_ca_for_its_https_upstream_with_ssl_cert_file(tmp_path: Path):
    """What the README tells an operator whose upstream's certificate a private CA issued:
    ``SSL_CERT_FILE``, or ``AWS_CA_BUNDLE`` as botocore reads it (which was ignored)."""
    from support.certificates import self_signed

    cert = self_signed(tmp_path / "certs")
    upstream = start_server(tmp_path / "up", "--tls-cert", str(cert.cert), "--tls-key", str(cert.key),
                            config=UPSTREAM_CONFIG)
    gateways = []
    try:
        for env in ({}, {"SSL_CERT_FILE": str(cert.cert)}, {"AWS_CA_BUNDLE": str(cert.cert)}):
            gateways.append(start_server(tmp_path / f"gw{len(gateways)}", config=gateway_config(upstream.url),
                                         env={"SSL_CERT_FILE": "", "AWS_CA_BUNDLE": "", **env}))
        untrusting, *trusting = (boto3_runtime(gateway.url) for gateway in gateways)
        # not a 503 "retry": a retry cannot succeed until the operator trusts the CA
        with pytest.raises(untrusting.exceptions.InternalServerException) as caught:
            untrusting.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert "does not trust its upstream Bedrock's certificate" in caught.value.response["Error"]["Message"]
        for client in trusting:
            assert json.loads(client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())["body"].read())["content"]
    finally:
        for running in (*gateways, upstream):
            running.stop()
    assert "CERTIFICATE_VERIFY_FAILED" in gateways[0].log_text()
    assert "upstream certificate not trusted" in gateways[0].log_text()


def test_gateway_with_an_upstream_region_invokes_a_profile_that_region_offers(upstream, upstream_admin, tmp_path):
    config = gateway_config(upstream.url).replace("[upstream]\n", '[upstream]\nregion = "eu-west-1"\n')
    running = start_server(tmp_path / "gateway", config=config)
    try:
        client = boto3_runtime(running.url)  # a us-west-2 caller
        for asked, invoked in ((US_HAIKU, "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
                               ("anthropic.claude-haiku-4-5-20251001-v1:0", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
                               (GLOBAL_SONNET, GLOBAL_SONNET)):
            client.invoke_model(modelId=asked, body=invoke_body())
            recorded = upstream_admin.last_call()
            assert (recorded.model_id, recorded.region, recorded.status) == (invoked, "eu-west-1", 200)
    finally:
        running.stop()


def test_gateway_relays_only_the_modelled_members_of_an_upstream_error(odd_upstream, odd_gateway):
    upstream_reply = odd_upstream[1]
    upstream_reply.status, upstream_reply.content_type = 424, "application/json"
    upstream_reply.headers = {"x-amzn-ErrorType": "ModelErrorException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    upstream_reply.body = json.dumps({"message": "The model failed.", "originalStatusCode": 500,
                                      "resourceName": "claude", "self": 1, "code": "Junk"}).encode()
    try:
        client = boto3_runtime(odd_gateway.url)
        with pytest.raises(client.exceptions.ModelErrorException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert caught.value.response["Error"]["Message"] == "The model failed."
        assert caught.value.response["originalStatusCode"] == 500
        assert caught.value.response["resourceName"] == "claude"
    finally:
        upstream_reply.status, upstream_reply.content_type = 200, "application/vnd.amazon.eventstream"
        upstream_reply.headers = {}
    assert "Traceback" not in odd_gateway.log_text()


def test_gateway_upstream_message_start_without_a_message_is_unreadable(odd_upstream, odd_gateway):
    odd_upstream[1].body = b"".join(chunk(event) for event in [{"type": "message_start"}, *TEXT_ANSWER[1:]])
    client = boto3_runtime(odd_gateway.url)
    with pytest.raises(client.exceptions.InternalServerException) as caught:
        client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
    assert "could not read its upstream" in caught.value.response["Error"]["Message"]
    assert "message_start without a message object" in odd_gateway.log_text()


def test_gateways_pointed_at_each_other_refuse_the_call_that_comes_back(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        second_port = probe.getsockname()[1]
    env = {"AWS_ACCESS_KEY_ID": GATEWAY_KEY, "AWS_SECRET_ACCESS_KEY": GATEWAY_SECRET}
    first = start_server(tmp_path / "first", "--upstream", f"http://127.0.0.1:{second_port}", env=env)
    second = None
    try:
        second = start_server(tmp_path / "second", "--port", str(second_port), "--upstream", first.url, env=env)
        assert second.url.endswith(f":{second_port}")
        client = boto3_runtime(first.url)
        with pytest.raises(client.exceptions.ValidationException, match="came back to a gateway"):
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        with pytest.raises(client.exceptions.ValidationException, match="came back to a gateway"):
            client.count_tokens(modelId=SONNET, input={"invokeModel": {"body": invoke_body()}})
    finally:
        for running in (first, second):
            if running is not None:
                running.stop()
    assert "gateway loop" in first.log_text()


def test_gateway_upstream_error_no_runtime_operation_has_is_the_operators(odd_upstream, odd_gateway):
    """An upstream URL with a wrong path (``--upstream https://host/prefix``) answers
    UnknownOperationException: not the caller's mistake, so not relayed as theirs."""
    upstream_reply = odd_upstream[1]
    upstream_reply.status, upstream_reply.content_type = 404, "application/json"
    upstream_reply.headers = {"x-amzn-ErrorType": "UnknownOperationException:http://internal.amazon.com/coral/"}
    upstream_reply.body = b'{"message": "No operation matches POST /prefix/model/x/invoke-with-response-stream\\nat all"}'
    try:
        client = boto3_runtime(odd_gateway.url)
        with pytest.raises(client.exceptions.InternalServerException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert "(UnknownOperationException)" in caught.value.response["Error"]["Message"]
        assert "No operation matches" not in caught.value.response["Error"]["Message"]
    finally:
        upstream_reply.status, upstream_reply.content_type = 200, "application/vnd.amazon.eventstream"
        upstream_reply.headers = {}
    log = odd_gateway.log_text()
    assert "error the gateway does not relay: HTTP 404 UnknownOperationException: No operation matches" in log
    assert "\\nat all" in log  # the upstream's line break escaped: one log line


@pytest.fixture(scope="module")
def impatient_gateway(odd_upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A gateway in front of ``odd_upstream`` that waits 1 s for its next bytes."""
    running = start_server(tmp_path_factory.mktemp("impatient-gateway"), "--upstream-timeout", "1",
                           config=gateway_config(odd_upstream[0]))
    yield running
    running.stop()


def test_gateway_converse_stream_timeout_mid_stream_is_a_frame_converse_stream_has(odd_upstream, impatient_gateway):
    """Audit regression: ConverseStream's output has no ``modelTimeoutException`` member (only
    InvokeModelWithResponseStream's has; wire-protocol 2.4), yet an upstream silent past
    --upstream-timeout mid-answer, or one relaying that frame, reached ConverseStream callers as
    one: boto3 raised an EventStreamError with an empty code and message."""
    from botocore.exceptions import EventStreamError
    from claude_bedrock.wire.eventstream import exception_frame

    upstream_reply = odd_upstream[1]
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    try:
        client = boto3_runtime(impatient_gateway.url)
        upstream_reply.body, upstream_reply.stall_after = b"".join(chunk(event) for event in TEXT_ANSWER[:3]), 5
        with pytest.raises(EventStreamError) as caught:
            list(client.converse_stream(modelId=GLOBAL_SONNET, messages=messages)["stream"])
        error = caught.value.response["Error"]
        assert error["Code"] == "modelStreamErrorException" and "did not answer in time" in error["Message"]
        with pytest.raises(EventStreamError) as invoked:  # InvokeModelWithResponseStream's own member
            list(client.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"])
        assert invoked.value.response["Error"]["Code"] == "modelTimeoutException"
        upstream_reply.stall_after = 0
        upstream_reply.body = b"".join(chunk(event) for event in TEXT_ANSWER[:3]) + exception_frame(
            "modelTimeoutException", b'{"message": "Model has timed out in processing the request."}')
        with pytest.raises(EventStreamError) as relayed:
            list(client.converse_stream(modelId=GLOBAL_SONNET, messages=messages)["stream"])
        assert relayed.value.response["Error"] == {"Code": "modelStreamErrorException",
                                                   "Message": "Model has timed out in processing the request."}
    finally:
        upstream_reply.body, upstream_reply.stall_after = b"", 0
    assert "Traceback" not in impatient_gateway.log_text()


def test_gateway_answer_complete_before_the_upstream_ends_its_response_is_no_error(odd_upstream, impatient_gateway):
    """Audit regression: an upstream that sent ``message_stop`` but did not end its response
    (a proxy holding the connection) turned the complete answer into a timeout: InvokeModel
    answered 408, and streams got a ``modelTimeoutException`` frame after ``message_stop``."""
    from botocore.exceptions import EventStreamError

    upstream_reply = odd_upstream[1]
    upstream_reply.body, upstream_reply.stall_after = b"".join(chunk(event) for event in TEXT_ANSWER), 3
    try:
        client = boto3_runtime(impatient_gateway.url)
        answer = json.loads(client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())["body"].read())
        assert answer["content"] == [{"type": "text", "text": "Hello"}]
        kinds = []
        try:
            for event in client.invoke_model_with_response_stream(modelId=GLOBAL_SONNET, body=invoke_body())["body"]:
                kinds.append(json.loads(event["chunk"]["bytes"])["type"])
        except EventStreamError as exc:
            kinds.append(exc.response["Error"]["Code"])
        assert kinds == [event["type"] for event in TEXT_ANSWER]
    finally:
        upstream_reply.body, upstream_reply.stall_after = b"", 0
    assert "Traceback" not in impatient_gateway.log_text()


def test_gateway_count_tokens_whose_caller_left_hangs_up_on_the_upstream(odd_upstream, odd_gateway):
    """Audit regression: a CountTokens whose caller gave up (its read timeout) kept the
    gateway's upstream request open until --upstream-timeout (600 s by default), unrecorded
    until then, where InvokeModel, Converse and the streams hang up at once."""
    import time

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    upstream_reply = odd_upstream[1]
    upstream_reply.stall_before, upstream_reply.hung_up = 30, []
    try:
        client = boto3.client("bedrock-runtime", endpoint_url=odd_gateway.url, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                              config=Config(read_timeout=1, retries={"total_max_attempts": 1, "mode": "standard"}))
        with pytest.raises(ReadTimeoutError):
            client.count_tokens(modelId=SONNET, input={"invokeModel": {"body": invoke_body()}})
        left = time.monotonic()
        while not upstream_reply.hung_up and time.monotonic() < left + 10:
            time.sleep(0.05)
        assert upstream_reply.hung_up and upstream_reply.hung_up[0] - left < 5
        with BedrockAdmin(odd_gateway.url) as admin:
            recorded = admin.last_call()
        assert (recorded.operation, recorded.status, recorded.error_code) == ("CountTokens", 0, "ClientDisconnected")
    finally:
        upstream_reply.stall_before = 0
    assert "Traceback" not in odd_gateway.log_text()


@pytest.fixture()
def container_credentials() -> Iterator[tuple[str, dict[str, object]]]:
    """An ECS-style container credentials endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI``)
    serving ``state["keys"]`` (or an error when ``state["fail"]``), each expiring in 5 minutes:
    under botocore's mandatory-refresh margin, so every use refreshes them."""
    import threading
    from datetime import datetime, timedelta, timezone
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state: dict[str, object] = {"keys": None, "fail": False, "served": 0, "asked": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            state["asked"] = int(state["asked"]) + 1  # type: ignore[call-overload]
            if state["fail"]:
                self.send_response(500)
                self.end_headers()
                return
            access, secret, token = state["keys"]  # type: ignore[misc]
            expires = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = json.dumps({"AccessKeyId": access, "SecretAccessKey": secret, "Token": token,
                               "Expiration": expires}).encode()
            state["served"] = int(state["served"]) + 1  # type: ignore[call-overload]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2/credentials/gateway-task", state
    finally:
        server.shutdown()
        server.server_close()


def _role_gateway(tmp_path: Path, upstream_url: str, credentials_url: str) -> RunningServer:
    """A gateway whose only credentials are a container role's, served at ``credentials_url``."""
    return start_server(tmp_path / "gateway", config=CONFIG_TOML + f'[upstream]\nendpoint = "{upstream_url}"\n',
                        env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_url, "AWS_EC2_METADATA_DISABLED": "true",
                             "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})


def test_gateway_role_credentials_are_refreshed_as_they_expire(container_credentials, tmp_path: Path):
    """A gateway running under a role (here an ECS task's) signs with the credentials of the
    moment: the rotated ones once the old expire, and says so when they cannot be refreshed."""
    url, state = container_credentials
    first = ("ASIAGATEWAYFIRST01", "first-secret", "first-token")
    second = ("ASIAGATEWAYSECOND1", "second-secret", "second-token")
    upstream_config = '[server]\nstrict_auth = true\n' + "".join(
        f'[[credentials]]\naccess_key_id = "{key}"\nsecret_access_key = "{secret}"\n'
        f'session_tokens = ["{token}"]\naccount_id = "{account}"\nadmin = true\n'
        for (key, secret, token), account in ((first, "111111111111"), (second, "222222222222"))
    ) + UPSTREAM_CONFIG.split("[server]\nstrict_auth = true\n", 1)[1]  # the admin key
    upstream = start_server(tmp_path / "upstream", config=upstream_config)
    state["keys"] = first
    gateway = None
    try:
        gateway = _role_gateway(tmp_path, upstream.url, url)
        assert "credentials from the AWS credential chain (container-role" in gateway.log_text()
        client = boto3_runtime(gateway.url)
        client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        with BedrockAdmin(upstream.url, aws_access_key=GATEWAY_KEY, aws_secret_key=GATEWAY_SECRET) as upstream_admin:
            assert upstream_admin.last_call().account_id == "111111111111"
            state["keys"] = second  # the role's credentials rotate
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
            assert upstream_admin.last_call().account_id == "222222222222"
        state["fail"] = True  # the credentials endpoint is down, the old ones about to expire
        with pytest.raises(client.exceptions.InternalServerException) as caught:
            client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        assert "could not be refreshed" in caught.value.response["Error"]["Message"]
    finally:
        for running in (gateway, upstream):
            if running is not None:
                running.stop()
    assert "could not be refreshed" in gateway.log_text() and "second-secret" not in gateway.log_text()


def test_gateway_calls_at_a_failing_refresh_share_one_attempt(container_credentials, tmp_path: Path):
    """Audit regression: each call needing a refresh asked for one in its own worker thread, and
    botocore's lock ran them one after the other (each failing one retried in turn): with the
    credentials endpoint down, the tenth concurrent call waited for ten failed refreshes, past
    its SDK's read timeout, instead of getting the 500 saying so. Calls waiting for a refresh
    now share the one in flight."""
    from concurrent.futures import ThreadPoolExecutor

    url, state = container_credentials
    keys = ("ASIAGATEWAYSHARED1", "shared-secret", "shared-token")
    upstream_config = UPSTREAM_CONFIG + (f'[[credentials]]\naccess_key_id = "{keys[0]}"\nsecret_access_key = '
                                         f'"{keys[1]}"\nsession_tokens = ["{keys[2]}"]\naccount_id = "{UPSTREAM_ACCOUNT}"\n')
    upstream = start_server(tmp_path / "upstream", config=upstream_config)
    state["keys"] = keys
    gateway = None
    try:
        gateway = _role_gateway(tmp_path, upstream.url, url)
        clients = [boto3_runtime(gateway.url) for _ in range(8)]
        clients[0].invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
        state["fail"], state["asked"] = True, 0  # the endpoint is down, the credentials about to expire

        def call(client) -> str:
            try:
                client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())
            except client.exceptions.InternalServerException as exc:
                return exc.response["Error"]["Message"]
            return "answered"

        with ThreadPoolExecutor(len(clients)) as pool:
            messages = list(pool.map(call, clients))
    finally:
        for running in (gateway, upstream):
            if running is not None:
                running.stop()
    assert all("could not be refreshed" in message for message in messages), messages
    # botocore asks the endpoint 3 times per refresh; one refresh shared, maybe a second for latecomers
    assert int(state["asked"]) <= 6, state["asked"]  # type: ignore[call-overload]


def _answer_with(replaced: dict[int, dict]) -> bytes:
    """``TEXT_ANSWER``'s frames, with the events at the indexes of ``replaced`` replaced."""
    return b"".join(chunk(event) for index, original in enumerate(TEXT_ANSWER)
                    if (event := replaced.get(index, original)) is not None)


_DELTA = TEXT_ANSWER[2]


@pytest.mark.parametrize("replaced, operations", [
    ({2: {"type": "content_block_delta", "delta": _DELTA["delta"]}}, "all"),  # no index
    ({2: {**_DELTA, "delta": {"type": "text_delta", "text": 5}}}, "all"),
    ({2: {**_DELTA, "delta": {"type": "thinking_delta", "thinking": "x"}}}, "built"),  # not in a text block
    ({1: {"type": "content_block_start", "index": 0}}, "all"),
    ({0: {**TEXT_ANSWER[0], "message": {**TEXT_ANSWER[0]["message"], "usage": {"input_tokens": "5"}}}}, "all"),
    ({4: {**TEXT_ANSWER[4], "usage": {"output_tokens": -3}}}, "all"),
    ({4: {**TEXT_ANSWER[4], "delta": {"stop_reason": "brand_new_reason"}}}, "converse"),
    ({1: {**TEXT_ANSWER[1], "content_block": {"type": "tool_use", "input": {}}},  # no id nor name
      2: {**_DELTA, "delta": {"type": "input_json_delta", "partial_json": "{}"}}}, "converse"),
    ({1: {**TEXT_ANSWER[1], "content_block": {"type": "redacted_thinking", "data": 5}}, 2: None}, "all"),
    ({1: {**TEXT_ANSWER[1], "content_block": {"type": "text", "text": "", "citations": [{"type": 5}]}}}, "converse"),
], ids=["delta-without-index", "text-not-a-string", "delta-of-another-block", "block-without-content-block",
        "input-tokens-a-string", "negative-output-tokens", "stop-reason-converse-lacks", "tool-use-without-id", "redacted-data", "start-citations"])
def test_gateway_upstream_events_the_renderers_cannot_take_are_unreadable(odd_upstream, odd_gateway, replaced,
                                                                            operations):
    """Audit regression: upstream events that broke the engine contract in their content (the
    order was checked) reached the renderers: InvokeModel and Converse answered a bare 500
    with a traceback in the log, ConverseStream a modelStreamErrorException frame, and a token
    count that is no number was recorded, after which every listing of the call history failed
    with a 500. They are now the gateway's usual unreadable answer: one log line, no traceback."""
    from botocore.exceptions import EventStreamError

    odd_upstream[1].body = _answer_with(replaced)
    client = boto3_runtime(odd_gateway.url)
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    calls = {
        "InvokeModel": lambda: client.invoke_model(modelId=GLOBAL_SONNET, body=invoke_body())["body"].read(),
        "InvokeModelWithResponseStream": lambda: list(client.invoke_model_with_response_stream(
            modelId=GLOBAL_SONNET, body=invoke_body())["body"]),
        "Converse": lambda: client.converse(modelId=GLOBAL_SONNET, messages=messages),
        "ConverseStream": lambda: list(client.converse_stream(modelId=GLOBAL_SONNET, messages=messages)["stream"]),
    }
    refused = {"all": set(calls), "built": set(calls) - {"InvokeModelWithResponseStream"},
               "converse": {"Converse", "ConverseStream"}}[operations]
    try:
        with BedrockAdmin(odd_gateway.url) as admin:
            for operation, call in calls.items():
                if operation not in refused:
                    call()  # relayed or rendered as before
                    continue
                with pytest.raises((client.exceptions.InternalServerException, EventStreamError)) as caught:
                    call()
                assert caught.value.response["Error"]["Code"] in ("InternalServerException", "internalServerException")
                assert "could not read its upstream" in caught.value.response["Error"]["Message"]
                recorded = admin.last_call()
                assert (recorded.operation, recorded.status) == (operation, 500)
            assert admin.calls()  # the call history still lists
    finally:
        odd_upstream[1].body = b""
    log = odd_gateway.log_text()
    assert "Traceback" not in log and "upstream response unreadable" in log
